package fakegitlab

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
		fakeoauth.WebError(w, http.StatusUnauthorized, "Client authentication failed due to unknown client, no client authentication included, or unsupported authentication method.")
		return
	}
	redirect := p.Get("redirect_uri")
	switch {
	case redirect == "":
		fakeoauth.WebError(w, http.StatusBadRequest, "Missing required parameter: redirect_uri.")
		return
	case s.opts.RedirectURL != "" && redirect != s.opts.RedirectURL:
		// Doorkeeper never redirects to an unregistered URI: it shows the
		// error instead.
		fakeoauth.WebError(w, http.StatusBadRequest, "The redirect URI included is not valid.")
		return
	}
	state := p.Get("state")
	if state == "" {
		fakeoauth.WebError(w, http.StatusBadRequest, "state is required (the fake insists: RFC 9700 CSRF protection).")
		return
	}
	switch rt := p.Get("response_type"); {
	case rt == "":
		redirectError(w, r, redirect, state, "invalid_request", "Missing required parameter: response_type.")
		return
	case rt != "code":
		redirectError(w, r, redirect, state, "unsupported_response_type", "The authorization server does not support this response type.")
		return
	}
	scopes := splitScopes(p.Get("scope"))
	if len(scopes) == 0 {
		scopes = []string{"api"} // GitLab's default scope
	}
	for _, sc := range scopes {
		if !slices.Contains(s.opts.Scopes, sc) {
			redirectError(w, r, redirect, state, "invalid_scope", "The requested scope is invalid, unknown, or malformed.")
			return
		}
	}
	challenge, method := p.Get("code_challenge"), p.Get("code_challenge_method")
	if challenge != "" && method == "" {
		method = "plain" // RFC 7636 4.3
	}
	switch {
	case challenge == "" && method != "":
		redirectError(w, r, redirect, state, "invalid_request", "Missing required parameter: code_challenge.")
		return
	case challenge != "" && method != "S256" && method != "plain":
		redirectError(w, r, redirect, state, "invalid_request", "The code_challenge_method must be one of plain, S256.")
		return
	case method == "S256" && !fakeoauth.ValidChallenge(challenge):
		redirectError(w, r, redirect, state, "invalid_request", "The code_challenge must be 43 base64url characters.")
		return
	}

	s.mu.Lock()
	login := p.Get("login")
	if r.Method == http.MethodGet && login == "" {
		login = s.stats.AutoConsent()
	}
	if r.Method == http.MethodPost && p.Get("decision") != "allow" {
		s.mu.Unlock()
		redirectError(w, r, redirect, state, "access_denied", "The resource owner or authorization server denied the request.")
		return
	}
	if login == "" {
		users := s.userList()
		s.mu.Unlock()
		s.renderConsent(w, p, users, scopes)
		return
	}
	u := s.users[key(login)]
	if u == nil {
		s.mu.Unlock()
		fakeoauth.WebError(w, http.StatusBadRequest, "No such user: "+login)
		return
	}
	s.seq++
	code := fmt.Sprintf("FAKECODE-%s-%d", u.Login, s.seq)
	s.codes[code] = &authCode{
		login:       key(u.Login),
		redirectURI: redirect,
		challenge:   challenge,
		method:      method,
		scopes:      scopes,
		expires:     s.now().Add(codeLifetime),
	}
	s.stats.CodeIssued(method == "S256")
	s.mu.Unlock()
	redirectTo(w, r, redirect, url.Values{"code": {code}, "state": {state}})
}

// splitScopes reads a space-separated scope list (GitLab also accepts "+"
// once decoded, which is a space), sorted and without duplicates.
func splitScopes(s string) []string {
	f := strings.Fields(s)
	slices.Sort(f)
	return slices.Compact(f)
}

func redirectError(w http.ResponseWriter, r *http.Request, to, state, code, desc string) {
	if fakeoauth.RedirectError(w, r, to, state, code, desc, nil) != nil {
		redirectTo(w, r, to, nil) // shows the bad URL page
	}
}

func redirectTo(w http.ResponseWriter, r *http.Request, to string, params url.Values) {
	if fakeoauth.Redirect(w, r, to, params) != nil {
		fakeoauth.WebError(w, http.StatusBadRequest, "The redirect URI included is not valid.")
	}
}
