package store

import (
	"bytes"
	"context"
	"encoding/hex"
	"fmt"
	"slices"
	"time"

	"github.com/tandembot/tandem"
	bolt "go.etcd.io/bbolt"
)

// Export and import move records between stores as they are stored,
// secrets still sealed (see package storecopy). Exports call fn inside one
// read transaction, so fn must not write to this store. Imports write
// batches, each in one transaction, and refuse a record whose key exists
// (ECONFLICT), since they are meant for an empty store.

// importBatch bounds the records one import transaction writes (and syncs).
const importBatch = 1000

// ExportTurns calls fn for every turn, with its state, attempts and the
// time the store recorded it, in recording order. It stops at fn's first
// error, which it returns.
func (db *DB) ExportTurns(ctx context.Context, fn func(r tandem.TurnRecord, recordedAt time.Time) error) error {
	return db.view(ctx, "export turns", func(tx *bolt.Tx) error {
		turns := tx.Bucket([]byte(bucketTurns))
		// The bucket is in id order; find the recording order first.
		type entry struct {
			seq uint64
			id  []byte
		}
		var order []entry
		err := turns.ForEach(func(id, raw []byte) error {
			var v struct {
				Seq uint64 `json:"seq"`
			}
			if err := decode(raw, &v); err != nil {
				return fmt.Errorf("turn %s: %w", id, err)
			}
			order = append(order, entry{v.Seq, id})
			return nil
		})
		if err != nil {
			return err
		}
		slices.SortFunc(order, func(a, b entry) int { return cmpUint(a.seq, b.seq) })
		for _, e := range order {
			var v turnValue
			if err := decode(turns.Get(e.id), &v); err != nil {
				return fmt.Errorf("turn %s: %w", e.id, err)
			}
			if err := fn(v.TurnRecord, v.RecordedAt); err != nil {
				return err
			}
		}
		return nil
	})
}

