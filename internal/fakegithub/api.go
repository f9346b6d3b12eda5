package fakegithub

import (
	"bytes"
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

const (
	docsREST      = "https://docs.github.com/rest"
	docsRateLimit = "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api"
	core          = "core"
	search        = "search"
)

func (s *Server) apiMux() *http.ServeMux {
	m := http.NewServeMux()
	const repo = "/api/v3/repos/{owner}/{repo}"
	m.HandleFunc("GET /api/v3/user", s.authed(core, s.getUser))
	m.HandleFunc("GET /api/v3/search/issues", held(&s.holdSearch, s.authed(search, s.searchIssues)))
	m.HandleFunc("GET "+repo, s.authed(core, s.getRepo))
	m.HandleFunc("POST "+repo+"/issues", s.authed(core, s.createIssue))
	m.HandleFunc("GET "+repo+"/issues/{number}", s.authed(core, s.getIssue))
	m.HandleFunc("POST "+repo+"/issues/{number}/comments", held(&s.hold, s.authed(core, s.createComment)))
	m.HandleFunc("GET "+repo+"/pulls/{number}", s.authed(core, s.getPull))
	m.HandleFunc("GET "+repo+"/pulls/{number}/reviews", s.authed(core, s.listReviews))
	m.HandleFunc("GET "+repo+"/commits/{rest...}", s.authed(core, s.commitsRoute))
	m.HandleFunc("GET "+repo+"/contents", s.authed(core, s.getContents))
	m.HandleFunc("GET "+repo+"/contents/{path...}", s.authed(core, s.getContents))
	m.HandleFunc("PUT "+repo+"/contents/{path...}", s.authed(core, s.putContents))
	m.HandleFunc("DELETE /api/v3/applications/{client_id}/grant", s.deleteGrant)
	m.HandleFunc("DELETE /api/v3/applications/{client_id}/token", s.deleteToken)
	m.HandleFunc("/api/v3/", func(w http.ResponseWriter, r *http.Request) {
		apiError(w, http.StatusNotFound, "Not Found", docsREST)
	})
	return m
}

// serveAPI records the request, then answers it unless an outage is on.
func (s *Server) serveAPI(w http.ResponseWriter, r *http.Request, outage int) {
	body, _ := io.ReadAll(io.LimitReader(r.Body, 10<<20))
	r.Body = io.NopCloser(bytes.NewReader(body))
	raw := bearer(r)
	s.mu.Lock()
	rec := Request{
		Method: r.Method,
		Path:   strings.TrimPrefix(r.URL.Path, "/api/v3"),
		Query:  r.URL.Query(),
		Token:  raw,
		Body:   string(body),
	}
	if t := s.tokens[raw]; t != nil {
		rec.Login = s.users[t.login].Login
	}
	if rec.Path == "" {
		rec.Path = "/"
	}
	n := s.requests.Add(rec)
	w.Header().Set("X-GitHub-Request-Id", fmt.Sprintf("FAKE:%04X", n))
	s.anonymousRate(w) // authed replaces it with the caller's
	s.mu.Unlock()
	w.Header().Set("X-GitHub-Api-Version-Selected", "2022-11-28")
	w.Header().Set("X-GitHub-Media-Type", "github.v3; format=json")
	if outage != 0 {
		apiError(w, outage, http.StatusText(outage), docsREST)
		return
	}
	s.api.ServeHTTP(w, r)
}

// bearer returns the token of an "Authorization: Bearer X" or "token X"
// header.
func bearer(r *http.Request) string {
	scheme, tok, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || (!strings.EqualFold(scheme, "bearer") && !strings.EqualFold(scheme, "token")) {
		return ""
	}
	return strings.TrimSpace(tok)
}

// caller is the account behind an authenticated request.
type caller struct {
	key    string // lower-case login
	user   *User
	scopes []string
	app    bool // GitHub App user token: permissions, not scopes
}

// has reports whether the token carries scope, directly or through a
// broader one.
func (c caller) has(scope string) bool {
	if c.app {
		return true
	}
	parent := map[string]string{
		"public_repo": "repo", "repo:status": "repo", "repo_deployment": "repo", "repo:invite": "repo",
		"read:user": "user", "user:email": "user", "user:follow": "user",
	}
	return slices.Contains(c.scopes, scope) || (parent[scope] != "" && slices.Contains(c.scopes, parent[scope]))
}

// authed checks the token and spends one request of resource's rate limit
// before calling h, holding s.mu throughout.
func (s *Server) authed(resource string, h func(http.ResponseWriter, *http.Request, caller)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		defer s.mu.Unlock()
		raw := bearer(r)
		t := s.tokens[raw]
		switch {
		case raw == "":
			apiError(w, http.StatusUnauthorized, "Requires authentication", docsREST)
			return
		case t == nil || t.kind != access || !t.live(s.now()):
			apiError(w, http.StatusUnauthorized, "Bad credentials", docsREST)
			return
		}
		c := caller{key: t.login, user: s.users[t.login], scopes: t.scopes, app: s.opts.Expiring}
		if !c.app {
			w.Header().Set("X-OAuth-Scopes", strings.Join(t.scopes, ", "))
		}
		if !s.spend(w, c, resource) {
			return
		}
		h(w, r, c)
	}
}

