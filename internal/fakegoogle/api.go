package fakegoogle

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"
)

// The APIs a token can call, each with its own per-user quota.
const (
	apiUserinfo = "userinfo"
	apiCalendar = "calendar"
	apiDrive    = "drive"
)

// quotas are Google's default per-user limits: Calendar's 600 queries a
// minute per user, Drive's 12,000 queries per 60 seconds per user.
// Userinfo has none the fake enforces.
var quotas = map[string]int{apiCalendar: 600, apiDrive: 12000}

// Scopes that open each API; any one of them does.
var (
	calendarScopes = []string{
		scopeAuth + "calendar", scopeAuth + "calendar.readonly",
		scopeAuth + "calendar.events", scopeAuth + "calendar.events.readonly",
	}
	driveScopes = []string{
		scopeAuth + "drive", scopeAuth + "drive.readonly", scopeAuth + "drive.file",
		scopeAuth + "drive.metadata", scopeAuth + "drive.metadata.readonly",
	}
)

func (s *Server) apiMux() *http.ServeMux {
	m := http.NewServeMux()
	m.HandleFunc("GET /oauth2/v3/userinfo", s.authed(apiUserinfo, nil, s.userinfo))
	m.HandleFunc("POST /oauth2/v3/userinfo", s.authed(apiUserinfo, nil, s.userinfo))
	m.HandleFunc("GET /calendar/v3/calendars/{calendarId}/events", s.authed(apiCalendar, calendarScopes, s.listEvents))
	m.HandleFunc("GET /drive/v3/files", s.authed(apiDrive, driveScopes, s.listFiles))
	m.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		gfeError(w, http.StatusNotFound, "The requested URL "+r.URL.Path+" was not found on this server.")
	})
	return m
}

// serveAPI records the request, then answers it unless an outage is on.
func (s *Server) serveAPI(w http.ResponseWriter, r *http.Request, outage int) {
	body, _ := io.ReadAll(io.LimitReader(r.Body, 10<<20))
	r.Body = io.NopCloser(bytes.NewReader(body))
	raw := bearer(r)
	s.mu.Lock()
	rec := Request{Method: r.Method, Path: r.URL.Path, Query: r.URL.Query(), Token: raw, Body: string(body)}
	if t := s.tokens[raw]; t != nil {
		rec.Login = s.users[t.login].Email
	}
	s.requests.Add(rec)
	s.mu.Unlock()
	switch outage {
	case 0:
		s.api.ServeHTTP(w, r)
	case http.StatusInternalServerError:
		apiError(w, outage, "Internal error encountered.", "INTERNAL", errItem{Domain: "global", Reason: "backendError"})
	case http.StatusServiceUnavailable:
		apiError(w, outage, "The service is currently unavailable.", "UNAVAILABLE", errItem{Domain: "global", Reason: "backendError"})
	default:
		// Other outages come from Google's front end, as an HTML page.
		gfeError(w, outage, "The server encountered a temporary error and could not complete your request.")
	}
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
	key    string // user key
	user   *User
	scopes []string
}

func (c caller) hasAny(scopes []string) bool {
	for _, sc := range scopes {
		if slices.Contains(c.scopes, sc) {
			return true
		}
	}
	return false
}

// authed checks the token, its scopes (any of scopes; nil: none needed)
// and the caller's quota for api before calling h, holding s.mu
// throughout.
func (s *Server) authed(api string, scopes []string, h func(http.ResponseWriter, *http.Request, caller)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		defer s.mu.Unlock()
		raw := bearer(r)
		t := s.tokens[raw]
		if t == nil || t.kind != access || !t.live(s.now()) {
			unauthenticated(w, api, raw == "")
			return
		}
		c := caller{key: t.login, user: s.users[t.login], scopes: t.scopes}
		if scopes != nil && !c.hasAny(scopes) {
			insufficientScopes(w, api)
			return
		}
		if !s.spend(w, c, api) {
			return
		}
		h(w, r, c)
	}
}

// errItem is one entry of the "errors" list in Google's API errors.
type errItem struct {
	Message      string `json:"message"`
	Domain       string `json:"domain"`
	Reason       string `json:"reason"`
	Location     string `json:"location,omitempty"`
	LocationType string `json:"locationType,omitempty"`
}

// apiError writes Google's JSON API error. status is the gRPC-style name
// ("UNAUTHENTICATED"), which the older Calendar and Drive errors leave out
// (""). An item without a message takes the error's.
func apiError(w http.ResponseWriter, code int, message, status string, item errItem, details ...map[string]any) {
	if item.Message == "" {
		item.Message = message
	}
	e := map[string]any{"code": code, "message": message, "errors": []errItem{item}}
	if status != "" {
		e["status"] = status
	}
	if len(details) > 0 {
		e["details"] = details
	}
	writeJSON(w, code, map[string]any{"error": e})
}

// badRequest is a 400 naming the query parameter at fault.
func badRequest(w http.ResponseWriter, message, reason, param string) {
	apiError(w, http.StatusBadRequest, message, "", errItem{Domain: "global", Reason: reason, Location: param, LocationType: "parameter"})
}

