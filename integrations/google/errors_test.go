package google_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tandembot/tandem"
	"github.com/tandembot/tandem/integrations/google"
	"github.com/tandembot/tandem/integrations/providertest"
	"golang.org/x/oauth2"
	"google.golang.org/api/googleapi"
)

// calls are the provider calls every error case runs through.
var calls = map[string]func(*google.Provider, context.Context, *http.Client) error{
	"Identify": func(p *google.Provider, ctx context.Context, c *http.Client) error {
		_, err := p.Identify(ctx, c)
		return err
	},
	"Meetings": func(p *google.Provider, ctx context.Context, c *http.Client) error {
		_, _, err := p.Meetings(ctx, c, dayStart, dayEnd, 5)
		return err
	},
	"SearchDocuments": func(p *google.Provider, ctx context.Context, c *http.Client) error {
		_, _, err := p.SearchDocuments(ctx, c, "roadmap", 5)
		return err
	},
}

func TestErrorMapping(t *testing.T) {
	tests := []struct {
		name    string
		status  int
		file    string
		headers map[string]string
		code    string
		inMsg   string // the person-safe message contains it
	}{
		{"401 invalid credentials", 401, "error_401.json", nil, tandem.EUNAUTHORIZED, "expired or were revoked"},
		{"401 userinfo shape", 401, "error_401_userinfo.json", nil, tandem.EUNAUTHORIZED, "expired or were revoked"},
		{"403 rate limit", 403, "error_403_rate_limit.json", nil, tandem.ERATELIMITED, "try again in a few minutes"},
		{"403 user rate limit", 403, "error_403_user_rate_limit.json", nil, tandem.ERATELIMITED, "rate limit"},
		{"429 quota", 429, "error_429.json", nil, tandem.ERATELIMITED, "rate limit"},
		{"429 with Retry-After", 429, "error_429.json", map[string]string{"Retry-After": "120"}, tandem.ERATELIMITED, "it resets at"},
		{"403 insufficient scopes", 403, "error_403_scopes.json", nil, tandem.EFORBIDDEN, "connect it again"},
		{"403 forbidden", 403, "error_403_forbidden.json", nil, tandem.EFORBIDDEN, "This Google account is not allowed"},
		{"403 API disabled", 403, "error_403_disabled.json", nil, tandem.EINTERNAL, ""},
		{"404 not found", 404, "error_404.json", nil, tandem.ENOTFOUND, "This Google account cannot see"},
		{"400 invalid", 400, "error_400.json", nil, tandem.EINTERNAL, ""},
		{"500 backend error", 500, "error_500.json", nil, tandem.EUNAVAILABLE, "HTTP 500"},
		{"503 unavailable", 503, "error_503.json", nil, tandem.EUNAVAILABLE, "HTTP 503"},
		{"502 front end", 502, "error_502.html", nil, tandem.EUNAVAILABLE, "HTTP 502"},
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
				mux.HandleFunc("/oauth2/v3/userinfo", answer)
				mux.HandleFunc("/calendar/v3/calendars/primary/events", answer)
				mux.HandleFunc("/drive/v3/files", answer)

				err := do(p, context.Background(), client)
				if got := tandem.ErrorCode(err); got != tt.code {
					t.Fatalf("code %q, want %q (error: %v)", got, tt.code, err)
				}
				if msg := tandem.ErrorMessage(err); !strings.Contains(msg, tt.inMsg) {
					t.Errorf("message %q lacks %q", msg, tt.inMsg)
				}
				var ge *googleapi.Error
				if !errors.As(err, &ge) || ge.Code != tt.status {
					t.Errorf("errors.As(*googleapi.Error) lost the HTTP %d: %v", tt.status, err)
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

// A token source whose refresh Google refuses (400 invalid_grant) makes
// the call EUNAUTHORIZED, and the *oauth2.RetrieveError stays reachable for
// the caller that must re-read its store.
func TestRefusedRefreshIsUnauthorized(t *testing.T) {
	p, _, mux, _ := setup(t)
	refreshes := 0
	mux.HandleFunc("/token", func(w http.ResponseWriter, r *http.Request) {
		refreshes++
		if err := r.ParseForm(); err != nil || r.PostForm.Get("grant_type") != "refresh_token" || r.PostForm.Get("refresh_token") != "1//old" {
			t.Errorf("token request %v (%v)", r.PostForm, err)
		}
		serveFile(t, w, http.StatusBadRequest, "token_invalid_grant.json")
	})
	oc := p.OAuth2Config()
	stale := &oauth2.Token{AccessToken: "ya29.old", RefreshToken: "1//old", Expiry: time.Now().Add(-time.Hour)}
	for call, do := range calls {
		err := do(p, context.Background(), oc.Client(context.Background(), stale))
		providertest.CheckRefusedRefresh(t, call, err, tandem.EUNAUTHORIZED, "invalid_grant", "1//old", "ya29.old")
	}
	if refreshes != len(calls) {
		t.Errorf("%d refresh attempts, want %d", refreshes, len(calls))
	}
}

func TestBadAPIURL(t *testing.T) {
	p := google.New(google.Config{APIURL: "not a url"})
	for call, do := range calls {
		if err := do(p, context.Background(), http.DefaultClient); err == nil || tandem.ErrorCode(err) != tandem.EINTERNAL {
			t.Errorf("%s with a bad API URL: %v, want an internal error", call, err)
		}
	}
}

// Failures below HTTP, for every call: the suite all providers pass.
func TestTransportErrors(t *testing.T) {
	providertest.RunErrors(t, func(t *testing.T, base string) map[string]providertest.Call {
		cfg, err := google.ConfigFromBase(base)
		if err != nil {
			t.Fatal(err)
		}
		p := google.New(cfg)
		out := map[string]providertest.Call{}
		for name, do := range calls {
			out[name] = func(ctx context.Context, c *http.Client) error { return do(p, ctx, c) }
		}
		return out
	})
}
