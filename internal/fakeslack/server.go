// Package fakeslack is a fake of Slack that listens on loopback: the Web API
// methods Tandem calls and Socket Mode over a real WebSocket. It is meant for
// end-to-end tests that drive the real slack-go client, and for a local
// console emulator. It follows the behaviour described in
// shared/docs/slack-platform-facts.md: envelope shapes, acknowledgement
// deadlines, redelivery, message limits and rate-limit answers.
//
// Every method of Server is safe for concurrent use. The server keeps no
// global state and never logs tokens.
package fakeslack

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

// Errors returned by the Socket Mode side of the server.
var (
	// ErrClosed is returned once the server has been closed.
	ErrClosed = errors.New("fakeslack: server closed")
	// ErrNotStarted is returned when a call needs a running server.
	ErrNotStarted = errors.New("fakeslack: server not started")
	// ErrUnknownEnvelope is returned for an envelope id the server never sent.
	ErrUnknownEnvelope = errors.New("fakeslack: unknown envelope id")
	// ErrUnknownEvent is returned for an event id the server never sent.
	ErrUnknownEvent = errors.New("fakeslack: unknown event id")
	// ErrNotAcked is returned when a slash command or interaction is not
	// acknowledged within Options.AckTimeout (Slack's 3 seconds). Slack does
	// not redeliver these: the user sees an error instead.
	ErrNotAcked = errors.New("fakeslack: not acknowledged in time")
	// ErrMentionInDM is returned when asked to send an app_mention event in a
	// DM channel: Slack never does that (DMs arrive as message.im).
	ErrMentionInDM = errors.New("fakeslack: Slack never sends app_mention in a DM")
)

// Options configures a Server. Zero values take the documented defaults.
type Options struct {
	// TeamID is the workspace id. Default "T0TANDEM".
	TeamID string
	// TeamName is the workspace name returned by auth.test. Default "Tandem".
	TeamName string
	// TeamDomain is the workspace subdomain. Default "tandem".
	TeamDomain string
	// AppID is the app id sent in hello and event_callback. Default "A0TANDEM".
	AppID string
	// BotUserID is the bot's user id. Default "U0BOT".
	BotUserID string
	// BotID is the bot id (B…). Default "B0BOT".
	BotID string
	// BotName is the bot user's name. Default "tandem".
	BotName string
	// BotToken is the xoxb- token the Web API expects. Default "xoxb-fake".
	BotToken string
	// AppToken is the xapp- token apps.connections.open expects.
	// Default "xapp-fake-tandem".
	AppToken string
	// TokenErrors maps a token to the error Slack answers every call made
	// with it, such as "account_inactive" for a deactivated user's or an
	// uninstalled app's token, "token_revoked" or "invalid_auth".
	TokenErrors map[string]string
	// PingInterval is how often each connection gets a WebSocket PING.
	// Default 1s (slack-go gives up after 30s without one).
	PingInterval time.Duration
	// AckTimeout is Slack's acknowledgement deadline: slash commands and
	// interactions not acked within it fail with ErrNotAcked, and it is the
	// default AutoRedeliver timeout. Default 3s.
	AckTimeout time.Duration
	// DisconnectGrace is how long a connection stays open after a disconnect
	// frame. Default 250ms.
	DisconnectGrace time.Duration
	// Users are the workspace members. The bot user is added if missing.
	Users []User
	// Channels are the conversations. A DM "D"+userID exists for every user.
	Channels []Channel
	// Addr is the listen address. Default "127.0.0.1:0".
	Addr string
	// RandomDispatch sends each envelope to a random connection instead of
	// round-robin.
	RandomDispatch bool
	// Seed seeds the generator used for ids and random dispatch.
	Seed uint64
	// Clock gives the time used for ts values, event_time, trigger_id and
	// response_url expiry. Default time.Now.
	Clock func() time.Time
	// Logf, if set, receives one line per notable action. Tokens are never
	// passed to it.
	Logf func(format string, args ...any)
	// OpenIDClientID and OpenIDClientSecret are the app's own OAuth client
	// for Sign in with Slack (Basic Information → App Credentials).
	OpenIDClientID     string
	OpenIDClientSecret string
	// OpenIDRedirectURLs are the redirect URLs the app's manifest lists;
	// empty accepts any http(s) URL.
	OpenIDRedirectURLs []string
}

// User is a workspace member as users.info reports it.
type User struct {
	ID             string
	Name           string
	RealName       string
	IsAdmin        bool
	IsOwner        bool
	IsPrimaryOwner bool
	IsBot          bool
	// TZ is the member's IANA time zone ("" reports Etc/UTC).
	TZ string
	// Deleted marks a member who left the workspace (deactivated).
	Deleted bool
}

