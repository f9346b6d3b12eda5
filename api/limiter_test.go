package api_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/tandembot/tandem/api"
)

// from serves one request to h from addr (host:port) with key ("" for no
// Authorization header) and returns the answer's status.
func from(h http.Handler, addr, key string) int {
	req := httptest.NewRequest(http.MethodPost, "/api/v1/messages", strings.NewReader(`{"channel":"C0123ABCD","text":"help"}`))
	req.RemoteAddr = addr
	req.Header.Set("Content-Type", "application/json")
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Code
}

// TestValidKeyIsNeverLockedOutByItsNeighbours: many people behind one
// address (an office NAT, a CI provider's egress): one of them guessing keys
// gets slowed down, the others' valid keys keep working, and the guesser
// stays slowed down.
func TestValidKeyIsNeverLockedOutByItsNeighbours(t *testing.T) {
	srv, run := newFuzzServer()
	h := srv.Handler()
	const nat = "198.51.100.7"
	last := 0
	for i := range 15 {
		last = from(h, fmt.Sprintf("%s:%d", nat, 40000+i), "tdm_guess_"+strings.Repeat("x", i+1))
	}
	if last != http.StatusTooManyRequests {
		t.Fatalf("the 15th bad key from one address: %d, want 429", last)
	}
	if got := from(h, nat+":50000", fuzzKey); got != http.StatusOK {
		t.Errorf("a valid key from the same address: %d, want 200", got)
	}
	if len(run.calls) != 1 {
		t.Errorf("%d turns ran, want the valid key's 1", len(run.calls))
	}
	if got := from(h, nat+":50001", "tdm_guess_again"); got != http.StatusTooManyRequests {
		t.Errorf("a bad key after the valid one: %d, want 429 still", got)
	}
	if got := from(h, nat+":50002", ""); got != http.StatusTooManyRequests {
		t.Errorf("no key after the valid one: %d, want 429 still", got)
	}
	if got := from(h, "192.0.2.1:40000", "tdm_guess_elsewhere"); got != http.StatusUnauthorized {
		t.Errorf("a bad key from another address: %d, want 401", got)
	}
}

// TestBadKeyMemoryIsBounded: floods of refused keys from 100,000 addresses,
// and of 100,000 distinct keys from one, leave the slowdown's memory within
// its bounds.
func TestBadKeyMemoryIsBounded(t *testing.T) {
	srv, _ := newFuzzServer()
	h := srv.Handler()
	const flood = 100_000
	for i := range flood {
		addr := fmt.Sprintf("[2001:db8::%x:%x]:443", i>>16, i&0xffff)
		if got := from(h, addr, ""); got != http.StatusUnauthorized {
			t.Fatalf("address %d: %d, want 401 (each address fails once)", i, got)
		}
	}
	if clients, _ := srv.Tracked("2001:db8::0:0"); clients > api.MaxTrackedClients {
		t.Errorf("%d addresses tracked after a flood from %d, want at most %d", clients, flood, api.MaxTrackedClients)
	}
	const one = "203.0.113.9"
	for i := range flood {
		from(h, one+":1234", fmt.Sprintf("tdm_guess_%d", i))
	}
	clients, times := srv.Tracked(one)
	if clients > api.MaxTrackedClients || times > api.FailsAllowed {
		t.Errorf("after %d bad keys from one address: %d addresses, %d failures of it tracked; want at most %d and %d", flood, clients, times, api.MaxTrackedClients, api.FailsAllowed)
	}
	if got := from(h, one+":1234", "tdm_guess_more"); got != http.StatusTooManyRequests {
		t.Errorf("the flooding address after its flood: %d, want 429", got)
	}
}
