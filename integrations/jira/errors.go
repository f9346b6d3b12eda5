package jira

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	gojira "github.com/andygrunwald/go-jira"
	"github.com/tandembot/tandem"
	"golang.org/x/oauth2"
)

// mapError turns a failed Jira call into the error Tandem's edges
// understand. op names the call for logs ("search issues"); what names its
// object for people ("OPS-12"); who is the acting account's email, or ""
// when unknown.
//
//   - 401, or a refresh Atlassian refused (403 invalid_grant): EUNAUTHORIZED,
//     the token expired or was revoked, or its grant does not cover the
//     site (the gateway's "scope does not match").
//   - 429: ERATELIMITED, saying when the limit resets (Retry-After, else
//     X-RateLimit-Reset).
//   - 403: EFORBIDDEN; 404: ENOTFOUND ("this Jira account (email) cannot see
//     or change OPS-12"); 400: EINVALID with Jira's own reasons; 409:
//     ECONFLICT.
//   - 5xx, timeouts, unreachable host: EUNAVAILABLE.
//   - anything else: wrapped with %w, an internal error.
//
// The coded error joins the original one, so errors.As still finds
// *gojira.Error or *oauth2.RetrieveError. Neither holds a token: the
// response, whose request carried the Authorization header, is not kept.
func mapError(op, what, who string, resp *gojira.Response, err error) error {
	coded := func(e *tandem.Error) error { return fmt.Errorf("jira: %s: %w: %w", op, e, err) }
	account := "This Jira account"
	if who != "" {
		account += " (" + who + ")"
	}

	var (
		retrErr *oauth2.RetrieveError
		netErr  net.Error
		jErr    *gojira.Error
	)
	switch {
	case errors.As(err, &retrErr):
		// The token source failed to refresh before the call was made.
		st := 0
		if retrErr.Response != nil {
			st = retrErr.Response.StatusCode
		}
		switch {
		case retrErr.ErrorCode == "invalid_grant" || st == http.StatusUnauthorized || st == http.StatusForbidden:
			return coded(tandem.Errorf(tandem.EUNAUTHORIZED, "Jira refused to renew the credentials: they expired or were revoked."))
		case st >= 500:
			return coded(tandem.ProviderUnavailable(tandem.Jira, st))
		}
	case errors.Is(err, context.DeadlineExceeded):
		return coded(tandem.Errorf(tandem.EUNAVAILABLE, "Jira did not answer in time; try again later."))
	case errors.Is(err, context.Canceled):
		return fmt.Errorf("jira: %s: %w", op, err)
	}
	if resp != nil && resp.Response != nil {
		errors.As(err, &jErr)
		switch code := resp.StatusCode; {
		case code == http.StatusUnauthorized && strings.Contains(strings.ToLower(messages(jErr)), "scope does not match"):
			return coded(errSiteNotGranted())
		case code == http.StatusUnauthorized:
			return coded(tandem.Errorf(tandem.EUNAUTHORIZED, "Jira refused the credentials: they expired or were revoked."))
		case code == http.StatusTooManyRequests:
			return coded(tandem.ProviderRateLimited(tandem.Jira, resetOf(resp.Response)))
		case code == http.StatusForbidden:
			return coded(tandem.Errorf(tandem.EFORBIDDEN, "%s is not allowed to see or change %s.", account, what))
		case code == http.StatusNotFound:
			return coded(tandem.Errorf(tandem.ENOTFOUND, "%s cannot see %s, or it does not exist.", account, what))
		case code == http.StatusBadRequest:
			why := messages(jErr)
			if why == "" {
				why = "it gave no reason"
			}
			return coded(tandem.Errorf(tandem.EINVALID, "Jira refused the request for %s: %s", what, why))
		case code == http.StatusConflict:
			return coded(tandem.Errorf(tandem.ECONFLICT, "Jira reports a conflict on %s: it changed meanwhile; try again.", what))
		case code >= 500:
			return coded(tandem.ProviderUnavailable(tandem.Jira, code))
		}
	}
	var (
		opErr  *net.OpError
		dnsErr *net.DNSError
	)
	if errors.As(err, &opErr) || errors.As(err, &dnsErr) || (errors.As(err, &netErr) && netErr.Timeout()) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return coded(tandem.Errorf(tandem.EUNAVAILABLE, "Tandem could not reach Jira; try again later."))
	}
	return fmt.Errorf("jira: %s: %w", op, err)
}

// resetOf reads Retry-After (seconds), or else X-RateLimit-Reset (an ISO
// 8601 time to the minute, 2025-07-03T17:42Z); zero when neither is there.
func resetOf(r *http.Response) time.Time {
	if v, err := strconv.Atoi(strings.TrimSpace(r.Header.Get("Retry-After"))); err == nil && v >= 0 {
		return time.Now().Add(time.Duration(v) * time.Second)
	}
	v := strings.TrimSpace(r.Header.Get("X-RateLimit-Reset"))
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