func cmpUint(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// ExportLinks calls fn for every link, in key order, with its token still
// sealed (l.Token is empty). It stops at fn's first error, which it
// returns.
func (db *DB) ExportLinks(ctx context.Context, fn func(l tandem.Link, sealedToken []byte) error) error {
	return db.view(ctx, "export links", func(tx *bolt.Tx) error {
		return tx.Bucket([]byte(bucketLinks)).ForEach(func(k, raw []byte) error {
			team, user, provider, err := splitLinkKey(k)
			if err != nil {
				return err
			}
			var lv linkValue
			if err := decode(raw, &lv); err != nil {
				return fmt.Errorf("link %s: %w", k, err)
			}
			l := lv.Link
			l.Team, l.User, l.Provider, l.Token = team, user, provider, tandem.Token{}
			return fn(l, bytes.Clone(lv.SealedToken))
		})
	})
}

// ExportOAuthStates calls fn for every OAuth flow in progress, expired or
// not, with s.ID holding the hex SHA-256 of the state id (the id itself is
// never stored) and the verifier still sealed. It stops at fn's first
// error, which it returns.
func (db *DB) ExportOAuthStates(ctx context.Context, fn func(s tandem.OAuthState, sealedVerifier []byte) error) error {
	return db.view(ctx, "export oauth states", func(tx *bolt.Tx) error {
		return tx.Bucket([]byte(bucketOAuthStates)).ForEach(func(k, raw []byte) error {
			var v stateValue
			if err := decode(raw, &v); err != nil {
				return fmt.Errorf("oauth state: %w", err)
			}
			s := tandem.OAuthState{
				ID: string(k), Provider: v.Provider, Team: v.Team, User: v.User, NonceHash: v.NonceHash,
				Expires: v.Expires, RerunTurn: v.RerunTurn,
			}
			return fn(s, v.SealedVerifier)
		})
	})
}

// ExportAudit calls fn for every audit record in append order. It stops at
// fn's first error, which it returns.
func (db *DB) ExportAudit(ctx context.Context, fn func(tandem.AuditRecord) error) error {
	return db.view(ctx, "export audit", func(tx *bolt.Tx) error {
		return tx.Bucket([]byte(bucketAudit)).ForEach(func(_, raw []byte) error {
			var r tandem.AuditRecord
			if err := decode(raw, &r); err != nil {
				return err
			}
			return fn(r)
		})
	})
}

// ExportSettings calls fn for every setting in name order. It stops at
// fn's first error, which it returns.
func (db *DB) ExportSettings(ctx context.Context, fn func(name, value string) error) error {
	return db.view(ctx, "export settings", func(tx *bolt.Tx) error {
		return tx.Bucket([]byte(bucketSettings)).ForEach(func(k, v []byte) error {
			return fn(string(k), string(v))
		})
	})
}

// importBatches collects the records each passes to put and writes them
// with write, importBatch at a time, each batch in one transaction. It
// returns how many it wrote.
func importBatches[T any](db *DB, ctx context.Context, op string, each func(put func(T) error) error, write func(tx *bolt.Tx, v T) error) (int, error) {
	var batch []T
	n := 0
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		err := db.update(ctx, op, func(tx *bolt.Tx) error {
			for _, v := range batch {
				if err := write(tx, v); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
		n += len(batch)
		batch = batch[:0]
		return nil
	}
	err := each(func(v T) error {
		batch = append(batch, v)
		if len(batch) >= importBatch {
			return flush()
		}
		return nil
	})
	if err == nil {
		err = flush()
	}
	return n, err
}

func exists(what string, key []byte) error {
	return tandem.Errorf(tandem.ECONFLICT, "the %s %s exists in the target already", what, key)
}

type importedTurn struct {
	r  tandem.TurnRecord
	at time.Time
}

// ImportTurns stores the turns that each passes to put, in that order (it
// becomes the recording order), with their states, attempts and recording
// times, and returns how many it stored. It fails with ECONFLICT when a
// turn's id, or its channel and ts, is taken, and EINVALID for a turn
// RecordTurn would refuse or an unknown state.
func (db *DB) ImportTurns(ctx context.Context, each func(put func(r tandem.TurnRecord, recordedAt time.Time) error) error) (int, error) {
	return importBatches(db, ctx, "import turns",
		func(put func(importedTurn) error) error {
			return each(func(r tandem.TurnRecord, at time.Time) error {
				if err := checkTurn(r.Turn); err != nil {
					return fmt.Errorf("store: import turns: %w", err)
				}
				switch r.State {
				case tandem.TurnPending, tandem.TurnRunning, tandem.TurnDone:
				default:
					return fmt.Errorf("store: import turns: %w", tandem.Errorf(tandem.EINVALID, "unknown turn state %q", r.State))
				}
				return put(importedTurn{r, at})
			})
		},
		func(tx *bolt.Tx, t importedTurn) error {
			turns := tx.Bucket([]byte(bucketTurns))
			id := []byte(t.r.Turn.ID)
			if turns.Get(id) != nil {
				return exists("turn", id)
			}
			dedupe := tx.Bucket([]byte(bucketTurnDedupe))
			dk := dedupeKey(t.r.Turn)
			if dk != nil && dedupe.Get(dk) != nil {
				return exists("message", dk)
			}
			seq, err := turns.NextSequence()
			if err != nil {
				return err
			}
			if err := putJSON(turns, id, turnValue{TurnRecord: t.r, Seq: seq, RecordedAt: t.at}); err != nil {
				return err
			}
			if dk != nil {
				if err := dedupe.Put(dk, id); err != nil {
					return err
				}
			}
			if t.r.State != tandem.TurnDone {
				if err := tx.Bucket([]byte(bucketTurnsOpen)).Put(u64(seq), id); err != nil {
					return err
				}
				if err := tx.Bucket([]byte(bucketTurnsOpenBySession)).Put(openKey(t.r.Turn, seq), id); err != nil {
					return err
				}
			}
			return tx.Bucket([]byte(bucketTurnsByTime)).Put(timeKey(t.at, seq), id)
		})
}

// ImportSessions stores the sessions that each passes to put and returns
// how many it stored. It fails with ECONFLICT when a session's key is taken
// and EINVALID for a key with an empty part.
func (db *DB) ImportSessions(ctx context.Context, each func(put func(tandem.Session) error) error) (int, error) {
	return importBatches(db, ctx, "import sessions", each, func(tx *bolt.Tx, s tandem.Session) error {
		k, err := sessionKey(s.Key)
		if err != nil {
			return err
		}
		b := tx.Bucket([]byte(bucketSessions))
		if b.Get(k) != nil {
			return exists("session", k)
		}
		return putJSON(b, k, s)
	})
}

type importedLink struct {
	l      tandem.Link
	sealed []byte
}

// ImportLinks stores the links that each passes to put, with their tokens
// sealed as given (sealed by either store under the same keyring, for the
// same team, user and provider), and returns how many it stored. It fails
// with ECONFLICT when a link exists and EINVALID for an empty team, user,
// provider or sealed token.
func (db *DB) ImportLinks(ctx context.Context, each func(put func(l tandem.Link, sealedToken []byte) error) error) (int, error) {
	return importBatches(db, ctx, "import links",
		func(put func(importedLink) error) error {
			return each(func(l tandem.Link, sealed []byte) error {
				return put(importedLink{l, bytes.Clone(sealed)})
			})
		},
		func(tx *bolt.Tx, il importedLink) error {
			l := il.l
			k, err := linkKey(l.Team, l.User, l.Provider)
			if err != nil {
				return err
			}
			if len(il.sealed) == 0 {
				return tandem.Errorf(tandem.EINVALID, "the link %s has no sealed token", k)
			}
			b := tx.Bucket([]byte(bucketLinks))
			if b.Get(k) != nil {
				return exists("link", k)
			}
			l.Token = tandem.Token{}
			return putJSON(b, k, linkValue{Link: l, SealedToken: il.sealed})
		})
}

type importedState struct {
	s      tandem.OAuthState
	sealed []byte
}

// ImportOAuthStates stores the OAuth flows that each passes to put, s.ID
// holding the hex SHA-256 of the state id as exported and the verifier
// sealed as given, and returns how many it stored. It fails with ECONFLICT
// when a state exists and EINVALID for a malformed hash or an empty sealed
// verifier.
func (db *DB) ImportOAuthStates(ctx context.Context, each func(put func(s tandem.OAuthState, sealedVerifier []byte) error) error) (int, error) {
	return importBatches(db, ctx, "import oauth states",
		func(put func(importedState) error) error {
			return each(func(s tandem.OAuthState, sealed []byte) error {
				return put(importedState{s, bytes.Clone(sealed)})
			})
		},
		func(tx *bolt.Tx, is importedState) error {
			s := is.s
			if h, err := hex.DecodeString(s.ID); err != nil || len(h) != 32 || len(is.sealed) == 0 {
				return tandem.Errorf(tandem.EINVALID, "an OAuth state needs the hex SHA-256 of its id and a sealed verifier")
			}
			b := tx.Bucket([]byte(bucketOAuthStates))
			if b.Get([]byte(s.ID)) != nil {
				return exists("OAuth state", []byte(s.ID))
			}
			return putJSON(b, []byte(s.ID), stateValue{
				Provider: s.Provider, Team: s.Team, User: s.User, NonceHash: s.NonceHash,
				Expires: s.Expires, RerunTurn: s.RerunTurn, SealedVerifier: is.sealed,
			})
		})
}

// ImportAudit appends the records that each passes to put, in that order,
// and returns how many it appended.
func (db *DB) ImportAudit(ctx context.Context, each func(put func(tandem.AuditRecord) error) error) (int, error) {
	return importBatches(db, ctx, "import audit", each, func(tx *bolt.Tx, r tandem.AuditRecord) error {
		b := tx.Bucket([]byte(bucketAudit))
		seq, err := b.NextSequence()
		if err != nil {
			return err
		}
		return putJSON(b, u64(seq), r)
	})
}

// ImportAPIKeys stores the keys that each passes to put and returns how
// many it stored. It fails with ECONFLICT when a key's hash or prefix is
// taken and EINVALID like SaveAPIKey.
func (db *DB) ImportAPIKeys(ctx context.Context, each func(put func(tandem.APIKey) error) error) (int, error) {
	return importBatches(db, ctx, "import api keys", each, func(tx *bolt.Tx, k tandem.APIKey) error {
		if k.Hash == "" || k.Prefix == "" || k.Creator == "" || k.Team == "" {
			return tandem.Errorf(tandem.EINVALID, "an API key needs a hash, a prefix, a team and a creator")
		}
		b := tx.Bucket([]byte(bucketAPIKeys))
		if b.Get([]byte(k.Hash)) != nil {
			return tandem.Errorf(tandem.ECONFLICT, "an API key with that hash exists in the target already")
		}
		if _, _, found := findKey(b, k.Prefix); found {
			return tandem.Errorf(tandem.ECONFLICT, "an API key with prefix %s exists in the target already", k.Prefix)
		}
		return putJSON(b, []byte(k.Hash), k)
	})
}

type importedSetting struct{ name, value string }

// ImportSettings stores the settings that each passes to put and returns
// how many it stored. It fails with ECONFLICT when a setting exists and
// EINVALID for an empty name or value.
func (db *DB) ImportSettings(ctx context.Context, each func(put func(name, value string) error) error) (int, error) {
	return importBatches(db, ctx, "import settings",
		func(put func(importedSetting) error) error {
			return each(func(name, value string) error { return put(importedSetting{name, value}) })
		},
		func(tx *bolt.Tx, s importedSetting) error {
			if s.name == "" || s.value == "" {
				return tandem.Errorf(tandem.EINVALID, "a setting needs a name and a value")
			}
			b := tx.Bucket([]byte(bucketSettings))
			if b.Get([]byte(s.name)) != nil {
				return exists("setting", []byte(s.name))
			}
			return b.Put([]byte(s.name), []byte(s.value))
		})
}

// Truncate deletes every record (turns, sessions, links, OAuth states,
// audit, API keys, settings, leases and schedules) in one transaction, keeping the
// schema version and the key check. It is for replacing a store's contents
// with a copy; nothing else calls it.
func (db *DB) Truncate(ctx context.Context) error {
	return db.updateAlone(ctx, "truncate", func(tx *bolt.Tx) error {
		for _, name := range dataBuckets {
			if err := tx.DeleteBucket([]byte(name)); err != nil {
				return err
			}
			if _, err := tx.CreateBucket([]byte(name)); err != nil {
				return err
			}
		}
		return nil
	})
}
