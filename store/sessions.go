package store

import (
	"context"
	"fmt"

	"github.com/tandembot/tandem"
	bolt "go.etcd.io/bbolt"
)

func sessionKey(k tandem.SessionKey) ([]byte, error) {
	if err := checkPart("team", k.Team); err != nil {
		return nil, err
	}
	if err := checkPart("channel", k.Channel); err != nil {
		return nil, err
	}
	if err := checkPart("thread ts", k.ThreadTS); err != nil {
		return nil, err
	}
	return []byte(k.String()), nil
}

// Session returns the session of key. It fails with ENOTFOUND when there is
// none and EINVALID for a key with an empty part.
func (db *DB) Session(ctx context.Context, key tandem.SessionKey) (tandem.Session, error) {
	s, _, err := db.sessionOr(ctx, "session", key, "")
	return s, err
}

// SessionOrSetting returns the session of key, as Session does; when there
// is none it fails with ENOTFOUND and returns the named setting's value
// ("" when unset), read in the same transaction.
func (db *DB) SessionOrSetting(ctx context.Context, key tandem.SessionKey, setting string) (tandem.Session, string, error) {
	return db.sessionOr(ctx, "session or setting", key, setting)
}

// sessionOr reads key's session for op and, when there is none and setting
// is named, that setting's value.
func (db *DB) sessionOr(ctx context.Context, op string, key tandem.SessionKey, setting string) (tandem.Session, string, error) {
	k, err := sessionKey(key)
	if err != nil {
		return tandem.Session{}, "", fmt.Errorf("store: %s: %w", op, err)
	}
	var s tandem.Session
	var v string
	err = db.view(ctx, op, func(tx *bolt.Tx) error {
		raw := tx.Bucket([]byte(bucketSessions)).Get(k)
		if raw == nil {
			if setting != "" {
				v = string(tx.Bucket([]byte(bucketSettings)).Get([]byte(setting)))
			}
			return tandem.Errorf(tandem.ENOTFOUND, "no session %s", key)
		}
		return decode(raw, &s)
	})
	if err != nil {
		return tandem.Session{}, v, err
	}
	return s, "", nil
}

// EnsureSession stores s unless a session with its key exists, and returns
// the stored one with created=true when s was stored: the first owner wins.
// It fails with EINVALID for a key with an empty part.
func (db *DB) EnsureSession(ctx context.Context, s tandem.Session) (stored tandem.Session, created bool, err error) {
	k, err := sessionKey(s.Key)
	if err != nil {
		return tandem.Session{}, false, fmt.Errorf("store: ensure session: %w", err)
	}
	err = db.update(ctx, "ensure session", func(tx *bolt.Tx) error {
		stored, created, err = ensureSession(tx, k, s)
		return err
	})
	if err != nil {
		return tandem.Session{}, false, err
	}
	return stored, created, nil
}

// ensureSession stores s under k unless a session is there, and returns
// the stored one.
func ensureSession(tx *bolt.Tx, k []byte, s tandem.Session) (tandem.Session, bool, error) {
	b := tx.Bucket([]byte(bucketSessions))
	if raw := b.Get(k); raw != nil {
		var stored tandem.Session
		return stored, false, decode(raw, &stored)
	}
	return s, true, putJSON(b, k, s)
}

// AddEditor appends user to the session's editors unless already there
// (the owner counts as there). It fails with ENOTFOUND when the session is
// missing and EINVALID for an empty user.
func (db *DB) AddEditor(ctx context.Context, key tandem.SessionKey, user string) error {
	k, err := sessionKey(key)
	if err == nil && user == "" {
		err = tandem.Errorf(tandem.EINVALID, "the editor is empty")
	}
	if err != nil {
		return fmt.Errorf("store: add editor: %w", err)
	}
	return db.update(ctx, "add editor", func(tx *bolt.Tx) error { return addEditor(tx, key, k, user) })
}

// addEditor appends user to the editors of the session stored under k.
func addEditor(tx *bolt.Tx, key tandem.SessionKey, k []byte, user string) error {
	return appendEditorIf(tx, key, k, user, func(tandem.Session) bool { return true })
}

