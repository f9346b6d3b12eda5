package api_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// Every API answer, success or refusal, tells browsers not to sniff it.
func TestEveryAnswerSaysNosniff(t *testing.T) {
	srv, _ := newFuzzServer()
	h := srv.Handler()
	msg := `{"channel":"C0123ABCD","text":"help"}`
	tests := []struct {
		name        string
		method, url string
		auth, body  string
		status      int
	}{
		{"whoami", http.MethodGet, "/api/v1/whoami", "Bearer " + fuzzKey, "", http.StatusOK},
		{"a turn", http.MethodPost, "/api/v1/messages", "Bearer " + fuzzKey, msg, http.StatusOK},
		{"a bad body", http.MethodPost, "/api/v1/messages", "Bearer " + fuzzKey, "{", http.StatusBadRequest},
		{"no key", http.MethodPost, "/api/v1/messages", "", msg, http.StatusUnauthorized},
		{"unknown endpoint", http.MethodGet, "/api/v2/nothing", "", "", http.StatusNotFound},
		{"wrong method", http.MethodDelete, "/api/v1/whoami", "", "", http.StatusNotFound},
	}
	for _, tt := range tests {
		req := httptest.NewRequest(tt.method, tt.url, strings.NewReader(tt.body))
		req.Header.Set("Content-Type", "application/json")
		if tt.auth != "" {
			req.Header.Set("Authorization", tt.auth)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != tt.status {
			t.Errorf("%s: status %d, want %d: %s", tt.name, rec.Code, tt.status, rec.Body)
		}
		if got := rec.Header().Get("X-Content-Type-Options"); got != "nosniff" {
			t.Errorf("%s: X-Content-Type-Options %q, want nosniff", tt.name, got)
		}
	}
	// The slowdown's 429 too.
	last := 0
	for i := 0; i < 20; i++ {
		req := httptest.NewRequest(http.MethodGet, "/api/v1/whoami", nil)
		req.Header.Set("Authorization", "Bearer tdm_guess")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if got := rec.Header().Get("X-Content-Type-Options"); got != "nosniff" {
			t.Errorf("bad key %d (%d): X-Content-Type-Options %q, want nosniff", i, rec.Code, got)
		}
		last = rec.Code
	}
	if last != http.StatusTooManyRequests {
		t.Errorf("after 20 bad keys: %d, want 429", last)
	}
}
