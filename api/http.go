package api

import (
	"container/list"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/tandembot/tandem"
)

// Runner runs a turn as an API key's creator and waits for its result.
type Runner interface {
	RunAPI(ctx context.Context, key tandem.APIKey, channel, threadTS, text string, allowChanges bool) (tandem.TurnResult, error)
}

// CodeChannelNotAllowed is the stable error code (beside those in keys.go)
// for a request into a conversation the key's creator is not a member of:
// another person's DM with Tandem, a private channel they are not in, a
// channel they left.
const CodeChannelNotAllowed = "channel_not_allowed"

// LinkReader lists a user's links, for whoami.
type LinkReader interface {
	Links(ctx context.Context, team, user string) ([]tandem.Link, error)
}

// CreatorCheck says whether an API key's creator may still be acted for.
type CreatorCheck interface {
	// CreatorHere fails with EFORBIDDEN when key's creator has left the
	// workspace, and with EUNAVAILABLE when Slack cannot say.
	CreatorHere(ctx context.Context, key tandem.APIKey) error
}

// TurnTimeout is how long POST /api/v1/messages waits for its turn's
// result before answering 503 (the turn still completes in Slack). An HTTP
// server in front of the API must allow at least this long to write an
// answer.
const TurnTimeout = 60 * time.Second

// Limits of the API.
const (
	maxBody      = 64 << 10
	maxText      = 4000
	failWindow   = time.Minute
	failsAllowed = 10
)

// Server serves /api/v1.
type Server struct {
	Keys   *Keys
	Runner Runner
	Links  LinkReader
	// Creators, when set, refuses whoami for a key whose creator left the
	// workspace, as every other use of the key is refused.
	Creators CreatorCheck
	// Providers are the enabled providers, for whoami.
	Providers []tandem.ProviderID
	Logger    *slog.Logger
	// Halted, when set and true, makes every request answer 503 before it
	// is authenticated: this replica is stopping because the database's
	// schema moved on under it, and must not act on records it no longer
	// understands while it drains (app's watchSchema).
	Halted func() bool

	fails failureLog
}

// halted answers 503 when the server is halted, and reports whether it did.
func (s *Server) halted(w http.ResponseWriter, r *http.Request) bool {
	if s.Halted == nil || !s.Halted() {
		return false
	}
	answerUnread(w, r)
	writeError(w, http.StatusServiceUnavailable, CodeInternal, "This Tandem replica is stopping (a newer release migrated its database); send the request again: another replica answers it.")
	return true
}

// Handler serves POST /api/v1/messages and GET /api/v1/whoami.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /api/v1/messages", s.messages)
	mux.HandleFunc("GET /api/v1/whoami", s.whoami)
	mux.HandleFunc("/api/", func(w http.ResponseWriter, r *http.Request) {
		answerUnread(w, r)
		writeError(w, http.StatusNotFound, CodeBadRequest, "No such endpoint: "+r.Method+" "+r.URL.Path+".")
	})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Every answer, the mux's own included, is JSON that a browser must
		// never sniff into HTML: messages echo parts of what was sent.
		w.Header().Set("X-Content-Type-Options", "nosniff")
		if s.halted(w, r) {
			return
		}
		mux.ServeHTTP(w, r)
	})
}

type apiError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, status int, code, msg string) {
	writeJSON(w, status, map[string]any{"ok": false, "error": apiError{Code: code, Message: msg}})
}

// answerUnread prepares an answer given without reading the request's body
// (all of it): the connection closes after the answer. Otherwise net/http,
// before it writes the answer, drains up to 256 KB of the body so it can
// keep the connection, waiting as long as the client cares to trickle it
// (or forever, for a body that never comes), which hands anyone without a
// key a cheap way to hold connections and goroutines.
func answerUnread(w http.ResponseWriter, r *http.Request) {
	if r.ContentLength != 0 { // -1: chunked, or length unknown
		w.Header().Set("Connection", "close")
	}
}

