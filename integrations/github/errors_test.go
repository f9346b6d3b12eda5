package github_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	gh "github.com/google/go-github/v62/github"
	"github.com/tandembot/tandem"
	"github.com/tandembot/tandem/integrations/github"
	"github.com/tandembot/tandem/integrations/providertest"
	"golang.org/x/oauth2"
)

// calls are the provider calls every error case runs through.
var calls = map[string]func(*github.Provider, context.Context, *http.Client) error{
	"Identify": func(p *github.Provider, ctx context.Context, c *http.Client) error {
		_, err := p.Identify(ctx, c)
		return err
	},
	"OpenPullRequests": func(p *github.Provider, ctx context.Context, c *http.Client) error {
		_, _, err := p.OpenPullRequests(ctx, c, "alice-hub", 5)
		return err
	},
	"ReviewRequests": func(p *github.Provider, ctx context.Context, c *http.Client) error {
		_, _, err := p.ReviewRequests(ctx, c, "alice-hub", 5)
		return err
	},
	"OpenIssues": func(p *github.Provider, ctx context.Context, c *http.Client) error {
		_, _, err := p.OpenIssues(ctx, c, "", "alice-hub", 5)
		return err
	},
	"CreateIssue": func(p *github.Provider, ctx context.Context, c *http.Client) error {
		_, err := p.CreateIssue(ctx, c, "", tandem.NewIssue{Container: "acme/secret", Title: "t"})
		return err
	},
	"Comment": func(p *github.Provider, ctx context.Context, c *http.Client) error {
		_, err := p.Comment(ctx, c, "", "acme/secret#7", "hi")
		return err
	},
	"CommitFile": func(p *github.Provider, ctx context.Context, c *http.Client) error {
		_, err := p.CommitFile(ctx, c, tandem.FileCommit{Repo: "acme/secret", Path: "a.md", Message: "m", Content: []byte("x")})
		return err
	},
	"PullRequestStatus": func(p *github.Provider, ctx context.Context, c *http.Client) error {
		_, err := p.PullRequestStatus(ctx, c, "acme/secret", 7)
		return err
	},
}

// repoCalls are the calls on acme/secret, which GitHub hides from the
// account (404) or refuses it (403), and what each names.
var repoCalls = map[string]string{
	"CreateIssue":       "acme/secret",
	"Comment":           "acme/secret#7",
	"CommitFile":        "acme/secret",
	"PullRequestStatus": "acme/secret#7",
}

// Refusals name the GitHub account that asked (from GET /user) and what it
// asked for; when GET /user fails as well, "This GitHub account".
func TestRefusalNamesAccount(t *testing.T) {
	tests := []struct {
		status int
		file   string
		code   string
		msg    string // %s: the resource
		user   bool   // GET /user answers
	}{
		{404, "error_404.json", tandem.ENOTFOUND, "GitHub account alice-hub cannot see %s, or it does not exist.", true},
		{403, "error_403.json", tandem.EFORBIDDEN, "GitHub account alice-hub is not allowed to see or change %s.", true},
		{404, "error_404.json", tandem.ENOTFOUND, "This GitHub account cannot see %s, or it does not exist.", false},
	}
	for _, tt := range tests {
		for call, what := range repoCalls {
			t.Run(fmt.Sprintf("%d/%s/user=%v", tt.status, call, tt.user), func(t *testing.T) {
				p, client, mux, _ := setup(t)
				mux.HandleFunc("/repos/", func(w http.ResponseWriter, r *http.Request) {
					testHeader(t, r, "Authorization", "Bearer "+testToken)
					serveFile(t, w, tt.status, tt.file)
				})
				users := 0
				mux.HandleFunc("/user", func(w http.ResponseWriter, r *http.Request) {
					users++
					testHeader(t, r, "Authorization", "Bearer "+testToken)
					if tt.user {
						serveFile(t, w, http.StatusOK, "user.json")
					} else {
						serveFile(t, w, http.StatusBadGateway, "error_500.json")
					}
				})
				err := calls[call](p, context.Background(), client)
				if tandem.ErrorCode(err) != tt.code || tandem.ErrorMessage(err) != fmt.Sprintf(tt.msg, what) {
					t.Errorf("got %v (%q), want %s %q", err, tandem.ErrorMessage(err), tt.code, fmt.Sprintf(tt.msg, what))
				}
				if users != 1 {
					t.Errorf("GET /user %d times, want once", users)
				}
				if strings.Contains(err.Error(), testToken) {
					t.Error("the error shows the token")
				}
			})
		}
	}
}

// Other failures cost no extra request.
func TestOnlyRefusalsAskWhoami(t *testing.T) {
	for call := range repoCalls {
		p, client, mux, _ := setup(t)
		mux.HandleFunc("/repos/", func(w http.ResponseWriter, r *http.Request) { serveFile(t, w, 500, "error_500.json") })
		mux.HandleFunc("/user", func(w http.ResponseWriter, r *http.Request) { t.Errorf("%s: GET /user after a 500", call) })
		if err := calls[call](p, context.Background(), client); tandem.ErrorCode(err) != tandem.EUNAVAILABLE {
			t.Errorf("%s: %v, want EUNAVAILABLE", call, err)
		}
	}
}

