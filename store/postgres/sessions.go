package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/tandembot/tandem"
)

// sessionKey checks key and returns it as the bbolt store writes it
// (team/channel/thread_ts), the sessions table's primary key.
func sessionKey(k tandem.SessionKey) (string, error) {
	if err := checkPart("team", k.Team); err != nil {
		return "", err
	}
	if err := checkPart("channel", k.Channel); err != nil {
		return "", err
	}
	if err := checkPart("thread ts", k.ThreadTS); err != nil {
		return "", err
	}
	return k.String(), nil
}

const sessionColumns = `team, channel, thread_ts, owner, created_at, editors, env, pending`

func scanSession(row pgx.Row, extra ...any) (tandem.Session, error) {
	var s tandem.Session
	var env, pending []byte
	dest := append([]any{&s.Key.Team, &s.Key.Channel, &s.Key.ThreadTS, &s.Owner, &s.CreatedAt, &s.Editors, &env, &pending}, extra...)
	if err := row.Scan(dest...); err != nil {
		return tandem.Session{}, err
	}
	s.CreatedAt = s.CreatedAt.UTC()
	if len(s.Editors) == 0 {
		s.Editors = nil
	}
	if env != nil {
		if err := json.Unmarshal(env, &s.Env); err != nil {
			return tandem.Session{}, fmt.Errorf("session %s: env: %w", s.Key, err)
		}
		if len(s.Env) == 0 {
			s.Env = nil
		}
	}
	if pending != nil {
		if err := json.Unmarshal(pending, &s.Pending); err != nil {
			return tandem.Session{}, fmt.Errorf("session %s: pending change: %w", s.Key, err)
		}
	}
	return s, nil
}

// sessionArgs returns key, owner, created_at, editors, env and pending, as
// stored.
func sessionArgs(key string, s tandem.Session) ([]any, error) {
	editors := s.Editors
	if editors == nil {
		editors = []string{}
	}
	var env, pending []byte // nil is NULL
	var err error
	if len(s.Env) > 0 {
		if env, err = json.Marshal(s.Env); err != nil {
			return nil, fmt.Errorf("encode env: %w", err)
		}
	}
	if s.Pending != nil {
		if pending, err = json.Marshal(s.Pending); err != nil {
			return nil, fmt.Errorf("encode pending change: %w", err)
		}
	}
	return []any{key, s.Key.Team, s.Key.Channel, s.Key.ThreadTS, s.Owner, s.CreatedAt, editors, env, pending}, nil
}

const insertSession = `INSERT INTO sessions (key, ` + sessionColumns + `) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`

// sessionByKeySQL reads the session whose key is $1.
const sessionByKeySQL = `SELECT ` + sessionColumns + ` FROM sessions WHERE key = $1`

func noSession(key tandem.SessionKey) error {
	return tandem.Errorf(tandem.ENOTFOUND, "no session %s", key)
}

// Session returns the session of key. It fails with ENOTFOUND when there is
// none and EINVALID for a key with an empty part.
func (db *DB) Session(ctx context.Context, key tandem.SessionKey) (tandem.Session, error) {
	k, err := sessionKey(key)
	if err != nil {
		return tandem.Session{}, fmt.Errorf("postgres: session: %w", err)
	}
	if err := db.ready(ctx, "session"); err != nil {
		return tandem.Session{}, err
	}
	s, err := scanSession(db.pool.QueryRow(ctx, sessionByKeySQL, k))
	if errors.Is(err, pgx.ErrNoRows) {
		err = noSession(key)
	}
	if err != nil {
		return tandem.Session{}, db.fail(ctx, "session", err)
	}
	return s, nil
}

