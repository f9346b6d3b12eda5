package fakejira

import (
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/tandembot/tandem/internal/fakeoauth"
)

// Lifetimes Atlassian documents for 3LO: access tokens last an hour;
// rotating refresh tokens die after 90 days unused and 365 days after the
// grant's first token in any case. The code lifetime is the fake's choice.
const (
	codeLifetime        = 10 * time.Minute
	accessLifetime      = time.Hour // expires_in 3600
	refreshIdleLifetime = 90 * 24 * time.Hour
	refreshMaxLifetime  = 365 * 24 * time.Hour
	offlineAccess       = "offline_access"
)

type authCode struct {
	clientID    string
	login       string
	redirectURI string
	challenge   string
	scopes      []string
	sites       []string
	expires     time.Time
	used        bool
}

type tokenKind int

const (
	access tokenKind = iota
	refresh
)

type token struct {
	value   string
	kind    tokenKind
	login   string // lower-case email
	scopes  []string
	issued  time.Time
	expires time.Time
	// end is when the refresh token chain dies whatever happens (365 days
	// after the grant's first token).
	end     time.Time
	revoked bool // by RevokeGrant, or a refresh token used once
}

func (t *token) live(now time.Time) bool { return !t.revoked && now.Before(t.expires) }

// grant is what a user consented to: the sites the app may use for them.
// Consenting again adds sites, as on Atlassian, where accessible-resources
// lists every site the user ever granted the app.
type grant struct{ sites []string }

// tokenError is an OAuth error as auth.atlassian.com sends it. The
// statuses and messages are those commonly reported for it (403 with
// invalid_grant for a bad code or refresh token, 401 access_denied for bad
// client credentials).
type tokenError struct {
	status int
	Code   string `json:"error"`
	Desc   string `json:"error_description"`
}

var (
	errClient       = tokenError{http.StatusUnauthorized, "access_denied", "Unauthorized"}
	errBadCode      = tokenError{http.StatusForbidden, "invalid_grant", "Invalid authorization code"}
	errRedirect     = tokenError{http.StatusForbidden, "invalid_grant", "Invalid redirect_uri"}
	errVerifier     = tokenError{http.StatusForbidden, "invalid_grant", "Failed to verify code verifier"}
	errBadRefresh   = tokenError{http.StatusForbidden, "invalid_grant", "Unknown or invalid refresh token."}
	errGrantType    = tokenError{http.StatusBadRequest, "unsupported_grant_type", "Unsupported grant type"}
	errBadTokenBody = tokenError{http.StatusBadRequest, "invalid_request", "The request body could not be parsed."}
)

