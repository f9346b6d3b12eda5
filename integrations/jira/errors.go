package jira

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"

	gojira "github.com/andygrunwald/go-jira"
	"github.com/tandembot/tandem"
	"github.com/tandembot/tandem/integrations"
)

// httpErrors is Jira's reading of the shared mapping (see
// integrations.HTTPErrors.Map): its rate limit headers, its own reasons for
// a refused request (a 400 is about what the person asked for: a required
// field, an unknown issue type), and the gateway's 401 for a site the
// grant does not cover.
var httpErrors = integrations.HTTPErrors{
	Provider: tandem.Jira,
	Reset:    resetOf,
	Reason:   func(f integrations.Failure) string { return messages(jiraError(f.Err)) },
	Unauthorized: func(f integrations.Failure) *tandem.Error {
		if strings.Contains(strings.ToLower(messages(jiraError(f.Err))), "scope does not match") {
			return errSiteNotGranted()
		}
		return nil
	},
}

// mapError turns a failed Jira call into the error Tandem's edges
// understand, as integrations.HTTPErrors.Map says. op names the call for
// logs ("search issues"); what names its object for people ("OPS-12");
// who is the acting account's email, or "" when unknown. errors.As still
// finds *gojira.Error or *oauth2.RetrieveError. Neither holds a token: the
// response, whose request carried the Authorization header, is not kept.
func mapError(op, what, who string, resp *gojira.Response, err error) error {
	return httpErrors.Map(integrations.Failure{Op: op, What: what, Login: who, Response: httpResponse(resp), Err: err})
}

// fail maps a refused call on c, naming the acting account when Jira says
// it cannot see or change what (which costs one more request, on the
// failure path only).
func fail(ctx context.Context, c *gojira.Client, op, what string, resp *gojira.Response, err error) error {
	return httpErrors.Map(integrations.Failure{
		Op: op, What: what, Response: httpResponse(resp), Err: err,
		Whoami: func() string { return email(ctx, c) },
	})
}

func httpResponse(resp *gojira.Response) *http.Response {
	if resp == nil {
		return nil
	}
	return resp.Response
}

func jiraError(err error) *gojira.Error {
	var e *gojira.Error
	errors.As(err, &e)
	return e
}

// resetOf reads Retry-After, or else X-RateLimit-Reset (an ISO 8601 time
// to the minute, 2025-07-03T17:42Z); zero when neither is there.
func resetOf(h http.Header) time.Time {
	if t := integrations.RetryAfter(h); !t.IsZero() {
		return t
	}
	v := strings.TrimSpace(h.Get("X-RateLimit-Reset"))
	for _, layout := range []string{"2006-01-02T15:04Z07:00", time.RFC3339} {
		if t, err := time.Parse(layout, v); err == nil {
			return t
		}
	}
	return time.Time{}
}

// maxReason bounds how much of Jira's explanation a message repeats, in
// characters.
const maxReason = 300

// messages joins Jira's errorMessages and field errors ("summary: You must
// specify a summary of the issue."), fields sorted.
func messages(e *gojira.Error) string {
	if e == nil {
		return ""
	}
	parts := slices.Clone(e.ErrorMessages)
	fields := make([]string, 0, len(e.Errors))
	for f := range e.Errors {
		fields = append(fields, f)
	}
	slices.Sort(fields)
	for _, f := range fields {
		parts = append(parts, f+": "+e.Errors[f])
	}
	s := []rune(strings.Join(parts, "; "))
	if len(s) > maxReason {
		return string(s[:maxReason]) + "…"
	}
	return string(s)
}

// readError reads a refused call's body into a *gojira.Error: Jira's own
// {"errorMessages":[…],"errors":{…}}, or the gateway's
// {"code":401,"message":"…"}, whose message becomes an error message. Any
// other body (an HTML error page) leaves the messages empty.
func readError(resp *gojira.Response, httpErr error) error {
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	e := &gojira.Error{HTTPError: httpErr}
	var body struct {
		ErrorMessages []string          `json:"errorMessages"`
		Errors        map[string]string `json:"errors"`
		Message       string            `json:"message"`
	}
	if json.Unmarshal(b, &body) == nil {
		e.ErrorMessages, e.Errors = body.ErrorMessages, body.Errors
		if len(e.ErrorMessages) == 0 && len(e.Errors) == 0 && body.Message != "" {
			e.ErrorMessages = []string{body.Message}
		}
	}
	return e
}

// statusOf returns resp's HTTP status, 0 without one.
func statusOf(resp *gojira.Response) int {
	if resp == nil || resp.Response == nil {
		return 0
	}
	return resp.StatusCode
}
