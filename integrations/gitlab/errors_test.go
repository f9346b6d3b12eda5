package gitlab_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tandembot/tandem"
	"github.com/tandembot/tandem/integrations/gitlab"
	"github.com/tandembot/tandem/integrations/providertest"
	gl "gitlab.com/gitlab-org/api/client-go"
	"golang.org/x/oauth2"
)

// calls are the provider calls every error case runs through.
var calls = map[string]func(*gitlab.Provider, context.Context, *http.Client) error{
	"Identify": func(p *gitlab.Provider, ctx context.Context, c *http.Client) error {
		_, err := p.Identify(ctx, c)
		return err
	},
	"OpenPullRequests": func(p *gitlab.Provider, ctx context.Context, c *http.Client) error {
		_, _, err := p.OpenPullRequests(ctx, c, "alice-lab", 5)
		return err
	},
	"ReviewRequests": func(p *gitlab.Provider, ctx context.Context, c *http.Client) error {
		_, _, err := p.ReviewRequests(ctx, c, "alice-lab", 5)
		return err
	},
	"OpenIssues": func(p *gitlab.Provider, ctx context.Context, c *http.Client) error {
		_, _, err := p.OpenIssues(ctx, c, "", "alice-lab", 5)
		return err
	},
	"CreateIssue": func(p *gitlab.Provider, ctx context.Context, c *http.Client) error {
		_, err := p.CreateIssue(ctx, c, "", tandem.NewIssue{Container: "acme/widgets", Title: "t"})
		return err
	},
	"Comment issue": func(p *gitlab.Provider, ctx context.Context, c *http.Client) error {
		_, err := p.Comment(ctx, c, "", "acme/widgets#12", "b")
		return err
	},
	"Comment merge request": func(p *gitlab.Provider, ctx context.Context, c *http.Client) error {
		_, err := p.Comment(ctx, c, "", "acme/widgets!12", "b")
		return err
	},
}

