package tandem

import (
	"errors"
	"fmt"
	"time"
)

// Error codes. Only the edges (bot, HTTP) turn them into words for people.
const (
	ECONFLICT     = "conflict"
	EINTERNAL     = "internal"
	EINVALID      = "invalid"
	ENOTFOUND     = "not_found"
	EUNAUTHORIZED = "unauthorized"
	EFORBIDDEN    = "forbidden"
	EUNAVAILABLE  = "unavailable"
	ERATELIMITED  = "rate_limited"
	// ECHANNELNOTALLOWED: the person a turn would act as (an API key's
	// creator) is not a member of the conversation it was asked to run in.
	ECHANNELNOTALLOWED = "channel_not_allowed"
	// EUNKNOWNCOMMAND: a message addressed to Tandem is none of its
	// commands; the message names the closest ones.
	EUNKNOWNCOMMAND = "unknown_command"
	// ELIMIT: a per-person limit (such as TANDEM_SCHEDULES_PER_USER) is
	// reached.
	ELIMIT = "limit"
	// ENOTHELD: a step conditional on a lease (TurnStep.Hold) found the
	// lease taken by another owner, released or expired.
	ENOTHELD = "not_held"
)

// Error is an application error whose Message is safe to show a person.
type Error struct {
	Code    string
	Message string
}

func (e *Error) Error() string {
	return fmt.Sprintf("tandem error: code=%s message=%s", e.Code, e.Message)
}

// Errorf builds an *Error with a formatted, person-safe message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the code of the first *Error in err's chain, EINTERNAL
// for any other non-nil error, and "" for nil.
func ErrorCode(err error) string {
	var e *Error
	if err == nil {
		return ""
	} else if errors.As(err, &e) {
		return e.Code
	}
	return EINTERNAL
}

// ErrorMessage returns the person-safe message of err, or a generic one for
// internal errors, whose details belong in logs only.
func ErrorMessage(err error) string {
	var e *Error
	if err == nil {
		return ""
	} else if errors.As(err, &e) {
		return e.Message
	}
	return "Something went wrong on Tandem's side; the details are in its log."
}

// ErrNotFound is returned by stores for a missing record.
var ErrNotFound = &Error{Code: ENOTFOUND, Message: "not found"}

// ProviderUnavailable is the person-safe error for a provider's 5xx answer.
func ProviderUnavailable(p ProviderID, status int) *Error {
	return Errorf(EUNAVAILABLE, "%s is unavailable (HTTP %d); try again later.", p.Name(), status)
}

// ProviderRateLimited says whose limit was hit and when it resets, in UTC
// since Tandem does not know the reader's time zone; a zero reset asks for a
// few minutes' patience.
func ProviderRateLimited(p ProviderID, reset time.Time) *Error {
	if reset.IsZero() {
		return Errorf(ERATELIMITED, "This %s account hit %s's rate limit; try again in a few minutes.", p.Name(), p.Name())
	}
	return Errorf(ERATELIMITED, "This %s account hit %s's rate limit; it resets at %s.", p.Name(), p.Name(), reset.UTC().Format("15:04 UTC"))
}

// ErrAccountLinkedElsewhere is returned when a provider account is already
// linked to another Slack user of the same workspace: one provider account
// acts for at most one Slack user per workspace. The message never names
// that other user.
var ErrAccountLinkedElsewhere = &Error{Code: ECONFLICT, Message: "This account is already linked to another Slack user in this workspace."}
