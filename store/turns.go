package store

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"time"

	"github.com/tandembot/tandem"
	bolt "go.etcd.io/bbolt"
)

// turnValue is a turn as stored: the record plus where it sits in the
// indexes.
type turnValue struct {
	tandem.TurnRecord
	Seq        uint64    `json:"seq"`         // recording order; key of turns_open
	RecordedAt time.Time `json:"recorded_at"` // by the store's clock; key of turns_by_time
}

func decode(v []byte, x any) error {
	if v == nil {
		return fmt.Errorf("missing value")
	}
	if err := json.Unmarshal(v, x); err != nil {
		return fmt.Errorf("decode: %w", err)
	}
	return nil
}

func putJSON(b *bolt.Bucket, k []byte, x any) error {
	v, err := json.Marshal(x)
	if err != nil {
		return fmt.Errorf("encode: %w", err)
	}
	return b.Put(k, v)
}

// dedupeKey is the channel/ts index key, or nil for a turn exempt from it: a
// turn without a message ts, and a rerun, which replays a recorded message
// on purpose under its own id.
func dedupeKey(t tandem.Turn) []byte {
	if t.TS == "" || t.Rerun {
		return nil
	}
	return []byte(t.Session.Channel + "/" + t.TS)
}

// openKey is t's key in the index of each session's unfinished turns: its
// session, then the order the session's turns run in (when they were sent,
// then when they were recorded), so a session's next turn is the first key
// after the session's prefix.
func openKey(t tandem.Turn, seq uint64) []byte {
	k := sessionPrefix(t.Session)
	k = binary.BigEndian.AppendUint64(k, sortableFloat(t.SentAt()))
	return binary.BigEndian.AppendUint64(k, seq)
}

// sessionPrefix encodes key with the length of each part before it, so no
// session's prefix is the start of another's, whatever the parts hold.
func sessionPrefix(key tandem.SessionKey) []byte {
	var b []byte
	for _, part := range []string{key.Team, key.Channel, key.ThreadTS} {
		b = binary.AppendUvarint(b, uint64(len(part)))
		b = append(b, part...)
	}
	return b
}

// sortableFloat maps f to an integer whose big-endian bytes sort as f does.
func sortableFloat(f float64) uint64 {
	u := math.Float64bits(f)
	if u>>63 == 1 {
		return ^u
	}
	return u | 1<<63
}

func timeKey(at time.Time, seq uint64) []byte {
	ns := at.UnixNano()
	if ns < 0 {
		ns = 0
	}
	return binary.BigEndian.AppendUint64(u64(uint64(ns)), seq)
}