// authenticate checks the Bearer key. It reads only headers, never the
// body, so a request without a valid key is answered at once whatever body
// it announces. It writes the error and returns false on failure.
//
// Refused keys slow down their client: once an address has presented
// failsAllowed refused keys within failWindow, its refused keys are answered
// 429 too_many_attempts instead of 401. A valid key always goes through: an
// address is often shared (an office NAT, a CI provider's egress, a proxy),
// and one client guessing there must not lock everyone else out. What makes
// guessing hopeless is the key's 256-bit secret, not this slowdown; the
// slowdown tells a misconfigured or hostile client to stop.
func (s *Server) authenticate(w http.ResponseWriter, r *http.Request) (tandem.APIKey, bool) {
	var key tandem.APIKey
	var err error
	if presented, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok {
		key, err = s.Keys.Check(r.Context(), strings.TrimSpace(presented))
	} else {
		err = &KeyError{Code: CodeInvalidKey, Message: "Send the API key as Authorization: Bearer <key>."}
	}
	var ke *KeyError
	switch {
	case err == nil:
		return key, true
	case errors.As(err, &ke) && ke.Code == CodeKeyPending:
		// A real key its person has not allowed yet: no guess to slow
		// down, and nothing runs.
		answerUnread(w, r)
		writeError(w, http.StatusForbidden, ke.Code, ke.Message)
		return tandem.APIKey{}, false
	case errors.As(err, &ke):
		client, now := clientAddr(r), time.Now()
		wait := s.fails.blocked(client, now)
		s.fails.add(client, now)
		answerUnread(w, r)
		if wait > 0 {
			w.Header().Set("Retry-After", fmt.Sprint(int(wait.Seconds())+1))
			writeError(w, http.StatusTooManyRequests, CodeTooManyAttempts, "Too many requests with invalid keys; wait before trying again.")
			return tandem.APIKey{}, false
		}
		writeError(w, http.StatusUnauthorized, ke.Code, ke.Message)
		return tandem.APIKey{}, false
	default:
		s.logger().Error("check api key", "err", err)
		answerUnread(w, r)
		writeError(w, http.StatusInternalServerError, CodeInternal, "Tandem could not check the key; try again.")
		return tandem.APIKey{}, false
	}
}

func clientAddr(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// maxTrackedClients bounds the addresses failureLog remembers: an attacker
// with many addresses (an IPv6 prefix holds billions) cannot grow it
// further, only push out the addresses that failed longest ago.
const maxTrackedClients = 10000

// failureLog remembers each client address's recent refused keys: at most
// failsAllowed times per address and maxTrackedClients addresses, the least
// recently failing forgotten first. The zero value is ready to use.
type failureLog struct {
	mu      sync.Mutex
	clients map[string]*list.Element // of *failures
	order   list.List                // most recent failure at the front
}

type failures struct {
	client string
	times  []time.Time // oldest first, at most failsAllowed
}

// blocked returns how long client must wait before a refused key is
// answered 401 again, 0 when it need not.
func (l *failureLog) blocked(client string, now time.Time) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.expire(now)
	e, ok := l.clients[client]
	if !ok {
		return 0
	}
	f := e.Value.(*failures)
	recent := f.times[:0]
	for _, t := range f.times {
		if now.Sub(t) < failWindow {
			recent = append(recent, t)
		}
	}
	f.times = recent
	if len(recent) < failsAllowed {
		return 0
	}
	return failWindow - now.Sub(recent[0])
}

// add notes a refused key from client at now.
func (l *failureLog) add(client string, now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.expire(now)
	if l.clients == nil {
		l.clients = map[string]*list.Element{}
	}
	if e, ok := l.clients[client]; ok {
		f := e.Value.(*failures)
		f.times = append(f.times, now)
		if n := len(f.times); n > failsAllowed {
			f.times = append(f.times[:0], f.times[n-failsAllowed:]...)
		}
		l.order.MoveToFront(e)
		return
	}
	for len(l.clients) >= maxTrackedClients {
		l.remove(l.order.Back())
	}
	l.clients[client] = l.order.PushFront(&failures{client: client, times: []time.Time{now}})
}

