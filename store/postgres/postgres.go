// Package postgres keeps Tandem's state in PostgreSQL, so that several
// replicas can share it: the inbox of turns, sessions, linked accounts
// (tokens sealed), OAuth flows in progress (PKCE verifiers sealed), API keys
// (hashes only), settings, leases, schedules and the audit trail.
//
// DB implements tandem.Store with the semantics of the bbolt store (package
// store) and passes the same conformance suite. Replicas coordinate through
// PostgreSQL alone: unique indexes deduplicate turns, so concurrent
// RecordTurn calls from any number of replicas record a turn once; row locks
// (SELECT ... FOR UPDATE) make UpdateSession, UpdateAPIKey, UpdateSchedule
// and SwapToken read-modify-writes; an advisory lock per person makes
// CreateSchedule's limit hold; DELETE ... RETURNING makes an OAuth state
// single-use; and a lease is an upsert that only the holder, or anyone once it has
// expired, gets through. Every method is one statement or one transaction,
// durable when it returns.
//
// Secrets are sealed with the same keyring and the same associated data as
// in the bbolt store, so sealed values move between the two unchanged
// (package storecopy copies them without opening them).
//
// Differences from bbolt that callers may notice: times keep microseconds
// (PostgreSQL's precision) instead of nanoseconds, and text must be valid
// UTF-8 without NUL characters (EINVALID otherwise).
//
// The schema is versioned SQL, embedded from migrations/NNNN_name.sql and
// recorded in the schema_version table. Open creates it in an empty
// database and refuses any other version than SchemaVersion; Migrate
// upgrades an older one. To keep Tandem's tables in a schema of their own,
// name it in the URL: postgres://host/db?search_path=tandem.
package postgres

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/tandembot/tandem"
	"github.com/tandembot/tandem/secrets"
)

// DefaultConnectTimeout bounds one attempt to connect when the URL sets no
// connect_timeout, so an unreachable server fails instead of hanging.
const DefaultConnectTimeout = 10 * time.Second

// The key check, as in the bbolt store: the same associated data and
// plaintext, so a database copied from bbolt keeps a valid one.
const (
	keyCheckName = "key_check"
	keyCheckAD   = "tandem|meta|key_check"
)

var keyCheckPT = []byte("tandem key check v1")

// Options configure Open and Migrate.
type Options struct {
	// Keyring seals and opens tokens and verifiers. Open requires it;
	// Migrate does not use it.
	Keyring *secrets.Keyring
	// Now is the clock for recording times and for leases; time.Now when
	// nil. Replicas should keep their clocks in sync (NTP): leases compare
	// one replica's clock with another's.
	Now func() time.Time
	// MaxConns caps the connection pool; pgxpool's default (the larger of
	// 4 and the number of CPUs) when zero.
	MaxConns int32
}

// DB is the PostgreSQL implementation of tandem.Store. It is safe for
// concurrent use, by any number of processes sharing the database.
type DB struct {
	pool *pgxpool.Pool
	// appends is a pool of its own for AppendTurn, so that recording an
	// event never waits for a connection the running turns hold.
	appends *pgxpool.Pool
	keys    *secrets.Keyring
	now     func() time.Time
	where   string // the database, for messages; never the password
	closed  atomic.Bool
	// batch gathers AppendTurn's inserts.
	batch appendBatch
}

var _ tandem.Store = (*DB)(nil)

