package integrations

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/tandembot/tandem"
	"golang.org/x/oauth2"
)

// Failure is one failed call to a provider's API, as HTTPErrors.Map reads
// it.
type Failure struct {
	Op   string // the call, for logs: "search pull requests"
	What string // its object, for people: "acme/widgets#12", "its calendar"
	// Login names the acting account (login or email); "" when unknown.
	Login string
	// Whoami, when Login is "", asks the provider for the acting account's
	// login; it is called at most once, and only for a refusal (EFORBIDDEN,
	// ENOTFOUND) whose message names the account. "" means it could not
	// tell.
	Whoami func() string
	// Response is the provider's answer; nil when none came. Its request
	// loses its Authorization header in Map.
	Response *http.Response
	// Err is what the client library returned; the mapped error wraps it.
	Err error
}

// HTTPErrors maps the failed calls of one provider to Tandem's coded
// errors, the same way and in the same words for every provider. Each
// provider package declares one; the hooks are what its API does its own
// way, and nil hooks do nothing special.
type HTTPErrors struct {
	Provider tandem.ProviderID
	// Reset reads when a rate limit resets from an answer's headers (zero
	// when they do not say). Nil reads Retry-After (RetryAfter).
	Reset func(h http.Header) time.Time
	// RateLimited reports whether an answer other than 429 is a rate limit
	// (GitHub's 403 with X-RateLimit-Remaining 0, Google's 403
	// rateLimitExceeded).
	RateLimited func(f Failure) bool
	// ScopeMissing reports whether a 403 says that the grant lacks a scope
	// Tandem asks for, which connecting again fixes, and names that scope
	// when the provider does ("" otherwise).
	ScopeMissing func(f Failure) (scope string, missing bool)
	// Reason returns the provider's own person-safe explanation of a
	// request it refused as invalid (400, 422), "" when it gives none. A
	// provider with Reason says such refusals are about what the person
	// asked for (EINVALID); without it they are Tandem's bug (internal).
	Reason func(f Failure) string
	// Unauthorized reads a 401 that means something else than expired or
	// revoked credentials (Jira's gateway: a site the grant does not
	// cover); nil answers keep the shared meaning.
	Unauthorized func(f Failure) *tandem.Error
	// Misconfigured names, for the log, a refusal that only Tandem's
	// operator can fix (Google: an API not enabled in Tandem's Cloud
	// project); such a refusal is an internal error. "" means it is not.
	Misconfigured func(f Failure) string
}

// Map turns f into the error Tandem's edges understand, or nil for a nil
// f.Err:
//
//   - an error already coded (the token source's *tandem.Error or
//     *tandem.ExpiredError, which arrive through the transport): kept.
//   - a refresh refused as a dead grant (invalid_grant, GitHub's
//     bad_refresh_token), whatever its HTTP status: EUNAUTHORIZED; a token
//     endpoint's 5xx: EUNAVAILABLE; any other refused refresh
//     (invalid_client, ...) is Tandem's misconfiguration: internal.
//   - 401: EUNAUTHORIZED, the credentials expired or were revoked.
//   - 429, or a rate limit the provider says otherwise: ERATELIMITED,
//     saying when the limit resets.
//   - 403: EFORBIDDEN (asking to connect again when a scope is missing);
//     404: ENOTFOUND; both name the account as AccountName does.
//   - 409: ECONFLICT; 400 and 422: EINVALID with the provider's reason when
//     the provider has Reason, else internal.
//   - 5xx, timeouts, an unreachable host: EUNAVAILABLE.
//   - context.Canceled and anything else: wrapped, an internal error.
//
// The coded error joins f.Err, so errors.As still finds the client
// library's error types and errors.Is context.DeadlineExceeded. Every
// error is prefixed "<provider>: <op>: " for logs.
func (m *HTTPErrors) Map(f Failure) error {
	if f.Err == nil {
		return nil
	}
	Scrub(f.Response)
	prefix := string(m.Provider) + ": " + f.Op
	if why := m.misconfigured(f); why != "" {
		return fmt.Errorf("%s: %s: %w", prefix, why, f.Err)
	}
	if e := m.code(f); e != nil {
		return fmt.Errorf("%s: %w: %w", prefix, e, f.Err)
	}
	return fmt.Errorf("%s: %w", prefix, f.Err)
}

func (m *HTTPErrors) misconfigured(f Failure) string {
	if m.Misconfigured == nil || f.Response == nil {
		return ""
	}
	return m.Misconfigured(f)
}

// code returns the coded error for f, nil for an internal error or one
// coded already.
func (m *HTTPErrors) code(f Failure) *tandem.Error {
	p, err := m.Provider, f.Err
	var (
		already *tandem.Error
		expired *tandem.ExpiredError
		re      *oauth2.RetrieveError
	)
	switch {
	case errors.As(err, &already), errors.As(err, &expired):
		return nil
	case errors.As(err, &re):
		// The token source failed to refresh before the call was made.
		switch {
		case RefreshRefused(re):
			return tandem.Errorf(tandem.EUNAUTHORIZED, "%s refused to renew the credentials: they expired or were revoked.", p.Name())
		case re.Response != nil && re.Response.StatusCode >= 500:
			return tandem.ProviderUnavailable(p, re.Response.StatusCode)
		}
		return nil
	case errors.Is(err, context.DeadlineExceeded):
		return tandem.Errorf(tandem.EUNAVAILABLE, "%s did not answer in time; try again later.", p.Name())
	case errors.Is(err, context.Canceled):
		return nil
	}
	if f.Response != nil {
		if e := m.status(f); e != nil {
			return e
		}
	}
	if unreachable(err) {
		return tandem.Errorf(tandem.EUNAVAILABLE, "Tandem could not reach %s; try again later.", p.Name())
	}
	return nil
}

