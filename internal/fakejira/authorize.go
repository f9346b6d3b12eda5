package fakejira

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/tandembot/tandem/internal/fakeoauth"
)

// audience is the only API audience a Jira 3LO app asks for.
const audience = "api.atlassian.com"

// authorize serves GET /authorize (the consent page, or an immediate
// redirect with login=) and POST (the consent form's answer).
//
// Atlassian wants audience=api.atlassian.com and prompt=consent; the fake
// refuses requests without them, and without state, so that a client that
// forgets one fails here rather than in production. The fake-only
// parameters login= (an email) and site= (a cloud id; default every site
// the account can use) skip the consent page.
func (s *Server) authorize(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		fakeoauth.WebError(w, http.StatusBadRequest, "The request could not be parsed.")
		return
	}
	p := r.Form
	if p.Get("client_id") != s.opts.ClientID {
		fakeoauth.WebError(w, http.StatusBadRequest, "Something went wrong: no app has this client_id.")
		return
	}
	redirect := p.Get("redirect_uri")
	switch {
	case redirect == "":
		fakeoauth.WebError(w, http.StatusBadRequest, "redirect_uri is required.")
		return
	case s.opts.RedirectURL != "" && redirect != s.opts.RedirectURL:
		// Never redirect to a callback the app did not register.
		fakeoauth.WebError(w, http.StatusBadRequest, "redirect_uri does not match the app's callback URL.")
		return
	}
	if got := p.Get("audience"); got != audience {
		fakeoauth.WebError(w, http.StatusBadRequest, fmt.Sprintf("audience must be %s, not %q.", audience, got))
		return
	}
	if got := p.Get("prompt"); got != "consent" {
		fakeoauth.WebError(w, http.StatusBadRequest, fmt.Sprintf("prompt must be consent, not %q.", got))
		return
	}
	state := p.Get("state")
	if state == "" {
		fakeoauth.WebError(w, http.StatusBadRequest, "state is required (the fake insists: RFC 9700 CSRF protection).")
		return
	}
	if rt := p.Get("response_type"); rt != "code" {
		redirectError(w, r, redirect, state, "unsupported_response_type", "response_type must be code.")
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
	scopes := splitScopes(p.Get("scope"))
	if len(scopes) == 0 {
		redirectError(w, r, redirect, state, "invalid_scope", "scope is required.")
		return
	}

	s.mu.Lock()
	login := p.Get("login")
	if r.Method == http.MethodGet && login == "" {
		login = s.stats.AutoConsent()
	}
	if r.Method == http.MethodPost && p.Get("decision") != "allow" {
		s.mu.Unlock()
		redirectError(w, r, redirect, state, "access_denied", "The user denied the app access.")
		return
	}
	if login == "" {
		users := s.consentUsers()
		s.mu.Unlock()
		s.renderConsent(w, p, users)
		return
	}
	u := s.users[key(login)]
	if u == nil {
		s.mu.Unlock()
		fakeoauth.WebError(w, http.StatusBadRequest, "No such account: "+login)
		return
	}
	sites := u.Sites
	if id := p.Get("site"); id != "" {
		if !slices.Contains(u.Sites, id) {
			s.mu.Unlock()
			fakeoauth.WebError(w, http.StatusBadRequest, login+" cannot use site "+id)
			return
		}
		sites = []string{id}
	}
	s.seq++
	code := fmt.Sprintf("FAKECODE-%s-%d", tokenName(u), s.seq)
	s.codes[code] = &authCode{
		clientID:    s.opts.ClientID,
		login:       u.key(),
		redirectURI: redirect,
		challenge:   challenge,
		scopes:      scopes,
		sites:       slices.Clone(sites),
		expires:     s.now().Add(codeLifetime),
	}
	s.stats.CodeIssued(challenge != "")
	s.mu.Unlock()
	redirectTo(w, r, redirect, url.Values{"code": {code}, "state": {state}})
}

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
		fakeoauth.WebError(w, http.StatusBadRequest, "redirect_uri is not a URL.")
	}
}
