package jira_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/tandembot/tandem/integrations/jira"
	"golang.org/x/oauth2"
)

const (
	testToken = "eyJraWQiOiJmYWtlLWtpZCIsImFsZyI6IlJTMjU2In0.TESTTOKEN0123456789abcdef.sig"
	testSite  = "1324a887-45db-1bf4-1e99-ef0ff456d421" // acme, first in accessible_resources.json
	labsSite  = "7b3e1d5c-9a40-4f2b-8c61-d0e2f4a7b913"
	// base is the REST v3 path of testSite through the gateway.
	base = "/ex/jira/" + testSite + "/rest/api/3"
)

// setup starts an api.atlassian.com-shaped gateway on loopback: mux
// answers its paths, and any request no test handles fails the test. It
// returns a provider pointed at it and an HTTP client carrying testToken.
func setup(t *testing.T) (p *jira.Provider, client *http.Client, mux *http.ServeMux, serverURL string) {
	t.Helper()
	mux = http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		t.Errorf("unexpected request: %s %s", r.Method, r.URL)
		http.NotFound(w, r)
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	p = jira.New(jira.Config{ClientID: "testclient", ClientSecret: "s3cret", APIURL: srv.URL + "/"})
	client = oauth2.NewClient(context.Background(), oauth2.StaticTokenSource(&oauth2.Token{AccessToken: testToken, TokenType: "Bearer"}))
	return p, client, mux, srv.URL
}

// serveSites answers accessible-resources with testdata and returns how
// many times it was asked.
func serveSites(t *testing.T, mux *http.ServeMux) *int {
	t.Helper()
	n := new(int)
	mux.HandleFunc("/oauth/token/accessible-resources", func(w http.ResponseWriter, r *http.Request) {
		*n++
		testMethod(t, r, "GET")
		testHeader(t, r, "Authorization", "Bearer "+testToken)
		testQuery(t, r, url.Values{})
		serveFile(t, w, http.StatusOK, "accessible_resources.json")
	})
	return n
}

// serveMyself answers GET /myself on testSite.
func serveMyself(t *testing.T, mux *http.ServeMux) {
	t.Helper()
	mux.HandleFunc(base+"/myself", func(w http.ResponseWriter, r *http.Request) {
		testMethod(t, r, "GET")
		testHeader(t, r, "Authorization", "Bearer "+testToken)
		serveFile(t, w, http.StatusOK, "myself.json")
	})
}

func testMethod(t *testing.T, r *http.Request, want string) {
	t.Helper()
	if got := r.Method; got != want {
		t.Errorf("request method %s, want %s", got, want)
	}
}

func testHeader(t *testing.T, r *http.Request, header, want string) {
	t.Helper()
	if got := r.Header.Get(header); got != want {
		t.Errorf("header %s %q, want %q", header, got, want)
	}
}

func testQuery(t *testing.T, r *http.Request, want url.Values) {
	t.Helper()
	got := r.URL.Query()
	for k := range want {
		if got.Get(k) != want.Get(k) {
			t.Errorf("query %s=%q, want %q", k, got.Get(k), want.Get(k))
		}
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			t.Errorf("unexpected query %s=%q", k, got.Get(k))
		}
	}
}

// testBody compares the request's JSON body with want, as JSON.
func testBody(t *testing.T, r *http.Request, want string) {
	t.Helper()
	testHeader(t, r, "Content-Type", "application/json")
	b, err := io.ReadAll(r.Body)
	if err != nil {
		t.Fatal(err)
	}
	var got, w any
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatalf("body %q: %v", b, err)
	}
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatalf("want %q: %v", want, err)
	}
	if diff := cmp.Diff(got, w); diff != "" {
		t.Errorf("request body (-got +want):\n%s", diff)
	}
}

// serveFile answers with testdata/name.
func serveFile(t *testing.T, w http.ResponseWriter, status int, name string) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	if filepath.Ext(name) == ".json" {
		w.Header().Set("Content-Type", "application/json;charset=UTF-8")
	} else {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
	}
	w.WriteHeader(status)
	_, _ = w.Write(b)
}
