// Package bot is Tandem's Slack transport: the Socket Mode loop, durable
// acknowledgement of events, threads as sessions, running each session's
// turns in order (through packages queue and inbox), and posting replies as
// Block Kit (built by package slackview). The turn engine (package turns) resolves
// whose credentials a turn uses and runs it.
package bot

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/slack-go/slack"
	"github.com/slack-go/slack/socketmode"
	"github.com/tandembot/tandem"
	"github.com/tandembot/tandem/bot/inbox"
	"github.com/tandembot/tandem/bot/queue"
	"github.com/tandembot/tandem/turns"
)

// Store is what the bot needs of the store.
type Store interface {
	RecordTurn(ctx context.Context, t tandem.Turn) (bool, error)
	AppendTurn(t tandem.Turn, durable func(error), recorded func(tandem.Recorded)) error
	SetTurnState(ctx context.Context, id string, state tandem.TurnState) error
	StepTurn(ctx context.Context, id string, step tandem.TurnStep) error
	TurnRecord(ctx context.Context, id string) (tandem.TurnRecord, error)
	UnfinishedTurns(ctx context.Context) ([]tandem.TurnRecord, error)
	Waiting(ctx context.Context, leasePrefix string, max int) (tandem.Waiting, error)
	NextTurn(ctx context.Context, key tandem.SessionKey) (tandem.TurnRecord, error)
	Session(ctx context.Context, key tandem.SessionKey) (tandem.Session, error)
	SessionOrSetting(ctx context.Context, key tandem.SessionKey, setting string) (tandem.Session, string, error)
	UpdateSession(ctx context.Context, key tandem.SessionKey, fn func(*tandem.Session) error) (tandem.Session, error)
	UpdateSessionForTurn(ctx context.Context, key tandem.SessionKey, turn string, fn func(*tandem.Session) error) (tandem.Session, error)
	Setting(ctx context.Context, name string) (string, error)
	SetSetting(ctx context.Context, name, value string) error
	Audit(ctx context.Context, f tandem.AuditFilter) ([]tandem.AuditRecord, error)
	Lease(ctx context.Context, name, owner string, ttl time.Duration) (bool, error)
	RenewLease(ctx context.Context, name, owner string, ttl time.Duration) (bool, error)
	ReleaseLease(ctx context.Context, name, owner string) error
	LeaseNextTurn(ctx context.Context, name, owner string, ttl time.Duration, key tandem.SessionKey) (tandem.TurnRecord, error)
	NextTurnOrRelease(ctx context.Context, key tandem.SessionKey, name, owner string) (tandem.TurnRecord, error)
	Links(ctx context.Context, team, user string) ([]tandem.Link, error)
	APIKeys(ctx context.Context, team, creator string) ([]tandem.APIKey, error)
	AppendAudit(ctx context.Context, r tandem.AuditRecord) error
	CreateSchedule(ctx context.Context, s tandem.Schedule, max int, turn string) error
	Schedule(ctx context.Context, id string) (tandem.Schedule, error)
	Schedules(ctx context.Context, f tandem.ScheduleFilter) ([]tandem.Schedule, error)
	UpdateSchedule(ctx context.Context, id string, fn func(*tandem.Schedule) error) (tandem.Schedule, error)
	DeleteSchedule(ctx context.Context, id string) error
}

// Resolver hands out a user's credentials for a provider.
type Resolver interface {
	Credentials(ctx context.Context, team, user string, p tandem.ProviderID, reason tandem.Reason) (tandem.Credentials, error)
}

// Linker makes the single-use link that starts linking an account for one
// Slack user.
type Linker interface {
	ConnectURL(ctx context.Context, team, user string, p tandem.ProviderID, rerunTurn string) (string, error)
}

