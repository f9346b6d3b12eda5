package fakejira

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/tandembot/tandem/internal/fakeoauth"
)

// Classic 3LO scopes the API checks.
const (
	readUser  = "read:jira-user"
	readWork  = "read:jira-work"
	writeWork = "write:jira-work"
)

// burstLimit is the fake's per-user burst limit (requests a second);
// Atlassian's real limits are cost-based and undocumented in detail.
const burstLimit = 100

func (s *Server) routes() *http.ServeMux {
	m := http.NewServeMux()
	// auth.atlassian.com
	m.HandleFunc("/authorize", s.authorize)
	m.HandleFunc("/oauth/token", s.token)
	// the sites' own pages, when the fake serves them
	m.HandleFunc("GET /site/{cloudid}/browse/{key}", s.browsePage)
	m.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		fakeoauth.Page(w, http.StatusOK, "Fake Atlassian", "This is a fake Atlassian (Jira Cloud) for Tandem's tests and demo.")
	})
	// api.atlassian.com
	m.HandleFunc("GET /oauth/token/accessible-resources", s.authed(s.accessibleResources))
	const v3 = "/ex/jira/{cloudid}/rest/api/3"
	m.HandleFunc("GET "+v3+"/myself", s.onSite(readUser, s.myself))
	m.HandleFunc("GET "+v3+"/search/jql", s.onSite(readWork, s.searchJQL))
	m.HandleFunc("POST "+v3+"/search/jql", s.onSite(readWork, s.searchJQL))
	m.HandleFunc("POST "+v3+"/search/approximate-count", s.onSite(readWork, s.approximateCount))
	m.HandleFunc("POST "+v3+"/issue", s.onSite(writeWork, s.createIssue))
	m.HandleFunc("GET "+v3+"/issue/{key}", s.onSite(readWork, s.getIssue))
	m.HandleFunc("POST "+v3+"/issue/{key}/comment", s.onSite(writeWork, s.addComment))
	m.HandleFunc("GET "+v3+"/issue/{key}/transitions", s.onSite(readWork, s.getTransitions))
	m.HandleFunc("POST "+v3+"/issue/{key}/transitions", s.onSite(writeWork, s.doTransition))
	// The offset-paginated search is gone from Jira Cloud (CHANGE-2046).
	m.HandleFunc(v3+"/search", s.onSite(readWork, searchRemoved))
	m.HandleFunc("/ex/jira/{cloudid}/rest/api/2/search", s.onSite(readWork, searchRemoved))
	m.HandleFunc("/ex/", func(w http.ResponseWriter, r *http.Request) {
		gatewayError(w, http.StatusNotFound, "Not Found")
	})
	return m
}

// serveAPI records the request, then answers it unless an outage is on.
func (s *Server) serveAPI(w http.ResponseWriter, r *http.Request, outage int) {
	body, _ := io.ReadAll(io.LimitReader(r.Body, 10<<20))
	r.Body = io.NopCloser(bytes.NewReader(body))
	raw := bearer(r)
	rec := Request{
		Method: r.Method,
		Path:   r.URL.Path,
		Query:  r.URL.Query(),
		Token:  raw,
		Body:   string(body),
	}
	if rest, ok := strings.CutPrefix(r.URL.Path, "/ex/jira/"); ok {
		rec.CloudID, _, _ = strings.Cut(rest, "/")
	}
	s.mu.Lock()
	if t := s.tokens[raw]; t != nil {
		rec.Login = s.users[t.login].Email
	}
	n := s.requests.Add(rec)
	w.Header().Set("Atl-Traceid", fmt.Sprintf("fake%012x", n))
	s.mu.Unlock()
	if outage != 0 {
		gatewayError(w, outage, http.StatusText(outage))
		return
	}
	s.mux.ServeHTTP(w, r)
}

// bearer returns the token of an "Authorization: Bearer X" header.
func bearer(r *http.Request) string {
	scheme, tok, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "bearer") {
		return ""
	}
	return strings.TrimSpace(tok)
}

// caller is the account behind an authenticated request, and the site it
// addressed (nil outside /ex/jira/{cloudid}/).
type caller struct {
	key  string // lower-case email
	user *User
	tok  *token
	site *site
}

// authed checks the bearer token and spends one request of the caller's
// burst limit before calling h, holding s.mu throughout.
func (s *Server) authed(h func(http.ResponseWriter, *http.Request, caller)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		defer s.mu.Unlock()
		t := s.tokens[bearer(r)]
		if t == nil || t.kind != access || !t.live(s.now()) {
			gatewayError(w, http.StatusUnauthorized, "Unauthorized")
			return
		}
		c := caller{key: t.login, user: s.users[t.login], tok: t}
		if !s.spend(w, c) {
			return
		}
		h(w, r, c)
	}
}