// Channel is a conversation as conversations.info reports it.
type Channel struct {
	ID        string
	Name      string
	Creator   string
	IsIM      bool
	IsPrivate bool
	// User is the other member of a DM (IsIM).
	User string
	// Members, when non-nil, lists who is in the channel: posting as a bot
	// that is not listed fails with not_in_channel, and an ephemeral message
	// to a user not listed fails with user_not_in_channel. Nil means everyone.
	Members []string
}

// Message is one message the app sent, as the fake recorded it.
type Message struct {
	// Method is the Web API method ("chat.postMessage", "chat.postEphemeral",
	// "chat.update", "views.publish", "views.open") or "response_url".
	Method    string
	Channel   string
	ThreadTS  string
	TS        string
	Text      string
	User      string // ephemeral target, view owner, or slash command user
	Blocks    json.RawMessage
	Ephemeral bool
	View      json.RawMessage // the whole view, for views.* only
	// At is when the fake received the call: a benchmark times a reply
	// from it, not from when it got round to looking.
	At time.Time
}

// Server is a running fake of Slack. Create it with New, then Start it.
type Server struct {
	opts     Options
	upgrader websocket.Upgrader

	mu       sync.Mutex
	started  bool
	closed   bool
	done     chan struct{}
	changed  chan struct{}
	wg       sync.WaitGroup
	httpSrv  *http.Server
	baseURL  string
	rng      *rand.Rand
	seq      uint64
	lastTS   int64
	users    map[string]User
	channels map[string]Channel
	openDMs  map[string]bool

	calls  map[string]int
	limits map[string]*rateLimit

	messages     []Message
	views        []Message
	posted       map[string]*postedMessage
	history      map[string]map[string]*historyMessage // channel -> ts -> message
	homeViews    map[string]*homeView
	reactions    map[string][]string
	triggers     map[string]*trigger
	responseURLs map[string]*responseURL

	tickets       map[string]bool
	conns         []*wsConn
	opened        int
	connSeq       int
	rr            int
	pingStopped   bool
	ignoredFrames int

	envs           map[string]*envRecord
	envOrder       []string
	queue          []*envRecord
	events         map[string]json.RawMessage
	acks           int
	autoRedeliver  bool
	redeliverAfter time.Duration
	redeliveries   []Redelivery

	oidc *openIDState
}

type rateLimit struct {
	remaining  int
	retryAfter time.Duration
}

// New returns a server configured by opts; call Start to listen.
func New(opts Options) *Server {
	def := func(p *string, v string) {
		if *p == "" {
			*p = v
		}
	}
	def(&opts.TeamID, "T0TANDEM")
	def(&opts.TeamName, "Tandem")
	def(&opts.TeamDomain, "tandem")
	def(&opts.AppID, "A0TANDEM")
	def(&opts.BotUserID, "U0BOT")
	def(&opts.BotID, "B0BOT")
	def(&opts.BotName, "tandem")
	def(&opts.BotToken, "xoxb-fake")
	def(&opts.AppToken, "xapp-fake-tandem")
	def(&opts.Addr, "127.0.0.1:0")
	if opts.PingInterval <= 0 {
		opts.PingInterval = time.Second
	}
	if opts.AckTimeout <= 0 {
		opts.AckTimeout = 3 * time.Second
	}
	if opts.DisconnectGrace <= 0 {
		opts.DisconnectGrace = 250 * time.Millisecond
	}
	if opts.Clock == nil {
		opts.Clock = time.Now
	}
	s := &Server{
		opts:           opts,
		done:           make(chan struct{}),
		changed:        make(chan struct{}),
		rng:            rand.New(rand.NewPCG(opts.Seed, 0x7a4d3e)),
		users:          map[string]User{},
		channels:       map[string]Channel{},
		openDMs:        map[string]bool{},
		calls:          map[string]int{},
		limits:         map[string]*rateLimit{},
		posted:         map[string]*postedMessage{},
		history:        map[string]map[string]*historyMessage{},
		homeViews:      map[string]*homeView{},
		reactions:      map[string][]string{},
		triggers:       map[string]*trigger{},
		responseURLs:   map[string]*responseURL{},
		tickets:        map[string]bool{},
		envs:           map[string]*envRecord{},
		events:         map[string]json.RawMessage{},
		redeliverAfter: opts.AckTimeout,
		oidc:           newOpenIDState(),
	}
	// Slack's own client sends Origin https://api.slack.com; accept any.
	s.upgrader.CheckOrigin = func(*http.Request) bool { return true }
	s.users[opts.BotUserID] = User{ID: opts.BotUserID, Name: opts.BotName, RealName: opts.BotName, IsBot: true}
	for _, u := range opts.Users {
		s.users[u.ID] = u
	}
	for _, c := range opts.Channels {
		s.channels[c.ID] = c
	}
	return s
}