// Config wires a Bot.
type Config struct {
	// Slack is a client built with the bot token, the app-level token and
	// the API URL.
	Slack     *slack.Client
	Store     Store
	Resolver  Resolver
	Linker    Linker
	Providers map[tandem.ProviderID]tandem.Provider
	// Operations are what turns can ask for (turns.NewOperations).
	Operations turns.Operations
	// Agent plans free-form requests with a language model (nil: they get
	// "did you mean").
	Agent  *turns.Agent
	Logger *slog.Logger
	// Metrics records what the bot does (nil: nothing is recorded).
	Metrics Recorder
	// ShutdownTimeout is how long a stop waits for running turns before
	// cancelling them (they are then resumed at the next start).
	ShutdownTimeout time.Duration
	// LeaseTTL is how long a session lease lasts without renewal: how soon
	// another replica takes over a dead one's sessions (default 30s).
	LeaseTTL time.Duration
	// ReorderWindow is how long a turn waits before it runs, so that an
	// earlier message of its thread recorded a moment later by another
	// replica still runs first (0 with one process).
	ReorderWindow time.Duration
	// Keys manages API keys (nil: no API keys).
	Keys KeyManager
	// Admins are Slack users who count as channel admins everywhere
	// (TANDEM_ADMINS).
	Admins []string
	// Concurrency bounds the turns running at once for each provider
	// (default 64, as TANDEM_CONCURRENCY): every provider has its own pool of that many slots, and
	// turns without a single provider (help, session controls, commands
	// that combine providers, unparsable text) share one more, so a backlog
	// at one provider never holds back another's turns. A session runs one
	// turn at a time and so takes at most one slot, which it gives back
	// once done with the provider, before its reply and its record (the
	// gate still counts it until its end).
	Concurrency int
	// RerunWindow is how old a failed turn may be and still be re-run after
	// its sender links the missing account (default 30 minutes).
	RerunWindow time.Duration
	// PingInterval is how long slack-go waits for Slack's ping before it
	// reconnects (0: slack-go's default).
	PingInterval time.Duration
	// SchedulesPerUser and ScheduleGrace are the schedule limits
	// (TANDEM_SCHEDULES_PER_USER, TANDEM_SCHEDULE_GRACE; zero: defaults).
	SchedulesPerUser int
	ScheduleGrace    time.Duration
	// ScheduleTick is how often due schedules are looked for (default
	// 15 s); schedule times are whole minutes.
	ScheduleTick time.Duration
	// Now is the clock of turns and schedules (default time.Now).
	Now func() time.Time
}

// Recorder receives the bot's measurements.
type Recorder interface {
	Ack(d time.Duration)
	Turn(p tandem.ProviderID, outcome tandem.Outcome, d time.Duration)
	RateLimited(method string, d time.Duration)
}

type noRecorder struct{}

func (noRecorder) Ack(time.Duration)                                     {}
func (noRecorder) Turn(tandem.ProviderID, tandem.Outcome, time.Duration) {}
func (noRecorder) RateLimited(string, time.Duration)                     {}

func (b *Bot) metrics() Recorder {
	if b.cfg.Metrics == nil {
		return noRecorder{}
	}
	return b.cfg.Metrics
}

// Bot runs Tandem in Slack.
type Bot struct {
	cfg      Config
	log      *slog.Logger
	engine   *turns.Engine // runs the turns this Bot receives
	api      *slack.Client
	queue    *queue.Dispatcher
	teamID   string
	teamName string
	userID   string // the bot's own user

	mu    sync.Mutex
	ready bool
	ctx   context.Context // Run's context, for turns
	// replyTS is the ts of each finished API turn's reply, until finish.
	replyTS map[string]string
	// inbox runs the recorded turns, each session's in order.
	inbox *inbox.Runner
	// progress holds running agent turns' progress messages.
	progress progressLines
	// events records and acknowledges each session's events in order,
	// different sessions' at once.
	events ordered
	// acks sends the recorded events' acknowledgements.
	acks *acker
}

// InboxDepth returns how many turns wait or run in this process.
func (b *Bot) InboxDepth() int { return b.inbox.Depth() }

