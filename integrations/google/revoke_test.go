package google_test

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"testing"

	"github.com/tandembot/tandem"
	"github.com/tandembot/tandem/integrations/providertest"
	"golang.org/x/oauth2"
)

func TestRevoke(t *testing.T) {
	tests := []struct {
		name string
		tok  tandem.Token
		want string // the token sent
	}{
		{"refresh token first", tandem.Token{AccessToken: testToken, RefreshToken: "1//0gREFRESH"}, "1//0gREFRESH"},
		{"access token alone", tandem.Token{AccessToken: testToken}, testToken},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, _, mux, _ := setup(t)
			called := false
			mux.HandleFunc("/revoke", func(w http.ResponseWriter, r *http.Request) {
				called = true
				testMethod(t, r, "POST")
				testHeader(t, r, "Content-Type", "application/x-www-form-urlencoded")
				testHeader(t, r, "Authorization", "")
				testQuery(t, r, url.Values{}) // never in the URL
				b, _ := io.ReadAll(r.Body)
				form, err := url.ParseQuery(string(b))
				if err != nil || len(form) != 1 || form.Get("token") != tt.want {
					t.Errorf("body %q, want token=%s only", b, tt.want)
				}
				w.Header().Set("Content-Type", "application/json; charset=utf-8")
				_, _ = w.Write([]byte("{}"))
			})
			if err := p.Revoke(context.Background(), tt.tok); err != nil {
				t.Fatal(err)
			}
			if !called {
				t.Error("the revoke endpoint was not called")
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
		{"already revoked", 400, "revoke_invalid_token.json", ""},
		{"bad request", 400, "revoke_invalid_request.json", tandem.EINTERNAL},
		{"outage", 503, "error_503.json", tandem.EUNAVAILABLE},
		{"front end", 502, "error_502.html", tandem.EUNAVAILABLE},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, _, mux, _ := setup(t)
			mux.HandleFunc("/revoke", func(w http.ResponseWriter, r *http.Request) {
				serveFile(t, w, tt.status, tt.file)
			})
			err := p.Revoke(context.Background(), tandem.Token{AccessToken: testToken, RefreshToken: "1//0gREFRESH"})
			if got := tandem.ErrorCode(err); got != tt.code {
				t.Errorf("code %q, want %q (%v)", got, tt.code, err)
			}
		})
	}
}

// Revoke uses the HTTP client x/oauth2 would: the one in ctx.
func TestRevokeUsesContextClient(t *testing.T) {
	p, _, mux, _ := setup(t)
	mux.HandleFunc("/revoke", func(w http.ResponseWriter, r *http.Request) {})
	used := false
	hc := &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		used = true
		return http.DefaultTransport.RoundTrip(r)
	})}
	ctx := context.WithValue(context.Background(), oauth2.HTTPClient, hc)
	if err := p.Revoke(ctx, tandem.Token{RefreshToken: "1//0gREFRESH"}); err != nil {
		t.Fatal(err)
	}
	if !used {
		t.Error("Revoke ignored the client in ctx")
	}
}

func TestRevokeEmptyToken(t *testing.T) {
	p, _, mux, _ := setup(t)
	noRequests(t, mux)
	if err := p.Revoke(context.Background(), tandem.Token{}); err != nil {
		t.Errorf("Revoke of no token: %v", err)
	}
}

// TestRevokeFollowsNoRedirectOffGoogle: a 307 to another host would repeat
// the form with the token; it is not followed.
func TestRevokeFollowsNoRedirectOffGoogle(t *testing.T) {
	away := providertest.NewElsewhere(t, http.StatusOK, "{}")
	p, _, mux, _ := setup(t)
	mux.HandleFunc("/revoke", away.Redirect)
	if err := p.Revoke(context.Background(), tandem.Token{AccessToken: testToken}); err == nil {
		t.Error("a revoke answered with a redirect off Google succeeded")
	}
	away.WantNothing(t)
}