// Open connects to the database at url (a postgres:// URL or a keyword/value
// string, as libpq reads them), creating Tandem's schema when the database
// has none. It fails with EUNAVAILABLE when the server cannot be reached,
// and with EINVALID when the URL is invalid, there is no keyring, the schema
// is older than SchemaVersion ("run tandem migrate") or newer ("written by a
// newer Tandem"), or its secrets were sealed under a key that is not in
// opts.Keyring.
func Open(ctx context.Context, url string, opts Options) (*DB, error) {
	if opts.Keyring == nil {
		return nil, fmt.Errorf("postgres: open: %w", tandem.Errorf(tandem.EINVALID, "the store needs an encryption key to open the database"))
	}
	cfg, where, err := parseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("postgres: open: %w", err)
	}
	if opts.MaxConns > 0 {
		cfg.MaxConns = opts.MaxConns
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: open %s: %w", where, err)
	}
	acfg := cfg.Copy()
	acfg.MaxConns, acfg.MinConns = appendConns, 1
	appends, err := pgxpool.NewWithConfig(ctx, acfg)
	if err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres: open %s: %w", where, err)
	}
	db := &DB{pool: pool, appends: appends, keys: opts.Keyring, now: opts.Now, where: where}
	if db.now == nil {
		db.now = time.Now
	}
	if err := db.initialize(ctx); err != nil {
		pool.Close()
		appends.Close()
		return nil, db.fail(ctx, "open "+where, err)
	}
	return db, nil
}

// parseConfig reads url and describes the database it names for messages.
func parseConfig(url string) (*pgxpool.Config, string, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		// pgx redacts the password from its parse errors.
		return nil, "", fmt.Errorf("%w (%w)", tandem.Errorf(tandem.EINVALID, "the PostgreSQL URL is not valid"), err)
	}
	if cfg.ConnConfig.ConnectTimeout == 0 {
		cfg.ConnConfig.ConnectTimeout = DefaultConnectTimeout
	}
	cc := cfg.ConnConfig
	where := fmt.Sprintf("%q on %s", cc.Database, net.JoinHostPort(cc.Host, fmt.Sprint(cc.Port)))
	if sp := cc.RuntimeParams["search_path"]; sp != "" {
		where += fmt.Sprintf(" (search_path %s)", sp)
	}
	return cfg, where, nil
}

// initialize creates the schema of an empty database, and checks the
// schema version and the key of an existing one.
func (db *DB) initialize(ctx context.Context) error {
	version, err := readVersion(ctx, db.pool)
	if err != nil {
		return err
	}
	if version == 0 {
		// A new database: several replicas starting at once all get here;
		// migrate's lock lets one create the schema and the others find it.
		if _, version, err = migrate(ctx, db.pool, db.where, migrations); err != nil {
			var pgErr *pgconn.PgError
			if errors.As(err, &pgErr) && pgErr.Code == "42P07" { // duplicate table
				return fmt.Errorf("%w (%w)", tandem.Errorf(tandem.EINVALID,
					"the database %s holds tables of another program but no Tandem schema version; give Tandem a database or schema of its own (search_path in the URL)", db.where), err)
			}
			return fmt.Errorf("create schema: %w", err)
		}
	}
	// Another replica may be migrating a new database a step at a time:
	// while its version still moves, wait for it rather than call it old.
	for last, still := version, 0; version > 0 && version < SchemaVersion && still < 3; still++ {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
		if version, err = readVersion(ctx, db.pool); err != nil {
			return err
		}
		if version != last {
			last, still = version, -1
		}
	}
	if err := checkVersion(version, db.where); err != nil {
		return err
	}
	return db.checkKey(ctx)
}

func (db *DB) checkKey(ctx context.Context) error {
	fresh, err := db.keys.Seal(keyCheckPT, keyCheckAD)
	if err != nil {
		return err
	}
	// The first replica to get here stores its key check; everyone reads
	// the stored one.
	// When another replica inserts it concurrently, the INSERT waits for
	// that commit and does nothing, but this statement's snapshot predates
	// the row, so it finds none: the next statement, with a new snapshot,
	// sees it.
	var sealed []byte
	for range 3 {
		err = db.pool.QueryRow(ctx, `
			WITH ins AS (
				INSERT INTO meta (name, value) VALUES ($1, $2)
				ON CONFLICT (name) DO NOTHING
				RETURNING value
			)
			SELECT value FROM ins
			UNION ALL
			SELECT value FROM meta WHERE name = $1
			LIMIT 1`, keyCheckName, fresh).Scan(&sealed)
		if !errors.Is(err, pgx.ErrNoRows) {
			break
		}
	}
	if err != nil {
		return fmt.Errorf("key check: %w", err)
	}
	if _, err := db.keys.Open(sealed, keyCheckAD); err != nil {
		if errors.Is(err, secrets.ErrUnknownKey) {
			return fmt.Errorf("%w (%w)", tandem.Errorf(tandem.EINVALID,
				"the secrets in the database %s are sealed under key id %s, which is neither the current key (%s) nor a previous one; configure the key the database was written with",
				db.where, secrets.SealedKeyID(sealed), db.keys.KeyID()), err)
		}
		return fmt.Errorf("%w (%w)", tandem.Errorf(tandem.EINVALID,
			"the key check in the database %s does not authenticate under key id %s; the key is wrong or the data is damaged",
			db.where, secrets.SealedKeyID(sealed)), err)
	}
	return nil
}

