package api_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tandembot/tandem"
	"github.com/tandembot/tandem/api"
)

// The request rules of POST /api/v1/messages, written out again here so
// the fuzz targets check DecodeMessage against the contract rather than
// against its own regular expressions.
var (
	wantChannel  = regexp.MustCompile(`^[CGD][A-Z0-9]{2,20}$`)
	wantThreadTS = regexp.MustCompile(`^[0-9]{1,12}\.[0-9]{1,8}$`)
)

const (
	wantMaxText = 4000
	wantMaxBody = 64 << 10
)

// apiCodes is every error.code the API documents (api/keys.go).
var apiCodes = map[string]bool{
	api.CodeInvalidKey: true, api.CodeKeyRevoked: true, api.CodeKeyExpired: true,
	api.CodeNotConfigured: true, api.CodeExpired: true, api.CodeForbidden: true,
	api.CodeBadRequest: true, api.CodeTooManyAttempts: true, api.CodeInternal: true,
	api.CodeProviderProblems: true, api.CodeChannelNotAllowed: true, api.CodeUnknownCommand: true,
}

// checkAccepted fails t unless m, which DecodeMessage accepted from body,
// obeys every rule of a message request.
func checkAccepted(t *testing.T, body []byte, m api.MessageRequest) {
	t.Helper()
	if !wantChannel.MatchString(m.Channel) {
		t.Fatalf("accepted channel %q from %q", m.Channel, body)
	}
	if m.ThreadTS != "" && !wantThreadTS.MatchString(m.ThreadTS) {
		t.Fatalf("accepted thread_ts %q from %q", m.ThreadTS, body)
	}
	if strings.TrimSpace(m.Text) == "" {
		t.Fatalf("accepted blank text from %q", body)
	}
	if len(m.Text) > wantMaxText {
		t.Fatalf("accepted %d bytes of text", len(m.Text))
	}
	// One JSON object and nothing else: the whole body is one value.
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(body, &fields); err != nil {
		t.Fatalf("accepted a body that is not exactly one JSON object (%v): %q", err, body)
	}
	// No unknown fields. encoding/json matches names case-insensitively
	// (Unicode simple folding), so "Channel" is the channel field, not an
	// unknown one; anything else must be refused.
	for k := range fields {
		if !strings.EqualFold(k, "channel") && !strings.EqualFold(k, "thread_ts") && !strings.EqualFold(k, "text") {
			t.Fatalf("accepted unknown field %q in %q", k, body)
		}
	}
	// What was accepted survives a round trip unchanged.
	again, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	m2, err := api.DecodeMessage(bytes.NewReader(again))
	if err != nil {
		t.Fatalf("re-encoded request %s refused: %v", again, err)
	}
	if m2 != m {
		t.Fatalf("round trip changed the request: %+v, then %+v", m, m2)
	}
}

