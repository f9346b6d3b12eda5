package providertest

import (
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
)

// Elsewhere is a loopback server that stands for a host other than the
// provider's (another port is another host to http.Client): it records
// what reaches it, so that a test can prove that a credential never does.
type Elsewhere struct {
	URL string

	mu  sync.Mutex
	got []Arrival
}

// Arrival is one request that reached an Elsewhere.
type Arrival struct {
	Authorization string
	Header        http.Header
	Body          string
}

// NewElsewhere starts an Elsewhere that answers every request with status
// and body (JSON when body is not empty); it closes when t ends.
func NewElsewhere(t testing.TB, status int, body string) *Elsewhere {
	t.Helper()
	e := &Elsewhere{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		e.mu.Lock()
		e.got = append(e.got, Arrival{Authorization: r.Header.Get("Authorization"), Header: r.Header.Clone(), Body: string(b)})
		e.mu.Unlock()
		if body != "" {
			w.Header().Set("Content-Type", "application/json")
		}
		w.WriteHeader(status)
		io.WriteString(w, body)
	}))
	t.Cleanup(srv.Close)
	e.URL = srv.URL
	return e
}

// Arrivals returns the requests that reached e so far, oldest first.
func (e *Elsewhere) Arrivals() []Arrival {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]Arrival(nil), e.got...)
}

// Redirect is a handler that answers every request with a 307 to the same
// path on e, as a provider (or an attacker in its place) could: a client
// that follows it repeats the request there, body included.
func (e *Elsewhere) Redirect(w http.ResponseWriter, r *http.Request) {
	http.Redirect(w, r, e.URL+r.URL.Path, http.StatusTemporaryRedirect)
}

// WantNothing fails t when any request reached e.
func (e *Elsewhere) WantNothing(t testing.TB) {
	t.Helper()
	if got := e.Arrivals(); len(got) != 0 {
		t.Errorf("the other host got %+v, want nothing", got)
	}
}
