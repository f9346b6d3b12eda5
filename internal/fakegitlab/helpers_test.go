package fakegitlab_test

import (
	"context"
	"net/http"
	"net/url"
	"testing"

	"github.com/tandembot/tandem/internal/fakegitlab"
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
	s := fakegitlab.New(opts)
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
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
var noRedirect = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

// redirectOf requests u and returns the query of the 302 it must answer.
func redirectOf(t *testing.T, u string) url.Values {
	t.Helper()
	resp, err := noRedirect.Get(u)
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

// authorize runs the authorize step as login and returns the code.
func authorize(t *testing.T, cfg *oauth2.Config, login, verifier string) string {
	t.Helper()
	q := redirectOf(t, cfg.AuthCodeURL("st4te", oauth2.S256ChallengeOption(verifier), oauth2.SetAuthURLParam("login", login)))
	if q.Get("state") != "st4te" || q.Get("code") == "" {
		t.Fatalf("callback query %v, want a code and state st4te", q)
	}
	return q.Get("code")
}

// link runs the whole code flow with PKCE as login.
func link(t *testing.T, s *fakegitlab.Server, login string) *oauth2.Token {
	t.Helper()
	cfg := config(s)
	v := oauth2.GenerateVerifier()
	tok, err := cfg.Exchange(context.Background(), authorize(t, cfg, login, v), oauth2.VerifierOption(v))
	if err != nil {
		t.Fatalf("Exchange: %v", err)
	}
	return tok
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
