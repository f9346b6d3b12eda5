package postgres

import (
	"context"
	"embed"
	"fmt"
	"path"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/tandembot/tandem"
)

// SchemaVersion is the schema this binary reads and writes. The database
// records the versions applied to it in the schema_version table; Open
// refuses any other version, and Migrate upgrades older ones.
//
// History, as in the bbolt store up to 3: 1, the first release (turns,
// sessions, links, OAuth states, audit); 2 adds API keys, settings and
// leases; 3 adds the index of each session's unfinished turns; 4 adds API
// key scopes (existing keys become write keys); 5 adds schedules and the
// schedule a turn runs for; 6 adds the pending flag of an API key an
// operator made (an existing key is pending unless the audit shows its
// person made it). The bbolt store needed no version for scopes (it stores
// keys as JSON, and a key without a scope reads as a write key) nor for
// schedules (Open creates a missing bucket, and turns are JSON).
const SchemaVersion = 6

//go:embed migrations/*.sql
var migrationFiles embed.FS

// migration upgrades the schema from version-1 to version.
type migration struct {
	version int
	name    string // the file name, recorded beside the version
	sql     string
}

// migrations[i] has version i+1; its length is SchemaVersion.
var migrations = mustLoadMigrations()

func mustLoadMigrations() []migration {
	ms, err := loadMigrations()
	if err != nil {
		panic("postgres: embedded migrations: " + err.Error())
	}
	return ms
}

// loadMigrations reads migrations/NNNN_name.sql, which must be numbered
// from 1 without gaps up to SchemaVersion.
func loadMigrations() ([]migration, error) {
	entries, err := migrationFiles.ReadDir("migrations")
	if err != nil {
		return nil, err
	}
	var ms []migration
	for _, e := range entries { // ReadDir sorts by name
		num, _, ok := strings.Cut(e.Name(), "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || !strings.HasSuffix(e.Name(), ".sql") {
			return nil, fmt.Errorf("%s is not named NNNN_name.sql", e.Name())
		}
		if v != len(ms)+1 {
			return nil, fmt.Errorf("%s has version %d, want %d", e.Name(), v, len(ms)+1)
		}
		sql, err := migrationFiles.ReadFile(path.Join("migrations", e.Name()))
		if err != nil {
			return nil, err
		}
		ms = append(ms, migration{version: v, name: e.Name(), sql: string(sql)})
	}
	if len(ms) != SchemaVersion {
		return nil, fmt.Errorf("%d migrations for schema version %d", len(ms), SchemaVersion)
	}
	return ms, nil
}

// Migrate upgrades the database at url to SchemaVersion (creating the
// schema in an empty database) and reports the versions it went from and to
// (equal when there was nothing to do; 0 for an empty database). Each
// version is applied in its own transaction, under a lock that makes
// concurrent migrators wait for each other, so a failing step leaves the
// database at the last version that completed, and two migrators never
// apply a version twice. Take a backup (pg_dump) first. It fails with
// EUNAVAILABLE when the server cannot be reached and EINVALID when the URL
// is invalid or the schema is newer than this binary.
func Migrate(ctx context.Context, url string, opts Options) (from, to int, err error) {
	cfg, where, err := parseConfig(url)
	if err != nil {
		return 0, 0, fmt.Errorf("postgres: migrate: %w", err)
	}
	conn, err := pgx.ConnectConfig(ctx, cfg.ConnConfig)
	if err != nil {
		db := &DB{where: where}
		return 0, 0, db.fail(ctx, "migrate "+where, err)
	}
	defer conn.Close(context.Background())
	from, to, err = migrate(ctx, conn, where, migrations)
	if err != nil {
		db := &DB{where: where}
		return from, to, db.fail(ctx, "migrate "+where, err)
	}
	return from, to, nil
}

type beginner interface {
	Begin(ctx context.Context) (pgx.Tx, error)
}

// migrate applies ms[v:] to a database at version v, one version per
// transaction. Each transaction takes a transaction-scoped advisory lock
// (per schema) before it reads the version, so a concurrent migrator waits
// and then finds the version applied.
func migrate(ctx context.Context, db beginner, where string, ms []migration) (from, to int, err error) {
	from = -1
	for {
		var version int
		applied := false
		err := pgx.BeginFunc(ctx, db, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtext('tandem schema migration'), hashtext(coalesce(current_schema(), '')))`); err != nil {
				return fmt.Errorf("lock: %w", err)
			}
			if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_version (
				version    integer PRIMARY KEY,
				name       text NOT NULL,
				applied_at timestamptz NOT NULL DEFAULT now()
			)`); err != nil {
				return fmt.Errorf("schema_version table: %w", err)
			}
			v, err := readVersion(ctx, tx)
			if err != nil {
				return err
			}
			version = v
			if from < 0 {
				from = v
			}
			if v > len(ms) {
				return checkVersion(v, where)
			}
			if v == len(ms) {
				return nil
			}
			m := ms[v]
			if _, err := tx.Exec(ctx, m.sql); err != nil {
				return fmt.Errorf("schema %d to %d (%s): %w", v, m.version, m.name, err)
			}
			if _, err := tx.Exec(ctx, `INSERT INTO schema_version (version, name) VALUES ($1, $2)`, m.version, m.name); err != nil {
				return fmt.Errorf("schema %d to %d: record version: %w", v, m.version, err)
			}
			version, applied = m.version, true
			return nil
		})
		if err != nil {
			if from < 0 {
				from = 0
			}
			return from, max(from, to), err
		}
		to = version
		if !applied {
			return from, to, nil
		}
	}
}

type querier interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// readVersion returns the schema version of the database, 0 when it has no
// schema_version table (an empty database).
func readVersion(ctx context.Context, q querier) (int, error) {
	var exists bool
	if err := q.QueryRow(ctx, `SELECT to_regclass('schema_version') IS NOT NULL`).Scan(&exists); err != nil {
		return 0, fmt.Errorf("schema version: %w", err)
	}
	if !exists {
		return 0, nil
	}
	var v int
	if err := q.QueryRow(ctx, `SELECT coalesce(max(version), 0) FROM schema_version`).Scan(&v); err != nil {
		return 0, fmt.Errorf("schema version: %w", err)
	}
	return v, nil
}

func checkVersion(version int, where string) error {
	switch {
	case version > SchemaVersion:
		return tandem.Errorf(tandem.EINVALID,
			"the database %s was written by a newer Tandem (schema %d, this binary knows up to %d); upgrade Tandem",
			where, version, SchemaVersion)
	case version < SchemaVersion:
		return tandem.Errorf(tandem.EINVALID,
			"the database %s has schema %d, older than this binary's %d; back it up and run tandem migrate",
			where, version, SchemaVersion)
	}
	return nil
}
