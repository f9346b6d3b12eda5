package fakegoogle

import (
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"

	"github.com/tandembot/tandem/internal/fakeoauth"
)

// Scopes the fake knows. Google expands the OpenID shorthands "email" and
// "profile" to these URLs in what it grants.
const (
	scopeOpenID       = "openid"
	scopeEmail        = "https://www.googleapis.com/auth/userinfo.email"
	scopeProfile      = "https://www.googleapis.com/auth/userinfo.profile"
	scopeAuth         = "https://www.googleapis.com/auth/"
	errorPageAuthHelp = "https://developers.google.com/identity/protocols/oauth2/web-server#authorization-errors"
)

// knownScopes are the scopes the authorize endpoint accepts, after
// expansion.
var knownScopes = []string{
	scopeOpenID, scopeEmail, scopeProfile,
	scopeAuth + "calendar", scopeAuth + "calendar.readonly",
	scopeAuth + "calendar.events", scopeAuth + "calendar.events.readonly",
	scopeAuth + "drive", scopeAuth + "drive.readonly", scopeAuth + "drive.file",
	scopeAuth + "drive.metadata", scopeAuth + "drive.metadata.readonly",
}

// normalizeScopes expands the shorthands, sorts and drops duplicates, and
// returns the scopes it does not know apart.
func normalizeScopes(raw string) (scopes, unknown []string) {
	for _, sc := range strings.Fields(raw) {
		switch sc {
		case "email":
			sc = scopeEmail
		case "profile":
			sc = scopeProfile
		}
		if slices.Contains(knownScopes, sc) {
			scopes = append(scopes, sc)
		} else {
			unknown = append(unknown, sc)
		}
	}
	slices.Sort(scopes)
	return slices.Compact(scopes), unknown
}

// validChallenge is RFC 7636's code_challenge: 43 to 128 unreserved
// characters.
var validChallenge = regexp.MustCompile(`^[A-Za-z0-9._~-]{43,128}$`)

