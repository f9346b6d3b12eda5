package github_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/tandembot/tandem/integrations/github"
	"golang.org/x/oauth2"
)

const testToken = "gho_TESTTOKEN0123456789abcdefABCDEF012345"

// setup starts a GitHub Enterprise-shaped API on loopback: mux answers the
// paths under /api/v3. It returns a provider pointed at it and an HTTP
// client carrying testToken.
func setup(t *testing.T) (p *github.Provider, client *http.Client, mux *http.ServeMux, serverURL string) {
	t.Helper()
	mux = http.NewServeMux()
	root := http.NewServeMux()
	root.Handle("/api/v3/", http.StripPrefix("/api/v3", mux))
	root.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		t.Errorf("request outside the API base: %s %s", r.Method, r.URL)
		http.NotFound(w, r)
	})
	srv := httptest.NewServer(root)
	t.Cleanup(srv.Close)
	p = github.New(github.Config{ClientID: "Iv1.testclient", ClientSecret: "s3cret", APIURL: srv.URL + "/api/v3/"})
	client = oauth2.NewClient(context.Background(), oauth2.StaticTokenSource(&oauth2.Token{AccessToken: testToken, TokenType: "bearer"}))
	return p, client, mux, srv.URL
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

// serveFile answers with testdata/name.
func serveFile(t *testing.T, w http.ResponseWriter, status int, name string) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	if filepath.Ext(name) == ".json" {
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
	} else {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
	}
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// serveEdited answers with testdata/name, a JSON object, after edit changed
// it.
func serveEdited(t *testing.T, w http.ResponseWriter, status int, name string, edit func(map[string]any)) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	var o map[string]any
	if err := json.Unmarshal(b, &o); err != nil {
		t.Fatal(err)
	}
	edit(o)
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(o)
}

// testBody checks that r's body is the JSON object want, field for field.
func testBody(t *testing.T, r *http.Request, want map[string]any) {
	t.Helper()
	var got map[string]any
	if err := json.NewDecoder(r.Body).Decode(&got); err != nil {
		t.Fatalf("request body: %v", err)
	}
	if diff := cmp.Diff(got, want); diff != "" {
		t.Errorf("request body (-got +want):\n%s", diff)
	}
}

// noRequests fails the test on any API request.
func noRequests(t *testing.T, mux *http.ServeMux) {
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		t.Errorf("unexpected request %s %s", r.Method, r.URL)
		http.NotFound(w, r)
	})
}