// expire forgets clients whose latest failure is older than failWindow:
// they are at the back, in order.
func (l *failureLog) expire(now time.Time) {
	for e := l.order.Back(); e != nil; e = l.order.Back() {
		f := e.Value.(*failures)
		if now.Sub(f.times[len(f.times)-1]) < failWindow {
			return
		}
		l.remove(e)
	}
}

func (l *failureLog) remove(e *list.Element) {
	delete(l.clients, e.Value.(*failures).client)
	l.order.Remove(e)
}

// tracked returns how many client addresses are remembered, and how many
// failures of client.
func (l *failureLog) tracked(client string) (clients, times int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if e, ok := l.clients[client]; ok {
		times = len(e.Value.(*failures).times)
	}
	return len(l.clients), times
}

// MessageRequest is the body of POST /api/v1/messages.
type MessageRequest struct {
	Channel  string `json:"channel"`
	ThreadTS string `json:"thread_ts,omitempty"`
	Text     string `json:"text"`
	// AllowChanges lets an agent turn make the changes it proposes, as the
	// key's creator; without it they come back as pending_changes.
	AllowChanges bool `json:"allow_changes,omitempty"`
}

var (
	channelRe = regexp.MustCompile(`^[CGD][A-Z0-9]{2,20}$`)
	tsRe      = regexp.MustCompile(`^[0-9]{1,12}\.[0-9]{1,8}$`)
)

// DecodeMessage reads and checks a message request body strictly: JSON
// only, one object, no unknown fields, within the size limit. It fails with
// an EINVALID error that says what is wrong.
func DecodeMessage(body io.Reader) (MessageRequest, error) {
	dec := json.NewDecoder(io.LimitReader(body, maxBody+1))
	dec.DisallowUnknownFields()
	var m MessageRequest
	if err := dec.Decode(&m); err != nil {
		return m, tandem.Errorf(tandem.EINVALID, "The body must be one JSON object with channel, text and optional thread_ts (%s).", plainJSONError(err))
	}
	if dec.More() {
		return m, tandem.Errorf(tandem.EINVALID, "The body must be exactly one JSON object.")
	}
	if _, err := dec.Token(); err != io.EOF {
		return m, tandem.Errorf(tandem.EINVALID, "The body must be exactly one JSON object.")
	}
	switch {
	case !channelRe.MatchString(m.Channel):
		return m, tandem.Errorf(tandem.EINVALID, "channel must be a Slack channel id such as C0123ABCD.")
	case m.ThreadTS != "" && !tsRe.MatchString(m.ThreadTS):
		return m, tandem.Errorf(tandem.EINVALID, "thread_ts must be a Slack message ts such as 1700000000.000100.")
	case strings.TrimSpace(m.Text) == "":
		return m, tandem.Errorf(tandem.EINVALID, "text is empty.")
	case len(m.Text) > maxText:
		return m, tandem.Errorf(tandem.EINVALID, "text is %d bytes; at most %d.", len(m.Text), maxText)
	}
	return m, nil
}

// plainJSONError words a decoding error without echoing the input.
func plainJSONError(err error) string {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return fmt.Sprintf("invalid JSON at byte %d", syn.Offset)
	case errors.As(err, &typ):
		return "field " + typ.Field + " has the wrong type"
	case strings.HasPrefix(err.Error(), "json: unknown field"):
		return strings.TrimPrefix(err.Error(), "json: ")
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "the body is empty or cut short"
	}
	return "it could not be read"
}