// Ping reports whether the database answers, for readiness probes. It fails
// with EUNAVAILABLE when it does not or the store is closed.
func (db *DB) Ping(ctx context.Context) error {
	if err := db.ready(ctx, "ping"); err != nil {
		return err
	}
	if err := db.pool.Ping(ctx); err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("postgres: ping: %w", err)
		}
		return fmt.Errorf("postgres: ping: %w (%w)", tandem.Errorf(tandem.EUNAVAILABLE, "the database %s does not answer", db.where), err)
	}
	return nil
}

// CheckSchema reads the database's schema version again, for a replica
// that runs while another release may migrate the database: it fails with
// EINVALID when the version is no longer this binary's (a newer release
// migrated it, and this binary would ignore what the new version adds,
// such as an API key's pending flag), and with EUNAVAILABLE when the
// database does not answer.
func (db *DB) CheckSchema(ctx context.Context) error {
	if err := db.ready(ctx, "check schema"); err != nil {
		return err
	}
	version, err := readVersion(ctx, db.pool)
	if err != nil {
		return db.fail(ctx, "check schema", err)
	}
	return checkVersion(version, db.where)
}

// Close releases the connections, waiting for queries in flight; later
// calls of other methods fail with EUNAVAILABLE. Closing twice returns nil.
func (db *DB) Close() error {
	if db.closed.Swap(true) {
		return nil
	}
	db.batch.closeAppends()
	db.pool.Close()
	db.appends.Close()
	return nil
}

// appendConns is the size of the pool AppendTurn has to itself, and how
// many of its batches are written at once.
const appendConns = 4

var errClosed = tandem.Errorf(tandem.EUNAVAILABLE, "the store is closed")

// ready fails when ctx is done or the store is closed, before any query.
func (db *DB) ready(ctx context.Context, op string) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("postgres: %s: %w", op, err)
	}
	if db.closed.Load() {
		return fmt.Errorf("postgres: %s: %w", op, errClosed)
	}
	return nil
}

// fail wraps err for op: a *tandem.Error and the caller's own context error
// stay as they are, a lost or refused connection becomes EUNAVAILABLE, text
// PostgreSQL cannot store becomes EINVALID, and anything else stays
// internal.
func (db *DB) fail(ctx context.Context, op string, err error) error {
	if err == nil {
		return nil
	}
	var te *tandem.Error
	switch {
	case errors.As(err, &te), ctx.Err() != nil:
	case db.closed.Load():
		err = errClosed
	case unavailable(err):
		err = fmt.Errorf("%w (%w)", tandem.Errorf(tandem.EUNAVAILABLE, "the database %s is unreachable", db.where), err)
	case badText(err):
		err = fmt.Errorf("%w (%w)", tandem.Errorf(tandem.EINVALID, "a value is not valid UTF-8 text, or holds a NUL character"), err)
	}
	return fmt.Errorf("postgres: %s: %w", op, err)
}

