package fakegitlab

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// GitLab.com's limit for authenticated API traffic.
const (
	rateLimit  = 2000
	ratePeriod = time.Minute
	rateName   = "throttle_authenticated_api"
)

func (s *Server) apiMux() *http.ServeMux {
	m := http.NewServeMux()
	const p = "/api/v4/projects/{id}"
	m.HandleFunc("GET /api/v4/user", s.authed(readUser, s.getUser))
	m.HandleFunc("GET /api/v4/merge_requests", s.authed(readAPI, s.listMergeRequests))
	m.HandleFunc("GET /api/v4/issues", s.authed(readAPI, s.listIssues))
	m.HandleFunc("GET "+p, s.authed(readAPI, s.getProject))
	m.HandleFunc("POST "+p+"/issues", s.authed(writeAPI, s.createIssue))
	m.HandleFunc("GET "+p+"/issues/{iid}", s.authed(readAPI, s.getIssue))
	m.HandleFunc("POST "+p+"/issues/{iid}/notes", s.authed(writeAPI, s.createIssueNote))
	m.HandleFunc("GET "+p+"/merge_requests/{iid}", s.authed(readAPI, s.getMergeRequest))
	m.HandleFunc("POST "+p+"/merge_requests/{iid}/notes", s.authed(writeAPI, s.createMergeRequestNote))
	m.HandleFunc("/api/v4/", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusNotFound, obj{"error": "404 Not Found"})
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
		Path:   strings.TrimPrefix(r.URL.EscapedPath(), "/api/v4"),
		Query:  r.URL.Query(),
		Token:  raw,
		Body:   string(body),
	}
	if t := s.access[raw]; t != nil {
		rec.Login = s.users[t.login].Login
	}
	if rec.Path == "" {
		rec.Path = "/"
	}
	n := s.requests.Add(rec)
	w.Header().Set("X-Request-Id", fmt.Sprintf("01FAKE%020d", n))
	s.mu.Unlock()
	if outage != 0 {
		outagePage(w, outage)
		return
	}
	s.api.ServeHTTP(w, r)
}

// bearer returns the token of an "Authorization: Bearer X" header.
func bearer(r *http.Request) string {
	scheme, tok, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "bearer") {
		return ""
	}
	return strings.TrimSpace(tok)
}

// caller is the account behind an authenticated request.
type caller struct {
	key    string // lower-case login
	user   *User
	scopes []string
}

// scopeNeed is what an endpoint needs of the token's scopes.
type scopeNeed int

const (
	readUser scopeNeed = iota // read_user, read_api or api
	readAPI                   // read_api or api
	writeAPI                  // api
)

func (a scopeNeed) allowed(scopes []string) bool {
	has := func(s string) bool { return slices.Contains(scopes, s) }
	switch a {
	case readUser:
		return has("read_user") || has("read_api") || has("api")
	case readAPI:
		return has("read_api") || has("api")
	}
	return has("api")
}

func (a scopeNeed) needs() string {
	if a == writeAPI {
		return "api"
	}
	return "api read_api"
}

// authed checks the token, its scopes and the caller's rate limit before
// calling h, holding s.mu throughout.
func (s *Server) authed(need scopeNeed, h func(http.ResponseWriter, *http.Request, caller)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		defer s.mu.Unlock()
		raw := bearer(r)
		t := s.access[raw]
		switch {
		case t == nil:
			writeJSON(w, http.StatusUnauthorized, obj{"message": "401 Unauthorized"})
			return
		case t.revoked:
			invalidToken(w, "Token was revoked. You have to re-authorize from the user.")
			return
		case !t.live(s.now()):
			invalidToken(w, "Token is expired. You can either do re-authorization or token refresh.")
			return
		}
		c := caller{key: t.login, user: s.users[t.login], scopes: t.scopes}
		if !s.spend(w, c) {
			return
		}
		if !need.allowed(t.scopes) {
			// GitLab sends no WWW-Authenticate header with this one.
			const desc = "The request requires higher privileges than provided by the access token."
			writeJSON(w, http.StatusForbidden, obj{"error": "insufficient_scope", "error_description": desc, "scope": need.needs()})
			return
		}
		h(w, r, c)
	}
}

// invalidToken is GitLab's answer to an OAuth token it knows but refuses.
func invalidToken(w http.ResponseWriter, desc string) {
	w.Header().Set("WWW-Authenticate", fmt.Sprintf(`Bearer realm="Protected by OAuth 2.0", error="invalid_token", error_description=%q`, desc))
	writeJSON(w, http.StatusUnauthorized, obj{"error": "invalid_token", "error_description": desc})
}

type window struct {
	used  int
	reset time.Time
}

// spend counts one request against c's limit and sets the RateLimit
// headers GitLab.com sends; over the limit it answers 429 "Retry later" and
// returns false.
func (s *Server) spend(w http.ResponseWriter, c caller) bool {
	now := s.now()
	throttled := func(observed int, reset time.Time) bool {
		setRate(w, observed, reset)
		secs := int((reset.Sub(now) + time.Second - 1) / time.Second)
		w.Header().Set("Retry-After", strconv.Itoa(max(secs, 0)))
		w.Header().Set("Content-Type", "text/plain")
		w.WriteHeader(http.StatusTooManyRequests)
		_, _ = io.WriteString(w, "Retry later\n")
		return false
	}
	if until, ok := s.limited[c.key]; ok {
		if now.Before(until) {
			return throttled(rateLimit+1, until)
		}
		delete(s.limited, c.key)
	}
	win := s.usage[c.key]
	if win == nil || !now.Before(win.reset) {
		win = &window{reset: now.Add(ratePeriod)}
		s.usage[c.key] = win
	}
	if !s.opts.NoRateLimit {
		if win.used >= rateLimit {
			return throttled(win.used+1, win.reset)
		}
		win.used++
	}
	setRate(w, win.used, win.reset)
	return true
}

func setRate(w http.ResponseWriter, observed int, reset time.Time) {
	h := w.Header()
	h.Set("RateLimit-Name", rateName)
	h.Set("RateLimit-Limit", strconv.Itoa(rateLimit))
	h.Set("RateLimit-Observed", strconv.Itoa(observed))
	h.Set("RateLimit-Remaining", strconv.Itoa(max(rateLimit-observed, 0)))
	h.Set("RateLimit-Reset", strconv.FormatInt(reset.Unix(), 10))
	h.Set("RateLimit-ResetTime", reset.UTC().Format(http.TimeFormat))
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// notFound is GitLab's 404, naming what was not found ("Project").
func notFound(w http.ResponseWriter, what string) {
	writeJSON(w, http.StatusNotFound, obj{"message": "404 " + what + " Not Found"})
}

// badRequest is GitLab's 400 for a parameter that fails validation.
func badRequest(w http.ResponseWriter, msg string) {
	writeJSON(w, http.StatusBadRequest, obj{"error": msg})
}

func (s *Server) getUser(w http.ResponseWriter, _ *http.Request, c caller) {
	writeJSON(w, http.StatusOK, s.currentUserJSON(c.user, c.scopes))
}
