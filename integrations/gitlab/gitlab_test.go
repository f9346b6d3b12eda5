package gitlab_test

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
	"github.com/tandembot/tandem/integrations/gitlab"
	"golang.org/x/oauth2"
)

const testToken = "gloas-TESTTOKEN0123456789abcdefABCDEF0123456789abcdef0123456789ab"

// setup starts a GitLab-shaped API on loopback: mux answers the paths
// under /api/v4. It returns a provider pointed at it and an HTTP client
// carrying testToken.
func setup(t *testing.T) (p *gitlab.Provider, client *http.Client, mux *http.ServeMux, serverURL string) {
	t.Helper()
	p, mux, _, serverURL = serve(t)
	client = oauth2.NewClient(context.Background(), oauth2.StaticTokenSource(&oauth2.Token{AccessToken: testToken, TokenType: "Bearer"}))
	return p, client, mux, serverURL
}

// setupOAuth is setup for the OAuth endpoints: web answers /oauth/....
func setupOAuth(t *testing.T) (p *gitlab.Provider, web *http.ServeMux) {
	t.Helper()
	p, _, web, _ = serve(t)
	return p, web
}

func serve(t *testing.T) (p *gitlab.Provider, api, web *http.ServeMux, serverURL string) {
	t.Helper()
	api, web = http.NewServeMux(), http.NewServeMux()
	root := http.NewServeMux()
	root.Handle("/api/v4/", http.StripPrefix("/api/v4", api))
	root.Handle("/oauth/", web)
	root.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		t.Errorf("request outside the API base: %s %s", r.Method, r.URL)
		http.NotFound(w, r)
	})
	srv := httptest.NewServer(root)
	t.Cleanup(srv.Close)
	cfg, err := gitlab.ConfigFromBase(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	cfg.ClientID, cfg.ClientSecret = "d6f1c0ffee", "gloas-s3cret"
	return gitlab.New(cfg), api, web, srv.URL
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

// testAuth checks that the request carries the token as a bearer token and
// nothing else client-go could add.
func testAuth(t *testing.T, r *http.Request) {
	t.Helper()
	testHeader(t, r, "Authorization", "Bearer "+testToken)
	if v, ok := r.Header["Private-Token"]; ok {
		t.Errorf("request carries a PRIVATE-TOKEN header %q", v)
	}
}

// testPath checks the escaped path: GitLab wants project paths URL-encoded
// into one segment.
func testPath(t *testing.T, r *http.Request, want string) {
	t.Helper()
	if got := r.URL.EscapedPath(); got != want {
		t.Errorf("path %s, want %s", got, want)
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

// testBody checks the JSON body.
func testBody(t *testing.T, r *http.Request, want map[string]any) {
	t.Helper()
	testHeader(t, r, "Content-Type", "application/json")
	b, _ := io.ReadAll(r.Body)
	var got map[string]any
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatalf("body %q: %v", b, err)
	}
	if diff := cmp.Diff(got, want); diff != "" {
		t.Errorf("body (-got +want):\n%s", diff)
	}
}

// serveFile answers with testdata/name.
func serveFile(t *testing.T, w http.ResponseWriter, status int, name string) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	switch filepath.Ext(name) {
	case ".json":
		w.Header().Set("Content-Type", "application/json")
	case ".html":
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
	default:
		w.Header().Set("Content-Type", "text/plain")
	}
	w.WriteHeader(status)
	_, _ = w.Write(b)
}
