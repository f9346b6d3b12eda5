package fakegitlab

import (
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/tandembot/tandem/internal/fakeoauth"
)

// Lifetimes GitLab uses.
const (
	codeLifetime   = 10 * time.Minute
	accessLifetime = 2 * time.Hour // expires_in 7200
)

type authCode struct {
	login       string
	redirectURI string
	challenge   string
	method      string // "S256", "plain" or ""
	scopes      []string
	expires     time.Time
	used        bool
}

// token is one grant row as Doorkeeper keeps it: an access token and the
// refresh token issued with it live and die together.
type token struct {
	value        string
	refreshValue string
	login        string // lower-case
	scopes       []string
	created      time.Time
	expires      time.Time
	revoked      bool
}

func (t *token) live(now time.Time) bool { return !t.revoked && now.Before(t.expires) }

// oauthError is an OAuth error as Doorkeeper sends it.
type oauthError struct {
	status int
	Code   string `json:"error"`
	Desc   string `json:"error_description"`
}

var (
	errInvalidClient = oauthError{http.StatusUnauthorized, "invalid_client",
		"Client authentication failed due to unknown client, no client authentication included, or unsupported authentication method."}
	errInvalidGrant = oauthError{http.StatusBadRequest, "invalid_grant",
		"The provided authorization grant is invalid, expired, revoked, does not match the redirection URI used in the authorization request, or was issued to another client."}
	errGrantType = oauthError{http.StatusBadRequest, "unsupported_grant_type",
		"The authorization grant type is not supported by the authorization server."}
)

func missing(param string) oauthError {
	return oauthError{http.StatusBadRequest, "invalid_request", "Missing required parameter: " + param + "."}
}

// clientAuth reads the client credentials from the form or from basic auth
// and reports whether they are the registered application's.
func (s *Server) clientAuth(r *http.Request) bool {
	id, secret := r.Form.Get("client_id"), r.Form.Get("client_secret")
	if u, p, ok := r.BasicAuth(); ok {
		// RFC 6749 2.3.1 form-encodes them, and x/oauth2 does so.
		id, _ = url.QueryUnescape(u)
		secret, _ = url.QueryUnescape(p)
	}
	return id == s.opts.ClientID && subtle.ConstantTimeCompare([]byte(secret), []byte(s.opts.ClientSecret)) == 1
}

// HoldRefreshes holds every refresh_token grant, before the fake looks at
// it, until release: reached receives once for each grant held. What a
// test does meanwhile (a relink, a revocation) happens while the refresh
// is at the provider, as it can on another replica.
func (s *Server) HoldRefreshes() (reached <-chan struct{}, release func()) {
	return fakeoauth.HoldOn(&s.holdRefresh)
}