// RecordTurn durably appends t to the inbox as pending. It reports
// duplicate=true, and stores nothing, when a turn with the same ID or the
// same channel and message ts was recorded before (a rerun, or a turn
// without a ts, is checked by ID only). It fails with EINVALID for a turn
// without an ID.
func (db *DB) RecordTurn(ctx context.Context, t tandem.Turn) (duplicate bool, err error) {
	if err := checkTurn(t); err != nil {
		return false, fmt.Errorf("store: record turn: %w", err)
	}
	err = db.update(ctx, "record turn", func(tx *bolt.Tx) error {
		duplicate, err = db.recordTurn(tx, t)
		return err
	})
	return duplicate, err
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

func (db *DB) recordTurn(tx *bolt.Tx, t tandem.Turn) (duplicate bool, err error) {
	turns := tx.Bucket([]byte(bucketTurns))
	id := []byte(t.ID)
	if turns.Get(id) != nil {
		return true, nil
	}
	dedupe := tx.Bucket([]byte(bucketTurnDedupe))
	dk := dedupeKey(t)
	if dk != nil && dedupe.Get(dk) != nil {
		return true, nil
	}
	seq, err := turns.NextSequence()
	if err != nil {
		return false, err
	}
	v := turnValue{
		TurnRecord: tandem.TurnRecord{Turn: t, State: tandem.TurnPending},
		Seq:        seq,
		RecordedAt: db.now(),
	}
	if err := putJSON(turns, id, v); err != nil {
		return false, err
	}
	if dk != nil {
		if err := dedupe.Put(dk, id); err != nil {
			return false, err
		}
	}
	if err := tx.Bucket([]byte(bucketTurnsOpen)).Put(u64(seq), id); err != nil {
		return false, err
	}
	if err := tx.Bucket([]byte(bucketTurnsOpenBySession)).Put(openKey(t, seq), id); err != nil {
		return false, err
	}
	return false, tx.Bucket([]byte(bucketTurnsByTime)).Put(timeKey(v.RecordedAt, seq), id)
}

// SetTurnState moves a recorded turn to state; moving to TurnRunning counts
// an attempt. It fails with ENOTFOUND for an unknown turn and EINVALID for
// an unknown state.
func (db *DB) SetTurnState(ctx context.Context, id string, state tandem.TurnState) error {
	if err := checkState(state); err != nil {
		return fmt.Errorf("store: set turn state: %w", err)
	}
	return db.update(ctx, "set turn state", func(tx *bolt.Tx) error { return setTurnState(tx, id, state) })
}

func checkState(state tandem.TurnState) error {
	switch state {
	case tandem.TurnPending, tandem.TurnRunning, tandem.TurnDone:
		return nil
	}
	return tandem.Errorf(tandem.EINVALID, "unknown turn state %q", state)
}

// setTurnState moves turn id to state and keeps the indexes of unfinished
// turns in step.
// inboxTurn reads turn id in tx; ENOTFOUND when there is none.
func inboxTurn(tx *bolt.Tx, id string) (turnValue, error) {
	var v turnValue
	raw := tx.Bucket([]byte(bucketTurns)).Get([]byte(id))
	if raw == nil {
		return v, tandem.Errorf(tandem.ENOTFOUND, "no turn %s in the inbox", id)
	}
	if err := decode(raw, &v); err != nil {
		return v, fmt.Errorf("turn %s: %w", id, err)
	}
	return v, nil
}

func setTurnState(tx *bolt.Tx, id string, state tandem.TurnState) error {
	turns := tx.Bucket([]byte(bucketTurns))
	v, err := inboxTurn(tx, id)
	if err != nil {
		return err
	}
	v.State = state
	if state == tandem.TurnRunning {
		v.Attempts++
	}
	open := tx.Bucket([]byte(bucketTurnsOpen))
	bySession := tx.Bucket([]byte(bucketTurnsOpenBySession))
	if state == tandem.TurnDone {
		if err := open.Delete(u64(v.Seq)); err != nil {
			return err
		}
		if err := bySession.Delete(openKey(v.Turn, v.Seq)); err != nil {
			return err
		}
	} else {
		if err := open.Put(u64(v.Seq), []byte(id)); err != nil {
			return err
		}
		if err := bySession.Put(openKey(v.Turn, v.Seq), []byte(id)); err != nil {
			return err
		}
	}
	return putJSON(turns, []byte(id), v)
}

// StepTurn writes step for the recorded turn id in one commit (see
// tandem.TurnStep): its state, the session it starts, its sender as an
// editor and its audit records, all or nothing. It fails with ENOTFOUND for
// an unknown turn, EINVALID for an unknown state or a session key with an
// empty part, ErrTurnDone for any step of a done turn (only its audit
// records written), and ENOTHELD when step.Hold is set and its owner no
// longer holds the lease (nothing written).
func (db *DB) StepTurn(ctx context.Context, id string, step tandem.TurnStep) error {
	if step.State != "" {
		if err := checkState(step.State); err != nil {
			return fmt.Errorf("store: step turn: %w", err)
		}
	}
	var k []byte
	if step.Session != nil {
		var err error
		if k, err = sessionKey(step.Session.Key); err != nil {
			return fmt.Errorf("store: step turn: %w", err)
		}
	}
	now := db.now()
	for i := range step.Audit {
		if step.Audit[i].Time.IsZero() {
			step.Audit[i].Time = now
		}
	}
	if !step.Hold.IsZero() {
		// Pinned until the step is committed: the lease cannot change
		// hands in between, so its next holder reads the step.
		if !db.pin(step.Hold) {
			return fmt.Errorf("store: step turn: %w", step.Hold.NotHeld())
		}
		defer db.unpin(step.Hold.Name)
	}
	done := false
	err := db.update(ctx, "step turn", func(tx *bolt.Tx) error {
		v, err := inboxTurn(tx, id)
		if err != nil {
			return err
		}
		if done = v.State == tandem.TurnDone; done {
			// A step of a turn another runner finished: this runner lost
			// the lease meanwhile, and the session's later turns may have
			// changed what it would write. Only its audit, of what it did,
			// is kept.
			return appendAudits(tx, step.Audit)
		}
		if step.State != "" {
			if err := setTurnState(tx, id, step.State); err != nil {
				return err
			}
		}
		if step.Session != nil {
			if _, _, err := ensureSession(tx, k, *step.Session); err != nil {
				return err
			}
		}
		if step.Editor != "" {
			key := v.Turn.Session
			sk, err := sessionKey(key)
			if err != nil {
				return err
			}
			err = addSenderEditor(tx, key, sk, step.Editor)
			if err != nil && tandem.ErrorCode(err) != tandem.ENOTFOUND {
				return err
			}
		}
		return appendAudits(tx, step.Audit)
	})
	if err == nil && done {
		err = fmt.Errorf("turn %s: %w", id, tandem.ErrTurnDone)
	}
	return err
}

// appendAudits appends records to the audit trail.
func appendAudits(tx *bolt.Tx, records []tandem.AuditRecord) error {
	for _, r := range records {
		if err := appendAudit(tx, r); err != nil {
			return err
		}
	}
	return nil
}

// TurnRecord returns one recorded turn. It fails with ENOTFOUND for an
// unknown (or pruned) turn.
func (db *DB) TurnRecord(ctx context.Context, id string) (tandem.TurnRecord, error) {
	var v turnValue
	err := db.view(ctx, "turn record", func(tx *bolt.Tx) (err error) {
		v, err = inboxTurn(tx, id)
		return err
	})
	if err != nil {
		return tandem.TurnRecord{}, err
	}
	return v.TurnRecord, nil
}

// UnfinishedTurns returns every pending or running turn in the order they
// were recorded. It reads only the index of unfinished turns, so done turns
// cost nothing. It fails when the store is closed.
func (db *DB) UnfinishedTurns(ctx context.Context) ([]tandem.TurnRecord, error) {
	var out []tandem.TurnRecord
	err := db.view(ctx, "unfinished turns", func(tx *bolt.Tx) error {
		turns := tx.Bucket([]byte(bucketTurns))
		return tx.Bucket([]byte(bucketTurnsOpen)).ForEach(func(_, id []byte) error {
			var v turnValue
			if err := decode(turns.Get(id), &v); err != nil {
				return fmt.Errorf("turn %s: %w", id, err)
			}
			out = append(out, v.TurnRecord)
			return nil
		})
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// NextTurn returns the pending or running turn of key's session that was
// sent first (tandem.Turn.SentAt, then recording order), with one seek in
// the index of each session's unfinished turns: neither other sessions'
// turns nor done turns are read. It fails with ENOTFOUND when the session
// has no unfinished turn, and when the store is closed.
func (db *DB) NextTurn(ctx context.Context, key tandem.SessionKey) (tandem.TurnRecord, error) {
	var v turnValue
	err := db.view(ctx, "next turn", func(tx *bolt.Tx) error {
		prefix := sessionPrefix(key)
		k, id := tx.Bucket([]byte(bucketTurnsOpenBySession)).Cursor().Seek(prefix)
		if k == nil || !bytes.HasPrefix(k, prefix) {
			return tandem.Errorf(tandem.ENOTFOUND, "no unfinished turn in session %s", key)
		}
		if err := decode(tx.Bucket([]byte(bucketTurns)).Get(id), &v); err != nil {
			return fmt.Errorf("turn %s: %w", id, err)
		}
		return nil
	})
	if err != nil {
		return tandem.TurnRecord{}, err
	}
	return v.TurnRecord, nil
}

// pruneBatch bounds the records one pruning transaction deletes, so the
// writer lock is never held for long while the bot records turns.
const pruneBatch = 1000

// firstWaiting adds to w the next turns of at most max unleased sessions,
// those whose unfinished turns were recorded first: it walks the inbox in
// recording order and stops once it has max sessions.
func (db *DB) firstWaiting(tx *bolt.Tx, leasePrefix string, max int, w *tandem.Waiting) error {
	turns := tx.Bucket([]byte(bucketTurns))
	bySession := tx.Bucket([]byte(bucketTurnsOpenBySession)).Cursor()
	seen := map[tandem.SessionKey]bool{}
	open := tx.Bucket([]byte(bucketTurnsOpen)).Cursor()
	for k, id := open.First(); k != nil && len(w.Next) < max; k, id = open.Next() {
		var v turnValue
		if err := decode(turns.Get(id), &v); err != nil {
			return fmt.Errorf("turn %s: %w", id, err)
		}
		key := v.Turn.Session
		if seen[key] {
			continue
		}
		seen[key] = true
		if db.leased(leasePrefix + key.String()) {
			continue
		}
		prefix := sessionPrefix(key)
		if fk, fid := bySession.Seek(prefix); fk != nil && bytes.HasPrefix(fk, prefix) && !bytes.Equal(fid, id) {
			v = turnValue{}
			if err := decode(turns.Get(fid), &v); err != nil {
				return fmt.Errorf("turn %s: %w", fid, err)
			}
		}
		w.Next = append(w.Next, v.TurnRecord)
	}
	return nil
}

// PruneTurns deletes done turns recorded before before, with their dedupe
// entries (a redelivery of a pruned message would be recorded again), and
// returns how many it deleted. Pending and running turns stay. It works in
// small transactions; on error, the batches before it stay deleted.
func (db *DB) PruneTurns(before time.Time) (int, error) {
	end := timeKey(before, 0)
	var from []byte // resume point: skips unfinished turns already seen
	total := 0
	for {
		n, more := 0, false
		err := db.update(context.Background(), "prune turns", func(tx *bolt.Tx) error {
			n, more = 0, false
			turns := tx.Bucket([]byte(bucketTurns))
			byTime := tx.Bucket([]byte(bucketTurnsByTime))
			type victim struct{ timeKey, id, dedupe []byte }
			var victims []victim
			c := byTime.Cursor()
			k, id := c.First()
			if from != nil {
				k, id = c.Seek(from)
			}
			for ; k != nil && bytes.Compare(k, end) < 0; k, id = c.Next() {
				if len(victims) == pruneBatch {
					more = true
					from = bytes.Clone(k)
					break
				}
				var v turnValue
				if err := decode(turns.Get(id), &v); err != nil {
					return fmt.Errorf("turn %s: %w", id, err)
				}
				if v.State != tandem.TurnDone {
					continue
				}
				victims = append(victims, victim{bytes.Clone(k), bytes.Clone(id), dedupeKey(v.Turn)})
			}
			dedupe := tx.Bucket([]byte(bucketTurnDedupe))
			for _, v := range victims {
				if err := byTime.Delete(v.timeKey); err != nil {
					return err
				}
				if err := turns.Delete(v.id); err != nil {
					return err
				}
				if v.dedupe != nil && bytes.Equal(dedupe.Get(v.dedupe), v.id) {
					if err := dedupe.Delete(v.dedupe); err != nil {
						return err
					}
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

// Waiting returns the first unfinished turn of each session whose lease
// (leasePrefix + the session key) nobody holds, with one seek per session in
// the index of each session's unfinished turns, and how many turns are
// unfinished and since when (counting keys, decoding only the oldest). It
// fails when the store is closed.
func (db *DB) Waiting(ctx context.Context, leasePrefix string, max int) (tandem.Waiting, error) {
	var w tandem.Waiting
	err := db.view(ctx, "waiting turns", func(tx *bolt.Tx) error {
		turns := tx.Bucket([]byte(bucketTurns))
		open := tx.Bucket([]byte(bucketTurnsOpen)).Cursor()
		for k, id := open.First(); k != nil; k, _ = open.Next() {
			if w.Unfinished == 0 {
				var v turnValue
				if err := decode(turns.Get(id), &v); err != nil {
					return fmt.Errorf("turn %s: %w", id, err)
				}
				w.Oldest = v.Turn.ReceivedAt
			}
			w.Unfinished++
		}
		if max > 0 {
			return db.firstWaiting(tx, leasePrefix, max, &w)
		}
		c := tx.Bucket([]byte(bucketTurnsOpenBySession)).Cursor()
		for k, id := c.First(); k != nil; {
			var v turnValue
			if err := decode(turns.Get(id), &v); err != nil {
				return fmt.Errorf("turn %s: %w", id, err)
			}
			if !db.leased(leasePrefix + v.Turn.Session.String()) {
				w.Next = append(w.Next, v.TurnRecord)
			}
			// The session's other keys differ only in their last 16 bytes
			// (when sent, recording order): skip past all of them.
			next := append(bytes.Clone(k[:len(k)-16]), bytes.Repeat([]byte{0xff}, 17)...)
			k, id = c.Seek(next)
		}
		return nil
	})
	if err != nil {
		return tandem.Waiting{}, err
	}
	return w, nil
}
