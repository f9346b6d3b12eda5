package google_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"testing"

	"github.com/tandembot/tandem/integrations/google"
	"golang.org/x/oauth2"
)

const testToken = "ya29.a0AfB_TESTTOKEN0123456789abcdefABCDEF0123456789"

// setup starts a Google-shaped server on loopback: mux answers the API
// paths (oauth2/v3/, calendar/v3/, drive/v3/) and /revoke and /token. It
// returns a provider pointed at it and an HTTP client carrying testToken.
func setup(t *testing.T) (p *google.Provider, client *http.Client, mux *http.ServeMux, serverURL string) {
	t.Helper()
	mux = http.NewServeMux()
	root := http.NewServeMux()
	for _, prefix := range []string{"/oauth2/v3/", "/calendar/v3/", "/drive/v3/"} {
		root.Handle(prefix, mux)
	}
	root.Handle("/revoke", mux)
	root.Handle("/token", mux)
	root.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		t.Errorf("request outside the API: %s %s", r.Method, r.URL)
		http.NotFound(w, r)
	})
	srv := httptest.NewServer(root)
	t.Cleanup(srv.Close)
	p = google.New(google.Config{
		ClientID: "123456789012-abc.apps.googleusercontent.com", ClientSecret: "GOCSPX-s3cret",
		APIURL: srv.URL + "/", TokenURL: srv.URL + "/token", RevokeURL: srv.URL + "/revoke",
	})
	client = oauth2.NewClient(context.Background(), oauth2.StaticTokenSource(&oauth2.Token{AccessToken: testToken, TokenType: "Bearer"}))
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

// apiQuery adds what google.golang.org/api sends on every call.
func apiQuery(v url.Values) url.Values {
	v.Set("alt", "json")
	v.Set("prettyPrint", "false")
	return v
}

// serveFile answers with testdata/name.
func serveFile(t *testing.T, w http.ResponseWriter, status int, name string) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	if filepath.Ext(name) == ".json" {
		w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	} else {
		w.Header().Set("Content-Type", "text/html; charset=UTF-8")
	}
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// noRequests fails the test on any request to mux's API paths.
func noRequests(t *testing.T, mux *http.ServeMux) {
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		t.Errorf("unexpected request %s %s", r.Method, r.URL)
	})
}