// tokenEndpoint serves POST /oauth/token.
func (s *Server) tokenEndpoint(w http.ResponseWriter, r *http.Request) {
	s.stats.TokenRequest()
	if r.Method != http.MethodPost {
		fakeoauth.WebError(w, http.StatusNotFound, "The page could not be found or you don't have permission to view it.")
		return
	}
	if err := r.ParseForm(); err != nil {
		writeOAuth(w, http.StatusBadRequest, missing("grant_type"))
		return
	}
	if !s.clientAuth(r) {
		w.Header().Set("WWW-Authenticate", `Bearer realm="Doorkeeper", error="invalid_client", error_description="`+errInvalidClient.Desc+`"`)
		writeOAuth(w, errInvalidClient.status, errInvalidClient)
		return
	}
	if hold := s.holdRefresh.Load(); hold != nil && r.Form.Get("grant_type") == "refresh_token" {
		(*hold)()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var out any
	switch gt := r.Form.Get("grant_type"); gt {
	case "":
		out = missing("grant_type")
	case "authorization_code":
		out = s.exchange(r.Form)
	case "refresh_token":
		out = s.refreshGrant(r.Form.Get("refresh_token"))
	default:
		out = errGrantType
	}
	switch v := out.(type) {
	case oauthError:
		writeOAuth(w, v.status, v)
	default:
		writeOAuth(w, http.StatusOK, v)
	}
}

// exchange redeems an authorization code. As with Doorkeeper, a request
// that fails validation leaves the code usable; a redeemed code is dead.
func (s *Server) exchange(f url.Values) any {
	switch {
	case f.Get("code") == "":
		return missing("code")
	case f.Get("redirect_uri") == "":
		return missing("redirect_uri")
	}
	c := s.codes[f.Get("code")]
	if c == nil || c.used || !s.now().Before(c.expires) {
		return errInvalidGrant
	}
	if c.challenge != "" && f.Get("code_verifier") == "" {
		return missing("code_verifier")
	}
	if f.Get("redirect_uri") != c.redirectURI {
		return errInvalidGrant
	}
	if c.challenge != "" && !verifies(c.method, c.challenge, f.Get("code_verifier")) {
		return errInvalidGrant
	}
	c.used = true
	return s.response(s.issue(c.login, c.scopes))
}

func verifies(method, challenge, verifier string) bool {
	if method == "plain" {
		return subtle.ConstantTimeCompare([]byte(challenge), []byte(verifier)) == 1
	}
	return fakeoauth.VerifyS256(challenge, verifier)
}

// refreshGrant rotates a refresh token: the old access and refresh token
// die, and using the old refresh token again fails with invalid_grant.
func (s *Server) refreshGrant(value string) any {
	if value == "" {
		return missing("refresh_token")
	}
	t := s.refresh[value]
	if t == nil || t.revoked {
		return errInvalidGrant
	}
	t.revoked = true
	s.stats.Refreshed(t.login)
	return s.response(s.issue(t.login, t.scopes))
}

type tokenResponse struct {
	AccessToken  string `json:"access_token"`
	TokenType    string `json:"token_type"`
	ExpiresIn    int    `json:"expires_in"`
	RefreshToken string `json:"refresh_token"`
	Scope        string `json:"scope"`
	CreatedAt    int64  `json:"created_at"`
}

func (s *Server) response(t *token) tokenResponse {
	return tokenResponse{
		AccessToken:  t.value,
		TokenType:    "Bearer",
		ExpiresIn:    int(accessLifetime / time.Second),
		RefreshToken: t.refreshValue,
		Scope:        strings.Join(t.scopes, " "),
		CreatedAt:    t.created.Unix(),
	}
}

// issue mints a token pair for login. The caller holds s.mu.
func (s *Server) issue(login string, scopes []string) *token {
	now := s.now()
	u := s.users[login]
	s.seq += 2
	n := s.seq - 1
	t := &token{
		value:        fmt.Sprintf("gloas-FAKE-%s-%d", u.Login, n),
		refreshValue: fmt.Sprintf("glrt-FAKE-%s-%d", u.Login, s.seq),
		login:        login,
		scopes:       scopes,
		created:      now,
		expires:      now.Add(accessLifetime),
	}
	s.access[t.value] = t
	s.refresh[t.refreshValue] = t
	return t
}

// revoke serves POST /oauth/revoke (RFC 7009): the token named, access or
// refresh, dies with its pair. An unknown token answers 200 too.
func (s *Server) revoke(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		fakeoauth.WebError(w, http.StatusNotFound, "The page could not be found or you don't have permission to view it.")
		return
	}
	if err := r.ParseForm(); err != nil {
		writeOAuth(w, http.StatusBadRequest, missing("token"))
		return
	}
	if !s.clientAuth(r) {
		writeOAuth(w, errInvalidClient.status, errInvalidClient)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	v := r.Form.Get("token")
	t := s.access[v]
	if t == nil {
		t = s.refresh[v]
	}
	if t != nil {
		t.revoked = true
	}
	writeOAuth(w, http.StatusOK, struct{}{})
}

func writeOAuth(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Pragma", "no-cache")
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
