package fakejira

import (
	"fmt"
	"slices"
	"strings"

	"golang.org/x/oauth2"
)

// defaultScopes are what MintToken grants when given none: the classic
// Jira scopes Tandem asks for, without offline_access.
var defaultScopes = []string{"read:jira-user", "read:jira-work", "write:jira-work"}

// Revoked reports whether token was issued here and no longer works
// because the grant was revoked or, for a refresh token, because it was
// used once already. Expiry alone does not count as revocation.
func (s *Server) Revoked(token string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.tokens[token]
	return t != nil && t.revoked
}

// MintToken issues a token for login without the OAuth dance, granting
// scopes (when none: read:jira-user, read:jira-work and write:jira-work;
// add "offline_access" for a refresh token) on every site login can use, for tests that need a linked
// account. It returns an error when login is unknown.
func (s *Server) MintToken(login string, scopes ...string) (*oauth2.Token, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	u := s.users[key(login)]
	if u == nil {
		return nil, fmt.Errorf("fakejira: mint token: no user %q", login)
	}
	if len(scopes) == 0 {
		scopes = defaultScopes
	}
	g := s.grants[u.key()]
	if g == nil {
		g = &grant{}
		s.grants[u.key()] = g
	}
	for _, id := range u.Sites {
		if !slices.Contains(g.sites, id) {
			g.sites = append(g.sites, id)
		}
	}
	tr := s.issue(u.key(), splitScopes(strings.Join(scopes, " ")), s.now().Add(refreshMaxLifetime))
	return &oauth2.Token{
		AccessToken:  tr.AccessToken,
		TokenType:    tr.TokenType,
		RefreshToken: tr.RefreshToken,
		Expiry:       s.tokens[tr.AccessToken].expires,
	}, nil
}

// RevokeGrant ends every token login gave the app and forgets the sites
// granted, as when the user removes the app under "Connected apps" in
// their Atlassian account: 3LO offers apps no revocation endpoint.
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
