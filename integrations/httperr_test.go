package integrations_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/tandembot/tandem"
	"github.com/tandembot/tandem/integrations"
	"golang.org/x/oauth2"
)

// answer is a provider's reply with status and headers (name, value, ...).
func answer(status int, kv ...string) *http.Response {
	h := http.Header{}
	for i := 0; i+1 < len(kv); i += 2 {
		h.Set(kv[i], kv[i+1])
	}
	req, _ := http.NewRequest("GET", "https://api.example.com/x", nil)
	req.Header.Set("Authorization", "Bearer secret-token")
	return &http.Response{StatusCode: status, Header: h, Request: req}
}

// refresh is a token endpoint's refusal as x/oauth2 reports it.
func refresh(status int, code string) error {
	return &url.Error{Op: "Post", URL: "https://example.com/token", Err: &oauth2.RetrieveError{
		Response: &http.Response{StatusCode: status}, ErrorCode: code,
	}}
}

type timeoutErr struct{}

func (timeoutErr) Error() string   { return "i/o timeout" }
func (timeoutErr) Timeout() bool   { return true }
func (timeoutErr) Temporary() bool { return true }

// The shared mapping, with no hooks: what every provider's failure means.
func TestHTTPErrorsMap(t *testing.T) {
	reset := time.Date(2025, 7, 3, 17, 42, 0, 0, time.UTC)
	ctxErr := func(err error) error { return &url.Error{Op: "Get", URL: "https://api.example.com/x", Err: err} }
	httpErr := errors.New("HTTP error")
	tests := []struct {
		name  string
		f     integrations.Failure
		code  string
		msg   string // the person-safe message; "" for internal errors
		whoam int    // times Whoami is called
	}{
		{"401", integrations.Failure{Response: answer(401)}, tandem.EUNAUTHORIZED, "GitLab refused the credentials: they expired or were revoked.", 0},
		{"403 known login", integrations.Failure{Login: "alice", Response: answer(403)}, tandem.EFORBIDDEN, "GitLab account alice is not allowed to see or change acme/w.", 0},
		{"403 asks whoami", integrations.Failure{Response: answer(403)}, tandem.EFORBIDDEN, "GitLab account who-alice is not allowed to see or change acme/w.", 1},
		{"404 asks whoami", integrations.Failure{Response: answer(404)}, tandem.ENOTFOUND, "GitLab account who-alice cannot see acme/w, or it does not exist.", 1},
		{"404 unknown login", integrations.Failure{Response: answer(404), Whoami: func() string { return "" }}, tandem.ENOTFOUND, "This GitLab account cannot see acme/w, or it does not exist.", 0},
		{"409", integrations.Failure{Response: answer(409)}, tandem.ECONFLICT, "GitLab reports a conflict on acme/w: it changed meanwhile; try again.", 0},
		{"400 without Reason", integrations.Failure{Response: answer(400)}, tandem.EINTERNAL, "", 0},
		{"422 without Reason", integrations.Failure{Response: answer(422)}, tandem.EINTERNAL, "", 0},
		{"410", integrations.Failure{Response: answer(410)}, tandem.EINTERNAL, "", 0},
		{"429 Retry-After date", integrations.Failure{Response: answer(429, "Retry-After", reset.Format(http.TimeFormat))}, tandem.ERATELIMITED, "This GitLab account hit GitLab's rate limit; it resets at 17:42 UTC.", 0},
		{"429 bare", integrations.Failure{Response: answer(429)}, tandem.ERATELIMITED, "This GitLab account hit GitLab's rate limit; try again in a few minutes.", 0},
		{"429 unreadable Retry-After", integrations.Failure{Response: answer(429, "Retry-After", "soon")}, tandem.ERATELIMITED, "This GitLab account hit GitLab's rate limit; try again in a few minutes.", 0},
		{"500", integrations.Failure{Response: answer(500)}, tandem.EUNAVAILABLE, "GitLab is unavailable (HTTP 500); try again later.", 0},
		{"502", integrations.Failure{Response: answer(502)}, tandem.EUNAVAILABLE, "GitLab is unavailable (HTTP 502); try again later.", 0},
		{"timeout", integrations.Failure{Err: ctxErr(context.DeadlineExceeded)}, tandem.EUNAVAILABLE, "GitLab did not answer in time; try again later.", 0},
		{"net timeout", integrations.Failure{Err: ctxErr(timeoutErr{})}, tandem.EUNAVAILABLE, "Tandem could not reach GitLab; try again later.", 0},
		{"canceled", integrations.Failure{Err: ctxErr(context.Canceled)}, tandem.EINTERNAL, "", 0},
		{"connection refused", integrations.Failure{Err: ctxErr(&net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connection refused")})}, tandem.EUNAVAILABLE, "Tandem could not reach GitLab; try again later.", 0},
		{"no such host", integrations.Failure{Err: ctxErr(&net.DNSError{Err: "no such host", Name: "gitlab.invalid", IsNotFound: true})}, tandem.EUNAVAILABLE, "Tandem could not reach GitLab; try again later.", 0},
		{"connection dropped", integrations.Failure{Err: ctxErr(io.ErrUnexpectedEOF)}, tandem.EUNAVAILABLE, "Tandem could not reach GitLab; try again later.", 0},
		{"EOF", integrations.Failure{Err: ctxErr(io.EOF)}, tandem.EUNAVAILABLE, "Tandem could not reach GitLab; try again later.", 0},
		{"other", integrations.Failure{Err: errors.New("decode: unexpected token")}, tandem.EINTERNAL, "", 0},
		// A refresh says the grant is dead by its error code, whatever the
		// status: 400 (RFC 6749), 200 (GitHub), 403 (Atlassian).
		{"refresh invalid_grant", integrations.Failure{Err: refresh(400, "invalid_grant")}, tandem.EUNAUTHORIZED, "GitLab refused to renew the credentials: they expired or were revoked.", 0},
		{"refresh bad_refresh_token", integrations.Failure{Err: refresh(200, "bad_refresh_token")}, tandem.EUNAUTHORIZED, "GitLab refused to renew the credentials: they expired or were revoked.", 0},
		{"refresh 403 invalid_grant", integrations.Failure{Err: refresh(403, "invalid_grant")}, tandem.EUNAUTHORIZED, "GitLab refused to renew the credentials: they expired or were revoked.", 0},
		// Anything else refused at the token endpoint is Tandem's client.
		{"refresh 401 invalid_client", integrations.Failure{Err: refresh(401, "invalid_client")}, tandem.EINTERNAL, "", 0},
		{"refresh 403 unauthorized_client", integrations.Failure{Err: refresh(403, "unauthorized_client")}, tandem.EINTERNAL, "", 0},
		{"refresh 401 without code", integrations.Failure{Err: refresh(401, "")}, tandem.EINTERNAL, "", 0},
		{"refresh 503", integrations.Failure{Err: refresh(503, "")}, tandem.EUNAVAILABLE, "GitLab is unavailable (HTTP 503); try again later.", 0},
	}
	m := integrations.HTTPErrors{Provider: tandem.GitLab}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := tt.f
			f.Op, f.What = "get project", "acme/w"
			if f.Err == nil {
				f.Err = httpErr
			}
			whoami := 0
			if f.Whoami == nil {
				f.Whoami = func() string { whoami++; return "who-alice" }
			}
			err := m.Map(f)
			if got := tandem.ErrorCode(err); got != tt.code {
				t.Fatalf("code %q, want %q (error: %v)", got, tt.code, err)
			}
			if tt.msg != "" && tandem.ErrorMessage(err) != tt.msg {
				t.Errorf("message %q\nwant    %q", tandem.ErrorMessage(err), tt.msg)
			}
			if !errors.Is(err, f.Err) {
				t.Errorf("the mapped error lost the original: %v", err)
			}
			if whoami != tt.whoam {
				t.Errorf("Whoami called %d times, want %d", whoami, tt.whoam)
			}
			if f.Response != nil && f.Response.Request.Header.Get("Authorization") != "" {
				t.Error("the response's request keeps its Authorization header")
			}
			if strings.Contains(fmt.Sprintf("%v %+v", err, err), "secret-token") {
				t.Error("the error shows the token")
			}
		})
	}
}