// SessionOrSetting returns the session of key, as Session does; when there
// is none it fails with ENOTFOUND and returns the named setting's value
// ("" when unset). The two reads go out as one batch: one round trip.
func (db *DB) SessionOrSetting(ctx context.Context, key tandem.SessionKey, setting string) (tandem.Session, string, error) {
	k, err := sessionKey(key)
	if err != nil {
		return tandem.Session{}, "", fmt.Errorf("postgres: session or setting: %w", err)
	}
	if err := db.ready(ctx, "session or setting"); err != nil {
		return tandem.Session{}, "", err
	}
	var b pgx.Batch
	b.Queue(sessionByKeySQL, k)
	b.Queue(settingByNameSQL, setting)
	res := db.pool.SendBatch(ctx, &b)
	s, err := scanSession(res.QueryRow())
	found := err == nil
	if errors.Is(err, pgx.ErrNoRows) {
		err = nil
	}
	var v string
	if err == nil {
		if err = res.QueryRow().Scan(&v); errors.Is(err, pgx.ErrNoRows) {
			err = nil
		}
	}
	if closeErr := res.Close(); err == nil {
		err = closeErr
	}
	switch {
	case err != nil:
		return tandem.Session{}, "", db.fail(ctx, "session or setting", err)
	case !found:
		return tandem.Session{}, v, noSession(key)
	}
	return s, "", nil
}

// EnsureSession stores s unless a session with its key exists, and returns
// the stored one with created=true when s was stored: the first owner wins,
// across replicas too. It fails with EINVALID for a key with an empty part.
func (db *DB) EnsureSession(ctx context.Context, s tandem.Session) (stored tandem.Session, created bool, err error) {
	k, err := sessionKey(s.Key)
	if err != nil {
		return tandem.Session{}, false, fmt.Errorf("postgres: ensure session: %w", err)
	}
	args, err := sessionArgs(k, s)
	if err != nil {
		return tandem.Session{}, false, fmt.Errorf("postgres: ensure session: %w", err)
	}
	tag, err := db.exec(ctx, "ensure session", insertSession+` ON CONFLICT (key) DO NOTHING`, args...)
	if err != nil {
		return tandem.Session{}, false, err
	}
	if tag.RowsAffected() == 1 {
		return s, true, nil
	}
	// Sessions are never deleted, so the one that won is there to read.
	stored, err = db.Session(ctx, s.Key)
	if err != nil {
		return tandem.Session{}, false, err
	}
	return stored, false, nil
}

// AddEditor appends user to the session's editors unless already there
// (the owner counts as there), in one statement: concurrent calls for the
// same user add it once. It fails with ENOTFOUND when the session is
// missing and EINVALID for an empty user.
func (db *DB) AddEditor(ctx context.Context, key tandem.SessionKey, user string) error {
	k, err := sessionKey(key)
	if err == nil && user == "" {
		err = tandem.Errorf(tandem.EINVALID, "the editor is empty")
	}
	if err != nil {
		return fmt.Errorf("postgres: add editor: %w", err)
	}
	// A concurrent update of the row makes PostgreSQL check the WHERE
	// clause again against the updated editors, so nobody is added twice.
	tag, err := db.exec(ctx, "add editor", `
		UPDATE sessions SET editors = array_append(editors, $2)
		WHERE key = $1 AND owner <> $2 AND NOT ($2 = ANY (editors))`, k, user)
	if err != nil || tag.RowsAffected() == 1 {
		return err
	}
	// Nothing changed: the user is there already, or there is no session.
	var exists bool
	return db.queryRow(ctx, "add editor", noSession(key), `SELECT true FROM sessions WHERE key = $1`, []any{k}, &exists)
}

// UpdateSession applies fn to the stored session in one transaction, with
// the row locked so concurrent updates (from any replica) apply one after
// the other, and stores the result. It fails with ENOTFOUND when the
// session is missing, and with fn's own error (nothing stored) when fn
// fails.
func (db *DB) UpdateSession(ctx context.Context, key tandem.SessionKey, fn func(*tandem.Session) error) (tandem.Session, error) {
	return db.updateSession(ctx, key, "", fn)
}

