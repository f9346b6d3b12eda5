package fakegoogle

import (
	"cmp"
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/tandembot/tandem/internal/fakeoauth"
)

// Lifetimes and limits Google uses.
const (
	codeLifetime   = 10 * time.Minute
	accessLifetime = 3599 * time.Second // expires_in 3599
	maxRefresh     = 100                // live refresh tokens per account and client
)

type authCode struct {
	login       string
	redirectURI string
	challenge   string
	method      string // "S256" or "plain" when challenge is set
	scopes      []string
	refresh     bool // issue a refresh token
	expires     time.Time
	used        bool
}

// grant is an account's consent to the client. Revoking any of its tokens
// ends it, and the next authorization counts as a first consent again.
type grant struct {
	scopes []string
}

type tokenKind int

const (
	access tokenKind = iota
	refresh
)

type token struct {
	value   string
	n       int // mint order
	kind    tokenKind
	login   string // user key
	scopes  []string
	expires time.Time // zero: never (refresh tokens)
	revoked bool
}

func (t *token) live(now time.Time) bool {
	return !t.revoked && (t.expires.IsZero() || now.Before(t.expires))
}

// tokenError is an OAuth error as Google's token endpoint sends it, with an
// HTTP status of 400 or 401.
type tokenError struct {
	status int
	Code   string `json:"error"`
	Desc   string `json:"error_description"`
}

var (
	errNoClientID      = tokenError{http.StatusBadRequest, "invalid_request", "Could not determine client ID from request."}
	errUnknownClient   = tokenError{http.StatusUnauthorized, "invalid_client", "The OAuth client was not found."}
	errBadSecret       = tokenError{http.StatusUnauthorized, "invalid_client", "Unauthorized"}
	errBadCode         = tokenError{http.StatusBadRequest, "invalid_grant", "Bad Request"}
	errRedirect        = tokenError{http.StatusBadRequest, "redirect_uri_mismatch", "Bad Request"}
	errNoVerifier      = tokenError{http.StatusBadRequest, "invalid_grant", "Missing code verifier."}
	errBadVerifier     = tokenError{http.StatusBadRequest, "invalid_grant", "Invalid code verifier."}
	errExpiredOrRevoke = tokenError{http.StatusBadRequest, "invalid_grant", "Token has been expired or revoked."}
)

func missing(param string) tokenError {
	return tokenError{http.StatusBadRequest, "invalid_request", "Missing required parameter: " + param}
}

// tokenResponse is the token endpoint's answer. Google adds an id_token for
// the openid scope; the fake leaves it out, since Tandem learns the
// identity from userinfo.
type tokenResponse struct {
	AccessToken  string `json:"access_token"`
	ExpiresIn    int    `json:"expires_in"`
	RefreshToken string `json:"refresh_token,omitempty"`
	Scope        string `json:"scope"`
	TokenType    string `json:"token_type"`
}