// unavailable reports whether err means the server could not be reached or
// is not serving: the request can succeed later, or on another server.
func unavailable(err error) bool {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch pgErr.Code {
		case "57P01", "57P02", "57P03", // admin or crash shutdown, cannot connect now
			"53300", // too many connections
			"25006": // read-only transaction: a standby, mid-failover
			return true
		}
		return strings.HasPrefix(pgErr.Code, "08") // connection exception
	}
	var connectErr *pgconn.ConnectError
	var netErr net.Error
	return errors.As(err, &connectErr) || errors.As(err, &netErr) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, net.ErrClosed) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}

func badText(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && (pgErr.Code == "22021" || pgErr.Code == "22P05")
}

// uniqueViolation returns the constraint a unique violation names, or "".
func uniqueViolation(err error) (constraint string, ok bool) {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "23505" {
		return pgErr.ConstraintName, true
	}
	return "", false
}

// exec runs one statement outside a transaction.
func (db *DB) exec(ctx context.Context, op, sql string, args ...any) (pgconn.CommandTag, error) {
	if err := db.ready(ctx, op); err != nil {
		return pgconn.CommandTag{}, err
	}
	tag, err := db.pool.Exec(ctx, sql, args...)
	if err != nil {
		return tag, db.fail(ctx, op, err)
	}
	return tag, nil
}

// queryRow runs a query returning at most one row and scans it; notFound
// is returned, wrapped, when there is no row.
func (db *DB) queryRow(ctx context.Context, op string, notFound error, sql string, args []any, dest ...any) error {
	if err := db.ready(ctx, op); err != nil {
		return err
	}
	err := db.pool.QueryRow(ctx, sql, args...).Scan(dest...)
	if errors.Is(err, pgx.ErrNoRows) {
		err = notFound
	}
	return db.fail(ctx, op, err)
}

// inTx runs fn in one transaction (read committed; fn takes the row locks
// it needs), committing when fn returns nil.
func (db *DB) inTx(ctx context.Context, op string, fn func(tx pgx.Tx) error) error {
	if err := db.ready(ctx, op); err != nil {
		return err
	}
	return db.fail(ctx, op, pgx.BeginFunc(ctx, db.pool, fn))
}

// checkPart rejects an empty key component or one holding a separator, as
// the bbolt store does, so keys and associated data cannot be ambiguous and
// both stores accept the same records.
func checkPart(what, s string) error {
	if s == "" {
		return tandem.Errorf(tandem.EINVALID, "the %s is empty", what)
	}
	if strings.ContainsAny(s, "/|\x00") {
		return tandem.Errorf(tandem.EINVALID, "the %s %q contains a separator (/ or |)", what, s)
	}
	return nil
}

// nullTime stores a zero time as NULL.
func nullTime(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t
}

// fromNull reads a nullable time column.
func fromNull(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return t.UTC()
}

// Counts returns the number of records of each kind, under the names the
// bbolt store's Counts uses ("turns", "turns_open", "links", ...), so
// operators can compare the two. It fails when the store is closed or the
// database unreachable.
func (db *DB) Counts(ctx context.Context) (map[string]int, error) {
	var turns, dedupe, open, sessions, links, states, audit, keys, settings, leases, schedules int
	err := db.queryRow(ctx, "counts", nil, `
		SELECT
			(SELECT count(*) FROM turns),
			(SELECT count(*) FROM turns WHERE ts <> '' AND NOT rerun),
			(SELECT count(*) FROM turns WHERE state <> 'done'),
			(SELECT count(*) FROM sessions),
			(SELECT count(*) FROM links),
			(SELECT count(*) FROM oauth_states),
			(SELECT count(*) FROM audit),
			(SELECT count(*) FROM api_keys),
			(SELECT count(*) FROM settings),
			(SELECT count(*) FROM leases),
			(SELECT count(*) FROM schedules)`, nil,
		&turns, &dedupe, &open, &sessions, &links, &states, &audit, &keys, &settings, &leases, &schedules)
	if err != nil {
		return nil, err
	}
	return map[string]int{
		"turns": turns, "turn_dedupe": dedupe, "turns_open": open, "turns_by_time": turns, "turns_open_by_session": open,
		"sessions": sessions, "links": links, "oauth_states": states, "audit": audit,
		"api_keys": keys, "settings": settings, "leases": leases, "schedules": schedules,
	}, nil
}

