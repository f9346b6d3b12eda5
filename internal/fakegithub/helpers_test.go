package fakegithub_test

import (
	"context"
	"net/url"
	"testing"

	gh "github.com/google/go-github/v62/github"
	"github.com/tandembot/tandem/internal/fakegithub"
	"github.com/tandembot/tandem/internal/fakeoauth/oauthtest"
	"golang.org/x/oauth2"
)

const callback = "http://127.0.0.1:9/oauth/github/callback"

var people = []fakegithub.User{
	{Login: "alice", ID: 1001, Name: "Alice Liddell", Email: "alice@example.com"},
	{Login: "bob", ID: 1002, Name: "Bob Marley"},
}

// start runs a fake with the test users and the registered callback.
func start(t *testing.T, opts fakegithub.Options) *fakegithub.Server {
	t.Helper()
	if opts.Users == nil && !opts.DemoData {
		opts.Users = people
	}
	if opts.RedirectURL == "" {
		opts.RedirectURL = callback
	}
	return oauthtest.Start(t, fakegithub.New(opts))
}

func config(s *fakegithub.Server) *oauth2.Config {
	return &oauth2.Config{
		ClientID:     s.ClientID(),
		ClientSecret: s.ClientSecret(),
		RedirectURL:  callback,
		Scopes:       []string{"repo", "read:user"},
		Endpoint:     oauth2.Endpoint{AuthURL: s.AuthURL(), TokenURL: s.TokenURL(), AuthStyle: oauth2.AuthStyleInParams},
	}
}

// noRedirect is a client that shows redirects instead of following them.
var noRedirect = oauthtest.NoRedirect

// redirectOf requests u and returns the query of the 302 it must answer.
func redirectOf(t *testing.T, u string) url.Values {
	t.Helper()
	return oauthtest.RedirectOf(t, u)
}

// authorize runs the authorize step as login and returns the code.
func authorize(t *testing.T, cfg *oauth2.Config, login, verifier string) string {
	t.Helper()
	return oauthtest.Authorize(t, cfg, login, verifier)
}

// link runs the whole code flow with PKCE as login.
func link(t *testing.T, s *fakegithub.Server, login string) *oauth2.Token {
	t.Helper()
	return oauthtest.Link(t, config(s), login)
}

// client returns go-github acting with tok against the fake.
func client(t *testing.T, s *fakegithub.Server, tok *oauth2.Token) *gh.Client {
	t.Helper()
	c, err := gh.NewClient(oauth2.NewClient(context.Background(), oauth2.StaticTokenSource(tok))).WithEnterpriseURLs(s.APIURL(), s.APIURL())
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// mint returns go-github acting as login with a token minted directly.
func mint(t *testing.T, s *fakegithub.Server, login string, scopes ...string) *gh.Client {
	t.Helper()
	tok, err := s.MintToken(login, scopes...)
	if err != nil {
		t.Fatal(err)
	}
	return client(t, s, tok)
}

func status(t *testing.T, resp *gh.Response) int {
	t.Helper()
	if resp == nil {
		t.Fatal("no response")
	}
	return resp.StatusCode
}
