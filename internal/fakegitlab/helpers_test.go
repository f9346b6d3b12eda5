package fakegitlab_test

import (
	"net/url"
	"testing"

	"github.com/tandembot/tandem/internal/fakegitlab"
	"github.com/tandembot/tandem/internal/fakeoauth/oauthtest"
	gitlab "gitlab.com/gitlab-org/api/client-go"
	"golang.org/x/oauth2"
)

const callback = "http://127.0.0.1:9/oauth/gitlab/callback"

var people = []fakegitlab.User{
	{Login: "alice", ID: 2001, Name: "Alice Liddell", Email: "alice@example.com"},
	{Login: "bob", ID: 2002, Name: "Bob Marley"},
}

// start runs a fake with the test users and the registered callback.
func start(t *testing.T, opts fakegitlab.Options) *fakegitlab.Server {
	t.Helper()
	if opts.Users == nil && !opts.DemoData {
		opts.Users = people
	}
	if opts.RedirectURL == "" {
		opts.RedirectURL = callback
	}
	return oauthtest.Start(t, fakegitlab.New(opts))
}

func config(s *fakegitlab.Server) *oauth2.Config {
	return &oauth2.Config{
		ClientID:     s.ClientID(),
		ClientSecret: s.ClientSecret(),
		RedirectURL:  callback,
		Scopes:       []string{"api", "read_user"},
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
func link(t *testing.T, s *fakegitlab.Server, login string) *oauth2.Token {
	t.Helper()
	return oauthtest.Link(t, config(s), login)
}

// client returns client-go acting with tok against the fake.
func client(t *testing.T, s *fakegitlab.Server, tok *oauth2.Token) *gitlab.Client {
	t.Helper()
	c, err := gitlab.NewAuthSourceClient(gitlab.OAuthTokenSource{TokenSource: oauth2.StaticTokenSource(tok)},
		gitlab.WithBaseURL(s.APIURL()), gitlab.WithoutRetries())
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// mint returns client-go acting as login with a token minted directly.
func mint(t *testing.T, s *fakegitlab.Server, login string, scopes ...string) *gitlab.Client {
	t.Helper()
	tok, err := s.MintToken(login, scopes...)
	if err != nil {
		t.Fatal(err)
	}
	return client(t, s, tok)
}

func status(t *testing.T, resp *gitlab.Response) int {
	t.Helper()
	if resp == nil {
		t.Fatal("no response")
	}
	return resp.StatusCode
}