// token serves POST /oauth/token. Atlassian documents a JSON body; x/oauth2
// sends a form, which works as well. The client's credentials travel in
// the body, never as basic auth. The answer is always JSON.
func (s *Server) token(w http.ResponseWriter, r *http.Request) {
	s.stats.TokenRequest()
	if r.Method != http.MethodPost {
		fakeoauth.WebError(w, http.StatusMethodNotAllowed, "Use POST.")
		return
	}
	f, err := tokenParams(r)
	if err != nil {
		writeToken(w, errBadTokenBody)
		return
	}
	if f.Get("client_id") != s.opts.ClientID ||
		subtle.ConstantTimeCompare([]byte(f.Get("client_secret")), []byte(s.opts.ClientSecret)) != 1 {
		writeToken(w, errClient)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	switch f.Get("grant_type") {
	case "authorization_code":
		writeToken(w, s.exchange(f))
	case "refresh_token":
		writeToken(w, s.refreshGrant(f.Get("refresh_token")))
	default:
		writeToken(w, errGrantType)
	}
}

// tokenParams reads a JSON or form body into one set of values.
func tokenParams(r *http.Request) (url.Values, error) {
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if ct != "application/json" {
		if err := r.ParseForm(); err != nil {
			return nil, err
		}
		return r.PostForm, nil
	}
	var m map[string]any
	if err := json.NewDecoder(r.Body).Decode(&m); err != nil {
		return nil, err
	}
	v := url.Values{}
	for k, x := range m {
		if str, ok := x.(string); ok {
			v.Set(k, str)
		}
	}
	return v, nil
}

// exchange redeems an authorization code. The code dies on first use, even
// when the exchange fails.
func (s *Server) exchange(f url.Values) any {
	c := s.codes[f.Get("code")]
	if c == nil || c.used || !s.now().Before(c.expires) || c.clientID != s.opts.ClientID {
		return errBadCode
	}
	c.used = true
	if f.Get("redirect_uri") != c.redirectURI {
		return errRedirect
	}
	if c.challenge != "" {
		if !fakeoauth.VerifyS256(c.challenge, f.Get("code_verifier")) {
			return errVerifier
		}
	}
	g := s.grants[c.login]
	if g == nil {
		g = &grant{}
		s.grants[c.login] = g
	}
	for _, id := range c.sites {
		if !slices.Contains(g.sites, id) {
			g.sites = append(g.sites, id)
		}
	}
	return s.issue(c.login, c.scopes, time.Time{})
}

// refreshGrant rotates a refresh token: the one used dies, and using it
// again is refused. The access tokens issued before stay valid until they
// expire, as Atlassian's do.
func (s *Server) refreshGrant(value string) any {
	t := s.tokens[value]
	if t == nil || t.kind != refresh || !t.live(s.now()) {
		return errBadRefresh
	}
	t.revoked = true
	s.stats.Refreshed(t.login)
	return s.issue(t.login, t.scopes, t.end)
}

type tokenResponse struct {
	AccessToken  string `json:"access_token"`
	ExpiresIn    int    `json:"expires_in"`
	TokenType    string `json:"token_type"`
	RefreshToken string `json:"refresh_token,omitempty"`
	Scope        string `json:"scope"`
}

// issue mints an access token, and a refresh token when scopes hold
// offline_access. end is the refresh chain's end; zero starts a chain. The
// caller holds s.mu.
func (s *Server) issue(login string, scopes []string, end time.Time) tokenResponse {
	now := s.now()
	if end.IsZero() {
		end = now.Add(refreshMaxLifetime)
	}
	u := s.users[login]
	mint := func(prefix string, kind tokenKind, expires time.Time) *token {
		s.seq++
		t := &token{
			value:   fmt.Sprintf("%s-FAKE-%s-%d", prefix, tokenName(u), s.seq),
			kind:    kind,
			login:   login,
			scopes:  scopes,
			issued:  now,
			expires: expires,
			end:     end,
		}
		s.tokens[t.value] = t
		return t
	}
	a := mint("atl", access, now.Add(accessLifetime))
	out := tokenResponse{
		AccessToken: a.value,
		ExpiresIn:   int(accessLifetime / time.Second),
		TokenType:   "Bearer",
		Scope:       strings.Join(scopes, " "),
	}
	if slices.Contains(scopes, offlineAccess) {
		out.RefreshToken = mint("atlr", refresh, minTime(now.Add(refreshIdleLifetime), end)).value
	}
	return out
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

// tokenName is the part of a token that names its owner: the email's
// local part, kept to letters and digits so that the token stays a valid
// bearer token.
func tokenName(u *User) string {
	local, _, _ := strings.Cut(u.Email, "@")
	var b strings.Builder
	for _, r := range local {
		if r < 128 && (r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
			b.WriteRune(r)
		}
	}
	if b.Len() == 0 {
		return "user"
	}
	return b.String()
}

// revokeLogin ends login's grant: every token dies and no site stays
// granted.
func (s *Server) revokeLogin(login string) {
	for _, t := range s.tokens {
		if t.login == login {
			t.revoked = true
		}
	}
	delete(s.grants, login)
}

func writeToken(w http.ResponseWriter, v any) {
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Pragma", "no-cache")
	status := http.StatusOK
	if e, ok := v.(tokenError); ok {
		status = e.status
	}
	writeJSON(w, status, v)
}