// authorize serves GET (the consent page, or an immediate redirect with
// login= or prompt=none) and POST (the consent form's answer). Like Google
// it shows an error page, never a redirect, for a request it cannot trust
// or does not understand, and redirects only a user's decision.
func (s *Server) authorize(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		authError(w, http.StatusBadRequest, "invalid_request", "The request could not be parsed.")
		return
	}
	p := r.Form
	if p.Get("client_id") != s.opts.ClientID {
		authError(w, http.StatusUnauthorized, "invalid_client", "The OAuth client was not found.")
		return
	}
	redirect := p.Get("redirect_uri")
	switch {
	case redirect == "":
		authError(w, http.StatusBadRequest, "invalid_request", "Missing required parameter: redirect_uri")
		return
	case s.opts.RedirectURL != "" && redirect != s.opts.RedirectURL:
		authError(w, http.StatusBadRequest, "redirect_uri_mismatch",
			"You can't sign in to this app because it doesn't comply with Google's OAuth 2.0 policy. redirect_uri="+redirect)
		return
	}
	if _, err := url.Parse(redirect); err != nil {
		authError(w, http.StatusBadRequest, "invalid_request", "Invalid parameter value for redirect_uri: "+redirect)
		return
	}
	switch rt := p.Get("response_type"); rt {
	case "code":
	case "":
		authError(w, http.StatusBadRequest, "invalid_request", "Missing required parameter: response_type")
		return
	default:
		authError(w, http.StatusBadRequest, "unsupported_response_type", "Invalid response_type: "+rt)
		return
	}
	state := p.Get("state")
	if state == "" {
		authError(w, http.StatusBadRequest, "invalid_request", "state is required (the fake insists: RFC 9700 CSRF protection).")
		return
	}
	if p.Get("scope") == "" {
		authError(w, http.StatusBadRequest, "invalid_request", "Missing required parameter: scope")
		return
	}
	scopes, unknown := normalizeScopes(p.Get("scope"))
	if len(unknown) > 0 {
		authError(w, http.StatusBadRequest, "invalid_scope", fmt.Sprintf("Some requested scopes were invalid. {invalid=[%s]}", strings.Join(unknown, ", ")))
		return
	}
	offline := false
	switch at := p.Get("access_type"); at {
	case "", "online":
	case "offline":
		offline = true
	default:
		authError(w, http.StatusBadRequest, "invalid_request", "Invalid access_type: "+at)
		return
	}
	prompts := strings.Fields(p.Get("prompt"))
	for _, pr := range prompts {
		if (pr != "none" && pr != "consent" && pr != "select_account") || (pr == "none" && len(prompts) > 1) {
			authError(w, http.StatusBadRequest, "invalid_request", "Invalid prompt: "+p.Get("prompt"))
			return
		}
	}
	challenge, method := p.Get("code_challenge"), p.Get("code_challenge_method")
	switch {
	case challenge == "" && method != "":
		authError(w, http.StatusBadRequest, "invalid_request", "Missing code_challenge.")
		return
	case challenge != "" && method == "":
		method = "plain" // RFC 7636's default, which Google follows
	}
	if challenge != "" && ((method != "S256" && method != "plain") || !validChallenge.MatchString(challenge)) {
		authError(w, http.StatusBadRequest, "invalid_request", "Invalid code_challenge_method or code_challenge.")
		return
	}

	s.mu.Lock()
	login := p.Get("login")
	if r.Method == http.MethodGet && login == "" {
		login = s.stats.AutoConsent()
	}
	if r.Method == http.MethodPost && p.Get("decision") != "allow" {
		s.mu.Unlock()
		redirectTo(w, r, redirect, url.Values{"error": {"access_denied"}, "state": {state}})
		return
	}
	silent := slices.Contains(prompts, "none")
	if login == "" {
		if silent {
			s.mu.Unlock()
			redirectTo(w, r, redirect, url.Values{"error": {"login_required"}, "state": {state}})
			return
		}
		users := s.userList()
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
	g := s.grants[key(u.Email)]
	if silent && (g == nil || !covers(g.scopes, scopes)) {
		s.mu.Unlock()
		redirectTo(w, r, redirect, url.Values{"error": {"consent_required"}, "state": {state}})
		return
	}
	code := fmt.Sprintf("4/0FAKE-%s-%d", localPart(u.Email), s.next())
	s.codes[code] = &authCode{
		login:       key(u.Email),
		redirectURI: redirect,
		challenge:   challenge,
		method:      method,
		scopes:      scopes,
		// Google issues a refresh token on the first consent, and again
		// only when the app forces the consent screen.
		refresh: offline && (g == nil || slices.Contains(prompts, "consent")),
		expires: s.now().Add(codeLifetime),
	}
	s.stats.CodeIssued(method == "S256")
	s.mu.Unlock()
	shown := "consent"
	if silent {
		shown = "none"
	}
	redirectTo(w, r, redirect, url.Values{
		"code": {code}, "state": {state}, "scope": {strings.Join(scopes, " ")},
		"authuser": {"0"}, "prompt": {shown},
	})
}

// covers reports whether granted includes every scope of want.
func covers(granted, want []string) bool {
	for _, sc := range want {
		if !slices.Contains(granted, sc) {
			return false
		}
	}
	return true
}

// authError is Google's "Access blocked" page for a request it will not
// send back to the client.
func authError(w http.ResponseWriter, status int, code, desc string) {
	fakeoauth.Page(w, status, "Access blocked: this app's request is invalid",
		fmt.Sprintf("Error %d: %s. %s (%s)", status, code, desc, errorPageAuthHelp))
}

func redirectTo(w http.ResponseWriter, r *http.Request, to string, params url.Values) {
	if fakeoauth.Redirect(w, r, to, params) != nil {
		fakeoauth.WebError(w, http.StatusBadRequest, "redirect_uri is not a URL.")
	}
}
