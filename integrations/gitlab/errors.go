package gitlab

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/tandembot/tandem"
	gl "gitlab.com/gitlab-org/api/client-go"
	"golang.org/x/oauth2"
)

// mapError turns a failed GitLab call into the error Tandem's edges
// understand. op names the call for logs ("list merge requests"); what
// names its object for people ("the project acme/widgets").
//
//   - 401, or a refresh GitLab refused with invalid_grant: EUNAUTHORIZED,
//     the token expired or was revoked.
//   - 429: ERATELIMITED, saying when the limit resets (RateLimit-Reset,
//     else Retry-After).
//   - 403: EFORBIDDEN ("this GitLab account is not allowed …", or, for
//     insufficient_scope, that the grant lacks the api scope); 404:
//     ENOTFOUND ("this GitLab account cannot see …"); 409: ECONFLICT.
//   - 5xx, timeouts, unreachable host: EUNAVAILABLE.
//   - anything else: wrapped with %w, an internal error.
//
// The coded error joins the original one, so errors.As still finds
// *gl.ErrorResponse or *oauth2.RetrieveError (and errors.Is
// gl.ErrNotFound). None carries a token: the request kept in the
// response loses its Authorization header here.
func mapError(op, what string, resp *gl.Response, err error) error {
	var hr *http.Response
	if resp != nil {
		hr = resp.Response
	}
	return mapHTTP(op, what, hr, err)
}

func mapHTTP(op, what string, resp *http.Response, err error) error {
	scrub(resp, err)
	coded := func(e *tandem.Error) error { return fmt.Errorf("gitlab: %s: %w: %w", op, e, err) }

	var (
		retrErr *oauth2.RetrieveError
		netErr  net.Error
	)
	switch {
	case errors.As(err, &retrErr):
		// The token source failed to refresh before the call was made.
		// invalid_client is Tandem's own misconfiguration, not the user's,
		// so it stays an internal error.
		if retrErr.ErrorCode == "invalid_grant" {
			return coded(tandem.Errorf(tandem.EUNAUTHORIZED, "GitLab refused to renew the credentials: they expired or were revoked."))
		}
		if retrErr.Response != nil && retrErr.Response.StatusCode >= 500 {
			return coded(tandem.ProviderUnavailable(tandem.GitLab, retrErr.Response.StatusCode))
		}
		return fmt.Errorf("gitlab: %s: %w", op, err)
	case errors.Is(err, context.DeadlineExceeded):
		return coded(tandem.Errorf(tandem.EUNAVAILABLE, "GitLab did not answer in time; try again later."))
	case errors.Is(err, context.Canceled):
		return fmt.Errorf("gitlab: %s: %w", op, err)
	}
	if resp != nil {
		switch code := resp.StatusCode; {
		case code == http.StatusUnauthorized:
			return coded(tandem.Errorf(tandem.EUNAUTHORIZED, "GitLab refused the credentials: they expired or were revoked."))
		case code == http.StatusTooManyRequests:
			return coded(tandem.ProviderRateLimited(tandem.GitLab, resetOf(resp)))
		case code == http.StatusForbidden && insufficientScope(resp, err):
			return coded(tandem.Errorf(tandem.EFORBIDDEN, "Tandem's access to this GitLab account lacks the api scope; disconnect GitLab and connect it again."))
		case code == http.StatusForbidden:
			return coded(tandem.Errorf(tandem.EFORBIDDEN, "This GitLab account is not allowed to see or change %s.", what))
		case code == http.StatusNotFound:
			return coded(tandem.Errorf(tandem.ENOTFOUND, "This GitLab account cannot see %s, or it does not exist.", what))
		case code == http.StatusConflict:
			return coded(tandem.Errorf(tandem.ECONFLICT, "GitLab reports a conflict on %s: it changed meanwhile; try again.", what))
		case code >= 500:
			return coded(tandem.ProviderUnavailable(tandem.GitLab, code))
		}
	}
	var (
		opErr  *net.OpError
		dnsErr *net.DNSError
	)
	if errors.As(err, &opErr) || errors.As(err, &dnsErr) || (errors.As(err, &netErr) && netErr.Timeout()) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return coded(tandem.Errorf(tandem.EUNAVAILABLE, "Tandem could not reach GitLab; try again later."))
	}
	return fmt.Errorf("gitlab: %s: %w", op, err)
}

// insufficientScope reports whether a 403 says that the token lacks a
// scope: GitLab answers {"error":"insufficient_scope",...}, without the
// WWW-Authenticate header RFC 6750 asks for, so the body decides.
func insufficientScope(resp *http.Response, err error) bool {
	if strings.Contains(resp.Header.Get("WWW-Authenticate"), "insufficient_scope") {
		return true
	}
	var er *gl.ErrorResponse
	if !errors.As(err, &er) {
		return false
	}
	var body struct {
		Error string `json:"error"`
	}
	return json.Unmarshal(er.Body, &body) == nil && body.Error == "insufficient_scope"
}

// resetOf reads RateLimit-Reset (a Unix time), else Retry-After (seconds or
// an HTTP date), else RateLimit-ResetTime (an HTTP date); zero when none is
// there.
func resetOf(r *http.Response) time.Time {
	h := r.Header
	if v, err := strconv.ParseInt(h.Get("RateLimit-Reset"), 10, 64); err == nil && v > 0 {
		return time.Unix(v, 0)
	}
	if ra := h.Get("Retry-After"); ra != "" {
		if v, err := strconv.Atoi(ra); err == nil && v >= 0 {
			return time.Now().Add(time.Duration(v) * time.Second)
		}
		if t, err := http.ParseTime(ra); err == nil {
			return t
		}
	}
	if t, err := http.ParseTime(h.Get("RateLimit-ResetTime")); err == nil {
		return t
	}
	return time.Time{}
}

// scrub drops the Authorization header from the request that the response
// (and client-go's *ErrorResponse, which shares it) keeps, so that no error
// value holds a token.
func scrub(resp *http.Response, err error) {
	var er *gl.ErrorResponse
	if errors.As(err, &er) && er.Response != nil && er.Response != resp {
		scrub(er.Response, nil)
	}
	if resp == nil || resp.Request == nil || resp.Request.Header.Get("Authorization") == "" {
		return
	}
	req := resp.Request.Clone(context.Background())
	req.Header.Del("Authorization")
	resp.Request = req
}
