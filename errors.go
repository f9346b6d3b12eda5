package tandem

import (
	"errors"
	"fmt"
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
