package fakellm

import (
	"bytes"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
)

// Options configures a fake server.
type Options struct {
	Key    string // the only API key accepted; empty accepts none
	Script Script // answers each decoded request; nil answers Text("ok")
}

// Request is one request the fake received, kept whether it was answered,
// rejected or left hanging.
type Request struct {
	Method string
	Path   string
	Header http.Header
	Body   []byte
	// Conversation is the decoded request; nil when the request was rejected
	// before or while decoding (wrong path, key or body).
	Conversation *Conversation
}

// Server is a fake model provider on loopback. Its methods are safe for
// concurrent use.
type Server struct {
	// URL is the server's root, e.g. http://127.0.0.1:1234.
	URL string

	d    dialect
	opts Options
	srv  *httptest.Server
	quit chan struct{}

	mu       sync.Mutex
	requests []Request
	ids      int
}

// dialect is what differs between the providers.
type dialect interface {
	name() string
	path() string
	// authorize returns a non-empty message when the request's credentials
	// are missing or wrong, and the status to answer with.
	authorize(r *http.Request, key string) (int, string)
	decode(body []byte) (Conversation, error)
	answer(w http.ResponseWriter, c Conversation, rep Reply, id func(prefix string) string)
	fail(w http.ResponseWriter, status int, msg string)
}

func start(t testing.TB, d dialect, opts Options) *Server {
	t.Helper()
	if opts.Script == nil {
		opts.Script = func(Conversation) Reply { return Text("ok") }
	}
	s := &Server{d: d, opts: opts, quit: make(chan struct{})}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	s.URL = s.srv.URL
	t.Cleanup(s.Close)
	return s
}

// Close releases hanging requests and stops the server; later calls do nothing.
func (s *Server) Close() {
	select {
	case <-s.quit:
		return
	default:
	}
	close(s.quit)
	s.srv.Close()
}

// Requests returns copies of every request received so far, in order.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Request, len(s.requests))
	for i, r := range s.requests {
		r.Header = r.Header.Clone()
		r.Body = slices.Clone(r.Body)
		if r.Conversation != nil {
			c := r.Conversation.clone()
			r.Conversation = &c
		}
		out[i] = r
	}
	return out
}

// Calls returns how many requests were received, rejected ones included.
func (s *Server) Calls() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.requests)
}

func (s *Server) id(prefix string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ids++
	return fmt.Sprintf("%s_fake_%04d", prefix, s.ids)
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(io.LimitReader(r.Body, 32<<20))
	s.mu.Lock()
	i := len(s.requests)
	s.requests = append(s.requests, Request{Method: r.Method, Path: r.URL.Path, Header: r.Header.Clone(), Body: body})
	s.mu.Unlock()

	if r.URL.Path != s.d.path() {
		s.d.fail(w, http.StatusNotFound, fmt.Sprintf("fakellm: no route %s %s (%s serves POST %s)", r.Method, r.URL.Path, s.d.name(), s.d.path()))
		return
	}
	if r.Method != http.MethodPost {
		s.d.fail(w, http.StatusMethodNotAllowed, "fakellm: only POST is served")
		return
	}
	if status, msg := s.d.authorize(r, s.opts.Key); msg != "" {
		s.d.fail(w, status, msg)
		return
	}
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		s.d.fail(w, http.StatusBadRequest, "fakellm: Content-Type must be application/json, got "+ct)
		return
	}
	c, err := s.d.decode(body)
	if err != nil {
		s.d.fail(w, http.StatusBadRequest, err.Error())
		return
	}
	c.Provider = s.d.name()
	s.mu.Lock()
	kept := c.clone()
	s.requests[i].Conversation = &kept
	s.mu.Unlock()

	rep := s.opts.Script(c.clone())
	switch {
	case rep.Hang:
		select {
		case <-r.Context().Done():
		case <-s.quit:
		}
	case rep.Status >= 400:
		if rep.RetryAfter != "" {
			w.Header().Set("Retry-After", rep.RetryAfter)
		}
		s.d.fail(w, rep.Status, rep.Message)
	case rep.Body != "":
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, rep.Body)
	default:
		s.d.answer(w, c, rep, s.id)
	}
}

// writeJSON answers v as JSON with status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// strict decodes data into v and fails on unknown fields, on trailing data
// and on JSON null for the whole value.
func strict(data []byte, v any) error {
	if bytes.Equal(bytes.TrimSpace(data), []byte("null")) {
		return errors.New("null where a value is required")
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return errors.New("data after the JSON value")
	}
	return nil
}

// toolName is the name rule both providers apply to tools (OpenAI API
// reference, function.name; Anthropic tools name).
var toolName = regexp.MustCompile(`^[a-zA-Z0-9_-]{1,64}$`)

// checkSchema fails unless raw is a JSON object whose "type" is "object",
// which both providers require of a tool's parameters.
func checkSchema(raw json.RawMessage) error {
	var s map[string]json.RawMessage
	if err := json.Unmarshal(raw, &s); err != nil || s == nil {
		return errors.New("the schema must be a JSON object")
	}
	if string(s["type"]) != `"object"` {
		return fmt.Errorf(`the schema's type must be "object", got %s`, s["type"])
	}
	return nil
}

// compact returns args compacted when it is valid JSON, else unchanged.
func compact(args []byte) string {
	var b bytes.Buffer
	if json.Compact(&b, args) != nil {
		return string(args)
	}
	return b.String()
}

// tokens is a rough token count for usage figures.
func tokens(n int) int { return n/4 + 1 }

// keyMatches compares in constant time so the fake does not model a leak.
func keyMatches(got, want string) bool {
	return want != "" && subtle.ConstantTimeCompare([]byte(got), []byte(want)) == 1
}
