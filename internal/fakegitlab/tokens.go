package fakegitlab

import (
	"fmt"
	"strings"

	"golang.org/x/oauth2"
)

// Revoked reports whether token, an access or a refresh token issued here,
// no longer works because it was revoked, rotated away by a refresh or
// revoked with its grant. Expiry alone does not count as revocation.
func (s *Server) Revoked(token string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.access[token]
	if t == nil {
		t = s.refresh[token]
	}
	return t != nil && t.revoked
}

// MintToken issues a token pair for login without the OAuth dance,
// granting scopes (the registered ones when none are given), for tests that
// need a linked account. It returns an error when login is unknown.
func (s *Server) MintToken(login string, scopes ...string) (*oauth2.Token, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.users[key(login)] == nil {
		return nil, fmt.Errorf("fakegitlab: mint token: no user %q", login)
	}
	sc := splitScopes(strings.Join(scopes, " "))
	if len(sc) == 0 {
		sc = splitScopes(strings.Join(s.opts.Scopes, " "))
	}
	t := s.issue(key(login), sc)
	return &oauth2.Token{AccessToken: t.value, TokenType: "Bearer", RefreshToken: t.refreshValue, Expiry: t.expires}, nil
}

// RevokeGrant revokes every token login granted the application, as when
// the user revokes it under Preferences > Applications.
func (s *Server) RevokeGrant(login string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, t := range s.access {
		if t.login == key(login) {
			t.revoked = true
		}
	}
}

// ExpireAccessTokens makes login's live access tokens expire now, so that
// the next API call answers 401 and a client must refresh. Refresh tokens
// stay usable, as on GitLab.
func (s *Server) ExpireAccessTokens(login string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	for _, t := range s.access {
		if t.login == key(login) && t.live(now) {
			t.expires = now
		}
	}
}
