package github_test

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"

	"github.com/tandembot/tandem"
	"github.com/tandembot/tandem/integrations/providertest"
)

func TestRevoke(t *testing.T) {
	p, _, mux, _ := setup(t)
	called := false
	mux.HandleFunc("/applications/Iv1.testclient/grant", func(w http.ResponseWriter, r *http.Request) {
		called = true
		testMethod(t, r, "DELETE")
		id, secret, ok := r.BasicAuth()
		if !ok || id != "Iv1.testclient" || secret != "s3cret" {
			t.Errorf("basic auth %q/%q (%v), want the client id and secret", id, secret, ok)
		}
		var body map[string]string
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
			t.Fatal(err)
		}
		if len(body) != 1 || body["access_token"] != testToken {
			t.Errorf("body %v, want the access token only", body)
		}
		w.WriteHeader(http.StatusNoContent)
	})
	if err := p.Revoke(context.Background(), tandem.Token{AccessToken: testToken, RefreshToken: "ghr_x"}); err != nil {
		t.Fatal(err)
	}
	if !called {
		t.Error("the grant endpoint was not called")
	}
}

func TestRevokeResults(t *testing.T) {
	tests := []struct {
		name   string
		status int
		file   string
		code   string // "" for success
	}{
		{"already revoked", 404, "error_404.json", ""},
		{"app credentials refused", 401, "error_401.json", tandem.EINTERNAL},
		{"outage", 500, "error_500.json", tandem.EUNAVAILABLE},
		{"validation", 422, "error_422.json", tandem.EINTERNAL},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, _, mux, _ := setup(t)
			mux.HandleFunc("/applications/Iv1.testclient/grant", func(w http.ResponseWriter, r *http.Request) {
				serveFile(t, w, tt.status, tt.file)
			})
			err := p.Revoke(context.Background(), tandem.Token{AccessToken: testToken})
			if got := tandem.ErrorCode(err); got != tt.code {
				t.Errorf("code %q, want %q (%v)", got, tt.code, err)
			}
		})
	}
}

func TestRevokeEmptyToken(t *testing.T) {
	p, _, _, _ := setup(t) // any request would fail the test
	if err := p.Revoke(context.Background(), tandem.Token{}); err != nil {
		t.Errorf("Revoke of no token: %v", err)
	}
}

// TestRevokeFollowsNoRedirectOffGitHub: a revoke answered with a redirect
// to another host sends the app's client id and secret (and the token in
// the body) nowhere else; the revoke fails.
func TestRevokeFollowsNoRedirectOffGitHub(t *testing.T) {
	away := providertest.NewElsewhere(t, http.StatusNoContent, "")
	p, _, mux, _ := setup(t)
	mux.HandleFunc("/applications/Iv1.testclient/grant", away.Redirect)
	if err := p.Revoke(context.Background(), tandem.Token{AccessToken: testToken}); err == nil {
		t.Error("a revoke answered with a redirect off GitHub succeeded")
	}
	away.WantNothing(t)
}
