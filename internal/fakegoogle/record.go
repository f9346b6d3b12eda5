package fakegoogle

import "time"

// Fault injection and what the fake recorded.

// SetRateLimited makes every API call by login (an email) fail until reset
// as Google's per-user limits do: Calendar answers 403 rateLimitExceeded,
// Drive 403 userRateLimitExceeded, userinfo 429 RESOURCE_EXHAUSTED. Google
// names no reset time, so neither does the fake. A zero reset lifts the
// limit.
func (s *Server) SetRateLimited(login string, reset time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if reset.IsZero() {
		delete(s.limited, key(login))
		return
	}
	s.limited[key(login)] = reset
}

// SetAutoConsent changes Options.AutoConsent; "" shows the consent page
// again.
func (s *Server) SetAutoConsent(login string) { s.stats.SetAutoConsent(login) }

// Requests returns a copy of every API request so far, oldest first.
func (s *Server) Requests() []Request { return s.requests.All() }

// RefreshCount returns how many times login's tokens were refreshed.
func (s *Server) RefreshCount(login string) int { return s.stats.RefreshCount(login) }

// TokenRequests returns how many requests reached the token endpoint,
// failed ones included.
func (s *Server) TokenRequests() int { return s.stats.TokenRequests() }

// PKCEUsed reports whether at least one authorization code was issued and
// every code issued carried an S256 code challenge. Google also accepts
// the "plain" method, which does not count.
func (s *Server) PKCEUsed() bool { return s.stats.PKCEUsed() }
