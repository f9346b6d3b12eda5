package fakegithub

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/tandembot/tandem/internal/fakeoauth"
)

// authorize serves GET (the consent page, or an immediate redirect with
// login=) and POST (the consent form's answer).
func (s *Server) authorize(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		fakeoauth.WebError(w, http.StatusBadRequest, "The request could not be parsed.")
		return
	}
	p := r.Form
	if p.Get("client_id") != s.opts.ClientID {
		fakeoauth.WebError(w, http.StatusNotFound, "Not Found: no application has this client_id.")
		return
	}
	redirect := p.Get("redirect_uri")
	registered := s.opts.RedirectURL
	state := p.Get("state")
	switch {
	case redirect == "" && registered == "":
		fakeoauth.WebError(w, http.StatusBadRequest, "redirect_uri is required: the application registered no callback URL.")
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
		fakeoauth.WebError(w, http.StatusBadRequest, "state is required (the fake insists: RFC 9700 CSRF protection).")
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
	case challenge != "" && !fakeoauth.ValidChallenge(challenge):
		redirectError(w, r, redirect, state, "invalid_request", "code_challenge must be 43 base64url characters.")
		return
	}

	s.mu.Lock()
	login := p.Get("login")
	if r.Method == http.MethodGet && login == "" {
		login = s.stats.AutoConsent()
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
		fakeoauth.WebError(w, http.StatusBadRequest, "No such user: "+login)
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
	s.stats.CodeIssued(challenge != "")
	s.mu.Unlock()
	redirectTo(w, r, redirect, url.Values{"code": {code}, "state": {state}})
}

func splitScopes(s string) []string {
	f := strings.FieldsFunc(s, func(r rune) bool { return r == ' ' || r == ',' })
	slices.Sort(f)
	return slices.Compact(f)
}

func redirectError(w http.ResponseWriter, r *http.Request, to, state, code, desc string) {
	const uri = "https://docs.github.com/apps/managing-oauth-apps/troubleshooting-authorization-request-errors"
	if fakeoauth.RedirectError(w, r, to, state, code, desc, url.Values{"error_uri": {uri}}) != nil {
		redirectTo(w, r, to, nil) // shows the bad URL page
	}
}

func redirectTo(w http.ResponseWriter, r *http.Request, to string, params url.Values) {
	if fakeoauth.Redirect(w, r, to, params) != nil {
		fakeoauth.WebError(w, http.StatusBadRequest, "redirect_uri is not a URL.")
	}
}
