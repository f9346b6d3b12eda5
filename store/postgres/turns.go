package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/tandembot/tandem"
)

// turnColumns are read by scanTurn, in its order.
const turnColumns = `id, team, channel, thread_ts, user_id, text, ts, received_at, rerun, api_key, api_key_name, schedule, state, attempts`

func scanTurn(row pgx.Row, extra ...any) (tandem.TurnRecord, error) {
	var r tandem.TurnRecord
	t := &r.Turn
	dest := append([]any{
		&t.ID, &t.Session.Team, &t.Session.Channel, &t.Session.ThreadTS, &t.User, &t.Text, &t.TS,
		&t.ReceivedAt, &t.Rerun, &t.APIKey, &t.APIKeyName, &t.Schedule, &r.State, &r.Attempts,
	}, extra...)
	if err := row.Scan(dest...); err != nil {
		return tandem.TurnRecord{}, err
	}
	t.ReceivedAt = t.ReceivedAt.UTC()
	return r, nil
}

// insertTurn stores a turn with its state; with ON CONFLICT DO NOTHING it
// stores nothing when the id, or the channel and ts of a message that is
// not a rerun, was recorded before (the unique indexes decide, so
// concurrent inserts from any number of replicas record one).
const insertTurn = `
	INSERT INTO turns (id, team, channel, thread_ts, user_id, text, ts, received_at, rerun, api_key, api_key_name, schedule, state, attempts, recorded_at, sent_at)
	VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)`

func turnArgs(r tandem.TurnRecord, recordedAt time.Time) []any {
	t := r.Turn
	return []any{
		t.ID, t.Session.Team, t.Session.Channel, t.Session.ThreadTS, t.User, t.Text, t.TS,
		t.ReceivedAt, t.Rerun, t.APIKey, t.APIKeyName, t.Schedule, r.State, r.Attempts, recordedAt, t.SentAt(),
	}
}

// RecordTurn durably appends t to the inbox as pending. It reports
// duplicate=true, and stores nothing, when a turn with the same ID or the
// same channel and message ts was recorded before (a rerun, or a turn
// without a ts, is checked by ID only). It fails with EINVALID for a turn
// without an ID.
func (db *DB) RecordTurn(ctx context.Context, t tandem.Turn) (duplicate bool, err error) {
	if err := checkTurn(t); err != nil {
		return false, fmt.Errorf("postgres: record turn: %w", err)
	}
	tag, err := db.exec(ctx, "record turn", insertTurn+` ON CONFLICT DO NOTHING`,
		turnArgs(tandem.TurnRecord{Turn: t, State: tandem.TurnPending}, db.now())...)
	if err != nil {
		return false, err
	}
	return tag.RowsAffected() == 0, nil
}

func checkTurn(t tandem.Turn) error {
	if t.ID == "" {
		return tandem.Errorf(tandem.EINVALID, "the turn has no id")
	}
	if t.TS != "" && !t.Rerun {
		if err := checkPart("channel", t.Session.Channel); err != nil {
			return err
		}
	}
	return nil
}

func checkState(state tandem.TurnState) error {
	switch state {
	case tandem.TurnPending, tandem.TurnRunning, tandem.TurnDone:
		return nil
	}
	return tandem.Errorf(tandem.EINVALID, "unknown turn state %q", state)
}

// SetTurnState moves a recorded turn to state; moving to TurnRunning counts
// an attempt. It fails with ENOTFOUND for an unknown turn and EINVALID for
// an unknown state.
func (db *DB) SetTurnState(ctx context.Context, id string, state tandem.TurnState) error {
	if err := checkState(state); err != nil {
		return fmt.Errorf("postgres: set turn state: %w", err)
	}
	tag, err := db.exec(ctx, "set turn state", `
		UPDATE turns SET state = $2, attempts = attempts + CASE WHEN $2 = 'running' THEN 1 ELSE 0 END
		WHERE id = $1`, id, string(state))
	if err != nil {
		return err
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("postgres: set turn state: %w", tandem.Errorf(tandem.ENOTFOUND, "no turn %s in the inbox", id))
	}
	return nil
}