// Rekey seals again, under the current key, every secret still sealed
// under a previous key, in one transaction, and returns how many records it
// rewrote (links and OAuth states; the key check is resealed too but not
// counted). Once it returns, the previous keys can be dropped. It fails when
// a secret does not open (its key is missing from the keyring), rewriting
// nothing.
func (db *DB) Rekey(ctx context.Context) (n int, err error) {
	current, err := hexKeyID(db.keys.KeyID())
	if err != nil {
		return 0, fmt.Errorf("postgres: rekey: %w", err)
	}
	err = db.inTx(ctx, "rekey", func(tx pgx.Tx) error {
		n = 0
		var check []byte
		if err := tx.QueryRow(ctx, `SELECT value FROM meta WHERE name = $1 FOR UPDATE`, keyCheckName).Scan(&check); err != nil {
			return fmt.Errorf("key check: %w", err)
		}
		if db.keys.NeedsRekey(check) {
			resealed, err := db.reseal(check, keyCheckAD)
			if err != nil {
				return fmt.Errorf("key check: %w", err)
			}
			if _, err := tx.Exec(ctx, `UPDATE meta SET value = $2 WHERE name = $1`, keyCheckName, resealed); err != nil {
				return err
			}
		}

		type sealedLink struct {
			team, user, provider string
			sealed               []byte
		}
		rows, _ := tx.Query(ctx, `
			SELECT team, user_id, provider, sealed_token FROM links
			WHERE substring(sealed_token FROM 1 FOR 4) <> $1
			ORDER BY team, user_id, provider FOR UPDATE`, current)
		stale, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (sealedLink, error) {
			var l sealedLink
			return l, r.Scan(&l.team, &l.user, &l.provider, &l.sealed)
		})
		if err != nil {
			return fmt.Errorf("links: %w", err)
		}
		for _, l := range stale {
			resealed, err := db.reseal(l.sealed, secrets.TokenAD(l.team, l.user, tandem.ProviderID(l.provider)))
			if err != nil {
				return fmt.Errorf("open token of %s/%s/%s: %w", l.team, l.user, l.provider, err)
			}
			if _, err := tx.Exec(ctx, `UPDATE links SET sealed_token = $4 WHERE team = $1 AND user_id = $2 AND provider = $3`,
				l.team, l.user, l.provider, resealed); err != nil {
				return err
			}
			n++
		}

		type sealedState struct {
			hash   string
			sealed []byte
		}
		rows, _ = tx.Query(ctx, `
			SELECT id_hash, sealed_verifier FROM oauth_states
			WHERE substring(sealed_verifier FROM 1 FOR 4) <> $1
			ORDER BY id_hash FOR UPDATE`, current)
		states, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (sealedState, error) {
			var s sealedState
			return s, r.Scan(&s.hash, &s.sealed)
		})
		if err != nil {
			return fmt.Errorf("oauth states: %w", err)
		}
		for _, s := range states {
			resealed, err := db.reseal(s.sealed, stateAD(s.hash))
			if err != nil {
				return fmt.Errorf("oauth state verifier: %w", err)
			}
			if _, err := tx.Exec(ctx, `UPDATE oauth_states SET sealed_verifier = $2 WHERE id_hash = $1`, s.hash, resealed); err != nil {
				return err
			}
			n++
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	return n, nil
}

func (db *DB) reseal(sealed []byte, ad string) ([]byte, error) {
	plain, err := db.keys.Open(sealed, ad)
	if err != nil {
		return nil, err
	}
	defer clear(plain)
	return db.keys.Seal(plain, ad)
}

// hexKeyID decodes a key id as Keyring.KeyID prints it.
func hexKeyID(s string) ([]byte, error) {
	id, err := hex.DecodeString(s)
	if err != nil || len(id) != secrets.KeyIDSize {
		return nil, fmt.Errorf("unreadable key id %q", s)
	}
	return id, nil
}
