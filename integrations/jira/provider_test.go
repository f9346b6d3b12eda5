package jira_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/tandembot/tandem"
	"github.com/tandembot/tandem/integrations/jira"
	"golang.org/x/oauth2"
)

func TestIdentify(t *testing.T) {
	p, client, mux, _ := setup(t)
	serveSites(t, mux)
	mux.HandleFunc(base+"/myself", func(w http.ResponseWriter, r *http.Request) {
		testMethod(t, r, "GET")
		testHeader(t, r, "Authorization", "Bearer "+testToken)
		testHeader(t, r, "Accept", "application/json")
		testQuery(t, r, url.Values{})
		serveFile(t, w, http.StatusOK, "myself.json")
	})
	got, err := p.Identify(context.Background(), client)
	if err != nil {
		t.Fatal(err)
	}
	want := tandem.Account{
		ID: "5b10a2844c20165700ede21g", Login: "alice@example.com", Name: "Alice Liddell",
		Sites: []tandem.Site{
			{ID: testSite, Name: "acme", URL: "https://acme.atlassian.net"},
			{ID: labsSite, Name: "acme-labs", URL: "https://acme-labs.atlassian.net"},
		}, // not the Confluence site granted alongside
	}
	if diff := cmp.Diff(got, want); diff != "" {
		t.Errorf("Identify (-got +want):\n%s", diff)
	}
}

func TestIdentifyWithoutJiraSite(t *testing.T) {
	for name, body := range map[string]string{
		"no site":         `[]`,
		"confluence only": `[{"id":"e5a0c2f9-61b8-4d37-a9e4-3c8b70f1d256","url":"https://acme-wiki.atlassian.net","name":"acme-wiki","scopes":["read:confluence-content.summary"],"avatarUrl":""}]`,
	} {
		t.Run(name, func(t *testing.T) {
			p, client, mux, _ := setup(t) // no /myself: it must not be asked
			mux.HandleFunc("/oauth/token/accessible-resources", func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				_, _ = w.Write([]byte(body))
			})
			_, err := p.Identify(context.Background(), client)
			if tandem.ErrorCode(err) != tandem.EFORBIDDEN || !strings.Contains(tandem.ErrorMessage(err), "no Jira site") {
				t.Errorf("Identify: %v, want EFORBIDDEN saying no Jira site", err)
			}
		})
	}
}

// A profile that hides its email still identifies, by accountId.
func TestIdentifyHiddenEmail(t *testing.T) {
	p, client, mux, _ := setup(t)
	serveSites(t, mux)
	mux.HandleFunc(base+"/myself", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"accountId":"5b10a2844c20165700ede21g","accountType":"atlassian","displayName":"Alice Liddell","active":true}`))
	})
	got, err := p.Identify(context.Background(), client)
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != "5b10a2844c20165700ede21g" || got.Login != got.ID || got.Name != "Alice Liddell" {
		t.Errorf("Identify = %+v", got)
	}
}

func TestConfigFromBase(t *testing.T) {
	tests := []struct {
		base string
		want jira.Config
	}{
		{"", jira.Defaults()},
		{"http://127.0.0.1:8124/", jira.Config{
			AuthURL:  "http://127.0.0.1:8124/authorize",
			TokenURL: "http://127.0.0.1:8124/oauth/token",
			APIURL:   "http://127.0.0.1:8124/",
		}},
	}
	for _, tt := range tests {
		got, err := jira.ConfigFromBase(tt.base)
		if err != nil {
			t.Errorf("ConfigFromBase(%q): %v", tt.base, err)
			continue
		}
		if diff := cmp.Diff(got, tt.want); diff != "" {
			t.Errorf("ConfigFromBase(%q) (-got +want):\n%s", tt.base, diff)
		}
	}
	for _, bad := range []string{"jira.example.com", "ftp://jira.example.com", "https://", "https://jira.example.com?x=1"} {
		if _, err := jira.ConfigFromBase(bad); tandem.ErrorCode(err) != tandem.EINVALID {
			t.Errorf("ConfigFromBase(%q): %v, want EINVALID", bad, err)
		}
	}
}

func TestOAuth2Config(t *testing.T) {
	p := jira.New(jira.Config{ClientID: "id", ClientSecret: "secret"})
	got := p.OAuth2Config()
	want := oauth2.Config{
		ClientID:     "id",
		ClientSecret: "secret",
		Endpoint: oauth2.Endpoint{
			AuthURL:   "https://auth.atlassian.com/authorize",
			TokenURL:  "https://auth.atlassian.com/oauth/token",
			AuthStyle: oauth2.AuthStyleInParams,
		},
		Scopes: []string{"read:jira-work", "write:jira-work", "read:jira-user", "offline_access"},
	}
	if diff := cmp.Diff(got, want, cmpopts.IgnoreUnexported(oauth2.Config{})); diff != "" {
		t.Errorf("OAuth2Config (-got +want):\n%s", diff)
	}
	if p.ID() != tandem.Jira {
		t.Errorf("ID %q", p.ID())
	}
	u, err := url.Parse(got.AuthCodeURL("st", p.AuthCodeOptions()...))
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	if q.Get("audience") != "api.atlassian.com" || q.Get("prompt") != "consent" || q.Get("response_type") != "code" ||
		q.Get("scope") != "read:jira-work write:jira-work read:jira-user offline_access" {
		t.Errorf("authorize URL %s", u)
	}
}

// Atlassian has no endpoint to revoke a 3LO grant, so Jira is no Revoker.
func TestNoRevoker(t *testing.T) {
	var p any = jira.New(jira.Config{})
	if _, ok := p.(tandem.Revoker); ok {
		t.Error("the Jira provider claims it can revoke grants")
	}
}