// TurnRecord returns one recorded turn. It fails with ENOTFOUND for an
// unknown (or pruned) turn.
func (db *DB) TurnRecord(ctx context.Context, id string) (tandem.TurnRecord, error) {
	if err := db.ready(ctx, "turn record"); err != nil {
		return tandem.TurnRecord{}, err
	}
	r, err := scanTurn(db.pool.QueryRow(ctx, `SELECT `+turnColumns+` FROM turns WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		err = tandem.Errorf(tandem.ENOTFOUND, "no turn %s in the inbox", id)
	}
	if err != nil {
		return tandem.TurnRecord{}, db.fail(ctx, "turn record", err)
	}
	return r, nil
}

// UnfinishedTurns returns every pending or running turn in the order they
// were recorded. An index holds only unfinished turns, so done turns cost
// nothing. It fails when the store is closed.
func (db *DB) UnfinishedTurns(ctx context.Context) ([]tandem.TurnRecord, error) {
	if err := db.ready(ctx, "unfinished turns"); err != nil {
		return nil, err
	}
	rows, _ := db.pool.Query(ctx, `SELECT `+turnColumns+` FROM turns WHERE state <> 'done' ORDER BY seq`)
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (tandem.TurnRecord, error) { return scanTurn(r) })
	if err != nil {
		return nil, db.fail(ctx, "unfinished turns", err)
	}
	return out, nil
}

// NextTurn returns the pending or running turn of key's session that was
// sent first (tandem.Turn.SentAt, then recording order), with one read of
// the index of each session's unfinished turns (turns_open_by_session):
// neither other sessions' turns nor done turns are read. It fails with
// ENOTFOUND when the session has no unfinished turn, and when the store is
// closed.
func (db *DB) NextTurn(ctx context.Context, key tandem.SessionKey) (tandem.TurnRecord, error) {
	if err := db.ready(ctx, "next turn"); err != nil {
		return tandem.TurnRecord{}, err
	}
	r, err := scanTurn(db.pool.QueryRow(ctx, nextTurnSQL, key.Team, key.Channel, key.ThreadTS))
	if errors.Is(err, pgx.ErrNoRows) {
		err = tandem.Errorf(tandem.ENOTFOUND, "no unfinished turn in session %s", key)
	}
	if err != nil {
		return tandem.TurnRecord{}, db.fail(ctx, "next turn", err)
	}
	return r, nil
}

// nextTurnSQL reads the next turn of the session ($1 team, $2 channel, $3
// thread ts), as NextTurn does.
const nextTurnSQL = `SELECT ` + turnColumns + ` FROM turns
	WHERE team = $1 AND channel = $2 AND thread_ts = $3 AND state <> 'done'
	ORDER BY sent_at, seq LIMIT 1`

// LeaseNextTurn takes or renews the lease name for owner, as Lease does,
// and reads key's next turn, as NextTurn does, in one round trip: the two
// statements are sent together and run as one implicit transaction. It
// fails with ENOTHELD when another owner holds the lease (the turn read is
// then dropped), and with ENOTFOUND, the lease taken, when the session has
// no unfinished turn.
func (db *DB) LeaseNextTurn(ctx context.Context, name, owner string, ttl time.Duration, key tandem.SessionKey) (tandem.TurnRecord, error) {
	if name == "" || owner == "" || ttl <= 0 {
		return tandem.TurnRecord{}, fmt.Errorf("postgres: lease next turn: %w", tandem.Errorf(tandem.EINVALID, "a lease needs a name, an owner and a positive ttl"))
	}
	if err := db.ready(ctx, "lease next turn"); err != nil {
		return tandem.TurnRecord{}, err
	}
	leaseSQL, _ := leaseStatements(name)
	var b pgx.Batch
	b.Queue(leaseSQL, name, owner, max(1, ttl.Microseconds()))
	b.Queue(nextTurnSQL, key.Team, key.Channel, key.ThreadTS)
	res := db.pool.SendBatch(ctx, &b)
	var held bool
	err := res.QueryRow().Scan(&held)
	if errors.Is(err, pgx.ErrNoRows) {
		err = nil // another owner holds it: held stays false
	}
	var r tandem.TurnRecord
	found := false
	if err == nil {
		r, err = scanTurn(res.QueryRow())
		found = err == nil
		if errors.Is(err, pgx.ErrNoRows) {
			err = nil
		}
	}
	if closeErr := res.Close(); err == nil {
		err = closeErr
	}
	switch {
	case err != nil:
		return tandem.TurnRecord{}, db.fail(ctx, "lease next turn", err)
	case !held:
		return tandem.TurnRecord{}, (tandem.Hold{Name: name, Owner: owner}).NotHeld()
	case !found:
		return tandem.TurnRecord{}, tandem.Errorf(tandem.ENOTFOUND, "no unfinished turn in session %s", key)
	}
	return r, nil
}

// nextOrReleaseSQL reads the next turn of a session as nextTurnSQL does
// and, in the same statement (so with the same snapshot), drops $5's lease
// $4 when there is none; its %s is the release's source (releaseSQL).
const nextOrReleaseSQL = `WITH next AS (` + nextTurnSQL + `),
	released AS (DELETE FROM leases %s WHERE name = $4 AND owner = $5 AND NOT EXISTS (SELECT FROM next))
	SELECT ` + turnColumns + ` FROM next`

var (
	nextOrReleaseSessionSQL = fmt.Sprintf(nextOrReleaseSQL, "USING "+asyncCommit)
	nextOrReleaseOtherSQL   = fmt.Sprintf(nextOrReleaseSQL, "")
)

// nextOrReleaseStatement returns the statement of NextTurnOrRelease for
// the lease name: a session's lease is released without waiting for the
// disk, as by ReleaseLease.
func nextOrReleaseStatement(name string) string {
	if strings.HasPrefix(name, tandem.SessionLeasePrefix) {
		return nextOrReleaseSessionSQL
	}
	return nextOrReleaseOtherSQL
}

// NextTurnOrRelease reads key's next turn, as NextTurn does; when there is
// none it drops owner's lease name in the same statement, as ReleaseLease
// does, and fails with ENOTFOUND. A turn recorded after the read's snapshot
// is found by the recording replica's own run or by the poll, as after a
// NextTurn and a ReleaseLease.
func (db *DB) NextTurnOrRelease(ctx context.Context, key tandem.SessionKey, name, owner string) (tandem.TurnRecord, error) {
	if err := db.ready(ctx, "next turn or release"); err != nil {
		return tandem.TurnRecord{}, err
	}
	r, err := scanTurn(db.pool.QueryRow(ctx, nextOrReleaseStatement(name), key.Team, key.Channel, key.ThreadTS, name, owner))
	if errors.Is(err, pgx.ErrNoRows) {
		err = tandem.Errorf(tandem.ENOTFOUND, "no unfinished turn in session %s", key)
	}
	if err != nil {
		return tandem.TurnRecord{}, db.fail(ctx, "next turn or release", err)
	}
	return r, nil
}

// pruneBatch bounds the records one pruning statement deletes, so locks are
// never held for long while replicas record turns.
const pruneBatch = 1000

// PruneTurns deletes done turns recorded before before (with them, their
// claim on the message's channel and ts: a redelivery of a pruned message
// would be recorded again), and returns how many it deleted. Pending and
// running turns stay. It works in batches; on error, the batches before it
// stay deleted. Replicas may prune at the same time.
func (db *DB) PruneTurns(before time.Time) (int, error) {
	return db.pruneLoop("prune turns", `
		DELETE FROM turns WHERE id IN (
			SELECT id FROM turns WHERE state = 'done' AND recorded_at < $1
			ORDER BY recorded_at LIMIT $2 FOR UPDATE SKIP LOCKED)`, before)
}

func (db *DB) pruneLoop(op, sql string, arg any, more ...any) (int, error) {
	ctx := context.Background()
	total := 0
	for {
		tag, err := db.exec(ctx, op, sql, append([]any{arg, pruneBatch}, more...)...)
		if err != nil {
			return total, err
		}
		n := int(tag.RowsAffected())
		total += n
		if n < pruneBatch {
			return total, nil
		}
	}
}

// StepTurn writes step for the recorded turn id in one transaction (see
// tandem.TurnStep), in one round trip: its statements are sent together and
// run as one implicit transaction. The first locks the turn's row while the
// turn is unfinished (writing its state, if the step has one), and each
// later one writes only when it did, so an unknown turn writes nothing and
// a done one only its audit records. It fails with ENOTFOUND for an unknown turn, EINVALID for
// an unknown state or a session key with an empty part, ErrTurnDone for
// any step of a done turn, and ENOTHELD when step.Hold is set and its
// owner no longer holds the lease (by the database server's clock;
// nothing written).
func (db *DB) StepTurn(ctx context.Context, id string, step tandem.TurnStep) error {
	// A step writes nothing but its audit to a turn another runner
	// finished (this runner lost the lease meanwhile; the session's later
	// turns may have changed what it would write). The turn's row is
	// locked, while unfinished, by the first statement until the step
	// commits, so that runner's done cannot land between it and the writes
	// after it, which each write only if it matched.
	var b pgx.Batch
	var unfinished, ofTurn string
	if step.State != "" {
		if err := checkState(step.State); err != nil {
			return fmt.Errorf("postgres: step turn: %w", err)
		}
		// The state first: the statements after it find the row this
		// transaction wrote (its xmin), so a done turn, which the UPDATE
		// leaves alone, gets none of them.
		b.Queue(`UPDATE turns SET state = $2, attempts = attempts + CASE WHEN $2 = 'running' THEN 1 ELSE 0 END
			WHERE id = $1 AND state <> 'done'`, id, string(step.State))
		// (Never inside a savepoint: a subtransaction's row carries its
		// own id, and the statements below would write nothing.)
		mine := ` FROM turns WHERE id = $1 AND xmin = pg_current_xact_id()::xid`
		unfinished, ofTurn = `EXISTS (SELECT`+mine+`)`, `SELECT team || '/' || channel || '/' || thread_ts`+mine
	} else {
		b.Queue(`SELECT FROM turns WHERE id = $1 AND state <> 'done' FOR SHARE`, id)
		unfinished = `EXISTS (SELECT FROM turns WHERE id = $1 AND state <> 'done')`
		ofTurn = `SELECT team || '/' || channel || '/' || thread_ts FROM turns WHERE id = $1 AND state <> 'done'`
	}
	// The audit of what a runner did (the identity it resolved for a call
	// that went out) is kept even when another runner finished the turn.
	recorded := `EXISTS (SELECT FROM turns WHERE id = $1)`
	if s := step.Session; s != nil {
		k, err := sessionKey(s.Key)
		if err != nil {
			return fmt.Errorf("postgres: step turn: %w", err)
		}
		args, err := sessionArgs(k, *s)
		if err != nil {
			return fmt.Errorf("postgres: step turn: %w", err)
		}
		b.Queue(`INSERT INTO sessions (key, `+sessionColumns+`)
			SELECT $2, $3, $4, $5, $6, $7, $8, $9, $10 WHERE `+unfinished+` ON CONFLICT (key) DO NOTHING`,
			append([]any{id}, args...)...)
	}
	if step.Editor != "" {
		// Only while the session runs each message as its sender: a
		// concurrent change of the row makes PostgreSQL check the WHERE
		// clause again against the changed row.
		b.Queue(`UPDATE sessions SET editors = array_append(editors, $2)
			WHERE key = (`+ofTurn+`)
			AND owner <> $2 AND NOT ($2 = ANY (editors))
			AND pending IS NULL AND (env ->> $3) IS DISTINCT FROM 'true'`, id, step.Editor, tandem.EnvKeepCredentialsPersistent)
	}
	now := db.now()
	for _, r := range step.Audit {
		if r.Time.IsZero() {
			r.Time = now
		}
		b.Queue(`INSERT INTO audit (`+auditColumns+`)
			SELECT $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13 WHERE `+recorded,
			append([]any{id}, auditArgs(r)...)...)
	}
	if err := db.ready(ctx, "step turn"); err != nil {
		return err
	}
	if step.Hold.IsZero() {
		err := sendStep(ctx, db.pool, id, &b)
		if tandem.ErrorCode(err) == tandem.ENOTFOUND {
			err = db.stepNotFound(ctx, id, err)
		}
		return db.fail(ctx, "step turn", err)
	}
	// Under a lease: its row is read, and locked against a takeover, in
	// the transaction that writes the step; its next holder takes it only
	// after the commit, and so reads the step.
	var missing error
	err := pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		var held bool
		err := tx.QueryRow(ctx, `SELECT true FROM leases WHERE name = $1 AND owner = $2 AND expires > now() FOR SHARE`,
			step.Hold.Name, step.Hold.Owner).Scan(&held)
		if errors.Is(err, pgx.ErrNoRows) {
			return step.Hold.NotHeld()
		}
		if err != nil {
			return err
		}
		// Committed even when the turn is not found unfinished: a done
		// turn's step writes its audit.
		missing = sendStep(ctx, tx, id, &b)
		if tandem.ErrorCode(missing) == tandem.ENOTFOUND {
			return nil
		}
		return missing
	})
	if err == nil && missing != nil {
		err = db.stepNotFound(ctx, id, missing)
	}
	return db.fail(ctx, "step turn", err)
}

// stepNotFound is the error of a step that found no unfinished turn id:
// ErrTurnDone when the turn is there and done, else notFound.
func (db *DB) stepNotFound(ctx context.Context, id string, notFound error) error {
	var state string
	if err := db.pool.QueryRow(ctx, `SELECT state FROM turns WHERE id = $1`, id).Scan(&state); err == nil && state == string(tandem.TurnDone) {
		return fmt.Errorf("turn %s: %w", id, tandem.ErrTurnDone)
	}
	return notFound
}

// sendStep sends a step's statements, built by StepTurn, the first of
// which finds turn id unfinished; ENOTFOUND when it did not.
func sendStep(ctx context.Context, to interface {
	SendBatch(context.Context, *pgx.Batch) pgx.BatchResults
}, id string, b *pgx.Batch) error {
	res := to.SendBatch(ctx, b)
	tag, err := res.Exec()
	if closeErr := res.Close(); err == nil {
		err = closeErr
	}
	if err == nil && tag.RowsAffected() == 0 {
		err = tandem.Errorf(tandem.ENOTFOUND, "no turn %s in the inbox", id)
	}
	return err
}

// Waiting returns the first unfinished turn of each session whose lease
// (leasePrefix + the session key) nobody holds unexpired, reading the index
// of each session's unfinished turns once per session, and how many turns
// are unfinished and since when. It fails when the store is closed.
func (db *DB) Waiting(ctx context.Context, leasePrefix string, max int) (tandem.Waiting, error) {
	if err := db.ready(ctx, "waiting turns"); err != nil {
		return tandem.Waiting{}, err
	}
	var w tandem.Waiting
	var oldest *time.Time
	b := &pgx.Batch{}
	b.Queue(`SELECT count(*), min(received_at) FROM turns WHERE state <> 'done'`).QueryRow(func(row pgx.Row) error {
		return row.Scan(&w.Unfinished, &oldest)
	})
	// With max, the sessions whose next turns were received first, at most
	// max of them.
	limit := ""
	if max > 0 {
		limit = fmt.Sprintf(` ORDER BY received_at LIMIT %d`, max)
	}
	b.Queue(`SELECT * FROM (SELECT DISTINCT ON (team, channel, thread_ts) `+turnColumns+` FROM turns t
		WHERE state <> 'done' AND NOT EXISTS (SELECT FROM leases l
			WHERE l.name = $1 || t.team || '/' || t.channel || '/' || t.thread_ts AND l.expires > now())
		ORDER BY team, channel, thread_ts, sent_at, seq) w`+limit, leasePrefix).Query(func(rows pgx.Rows) error {
		var err error
		w.Next, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (tandem.TurnRecord, error) { return scanTurn(r) })
		return err
	})
	if err := db.pool.SendBatch(ctx, b).Close(); err != nil {
		return tandem.Waiting{}, db.fail(ctx, "waiting turns", err)
	}
	if oldest != nil {
		w.Oldest = oldest.UTC()
	}
	return w, nil
}
