package github

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"time"

	gh "github.com/google/go-github/v62/github"
	"github.com/tandembot/tandem"
	"github.com/tandembot/tandem/integrations"
)

// httpErrors is GitHub's reading of the shared mapping (see
// integrations.HTTPErrors.Map): a rate limit can come as a 403, and its
// reset is in X-RateLimit-Reset.
var httpErrors = integrations.HTTPErrors{
	Provider:    tandem.GitHub,
	Reset:       resetOf,
	RateLimited: rateLimited,
}

// mapError turns a failed GitHub call into the error Tandem's edges
// understand, as integrations.HTTPErrors.Map says. op names the call for
// logs ("search pull requests"); what names its object for people ("the
// pull requests of alice"). errors.As still finds *gh.ErrorResponse or
// *oauth2.RetrieveError, whose request no longer holds the token.
func mapError(op, what string, resp *gh.Response, err error) error {
	return httpErrors.Map(integrations.Failure{Op: op, What: what, Response: httpResponse(resp), Err: err})
}

// refused maps err like mapError and, when GitHub refused or hid the
// resource (EFORBIDDEN, ENOTFOUND), names the account that asked, learned
// from GET /user, since the person reading it may not know which GitHub
// account they linked. Only that path costs the extra request; when it
// fails too, the message says "This GitHub account".
func refused(ctx context.Context, c *gh.Client, op, what string, resp *gh.Response, err error) error {
	return httpErrors.Map(integrations.Failure{
		Op: op, What: what, Response: httpResponse(resp), Err: err,
		Whoami: func() string { return whoami(ctx, c) },
	})
}

func httpResponse(resp *gh.Response) *http.Response {
	if resp == nil {
		return nil
	}
	return resp.Response
}

// whoami returns the login of the account c acts as, "" when GitHub does
// not say.
func whoami(ctx context.Context, c *gh.Client) string {
	u, _, err := c.Users.Get(ctx, "")
	if err != nil {
		return ""
	}
	return u.GetLogin()
}

// rateLimited reports a 403 (or 429) for an exhausted primary rate limit
// (X-RateLimit-Remaining 0) or for the secondary one, which go-github
// recognises by its body.
func rateLimited(f integrations.Failure) bool {
	var (
		rate  *gh.RateLimitError
		abuse *gh.AbuseRateLimitError
	)
	code := f.Response.StatusCode
	return errors.As(f.Err, &rate) || errors.As(f.Err, &abuse) ||
		((code == http.StatusForbidden || code == http.StatusTooManyRequests) && f.Response.Header.Get("X-Ratelimit-Remaining") == "0")
}

// resetOf reads X-RateLimit-Reset (a Unix time), or else Retry-After; zero
// when neither is there.
func resetOf(h http.Header) time.Time {
	if v, err := strconv.ParseInt(h.Get("X-Ratelimit-Reset"), 10, 64); err == nil && v > 0 {
		return time.Unix(v, 0)
	}
	return integrations.RetryAfter(h)
}