// OpenSessions returns how many sessions have a turn queued or running.
func (b *Bot) OpenSessions() int { return b.queue.Sessions() }

// OldestWait returns how long the oldest unfinished turn has waited since
// it was received, as of the last poll (0 when none waits).
func (b *Bot) OldestWait() time.Duration {
	o := b.inbox.Oldest()
	if o.IsZero() {
		return 0
	}
	return b.now().Sub(o)
}

// TurnLimit returns how many turns may run at once now: fewer than the
// configured concurrency while acknowledgements are slow.
func (b *Bot) TurnLimit() int { return b.queue.Gate.Limit() }

// New returns a Bot; nothing connects until Run.
func New(cfg Config) *Bot {
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = 64
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	b := &Bot{cfg: cfg, log: cfg.Logger, api: cfg.Slack, acks: newAcker()}
	b.engine = turns.New(turns.Config{
		Store: cfg.Store, Resolver: cfg.Resolver, Directory: people{b}, Notifier: people{b}, Chat: chat{b},
		Providers: cfg.Providers, Operations: cfg.Operations, Agent: cfg.Agent, ShowsChanges: showsChanges, Admins: cfg.Admins,
		Logger: cfg.Logger, RerunWindow: cfg.RerunWindow, Now: cfg.Now,
		People: people{b}, SchedulesPerUser: cfg.SchedulesPerUser, ScheduleGrace: cfg.ScheduleGrace,
	})
	// The inbox picks each turn a session runs from the store and takes the
	// slot of that turn's provider itself.
	b.queue = queue.New(cfg.Concurrency, func(t tandem.Turn) string { return b.inbox.PoolOf(t) }, func(t tandem.Turn) { b.inbox.RunSession(t) })
	b.queue.RunTakesSlots = true
	// Acknowledgements first: fewer turns start while Slack's
	// acknowledgements take over 10 ms here, and a backlog beyond what may
	// run at once waits in the store, not in memory.
	b.queue.Gate = &queue.Gate{Max: 4 * cfg.Concurrency, Now: cfg.Now}
	b.queue.MaxSessions = 2 * b.queue.Gate.Max
	b.queue.OnFree = func() { b.inbox.Refill() }
	b.inbox = inbox.New(inbox.Config{
		Store: cfg.Store, Queue: b.queue,
		Run: b.runTurn, Interrupted: b.interrupted, Takeover: b.takeover, Context: b.runCtx,
		Parse:  func(text string) turns.Command { return parseText(cfg.Operations, text) },
		Logger: cfg.Logger, LeaseTTL: cfg.LeaseTTL, ReorderWindow: cfg.ReorderWindow, Now: cfg.Now,
		Busy: b.tellQueued, Capacity: func() int { return b.queue.Gate.Limit() },
	})
	return b
}

// Team returns the Slack team id the bot serves ("" before Run connects).
func (b *Bot) Team() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.teamID
}

// Ready reports whether the bot is connected to Slack.
func (b *Bot) Ready() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.ready
}

func (b *Bot) runCtx() context.Context {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.ctx == nil {
		return context.Background()
	}
	return b.ctx
}

func (b *Bot) setReady(v bool) {
	b.mu.Lock()
	b.ready = v
	b.mu.Unlock()
}