func TestErrorMapping(t *testing.T) {
	reset := time.Date(2025, 7, 3, 17, 42, 0, 0, time.UTC)
	rateHeaders := map[string]string{
		"RateLimit-Name": "throttle_authenticated_api", "RateLimit-Limit": "2000", "RateLimit-Observed": "2001",
		"RateLimit-Remaining": "0", "RateLimit-Reset": strconv.FormatInt(reset.Unix(), 10),
		"RateLimit-ResetTime": reset.Format(http.TimeFormat), "Retry-After": "60",
	}
	tests := []struct {
		name    string
		status  int
		file    string
		headers map[string]string
		code    string
		inMsg   string // the person-safe message contains it
		glError bool   // errors.As finds *gl.ErrorResponse
	}{
		{"401 unauthorized", 401, "error_401.json", nil, tandem.EUNAUTHORIZED, "expired or were revoked", true},
		{"401 token expired", 401, "error_401_invalid_token.json", nil, tandem.EUNAUTHORIZED, "expired or were revoked", true},
		{"429 throttled", 429, "error_429.txt", rateHeaders, tandem.ERATELIMITED, "resets at 17:42 UTC", true},
		{"429 without reset", 429, "error_429.txt", nil, tandem.ERATELIMITED, "in a few minutes", true},
		{"403 forbidden", 403, "error_403.json", nil, tandem.EFORBIDDEN, "This GitLab account is not allowed", true},
		{"403 insufficient scope", 403, "error_403_insufficient_scope.json", nil, tandem.EFORBIDDEN, "lacks the api scope", true},
		{"404 not found", 404, "error_404.json", nil, tandem.ENOTFOUND, "This GitLab account cannot see", false},
		{"409 conflict", 409, "error_409.json", nil, tandem.ECONFLICT, "conflict", true},
		{"400 bad request", 400, "error_400.json", nil, tandem.EINTERNAL, "", true},
		{"500 server error", 500, "error_500.json", nil, tandem.EUNAVAILABLE, "HTTP 500", true},
		{"502 page", 502, "error_502.html", nil, tandem.EUNAVAILABLE, "HTTP 502", true},
	}
	for _, tt := range tests {
		for call, do := range calls {
			t.Run(tt.name+"/"+call, func(t *testing.T) {
				p, client, mux, _ := setup(t)
				requests := 0
				mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
					requests++
					for k, v := range tt.headers {
						w.Header().Set(k, v)
					}
					serveFile(t, w, tt.status, tt.file)
				})

				err := do(p, context.Background(), client)
				if got := tandem.ErrorCode(err); got != tt.code {
					t.Fatalf("code %q, want %q (error: %v)", got, tt.code, err)
				}
				if requests != 1 {
					t.Errorf("%d requests, want 1: client-go must not retry", requests)
				}
				if msg := tandem.ErrorMessage(err); !strings.Contains(msg, tt.inMsg) {
					t.Errorf("message %q lacks %q", msg, tt.inMsg)
				}
				var er *gl.ErrorResponse
				if got := errors.As(err, &er); got != tt.glError {
					t.Errorf("errors.As(*gl.ErrorResponse) = %v, want %v", got, tt.glError)
				}
				if er != nil && er.Response.Request.Header.Get("Authorization") != "" {
					t.Error("the error keeps the request's Authorization header")
				}
				if tt.status == 404 && !errors.Is(err, gl.ErrNotFound) {
					t.Error("errors.Is(gl.ErrNotFound) lost")
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

func TestRetryAfterAlone(t *testing.T) {
	p, client, mux, _ := setup(t)
	mux.HandleFunc("/user", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", "1800")
		serveFile(t, w, http.StatusTooManyRequests, "error_429.txt")
	})
	before := time.Now()
	_, err := p.Identify(context.Background(), client)
	msg := tandem.ErrorMessage(err)
	ok := false
	for _, d := range []time.Duration{1800 * time.Second, 1801 * time.Second} {
		ok = ok || strings.Contains(msg, before.Add(d).UTC().Format("15:04"))
	}
	if tandem.ErrorCode(err) != tandem.ERATELIMITED || !ok {
		t.Errorf("Retry-After 1800: %v (%q), want ERATELIMITED naming %s", err, msg, before.Add(30*time.Minute).UTC().Format("15:04"))
	}
}

// A token source whose refresh GitLab refuses (HTTP 400, invalid_grant)
// makes the call EUNAUTHORIZED, and the *oauth2.RetrieveError stays
// reachable for the caller that must re-read its store. A refused client
// secret (401 invalid_client) is Tandem's misconfiguration: internal.
func TestRefusedRefresh(t *testing.T) {
	tests := []struct {
		file, errorCode, code string
		status                int
	}{
		{"token_invalid_grant.json", "invalid_grant", tandem.EUNAUTHORIZED, http.StatusBadRequest},
		{"token_invalid_client.json", "invalid_client", tandem.EINTERNAL, http.StatusUnauthorized},
	}
	for _, tt := range tests {
		t.Run(tt.errorCode, func(t *testing.T) {
			p, web := setupOAuth(t)
			refreshes := 0
			web.HandleFunc("/oauth/token", func(w http.ResponseWriter, r *http.Request) {
				refreshes++
				testMethod(t, r, "POST")
				if err := r.ParseForm(); err != nil {
					t.Fatal(err)
				}
				if r.PostForm.Get("grant_type") != "refresh_token" || r.PostForm.Get("refresh_token") != "glrt-old" ||
					r.PostForm.Get("client_id") != "d6f1c0ffee" || r.PostForm.Get("client_secret") != "gloas-s3cret" {
					t.Errorf("refresh form %v", r.PostForm)
				}
				serveFile(t, w, tt.status, tt.file)
			})
			oc := p.OAuth2Config()
			stale := &oauth2.Token{AccessToken: "gloas-old", RefreshToken: "glrt-old", Expiry: time.Now().Add(-time.Hour)}
			_, err := p.Identify(context.Background(), oc.Client(context.Background(), stale))
			providertest.CheckRefusedRefresh(t, "Identify", err, tt.code, tt.errorCode, "glrt-old", "gloas-old")
			if refreshes != 1 {
				t.Errorf("%d refresh attempts, want 1", refreshes)
			}
		})
	}
}

// Failures below HTTP, for every call: the suite all providers pass.
func TestTransportErrors(t *testing.T) {
	providertest.RunErrors(t, func(t *testing.T, base string) map[string]providertest.Call {
		cfg, err := gitlab.ConfigFromBase(base)
		if err != nil {
			t.Fatal(err)
		}
		p := gitlab.New(cfg)
		out := map[string]providertest.Call{}
		for name, do := range calls {
			out[name] = func(ctx context.Context, c *http.Client) error { return do(p, ctx, c) }
		}
		return out
	})
}
