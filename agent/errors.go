package agent

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/tandembot/tandem"
)

// Sentinels for errors.Is; each comes wrapped with a *tandem.Error whose
// code and message are for the edges.
var (
	// ErrTooManyCalls: the model asked for more than Request.MaxCalls tool
	// calls (code EINVALID: the request was too broad for one turn).
	ErrTooManyCalls = errors.New("agent: tool call limit reached")
	// ErrBadToolCalls: the model kept calling unknown tools or giving
	// arguments that do not fit (code EINTERNAL).
	ErrBadToolCalls = errors.New("agent: too many invalid tool calls")
	// ErrTimeout: the turn's context deadline passed (code EUNAVAILABLE).
	ErrTimeout = errors.New("agent: turn timed out")
)

// Stop marks an Executor error that must end the turn (a store or audit
// failure, a refusal by the identity rule); Run returns it wrapped, so
// errors.Is and errors.As still find err. Stop(nil) is nil.
func Stop(err error) error {
	if err == nil {
		return nil
	}
	return &stopError{err}
}

type stopError struct{ err error }

func (e *stopError) Error() string { return e.err.Error() }
func (e *stopError) Unwrap() error { return e.err }

// StopsTurn reports whether an Executor error ends the turn instead of
// going back to the model: credentials missing or dead
// (*tandem.NotConnectedError, *tandem.ExpiredError, code EUNAUTHORIZED) or
// an error marked with Stop. (The turn's context ending stops it too, as
// ErrTimeout, whatever the error.)
func StopsTurn(err error) bool {
	var nc *tandem.NotConnectedError
	var ex *tandem.ExpiredError
	var st *stopError
	return errors.As(err, &nc) || errors.As(err, &ex) || errors.As(err, &st) ||
		tandem.ErrorCode(err) == tandem.EUNAUTHORIZED
}

// both wraps a sentinel with the edge's code and words.
func both(sentinel error, code, format string, args ...any) error {
	return fmt.Errorf("%w: %w", sentinel, tandem.Errorf(code, format, args...))
}

// timeoutError ends a turn whose context is done: ErrTimeout for a
// deadline (or a cancellation whose cause is one), the context's own error
// for any other cancellation.
func timeoutError(ctx context.Context) error {
	if errors.Is(context.Cause(ctx), context.DeadlineExceeded) {
		return both(ErrTimeout, tandem.EUNAVAILABLE, "The agent ran out of time before finishing; nothing was changed. Try a narrower request.")
	}
	return fmt.Errorf("agent: %w", ctx.Err())
}

// apiFailure is what a model endpoint answered, without its body.
type apiFailure struct {
	status    int
	kind      string // the error type the API gave, if any
	requestID string
	message   string // the API's message, with the key redacted
}

// modelError maps a failed model call to a tandem code. The SDK errors'
// own texts are never kept (Anthropic's holds the URL and raw body); the
// API's message goes only into the internal part, with key redacted.
func modelError(ctx context.Context, api, key string, f *apiFailure, err error) error {
	const internal = "The language model refused Tandem's request (HTTP %d); whoever runs Tandem should check its TANDEM_LLM settings."
	switch {
	case ctx.Err() != nil:
		return timeoutError(ctx)
	case errors.Is(err, context.DeadlineExceeded):
		return fmt.Errorf("agent: %s: no answer within the request timeout: %w", api, tandem.Errorf(tandem.EUNAVAILABLE, "The language model did not answer in time; nothing was changed. Try again later."))
	case f == nil:
		return fmt.Errorf("agent: %s: %s: %w", api, redact(err.Error(), key), tandem.Errorf(tandem.EUNAVAILABLE, "The language model could not be reached or gave an answer Tandem cannot read; nothing was changed."))
	}
	detail := fmt.Sprintf("agent: %s: HTTP %d %s (request %s): %s", api, f.status, f.kind, f.requestID, clip(redact(f.message, key)))
	switch {
	case f.status == http.StatusTooManyRequests:
		return fmt.Errorf("%s: %w", detail, tandem.Errorf(tandem.EUNAVAILABLE, "The language model is rate limited right now; nothing was changed. Try again in a few minutes."))
	case f.status >= 500 || f.status == http.StatusRequestTimeout:
		return fmt.Errorf("%s: %w", detail, tandem.Errorf(tandem.EUNAVAILABLE, "The language model is unavailable (HTTP %d); nothing was changed. Try again later.", f.status))
	}
	return fmt.Errorf("%s: %w", detail, tandem.Errorf(tandem.EINTERNAL, internal, f.status))
}

// redact removes key from s.
func redact(s, key string) string {
	if key == "" {
		return s
	}
	return strings.ReplaceAll(s, key, "[redacted]")
}