// Run connects to Slack and serves until ctx ends. It fails when Slack
// refuses the tokens (auth.test) or the store cannot be read; once running,
// lost connections are reopened by slack-go. On return, turns that were
// still running are left in the inbox for the next start.
func (b *Bot) Run(ctx context.Context) error {
	// The socket opens while auth.test runs: the client keeps its events
	// (the connection's first) until Run reads them below.
	var opts []socketmode.Option
	if b.cfg.PingInterval > 0 {
		opts = append(opts, socketmode.OptionPingInterval(b.cfg.PingInterval))
	}
	client := socketmode.New(b.api, opts...)
	socketCtx, closeSocket := context.WithCancel(ctx)
	defer closeSocket()
	runErr := make(chan error, 1)
	go func() { runErr <- client.RunContext(socketCtx) }()
	auth, err := b.api.AuthTestContext(ctx)
	if err != nil {
		return fmt.Errorf("bot: slack refused the bot token or could not be reached (auth.test): %w", err)
	}
	// Turns run under their own context: a stop lets them finish within
	// ShutdownTimeout before cancelling them.
	turnCtx, cancelTurns := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelTurns()
	b.mu.Lock()
	b.teamID, b.teamName, b.userID = auth.TeamID, auth.Team, auth.UserID
	b.ctx = turnCtx
	b.mu.Unlock()
	b.log.Info("slack authenticated", "team", auth.TeamID, "bot_user", auth.UserID)

	if _, err := b.cfg.Store.UnfinishedTurns(ctx); err != nil {
		return fmt.Errorf("bot: read inbox: %w", err)
	}
	go b.inbox.Poll(ctx)
	go b.runAcks(ctx)
	go b.runSchedules(ctx)
	defer b.drain(cancelTurns)
	defer b.waitEvents()
	for {
		select {
		case <-ctx.Done():
			b.setReady(false)
			return nil
		case err := <-runErr:
			b.setReady(false)
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("bot: socket mode: %w", err)
		case evt := <-client.Events:
			b.handle(ctx, client, evt)
		}
	}
}

// eventsWait bounds how long Run, returning, waits for the events still
// being recorded: Slack's own deadline for an acknowledgement, past which
// it delivers the event again anyway.
const eventsWait = 3 * time.Second

// waitEvents lets the events still being recorded finish, at most
// eventsWait (a stalled store may hold them longer). The acknowledgements
// not sent by then are given up, and Slack delivers those events again; a
// turn made durable meanwhile is in the inbox at the next start.
func (b *Bot) waitEvents() {
	done := make(chan struct{})
	go func() {
		b.events.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(eventsWait):
		b.log.Warn("stopping while events are still being recorded; Slack delivers again those not acknowledged", "waited", eventsWait)
	}
}

// drain stops starting turns and waits for the running ones, at most
// ShutdownTimeout, then cancels what is left; unstarted and cancelled turns
// stay in the inbox for the next start.
func (b *Bot) drain(cancelTurns context.CancelFunc) {
	b.queue.Stop()
	done := make(chan struct{})
	go func() { b.queue.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(b.cfg.ShutdownTimeout):
		b.log.Warn("shutdown deadline reached; cancelling running turns, they resume at the next start", "timeout", b.cfg.ShutdownTimeout)
		cancelTurns()
		<-done
	}
}

// handle acknowledges one Socket Mode event, after recording it durably when
// it is a turn.
func (b *Bot) handle(ctx context.Context, client *socketmode.Client, evt socketmode.Event) {
	switch evt.Type {
	case socketmode.EventTypeConnected:
		b.setReady(true)
		b.log.Info("socket mode connected")
	case socketmode.EventTypeConnecting, socketmode.EventTypeHello:
	case socketmode.EventTypeConnectionError, socketmode.EventTypeIncomingError, socketmode.EventTypeInvalidAuth:
		b.setReady(false)
		b.log.Warn("socket mode connection problem", "type", evt.Type)
	case socketmode.EventTypeDisconnect:
		b.setReady(false)
	case socketmode.EventTypeErrorBadMessage:
		b.ackBadMessage(client, evt)
	case socketmode.EventTypeEventsAPI:
		b.dispatchEvent(ctx, client, evt.Request)
	case socketmode.EventTypeSlashCommand:
		b.handleSlash(ctx, client, evt)
	case socketmode.EventTypeInteractive:
		b.handleInteraction(ctx, client, evt)
	default:
		if evt.Request != nil && evt.Request.EnvelopeID != "" {
			b.ack(client, evt.Request, nil)
		}
	}
}

