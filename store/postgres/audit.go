package postgres

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/tandembot/tandem"
)

const auditColumns = `at, team, channel, thread_ts, turn_id, actor, effective, provider, action, reason, outcome, detail`

func scanAudit(row pgx.Row, extra ...any) (tandem.AuditRecord, error) {
	var r tandem.AuditRecord
	dest := append([]any{
		&r.Time, &r.Session.Team, &r.Session.Channel, &r.Session.ThreadTS, &r.TurnID, &r.Actor, &r.Effective,
		&r.Provider, &r.Action, &r.Reason, &r.Outcome, &r.Detail,
	}, extra...)
	if err := row.Scan(dest...); err != nil {
		return tandem.AuditRecord{}, err
	}
	r.Time = r.Time.UTC()
	return r, nil
}

const insertAudit = `INSERT INTO audit (` + auditColumns + `) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`

func auditArgs(r tandem.AuditRecord) []any {
	return []any{
		r.Time, r.Session.Team, r.Session.Channel, r.Session.ThreadTS, r.TurnID, r.Actor, r.Effective,
		string(r.Provider), r.Action, string(r.Reason), string(r.Outcome), r.Detail,
	}
}

// AppendAudit durably appends one record, stamping it with the store's
// clock when its Time is zero. It fails when the store is closed.
func (db *DB) AppendAudit(ctx context.Context, r tandem.AuditRecord) error {
	if r.Time.IsZero() {
		r.Time = db.now()
	}
	_, err := db.exec(ctx, "append audit", insertAudit, auditArgs(r)...)
	return err
}

// Audit returns the records matching f, oldest first; with f.Limit set, the
// newest f.Limit of them (still oldest first). Records are in the order
// they were appended. It fails when the store is closed.
func (db *DB) Audit(ctx context.Context, f tandem.AuditFilter) ([]tandem.AuditRecord, error) {
	if err := db.ready(ctx, "audit"); err != nil {
		return nil, err
	}
	var where []string
	var args []any
	arg := func(v any) string {
		args = append(args, v)
		return fmt.Sprintf("$%d", len(args))
	}
	if f.Session != nil {
		where = append(where, fmt.Sprintf("team = %s AND channel = %s AND thread_ts = %s",
			arg(f.Session.Team), arg(f.Session.Channel), arg(f.Session.ThreadTS)))
	}
	if f.User != "" {
		u := arg(f.User)
		where = append(where, fmt.Sprintf("(actor = %s OR effective = %s)", u, u))
	}
	if !f.Since.IsZero() {
		where = append(where, "at >= "+arg(f.Since))
	}
	sql := `SELECT ` + auditColumns + ` FROM audit`
	if len(where) > 0 {
		sql += ` WHERE ` + strings.Join(where, " AND ")
	}
	if f.Limit > 0 {
		sql += ` ORDER BY seq DESC LIMIT ` + arg(f.Limit)
	} else {
		sql += ` ORDER BY seq`
	}
	rows, _ := db.pool.Query(ctx, sql, args...)
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (tandem.AuditRecord, error) { return scanAudit(r) })
	if err != nil {
		return nil, db.fail(ctx, "audit", err)
	}
	if f.Limit > 0 {
		slices.Reverse(out)
	}
	return out, nil
}

// PruneAudit deletes records older than before and returns how many it
// deleted. As in the bbolt store, it goes in append order and stops at the
// first record not older than before, so a record appended with an earlier
// time than one before it waits for a later prune; and it deletes only
// records older than before, also one that committed during the prune
// with a lower sequence number. It works in batches; on error, the
// batches before it stay deleted.
func (db *DB) PruneAudit(before time.Time) (int, error) {
	ctx := context.Background()
	// The first record not older than before bounds what goes; without one,
	// everything appended so far goes.
	var stop int64
	err := db.queryRow(ctx, "prune audit", nil, `
		SELECT coalesce(
			(SELECT seq FROM audit WHERE at >= $1 ORDER BY seq LIMIT 1),
			(SELECT max(seq) + 1 FROM audit),
			0)`, []any{before}, &stop)
	if err != nil {
		return 0, err
	}
	// A sequence number is taken before its record commits, so a record
	// committed after stop was read may have a lower one: only records
	// older than before go, whatever their number.
	return db.pruneLoop("prune audit", `
		DELETE FROM audit WHERE seq IN (
			SELECT seq FROM audit WHERE seq < $1 AND at < $3 ORDER BY seq LIMIT $2 FOR UPDATE SKIP LOCKED)`, stop, before)
}
