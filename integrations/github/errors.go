package github

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"time"

	gh "github.com/google/go-github/v62/github"
	"github.com/tandembot/tandem"
	"golang.org/x/oauth2"
)

// mapError turns a failed GitHub call into the error Tandem's edges
// understand. op names the call for logs ("search pull requests"); what
// names its object for people ("the pull requests of alice").
//
//   - 401, or a refresh GitHub refused (bad_refresh_token, invalid_grant):
//     EUNAUTHORIZED, the token expired or was revoked.
//   - 403 or 429 with x-ratelimit-remaining 0, 429, or a secondary rate
//     limit: ERATELIMITED, saying when the limit resets.
//   - 403: EFORBIDDEN; 404: ENOTFOUND ("this GitHub account cannot see …");
//     409: ECONFLICT.
//   - 5xx, timeouts, unreachable host: EUNAVAILABLE.
//   - anything else: wrapped with %w, an internal error.
//
// The coded error joins the original one, so errors.As still finds
// *gh.ErrorResponse or *oauth2.RetrieveError. Neither carries a token: the
// request kept in the response loses its Authorization header here.
func mapError(op, what string, resp *gh.Response, err error) error {
	return mapErrorAs(op, "", what, resp, err)
}

// mapErrorAs is mapError whose 403 and 404 messages name the GitHub account
// login ("GitHub account alice cannot see acme/secret, …"); "" says "This
// GitHub account".
func mapErrorAs(op, login, what string, resp *gh.Response, err error) error {
	scrub(resp)
	coded := func(e *tandem.Error) error { return fmt.Errorf("github: %s: %w: %w", op, e, err) }

	var (
		rate    *gh.RateLimitError
		abuse   *gh.AbuseRateLimitError
		retrErr *oauth2.RetrieveError
		netErr  net.Error
	)
	switch {
	case errors.As(err, &rate):
		return coded(tandem.ProviderRateLimited(tandem.GitHub, rate.Rate.Reset.Time))
	case errors.As(err, &abuse):
		reset := time.Time{}
		if abuse.RetryAfter != nil {
			reset = time.Now().Add(*abuse.RetryAfter)
		}
		return coded(tandem.ProviderRateLimited(tandem.GitHub, reset))
	case errors.As(err, &retrErr):
		// The token source failed to refresh before the call was made.
		if retrErr.ErrorCode == "bad_refresh_token" || retrErr.ErrorCode == "invalid_grant" ||
			(retrErr.Response != nil && retrErr.Response.StatusCode == http.StatusUnauthorized) {
			return coded(tandem.Errorf(tandem.EUNAUTHORIZED, "GitHub refused to renew the credentials: they expired or were revoked."))
		}
		if retrErr.Response != nil && retrErr.Response.StatusCode >= 500 {
			return coded(tandem.ProviderUnavailable(tandem.GitHub, retrErr.Response.StatusCode))
		}
	case errors.Is(err, context.DeadlineExceeded):
		return coded(tandem.Errorf(tandem.EUNAVAILABLE, "GitHub did not answer in time; try again later."))
	case errors.Is(err, context.Canceled):
		return fmt.Errorf("github: %s: %w", op, err)
	}
	if resp != nil && resp.Response != nil {
		switch code := resp.StatusCode; {
		case code == http.StatusUnauthorized:
			return coded(tandem.Errorf(tandem.EUNAUTHORIZED, "GitHub refused the credentials: they expired or were revoked."))
		case (code == http.StatusForbidden || code == http.StatusTooManyRequests) && resp.Header.Get("X-Ratelimit-Remaining") == "0":
			return coded(tandem.ProviderRateLimited(tandem.GitHub, resetOf(resp.Response)))
		case code == http.StatusTooManyRequests:
			return coded(tandem.ProviderRateLimited(tandem.GitHub, resetOf(resp.Response)))
		case code == http.StatusForbidden:
			return coded(tandem.Errorf(tandem.EFORBIDDEN, "%s is not allowed to see or change %s.", account(login), what))
		case code == http.StatusNotFound:
			return coded(tandem.Errorf(tandem.ENOTFOUND, "%s cannot see %s, or it does not exist.", account(login), what))
		case code == http.StatusConflict:
			return coded(tandem.Errorf(tandem.ECONFLICT, "GitHub reports a conflict on %s: it changed meanwhile; try again.", what))
		case code >= 500:
			return coded(tandem.ProviderUnavailable(tandem.GitHub, code))
		}
	}
	var (
		opErr  *net.OpError
		dnsErr *net.DNSError
	)
	if errors.As(err, &opErr) || errors.As(err, &dnsErr) || (errors.As(err, &netErr) && netErr.Timeout()) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return coded(tandem.Errorf(tandem.EUNAVAILABLE, "Tandem could not reach GitHub; try again later."))
	}
	return fmt.Errorf("github: %s: %w", op, err)
}

// account names a GitHub account in a message: "GitHub account alice", or
// "This GitHub account" when the login is unknown.
func account(login string) string {
	if login == "" {
		return "This GitHub account"
	}
	return "GitHub account " + login
}

// refused maps err like mapError and, when GitHub refused or hid the
// resource (EFORBIDDEN, ENOTFOUND), names the account that asked, learned
// from GET /user, since the person reading it may not know which GitHub
// account they linked. Only that path costs the extra request; when it
// fails too, the message says "This GitHub account".
func refused(ctx context.Context, c *gh.Client, op, what string, resp *gh.Response, err error) error {
	mapped := mapError(op, what, resp, err)
	if code := tandem.ErrorCode(mapped); code != tandem.EFORBIDDEN && code != tandem.ENOTFOUND {
		return mapped
	}
	login := whoami(ctx, c)
	if login == "" {
		return mapped
	}
	return mapErrorAs(op, login, what, resp, err)
}

// whoami returns the login of the account c acts as, "" when GitHub does
// not say.
func whoami(ctx context.Context, c *gh.Client) string {
	u, resp, err := c.Users.Get(ctx, "")
	if err != nil {
		scrub(resp)
		return ""
	}
	return u.GetLogin()
}

// resetOf reads x-ratelimit-reset (a Unix time), or else Retry-After
// (seconds); zero when neither is there.
func resetOf(r *http.Response) time.Time {
	if v, err := strconv.ParseInt(r.Header.Get("X-Ratelimit-Reset"), 10, 64); err == nil && v > 0 {
		return time.Unix(v, 0)
	}
	if v, err := strconv.Atoi(r.Header.Get("Retry-After")); err == nil && v >= 0 {
		return time.Now().Add(time.Duration(v) * time.Second)
	}
	return time.Time{}
}

// scrub drops the Authorization header from the request that go-github
// keeps in its errors, so that no error value holds a token.
func scrub(resp *gh.Response) {
	if resp == nil || resp.Response == nil || resp.Request == nil {
		return
	}
	if resp.Request.Header.Get("Authorization") == "" {
		return
	}
	req := resp.Request.Clone(context.Background())
	req.Header.Del("Authorization")
	resp.Request = req
}