func TestHTTPErrorsMapNil(t *testing.T) {
	m := integrations.HTTPErrors{Provider: tandem.GitHub}
	if err := m.Map(integrations.Failure{Op: "x", Response: answer(200)}); err != nil {
		t.Errorf("no error: %v, want nil", err)
	}
}

// An error coded before the call (the token source's, through the
// transport) keeps its code and message, whatever the status says.
func TestHTTPErrorsMapKeepsCoded(t *testing.T) {
	m := integrations.HTTPErrors{Provider: tandem.Jira}
	coded := tandem.Errorf(tandem.EUNAVAILABLE, "Jira did not answer a token refresh; try again in a moment.")
	err := m.Map(integrations.Failure{Op: "x", Err: &url.Error{Op: "Get", URL: "u", Err: coded}})
	if tandem.ErrorCode(err) != tandem.EUNAVAILABLE || tandem.ErrorMessage(err) != coded.Message {
		t.Errorf("coded: %v, want the token source's error", err)
	}
	expired := &tandem.ExpiredError{Team: "T1", User: "U1", Provider: tandem.Jira}
	err = m.Map(integrations.Failure{Op: "x", Err: &url.Error{Op: "Get", URL: "u", Err: expired}})
	var ex *tandem.ExpiredError
	if !errors.As(err, &ex) || tandem.ErrorCode(err) != tandem.EINTERNAL {
		t.Errorf("expired: %v, want the *tandem.ExpiredError kept, uncoded", err)
	}
}