// FuzzDecodeMessage: DecodeMessage never panics, fails only with EINVALID,
// and whatever it accepts obeys every rule of a message request. The seed
// corpus is in testdata/fuzz/FuzzDecodeMessage.
func FuzzDecodeMessage(f *testing.F) {
	f.Add([]byte(`{"channel":"C0123ABCD","text":"list my open PRs"}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		m, err := api.DecodeMessage(bytes.NewReader(body))
		if err != nil {
			if tandem.ErrorCode(err) != tandem.EINVALID {
				t.Fatalf("DecodeMessage(%q) failed with code %q, want %q", body, tandem.ErrorCode(err), tandem.EINVALID)
			}
			return
		}
		checkAccepted(t, body, m)
	})
}

// memKeys is an in-memory api.KeyStore.
type memKeys struct {
	mu    sync.Mutex
	keys  map[string]tandem.APIKey // by hash
	audit []tandem.AuditRecord
}

func (s *memKeys) SaveAPIKey(_ context.Context, k tandem.APIKey) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.keys[k.Hash] = k
	return nil
}

func (s *memKeys) APIKeyByHash(_ context.Context, hash string) (tandem.APIKey, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	k, ok := s.keys[hash]
	if !ok {
		return tandem.APIKey{}, tandem.ErrNotFound
	}
	return k, nil
}

func (s *memKeys) APIKeys(_ context.Context, team, creator string) ([]tandem.APIKey, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []tandem.APIKey
	for _, k := range s.keys {
		if k.Team == team && (creator == "" || k.Creator == creator) {
			out = append(out, k)
		}
	}
	return out, nil
}

func (s *memKeys) UpdateAPIKey(_ context.Context, prefix string, fn func(*tandem.APIKey) error) (tandem.APIKey, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for h, k := range s.keys {
		if k.Prefix == prefix {
			if err := fn(&k); err != nil {
				return tandem.APIKey{}, err
			}
			s.keys[h] = k
			return k, nil
		}
	}
	return tandem.APIKey{}, tandem.ErrNotFound
}

func (s *memKeys) AppendAudit(_ context.Context, r tandem.AuditRecord) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.audit = append(s.audit, r)
	return nil
}

// refusals returns the apikey_refused records appended so far.
func (s *memKeys) refusals() []tandem.AuditRecord {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []tandem.AuditRecord
	for _, r := range s.audit {
		if r.Action == tandem.ActionAPIKeyRefused {
			out = append(out, r)
		}
	}
	return out
}

// apiRun is one call of the fake Runner.
type apiRun struct {
	key                     tandem.APIKey
	channel, threadTS, text string
}

// fakeRunner records its calls and always succeeds.
type fakeRunner struct {
	mu    sync.Mutex
	calls []apiRun
}

func (r *fakeRunner) RunAPI(_ context.Context, key tandem.APIKey, channel, threadTS, text string, _ bool) (tandem.TurnResult, error) {
	r.mu.Lock()
	r.calls = append(r.calls, apiRun{key, channel, threadTS, text})
	r.mu.Unlock()
	ts := threadTS
	if ts == "" {
		ts = "1700000000.000100"
	}
	return tandem.TurnResult{
		Session:  tandem.SessionKey{Team: key.Team, Channel: channel, ThreadTS: ts},
		ReplyTS:  "1700000000.000200",
		Identity: &tandem.Identity{Team: key.Team, SlackUser: key.Creator, Provider: tandem.GitHub, Login: "alice-gh", Reason: tandem.ReasonAPIKeyCreator},
		Reply:    tandem.Reply{Title: "done"},
	}, nil
}

type noLinks struct{}

func (noLinks) Links(context.Context, string, string) ([]tandem.Link, error) { return nil, nil }

// The one valid key of the fuzz server. Fuzz inputs write it as $KEY.
const (
	fuzzKeyPrefix = "tdm_fuzzfuzz"
	fuzzKey       = fuzzKeyPrefix + "_c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNlY3JldA"
	fuzzKeySecret = "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNlY3JldA"
)

// newFuzzServer is a fresh API server (so no state, such as the failed-key
// slowdown, carries from one input to the next) with one valid key.
func newFuzzServer() (*api.Server, *fakeRunner) {
	now := time.Date(2026, 11, 29, 10, 0, 0, 0, time.UTC)
	sum := sha256.Sum256([]byte(fuzzKey))
	st := &memKeys{keys: map[string]tandem.APIKey{}}
	st.keys[hex.EncodeToString(sum[:])] = tandem.APIKey{
		Prefix: fuzzKeyPrefix, Hash: hex.EncodeToString(sum[:]), Name: "ci-deploy",
		Team: "T1", Creator: "UALICE", CreatedAt: now.Add(-time.Hour), Expires: now.Add(time.Hour),
	}
	run := &fakeRunner{}
	return &api.Server{
		Keys:      &api.Keys{Store: st, Now: func() time.Time { return now }},
		Runner:    run,
		Links:     noLinks{},
		Providers: []tandem.ProviderID{tandem.GitHub},
		Logger:    slog.New(slog.DiscardHandler),
	}, run
}

// apiEnvelope is the part of every API response the contract fixes.
type apiEnvelope struct {
	OK    *bool `json:"ok"`
	Error *struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// FuzzMessagesHandler drives POST /api/v1/messages with arbitrary bodies,
// content types and Authorization headers ("$KEY" in an input stands for
// the one valid key): never a panic or a 5xx, always a JSON answer with ok
// and a documented error code, and the Runner runs exactly the valid
// requests. The seed corpus is in testdata/fuzz/FuzzMessagesHandler.
func FuzzMessagesHandler(f *testing.F) {
	f.Add([]byte(`{"channel":"C0123ABCD","text":"list my open PRs"}`), "application/json", "Bearer $KEY", false)
	f.Fuzz(func(t *testing.T, body []byte, contentType, auth string, chunked bool) {
		srv, run := newFuzzServer()
		auth = strings.ReplaceAll(auth, "$KEY", fuzzKey)

		var rd io.Reader = bytes.NewReader(body)
		if chunked {
			rd = struct{ io.Reader }{rd} // length unknown to the server
		}
		req := httptest.NewRequest(http.MethodPost, "/api/v1/messages", rd)
		if chunked {
			req.ContentLength = -1
		}
		if contentType != "" {
			req.Header.Set("Content-Type", contentType)
		}
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		rec := httptest.NewRecorder()
		srv.Handler().ServeHTTP(rec, req)

		// What a valid request is, from the API's contract.
		presented, bearer := strings.CutPrefix(auth, "Bearer ")
		keyOK := bearer && strings.TrimSpace(presented) == fuzzKey
		mt, _, mtErr := mime.ParseMediaType(contentType)
		ctOK := mtErr == nil && mt == "application/json"
		m, decErr := api.DecodeMessage(bytes.NewReader(body))
		// A declared length over the limit is refused before reading; an
		// undeclared one is read up to the limit.
		valid := keyOK && ctOK && (chunked || len(body) <= wantMaxBody) && decErr == nil

		if rec.Code >= 500 {
			t.Fatalf("status %d for body %q, content type %q: %s", rec.Code, body, contentType, rec.Body)
		}
		if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
			t.Fatalf("response Content-Type %q, want JSON", ct)
		}
		var env apiEnvelope
		if err := json.Unmarshal(rec.Body.Bytes(), &env); err != nil || env.OK == nil {
			t.Fatalf("response is not a JSON object with ok (%v): %s", err, rec.Body)
		}
		if *env.OK {
			if rec.Code != http.StatusOK || env.Error != nil {
				t.Fatalf("ok:true with status %d and error %+v", rec.Code, env.Error)
			}
		} else {
			if env.Error == nil || !apiCodes[env.Error.Code] || env.Error.Message == "" {
				t.Fatalf("ok:false without a documented error code: %s", rec.Body)
			}
			if rec.Code < 400 {
				t.Fatalf("ok:false with status %d", rec.Code)
			}
		}
		if strings.Contains(rec.Body.String(), fuzzKeySecret) {
			t.Fatalf("the response echoes the API key's secret: %s", rec.Body)
		}

		switch {
		case valid && len(run.calls) != 1:
			t.Fatalf("valid request (body %q) ran %d turns, want 1; status %d %s", body, len(run.calls), rec.Code, rec.Body)
		case !valid && len(run.calls) != 0:
			t.Fatalf("invalid request (key %v, content type %q %v, decode %v) ran a turn", keyOK, contentType, ctOK, decErr)
		case valid:
			c := run.calls[0]
			if c.key.Creator != "UALICE" || c.channel != m.Channel || c.threadTS != m.ThreadTS || c.text != m.Text {
				t.Fatalf("the turn ran with %+v, want the request %+v as UALICE", c, m)
			}
			if rec.Code != http.StatusOK || !*env.OK {
				t.Fatalf("valid request answered %d %s", rec.Code, rec.Body)
			}
		}
	})
}
