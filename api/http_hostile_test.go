package api_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// hostileCall serves one request and checks what every API answer must be:
// JSON with ok and, when not ok, a documented code; never a 5xx.
func hostileCall(t *testing.T, h http.Handler, req *http.Request) (*httptest.ResponseRecorder, apiEnvelope) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	var env apiEnvelope
	if err := json.Unmarshal(rec.Body.Bytes(), &env); err != nil || env.OK == nil {
		t.Fatalf("%s %s: answer is not JSON with ok (%v): %.200s", req.Method, req.URL.Path, err, rec.Body)
	}
	if rec.Code >= 500 {
		t.Fatalf("%s %s: status %d: %s", req.Method, req.URL.Path, rec.Code, rec.Body)
	}
	if !*env.OK && (env.Error == nil || !apiCodes[env.Error.Code]) {
		t.Fatalf("%s %s: undocumented error: %s", req.Method, req.URL.Path, rec.Body)
	}
	return rec, env
}

func TestMessagesHostileBodies(t *testing.T) {
	const mb = 1 << 20
	valid := `{"channel":"C0123ABCD","text":"help"}`
	tests := []struct {
		name    string
		body    string
		chunked bool
		status  int
	}{
		{"1 MB declared", `{"channel":"C0123ABCD","text":"` + strings.Repeat("a", mb) + `"}`, false, http.StatusRequestEntityTooLarge},
		{"1 MB chunked", `{"channel":"C0123ABCD","text":"` + strings.Repeat("a", mb) + `"}`, true, http.StatusBadRequest},
		{"1 MB of whitespace before the object, chunked", strings.Repeat(" ", mb) + valid, true, http.StatusBadRequest},
		{"1 MB of nesting, chunked", strings.Repeat("[", mb), true, http.StatusBadRequest},
		{"1 MB of NUL bytes", strings.Repeat("\x00", mb), false, http.StatusRequestEntityTooLarge},
		{"1 MB of NUL bytes, chunked", strings.Repeat("\x00", mb), true, http.StatusBadRequest},
		{"text of 1 MB of escapes, chunked", `{"channel":"C0123ABCD","text":"` + strings.Repeat(`\u0000`, mb/6) + `"}`, true, http.StatusBadRequest},
		{"just over the limit", `{"channel":"C0123ABCD","text":"` + strings.Repeat("a", 64<<10) + `"}`, false, http.StatusRequestEntityTooLarge},
		{"thousands of unknown fields", `{"channel":"C0123ABCD","text":"x"` + strings.Repeat(`,"a":1`, 5000) + `}`, false, http.StatusBadRequest},
	}
	for _, tt := range tests {
		srv, run := newFuzzServer()
		var rd io.Reader = strings.NewReader(tt.body)
		if tt.chunked {
			rd = struct{ io.Reader }{rd}
		}
		req := httptest.NewRequest(http.MethodPost, "/api/v1/messages", rd)
		if tt.chunked {
			req.ContentLength = -1
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+fuzzKey)
		rec, env := hostileCall(t, srv.Handler(), req)
		if rec.Code != tt.status || *env.OK {
			t.Errorf("%s: %d %.200s, want %d", tt.name, rec.Code, rec.Body, tt.status)
		}
		if len(run.calls) != 0 {
			t.Errorf("%s: ran a turn", tt.name)
		}
		if rec.Body.Len() > 1000 {
			t.Errorf("%s: a %d-byte answer (does it echo the body?)", tt.name, rec.Body.Len())
		}
	}
}

func TestAPIHostileRequests(t *testing.T) {
	srv, run := newFuzzServer()
	h := srv.Handler()
	for name, req := range map[string]*http.Request{
		"GET on messages":          httptest.NewRequest(http.MethodGet, "/api/v1/messages", nil),
		"PUT on messages":          httptest.NewRequest(http.MethodPut, "/api/v1/messages", strings.NewReader(`{}`)),
		"POST on whoami":           httptest.NewRequest(http.MethodPost, "/api/v1/whoami", nil),
		"unknown endpoint":         httptest.NewRequest(http.MethodGet, "/api/v2/messages", nil),
		"markup in the path":       httptest.NewRequest(http.MethodGet, "/api/%3Cscript%3Ealert(1)%3C/script%3E", nil),
		"very long path":           httptest.NewRequest(http.MethodGet, "/api/"+strings.Repeat("a", 1<<16), nil),
		"1 MB Authorization":       withHeader(httptest.NewRequest(http.MethodGet, "/api/v1/whoami", nil), "Authorization", "Bearer tdm_"+strings.Repeat("a", 1<<20)),
		"Authorization with NULs":  withHeader(httptest.NewRequest(http.MethodGet, "/api/v1/whoami", nil), "Authorization", "Bearer "+fuzzKey+"\x00"),
		"key prefix with no value": withHeader(httptest.NewRequest(http.MethodGet, "/api/v1/whoami", nil), "Authorization", "Bearer "),
	} {
		rec, env := hostileCall(t, h, req)
		if *env.OK || rec.Code < 400 {
			t.Errorf("%s: %d %.200s, want a refusal", name, rec.Code, rec.Body)
		}
		if strings.Contains(rec.Body.String(), "<script") {
			t.Errorf("%s: the answer echoes markup unescaped: %.200s", name, rec.Body)
		}
	}
	if len(run.calls) != 0 {
		t.Errorf("hostile requests ran %d turns", len(run.calls))
	}
}

func withHeader(r *http.Request, k, v string) *http.Request {
	r.Header.Set(k, v)
	return r
}

// TestBadKeysSlowDownWithoutFailing: a client that keeps presenting bad keys
// gets 401s, then 429 too_many_attempts with Retry-After, never a 5xx, and
// no turn runs.
func TestBadKeysSlowDownWithoutFailing(t *testing.T) {
	srv, run := newFuzzServer()
	h := srv.Handler()
	var last *httptest.ResponseRecorder
	var lastEnv apiEnvelope
	for i := 0; i < 15; i++ {
		req := httptest.NewRequest(http.MethodPost, "/api/v1/messages", bytes.NewReader([]byte(`{"channel":"C0123ABCD","text":"help"}`)))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer tdm_guess"+strings.Repeat("x", i))
		last, lastEnv = hostileCall(t, h, req)
	}
	if last.Code != http.StatusTooManyRequests || lastEnv.Error.Code != "too_many_attempts" || last.Header().Get("Retry-After") == "" {
		t.Errorf("after 15 bad keys: %d %s (Retry-After %q), want 429 too_many_attempts", last.Code, last.Body, last.Header().Get("Retry-After"))
	}
	if len(run.calls) != 0 {
		t.Errorf("bad keys ran %d turns", len(run.calls))
	}
}
