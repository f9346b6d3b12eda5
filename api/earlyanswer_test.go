package api_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// answerWait bounds how long a test waits for an answer that must come at
// once: it only detects a hang, it is never slept.
const answerWait = 10 * time.Second

// A request without a valid key that declares a body and never sends it is
// answered 401 (or 429) at once, on a connection the server then closes:
// Tandem neither reads nor waits for a stranger's body. net/http would
// otherwise try to drain up to 256 KB of it before writing the answer.
func TestUnauthenticatedBodyIsNotAwaited(t *testing.T) {
	srv, run := newFuzzServer()
	ts := httptest.NewServer(srv.Handler())
	defer ts.Close()
	for _, tt := range []struct {
		name, auth, length string
	}{
		{"no key, 100 kB declared", "", "100000"},
		{"bad key, 100 kB declared", "Authorization: Bearer tdm_wrong_key\r\n", "100000"},
		{"no key, 1 GB declared", "", "1000000000"},
		{"no key, chunked", "", ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			conn, err := net.Dial("tcp", ts.Listener.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			framing := "Content-Length: " + tt.length + "\r\n"
			if tt.length == "" {
				framing = "Transfer-Encoding: chunked\r\n"
			}
			fmt.Fprintf(conn, "POST /api/v1/messages HTTP/1.1\r\nHost: tandem\r\nContent-Type: application/json\r\n%s%s\r\n", tt.auth, framing)
			conn.SetReadDeadline(time.Now().Add(answerWait))
			resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
			if err != nil {
				t.Fatalf("no answer before the body arrived: %v", err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusUnauthorized {
				t.Errorf("status %d, want 401", resp.StatusCode)
			}
			if !resp.Close {
				t.Errorf("the answer keeps the connection open (Connection %q): the rest of the body would be read as the next request", resp.Header.Get("Connection"))
			}
		})
	}
	if len(run.calls) != 0 {
		t.Errorf("ran %d turns", len(run.calls))
	}
}

// The same through a real client whose body never comes (an io.Pipe nobody
// writes): the 401 comes back.
func TestUnauthenticatedPipeBodyGetsAnAnswer(t *testing.T) {
	srv, _ := newFuzzServer()
	ts := httptest.NewServer(srv.Handler())
	defer ts.Close()
	pr, pw := io.Pipe()
	defer pw.Close()
	ctx, cancel := context.WithTimeout(context.Background(), answerWait)
	defer cancel()
	// The transport's body writer blocks in pr.Read; end it with the
	// deadline too, or a missing answer would hang the test instead of
	// failing it.
	stop := context.AfterFunc(ctx, func() { pw.CloseWithError(ctx.Err()) })
	defer stop()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, ts.URL+"/api/v1/messages", pr)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer tdm_not_a_key")
	resp, err := ts.Client().Do(req)
	if err != nil {
		t.Fatalf("no answer while the body was pending: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("status %d, want 401", resp.StatusCode)
	}
}
