// Package oauthtest holds the test helpers the fake OAuth providers'
// tests share: starting a fake, and running the authorization-code flow
// with PKCE through its login= shortcut.
package oauthtest

import (
	"context"
	"net/http"
	"net/url"
	"testing"

	"golang.org/x/oauth2"
)

// State is the state parameter Authorize sends and expects back.
const State = "st4te"

// Server is what Start needs of a fake.
type Server interface {
	Start() error
	Close()
}

// Start starts s and closes it when the test ends.
func Start[S Server](t testing.TB, s S) S {
	t.Helper()
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

// NoRedirect is a client that shows redirects instead of following them.
var NoRedirect = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

// RedirectOf requests u and returns the query of the 302 it must answer.
func RedirectOf(t testing.TB, u string) url.Values {
	t.Helper()
	resp, err := NoRedirect.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound {
		t.Fatalf("GET authorize: status %d, want 302", resp.StatusCode)
	}
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil {
		t.Fatal(err)
	}
	return loc.Query()
}

// Authorize runs the authorize step as login with an S256 challenge of
// verifier and returns the code; opts are extra authorize parameters.
func Authorize(t testing.TB, cfg *oauth2.Config, login, verifier string, opts ...oauth2.AuthCodeOption) string {
	t.Helper()
	opts = append(opts[:len(opts):len(opts)], oauth2.S256ChallengeOption(verifier), oauth2.SetAuthURLParam("login", login))
	q := RedirectOf(t, cfg.AuthCodeURL(State, opts...))
	if q.Get("state") != State || q.Get("code") == "" {
		t.Fatalf("callback query %v, want a code and state %s", q, State)
	}
	return q.Get("code")
}

// Link runs the whole code flow with PKCE as login and returns the token.
func Link(t testing.TB, cfg *oauth2.Config, login string, opts ...oauth2.AuthCodeOption) *oauth2.Token {
	t.Helper()
	v := oauth2.GenerateVerifier()
	tok, err := cfg.Exchange(context.Background(), Authorize(t, cfg, login, v, opts...), oauth2.VerifierOption(v))
	if err != nil {
		t.Fatalf("Exchange: %v", err)
	}
	return tok
}