func TestErrorMapping(t *testing.T) {
	reset := time.Date(2025, 7, 3, 17, 42, 0, 0, time.UTC)
	rateHeaders := map[string]string{
		"X-Ratelimit-Limit": "5000", "X-Ratelimit-Remaining": "0", "X-Ratelimit-Used": "5000",
		"X-Ratelimit-Reset": strconv.FormatInt(reset.Unix(), 10), "X-Ratelimit-Resource": "core",
	}
	tests := []struct {
		name     string
		status   int
		file     string
		headers  map[string]string
		code     string
		inMsg    string // the person-safe message contains it
		ghErrors bool   // errors.As finds *gh.ErrorResponse
	}{
		{"401 bad credentials", 401, "error_401.json", nil, tandem.EUNAUTHORIZED, "expired or were revoked", true},
		{"403 rate limit", 403, "error_rate_limit.json", rateHeaders, tandem.ERATELIMITED, "resets at 17:42 UTC", false},
		{"429 rate limit", 429, "error_rate_limit.json", rateHeaders, tandem.ERATELIMITED, "resets at 17:42 UTC", true},
		{"403 secondary rate limit", 403, "error_secondary_rate_limit.json", map[string]string{"Retry-After": "60"}, tandem.ERATELIMITED, "rate limit", false},
		{"403 forbidden", 403, "error_403.json", nil, tandem.EFORBIDDEN, "not allowed", true},
		{"404 not found", 404, "error_404.json", nil, tandem.ENOTFOUND, "This GitHub account cannot see", true},
		{"409 conflict", 409, "error_409.json", nil, tandem.ECONFLICT, "conflict", true},
		{"422 validation", 422, "error_422.json", nil, tandem.EINTERNAL, "", true},
		{"500 server error", 500, "error_500.json", nil, tandem.EUNAVAILABLE, "HTTP 500", true},
		{"503 unicorn", 503, "error_503.html", nil, tandem.EUNAVAILABLE, "HTTP 503", true},
	}
	for _, tt := range tests {
		for call, do := range calls {
			t.Run(tt.name+"/"+call, func(t *testing.T) {
				p, client, mux, _ := setup(t)
				answer := func(w http.ResponseWriter, r *http.Request) {
					for k, v := range tt.headers {
						w.Header().Set(k, v)
					}
					serveFile(t, w, tt.status, tt.file)
				}
				mux.HandleFunc("/user", answer)
				mux.HandleFunc("/search/issues", answer)
				mux.HandleFunc("/repos/", answer)

				err := do(p, context.Background(), client)
				if got := tandem.ErrorCode(err); got != tt.code {
					t.Fatalf("code %q, want %q (error: %v)", got, tt.code, err)
				}
				if msg := tandem.ErrorMessage(err); !strings.Contains(msg, tt.inMsg) {
					t.Errorf("message %q lacks %q", msg, tt.inMsg)
				}
				var er *gh.ErrorResponse
				if got := errors.As(err, &er); got != tt.ghErrors {
					t.Errorf("errors.As(*gh.ErrorResponse) = %v, want %v", got, tt.ghErrors)
				}
				if er != nil && er.Response.Request.Header.Get("Authorization") != "" {
					t.Error("the error keeps the request's Authorization header")
				}
				for _, s := range []string{err.Error(), fmt.Sprintf("%+v", err), fmt.Sprintf("%#v", err)} {
					if strings.Contains(s, testToken) {
						t.Errorf("error shows the token: %s", s)
					}
				}
			})
		}
	}
}

// A token source whose refresh GitHub refuses (HTTP 200, bad_refresh_token)
// makes the call EUNAUTHORIZED, and the *oauth2.RetrieveError stays
// reachable for the caller that must re-read its store.
func TestRefusedRefreshIsUnauthorized(t *testing.T) {
	refreshes := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/login/oauth/access_token" {
			t.Errorf("unexpected request %s", r.URL.Path)
			return
		}
		refreshes++
		serveFile(t, w, http.StatusOK, "token_bad_refresh.json")
	}))
	defer srv.Close()
	cfg, _ := github.ConfigFromBase(srv.URL)
	cfg.ClientID, cfg.ClientSecret = "Iv1.testclient", "s3cret"
	p := github.New(cfg)
	oc := p.OAuth2Config()
	stale := &oauth2.Token{AccessToken: "ghu_old", RefreshToken: "ghr_old", Expiry: time.Now().Add(-time.Hour)}
	_, err := p.Identify(context.Background(), oc.Client(context.Background(), stale))
	providertest.CheckRefusedRefresh(t, "Identify", err, tandem.EUNAUTHORIZED, "bad_refresh_token", "ghr_old", "ghu_old")
	if refreshes != 1 {
		t.Errorf("%d refresh attempts, want 1", refreshes)
	}
}

// Failures below HTTP, for every call: the suite all providers pass.
func TestTransportErrors(t *testing.T) {
	providertest.RunErrors(t, func(t *testing.T, base string) map[string]providertest.Call {
		cfg, err := github.ConfigFromBase(base)
		if err != nil {
			t.Fatal(err)
		}
		p := github.New(cfg)
		out := map[string]providertest.Call{}
		for name, do := range calls {
			out[name] = func(ctx context.Context, c *http.Client) error { return do(p, ctx, c) }
		}
		return out
	})
}