// ack acknowledges req, with payload unless it is nil, waiting as long as
// the Socket Mode connection takes (slack-go's Ack).
func (b *Bot) ack(client *socketmode.Client, req *socketmode.Request, payload any) {
	b.ackCtx(context.TODO(), client, req, payload)
}

// ackCtx acknowledges req, with payload unless it is nil, unless ctx ends
// first; a failure is logged unless it is ctx's.
func (b *Bot) ackCtx(ctx context.Context, client *socketmode.Client, req *socketmode.Request, payload any) {
	if err := client.AckCtx(ctx, req.EnvelopeID, payload); err != nil && ctx.Err() == nil {
		b.log.Warn("ack failed", "envelope", req.EnvelopeID, "err", err)
	}
}

// dispatchEvent decodes an event and hands it to its session's line of
// events (Bot.events), which records it, has it acknowledged once it is
// durable, and lets the session's next event wait until it is in the
// inbox. Events of different sessions are recorded at once (their writes
// share one flush), so one busy session never delays another's
// acknowledgement.
func (b *Bot) dispatchEvent(ctx context.Context, client *socketmode.Client, req *socketmode.Request) {
	in := inbound{client: client, req: req, received: time.Now()}
	b.queue.Gate.Arrive()
	cb, err := decodeCallback(req.Payload)
	if err != nil {
		b.log.Warn("dropping undecodable event", "envelope", req.EnvelopeID, "err", err)
		b.acks.add(in)
		return
	}
	key := cb.TeamID + "/" + cb.Event.Channel + "/" + cb.Event.threadRoot()
	b.events.Go(key, func(done func()) { b.handleEvent(ctx, in, cb, done) })
}

// handleEvent records a turn (Store.AppendTurn, which never waits behind
// the running turns' writes), and calls done once it is in the inbox, so
// that the session's next event is decided with it there; an event that
// is no turn it acknowledges, and calls done, at once. It runs on the
// event loop and never waits there: the one kind of event that needs the
// store to be decided, a plain message in a thread, is decided on a
// goroutine of its own.
func (b *Bot) handleEvent(ctx context.Context, in inbound, cb callback, done func()) {
	if cb.Event.Type == "app_home_opened" {
		b.acks.add(in)
		done()
		go b.publishHome(context.WithoutCancel(ctx), cb.TeamID, cb.Event.User)
		return
	}
	turn, cmd, inSessionOnly, ok := b.turnFor(cb)
	if !ok {
		b.acks.add(in)
		done()
		return
	}
	if !inSessionOnly {
		b.record(in, turn, cmd, done)
		return
	}
	go func() {
		if !b.inSession(ctx, turn.Session) {
			b.acks.add(in)
			done()
			return
		}
		b.record(in, turn, cmd, done)
	}()
}

// record appends turn to the store. Once it is durable it is noted and
// queued for acknowledgement (Bot.runAcks); once it is in the inbox its
// session is asked to run, and done is called. A turn that cannot be made
// durable is not acknowledged, so Slack delivers its event again.
func (b *Bot) record(in inbound, turn tandem.Turn, cmd *turns.Command, done func()) {
	notRecorded := func(err error) {
		b.log.Error("record turn; leaving the event unacknowledged for redelivery", "event", turn.ID, "err", err)
		b.queue.Gate.Abandon()
		done()
	}
	err := b.cfg.Store.AppendTurn(turn, func(err error) {
		if err != nil {
			notRecorded(err)
			return
		}
		// Noted before it can be picked from the inbox, so that its start
		// always finds it noted.
		b.inbox.Note(turn)
		b.acks.add(in)
	}, func(r tandem.Recorded) {
		b.recorded(in, turn, cmd, r)
		done()
	})
	if err != nil {
		notRecorded(err)
	}
}