// UpdateSessionForTurn is UpdateSession while turn is unfinished (see
// tandem.Store): the turn's row is read FOR SHARE in the same transaction,
// so a runner that writes it done (StepTurn's UPDATE) waits for this
// change to commit, and this change sees a done written before it.
func (db *DB) UpdateSessionForTurn(ctx context.Context, key tandem.SessionKey, turn string, fn func(*tandem.Session) error) (tandem.Session, error) {
	if turn == "" {
		return tandem.Session{}, fmt.Errorf("postgres: update session: %w", tandem.Errorf(tandem.EINVALID, "no turn named"))
	}
	return db.updateSession(ctx, key, turn, fn)
}

// turnUnfinished fails with ErrTurnDone when turn id is done, and with
// ENOTFOUND when there is no such turn; "" names none, and passes. It
// holds the turn's row FOR SHARE until tx ends, so that a runner marking it
// done waits for tx.
func turnUnfinished(ctx context.Context, tx pgx.Tx, id string) error {
	if id == "" {
		return nil
	}
	var state string
	err := tx.QueryRow(ctx, `SELECT state FROM turns WHERE id = $1 FOR SHARE`, id).Scan(&state)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return tandem.Errorf(tandem.ENOTFOUND, "no turn %s in the inbox", id)
	case err != nil:
		return err
	case state == string(tandem.TurnDone):
		return fmt.Errorf("turn %s: %w", id, tandem.ErrTurnDone)
	}
	return nil
}

func (db *DB) updateSession(ctx context.Context, key tandem.SessionKey, turn string, fn func(*tandem.Session) error) (tandem.Session, error) {
	k, err := sessionKey(key)
	if err != nil {
		return tandem.Session{}, fmt.Errorf("postgres: update session: %w", err)
	}
	var s tandem.Session
	var fnErr error
	err = db.inTx(ctx, "update session", func(tx pgx.Tx) error {
		if err := turnUnfinished(ctx, tx, turn); err != nil {
			var te *tandem.Error
			if errors.As(err, &te) {
				fnErr = err
			}
			return err
		}
		var err error
		s, err = scanSession(tx.QueryRow(ctx, `SELECT `+sessionColumns+` FROM sessions WHERE key = $1 FOR UPDATE`, k))
		if errors.Is(err, pgx.ErrNoRows) {
			return noSession(key)
		} else if err != nil {
			return err
		}
		if fnErr = fn(&s); fnErr != nil {
			return fnErr
		}
		s.Key = key
		args, err := sessionArgs(k, s)
		if err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `
			UPDATE sessions SET owner = $5, created_at = $6, editors = $7, env = $8, pending = $9
			WHERE key = $1 AND team = $2 AND channel = $3 AND thread_ts = $4`, args...)
		return err
	})
	if fnErr != nil {
		return tandem.Session{}, fmt.Errorf("postgres: update session: %w", fnErr)
	}
	if err != nil {
		return tandem.Session{}, err
	}
	return s, nil
}

// sessionPage is how many sessions Sessions reads at a time.
const sessionPage = 500

// Sessions calls fn for every session in key order (team/channel/thread_ts,
// by bytes, as the bbolt store), stopping at fn's first error, which it
// returns. It reads the sessions a page at a time and calls fn between
// queries, so fn may use the store; it sees sessions created meanwhile
// only if their keys come after the current page.
func (db *DB) Sessions(ctx context.Context, fn func(tandem.Session) error) error {
	after := ""
	for {
		if err := db.ready(ctx, "sessions"); err != nil {
			return err
		}
		rows, _ := db.pool.Query(ctx, `SELECT `+sessionColumns+`, key FROM sessions WHERE key > $1 ORDER BY key LIMIT $2`, after, sessionPage)
		var last string
		page, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (tandem.Session, error) { return scanSession(r, &last) })
		if err != nil {
			return db.fail(ctx, "sessions", err)
		}
		for _, s := range page {
			if err := fn(s); err != nil {
				return err
			}
		}
		if len(page) < sessionPage {
			return nil
		}
		after = last
	}
}
