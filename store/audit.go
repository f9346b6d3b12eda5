package store

import (
	"bytes"
	"context"
	"slices"
	"time"

	"github.com/tandembot/tandem"
	bolt "go.etcd.io/bbolt"
)

// AppendAudit durably appends one record, stamping it with the store's
// clock when its Time is zero. It fails when the store is closed.
func (db *DB) AppendAudit(ctx context.Context, r tandem.AuditRecord) error {
	if r.Time.IsZero() {
		r.Time = db.now()
	}
	return db.update(ctx, "append audit", func(tx *bolt.Tx) error { return appendAudit(tx, r) })
}

func appendAudit(tx *bolt.Tx, r tandem.AuditRecord) error {
	b := tx.Bucket([]byte(bucketAudit))
	seq, err := b.NextSequence()
	if err != nil {
		return err
	}
	return putJSON(b, u64(seq), r)
}

func auditMatches(f tandem.AuditFilter, r tandem.AuditRecord) bool {
	if f.Session != nil && r.Session != *f.Session {
		return false
	}
	if f.User != "" && r.Actor != f.User && r.Effective != f.User {
		return false
	}
	return f.Since.IsZero() || !r.Time.Before(f.Since)
}

// Audit returns the records matching f, oldest first; with f.Limit set, the
// newest f.Limit of them (still oldest first). Records are in the order
// they were appended. It fails when the store is closed.
func (db *DB) Audit(ctx context.Context, f tandem.AuditFilter) ([]tandem.AuditRecord, error) {
	var out []tandem.AuditRecord
	err := db.view(ctx, "audit", func(tx *bolt.Tx) error {
		c := tx.Bucket([]byte(bucketAudit)).Cursor()
		first, next := c.First, c.Next
		if backwards(f) {
			// Walk backwards so a small limit, or a recent Since, reads only
			// the newest records.
			first, next = c.Last, c.Prev
		}
		for k, raw := first(); k != nil; k, raw = next() {
			var r tandem.AuditRecord
			if err := decode(raw, &r); err != nil {
				return err
			}
			if !f.Since.IsZero() && r.Time.Before(f.Since.Add(-auditDisorder)) {
				// Records are appended in time order, give or take the
				// moment between taking a record's time and appending it
				// (PruneAudit relies on it too): everything before this
				// one is older still.
				break
			}
			if !auditMatches(f, r) {
				continue
			}
			out = append(out, r)
			if f.Limit > 0 && len(out) == f.Limit {
				break
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if backwards(f) {
		slices.Reverse(out)
	}
	return out, nil
}

// auditDisorder bounds how much older a record may be than one appended
// before it: concurrent turns take their records' times a moment before
// they append them.
const auditDisorder = time.Minute

// backwards reports whether Audit walks f's records newest first.
func backwards(f tandem.AuditFilter) bool { return f.Limit > 0 || !f.Since.IsZero() }

// PruneAudit deletes records older than before and returns how many it
// deleted. It walks in append order and stops at the first record not older
// than before, so a record appended with an earlier time than one before it
// waits for a later prune. It works in small transactions; on error, the
// batches before it stay deleted.
func (db *DB) PruneAudit(before time.Time) (int, error) {
	total := 0
	for {
		n, more := 0, false
		err := db.update(context.Background(), "prune audit", func(tx *bolt.Tx) error {
			n, more = 0, false
			b := tx.Bucket([]byte(bucketAudit))
			var victims [][]byte
			c := b.Cursor()
			for k, raw := c.First(); k != nil; k, raw = c.Next() {
				if len(victims) == pruneBatch {
					more = true
					break
				}
				var r tandem.AuditRecord
				if err := decode(raw, &r); err != nil {
					return err
				}
				if !r.Time.Before(before) {
					break
				}
				victims = append(victims, bytes.Clone(k))
			}
			for _, k := range victims {
				if err := b.Delete(k); err != nil {
					return err
				}
			}
			n = len(victims)
			return nil
		})
		total += n
		if err != nil {
			return total, err
		}
		if !more {
			return total, nil
		}
	}
}
