// Package turns is Tandem's turn engine, and knows nothing of Slack: it
// resolves whose identity a turn uses by the identity rule, resolves (and,
// for a persistent session's owner, holds) the credentials, runs the
// operation with one retry of a read, and records the audit trail. It also
// carries out session controls and the owner's consent, and says how ready
// a session is. It takes a turn and returns a Result (the reply or error,
// the identity used, the outcome); the transport renders it, and tells
// people what a Notifier is asked to.
package turns

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/tandembot/tandem"
)

// Store is what the engine needs of the store.
type Store interface {
	RecordTurn(ctx context.Context, t tandem.Turn) (bool, error)
	TurnRecord(ctx context.Context, id string) (tandem.TurnRecord, error)
	Session(ctx context.Context, key tandem.SessionKey) (tandem.Session, error)
	SessionOrSetting(ctx context.Context, key tandem.SessionKey, setting string) (tandem.Session, string, error)
	StepTurn(ctx context.Context, id string, step tandem.TurnStep) error
	UpdateSession(ctx context.Context, key tandem.SessionKey, fn func(*tandem.Session) error) (tandem.Session, error)
	UpdateSessionForTurn(ctx context.Context, key tandem.SessionKey, turn string, fn func(*tandem.Session) error) (tandem.Session, error)
	Setting(ctx context.Context, name string) (string, error)
	SetSetting(ctx context.Context, name, value string) error
	Lease(ctx context.Context, name, owner string, ttl time.Duration) (bool, error)
	ReleaseLease(ctx context.Context, name, owner string) error
	Audit(ctx context.Context, f tandem.AuditFilter) ([]tandem.AuditRecord, error)
	AppendAudit(ctx context.Context, r tandem.AuditRecord) error
	Links(ctx context.Context, team, user string) ([]tandem.Link, error)
	APIKeys(ctx context.Context, team, creator string) ([]tandem.APIKey, error)
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

// Directory says who administers what in the workspace.
type Directory interface {
	// IsWorkspaceAdmin reports whether user is a workspace admin or owner;
	// it fails when that cannot be found out.
	IsWorkspaceAdmin(ctx context.Context, user string) (bool, error)
	// ChannelCreator returns who created channel ("" for a direct message
	// or a channel without one); it fails when that cannot be found out.
	ChannelCreator(ctx context.Context, channel string) (string, error)
}

// Notifier tells people what the engine cannot put in a turn's reply: it
// asks an owner's consent privately, announces session changes in their
// thread, and offers people Connect buttons for their own accounts. Its
// failures are logged by the engine or by the Notifier itself; none stops a
// turn.
type Notifier interface {
	// AskConsent asks sess's owner privately to approve by's request to
	// run every turn of sess as the owner, for the owner and exactly the
	// editors shown.
	AskConsent(ctx context.Context, sess tandem.Session, by string, shown []string) error
	// AskEditor asks sess's owner privately to approve by's request to
	// add user as an editor of sess (who then acts as the owner).
	AskEditor(ctx context.Context, sess tandem.Session, by, user string) error
	// Announce posts r visibly in the thread of the session key.
	Announce(ctx context.Context, key tandem.SessionKey, r tandem.Reply)
	// OfferConnect shows user alone, in the thread of the session key, r
	// with a button per provider in ps that links user's own account
	// (Reconnect for those in reconnect).
	OfferConnect(ctx context.Context, key tandem.SessionKey, user string, r tandem.Reply, ps, reconnect []tandem.ProviderID)
}

// Config wires an Engine.
type Config struct {
	Store     Store
	Resolver  Resolver
	Directory Directory
	Notifier  Notifier
	Chat      Chat
	// People says people's time zones and whether they are still here,
	// for schedules (nil: UTC, and nobody ever leaves).
	People    People
	Providers map[tandem.ProviderID]tandem.Provider
	// Operations are what turns can ask for (zero: the general ones only).
	Operations Operations
	// Agent plans free-form requests (nil: they get "did you mean").
	Agent *Agent
	// ShowsChanges reports whether the edge shows these changes' summaries
	// whole, in order, on the card that asks their sender to confirm them
	// (the bot: its proposal card within Slack's limits). An agent turn
	// proposes no change that would make the list not fit, and a press
	// confirms none, since nobody can consent to what they were not
	// shown. Nil shows nothing: no change is ever proposed.
	ShowsChanges func(summaries []string) bool
	// Admins are users who count as channel admins everywhere
	// (TANDEM_ADMINS).
	Admins []string
	Logger *slog.Logger
	// RerunWindow is how old a failed turn may be and still be re-run after
	// its sender links the missing account (default 30 minutes).
	RerunWindow time.Duration
	// SchedulesPerUser is how many schedules one person may have
	// (TANDEM_SCHEDULES_PER_USER, default 20).
	SchedulesPerUser int
	// ScheduleGrace is how late a due run may still start after Tandem was
	// down (TANDEM_SCHEDULE_GRACE, default 1h); a later one is skipped.
	ScheduleGrace time.Duration
	Now           func() time.Time
}

// Engine runs turns.
type Engine struct {
	cfg Config
	log *slog.Logger

	mu sync.Mutex
	// held keeps the owner's resolved credentials of persistent sessions
	// between turns; per-message credentials are never held.
	held map[tandem.SessionKey]map[tandem.ProviderID]tandem.Credentials
	// waiters are callers waiting for a turn's result, by turn id.
	waiters map[string]*waiter
}

// New returns an Engine.
func New(cfg Config) *Engine {
	if cfg.RerunWindow <= 0 {
		cfg.RerunWindow = 30 * time.Minute
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &Engine{cfg: cfg, log: cfg.Logger}
}

// RerunWindow is how old a failed turn may be and still run again when its
// sender connects the provider it lacked.
func (e *Engine) RerunWindow() time.Duration { return e.cfg.RerunWindow }

// Parse reads text as a command of the engine's operations.
func (e *Engine) Parse(text string) Command { return e.cfg.Operations.Parse(text) }

// Enabled lists the providers configured here, in the usual provider order.
func (e *Engine) Enabled() []tandem.ProviderID {
	var out []tandem.ProviderID
	for _, p := range tandem.Providers {
		if _, ok := e.cfg.Providers[p]; ok {
			out = append(out, p)
		}
	}
	return out
}
