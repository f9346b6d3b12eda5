package fakegithub

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

// Lifetimes GitHub uses.
const (
	codeLifetime    = 10 * time.Minute
	accessLifetime  = 8 * time.Hour          // expires_in 28800
	refreshLifetime = 15811200 * time.Second // about 6 months
	maxOAuthTokens  = 10                     // per user, app and scope set
)

type authCode struct {
	clientID    string
	login       string
	redirectURI string // as sent to authorize, "" when absent
	challenge   string
	scopes      []string
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
	n       int // mint order
	kind    tokenKind
	login   string // lower-case
	scopes  []string
	issued  time.Time
	expires time.Time // zero: never
	revoked bool
	rotated bool   // a refresh token that was already used
	pair    string // the other token issued with it
}

func (t *token) live(now time.Time) bool {
	return !t.revoked && (t.expires.IsZero() || now.Before(t.expires))
}

// tokenError is an OAuth error as GitHub's token endpoint sends it: with
// HTTP 200.
type tokenError struct {
	Code string `json:"error"`
	Desc string `json:"error_description"`
	URI  string `json:"error_uri"`
}

var (
	errClientCredentials = tokenError{"incorrect_client_credentials", "The client_id and/or client_secret passed are incorrect.", "https://docs.github.com/apps/managing-oauth-apps/troubleshooting-oauth-app-access-token-request-errors/#incorrect-client-credentials"}
	errBadCode           = tokenError{"bad_verification_code", "The code passed is incorrect or expired.", "https://docs.github.com/apps/managing-oauth-apps/troubleshooting-oauth-app-access-token-request-errors/#bad-verification-code"}
	errRedirectMismatch  = tokenError{"redirect_uri_mismatch", "The redirect_uri MUST match the registered callback URL for this application.", "https://docs.github.com/apps/managing-oauth-apps/troubleshooting-authorization-request-errors/#redirect-uri-mismatch"}
	errBadRefresh        = tokenError{"bad_refresh_token", "The refresh token passed is incorrect or expired.", "https://docs.github.com/apps/creating-github-apps/authenticating-with-a-github-app/refreshing-user-access-tokens"}
	errGrantType         = tokenError{"unsupported_grant_type", "The grant type is not supported.", "https://docs.github.com/apps/oauth-apps/building-oauth-apps/authorizing-oauth-apps"}
)

