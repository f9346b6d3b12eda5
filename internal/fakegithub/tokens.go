package fakegithub

import (
	"fmt"
	"strings"

	"golang.org/x/oauth2"
)

// Revoked reports whether token was issued here and no longer works
// because it was revoked, rotated away or dropped over the per-user cap.
// Expiry alone does not count as revocation.
func (s *Server) Revoked(token string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.tokens[token]
	return t != nil && t.revoked
}

// MintToken issues a token for login without the OAuth dance, granting
// scopes (ignored in Expiring mode), for tests that need a linked account.
// It returns an error when login is unknown.
func (s *Server) MintToken(login string, scopes ...string) (*oauth2.Token, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.users[key(login)] == nil {
		return nil, fmt.Errorf("fakegithub: mint token: no user %q", login)
	}
	tr := s.issue(key(login), splitScopes(strings.Join(scopes, " ")))
	tok := &oauth2.Token{AccessToken: tr.AccessToken, TokenType: tr.TokenType, RefreshToken: tr.RefreshToken}
	if t := s.tokens[tr.AccessToken]; !t.expires.IsZero() {
		tok.Expiry = t.expires
	}
	return tok, nil
}

// RevokeGrant revokes every token login granted the app, as when the user
// revokes it in their GitHub settings.
func (s *Server) RevokeGrant(login string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.revokeLogin(key(login))
}

// ExpireAccessTokens makes login's live access tokens expire now, so that
// the next API call answers 401 and a client must refresh.
func (s *Server) ExpireAccessTokens(login string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	for _, t := range s.tokens {
		if t.login == key(login) && t.kind == access && t.live(now) {
			t.expires = now
		}
	}
}
