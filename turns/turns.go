// Package turns is Tandem's turn engine, and knows nothing of Slack: it
// resolves whose identity a turn uses by the identity rule, resolves (and,
// for a persistent session's owner, holds) the credentials, runs the
// operation with one retry of a read, and records the audit trail. It takes
// a turn and returns a Result (the reply or error, the identity used, the
// outcome); the transport renders it.
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
	EnsureSession(ctx context.Context, s tandem.Session) (tandem.Session, bool, error)
	AddEditor(ctx context.Context, key tandem.SessionKey, user string) error
	Audit(ctx context.Context, f tandem.AuditFilter) ([]tandem.AuditRecord, error)
	AppendAudit(ctx context.Context, r tandem.AuditRecord) error
	Links(ctx context.Context, team, user string) ([]tandem.Link, error)
}

// Resolver hands out a user's credentials for a provider.
type Resolver interface {
	Credentials(ctx context.Context, team, user string, p tandem.ProviderID, reason tandem.Reason) (tandem.Credentials, error)
}

// Controls carries out session controls (set, unset, editors, audit,
// session), which change the session rather than act at a provider, and
// applies a channel's default to a new session.
type Controls interface {
	// Control carries out cmd, a session control, for t in sess. Its
	// error is meant for the sender.
	Control(ctx context.Context, t tandem.Turn, sess tandem.Session, cmd Command) (tandem.Reply, error)
	// ChannelDefault applies the default of sess's channel to sess, just
	// created, and returns the session as it then is.
	ChannelDefault(ctx context.Context, sess tandem.Session) tandem.Session
}

// Config wires an Engine.
type Config struct {
	Store     Store
	Resolver  Resolver
	Controls  Controls
	Providers map[tandem.ProviderID]tandem.Provider
	Logger    *slog.Logger
	// RerunWindow is how old a failed turn may be and still be re-run after
	// its sender links the missing account (default 30 minutes).
	RerunWindow time.Duration
	Now         func() time.Time
}

// Engine runs turns.
type Engine struct {
	cfg Config
	log *slog.Logger

	mu sync.Mutex
	// held keeps the owner's resolved credentials of persistent sessions
	// between turns; per-message credentials are never held.
	held map[tandem.SessionKey]map[tandem.ProviderID]tandem.Credentials
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