// accessToken serves POST /login/oauth/access_token.
func (s *Server) accessToken(w http.ResponseWriter, r *http.Request) {
	s.stats.TokenRequest()
	if r.Method != http.MethodPost {
		fakeoauth.WebError(w, http.StatusNotFound, "Not Found")
		return
	}
	if err := r.ParseForm(); err != nil {
		fakeoauth.WebError(w, http.StatusBadRequest, "The request could not be parsed.")
		return
	}
	asJSON := strings.Contains(r.Header.Get("Accept"), "application/json")
	id, secret := r.Form.Get("client_id"), r.Form.Get("client_secret")
	if u, p, ok := r.BasicAuth(); ok {
		// RFC 6749 2.3.1 form-encodes them, and x/oauth2 does so.
		id, _ = url.QueryUnescape(u)
		secret, _ = url.QueryUnescape(p)
	}
	if id != s.opts.ClientID || subtle.ConstantTimeCompare([]byte(secret), []byte(s.opts.ClientSecret)) != 1 {
		writeToken(w, asJSON, errClientCredentials)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var out any
	switch r.Form.Get("grant_type") {
	case "", "authorization_code": // GitHub does not require grant_type here
		out = s.exchange(r.Form)
	case "refresh_token":
		out = s.refreshGrant(r.Form.Get("refresh_token"))
	default:
		out = errGrantType
	}
	writeToken(w, asJSON, out)
}

// exchange redeems an authorization code. The code dies on first use, even
// when the exchange fails.
func (s *Server) exchange(f url.Values) any {
	c := s.codes[f.Get("code")]
	if c == nil || c.used || !s.now().Before(c.expires) || c.clientID != s.opts.ClientID {
		return errBadCode
	}
	c.used = true
	if got := f.Get("redirect_uri"); (c.redirectURI != "" && got != c.redirectURI) ||
		(got != "" && s.opts.RedirectURL != "" && got != s.opts.RedirectURL) {
		return errRedirectMismatch
	}
	if c.challenge != "" {
		if !fakeoauth.VerifyS256(c.challenge, f.Get("code_verifier")) {
			return errBadCode
		}
	}
	return s.issue(c.login, c.scopes)
}

// refreshGrant rotates a refresh token. Using an already rotated one kills
// the whole grant, so that a lost refresh race shows up in tests.
func (s *Server) refreshGrant(value string) any {
	t := s.tokens[value]
	if !s.opts.Expiring || t == nil || t.kind != refresh {
		return errBadRefresh
	}
	if t.rotated {
		s.revokeLogin(t.login)
		return errBadRefresh
	}
	if !t.live(s.now()) {
		return errBadRefresh
	}
	t.revoked, t.rotated = true, true
	if a := s.tokens[t.pair]; a != nil {
		a.revoked = true
	}
	s.stats.Refreshed(t.login)
	return s.issue(t.login, t.scopes)
}

type tokenResponse struct {
	AccessToken           string `json:"access_token"`
	ExpiresIn             int    `json:"expires_in,omitempty"`
	RefreshToken          string `json:"refresh_token,omitempty"`
	RefreshTokenExpiresIn int    `json:"refresh_token_expires_in,omitempty"`
	Scope                 string `json:"scope"`
	TokenType             string `json:"token_type"`
}

// issue mints a token (pair, in Expiring mode) for login. The caller holds
// s.mu.
func (s *Server) issue(login string, scopes []string) tokenResponse {
	now := s.now()
	u := s.users[login]
	mint := func(prefix string, kind tokenKind, life time.Duration) *token {
		s.seq++
		t := &token{
			value:  fmt.Sprintf("%s_FAKE_%s_%d", prefix, u.Login, s.seq),
			n:      s.seq,
			kind:   kind,
			login:  login,
			scopes: scopes,
			issued: now,
		}
		if life > 0 {
			t.expires = now.Add(life)
		}
		s.tokens[t.value] = t
		return t
	}
	if !s.opts.Expiring {
		s.capTokens(login, scopes)
		a := mint("gho", access, 0)
		return tokenResponse{AccessToken: a.value, Scope: strings.Join(scopes, ","), TokenType: "bearer"}
	}
	a := mint("ghu", access, accessLifetime)
	rt := mint("ghr", refresh, refreshLifetime)
	a.pair, rt.pair = rt.value, a.value
	// GitHub App tokens carry the app's permissions, not scopes.
	return tokenResponse{
		AccessToken:           a.value,
		ExpiresIn:             int(accessLifetime / time.Second),
		RefreshToken:          rt.value,
		RefreshTokenExpiresIn: int(refreshLifetime / time.Second),
		Scope:                 "",
		TokenType:             "bearer",
	}
}

// capTokens revokes the oldest live OAuth App tokens so that at most
// maxOAuthTokens exist for login and scopes once one more is minted.
func (s *Server) capTokens(login string, scopes []string) {
	var live []*token
	for _, t := range s.tokens {
		if t.login == login && t.kind == access && !t.revoked && slices.Equal(t.scopes, scopes) {
			live = append(live, t)
		}
	}
	slices.SortFunc(live, func(a, b *token) int { return cmp.Compare(a.n, b.n) })
	for len(live) >= maxOAuthTokens {
		live[0].revoked = true
		live = live[1:]
	}
}

// revokeLogin revokes every token of login for this app: the grant.
func (s *Server) revokeLogin(login string) {
	for _, t := range s.tokens {
		if t.login == login {
			t.revoked = true
		}
	}
}

func writeToken(w http.ResponseWriter, asJSON bool, v any) {
	w.Header().Set("Cache-Control", "no-store")
	if asJSON {
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		_ = json.NewEncoder(w).Encode(v)
		return
	}
	f := url.Values{}
	switch v := v.(type) {
	case tokenError:
		f.Set("error", v.Code)
		f.Set("error_description", v.Desc)
		f.Set("error_uri", v.URI)
	case tokenResponse:
		f.Set("access_token", v.AccessToken)
		f.Set("scope", v.Scope)
		f.Set("token_type", v.TokenType)
		if v.RefreshToken != "" {
			f.Set("expires_in", fmt.Sprint(v.ExpiresIn))
			f.Set("refresh_token", v.RefreshToken)
			f.Set("refresh_token_expires_in", fmt.Sprint(v.RefreshTokenExpiresIn))
		}
	}
	w.Header().Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
	_, _ = w.Write([]byte(f.Encode()))
}
