package fakegoogle_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/tandembot/tandem/internal/fakegoogle"
	"github.com/tandembot/tandem/internal/fakeoauth/oauthtest"
	"golang.org/x/oauth2"
	calendar "google.golang.org/api/calendar/v3"
	drive "google.golang.org/api/drive/v3"
	"google.golang.org/api/option"
)

const (
	callback = "http://127.0.0.1:9/oauth/google/callback"
	alice    = "alice@example.test"
	bob      = "bob@example.test"

	scopeCalendar = "https://www.googleapis.com/auth/calendar.readonly"
	scopeDrive    = "https://www.googleapis.com/auth/drive.readonly"
)

var allScopes = []string{"openid", "email", "profile", scopeCalendar, scopeDrive}

var people = []fakegoogle.User{
	{Email: alice, Sub: "110000000000000000001", Name: "Alice Liddell", TimeZone: "Europe/London"},
	{Email: bob, Name: "Bob Marley"},
}

// start runs a fake with the test users and the registered redirect URI.
func start(t *testing.T, opts fakegoogle.Options) *fakegoogle.Server {
	t.Helper()
	if opts.Users == nil && !opts.DemoData {
		opts.Users = people
	}
	if opts.RedirectURL == "" {
		opts.RedirectURL = callback
	}
	return oauthtest.Start(t, fakegoogle.New(opts))
}

func config(s *fakegoogle.Server) *oauth2.Config {
	return &oauth2.Config{
		ClientID:     s.ClientID(),
		ClientSecret: s.ClientSecret(),
		RedirectURL:  callback,
		Scopes:       allScopes,
		Endpoint:     oauth2.Endpoint{AuthURL: s.AuthURL(), TokenURL: s.TokenURL(), AuthStyle: oauth2.AuthStyleInParams},
	}
}

var offlineConsent = []oauth2.AuthCodeOption{oauth2.AccessTypeOffline, oauth2.SetAuthURLParam("prompt", "consent")}

// noRedirect is a client that shows redirects instead of following them.
var noRedirect = oauthtest.NoRedirect

// redirectOf requests u and returns the query of the 302 it must answer.
func redirectOf(t *testing.T, u string) url.Values {
	t.Helper()
	return oauthtest.RedirectOf(t, u)
}

// authorize runs the authorize step as login with PKCE and returns the
// code.
func authorize(t *testing.T, cfg *oauth2.Config, login, verifier string, opts ...oauth2.AuthCodeOption) string {
	t.Helper()
	return oauthtest.Authorize(t, cfg, login, verifier, opts...)
}

// link runs the whole code flow with PKCE as login; opts are extra
// authorize parameters (offlineConsent, say).
func link(t *testing.T, s *fakegoogle.Server, login string, opts ...oauth2.AuthCodeOption) *oauth2.Token {
	t.Helper()
	return oauthtest.Link(t, config(s), login, opts...)
}

func mint(t *testing.T, s *fakegoogle.Server, login string, scopes ...string) *oauth2.Token {
	t.Helper()
	tok, err := s.MintToken(login, scopes...)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func httpClient(tok *oauth2.Token) *http.Client {
	return oauth2.NewClient(context.Background(), oauth2.StaticTokenSource(tok))
}

// calendarService returns the real Calendar client acting with tok.
func calendarService(t *testing.T, s *fakegoogle.Server, tok *oauth2.Token) *calendar.Service {
	t.Helper()
	svc, err := calendar.NewService(context.Background(), option.WithHTTPClient(httpClient(tok)), option.WithEndpoint(s.APIURL()+"calendar/v3/"))
	if err != nil {
		t.Fatal(err)
	}
	return svc
}

// driveService returns the real Drive client acting with tok.
func driveService(t *testing.T, s *fakegoogle.Server, tok *oauth2.Token) *drive.Service {
	t.Helper()
	svc, err := drive.NewService(context.Background(), option.WithHTTPClient(httpClient(tok)), option.WithEndpoint(s.APIURL()+"drive/v3/"))
	if err != nil {
		t.Fatal(err)
	}
	return svc
}

// getJSON sends GET u with tok (nil: none) and decodes the JSON answer.
func getJSON(t *testing.T, tok *oauth2.Token, u string) (int, http.Header, map[string]any) {
	t.Helper()
	c := http.DefaultClient
	if tok != nil {
		c = httpClient(tok)
	}
	resp, err := c.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var m map[string]any
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatalf("GET %s: %v in %s", u, err, b)
		}
	}
	return resp.StatusCode, resp.Header, m
}

// postForm posts form to u and decodes the JSON answer.
func postForm(t *testing.T, u string, form url.Values) (int, map[string]any) {
	t.Helper()
	resp, err := http.PostForm(u, form)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&m)
	return resp.StatusCode, m
}
