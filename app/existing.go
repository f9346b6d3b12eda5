package app

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/tandembot/tandem/secrets"
	"github.com/tandembot/tandem/store/postgres"
)

// Operator commands work on the database tandem serve created; they must
// never create one, nor a key file, where the operator happened to run them
// (a fresh tandem.db and tandem.db.key in the wrong directory look like a
// working, empty Tandem).

// NoDatabaseError is RequireDB's error: there is no bbolt file at Path (an
// absolute path).
type NoDatabaseError struct{ Path string }

func (e *NoDatabaseError) Error() string {
	return fmt.Sprintf("tandem: there is no Tandem database at %s (TANDEM_DB sets the file; TANDEM_DATABASE_URL selects PostgreSQL instead); tandem serve creates it on its first start", e.Path)
}

// NoKeyFileError is OpenExistingKeyring's error: TANDEM_ENCRYPTION_KEY is
// not set and there is no key file at Path (an absolute path).
type NoKeyFileError struct{ Path string }

func (e *NoKeyFileError) Error() string {
	return fmt.Sprintf("tandem: TANDEM_ENCRYPTION_KEY is not set and there is no key file at %s; set TANDEM_ENCRYPTION_KEY to the key the database was written with", e.Path)
}

// NoSchemaError is RequireSchema's error: the PostgreSQL database Where
// (its URL without the password) holds no Tandem schema.
type NoSchemaError struct{ Where string }

func (e *NoSchemaError) Error() string {
	return fmt.Sprintf("tandem: there is no Tandem schema in the PostgreSQL database %s (TANDEM_DATABASE_URL; its search_path chooses the schema); tandem serve creates it on its first start, or tandem migrate", e.Where)
}

// RequireDB fails with a *NoDatabaseError when cfg names a bbolt file (no
// TANDEM_DATABASE_URL) that does not exist. It does not check PostgreSQL.
func RequireDB(cfg Config) error {
	if cfg.DatabaseURL != "" {
		return nil
	}
	if _, err := os.Stat(cfg.DBPath); errors.Is(err, fs.ErrNotExist) {
		return &NoDatabaseError{Path: absPath(cfg.DBPath)}
	}
	return nil
}

// RequireSchema fails with a *NoSchemaError when cfg names a PostgreSQL
// database (TANDEM_DATABASE_URL) without a Tandem schema, which
// postgres.Open would create. It returns nil for bbolt, and when the
// database cannot be reached or asked: OpenDB says what is wrong then.
func RequireSchema(ctx context.Context, cfg Config) error {
	if cfg.DatabaseURL == "" {
		return nil
	}
	pc, err := pgx.ParseConfig(cfg.DatabaseURL)
	if err != nil {
		return nil
	}
	if pc.ConnectTimeout == 0 {
		pc.ConnectTimeout = postgres.DefaultConnectTimeout
	}
	conn, err := pgx.ConnectConfig(ctx, pc)
	if err != nil {
		return nil
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if facts, err := postgres.Inspect(ctx, conn); err != nil || facts.Version > 0 {
		return nil
	}
	return &NoSchemaError{Where: strings.TrimPrefix(DescribeDB(cfg), "postgres ")}
}

// OpenExistingKeyring is OpenKeyring that never creates the key file: with
// no TANDEM_ENCRYPTION_KEY and no key file beside the database it fails with
// a *NoKeyFileError; otherwise it fails as OpenKeyring does.
func OpenExistingKeyring(cfg Config, log *slog.Logger) (*secrets.Keyring, error) {
	if cfg.EncryptionKey == "" {
		path := KeyFilePath(cfg.DBPath)
		if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
			return nil, &NoKeyFileError{Path: absPath(path)}
		}
	}
	return OpenKeyring(cfg, log)
}

// OpenExistingDB opens the database for an operator command: RequireDB,
// RequireSchema, then OpenExistingKeyring, then OpenDB. It fails with their
// errors.
func OpenExistingDB(ctx context.Context, cfg Config, log *slog.Logger) (DB, error) {
	if err := RequireDB(cfg); err != nil {
		return nil, err
	}
	if err := RequireSchema(ctx, cfg); err != nil {
		return nil, err
	}
	keys, err := OpenExistingKeyring(cfg, log)
	if err != nil {
		return nil, err
	}
	return OpenDB(ctx, cfg, keys)
}

func absPath(p string) string {
	if a, err := filepath.Abs(p); err == nil {
		return a
	}
	return p
}
