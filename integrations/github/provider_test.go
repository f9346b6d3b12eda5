package github_test

import (
	"context"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/tandembot/tandem"
	"github.com/tandembot/tandem/integrations/github"
	"golang.org/x/oauth2"
)

func TestIdentify(t *testing.T) {
	p, client, mux, _ := setup(t)
	mux.HandleFunc("/user", func(w http.ResponseWriter, r *http.Request) {
		testMethod(t, r, "GET")
		testHeader(t, r, "Authorization", "Bearer "+testToken)
		testQuery(t, r, url.Values{})
		serveFile(t, w, http.StatusOK, "user.json")
	})
	got, err := p.Identify(context.Background(), client)
	if err != nil {
		t.Fatal(err)
	}
	want := tandem.Account{ID: "5821340", Login: "alice-hub", Name: "Alice Liddell"}
	if diff := cmp.Diff(got, want); diff != "" {
		t.Errorf("Identify (-got +want):\n%s", diff)
	}
}

func TestOpenPullRequests(t *testing.T) {
	p, client, mux, _ := setup(t)
	mux.HandleFunc("/search/issues", func(w http.ResponseWriter, r *http.Request) {
		testMethod(t, r, "GET")
		testHeader(t, r, "Authorization", "Bearer "+testToken)
		testQuery(t, r, url.Values{
			"q": {"is:pr is:open author:@me"}, "sort": {"updated"}, "order": {"desc"}, "per_page": {"10"},
		})
		serveFile(t, w, http.StatusOK, "search_issues.json")
	})
	prs, total, err := p.OpenPullRequests(context.Background(), client, "alice-hub", 10)
	if err != nil {
		t.Fatal(err)
	}
	want := []tandem.PullRequest{
		{Repo: "acme/widgets", Number: 482, Title: "Add retry to the widget client", URL: "https://github.com/acme/widgets/pull/482",
			UpdatedAt: time.Date(2025, 7, 3, 16, 40, 21, 0, time.UTC)},
		{Repo: "acme/gadgets", Number: 77, Title: "WIP: gadget metrics", URL: "https://github.com/acme/gadgets/pull/77", Draft: true,
			UpdatedAt: time.Date(2025, 7, 2, 8, 15, 9, 0, time.UTC)},
	}
	if diff := cmp.Diff(prs, want); diff != "" {
		t.Errorf("pull requests (-got +want):\n%s", diff)
	}
	if total != 3 {
		t.Errorf("total %d, want 3", total)
	}
}

func TestOpenPullRequestsLimit(t *testing.T) {
	p, client, mux, _ := setup(t)
	mux.HandleFunc("/search/issues", func(w http.ResponseWriter, r *http.Request) {
		testQuery(t, r, url.Values{"q": {"is:pr is:open author:@me"}, "sort": {"updated"}, "order": {"desc"}, "per_page": {"1"}})
		serveFile(t, w, http.StatusOK, "search_issues.json") // a server that ignores per_page
	})
	prs, total, err := p.OpenPullRequests(context.Background(), client, "alice-hub", 1)
	if err != nil {
		t.Fatal(err)
	}
	if len(prs) != 1 || prs[0].Number != 482 || total != 3 {
		t.Errorf("got %d pull requests (total %d), want #482 of 3", len(prs), total)
	}
}

