package gitlab_test

import (
	"context"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/tandembot/tandem"
	"github.com/tandembot/tandem/integrations/providertest"
	"golang.org/x/oauth2"
)

func TestRevoke(t *testing.T) {
	tests := []struct {
		name string
		tok  tandem.Token
		want url.Values
	}{
		{"access token", tandem.Token{AccessToken: testToken, RefreshToken: "glrt-x"}, url.Values{
			"client_id": {"d6f1c0ffee"}, "client_secret": {"gloas-s3cret"}, "token": {testToken}, "token_type_hint": {"access_token"},
		}},
		{"refresh token only", tandem.Token{RefreshToken: "glrt-x"}, url.Values{
			"client_id": {"d6f1c0ffee"}, "client_secret": {"gloas-s3cret"}, "token": {"glrt-x"}, "token_type_hint": {"refresh_token"},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, web := setupOAuth(t)
			called := false
			web.HandleFunc("/oauth/revoke", func(w http.ResponseWriter, r *http.Request) {
				called = true
				testMethod(t, r, "POST")
				testHeader(t, r, "Content-Type", "application/x-www-form-urlencoded")
				testHeader(t, r, "Authorization", "")
				if len(r.URL.RawQuery) != 0 {
					t.Errorf("query %q: the token belongs in the body", r.URL.RawQuery)
				}
				if err := r.ParseForm(); err != nil {
					t.Fatal(err)
				}
				if diff := cmp.Diff(r.PostForm, tt.want); diff != "" {
					t.Errorf("form (-got +want):\n%s", diff)
				}
				serveFile(t, w, http.StatusOK, "revoke_ok.json")
			})
			if err := p.Revoke(context.Background(), tt.tok); err != nil {
				t.Fatal(err)
			}
			if !called {
				t.Error("the revocation endpoint was not called")
			}
		})
	}
}

func TestRevokeResults(t *testing.T) {
	tests := []struct {
		name   string
		status int
		file   string
		code   string // "" for success
	}{
		{"unknown token", 200, "revoke_ok.json", ""},
		{"client refused", 401, "token_invalid_client.json", tandem.EINTERNAL},
		{"not this client's token", 403, "revoke_unauthorized_client.json", tandem.EINTERNAL},
		{"throttled", 429, "error_429.txt", tandem.ERATELIMITED},
		{"outage", 502, "error_502.html", tandem.EUNAVAILABLE},
		{"no such endpoint", 404, "error_404.json", tandem.EINTERNAL},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, web := setupOAuth(t)
			web.HandleFunc("/oauth/revoke", func(w http.ResponseWriter, r *http.Request) {
				serveFile(t, w, tt.status, tt.file)
			})
			err := p.Revoke(context.Background(), tandem.Token{AccessToken: testToken})
			if got := tandem.ErrorCode(err); got != tt.code {
				t.Errorf("code %q, want %q (%v)", got, tt.code, err)
			}
		})
	}
}

// Revoke uses the HTTP client that ctx carries, as x/oauth2 does.
func TestRevokeUsesContextClient(t *testing.T) {
	p, web := setupOAuth(t)
	web.HandleFunc("/oauth/revoke", func(w http.ResponseWriter, r *http.Request) {
		testHeader(t, r, "X-Via", "ctx-client")
		serveFile(t, w, http.StatusOK, "revoke_ok.json")
	})
	hc := &http.Client{Transport: headerTransport{"X-Via", "ctx-client"}, Timeout: 5 * time.Second}
	if err := p.Revoke(context.WithValue(context.Background(), oauth2.HTTPClient, hc), tandem.Token{AccessToken: testToken}); err != nil {
		t.Fatal(err)
	}
}

type headerTransport struct{ k, v string }

func (h headerTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set(h.k, h.v)
	return http.DefaultTransport.RoundTrip(r)
}

func TestRevokeEmptyToken(t *testing.T) {
	p, _ := setupOAuth(t) // any request would fail the test
	if err := p.Revoke(context.Background(), tandem.Token{}); err != nil {
		t.Errorf("Revoke of no token: %v", err)
	}
}

// TestRevokeFollowsNoRedirectOffGitLab: a 307 to another host would repeat
// the form, client secret and token included; it is not followed.
func TestRevokeFollowsNoRedirectOffGitLab(t *testing.T) {
	away := providertest.NewElsewhere(t, http.StatusOK, "{}")
	p, web := setupOAuth(t)
	web.HandleFunc("/oauth/revoke", away.Redirect)
	if err := p.Revoke(context.Background(), tandem.Token{AccessToken: testToken}); err == nil {
		t.Error("a revoke answered with a redirect off GitLab succeeded")
	}
	away.WantNothing(t)
}
