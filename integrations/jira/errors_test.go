package jira_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	gojira "github.com/andygrunwald/go-jira"
	"github.com/tandembot/tandem"
	"github.com/tandembot/tandem/integrations/jira"
	"github.com/tandembot/tandem/integrations/providertest"
	"golang.org/x/oauth2"
)

// calls are the provider calls every error case runs through. For
// Identify the error answers accessible-resources; for the others it
// answers every Jira path, the sites being listed normally.
var calls = map[string]func(*jira.Provider, context.Context, *http.Client) error{
	"Identify": func(p *jira.Provider, ctx context.Context, c *http.Client) error {
		_, err := p.Identify(ctx, c)
		return err
	},
	"OpenIssues": func(p *jira.Provider, ctx context.Context, c *http.Client) error {
		_, _, err := p.OpenIssues(ctx, c, testSite, "alice@example.com", 5)
		return err
	},
	"CreateIssue": func(p *jira.Provider, ctx context.Context, c *http.Client) error {
		_, err := p.CreateIssue(ctx, c, testSite, tandem.NewIssue{Container: "OPS", Title: "x"})
		return err
	},
	"Comment": func(p *jira.Provider, ctx context.Context, c *http.Client) error {
		_, err := p.Comment(ctx, c, testSite, "OPS-57", "hi")
		return err
	},
	"Issue": func(p *jira.Provider, ctx context.Context, c *http.Client) error {
		_, err := p.Issue(ctx, c, testSite, "OPS-57")
		return err
	},
	"Transition": func(p *jira.Provider, ctx context.Context, c *http.Client) error {
		_, err := p.Transition(ctx, c, testSite, "OPS-57", "Done")
		return err
	},
}

