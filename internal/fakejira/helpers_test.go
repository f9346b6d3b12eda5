package fakejira_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"testing"

	jira "github.com/andygrunwald/go-jira"
	"github.com/tandembot/tandem/internal/fakejira"
	"github.com/tandembot/tandem/internal/fakeoauth/oauthtest"
	"golang.org/x/oauth2"
)

const (
	callback = "http://127.0.0.1:9/oauth/jira/callback"
	siteA    = "a436116f-02ce-4520-8fbb-7301462a1674"
	siteB    = "9e1f0c1a-5d77-4c0b-b2b4-0c8e5fa1d2b3"
)

var people = []fakejira.User{
	{Email: "alice@example.test", Name: "Alice Liddell", Sites: []string{siteA, siteB}},
	{Email: "bob@example.test", Name: "Bob Marley", Sites: []string{siteA}},
}

// start runs a fake with sites A (acme, at https://acme.atlassian.net) and
// B (served by the fake), the test users and the registered callback.
func start(t *testing.T, opts fakejira.Options) *fakejira.Server {
	t.Helper()
	if opts.Sites == nil && !opts.DemoData {
		opts.Sites = []fakejira.Site{
			{CloudID: siteA, Name: "acme", URL: "https://acme.atlassian.net"},
			{CloudID: siteB, Name: "acme-labs"},
		}
	}
	if opts.Users == nil && !opts.DemoData {
		opts.Users = people
	}
	if opts.RedirectURL == "" {
		opts.RedirectURL = callback
	}
	return oauthtest.Start(t, fakejira.New(opts))
}

func config(s *fakejira.Server) *oauth2.Config {
	return &oauth2.Config{
		ClientID:     s.ClientID(),
		ClientSecret: s.ClientSecret(),
		RedirectURL:  callback,
		Scopes:       []string{"read:jira-work", "write:jira-work", "read:jira-user", "offline_access"},
		Endpoint:     oauth2.Endpoint{AuthURL: s.AuthURL(), TokenURL: s.TokenURL(), AuthStyle: oauth2.AuthStyleInParams},
	}
}

// threeLO are the authorize parameters Atlassian requires.
var threeLO = []oauth2.AuthCodeOption{
	oauth2.SetAuthURLParam("audience", "api.atlassian.com"),
	oauth2.SetAuthURLParam("prompt", "consent"),
}

// noRedirect is a client that shows redirects instead of following them.
var noRedirect = oauthtest.NoRedirect

// redirectOf requests u and returns the query of the 302 it must answer.
func redirectOf(t *testing.T, u string) url.Values {
	t.Helper()
	return oauthtest.RedirectOf(t, u)
}

// authorize runs the authorize step as login and returns the code.
func authorize(t *testing.T, cfg *oauth2.Config, login, verifier string, extra ...oauth2.AuthCodeOption) string {
	t.Helper()
	return oauthtest.Authorize(t, cfg, login, verifier, append(threeLO[:len(threeLO):len(threeLO)], extra...)...)
}

// link runs the whole 3LO flow with PKCE as login.
func link(t *testing.T, s *fakejira.Server, login string, extra ...oauth2.AuthCodeOption) *oauth2.Token {
	t.Helper()
	return oauthtest.Link(t, config(s), login, append(threeLO[:len(threeLO):len(threeLO)], extra...)...)
}

// client returns go-jira acting with tok on base, which is the gateway
// (APIURL) or a site's Jira (APIURL+"ex/jira/{cloudid}/").
func client(t *testing.T, tok *oauth2.Token, base string) *jira.Client {
	t.Helper()
	c, err := jira.NewClient(oauth2.NewClient(context.Background(), oauth2.StaticTokenSource(tok)), base)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func site(s *fakejira.Server, cloudID string) string { return s.APIURL() + "ex/jira/" + cloudID + "/" }

// mint returns go-jira acting as login on cloudID with a minted token.
func mint(t *testing.T, s *fakejira.Server, login, cloudID string, scopes ...string) *jira.Client {
	t.Helper()
	tok, err := s.MintToken(login, scopes...)
	if err != nil {
		t.Fatal(err)
	}
	return client(t, tok, site(s, cloudID))
}

// answer is one API response: its status, headers and body.
type answer struct {
	status int
	header http.Header
	body   []byte
}

func (a answer) decode(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(a.body, v); err != nil {
		t.Fatalf("decode %s: %v", a.body, err)
	}
}

// call sends method path (relative to c's base) with a JSON body and
// returns the answer, whatever its status.
func call(t *testing.T, c *jira.Client, method, path string, body any) answer {
	t.Helper()
	req, err := c.NewRequest(method, path, body)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := c.Do(req, nil)
	if resp == nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, rerr := io.ReadAll(resp.Body)
	if rerr != nil {
		t.Fatal(rerr)
	}
	return answer{resp.StatusCode, resp.Header, b}
}

// jiraErrors is Jira's error body.
type jiraErrors struct {
	ErrorMessages []string          `json:"errorMessages"`
	Errors        map[string]string `json:"errors"`
}

// gatewayErr is api.atlassian.com's own error body.
type gatewayErr struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
}

func retrieveError(t *testing.T, err error) *oauth2.RetrieveError {
	t.Helper()
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) {
		t.Fatalf("error %v, want *oauth2.RetrieveError", err)
	}
	return re
}

// adf is a one-paragraph Atlassian document.
func adf(text string) map[string]any {
	return map[string]any{"type": "doc", "version": 1, "content": []any{
		map[string]any{"type": "paragraph", "content": []any{map[string]any{"type": "text", "text": text}}},
	}}
}
