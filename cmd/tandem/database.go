package main

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"time"

	"github.com/tandembot/tandem"
	"github.com/tandembot/tandem/secrets"
	"github.com/tandembot/tandem/store"
	"github.com/tandembot/tandem/store/postgres"
)

// database is a store backend as the commands use it: the store contract
// plus upkeep.
type database interface {
	tandem.Store
	Ping(ctx context.Context) error
	Rekey(ctx context.Context) (int, error)
	PruneTurns(before time.Time) (int, error)
	PruneAudit(before time.Time) (int, error)
	PruneOAuthStates(now time.Time) (int, error)
}

var (
	_ database = (*store.DB)(nil)
	_ database = (*postgres.DB)(nil)
)

// openDatabase opens PostgreSQL when TANDEM_DATABASE_URL is set, else the
// bbolt file TANDEM_DB. Errors are worded for the operator.
func openDatabase(ctx context.Context, cfg config, keys *secrets.Keyring) (database, error) {
	if cfg.DatabaseURL != "" {
		db, err := postgres.Open(ctx, cfg.DatabaseURL, postgres.Options{Keyring: keys})
		if err != nil {
			return nil, errors.New("tandem: " + tandem.ErrorMessage(err))
		}
		return db, nil
	}
	db, err := store.Open(cfg.DBPath, store.Options{Keyring: keys})
	if err != nil {
		return nil, errors.New("tandem: " + tandem.ErrorMessage(err))
	}
	return db, nil
}

// describeDatabase names the backend for logs without its password.
func describeDatabase(cfg config) string {
	if cfg.DatabaseURL == "" {
		return "bbolt " + cfg.DBPath
	}
	u := cfg.DatabaseURL
	if at := strings.LastIndex(u, "@"); at > 0 {
		if i := strings.Index(u, "://"); i > 0 && i < at {
			u = u[:i+3] + "…" + u[at:]
		}
	}
	return "postgres " + u
}

func logDatabase(log *slog.Logger, cfg config) {
	log.Info("store opened", "backend", describeDatabase(cfg))
}