// Each hook changes only what it is for.
func TestHTTPErrorsHooks(t *testing.T) {
	reset := time.Date(2025, 7, 3, 17, 42, 0, 0, time.UTC)
	m := integrations.HTTPErrors{
		Provider: tandem.Google,
		Reset: func(h http.Header) time.Time {
			if h.Get("X-Reset") != "" {
				return reset
			}
			return integrations.RetryAfter(h)
		},
		RateLimited: func(f integrations.Failure) bool { return f.Response.Header.Get("X-Reason") == "rate" },
		ScopeMissing: func(f integrations.Failure) (string, bool) {
			return f.Response.Header.Get("X-Scope"), f.Response.Header.Get("X-Reason") == "scope"
		},
		Reason: func(f integrations.Failure) string { return f.Response.Header.Get("X-Why") },
		Unauthorized: func(f integrations.Failure) *tandem.Error {
			if f.Response.Header.Get("X-Reason") == "site" {
				return tandem.Errorf(tandem.EUNAUTHORIZED, "site not granted")
			}
			return nil
		},
		Misconfigured: func(f integrations.Failure) string {
			if f.Response.Header.Get("X-Reason") == "disabled" {
				return "the API is not enabled"
			}
			return ""
		},
	}
	tests := []struct {
		name string
		resp *http.Response
		code string
		msg  string
	}{
		{"403 rate limit", answer(403, "X-Reason", "rate", "X-Reset", "1"), tandem.ERATELIMITED, "This Google account hit Google's rate limit; it resets at 17:42 UTC."},
		{"429 own reset", answer(429, "X-Reset", "1"), tandem.ERATELIMITED, "This Google account hit Google's rate limit; it resets at 17:42 UTC."},
		{"403 scope named", answer(403, "X-Reason", "scope", "X-Scope", "api"), tandem.EFORBIDDEN,
			"Google account alice did not give Tandem access to its calendar (the grant lacks the api scope); disconnect Google and connect it again, allowing everything Tandem asks for."},
		{"403 scope unnamed", answer(403, "X-Reason", "scope"), tandem.EFORBIDDEN,
			"Google account alice did not give Tandem access to its calendar; disconnect Google and connect it again, allowing everything Tandem asks for."},
		{"403 plain", answer(403), tandem.EFORBIDDEN, "Google account alice is not allowed to see or change its calendar."},
		{"403 disabled", answer(403, "X-Reason", "disabled"), tandem.EINTERNAL, ""},
		{"400 with reason", answer(400, "X-Why", "summary: required."), tandem.EINVALID, "Google refused the request for its calendar: summary: required."},
		{"422 without reason", answer(422), tandem.EINVALID, "Google refused the request for its calendar: it gave no reason"},
		{"401 special", answer(401, "X-Reason", "site"), tandem.EUNAUTHORIZED, "site not granted"},
		{"401 plain", answer(401), tandem.EUNAUTHORIZED, "Google refused the credentials: they expired or were revoked."},
		{"404 plain", answer(404, "X-Reason", "scope"), tandem.ENOTFOUND, "Google account alice cannot see its calendar, or it does not exist."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := m.Map(integrations.Failure{Op: "list meetings", What: "its calendar", Login: "alice", Response: tt.resp, Err: errors.New("googleapi: error")})
			if got := tandem.ErrorCode(err); got != tt.code {
				t.Fatalf("code %q, want %q (error: %v)", got, tt.code, err)
			}
			if tt.msg != "" && tandem.ErrorMessage(err) != tt.msg {
				t.Errorf("message %q\nwant    %q", tandem.ErrorMessage(err), tt.msg)
			}
			if tt.code == tandem.EINTERNAL && !strings.Contains(err.Error(), "the API is not enabled") {
				t.Errorf("the log line %q does not say why", err)
			}
		})
	}
}

func TestRetryAfter(t *testing.T) {
	at := time.Date(2025, 7, 3, 17, 42, 0, 0, time.UTC)
	before := time.Now()
	got := integrations.RetryAfter(http.Header{"Retry-After": {" 120 "}})
	if got.Before(before.Add(120*time.Second)) || got.After(time.Now().Add(120*time.Second)) {
		t.Errorf("Retry-After 120: %v, want 120 s from now", got)
	}
	if got := integrations.RetryAfter(http.Header{"Retry-After": {at.Format(http.TimeFormat)}}); !got.Equal(at) {
		t.Errorf("Retry-After date: %v, want %v", got, at)
	}
	for _, v := range []string{"", "-5", "later"} {
		if got := integrations.RetryAfter(http.Header{"Retry-After": {v}}); !got.IsZero() {
			t.Errorf("Retry-After %q: %v, want zero", v, got)
		}
	}
}

func TestAccountName(t *testing.T) {
	if got := integrations.AccountName(tandem.Jira, "alice@example.com"); got != "Jira account alice@example.com" {
		t.Errorf("known: %q", got)
	}
	if got := integrations.AccountName(tandem.GitHub, ""); got != "This GitHub account" {
		t.Errorf("unknown: %q", got)
	}
}
