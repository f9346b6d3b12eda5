package slacksignin_test

import (
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/tandembot/tandem/integrations/providertest"
	"github.com/tandembot/tandem/integrations/slacksignin"
	"github.com/tandembot/tandem/internal/fakeslack"
)

const (
	clientID     = "1111.2222"
	clientSecret = "slack-FAKE-oidc-client-secret"
	redirect     = "http://127.0.0.1:1/oauth/slack/callback"
)

func setup(t *testing.T) (*fakeslack.Server, *slacksignin.Client) {
	t.Helper()
	sl := fakeslack.New(fakeslack.Options{
		TeamID: "T0ACME", TeamName: "Acme", Users: []fakeslack.User{{ID: "UBOB", Name: "bob"}, {ID: "UALICE", Name: "alice"}},
		OpenIDClientID: clientID, OpenIDClientSecret: clientSecret, OpenIDRedirectURLs: []string{redirect},
	})
	if err := sl.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sl.Close)
	return sl, &slacksignin.Client{ClientID: clientID, ClientSecret: clientSecret, AuthorizeURL: sl.OpenIDAuthorizeURL(), APIURL: sl.APIURL()}
}

// signIn is a browser signed in to Slack as user that opens the sign-in
// page and stops at the redirect back to Tandem, returning its query.
func signIn(t *testing.T, sl *fakeslack.Server, user, authURL string) url.Values {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	base, _ := url.Parse(sl.BaseURL())
	if user != "" {
		jar.SetCookies(base, []*http.Cookie{sl.SignInCookie(user)})
	}
	browser := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := browser.Get(authURL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound {
		return nil
	}
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil || !strings.HasPrefix(loc.String(), redirect+"?") {
		t.Fatalf("sign-in redirected to %q", resp.Header.Get("Location"))
	}
	return loc.Query()
}

func TestIdentify(t *testing.T) {
	sl, c := setup(t)
	back := signIn(t, sl, "UBOB", c.AuthURL("state-1", "nonce-1", redirect, "T0ACME"))
	if back.Get("state") != "state-1" || back.Get("code") == "" {
		t.Fatalf("Slack sent back %v", back)
	}
	team, user, err := c.Identify(t.Context(), back.Get("code"), redirect, "nonce-1")
	if err != nil || team != "T0ACME" || user != "UBOB" {
		t.Fatalf("Identify = %q, %q, %v; want T0ACME, UBOB", team, user, err)
	}
	if _, _, err := c.Identify(t.Context(), back.Get("code"), redirect, "nonce-1"); err == nil {
		t.Error("a code was accepted twice")
	}
	if got := sl.OpenIDStats(); got.CodesIssued != 1 || got.CodesExchanged != 1 {
		t.Errorf("stats %+v, want one code issued and exchanged", got)
	}
}

func TestIdentifyRefuses(t *testing.T) {
	sl, c := setup(t)
	tests := []struct {
		name  string
		setup func(c *slacksignin.Client) (redirectURI, nonce string)
	}{
		{"another nonce (a code from another sign-in)", func(*slacksignin.Client) (string, string) { return redirect, "nonce-other" }},
		{"wrong client secret", func(c *slacksignin.Client) (string, string) {
			c.ClientSecret = "slack-FAKE-wrong-secret"
			return redirect, "nonce-1"
		}},
		{"another redirect URI", func(*slacksignin.Client) (string, string) { return redirect + "x", "nonce-1" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cc := *c
			back := signIn(t, sl, "UALICE", cc.AuthURL("s", "nonce-1", redirect, ""))
			ru, nonce := tt.setup(&cc)
			if team, user, err := cc.Identify(t.Context(), back.Get("code"), ru, nonce); err == nil {
				t.Fatalf("Identify = %q, %q, nil; want an error", team, user)
			}
		})
	}
}

func TestNotSignedInStopsAtSlack(t *testing.T) {
	sl, c := setup(t)
	if back := signIn(t, sl, "", c.AuthURL("s", "n", redirect, "T0ACME")); back != nil {
		t.Fatalf("a browser not signed in to Slack was sent back with %v", back)
	}
	if got := sl.OpenIDStats(); got.AuthorizeVisits != 1 || got.CodesIssued != 0 {
		t.Errorf("stats %+v, want one visit and no code", got)
	}
}

func TestAuthURL(t *testing.T) {
	c := &slacksignin.Client{ClientID: clientID, AuthorizeURL: "https://slack.com/openid/connect/authorize"}
	u, err := url.Parse(c.AuthURL("st", "no", redirect, "T1"))
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	want := map[string]string{"response_type": "code", "scope": "openid", "client_id": clientID, "redirect_uri": redirect, "state": "st", "nonce": "no", "team": "T1"}
	for k, v := range want {
		if q.Get(k) != v {
			t.Errorf("%s = %q, want %q", k, q.Get(k), v)
		}
	}
	if u.Host != "slack.com" || u.Path != "/openid/connect/authorize" {
		t.Errorf("AuthURL points at %s%s", u.Host, u.Path)
	}
}

// TestIdentifyFollowsNoRedirectOffSlack: a token endpoint that answers
// with a 307 to another host (which would repeat the form, client secret
// included) is not followed: the other host gets nothing, and the
// sign-in fails.
func TestIdentifyFollowsNoRedirectOffSlack(t *testing.T) {
	away := providertest.NewElsewhere(t, http.StatusOK, `{"ok":false,"error":"invalid_code"}`)
	slackAPI := httptest.NewServer(http.HandlerFunc(away.Redirect))
	t.Cleanup(slackAPI.Close)
	c := &slacksignin.Client{ClientID: "123.456", ClientSecret: "slack-secret-never-elsewhere", AuthorizeURL: slackAPI.URL + "/openid/connect/authorize", APIURL: slackAPI.URL + "/api/"}
	if _, _, err := c.Identify(t.Context(), "code-1", "https://tandem.example/oauth/slack/callback", "nonce-1"); err == nil {
		t.Error("a sign-in whose token exchange was redirected off Slack succeeded")
	}
	away.WantNothing(t)
}
