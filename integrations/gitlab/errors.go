package gitlab

import (
	"encoding/json"
	"errors"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/tandembot/tandem"
	"github.com/tandembot/tandem/integrations"
	gl "gitlab.com/gitlab-org/api/client-go"
)

// httpErrors is GitLab's reading of the shared mapping (see
// integrations.HTTPErrors.Map): its rate limit headers, and a 403 whose
// body says insufficient_scope.
var httpErrors = integrations.HTTPErrors{
	Provider:     tandem.GitLab,
	Reset:        resetOf,
	ScopeMissing: insufficientScope,
}

// mapError turns a failed GitLab call into the error Tandem's edges
// understand, as integrations.HTTPErrors.Map says. op names the call for
// logs ("list merge requests"); what names its object for people ("the
// project acme/widgets"). errors.As still finds *gl.ErrorResponse or
// *oauth2.RetrieveError (and errors.Is gl.ErrNotFound), whose request no
// longer holds the token.
func mapError(op, what string, resp *gl.Response, err error) error {
	var hr *http.Response
	if resp != nil {
		hr = resp.Response
	}
	var er *gl.ErrorResponse
	if hr == nil && errors.As(err, &er) {
		hr = er.Response
	}
	return mapHTTP(op, what, hr, err)
}

// mapHTTP is mapError for a plain HTTP answer (resp may be nil).
func mapHTTP(op, what string, resp *http.Response, err error) error {
	return httpErrors.Map(integrations.Failure{Op: op, What: what, Response: resp, Err: err})
}

// insufficientScope reports whether a 403 says that the token lacks a
// scope, and which: GitLab answers {"error":"insufficient_scope",
// "scope":"api",...}, without the WWW-Authenticate header RFC 6750 asks
// for, so the body decides when the header is not there.
func insufficientScope(f integrations.Failure) (string, bool) {
	var body struct {
		Error string `json:"error"`
		Scope string `json:"scope"`
	}
	var er *gl.ErrorResponse
	if errors.As(f.Err, &er) {
		_ = json.Unmarshal(er.Body, &body)
	}
	scope := body.Scope
	if !validScope.MatchString(scope) {
		scope = "" // not a scope name to repeat to people
	}
	missing := body.Error == "insufficient_scope" || strings.Contains(f.Response.Header.Get("WWW-Authenticate"), "insufficient_scope")
	return scope, missing
}

// validScope is what a GitLab scope name looks like (api, read_user).
var validScope = regexp.MustCompile(`^[a-z_]{1,32}$`)

// resetOf reads RateLimit-Reset (a Unix time), else Retry-After (seconds or
// an HTTP date), else RateLimit-ResetTime (an HTTP date); zero when none is
// there.
func resetOf(h http.Header) time.Time {
	if v, err := strconv.ParseInt(h.Get("RateLimit-Reset"), 10, 64); err == nil && v > 0 {
		return time.Unix(v, 0)
	}
	if t := integrations.RetryAfter(h); !t.IsZero() {
		return t
	}
	if t, err := http.ParseTime(h.Get("RateLimit-ResetTime")); err == nil {
		return t
	}
	return time.Time{}
}
