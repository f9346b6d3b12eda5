package fakegitlab

import "time"

// Fault injection and what the fake recorded.

// SetOutage makes every request, web and API, answer status (a 5xx, say)
// with GitLab's HTML error page; 0 ends the outage.
func (s *Server) SetOutage(status int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.outage = status
}

// SetLatency delays every response by d; 0 removes the delay. A request
// whose context ends first gets no answer.
func (s *Server) SetLatency(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.latency = d
}

// SetRateLimited makes every API call by login answer 429 "Retry later"
// with RateLimit-Reset and Retry-After until reset, as GitLab's throttle
// does. A zero reset lifts the limit.
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
func (s *Server) SetAutoConsent(login string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.consent = login
}

// Requests returns a copy of every API request so far, oldest first.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.requests...)
}

// Notes returns every note (comment) made through the API, oldest first.
func (s *Server) Notes() []Note {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Note(nil), s.notes...)
}

// CreatedIssues returns every issue opened through the API, oldest first.
// Seeded issues (AddIssue) are not among them.
func (s *Server) CreatedIssues() []CreatedIssue {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]CreatedIssue(nil), s.created...)
}

// RefreshCount returns how many times login's tokens were refreshed.
func (s *Server) RefreshCount(login string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.refreshs[key(login)]
}

// TokenRequests returns how many requests reached the token endpoint,
// failed ones included.
func (s *Server) TokenRequests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.tokReqs
}

// PKCEUsed reports whether at least one authorization code was issued and
// every code issued carried an S256 code challenge.
func (s *Server) PKCEUsed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.pkce.codes > 0 && s.pkce.withS256 == s.pkce.codes
}
