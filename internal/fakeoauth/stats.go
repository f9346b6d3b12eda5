package fakeoauth

import "sync"

// Stats is the OAuth bookkeeping every fake exposes to tests: the token
// endpoint's request count, refreshes per account, the share of codes
// issued with an S256 challenge, and the AutoConsent login. It has its own
// lock, so a provider may use it while holding its own. The zero value is
// not ready: use NewStats.
type Stats struct {
	key func(string) string

	mu      sync.Mutex
	tokReqs int
	refresh map[string]int
	codes   int
	s256    int
	consent string
}

// NewStats returns Stats that fold logins with key and start with
// consent as the AutoConsent login.
func NewStats(key func(string) string, consent string) *Stats {
	return &Stats{key: key, refresh: map[string]int{}, consent: consent}
}

// TokenRequest counts one request to the token endpoint.
func (st *Stats) TokenRequest() {
	st.mu.Lock()
	defer st.mu.Unlock()
	st.tokReqs++
}

// Refreshed counts one refresh of login's tokens.
func (st *Stats) Refreshed(login string) {
	st.mu.Lock()
	defer st.mu.Unlock()
	st.refresh[st.key(login)]++
}

// CodeIssued counts one authorization code; s256 tells whether it carried
// an S256 code challenge.
func (st *Stats) CodeIssued(s256 bool) {
	st.mu.Lock()
	defer st.mu.Unlock()
	st.codes++
	if s256 {
		st.s256++
	}
}

// AutoConsent returns the login that approves authorizations without the
// consent page, "" for none.
func (st *Stats) AutoConsent() string {
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.consent
}

// SetAutoConsent changes the AutoConsent login.
func (st *Stats) SetAutoConsent(login string) {
	st.mu.Lock()
	defer st.mu.Unlock()
	st.consent = login
}

// RefreshCount returns how many times login's tokens were refreshed.
func (st *Stats) RefreshCount(login string) int {
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.refresh[st.key(login)]
}

// TokenRequests returns how many requests reached the token endpoint.
func (st *Stats) TokenRequests() int {
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.tokReqs
}

// PKCEUsed reports whether at least one code was issued and every one
// carried an S256 challenge.
func (st *Stats) PKCEUsed() bool {
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.codes > 0 && st.s256 == st.codes
}

// Log is an append-only record that tests read back, safe for concurrent
// use; the zero value is empty and ready.
type Log[T any] struct {
	mu    sync.Mutex
	items []T
}

// Add appends v and returns how many items the log now holds.
func (l *Log[T]) Add(v T) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.items = append(l.items, v)
	return len(l.items)
}

// All returns a copy of everything added, oldest first.
func (l *Log[T]) All() []T {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]T(nil), l.items...)
}