func (s *Server) messages(w http.ResponseWriter, r *http.Request) {
	key, ok := s.authenticate(w, r)
	if !ok {
		return
	}
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		answerUnread(w, r)
		writeError(w, http.StatusUnsupportedMediaType, CodeBadRequest, "Send the body as Content-Type: application/json.")
		return
	}
	if r.ContentLength > maxBody {
		answerUnread(w, r)
		writeError(w, http.StatusRequestEntityTooLarge, CodeBadRequest, fmt.Sprintf("The body is larger than %d bytes.", maxBody))
		return
	}
	m, err := DecodeMessage(r.Body)
	if err != nil {
		answerUnread(w, r) // DecodeMessage may have stopped short of the end
		writeError(w, http.StatusBadRequest, CodeBadRequest, tandem.ErrorMessage(err))
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), TurnTimeout)
	defer cancel()
	res, err := s.Runner.RunAPI(ctx, key, m.Channel, m.ThreadTS, m.Text, m.AllowChanges)
	if err != nil {
		s.refuse(w, "api turn", key, err)
		return
	}
	writeJSON(w, statusOf(res.Err), resultBody(key, res))
}

// refuse answers a call that Tandem refused before any turn ran (err,
// from the engine): forbidden or not allowed in the channel 403, invalid
// 400, Slack or the store unavailable 503, anything else 500 (logged as
// op).
func (s *Server) refuse(w http.ResponseWriter, op string, key tandem.APIKey, err error) {
	status, code := http.StatusInternalServerError, CodeInternal
	switch tandem.ErrorCode(err) {
	case tandem.ECHANNELNOTALLOWED:
		status, code = http.StatusForbidden, CodeChannelNotAllowed
	case tandem.EFORBIDDEN, tandem.ENOTFOUND:
		status, code = http.StatusForbidden, CodeForbidden
	case tandem.EINVALID:
		status, code = http.StatusBadRequest, CodeBadRequest
	case tandem.EUNAVAILABLE:
		status = http.StatusServiceUnavailable
	}
	if code == CodeInternal {
		s.logger().Error(op, "key", key.Prefix, "err", err)
	}
	writeError(w, status, code, tandem.ErrorMessage(err))
}

// statusOf maps a turn's failure to an HTTP status.
func statusOf(err error) int {
	var nc *tandem.NotConnectedError
	var ex *tandem.ExpiredError
	switch {
	case err == nil:
		return http.StatusOK
	case errors.As(err, &nc), errors.As(err, &ex):
		return http.StatusConflict
	}
	switch tandem.ErrorCode(err) {
	case tandem.EINVALID, tandem.EUNKNOWNCOMMAND:
		return http.StatusBadRequest
	case tandem.EFORBIDDEN, tandem.ENOTFOUND, tandem.ECHANNELNOTALLOWED:
		return http.StatusForbidden
	case tandem.EUNAUTHORIZED:
		return http.StatusConflict
	case tandem.ERATELIMITED:
		return http.StatusTooManyRequests
	case tandem.EUNAVAILABLE:
		return http.StatusBadGateway
	}
	return http.StatusInternalServerError
}

type identityBody struct {
	SlackUser string `json:"slack_user"`
	Provider  string `json:"provider,omitempty"`
	Login     string `json:"login,omitempty"`
	Reason    string `json:"reason"`
}

func resultBody(key tandem.APIKey, res tandem.TurnResult) map[string]any {
	body := map[string]any{
		"ok":        res.Err == nil,
		"session":   res.Session.String(),
		"channel":   res.Session.Channel,
		"thread_ts": res.Session.ThreadTS,
		"reply_ts":  res.ReplyTS,
		"key":       map[string]string{"prefix": key.Prefix, "name": key.Name, "creator": key.Creator},
	}
	id := identityBody{SlackUser: key.Creator, Reason: string(tandem.ReasonAPIKeyCreator)}
	if res.Identity != nil {
		id.Provider, id.Login = string(res.Identity.Provider), res.Identity.Login
	}
	body["identity"] = id
	if res.Err != nil {
		err := res.Err
		if tandem.ErrorCode(err) == tandem.EUNAUTHORIZED && res.Identity != nil && res.Identity.Provider != "" {
			// The provider refused the token during the turn.
			err = &tandem.ExpiredError{Team: key.Team, User: key.Creator, Provider: res.Identity.Provider}
		}
		body["error"] = turnError(key, err)
		return body
	}
	body["result"] = res.Reply
	if len(res.Pending) > 0 {
		body["pending_changes"] = res.Pending
	}
	return body
}

