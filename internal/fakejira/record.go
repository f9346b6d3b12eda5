package fakejira

import "time"

// Fault injection and what the fake recorded.

// SetRateLimited makes every API call by login answer 429 until reset,
// with Retry-After and X-RateLimit-Reset, as Jira Cloud does over its
// limits. A zero reset lifts the limit.
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

// CreatedIssues returns every issue created through the API, oldest first.
func (s *Server) CreatedIssues() []CreatedIssue {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]CreatedIssue(nil), s.created...)
}

// Comments returns every comment made through the API, oldest first.
func (s *Server) Comments() []Comment {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Comment(nil), s.comments...)
}

// Transitions returns every transition made through the API, oldest first.
func (s *Server) Transitions() []Transition {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Transition(nil), s.transitions...)
}

// RefreshCount returns how many times login's tokens were refreshed.
func (s *Server) RefreshCount(login string) int { return s.stats.RefreshCount(login) }

// TokenRequests returns how many requests reached the token endpoint,
// failed ones included.
func (s *Server) TokenRequests() int { return s.stats.TokenRequests() }

// PKCEUsed reports whether at least one authorization code was issued and
// every code issued carried an S256 code challenge.
func (s *Server) PKCEUsed() bool { return s.stats.PKCEUsed() }
