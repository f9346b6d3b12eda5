// Package fakeoauth holds the mechanics the fake OAuth providers
// (fakegithub, fakegitlab, fakejira, fakegoogle) share: the loopback server's
// lifecycle, latency and outage injection, and the PKCE and redirect
// helpers of the authorization-code flow. Everything that a real provider
// does its own way (paths, error bodies, token formats) stays in the fakes.
package fakeoauth

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"sync"
	"time"
)

// Handler answers one request after the latency has passed; outage is the
// status set by SetOutage, 0 when there is none. The handler decides how an
// outage looks, since every provider shows it differently.
type Handler func(w http.ResponseWriter, r *http.Request, outage int)

// Base is a fake provider's HTTP server: it listens on loopback, delays
// answers by the injected latency and hands every request with the current
// outage to the provider's Handler. Embed a *Base (from NewBase) in the
// provider's Server. A Base is safe for concurrent use; its lock is its
// own, so the provider may call URL while holding its lock.
type Base struct {
	name   string
	addr   string
	handle Handler
	http   *http.Server

	mu      sync.Mutex
	url     string
	ln      net.Listener
	done    chan struct{}
	outage  int
	latency time.Duration
	busy    int           // requests being answered, latency included
	idle    chan struct{} // closed while busy is 0
}

// NewBase returns a server that will listen on addr and pass requests to
// handle; name ("fakegithub") prefixes its errors. It does not listen until
// Start.
func NewBase(name, addr string, handle Handler) *Base {
	b := &Base{name: name, addr: addr, handle: handle, idle: make(chan struct{})}
	close(b.idle)
	b.http = &http.Server{
		Handler:           http.HandlerFunc(b.serveHTTP),
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          log.New(io.Discard, "", 0), // the fakes never log
	}
	return b
}

// Start listens on the configured address and serves in the background. It
// returns an error when the address cannot be bound or the server was
// started before.
func (b *Base) Start() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.ln != nil {
		return errors.New(b.name + ": already started")
	}
	ln, err := net.Listen("tcp", b.addr)
	if err != nil {
		return fmt.Errorf("%s: listen: %w", b.name, err)
	}
	b.ln = ln
	b.url = "http://" + ln.Addr().String()
	b.done = make(chan struct{})
	go func() {
		defer close(b.done)
		_ = b.http.Serve(ln) // returns http.ErrServerClosed on Close
	}()
	return nil
}

// Close stops the server and drops open connections. It is safe to call
// more than once, and before Start.
func (b *Base) Close() {
	b.mu.Lock()
	done := b.done
	b.mu.Unlock()
	_ = b.http.Close()
	if done != nil {
		<-done
	}
}

// URL returns the base URL, "http://127.0.0.1:PORT", or "" before Start.
func (b *Base) URL() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.url
}

// SetOutage makes every request answer status (a 5xx, say) in the
// provider's own way; 0 ends the outage.
func (b *Base) SetOutage(status int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.outage = status
}

// SetLatency delays every response by d; 0 removes the delay. A request
// whose context ends first gets no answer.
func (b *Base) SetLatency(d time.Duration) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.latency = d
}

// WaitIdle returns once no request is being answered, those still in
// their latency included, or ctx's error when it ends first. A client that
// dies after sending a request with a body does not cancel it: Go's server
// notices a closed connection only once the handler has read the body, so
// the request is answered (and counted by the fake) when its latency has
// passed. A test that kills a client waits here before it counts what the
// fake received.
func (b *Base) WaitIdle(ctx context.Context) error {
	b.mu.Lock()
	idle := b.idle
	b.mu.Unlock()
	select {
	case <-idle:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (b *Base) serveHTTP(w http.ResponseWriter, r *http.Request) {
	b.mu.Lock()
	latency, outage := b.latency, b.outage
	if b.busy == 0 {
		b.idle = make(chan struct{})
	}
	b.busy++
	b.mu.Unlock()
	defer func() {
		b.mu.Lock()
		if b.busy--; b.busy == 0 {
			close(b.idle)
		}
		b.mu.Unlock()
	}()
	if latency > 0 {
		t := time.NewTimer(latency)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			return
		}
	}
	b.handle(w, r, outage)
}

// Defaults fills in the option defaults every fake shares: the client
// "fake-client-id" / "fake-client-secret", the app name "Tandem", the
// address "127.0.0.1:0" and the clock time.Now.
func Defaults(clientID, clientSecret, appName, addr *string, now *func() time.Time) {
	for _, d := range []struct {
		p *string
		v string
	}{
		{clientID, "fake-client-id"}, {clientSecret, "fake-client-secret"},
		{appName, "Tandem"}, {addr, "127.0.0.1:0"},
	} {
		if *d.p == "" {
			*d.p = d.v
		}
	}
	if *now == nil {
		*now = time.Now
	}
}
