package fakeoauth

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"
)

func TestBaseOutageAndLifecycle(t *testing.T) {
	b := NewBase("fakex", "127.0.0.1:0", func(w http.ResponseWriter, r *http.Request, outage int) {
		if outage != 0 {
			w.WriteHeader(outage)
			return
		}
		io.WriteString(w, "ok")
	})
	if b.URL() != "" {
		t.Fatal("URL before Start")
	}
	if err := b.Start(); err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if b.Start() == nil {
		t.Error("second Start succeeded")
	}
	get := func() int {
		resp, err := http.Get(b.URL())
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if got := get(); got != 200 {
		t.Errorf("status %d", got)
	}
	b.SetOutage(503)
	if got := get(); got != 503 {
		t.Errorf("outage: status %d", got)
	}
}

// TestWaitIdleWaitsForADeadClientsRequest: a request whose client has
// gone is still being answered, and WaitIdle returns only once it is.
func TestWaitIdleWaitsForADeadClientsRequest(t *testing.T) {
	entered, release, bodies := make(chan struct{}), make(chan struct{}), make(chan string, 1)
	b := NewBase("fakex", "127.0.0.1:0", func(w http.ResponseWriter, r *http.Request, outage int) {
		close(entered)
		<-release
		body, _ := io.ReadAll(r.Body)
		bodies <- string(body)
	})
	if err := b.Start(); err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if err := b.WaitIdle(context.Background()); err != nil {
		t.Fatalf("WaitIdle before any request: %v", err)
	}
	c, err := net.Dial("tcp", strings.TrimPrefix(b.URL(), "http://"))
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(c, "POST /x HTTP/1.1\r\nHost: fakex\r\nContent-Length: 7\r\n\r\ncomment")
	<-entered
	c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if err := b.WaitIdle(ctx); err != context.DeadlineExceeded {
		t.Fatalf("WaitIdle while a request is answered: %v, want the context's deadline", err)
	}
	close(release)
	if err := b.WaitIdle(context.Background()); err != nil {
		t.Fatal(err)
	}
	select {
	case body := <-bodies:
		if body != "comment" {
			t.Errorf("the dead client's request carried %q, want \"comment\"", body)
		}
	default:
		t.Error("WaitIdle returned before the request was answered")
	}
}

func TestPKCE(t *testing.T) {
	v := oauth2.GenerateVerifier()
	c := oauth2.S256ChallengeFromVerifier(v) // x/oauth2's own implementation
	if S256(v) != c || !VerifyS256(c, v) || VerifyS256(c, v+"x") || !ValidChallenge(c) || ValidChallenge("short") {
		t.Errorf("S256 helpers disagree with x/oauth2 for %q", v)
	}
}

func TestRedirectError(t *testing.T) {
	w := httptest.NewRecorder()
	if err := RedirectError(w, httptest.NewRequest("GET", "/", nil), "http://cb/x?a=1", "st", "access_denied", "no", nil); err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(w.Header().Get("Location"))
	if q := u.Query(); w.Code != 302 || q.Get("a") != "1" || q.Get("state") != "st" || q.Get("error") != "access_denied" {
		t.Errorf("redirect %d %s", w.Code, u)
	}
}

func TestStats(t *testing.T) {
	st := NewStats(func(s string) string { return s + "!" }, "alice")
	st.TokenRequest()
	st.Refreshed("bob")
	if st.PKCEUsed() {
		t.Error("PKCEUsed with no codes")
	}
	st.CodeIssued(true)
	if !st.PKCEUsed() || st.TokenRequests() != 1 || st.AutoConsent() != "alice" {
		t.Error("stats")
	}
	st.CodeIssued(false)
	if st.PKCEUsed() {
		t.Error("PKCEUsed after a code without a challenge")
	}
	var l Log[int]
	if l.Add(7) != 1 || len(l.All()) != 1 {
		t.Error("log")
	}
}