type window struct {
	used  int
	reset time.Time
}

// spend counts one request against c's limit for resource and sets the
// x-ratelimit headers; over the limit it answers 403 and returns false.
func (s *Server) spend(w http.ResponseWriter, c caller, resource string) bool {
	limit, period := 5000, time.Hour
	if resource == search {
		limit, period = 30, time.Minute
	}
	now := s.now()
	exceeded := func(reset time.Time) bool {
		setRate(w, limit, 0, reset, limit, resource)
		apiError(w, http.StatusForbidden, fmt.Sprintf("API rate limit exceeded for user ID %d.", c.user.ID), docsRateLimit)
		return false
	}
	if until, ok := s.limited[c.key]; ok {
		if now.Before(until) {
			return exceeded(until)
		}
		delete(s.limited, c.key)
	}
	k := c.key + "/" + resource
	win := s.usage[k]
	if win == nil || !now.Before(win.reset) {
		win = &window{reset: now.Add(period)}
		s.usage[k] = win
	}
	if !s.opts.NoRateLimit {
		if win.used >= limit {
			return exceeded(win.reset)
		}
		win.used++
	}
	setRate(w, limit, limit-win.used, win.reset, win.used, resource)
	return true
}

// anonymousRate sets the headers GitHub sends unauthenticated callers.
func (s *Server) anonymousRate(w http.ResponseWriter) {
	setRate(w, 60, 59, s.now().Add(time.Hour), 1, core)
}

func setRate(w http.ResponseWriter, limit, remaining int, reset time.Time, used int, resource string) {
	h := w.Header()
	h.Set("X-Ratelimit-Limit", strconv.Itoa(limit))
	h.Set("X-Ratelimit-Remaining", strconv.Itoa(remaining))
	h.Set("X-Ratelimit-Reset", strconv.FormatInt(reset.Unix(), 10))
	h.Set("X-Ratelimit-Used", strconv.Itoa(used))
	h.Set("X-Ratelimit-Resource", resource)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

func apiError(w http.ResponseWriter, status int, msg, doc string) {
	writeJSON(w, status, map[string]any{"message": msg, "documentation_url": doc, "status": strconv.Itoa(status)})
}

// validationFailed is GitHub's 422 with field errors.
func validationFailed(w http.ResponseWriter, doc string, errs ...map[string]any) {
	writeJSON(w, http.StatusUnprocessableEntity, map[string]any{
		"message": "Validation Failed", "errors": errs, "documentation_url": doc, "status": "422",
	})
}

func notFound(w http.ResponseWriter, doc string) { apiError(w, http.StatusNotFound, "Not Found", doc) }

func (s *Server) getUser(w http.ResponseWriter, _ *http.Request, c caller) {
	writeJSON(w, http.StatusOK, s.privateUserJSON(c.user))
}

// appAuth checks the client id and secret of the app endpoints (basic
// auth) and returns the token named in the JSON body.
func (s *Server) appAuth(w http.ResponseWriter, r *http.Request) (*token, bool) {
	const doc = "https://docs.github.com/rest/apps/oauth-applications"
	id, secret, ok := r.BasicAuth()
	switch {
	case !ok:
		apiError(w, http.StatusUnauthorized, "Requires authentication", doc)
		return nil, false
	case id != s.opts.ClientID || subtle.ConstantTimeCompare([]byte(secret), []byte(s.opts.ClientSecret)) != 1:
		apiError(w, http.StatusUnauthorized, "Bad credentials", doc)
		return nil, false
	case r.PathValue("client_id") != id:
		notFound(w, doc)
		return nil, false
	}
	var body struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		apiError(w, http.StatusBadRequest, "Problems parsing JSON", doc)
		return nil, false
	}
	if body.AccessToken == "" {
		validationFailed(w, doc, map[string]any{"resource": "Authorization", "field": "access_token", "code": "missing_field"})
		return nil, false
	}
	t := s.tokens[body.AccessToken]
	if t == nil || t.kind != access || t.revoked {
		notFound(w, doc)
		return nil, false
	}
	return t, true
}

// deleteGrant serves DELETE /applications/{client_id}/grant: every token
// the user granted the app dies.
func (s *Server) deleteGrant(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.appAuth(w, r)
	if !ok {
		return
	}
	s.revokeLogin(t.login)
	w.WriteHeader(http.StatusNoContent)
}

// deleteToken serves DELETE /applications/{client_id}/token: one token
// (and its refresh token) dies.
func (s *Server) deleteToken(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.appAuth(w, r)
	if !ok {
		return
	}
	t.revoked = true
	if p := s.tokens[t.pair]; p != nil {
		p.revoked = true
	}
	w.WriteHeader(http.StatusNoContent)
}