// unauthenticated answers a missing, unknown, expired or revoked token.
func unauthenticated(w http.ResponseWriter, api string, none bool) {
	if none {
		w.Header().Set("WWW-Authenticate", `Bearer realm="https://accounts.google.com/"`)
	} else {
		w.Header().Set("WWW-Authenticate", `Bearer realm="https://accounts.google.com/", error="invalid_token"`)
	}
	if api == apiUserinfo {
		// The OpenID endpoint answers in OAuth's error shape.
		writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "invalid_request", "error_description": "Invalid Credentials"})
		return
	}
	if none {
		apiError(w, http.StatusUnauthorized,
			"Request is missing required authentication credential. Expected OAuth 2 access token, login cookie or other valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project.",
			"UNAUTHENTICATED", errItem{Message: "Login Required.", Domain: "global", Reason: "required", Location: "Authorization", LocationType: "header"})
		return
	}
	apiError(w, http.StatusUnauthorized,
		"Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project.",
		"UNAUTHENTICATED", errItem{Message: "Invalid Credentials", Domain: "global", Reason: "authError", Location: "Authorization", LocationType: "header"})
}

func insufficientScopes(w http.ResponseWriter, api string) {
	service, method := "calendar-json.googleapis.com", "calendar.v3.Events.List"
	if api == apiDrive {
		service, method = "drive.googleapis.com", "google.apps.drive.v3.DriveFiles.List"
	}
	w.Header().Set("WWW-Authenticate", `Bearer realm="https://accounts.google.com/", error="insufficient_scope"`)
	apiError(w, http.StatusForbidden, "Request had insufficient authentication scopes.", "PERMISSION_DENIED",
		errItem{Message: "Insufficient Permission", Domain: "global", Reason: "insufficientPermissions"},
		map[string]any{
			"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "ACCESS_TOKEN_SCOPE_INSUFFICIENT",
			"domain": "googleapis.com", "metadata": map[string]string{"service": service, "method": method},
		})
}

type window struct {
	used  int
	reset time.Time
}

// spend counts one request against c's per-minute quota for api; over it,
// or while SetRateLimited holds, it answers as Google does and returns
// false.
func (s *Server) spend(w http.ResponseWriter, c caller, api string) bool {
	now := s.now()
	if until, ok := s.limited[c.key]; ok {
		if now.Before(until) {
			limitedError(w, api)
			return false
		}
		delete(s.limited, c.key)
	}
	limit, ok := quotas[api]
	if !ok || s.opts.NoRateLimit {
		return true
	}
	k := c.key + "/" + api
	win := s.usage[k]
	if win == nil || !now.Before(win.reset) {
		win = &window{reset: now.Add(time.Minute)}
		s.usage[k] = win
	}
	if win.used >= limit {
		apiError(w, http.StatusTooManyRequests, "Rate Limit Exceeded", "RESOURCE_EXHAUSTED",
			errItem{Domain: "usageLimits", Reason: "rateLimitExceeded"})
		return false
	}
	win.used++
	return true
}

// limitedError is what each API answers an account over its limit.
func limitedError(w http.ResponseWriter, api string) {
	switch api {
	case apiCalendar:
		apiError(w, http.StatusForbidden, "Rate Limit Exceeded", "", errItem{Domain: "usageLimits", Reason: "rateLimitExceeded"})
	case apiDrive:
		apiError(w, http.StatusForbidden, "User Rate Limit Exceeded", "", errItem{Domain: "usageLimits", Reason: "userRateLimitExceeded"})
	default:
		apiError(w, http.StatusTooManyRequests, "Resource has been exhausted (e.g. check quota).", "RESOURCE_EXHAUSTED",
			errItem{Domain: "global", Reason: "rateLimitExceeded"})
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	w.Header().Set("Vary", "Origin, X-Origin, Referer")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

// userinfo serves the OpenID Connect userinfo endpoint: the subject always,
// the email with the email scope, the names with the profile scope.
func (s *Server) userinfo(w http.ResponseWriter, _ *http.Request, c caller) {
	u := c.user
	o := map[string]any{"sub": u.Sub}
	if slices.Contains(c.scopes, scopeProfile) {
		if u.Name != "" {
			o["name"] = u.Name
			given, family, _ := strings.Cut(u.Name, " ")
			o["given_name"] = given
			if family != "" {
				o["family_name"] = family
			}
		}
		o["picture"] = "https://lh3.googleusercontent.com/a/FAKE-" + localPart(u.Email) + "=s96-c"
	}
	if slices.Contains(c.scopes, scopeEmail) {
		o["email"] = u.Email
		o["email_verified"] = true
		if _, domain, _ := strings.Cut(u.Email, "@"); domain != "gmail.com" && domain != "googlemail.com" {
			o["hd"] = domain // a Workspace account's hosted domain
		}
	}
	writeJSON(w, http.StatusOK, o)
}
