package google_test

import (
	"context"
	"net/http"
	"net/url"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/tandembot/tandem"
	"github.com/tandembot/tandem/integrations/google"
	"golang.org/x/oauth2"
)

func TestIdentify(t *testing.T) {
	p, client, mux, _ := setup(t)
	mux.HandleFunc("/oauth2/v3/userinfo", func(w http.ResponseWriter, r *http.Request) {
		testMethod(t, r, "GET")
		testHeader(t, r, "Authorization", "Bearer "+testToken)
		testQuery(t, r, url.Values{})
		serveFile(t, w, http.StatusOK, "userinfo.json")
	})
	got, err := p.Identify(context.Background(), client)
	if err != nil {
		t.Fatal(err)
	}
	want := tandem.Account{ID: "110248495921238986420", Login: "alice@acme.example", Name: "Alice Liddell"}
	if diff := cmp.Diff(got, want); diff != "" {
		t.Errorf("Identify (-got +want):\n%s", diff)
	}
}

// People act in Tandem under their Google email, so an unverified one is
// refused.
func TestIdentifyUnverifiedEmail(t *testing.T) {
	p, client, mux, _ := setup(t)
	mux.HandleFunc("/oauth2/v3/userinfo", func(w http.ResponseWriter, r *http.Request) {
		serveFile(t, w, http.StatusOK, "userinfo_unverified.json")
	})
	_, err := p.Identify(context.Background(), client)
	if tandem.ErrorCode(err) != tandem.EFORBIDDEN {
		t.Errorf("unverified email: %v, want EFORBIDDEN", err)
	}
}

func TestIdentifyWithoutEmail(t *testing.T) {
	p, client, mux, _ := setup(t)
	mux.HandleFunc("/oauth2/v3/userinfo", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"sub": "110248495921238986420"}`)) // the token lacks the email scope
	})
	_, err := p.Identify(context.Background(), client)
	if err == nil || tandem.ErrorCode(err) != tandem.EINTERNAL {
		t.Errorf("userinfo without email: %v, want an internal error", err)
	}
}

func TestConfigFromBase(t *testing.T) {
	tests := []struct {
		base string
		want google.Config
	}{
		{"", google.Defaults()},
		{"https://accounts.google.com", google.Defaults()},
		{"https://accounts.google.com/", google.Defaults()},
		{"http://127.0.0.1:8124/", google.Config{
			AuthURL:   "http://127.0.0.1:8124/o/oauth2/auth",
			TokenURL:  "http://127.0.0.1:8124/token",
			APIURL:    "http://127.0.0.1:8124/",
			RevokeURL: "http://127.0.0.1:8124/revoke",
		}},
	}
	for _, tt := range tests {
		got, err := google.ConfigFromBase(tt.base)
		if err != nil {
			t.Errorf("ConfigFromBase(%q): %v", tt.base, err)
			continue
		}
		if diff := cmp.Diff(got, tt.want); diff != "" {
			t.Errorf("ConfigFromBase(%q) (-got +want):\n%s", tt.base, diff)
		}
	}
	for _, bad := range []string{"google.example.com", "ftp://google.example.com", "https://", "https://g.example.com?x=1"} {
		if _, err := google.ConfigFromBase(bad); tandem.ErrorCode(err) != tandem.EINVALID {
			t.Errorf("ConfigFromBase(%q): %v, want EINVALID", bad, err)
		}
	}
}

func TestOAuth2Config(t *testing.T) {
	p := google.New(google.Config{ClientID: "id", ClientSecret: "secret"})
	got := p.OAuth2Config()
	want := oauth2.Config{
		ClientID:     "id",
		ClientSecret: "secret",
		Endpoint: oauth2.Endpoint{
			AuthURL:   "https://accounts.google.com/o/oauth2/auth",
			TokenURL:  "https://oauth2.googleapis.com/token",
			AuthStyle: oauth2.AuthStyleInParams,
		},
		Scopes: []string{"openid", "email", "profile",
			"https://www.googleapis.com/auth/calendar.readonly", "https://www.googleapis.com/auth/drive.readonly"},
	}
	if diff := cmp.Diff(got, want, cmpopts.IgnoreUnexported(oauth2.Config{})); diff != "" {
		t.Errorf("OAuth2Config (-got +want):\n%s", diff)
	}
	if p.ID() != tandem.Google {
		t.Errorf("ID %q", p.ID())
	}
	u, err := url.Parse(got.AuthCodeURL("st", p.AuthCodeOptions()...))
	if err != nil {
		t.Fatal(err)
	}
	if q := u.Query(); q.Get("access_type") != "offline" || q.Get("prompt") != "consent" {
		t.Errorf("authorize URL %s lacks access_type=offline and prompt=consent", u)
	}
}

// A Config without RevokeURL revokes at Google's endpoint.
func TestNewDefaults(t *testing.T) {
	p := google.New(google.Config{ClientID: "id"})
	var got string
	hc := &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		got = r.URL.String()
		return &http.Response{StatusCode: 200, Body: http.NoBody, Header: http.Header{}, Request: r}, nil
	})}
	ctx := context.WithValue(context.Background(), oauth2.HTTPClient, hc)
	if err := p.Revoke(ctx, tandem.Token{RefreshToken: "1//x"}); err != nil {
		t.Fatal(err)
	}
	if got != "https://oauth2.googleapis.com/revoke" {
		t.Errorf("revoked at %q", got)
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
