package providertest

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/tandembot/tandem"
	"golang.org/x/oauth2"
)

// Call is one provider call the error suite makes with client, which
// carries the token.
type Call func(ctx context.Context, client *http.Client) error

// RunErrors checks what every call of every provider does when the API
// fails below HTTP, through the shared mapping: a timeout is EUNAVAILABLE
// wrapping context.DeadlineExceeded, an unreachable host EUNAVAILABLE, a
// canceled context a wrapped context.Canceled (no code), and an error the
// token source coded before the request (it arrives through the
// transport) keeps its code and message. calls returns the provider's
// calls with its API at base, as its ConfigFromBase reads base.
func RunErrors(t *testing.T, calls func(t *testing.T, base string) map[string]Call) {
	t.Run("TimeoutIsUnavailable", func(t *testing.T) {
		srv := httptest.NewServer(hang)
		t.Cleanup(srv.Close)
		for name, do := range calls(t, srv.URL) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
			err := do(ctx, http.DefaultClient)
			cancel()
			if tandem.ErrorCode(err) != tandem.EUNAVAILABLE || !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("%s: %v, want EUNAVAILABLE wrapping DeadlineExceeded", name, err)
			}
		}
	})
	t.Run("UnreachableIsUnavailable", func(t *testing.T) {
		srv := httptest.NewServer(http.NotFoundHandler())
		srv.Close()
		for name, do := range calls(t, srv.URL) {
			if err := do(context.Background(), http.DefaultClient); tandem.ErrorCode(err) != tandem.EUNAVAILABLE {
				t.Errorf("%s against a closed server: %v, want EUNAVAILABLE", name, err)
			}
		}
	})
	t.Run("CanceledIsNotCoded", func(t *testing.T) {
		srv := httptest.NewServer(hang)
		t.Cleanup(srv.Close)
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		for name, do := range calls(t, srv.URL) {
			if err := do(ctx, http.DefaultClient); !errors.Is(err, context.Canceled) || tandem.ErrorCode(err) != tandem.EINTERNAL {
				t.Errorf("%s canceled: %v, want a wrapped context.Canceled", name, err)
			}
		}
	})
	t.Run("CodedTransportErrorIsKept", func(t *testing.T) {
		coded := tandem.Errorf(tandem.EUNAVAILABLE, "The provider did not answer a token refresh; try again in a moment.")
		client := &http.Client{Transport: roundTripFunc(func(*http.Request) (*http.Response, error) { return nil, coded })}
		for name, do := range calls(t, "http://127.0.0.1:1") {
			err := do(context.Background(), client)
			if tandem.ErrorCode(err) != tandem.EUNAVAILABLE || tandem.ErrorMessage(err) != coded.Message {
				t.Errorf("%s: %v, want the token source's error", name, err)
			}
		}
	})
}

// hang answers nothing until the client goes away. It reads the body
// first: the server notices a client gone only once the body is read.
var hang = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	_, _ = io.Copy(io.Discard, r.Body)
	<-r.Context().Done()
})

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// CheckRefusedRefresh fails t unless err, from a call whose refresh the
// provider refused, has code and still unwraps to the provider's
// *oauth2.RetrieveError with errorCode, and shows none of tokens (the
// stale access and refresh tokens). what names the call in messages.
func CheckRefusedRefresh(t *testing.T, what string, err error, code, errorCode string, tokens ...string) {
	t.Helper()
	if got := tandem.ErrorCode(err); got != code {
		t.Fatalf("%s with a refused refresh: %v, want %s", what, err, code)
	}
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) || re.ErrorCode != errorCode {
		t.Errorf("%s: errors.As(*oauth2.RetrieveError) lost: %v", what, err)
	}
	for _, tok := range tokens {
		if strings.Contains(err.Error(), tok) {
			t.Errorf("%s: error shows a token: %v", what, err)
		}
	}
}
