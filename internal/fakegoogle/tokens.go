package fakegoogle

import (
	"fmt"
	"strings"

	"golang.org/x/oauth2"
)

// Revoked reports whether token was issued here and no longer works
// because its grant was revoked or it was dropped over the per-account cap
// of refresh tokens. Expiry alone does not count as revocation.
func (s *Server) Revoked(token string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.tokens[token]
	return t != nil && t.revoked
}

// MintToken grants scopes ("email" and "profile" expand as at the authorize
// endpoint) to login without the OAuth dance, and returns an access token
// with a refresh token, as a first offline consent gives, for tests that
// need a linked account. It returns an error when login is unknown or a
// scope is not one the fake knows.
func (s *Server) MintToken(login string, scopes ...string) (*oauth2.Token, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := key(login)
	if s.users[k] == nil {
		return nil, fmt.Errorf("fakegoogle: mint token: no user %q", login)
	}
	sc, unknown := normalizeScopes(strings.Join(scopes, " "))
	if len(unknown) > 0 {
		return nil, fmt.Errorf("fakegoogle: mint token: unknown scopes %q", unknown)
	}
	g := s.grants[k]
	if g == nil {
		g = &grant{}
		s.grants[k] = g
	}
	g.scopes = union(g.scopes, sc)
	tr := s.issue(k, sc, true)
	tok := &oauth2.Token{
		AccessToken:  tr.AccessToken,
		TokenType:    tr.TokenType,
		RefreshToken: tr.RefreshToken,
		Expiry:       s.tokens[tr.AccessToken].expires,
	}
	return tok.WithExtra(map[string]any{"scope": tr.Scope, "expires_in": tr.ExpiresIn}), nil
}

// RevokeGrant ends every token login granted the client, as when the user
// removes the app at myaccount.google.com/permissions.
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
