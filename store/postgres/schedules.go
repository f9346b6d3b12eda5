package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/tandembot/tandem"
)

// A schedule is stored whole as a JSON document (doc), as the bbolt store
// keeps it, with copies of the fields that queries select and sort by in
// columns of their own; every write sets both in one statement.

// checkSchedule fails with EINVALID for a schedule without an id, a
// creator or a full session key, or whose id holds a separator, as the
// bbolt store does.
func checkSchedule(s tandem.Schedule) error {
	if err := checkPart("schedule id", s.ID); err != nil {
		return err
	}
	if s.Creator == "" {
		return tandem.Errorf(tandem.EINVALID, "the schedule %s has no creator", s.ID)
	}
	_, err := sessionKey(s.Session)
	return err
}

const insertSchedule = `INSERT INTO schedules (id, team, channel, thread_ts, creator, created_at, next, paused, doc)
	VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`

// stored returns s as PostgreSQL keeps it: times in UTC, cut to
// microseconds.
func stored(s tandem.Schedule) tandem.Schedule {
	for _, t := range []*time.Time{&s.At, &s.CreatedAt, &s.Next, &s.LastRun} {
		if !t.IsZero() {
			*t = t.Truncate(time.Microsecond).UTC()
		}
	}
	return s
}

// scheduleArgs returns s's columns in insertSchedule's order, its times as
// stored in the document too, so the document and the columns agree.
func scheduleArgs(s tandem.Schedule) ([]any, error) {
	s = stored(s)
	doc, err := json.Marshal(s)
	if err != nil {
		return nil, fmt.Errorf("encode schedule %s: %w", s.ID, err)
	}
	return []any{s.ID, s.Session.Team, s.Session.Channel, s.Session.ThreadTS, s.Creator, s.CreatedAt, nullTime(s.Next), s.Paused, doc}, nil
}

func scanSchedule(row pgx.Row) (tandem.Schedule, error) {
	var doc []byte
	if err := row.Scan(&doc); err != nil {
		return tandem.Schedule{}, err
	}
	var s tandem.Schedule
	if err := json.Unmarshal(doc, &s); err != nil {
		return tandem.Schedule{}, fmt.Errorf("decode schedule: %w", err)
	}
	return s, nil
}

func noSchedule(id string) error {
	return tandem.Errorf(tandem.ENOTFOUND, "no schedule %s", id)
}

// CreateSchedule stores a new schedule. It fails with ECONFLICT when its id
// exists (the primary key decides, across replicas too), with ELIMIT,
// storing nothing, when its creator already has max schedules in its team
// (max <= 0: no limit), and with EINVALID for a schedule without an id, a
// creator or a full session key.
//
// The count must see every schedule of the creator that any replica has
// committed, and no two callers may both count max-1 and insert. Row locks
// cannot give that (there is no row to lock before the first schedule, and
// FOR UPDATE does not see rows inserted after the snapshot), and
// SERIALIZABLE would fail one of two racing callers with an error to retry.
// So the transaction takes an advisory lock on the hash of team and
// creator, held until it ends: callers for one person queue behind it, and
// each count, a new snapshot taken after the lock under READ COMMITTED,
// sees what the previous holder committed. Another person's creates are
// not held up (but for a rare hash collision, which only makes them wait).
// The insert comes before the count so that a taken id is ECONFLICT
// whatever the count, as in the bbolt store; an ELIMIT rolls it back.
//
// With turn, the schedule is stored only while that turn is unfinished
// (ErrTurnDone once it is done, ENOTFOUND for an unknown turn): its row is
// read FOR SHARE in the transaction, so another runner's done waits for
// the commit.
func (db *DB) CreateSchedule(ctx context.Context, s tandem.Schedule, max int, turn string) error {
	if err := checkSchedule(s); err != nil {
		return fmt.Errorf("postgres: create schedule: %w", err)
	}
	args, err := scheduleArgs(s)
	if err != nil {
		return fmt.Errorf("postgres: create schedule: %w", err)
	}
	return db.inTx(ctx, "create schedule", func(tx pgx.Tx) error {
		if err := turnUnfinished(ctx, tx, turn); err != nil {
			return err
		}
		// Taken without a limit too, so a create without one cannot slip
		// between another caller's count and commit.
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtext('tandem schedules per creator'), hashtext($1 || '/' || $2))`,
			s.Session.Team, s.Creator); err != nil {
			return fmt.Errorf("lock: %w", err)
		}
		if _, err := tx.Exec(ctx, insertSchedule, args...); err != nil {
			if _, ok := uniqueViolation(err); ok {
				return fmt.Errorf("%w (%w)", tandem.Errorf(tandem.ECONFLICT, "a schedule with id %s exists", s.ID), err)
			}
			return err
		}
		if max <= 0 {
			return nil
		}
		var n int
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM schedules WHERE team = $1 AND creator = $2`,
			s.Session.Team, s.Creator).Scan(&n); err != nil {
			return err
		}
		if n > max {
			return tandem.Errorf(tandem.ELIMIT, "You have %d schedules in this workspace, the most allowed; delete one first.", n-1)
		}
		return nil
	})
}