func TestErrorMapping(t *testing.T) {
	tests := []struct {
		name     string
		status   int
		file     string
		headers  map[string]string
		code     string
		inMsg    string // the person-safe message contains it
		jiraErrs bool   // errors.As finds *gojira.Error
	}{
		{"401 unauthorized", 401, "error_401.json", nil, tandem.EUNAUTHORIZED, "expired or were revoked", true},
		{"401 scope does not match", 401, "error_401_scope.json", nil, tandem.EUNAUTHORIZED, "connect Jira again", true},
		{"403 forbidden", 403, "error_403.json", nil, tandem.EFORBIDDEN, "is not allowed to see or change", true},
		{"404 not found", 404, "error_404.json", nil, tandem.ENOTFOUND, "cannot see", true},
		{"400 bad request", 400, "error_400.json", nil, tandem.EINVALID, "components: Component/s is required.", true},
		{"429 with Retry-After", 429, "error_429.json", map[string]string{"Retry-After": "120"}, tandem.ERATELIMITED, "resets at", true},
		{"429 with X-RateLimit-Reset", 429, "error_429.json", map[string]string{"X-RateLimit-Reset": "2025-07-03T17:42Z"}, tandem.ERATELIMITED, "resets at 17:42 UTC", true},
		{"429 bare", 429, "error_429.json", nil, tandem.ERATELIMITED, "try again in a few minutes", true},
		{"500 server error", 500, "error_500.json", nil, tandem.EUNAVAILABLE, "HTTP 500", true},
		{"503 outage page", 503, "error_503.html", nil, tandem.EUNAVAILABLE, "HTTP 503", true},
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
				if call == "Identify" {
					mux.HandleFunc("/oauth/token/accessible-resources", answer)
				} else {
					serveSites(t, mux)
					mux.HandleFunc(base+"/", answer)
				}

				err := do(p, context.Background(), client)
				if got := tandem.ErrorCode(err); got != tt.code {
					t.Fatalf("code %q, want %q (error: %v)", got, tt.code, err)
				}
				if msg := tandem.ErrorMessage(err); !strings.Contains(msg, tt.inMsg) {
					t.Errorf("message %q lacks %q", msg, tt.inMsg)
				}
				var je *gojira.Error
				if got := errors.As(err, &je); got != tt.jiraErrs {
					t.Errorf("errors.As(*gojira.Error) = %v, want %v", got, tt.jiraErrs)
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

// A 403 or 404 names the account, which costs a GET /myself on that path
// only.
func TestNotFoundNamesTheAccount(t *testing.T) {
	p, client, mux, _ := setup(t)
	serveSites(t, mux)
	serveMyself(t, mux)
	mux.HandleFunc(base+"/issue/OPS-9", func(w http.ResponseWriter, r *http.Request) {
		serveFile(t, w, http.StatusNotFound, "error_404.json")
	})
	_, err := p.Issue(context.Background(), client, testSite, "OPS-9")
	if want := "Jira account alice@example.com cannot see OPS-9, or it does not exist."; tandem.ErrorMessage(err) != want {
		t.Errorf("message %q, want %q", tandem.ErrorMessage(err), want)
	}
}

// The retired search (410) is Tandem's bug, not the user's: internal.
func TestGoneIsInternal(t *testing.T) {
	p, client, mux, _ := setup(t)
	serveSites(t, mux)
	mux.HandleFunc(base+"/search/jql", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusGone)
		_, _ = w.Write([]byte(`{"errorMessages":["The requested API has been removed."],"errors":{}}`))
	})
	_, _, err := p.OpenIssues(context.Background(), client, testSite, "alice@example.com", 5)
	if tandem.ErrorCode(err) != tandem.EINTERNAL || !strings.Contains(err.Error(), "has been removed") {
		t.Errorf("410: %v, want an internal error keeping Jira's message", err)
	}
}

// A token source whose refresh Atlassian refuses as a dead grant (403
// invalid_grant) makes the call EUNAUTHORIZED, and the
// *oauth2.RetrieveError stays reachable for the caller that must re-read
// its store. A refused client (401 access_denied: Tandem's client secret)
// is Tandem's misconfiguration, which reconnecting would not fix: internal,
// though the status is 401.
func TestRefusedRefresh(t *testing.T) {
	tests := []struct {
		file, errorCode, code string
		status                int
	}{
		{"token_invalid_grant.json", "invalid_grant", tandem.EUNAUTHORIZED, http.StatusForbidden},
		{"token_access_denied.json", "access_denied", tandem.EINTERNAL, http.StatusUnauthorized},
	}
	for _, tt := range tests {
		t.Run(tt.errorCode, func(t *testing.T) {
			refreshes := 0
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path != "/oauth/token" {
					t.Errorf("unexpected request %s", r.URL.Path)
					return
				}
				refreshes++
				serveFile(t, w, tt.status, tt.file)
			}))
			defer srv.Close()
			cfg, _ := jira.ConfigFromBase(srv.URL)
			cfg.ClientID, cfg.ClientSecret = "testclient", "s3cret"
			p := jira.New(cfg)
			oc := p.OAuth2Config()
			stale := &oauth2.Token{AccessToken: "atl-old", RefreshToken: "atlr-old", Expiry: time.Now().Add(-time.Hour)}
			_, err := p.Identify(context.Background(), oc.Client(context.Background(), stale))
			providertest.CheckRefusedRefresh(t, "Identify", err, tt.code, tt.errorCode, "atlr-old", "atl-old")
			if refreshes != 1 {
				t.Errorf("%d refresh attempts, want 1", refreshes)
			}
		})
	}
}

// Failures below HTTP, for every call: the suite all providers pass.
func TestTransportErrors(t *testing.T) {
	providertest.RunErrors(t, func(t *testing.T, base string) map[string]providertest.Call {
		cfg, err := jira.ConfigFromBase(base)
		if err != nil {
			t.Fatal(err)
		}
		p := jira.New(cfg)
		out := map[string]providertest.Call{}
		for name, do := range calls {
			out[name] = func(ctx context.Context, c *http.Client) error { return do(p, ctx, c) }
		}
		return out
	})
}