// tokenEndpoint serves POST /token.
func (s *Server) tokenEndpoint(w http.ResponseWriter, r *http.Request) {
	s.stats.TokenRequest()
	if r.Method != http.MethodPost {
		fakeoauth.WebError(w, http.StatusMethodNotAllowed, "The token endpoint takes POST only.")
		return
	}
	if err := r.ParseForm(); err != nil {
		writeToken(w, tokenError{http.StatusBadRequest, "invalid_request", "The request could not be parsed."})
		return
	}
	id, secret := r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	if u, p, ok := r.BasicAuth(); ok {
		// RFC 6749 2.3.1 form-encodes them, and x/oauth2 does so.
		id, _ = url.QueryUnescape(u)
		secret, _ = url.QueryUnescape(p)
	}
	switch {
	case id == "":
		writeToken(w, errNoClientID)
		return
	case id != s.opts.ClientID:
		writeToken(w, errUnknownClient)
		return
	case subtle.ConstantTimeCompare([]byte(secret), []byte(s.opts.ClientSecret)) != 1:
		writeToken(w, errBadSecret)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	switch gt := r.PostForm.Get("grant_type"); gt {
	case "authorization_code":
		writeToken(w, s.exchange(r.PostForm))
	case "refresh_token":
		writeToken(w, s.refreshGrant(r.PostForm.Get("refresh_token")))
	default:
		writeToken(w, tokenError{http.StatusBadRequest, "unsupported_grant_type", "Invalid grant_type: " + gt})
	}
}

// exchange redeems an authorization code. The code dies on first use, even
// when the exchange fails. The caller holds s.mu.
func (s *Server) exchange(f url.Values) any {
	if f.Get("code") == "" {
		return missing("code")
	}
	c := s.codes[f.Get("code")]
	if c == nil || c.used || !s.now().Before(c.expires) {
		return errBadCode
	}
	c.used = true
	if f.Get("redirect_uri") == "" {
		return missing("redirect_uri")
	}
	if f.Get("redirect_uri") != c.redirectURI {
		return errRedirect
	}
	if c.challenge != "" {
		v := f.Get("code_verifier")
		if v == "" {
			return errNoVerifier
		}
		got := v
		if c.method == "S256" {
			got = fakeoauth.S256(v)
		}
		if subtle.ConstantTimeCompare([]byte(got), []byte(c.challenge)) != 1 {
			return errBadVerifier
		}
	}
	g := s.grants[c.login]
	if g == nil {
		g = &grant{}
		s.grants[c.login] = g
	}
	g.scopes = union(g.scopes, c.scopes)
	return s.issue(c.login, c.scopes, c.refresh)
}

// refreshGrant answers a refresh with a new access token and no refresh
// token: Google's refresh tokens do not rotate, and x/oauth2 keeps the one
// it has. The caller holds s.mu.
func (s *Server) refreshGrant(value string) any {
	if value == "" {
		return missing("refresh_token")
	}
	t := s.tokens[value]
	if t == nil || t.kind != refresh || !t.live(s.now()) {
		return errExpiredOrRevoke
	}
	s.stats.Refreshed(t.login)
	a := s.mint(t.login, access, t.scopes)
	return tokenResponse{
		AccessToken: a.value,
		ExpiresIn:   int(accessLifetime / time.Second),
		Scope:       strings.Join(t.scopes, " "),
		TokenType:   "Bearer",
	}
}

// issue mints an access token for login, and a refresh token when asked.
// The caller holds s.mu.
func (s *Server) issue(login string, scopes []string, withRefresh bool) tokenResponse {
	a := s.mint(login, access, scopes)
	tr := tokenResponse{
		AccessToken: a.value,
		ExpiresIn:   int(accessLifetime / time.Second),
		Scope:       strings.Join(scopes, " "),
		TokenType:   "Bearer",
	}
	if withRefresh {
		s.capRefresh(login)
		tr.RefreshToken = s.mint(login, refresh, scopes).value
	}
	return tr
}

func (s *Server) mint(login string, kind tokenKind, scopes []string) *token {
	n := s.next()
	t := &token{n: n, kind: kind, login: login, scopes: scopes}
	local := localPart(s.users[login].Email)
	if kind == access {
		t.value = fmt.Sprintf("ya29.FAKE-%s-%d", local, n)
		t.expires = s.now().Add(accessLifetime)
	} else {
		t.value = fmt.Sprintf("1//FAKE-%s-%d", local, n)
	}
	s.tokens[t.value] = t
	return t
}

// capRefresh silently revokes the oldest live refresh tokens of login so
// that at most maxRefresh live ones exist once one more is minted, as
// Google does.
func (s *Server) capRefresh(login string) {
	var live []*token
	for _, t := range s.tokens {
		if t.login == login && t.kind == refresh && !t.revoked {
			live = append(live, t)
		}
	}
	slices.SortFunc(live, func(a, b *token) int { return cmp.Compare(a.n, b.n) })
	for len(live) >= maxRefresh {
		live[0].revoked = true
		live = live[1:]
	}
}

// revokeEndpoint serves POST /revoke with the token in the query or a form
// body. Any live token of a grant revokes the whole grant; an unknown,
// revoked or expired token answers 400 invalid_token and changes nothing.
func (s *Server) revokeEndpoint(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		fakeoauth.WebError(w, http.StatusMethodNotAllowed, "The revocation endpoint takes POST only.")
		return
	}
	if err := r.ParseForm(); err != nil {
		writeToken(w, tokenError{http.StatusBadRequest, "invalid_request", "Bad Request"})
		return
	}
	value := r.Form.Get("token")
	if value == "" {
		writeToken(w, tokenError{http.StatusBadRequest, "invalid_request", "Bad Request"})
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.tokens[value]
	if t == nil || !t.live(s.now()) {
		writeToken(w, tokenError{http.StatusBadRequest, "invalid_token", "Token expired or revoked"})
		return
	}
	s.revokeLogin(t.login)
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	_, _ = w.Write([]byte("{}\n"))
}

// revokeLogin ends login's grant: every token it issued dies. The caller
// holds s.mu.
func (s *Server) revokeLogin(login string) {
	for _, t := range s.tokens {
		if t.login == login {
			t.revoked = true
		}
	}
	delete(s.grants, login)
}

func union(a, b []string) []string {
	out := append(append([]string(nil), a...), b...)
	slices.Sort(out)
	return slices.Compact(out)
}

func writeToken(w http.ResponseWriter, v any) {
	h := w.Header()
	h.Set("Cache-Control", "no-cache, no-store, max-age=0, must-revalidate")
	h.Set("Pragma", "no-cache")
	h.Set("Content-Type", "application/json; charset=utf-8")
	status := http.StatusOK
	if e, ok := v.(tokenError); ok {
		status = e.status
	}
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}