// Schedule returns the schedule with id, or ENOTFOUND.
func (db *DB) Schedule(ctx context.Context, id string) (tandem.Schedule, error) {
	if err := db.ready(ctx, "schedule"); err != nil {
		return tandem.Schedule{}, err
	}
	s, err := scanSchedule(db.pool.QueryRow(ctx, `SELECT doc FROM schedules WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		err = noSchedule(id)
	}
	if err != nil {
		return tandem.Schedule{}, db.fail(ctx, "schedule", err)
	}
	return s, nil
}

// Schedules lists the schedules f selects, oldest first (CreatedAt, then
// id).
func (db *DB) Schedules(ctx context.Context, f tandem.ScheduleFilter) ([]tandem.Schedule, error) {
	if err := db.ready(ctx, "schedules"); err != nil {
		return nil, err
	}
	sql, args := schedulesQuery(f)
	rows, _ := db.pool.Query(ctx, sql, args...)
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (tandem.Schedule, error) { return scanSchedule(r) })
	if err != nil {
		return nil, db.fail(ctx, "schedules", err)
	}
	return out, nil
}

// schedulesQuery returns the query of Schedules and its arguments. It names
// only the conditions f sets, so the due query is answered from its partial
// index and a person's schedules from theirs.
func schedulesQuery(f tandem.ScheduleFilter) (string, []any) {
	var where []string
	var args []any
	cond := func(sql string, arg any) {
		args = append(args, arg)
		where = append(where, strings.ReplaceAll(sql, "$?", "$"+strconv.Itoa(len(args))))
	}
	if f.Team != "" {
		cond(`team = $?`, f.Team)
	}
	if f.Creator != "" {
		cond(`creator = $?`, f.Creator)
	}
	if f.Session != nil {
		cond(`team = $?`, f.Session.Team)
		cond(`channel = $?`, f.Session.Channel)
		cond(`thread_ts = $?`, f.Session.ThreadTS)
	}
	if !f.DueBy.IsZero() {
		cond(`NOT paused AND next IS NOT NULL AND next <= $?`, f.DueBy)
	}
	sql := `SELECT doc FROM schedules`
	if len(where) > 0 {
		sql += ` WHERE ` + strings.Join(where, ` AND `)
	}
	return sql + ` ORDER BY created_at, id`, args
}

// UpdateSchedule applies fn to the stored schedule in one transaction, with
// its row locked, and stores the result. It fails with ENOTFOUND when the
// schedule is missing, with fn's own error, as is and storing nothing, when
// fn fails, and with EINVALID when fn leaves no creator or an incomplete
// session key. fn may not change the id.
func (db *DB) UpdateSchedule(ctx context.Context, id string, fn func(*tandem.Schedule) error) (tandem.Schedule, error) {
	var out tandem.Schedule
	var fnErr error
	err := db.inTx(ctx, "update schedule", func(tx pgx.Tx) error {
		s, err := scanSchedule(tx.QueryRow(ctx, `SELECT doc FROM schedules WHERE id = $1 FOR UPDATE`, id))
		if errors.Is(err, pgx.ErrNoRows) {
			return noSchedule(id)
		} else if err != nil {
			return err
		}
		if fnErr = fn(&s); fnErr != nil {
			return fnErr
		}
		s.ID = id
		if err := checkSchedule(s); err != nil {
			return err
		}
		args, err := scheduleArgs(s)
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE schedules SET team = $2, channel = $3, thread_ts = $4, creator = $5,
			created_at = $6, next = $7, paused = $8, doc = $9 WHERE id = $1`, args...); err != nil {
			return err
		}
		out = stored(s)
		return nil
	})
	if fnErr != nil {
		return tandem.Schedule{}, fnErr
	}
	if err != nil {
		return tandem.Schedule{}, err
	}
	return out, nil
}

// DeleteSchedule removes the schedule with id; ENOTFOUND when there was
// none.
func (db *DB) DeleteSchedule(ctx context.Context, id string) error {
	tag, err := db.exec(ctx, "delete schedule", `DELETE FROM schedules WHERE id = $1`, id)
	if err != nil {
		return err
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("postgres: delete schedule: %w", noSchedule(id))
	}
	return nil
}

// ImportSchedules stores the schedules that each passes to put, with no
// limit per creator, and returns how many it stored. It fails with
// ECONFLICT when a schedule's id is taken and EINVALID like CreateSchedule.
func (db *DB) ImportSchedules(ctx context.Context, each func(put func(tandem.Schedule) error) error) (int, error) {
	im := &importer{db: db, ctx: ctx, op: "import schedules"}
	return im.run(func() error {
		return each(func(s tandem.Schedule) error {
			if err := checkSchedule(s); err != nil {
				return invalidImport(im.op, err)
			}
			args, err := scheduleArgs(s)
			if err != nil {
				return invalidImport(im.op, err)
			}
			return im.queue(insertSchedule, args...)
		})
	})
}