// status maps the provider's answer f.Response; nil when its status means
// nothing to people.
func (m *HTTPErrors) status(f Failure) *tandem.Error {
	p, code := m.Provider, f.Response.StatusCode
	switch {
	case code == http.StatusUnauthorized:
		if m.Unauthorized != nil {
			if e := m.Unauthorized(f); e != nil {
				return e
			}
		}
		return tandem.Errorf(tandem.EUNAUTHORIZED, "%s refused the credentials: they expired or were revoked.", p.Name())
	case code == http.StatusTooManyRequests || (m.RateLimited != nil && m.RateLimited(f)):
		reset := RetryAfter
		if m.Reset != nil {
			reset = m.Reset
		}
		return tandem.ProviderRateLimited(p, reset(f.Response.Header))
	case code == http.StatusForbidden:
		return m.forbidden(f)
	case code == http.StatusNotFound:
		return tandem.Errorf(tandem.ENOTFOUND, "%s cannot see %s, or it does not exist.", m.account(f), f.What)
	case code == http.StatusConflict:
		return tandem.Errorf(tandem.ECONFLICT, "%s reports a conflict on %s: it changed meanwhile; try again.", p.Name(), f.What)
	case (code == http.StatusBadRequest || code == http.StatusUnprocessableEntity) && m.Reason != nil:
		why := m.Reason(f)
		if why == "" {
			why = "it gave no reason"
		}
		return tandem.Errorf(tandem.EINVALID, "%s refused the request for %s: %s", p.Name(), f.What, why)
	case code >= 500:
		return tandem.ProviderUnavailable(p, code)
	}
	return nil
}

// forbidden is the error for a 403: the grant lacks a scope, or the
// account may not see or change f.What.
func (m *HTTPErrors) forbidden(f Failure) *tandem.Error {
	if m.ScopeMissing != nil {
		if scope, missing := m.ScopeMissing(f); missing {
			lacks := ""
			if scope != "" {
				lacks = " (the grant lacks the " + scope + " scope)"
			}
			return tandem.Errorf(tandem.EFORBIDDEN, "%s did not give Tandem access to %s%s; disconnect %s and connect it again, allowing everything Tandem asks for.",
				m.account(f), f.What, lacks, m.Provider.Name())
		}
	}
	return tandem.Errorf(tandem.EFORBIDDEN, "%s is not allowed to see or change %s.", m.account(f), f.What)
}

// account names the acting account, asking Whoami when Login is unknown.
func (m *HTTPErrors) account(f Failure) string {
	login := f.Login
	if login == "" && f.Whoami != nil {
		login = f.Whoami()
	}
	return AccountName(m.Provider, login)
}

// AccountName names a provider account in a message to people: "GitHub
// account alice", or "This GitHub account" when the login is unknown. Every
// refusal names the account this way, since the person reading it may not
// know which account they linked.
func AccountName(p tandem.ProviderID, login string) string {
	if login == "" {
		return "This " + p.Name() + " account"
	}
	return p.Name() + " account " + login
}

// RefreshRefused reports whether a token endpoint refused a refresh because
// the grant is dead (expired, revoked, or its refresh token spent):
// OAuth's invalid_grant, or GitHub's bad_refresh_token, which GitHub
// answers with HTTP 200. Only such a refusal makes a link need
// reconnecting; a refused client (invalid_client) is Tandem's own
// misconfiguration, which reconnecting would not fix.
func RefreshRefused(re *oauth2.RetrieveError) bool {
	return re != nil && (re.ErrorCode == "invalid_grant" || re.ErrorCode == "bad_refresh_token")
}

// RetryAfter reads Retry-After, in seconds or as an HTTP date; zero when it
// is absent or unreadable.
func RetryAfter(h http.Header) time.Time {
	v := strings.TrimSpace(h.Get("Retry-After"))
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

// unreachable reports whether err says the provider could not be reached
// or dropped the connection.
func unreachable(err error) bool {
	var (
		opErr  *net.OpError
		dnsErr *net.DNSError
		netErr net.Error
	)
	return errors.As(err, &opErr) || errors.As(err, &dnsErr) || (errors.As(err, &netErr) && netErr.Timeout()) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)
}

// Scrub drops the Authorization header from the request that resp keeps
// (and with it every client library error that shares resp), so that no
// error value holds a token. It does nothing for a nil resp.
func Scrub(resp *http.Response) {
	if resp == nil || resp.Request == nil || resp.Request.Header.Get("Authorization") == "" {
		return
	}
	req := resp.Request.Clone(context.Background())
	req.Header.Del("Authorization")
	resp.Request = req
}