// recorded asks an appended turn's session to run once the turn is in the
// inbox. It runs on the store's goroutine, so it only notes and queues.
func (b *Bot) recorded(in inbound, turn tandem.Turn, cmd *turns.Command, r tandem.Recorded) {
	log := b.log.With("turn", turn.ID, "session", turn.Session.String())
	if r.Err != nil || r.Duplicate {
		b.inbox.Unnote(turn)
	}
	if r.Err != nil {
		// Durable, and acknowledged: it is in the inbox when the store is
		// next opened.
		log.Error("record an appended turn in the inbox; it runs after the next start", "err", r.Err)
		return
	}
	if r.Duplicate {
		log.Info("duplicate delivery ignored", "retry_attempt", in.req.RetryAttempt)
		return
	}
	log.Info("turn recorded", "user", turn.User)
	if cmd != nil {
		b.inbox.Keep(turn, *cmd)
	}
	b.submit(turn)
}

// turnFor decides whether an event is a turn: a mention of the bot, a direct
// message, or a plain message in a thread; the last is a turn only inside
// a session (inSessionOnly: Bot.inSession decides), and comes with its
// command already parsed.
func (b *Bot) turnFor(cb callback) (turn tandem.Turn, cmd *turns.Command, inSessionOnly, ok bool) {
	e := cb.Event
	if (e.Type != "app_mention" && e.Type != "message") || !e.fromHuman(b.userID) || e.Channel == "" || e.TS == "" {
		return tandem.Turn{}, nil, false, false
	}
	team := cb.TeamID
	if team == "" {
		team = b.teamID
	}
	text, mentioned := stripMention(e.Text, b.userID)
	key := tandem.SessionKey{Team: team, Channel: e.Channel, ThreadTS: e.threadRoot()}
	direct := e.Type == "message" && (e.ChannelType == "im" || isDM(e.Channel))
	switch {
	case e.Type == "app_mention", direct, mentioned:
	case e.ThreadTS != "":
		c := parseText(b.cfg.Operations, text)
		if c.Err() != nil || c.Name() == turns.ActionScheduleCreate {
			// Not a command; or chat that reads as one that would act as
			// its sender later ("tomorrow at 10 let's look at …"): only
			// a message addressed to Tandem makes a schedule.
			return tandem.Turn{}, nil, false, false
		}
		cmd, inSessionOnly = &c, true
	default:
		return tandem.Turn{}, nil, false, false
	}
	return tandem.Turn{
		ID: cb.EventID, Session: key, User: e.User, Text: text, TS: e.TS,
		ReceivedAt: b.cfg.Now(),
	}, cmd, inSessionOnly, true
}

// inSession reports whether a plain message in the thread of key counts:
// only inside a session, one that is stored, or whose first turn is in
// the inbox (it may have replied and be being marked done with the session
// it starts). The session's earlier events are in the inbox by now
// (Bot.events).
func (b *Bot) inSession(ctx context.Context, key tandem.SessionKey) bool {
	if _, err := b.cfg.Store.Session(ctx, key); err == nil {
		return true
	}
	_, err := b.cfg.Store.NextTurn(ctx, key)
	return err == nil
}

// parseText reads a turn's text as a command of ops. It is a variable so
// that a test can count the parses a turn costs.
var parseText = turns.Operations.Parse

// takeover counts a turn taken over from a process that stopped or died
// while running it, when the Recorder counts takeovers.
func (b *Bot) takeover() {
	if tr, ok := b.cfg.Metrics.(takeoverRecorder); ok {
		tr.Takeover()
	}
}

// takeoverRecorder is a Recorder that counts takeovers.
type takeoverRecorder interface{ Takeover() }

func isDM(channel string) bool { return len(channel) > 0 && channel[0] == 'D' }

// submit asks for a recorded turn's session to be run; the session's
// unfinished turns then run in the order they were sent. A session already
// waiting to run needs no second request: that run will find t.
func (b *Bot) submit(t tandem.Turn) {
	if !b.queue.Wake(t) {
		b.inbox.LeftInStore()
	}
}
