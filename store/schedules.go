package store

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/tandembot/tandem"
	bolt "go.etcd.io/bbolt"
)

// Schedules are stored as JSON under their id (they hold no secret). There
// is no index: a deployment has a few schedules per person (the limit
// CreateSchedule enforces), so the per-creator count and the due query scan
// the bucket.
//
// CreateSchedule and UpdateSchedule write in a transaction of their own
// (updateAlone) rather than in a shared batch: in a batch, fn runs again
// whenever another write of the batch fails, and an ELIMIT would make the
// whole batch roll back and retry. Alone, fn runs exactly once per call and
// the count and the insert are still one transaction.

// checkSchedule fails with EINVALID for a schedule without an id, a
// creator or a full session key, or whose id holds a separator.
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

// CreateSchedule stores a new schedule. It fails with ECONFLICT when its id
// exists, with ELIMIT, storing nothing, when its creator already has max
// schedules in its team (max <= 0: no limit), and with EINVALID for a
// schedule without an id, a creator or a full session key. The count and
// the insert are one write transaction, which bbolt serialises. With turn,
// the schedule is stored only while that turn is unfinished (ErrTurnDone
// once it is done, ENOTFOUND for an unknown turn), read in the same
// transaction.
func (db *DB) CreateSchedule(ctx context.Context, s tandem.Schedule, max int, turn string) error {
	if err := checkSchedule(s); err != nil {
		return fmt.Errorf("store: create schedule: %w", err)
	}
	return db.updateAlone(ctx, "create schedule", func(tx *bolt.Tx) error {
		if err := turnUnfinished(tx, turn); err != nil {
			return err
		}
		b := tx.Bucket([]byte(bucketSchedules))
		if b.Get([]byte(s.ID)) != nil {
			return tandem.Errorf(tandem.ECONFLICT, "a schedule with id %s exists", s.ID)
		}
		if max > 0 {
			n := 0
			err := b.ForEach(func(k, v []byte) error {
				var other tandem.Schedule
				if err := decode(v, &other); err != nil {
					return fmt.Errorf("schedule %s: %w", k, err)
				}
				if other.Session.Team == s.Session.Team && other.Creator == s.Creator {
					n++
				}
				return nil
			})
			if err != nil {
				return err
			}
			if n >= max {
				return tandem.Errorf(tandem.ELIMIT, "You have %d schedules in this workspace, the most allowed; delete one first.", n)
			}
		}
		return putJSON(b, []byte(s.ID), s)
	})
}

// Schedule returns the schedule with id, or ENOTFOUND.
func (db *DB) Schedule(ctx context.Context, id string) (tandem.Schedule, error) {
	var s tandem.Schedule
	err := db.view(ctx, "schedule", func(tx *bolt.Tx) error {
		raw := tx.Bucket([]byte(bucketSchedules)).Get([]byte(id))
		if raw == nil {
			return noSchedule(id)
		}
		return decode(raw, &s)
	})
	if err != nil {
		return tandem.Schedule{}, err
	}
	return s, nil
}

func noSchedule(id string) error {
	return tandem.Errorf(tandem.ENOTFOUND, "no schedule %s", id)
}

// Schedules lists the schedules f selects, oldest first (CreatedAt, then
// id).
func (db *DB) Schedules(ctx context.Context, f tandem.ScheduleFilter) ([]tandem.Schedule, error) {
	var out []tandem.Schedule
	err := db.view(ctx, "schedules", func(tx *bolt.Tx) error {
		return tx.Bucket([]byte(bucketSchedules)).ForEach(func(k, v []byte) error {
			var s tandem.Schedule
			if err := decode(v, &s); err != nil {
				return fmt.Errorf("schedule %s: %w", k, err)
			}
			if scheduleMatches(s, f) {
				out = append(out, s)
			}
			return nil
		})
	})
	if err != nil {
		return nil, err
	}
	slices.SortFunc(out, func(a, b tandem.Schedule) int {
		if c := a.CreatedAt.Compare(b.CreatedAt); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	return out, nil
}

func scheduleMatches(s tandem.Schedule, f tandem.ScheduleFilter) bool {
	switch {
	case f.Team != "" && s.Session.Team != f.Team,
		f.Creator != "" && s.Creator != f.Creator,
		f.Session != nil && s.Session != *f.Session:
		return false
	case !f.DueBy.IsZero():
		return !s.Paused && !s.Next.IsZero() && !s.Next.After(f.DueBy)
	}
	return true
}

// UpdateSchedule applies fn to the stored schedule in one transaction and
// stores the result. It fails with ENOTFOUND when the schedule is missing,
// with fn's own error, as is and storing nothing, when fn fails, and with
// EINVALID when fn leaves no creator or an incomplete session key. fn may
// not change the id.
func (db *DB) UpdateSchedule(ctx context.Context, id string, fn func(*tandem.Schedule) error) (tandem.Schedule, error) {
	var s tandem.Schedule
	var fnErr error
	err := db.updateAlone(ctx, "update schedule", func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte(bucketSchedules))
		raw := b.Get([]byte(id))
		if raw == nil {
			return noSchedule(id)
		}
		s = tandem.Schedule{}
		if err := decode(raw, &s); err != nil {
			return err
		}
		if fnErr = fn(&s); fnErr != nil {
			return fnErr
		}
		s.ID = id
		if err := checkSchedule(s); err != nil {
			return err
		}
		return putJSON(b, []byte(id), s)
	})
	if fnErr != nil {
		return tandem.Schedule{}, fnErr
	}
	if err != nil {
		return tandem.Schedule{}, err
	}
	return s, nil
}

// DeleteSchedule removes the schedule with id; ENOTFOUND when there was
// none.
func (db *DB) DeleteSchedule(ctx context.Context, id string) error {
	return db.update(ctx, "delete schedule", func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte(bucketSchedules))
		if b.Get([]byte(id)) == nil {
			return noSchedule(id)
		}
		return b.Delete([]byte(id))
	})
}

// ImportSchedules stores the schedules that each passes to put, with no
// limit per creator, and returns how many it stored. It fails with
// ECONFLICT when a schedule's id is taken and EINVALID like CreateSchedule.
func (db *DB) ImportSchedules(ctx context.Context, each func(put func(tandem.Schedule) error) error) (int, error) {
	return importBatches(db, ctx, "import schedules", each, func(tx *bolt.Tx, s tandem.Schedule) error {
		if err := checkSchedule(s); err != nil {
			return err
		}
		b := tx.Bucket([]byte(bucketSchedules))
		if b.Get([]byte(s.ID)) != nil {
			return exists("schedule", []byte(s.ID))
		}
		return putJSON(b, []byte(s.ID), s)
	})
}