// turnError words a failed turn for an API client: who must do what.
func turnError(key tandem.APIKey, err error) apiError {
	var nc *tandem.NotConnectedError
	var ex *tandem.ExpiredError
	switch {
	case errors.As(err, &nc):
		return apiError{Code: CodeNotConfigured, Message: fmt.Sprintf(
			"API key %s (%s) acts as its creator %s, who has not connected %s: %s credentials not configured. The creator must connect %s in Slack (/connect %s), or someone else must create a new key.",
			key.Name, key.Prefix, key.Creator, nc.Provider.Name(), nc.Provider.Name(), nc.Provider.Name(), nc.Provider)}
	case errors.As(err, &ex):
		return apiError{Code: CodeExpired, Message: fmt.Sprintf(
			"API key %s (%s) acts as its creator %s, whose %s credentials expired or were revoked. The creator must reconnect %s in Slack (/connect %s), or someone else must create a new key.",
			key.Name, key.Prefix, key.Creator, ex.Provider.Name(), ex.Provider.Name(), ex.Provider)}
	}
	code := CodeProviderProblems
	switch tandem.ErrorCode(err) {
	case tandem.EINTERNAL:
		code = CodeInternal
	case tandem.EUNKNOWNCOMMAND:
		code = CodeUnknownCommand
	case tandem.EINVALID:
		code = CodeBadRequest
	case tandem.EFORBIDDEN, tandem.ENOTFOUND:
		code = CodeForbidden
	case tandem.ECHANNELNOTALLOWED:
		code = CodeChannelNotAllowed
	case tandem.EUNAUTHORIZED:
		code = CodeExpired
	}
	return apiError{Code: code, Message: tandem.ErrorMessage(err)}
}

func (s *Server) whoami(w http.ResponseWriter, r *http.Request) {
	key, ok := s.authenticate(w, r)
	if !ok {
		return
	}
	if s.Creators != nil {
		// The creator's accounts are theirs to show while the key acts
		// for them, and it does not once they have left.
		if err := s.Creators.CreatorHere(r.Context(), key); err != nil {
			s.refuse(w, "api whoami", key, err)
			return
		}
	}
	links, err := s.Links.Links(r.Context(), key.Team, key.Creator)
	if err != nil {
		s.logger().Error("api whoami links", "err", err)
		writeError(w, http.StatusInternalServerError, CodeInternal, "Tandem could not read the creator's links.")
		return
	}
	var providers []map[string]string
	for _, st := range tandem.LinkStates(links, s.Providers) {
		entry := map[string]string{"provider": string(st.Provider), "state": string(st.State)}
		if st.State != tandem.LinkMissing {
			// Only a linked account has a login to show.
			entry["login"] = st.Login
		}
		providers = append(providers, entry)
	}
	expires := ""
	if !key.Expires.IsZero() {
		expires = key.Expires.UTC().Format(time.RFC3339)
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"ok":      true,
		"creator": key.Creator,
		"team":    key.Team,
		"reason":  tandem.ReasonAPIKeyCreator,
		"key":     map[string]string{"prefix": key.Prefix, "name": key.Name, "expires": expires, "scope": string(key.EffectiveScope())},
		// What the key may do: "read" runs reads and proposes changes,
		// "write" may also make them.
		"scope":     key.EffectiveScope(),
		"providers": providers,
	})
}

func (s *Server) logger() *slog.Logger {
	if s.Logger != nil {
		return s.Logger
	}
	return slog.Default()
}