func TestOpenPullRequestsPaginates(t *testing.T) {
	p, client, mux, serverURL := setup(t)
	var pages []string
	mux.HandleFunc("/search/issues", func(w http.ResponseWriter, r *http.Request) {
		page := r.URL.Query().Get("page")
		pages = append(pages, page)
		if r.URL.Query().Get("per_page") != "100" {
			t.Errorf("per_page %q, want 100", r.URL.Query().Get("per_page"))
		}
		n := 100
		if page == "2" {
			n = 30
		} else {
			next := *r.URL
			q := next.Query()
			q.Set("page", "2")
			next.RawQuery = q.Encode()
			w.Header().Set("Link", `<`+serverURL+"/api/v3"+next.String()+`>; rel="next"`)
		}
		w.Header().Set("Content-Type", "application/json")
		items := ""
		for i := range n {
			if i > 0 {
				items += ","
			}
			items += `{"number":1,"title":"t","repository_url":"https://api.github.com/repos/o/r","html_url":"https://github.com/o/r/pull/1","pull_request":{}}`
		}
		_, _ = w.Write([]byte(`{"total_count":130,"incomplete_results":false,"items":[` + items + `]}`))
	})
	prs, total, err := p.OpenPullRequests(context.Background(), client, "alice-hub", 120)
	if err != nil {
		t.Fatal(err)
	}
	if len(prs) != 120 || total != 130 {
		t.Errorf("got %d pull requests of %d, want 120 of 130", len(prs), total)
	}
	if diff := cmp.Diff(pages, []string{"", "2"}); diff != "" {
		t.Errorf("pages requested (-got +want):\n%s", diff)
	}
}

func TestOpenPullRequestsRejectsLogin(t *testing.T) {
	p, client, _, _ := setup(t) // any request would fail the test
	for _, login := range []string{"", "alice repo:acme/secret", "-alice", "alice\n", "a/b"} {
		_, _, err := p.OpenPullRequests(context.Background(), client, login, 5)
		if tandem.ErrorCode(err) != tandem.EINVALID {
			t.Errorf("login %q: %v, want EINVALID", login, err)
		}
	}
}

func TestConfigFromBase(t *testing.T) {
	tests := []struct {
		base string
		want github.Config
	}{
		{"", github.Defaults()},
		{"https://github.com", github.Defaults()},
		{"https://github.com/", github.Defaults()},
		{"https://ghe.example.com", github.Config{
			AuthURL:  "https://ghe.example.com/login/oauth/authorize",
			TokenURL: "https://ghe.example.com/login/oauth/access_token",
			APIURL:   "https://ghe.example.com/api/v3/",
		}},
		{"http://127.0.0.1:8123/", github.Config{
			AuthURL:  "http://127.0.0.1:8123/login/oauth/authorize",
			TokenURL: "http://127.0.0.1:8123/login/oauth/access_token",
			APIURL:   "http://127.0.0.1:8123/api/v3/",
		}},
	}
	for _, tt := range tests {
		got, err := github.ConfigFromBase(tt.base)
		if err != nil {
			t.Errorf("ConfigFromBase(%q): %v", tt.base, err)
			continue
		}
		if diff := cmp.Diff(got, tt.want); diff != "" {
			t.Errorf("ConfigFromBase(%q) (-got +want):\n%s", tt.base, diff)
		}
	}
	for _, bad := range []string{"ghe.example.com", "ftp://ghe.example.com", "https://", "https://ghe.example.com?x=1"} {
		if _, err := github.ConfigFromBase(bad); tandem.ErrorCode(err) != tandem.EINVALID {
			t.Errorf("ConfigFromBase(%q): %v, want EINVALID", bad, err)
		}
	}
}

func TestOAuth2Config(t *testing.T) {
	p := github.New(github.Config{ClientID: "id", ClientSecret: "secret"})
	got := p.OAuth2Config()
	want := oauth2.Config{
		ClientID:     "id",
		ClientSecret: "secret",
		Endpoint: oauth2.Endpoint{
			AuthURL:   "https://github.com/login/oauth/authorize",
			TokenURL:  "https://github.com/login/oauth/access_token",
			AuthStyle: oauth2.AuthStyleInParams,
		},
		Scopes: []string{"repo", "read:user"},
	}
	if diff := cmp.Diff(got, want, cmpopts.IgnoreUnexported(oauth2.Config{})); diff != "" {
		t.Errorf("OAuth2Config (-got +want):\n%s", diff)
	}
	if p.ID() != tandem.GitHub || p.AuthCodeOptions() != nil {
		t.Errorf("ID %q, AuthCodeOptions %v", p.ID(), p.AuthCodeOptions())
	}
}
