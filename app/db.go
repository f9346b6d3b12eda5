package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"path/filepath"
	"strings"
	"time"

	"github.com/tandembot/tandem"
	"github.com/tandembot/tandem/secrets"
	"github.com/tandembot/tandem/store"
	"github.com/tandembot/tandem/store/postgres"
)

// DB is a store backend as the app and the operator commands use it: the
// store contract plus upkeep.
type DB interface {
	tandem.Store
	Ping(ctx context.Context) error
	Rekey(ctx context.Context) (int, error)
	PruneTurns(before time.Time) (int, error)
	PruneAudit(before time.Time) (int, error)
	PruneOAuthStates(now time.Time) (int, error)
}

var (
	_ DB = (*store.DB)(nil)
	_ DB = (*postgres.DB)(nil)
)

// OpenDB opens PostgreSQL when cfg.DatabaseURL (TANDEM_DATABASE_URL) is
// set, else the bbolt file cfg.DBPath (TANDEM_DB), which it creates when
// missing but never its folder. It fails with a *StartupError, one line
// worded for the operator, when the store cannot be opened or used with
// keys.
func OpenDB(ctx context.Context, cfg Config, keys *secrets.Keyring) (DB, error) {
	if cfg.DatabaseURL != "" {
		db, err := postgres.Open(ctx, cfg.DatabaseURL, postgres.Options{Keyring: keys, Now: cfg.Now})
		if err != nil {
			return nil, dbOpenError(cfg, keys, err)
		}
		return db, nil
	}
	if err := checkDBFolder(cfg); err != nil {
		return nil, err
	}
	db, err := store.Open(cfg.DBPath, store.Options{Keyring: keys, Now: cfg.Now})
	if err != nil {
		return nil, dbOpenError(cfg, keys, err)
	}
	return db, nil
}

// DescribeDB names the backend for logs and operators, without its password:
// neither the URL's user information nor a password in its query, where
// pgx reads one too (?password=, ?sslpassword=).
func DescribeDB(cfg Config) string {
	if cfg.DatabaseURL == "" {
		return "bbolt " + cfg.DBPath
	}
	u := cfg.DatabaseURL
	if at := strings.LastIndex(u, "@"); at > 0 {
		if i := strings.Index(u, "://"); i > 0 && i < at {
			u = u[:i+3] + "…" + u[at:]
		}
	}
	if base, query, ok := strings.Cut(u, "?"); ok {
		pairs := strings.Split(query, "&")
		for i, kv := range pairs {
			k, _, _ := strings.Cut(kv, "=")
			if key, err := url.QueryUnescape(k); err != nil || passwordParam(key) {
				pairs[i] = k + "=…"
			}
		}
		u = base + "?" + strings.Join(pairs, "&")
	}
	return "postgres " + u
}

// passwordParam reports whether a query parameter of a database URL holds
// a password (pgx reads password and sslpassword there), which neither a
// log line nor an operator's output may show.
func passwordParam(name string) bool {
	return strings.Contains(strings.ToLower(name), "password")
}

// OpenKeyring uses cfg.EncryptionKey (TANDEM_ENCRYPTION_KEY), or a key file
// beside the database that is generated on first run (in an existing
// folder only), with cfg.PreviousKeys for secrets sealed under older keys.
// It fails with an error listing every problem when a key does not parse,
// and with a *StartupError when the key file cannot be read or created.
func OpenKeyring(cfg Config, log *slog.Logger) (*secrets.Keyring, error) {
	keys, created, err := openKeyring(cfg)
	if created != "" {
		logKeyCreated(log, created)
	}
	return keys, err
}

func logKeyCreated(log *slog.Logger, path string) {
	log.Warn("generated a new encryption key file; back it up, tokens cannot be read without it", "path", path, "mode", "0600")
}

// openKeyring is OpenKeyring without the log line; it returns the path of
// the key file when it generated one.
func openKeyring(cfg Config) (keys *secrets.Keyring, created string, err error) {
	var problems []string
	var prev [][]byte
	for i, p := range cfg.PreviousKeys {
		k, err := secrets.ParseKey(strings.TrimSpace(p))
		if err != nil {
			problems = append(problems, fmt.Sprintf("TANDEM_ENCRYPTION_KEY_PREVIOUS entry %d: %v", i+1, err))
		}
		prev = append(prev, k)
	}
	var key []byte
	if cfg.EncryptionKey != "" {
		k, err := secrets.ParseKey(cfg.EncryptionKey)
		if err != nil {
			problems = append(problems, "TANDEM_ENCRYPTION_KEY: "+err.Error())
		}
		key = k
	} else if len(problems) == 0 {
		// The key file lives beside the database: a folder that does not
		// exist is a mistyped TANDEM_DB, not a place to create.
		if err := checkDBFolder(cfg); err != nil {
			return nil, "", err
		}
		path := KeyFilePath(cfg.DBPath)
		k, isNew, err := secrets.LoadOrCreateKeyFile(path)
		if err != nil {
			return nil, "", startupErr(tandem.EINVALID, []string{"TANDEM_DB", "TANDEM_ENCRYPTION_KEY"}, err,
				"TANDEM_ENCRYPTION_KEY is not set and the key file %s beside TANDEM_DB cannot be read or created (%s); set TANDEM_DB to a file in a folder tandem can write, fix the key file, or set TANDEM_ENCRYPTION_KEY",
				path, osError(err))
		}
		if isNew {
			created = path
		}
		key = k
	}
	if len(problems) == 1 {
		return nil, created, errors.New("tandem: " + problems[0])
	} else if len(problems) > 0 {
		return nil, created, errors.New("tandem: configuration problems:\n  " + strings.Join(problems, "\n  "))
	}
	keys, err = secrets.NewKeyring(key, prev...)
	if err != nil {
		return nil, created, fmt.Errorf("tandem: encryption key: %w", err)
	}
	return keys, created, nil
}

// KeyFilePath is where the key file of the bbolt database at dbPath lies:
// beside it, named after it with .key appended.
func KeyFilePath(dbPath string) string {
	return filepath.Join(filepath.Dir(dbPath), filepath.Base(dbPath)+".key")
}