// addSenderEditor appends a turn's sender to the editors of the session
// stored under k while that session runs each message as its sender
// (TurnStep.Editor).
func addSenderEditor(tx *bolt.Tx, key tandem.SessionKey, k []byte, user string) error {
	return appendEditorIf(tx, key, k, user, func(s tandem.Session) bool { return !s.Persistent() && s.Pending == nil })
}

// appendEditorIf appends user to the editors of the session stored under k
// when may allows it for the stored session.
func appendEditorIf(tx *bolt.Tx, key tandem.SessionKey, k []byte, user string, may func(tandem.Session) bool) error {
	b := tx.Bucket([]byte(bucketSessions))
	raw := b.Get(k)
	if raw == nil {
		return tandem.Errorf(tandem.ENOTFOUND, "no session %s", key)
	}
	var s tandem.Session
	if err := decode(raw, &s); err != nil {
		return err
	}
	if s.HasEditor(user) || !may(s) {
		return nil
	}
	s.Editors = append(s.Editors, user)
	return putJSON(b, k, s)
}

// UpdateSession applies fn to the stored session in one write transaction
// and stores the result. It fails with ENOTFOUND when the session is
// missing, and with fn's own error (nothing stored) when fn fails.
func (db *DB) UpdateSession(ctx context.Context, key tandem.SessionKey, fn func(*tandem.Session) error) (tandem.Session, error) {
	return db.updateSession(ctx, key, "", fn)
}

// UpdateSessionForTurn is UpdateSession while turn is unfinished (see
// tandem.Store), its state read in the same write transaction.
func (db *DB) UpdateSessionForTurn(ctx context.Context, key tandem.SessionKey, turn string, fn func(*tandem.Session) error) (tandem.Session, error) {
	if turn == "" {
		return tandem.Session{}, fmt.Errorf("store: update session: %w", tandem.Errorf(tandem.EINVALID, "no turn named"))
	}
	return db.updateSession(ctx, key, turn, fn)
}

func (db *DB) updateSession(ctx context.Context, key tandem.SessionKey, turn string, fn func(*tandem.Session) error) (tandem.Session, error) {
	k, err := sessionKey(key)
	if err != nil {
		return tandem.Session{}, fmt.Errorf("store: update session: %w", err)
	}
	var s tandem.Session
	err = db.update(ctx, "update session", func(tx *bolt.Tx) error {
		if err := turnUnfinished(tx, turn); err != nil {
			return err
		}
		b := tx.Bucket([]byte(bucketSessions))
		raw := b.Get(k)
		if raw == nil {
			return tandem.Errorf(tandem.ENOTFOUND, "no session %s", key)
		}
		if err := decode(raw, &s); err != nil {
			return err
		}
		if err := fn(&s); err != nil {
			return err
		}
		s.Key = key
		return putJSON(b, k, s)
	})
	if err != nil {
		return tandem.Session{}, err
	}
	return s, nil
}

// Sessions calls fn for every session in key order, stopping at fn's first
// error, which it returns.
func (db *DB) Sessions(ctx context.Context, fn func(tandem.Session) error) error {
	return db.view(ctx, "sessions", func(tx *bolt.Tx) error {
		return tx.Bucket([]byte(bucketSessions)).ForEach(func(_, v []byte) error {
			var s tandem.Session
			if err := decode(v, &s); err != nil {
				return err
			}
			return fn(s)
		})
	})
}

// turnUnfinished fails with ErrTurnDone when turn id is done, and with
// ENOTFOUND when there is no such turn; "" names none, and passes (as the
// PostgreSQL store's twin does).
func turnUnfinished(tx *bolt.Tx, id string) error {
	if id == "" {
		return nil
	}
	v, err := inboxTurn(tx, id)
	if err != nil {
		return err
	}
	if v.State == tandem.TurnDone {
		return fmt.Errorf("turn %s: %w", id, tandem.ErrTurnDone)
	}
	return nil
}
