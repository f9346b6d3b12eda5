package fakegithub

import (
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
)

// authorize serves GET (the consent page, or an immediate redirect with
// login=) and POST (the consent form's answer).
func (s *Server) authorize(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		webError(w, http.StatusBadRequest, "The request could not be parsed.")
		return
	}
	p := r.Form
	if p.Get("client_id") != s.opts.ClientID {
		webError(w, http.StatusNotFound, "Not Found: no application has this client_id.")
		return
	}
	redirect := p.Get("redirect_uri")
	registered := s.opts.RedirectURL
	state := p.Get("state")
	switch {
	case redirect == "" && registered == "":
		webError(w, http.StatusBadRequest, "redirect_uri is required: the application registered no callback URL.")
		return
	case redirect == "":
		redirect = registered
	case registered != "" && redirect != registered:
		// GitHub sends the error to the registered callback, never to the
		// unverified one.
		redirectError(w, r, registered, state, "redirect_uri_mismatch",
			"The redirect_uri MUST match the registered callback URL for this application.")
		return
	}
	if state == "" {
		webError(w, http.StatusBadRequest, "state is required (the fake insists: RFC 9700 CSRF protection).")
		return
	}
	if rt := p.Get("response_type"); rt != "" && rt != "code" {
		redirectError(w, r, redirect, state, "unsupported_response_type", "Only response_type=code is supported.")
		return
	}
	challenge, method := p.Get("code_challenge"), p.Get("code_challenge_method")
	switch {
	case challenge == "" && method != "":
		redirectError(w, r, redirect, state, "invalid_request", "code_challenge_method without code_challenge.")
		return
	case challenge != "" && method != "S256":
		redirectError(w, r, redirect, state, "invalid_request", "code_challenge_method must be S256.")
		return
	case challenge != "" && !validChallenge(challenge):
		redirectError(w, r, redirect, state, "invalid_request", "code_challenge must be 43 base64url characters.")
		return
	}

	s.mu.Lock()
	login := p.Get("login")
	if r.Method == http.MethodGet && login == "" {
		login = s.consent
	}
	if r.Method == http.MethodPost && p.Get("decision") != "allow" {
		s.mu.Unlock()
		redirectError(w, r, redirect, state, "access_denied", "The user has denied your application access.")
		return
	}
	if login == "" {
		users := s.userList()
		s.mu.Unlock()
		s.renderConsent(w, p, users)
		return
	}
	u := s.users[key(login)]
	if u == nil {
		s.mu.Unlock()
		webError(w, http.StatusBadRequest, "No such user: "+login)
		return
	}
	s.seq++
	code := fmt.Sprintf("FAKECODE_%s_%d", u.Login, s.seq)
	s.codes[code] = &authCode{
		clientID:    s.opts.ClientID,
		login:       key(u.Login),
		redirectURI: p.Get("redirect_uri"),
		challenge:   challenge,
		scopes:      splitScopes(p.Get("scope")),
		expires:     s.now().Add(codeLifetime),
	}
	s.pkce.codes++
	if challenge != "" {
		s.pkce.withChallenge++
	}
	s.mu.Unlock()
	redirectTo(w, r, redirect, url.Values{"code": {code}, "state": {state}})
}

// validChallenge reports whether c is a base64url SHA-256 digest.
func validChallenge(c string) bool {
	b, err := base64.RawURLEncoding.DecodeString(c)
	return err == nil && len(b) == sha256.Size
}

func splitScopes(s string) []string {
	f := strings.FieldsFunc(s, func(r rune) bool { return r == ' ' || r == ',' })
	slices.Sort(f)
	return slices.Compact(f)
}

func redirectError(w http.ResponseWriter, r *http.Request, to, state, code, desc string) {
	v := url.Values{
		"error":             {code},
		"error_description": {desc},
		"error_uri":         {"https://docs.github.com/apps/managing-oauth-apps/troubleshooting-authorization-request-errors"},
	}
	if state != "" {
		v.Set("state", state)
	}
	redirectTo(w, r, to, v)
}

func redirectTo(w http.ResponseWriter, r *http.Request, to string, params url.Values) {
	u, err := url.Parse(to)
	if err != nil {
		webError(w, http.StatusBadRequest, "redirect_uri is not a URL.")
		return
	}
	q := u.Query()
	for k, v := range params {
		q[k] = v
	}
	u.RawQuery = q.Encode()
	http.Redirect(w, r, u.String(), http.StatusFound)
}
