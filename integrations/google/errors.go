package google

import (
	"errors"
	"net/http"
	"slices"

	"github.com/tandembot/tandem"
	"github.com/tandembot/tandem/integrations"
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

// httpErrors is Google's reading of the shared mapping (see
// integrations.HTTPErrors.Map): a 403 may be a rate limit, a missing
// scope, or an API not enabled in Tandem's Cloud project, which only the
// operator can fix, as the reasons in its body say.
var httpErrors = integrations.HTTPErrors{
	Provider: tandem.Google,
	RateLimited: func(f integrations.Failure) bool {
		return f.Response.StatusCode == http.StatusForbidden && hasReason(f.Err, rateReasons)
	},
	ScopeMissing: func(f integrations.Failure) (string, bool) {
		return "", hasReason(f.Err, scopeReasons)
	},
	Misconfigured: func(f integrations.Failure) string {
		if f.Response.StatusCode == http.StatusForbidden && hasReason(f.Err, disabledReasons) {
			return "the API is not enabled in Tandem's Google Cloud project"
		}
		return ""
	},
}

// mapError turns a failed Google call into the error Tandem's edges
// understand, as integrations.HTTPErrors.Map says. op names the call for
// logs ("list meetings"); what names its object for people ("its
// calendar"). errors.As still finds *googleapi.Error or
// *oauth2.RetrieveError. Neither holds a token: Google's errors carry the
// response's status and headers, not the request.
func mapError(op, what string, err error) error {
	f := integrations.Failure{Op: op, What: what, Err: err}
	var e *googleapi.Error
	if errors.As(err, &e) {
		f.Response = &http.Response{StatusCode: e.Code, Header: e.Header}
	}
	return httpErrors.Map(f)
}

// hasReason reports whether err is a *googleapi.Error naming one of
// reasons, in its "errors" list or in an ErrorInfo detail.
func hasReason(err error, reasons []string) bool {
	var e *googleapi.Error
	if !errors.As(err, &e) {
		return false
	}
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