// Start listens on Options.Addr (loopback, random port by default) and
// serves the Web API, the Socket Mode link and response URLs. It returns an
// error if the server was already started or closed, or cannot listen.
func (s *Server) Start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	if s.started {
		return errors.New("fakeslack: already started")
	}
	ln, err := net.Listen("tcp", s.opts.Addr)
	if err != nil {
		return fmt.Errorf("fakeslack: listen: %w", err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/api/", s.handleAPI)
	mux.HandleFunc("/link/", s.handleLink)
	mux.HandleFunc("/response/", s.handleResponseURL)
	mux.HandleFunc("GET /openid/connect/authorize", s.openIDAuthorize)
	mux.HandleFunc("POST /openid/connect/signin", s.openIDSignIn)
	mux.HandleFunc("GET /openid/connect/keys", s.openIDKeys)
	s.httpSrv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	s.baseURL = "http://" + ln.Addr().String()
	s.started = true
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		_ = s.httpSrv.Serve(ln)
	}()
	s.logf("listening on %s", s.baseURL)
	return nil
}

// Close stops the server: it closes every WebSocket, stops redelivery timers
// and waits for its goroutines. Calling it twice is harmless.
func (s *Server) Close() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closed = true
	close(s.done)
	s.notifyLocked()
	conns := append([]*wsConn(nil), s.conns...)
	for _, rec := range s.envs {
		if rec.timer != nil {
			rec.timer.Stop()
		}
	}
	srv := s.httpSrv
	s.mu.Unlock()
	for _, c := range conns {
		c.close()
	}
	if srv != nil {
		_ = srv.Close()
	}
	s.wg.Wait()
}

// APIURL returns the Web API base URL for slack.OptionAPIURL, ending with
// "/" (http://127.0.0.1:PORT/api/), or "" before Start.
func (s *Server) APIURL() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.baseURL == "" {
		return ""
	}
	return s.baseURL + "/api/"
}

// BotToken returns the bot token the server accepts.
func (s *Server) BotToken() string { return s.opts.BotToken }

// AppToken returns the app-level token the server accepts.
func (s *Server) AppToken() string { return s.opts.AppToken }

// BotUserID returns the bot's user id.
func (s *Server) BotUserID() string { return s.opts.BotUserID }

// NextTS returns a new message timestamp in Slack's "seconds.micro" form,
// unique and strictly increasing for this server.
func (s *Server) NextTS() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.nextTSLocked()
}

func (s *Server) nextTSLocked() string {
	micros := s.opts.Clock().UnixMicro()
	if micros <= s.lastTS {
		micros = s.lastTS + 1
	}
	s.lastTS = micros
	return fmt.Sprintf("%d.%06d", micros/1e6, micros%1e6)
}

// AddUser adds or replaces a workspace member.
func (s *Server) AddUser(u User) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.users[u.ID] = u
}

// SetDeleted marks the member id as deactivated (users.info says
// "deleted": true) or active again; it reports false for an unknown id.
func (s *Server) SetDeleted(id string, deleted bool) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	u, ok := s.users[id]
	if ok {
		u.Deleted = deleted
		s.users[id] = u
	}
	return ok
}

// RemoveUser forgets a member altogether, as Slack does for an erased
// account: users.info then answers user_not_found.
func (s *Server) RemoveUser(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.users, id)
}

// AddChannel adds or replaces a conversation.
func (s *Server) AddChannel(c Channel) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.channels[c.ID] = c
}

// RateLimit makes the next times calls of method answer HTTP 429 with a
// Retry-After header of retryAfter rounded up to whole seconds, as Slack
// does; slack-go turns that into *slack.RateLimitedError. times <= 0 clears
// a pending limit.
func (s *Server) RateLimit(method string, times int, retryAfter time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if times <= 0 {
		delete(s.limits, method)
		return
	}
	s.limits[method] = &rateLimit{remaining: times, retryAfter: retryAfter}
}

// WaitFor calls cond each time the server's state changes (a message, an
// ack, a connection, a redelivery) until it returns true. It returns
// ctx.Err() if ctx ends first, or ErrClosed if the server closes. cond may
// call the server's accessors.
func (s *Server) WaitFor(ctx context.Context, cond func() bool) error {
	for {
		s.mu.Lock()
		ch, closed := s.changed, s.closed
		s.mu.Unlock()
		if cond() {
			return nil
		}
		if closed {
			return ErrClosed
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// notifyLocked wakes every waiter. s.mu must be held.
func (s *Server) notifyLocked() {
	close(s.changed)
	s.changed = make(chan struct{})
}

// nextIDLocked returns a fresh sequence number. s.mu must be held.
func (s *Server) nextIDLocked() uint64 {
	s.seq++
	return s.seq
}

func (s *Server) logf(format string, args ...any) {
	if s.opts.Logf != nil {
		s.opts.Logf("fakeslack: "+format, args...)
	}
}