// onSite is authed for /ex/jira/{cloudid}/: the site must exist (404 from
// the gateway otherwise), the user's grant must cover it and the token
// must hold scope (401 "scope does not match" otherwise, as the gateway
// answers). The 404 for an unknown cloud id is inferred, not documented.
func (s *Server) onSite(scope string, h func(http.ResponseWriter, *http.Request, caller)) http.HandlerFunc {
	return s.authed(func(w http.ResponseWriter, r *http.Request, c caller) {
		st := s.sites[r.PathValue("cloudid")]
		if st == nil {
			gatewayError(w, http.StatusNotFound, "Not Found")
			return
		}
		g := s.grants[c.key]
		if g == nil || !slices.Contains(g.sites, st.CloudID) || !st.users[c.key] || !slices.Contains(c.tok.scopes, scope) {
			gatewayError(w, http.StatusUnauthorized, "Unauthorized; scope does not match")
			return
		}
		c.site = st
		h(w, r, c)
	})
}

type window struct {
	used  int
	reset time.Time
}

// spend counts one request against c's burst limit; over it, or while
// SetRateLimited holds, it answers 429 with Retry-After (seconds) and
// X-RateLimit-Reset (ISO 8601, to the minute), as Jira Cloud does, and
// returns false.
func (s *Server) spend(w http.ResponseWriter, c caller) bool {
	now := s.now()
	exceeded := func(reset time.Time) bool {
		h := w.Header()
		h.Set("Retry-After", strconv.Itoa(int(math.Ceil(reset.Sub(now).Seconds()))))
		h.Set("X-RateLimit-Reset", reset.UTC().Format("2006-01-02T15:04Z"))
		h.Set("X-RateLimit-Limit", strconv.Itoa(burstLimit))
		h.Set("X-RateLimit-Remaining", "0")
		h.Set("RateLimit-Reason", "jira-burst-based")
		jiraError(w, http.StatusTooManyRequests, []string{"Rate limit exceeded."}, nil)
		return false
	}
	if until, ok := s.limited[c.key]; ok {
		if now.Before(until) {
			return exceeded(until)
		}
		delete(s.limited, c.key)
	}
	win := s.bursts[c.key]
	if win == nil || !now.Before(win.reset) {
		win = &window{reset: now.Add(time.Second)}
		s.bursts[c.key] = win
	}
	if !s.opts.NoRateLimit {
		if win.used >= burstLimit {
			return exceeded(win.reset)
		}
		win.used++
	}
	w.Header().Set("X-RateLimit-Limit", strconv.Itoa(burstLimit))
	w.Header().Set("X-RateLimit-Remaining", strconv.Itoa(burstLimit-win.used))
	return true
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json;charset=UTF-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// gatewayError is an error of api.atlassian.com itself.
func gatewayError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, obj{"code": status, "message": msg})
}

// jiraError is an error of Jira's REST API.
func jiraError(w http.ResponseWriter, status int, messages []string, fields map[string]string) {
	if messages == nil {
		messages = []string{}
	}
	if fields == nil {
		fields = map[string]string{}
	}
	writeJSON(w, status, obj{"errorMessages": messages, "errors": fields})
}

// accessibleResources serves GET /oauth/token/accessible-resources: the
// sites the token's grant covers and its owner can still use.
func (s *Server) accessibleResources(w http.ResponseWriter, _ *http.Request, c caller) {
	var scopes []string
	for _, sc := range c.tok.scopes {
		if sc != offlineAccess {
			scopes = append(scopes, sc)
		}
	}
	out := []obj{}
	if g := s.grants[c.key]; g != nil {
		for _, id := range g.sites {
			st := s.sites[id]
			if st == nil || !st.users[c.key] {
				continue
			}
			out = append(out, obj{
				"id":        st.CloudID,
				"url":       s.siteURL(st),
				"name":      st.Name,
				"scopes":    scopes,
				"avatarUrl": "https://site-admin-avatar-cdn.prod.public.atl-paas.net/avatars/240/site.png",
			})
		}
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) myself(w http.ResponseWriter, _ *http.Request, c caller) {
	o := s.userJSON(c.site, c.user, true)
	o["groups"] = obj{"size": 1, "items": []obj{}}
	o["applicationRoles"] = obj{"size": 1, "items": []obj{}}
	o["expand"] = "groups,applicationRoles"
	writeJSON(w, http.StatusOK, o)
}

// searchRemoved answers the retired GET/POST /rest/api/{2,3}/search.
func searchRemoved(w http.ResponseWriter, _ *http.Request, _ caller) {
	jiraError(w, http.StatusGone, []string{"The requested API has been removed. Please migrate to the /rest/api/3/search/jql API. A full migration guideline is available at https://developer.atlassian.com/changelog/#CHANGE-2046"}, nil)
}
