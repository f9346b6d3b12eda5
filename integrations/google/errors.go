package google

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/tandembot/tandem"
	"golang.org/x/oauth2"
	"google.golang.org/api/googleapi"
)

// Reasons Google gives, in an error's "errors" list or its ErrorInfo
// detail, for an account over a limit, a token without the scope, and an
// API that Tandem's Cloud project has not enabled.
var (
	rateReasons = []string{
		"rateLimitExceeded", "userRateLimitExceeded", "quotaExceeded", "dailyLimitExceeded",
		"RATE_LIMIT_EXCEEDED",
	}
	scopeReasons    = []string{"insufficientPermissions", "ACCESS_TOKEN_SCOPE_INSUFFICIENT"}
	disabledReasons = []string{"accessNotConfigured", "SERVICE_DISABLED"}
)

// mapError turns a failed Google call into the error Tandem's edges
// understand. op names the call for logs ("list meetings"); what names its
// object for people ("its calendar").
//
//   - 401, or a refresh Google refused (invalid_grant): EUNAUTHORIZED, the
//     credentials expired or were revoked.
//   - 429, or 403 with a rate limit reason (rateLimitExceeded,
//     userRateLimitExceeded, quotaExceeded): ERATELIMITED, saying when to
//     try again if Google said (Retry-After).
//   - 403 for a missing scope: EFORBIDDEN, asking to reconnect; 403
//     otherwise: EFORBIDDEN; 404: ENOTFOUND ("this Google account cannot
//     see …"). A 403 for an API not enabled in Tandem's Cloud project is
//     an internal error: the operator must fix it.
//   - 5xx, timeouts, unreachable host: EUNAVAILABLE.
//   - an error already coded (by the token source): kept as it is.
//   - anything else: wrapped with %w, an internal error.
//
// The coded error joins the original one, so errors.As still finds
// *googleapi.Error or *oauth2.RetrieveError. Neither holds a token:
// Google's errors carry the response, not the request.
func mapError(op, what string, err error) error {
	coded := func(e *tandem.Error) error { return fmt.Errorf("google: %s: %w: %w", op, e, err) }

	var (
		already *tandem.Error
		apiErr  *googleapi.Error
		retrErr *oauth2.RetrieveError
		netErr  net.Error
	)
	switch {
	case errors.As(err, &already):
		return fmt.Errorf("google: %s: %w", op, err)
	case errors.As(err, &retrErr):
		// The token source failed to refresh before the call was made.
		status := 0
		if retrErr.Response != nil {
			status = retrErr.Response.StatusCode
		}
		switch {
		case retrErr.ErrorCode == "invalid_grant":
			return coded(tandem.Errorf(tandem.EUNAUTHORIZED, "Google refused to renew the credentials: they expired or were revoked."))
		case status >= 500:
			return coded(tandem.ProviderUnavailable(tandem.Google, status))
		}
		// invalid_client and the like: Tandem's OAuth client is misconfigured.
		return fmt.Errorf("google: %s: %w", op, err)
	case errors.As(err, &apiErr):
		return mapAPIError(op, what, apiErr, coded, err)
	case errors.Is(err, context.DeadlineExceeded):
		return coded(tandem.Errorf(tandem.EUNAVAILABLE, "Google did not answer in time; try again later."))
	case errors.Is(err, context.Canceled):
		return fmt.Errorf("google: %s: %w", op, err)
	}
	var (
		opErr  *net.OpError
		dnsErr *net.DNSError
	)
	if errors.As(err, &opErr) || errors.As(err, &dnsErr) || (errors.As(err, &netErr) && netErr.Timeout()) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return coded(tandem.Errorf(tandem.EUNAVAILABLE, "Tandem could not reach Google; try again later."))
	}
	return fmt.Errorf("google: %s: %w", op, err)
}

func mapAPIError(op, what string, e *googleapi.Error, coded func(*tandem.Error) error, err error) error {
	switch code := e.Code; {
	case code == http.StatusUnauthorized:
		return coded(tandem.Errorf(tandem.EUNAUTHORIZED, "Google refused the credentials: they expired or were revoked."))
	case code == http.StatusTooManyRequests || (code == http.StatusForbidden && hasReason(e, rateReasons)):
		return coded(tandem.ProviderRateLimited(tandem.Google, retryAfter(e.Header)))
	case code == http.StatusForbidden && hasReason(e, scopeReasons):
		return coded(tandem.Errorf(tandem.EFORBIDDEN,
			"This Google account did not give Tandem access to %s; disconnect Google and connect it again, allowing everything Tandem asks for.", what))
	case code == http.StatusForbidden && hasReason(e, disabledReasons):
		return fmt.Errorf("google: %s: the API is not enabled in Tandem's Google Cloud project: %w", op, err)
	case code == http.StatusForbidden:
		return coded(tandem.Errorf(tandem.EFORBIDDEN, "This Google account is not allowed to see %s.", what))
	case code == http.StatusNotFound:
		return coded(tandem.Errorf(tandem.ENOTFOUND, "This Google account cannot see %s, or it does not exist.", what))
	case code >= 500:
		return coded(tandem.ProviderUnavailable(tandem.Google, code))
	}
	return fmt.Errorf("google: %s: %w", op, err)
}

// hasReason reports whether e names one of reasons, in its "errors" list or
// in an ErrorInfo detail.
func hasReason(e *googleapi.Error, reasons []string) bool {
	for _, it := range e.Errors {
		if slices.Contains(reasons, it.Reason) {
			return true
		}
	}
	for _, d := range e.Details {
		if m, ok := d.(map[string]any); ok {
			if r, ok := m["reason"].(string); ok && slices.Contains(reasons, r) {
				return true
			}
		}
	}
	return false
}

// retryAfter reads Retry-After, in seconds or as an HTTP date; zero when
// absent.
func retryAfter(h http.Header) time.Time {
	v := h.Get("Retry-After")
	if v == "" {
		return time.Time{}
	}
	if s, err := strconv.Atoi(v); err == nil && s >= 0 {
		return time.Now().Add(time.Duration(s) * time.Second)
	}
	if t, err := http.ParseTime(v); err == nil {
		return t
	}
	return time.Time{}
}
