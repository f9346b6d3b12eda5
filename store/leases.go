package store

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/tandembot/tandem"
)

// Leases in a bbolt store live in memory: the file lock already makes this
// process the only one, so nothing but this process can contend for them,
// and none could outlive it. That saves two fsync'ed commits per turn.
// Their time is the process's monotonic clock (time.Now), not the store's
// clock (Options.Now): a step of the wall clock, or of a test's clock,
// neither ends a lease early nor stretches one.
type leaseTable struct {
	mu     sync.Mutex
	leases map[string]leaseValue
}

type leaseValue struct {
	Owner   string
	Expires time.Time
	// pins counts the owner's steps being written under the lease
	// (TurnStep.Hold): while any is, no other owner may take it, even
	// expired.
	pins int
}

// Lease takes or renews the named lease for owner for ttl. It reports
// false when another owner holds it and it has not expired; it fails with
// EINVALID for an empty name or owner, and EUNAVAILABLE after Close.
func (db *DB) Lease(ctx context.Context, name, owner string, ttl time.Duration) (bool, error) {
	if name == "" || owner == "" || ttl <= 0 {
		return false, fmt.Errorf("store: lease: %w", tandem.Errorf(tandem.EINVALID, "a lease needs a name, an owner and a positive ttl"))
	}
	if err := db.Ping(ctx); err != nil {
		return false, err
	}
	db.leases.mu.Lock()
	defer db.leases.mu.Unlock()
	now := time.Now()
	cur, ok := db.leases.leases[name]
	if ok && cur.Owner != owner && (now.Before(cur.Expires) || cur.pins > 0) {
		return false, nil
	}
	if db.leases.leases == nil {
		db.leases.leases = map[string]leaseValue{}
	}
	pins := 0
	if ok && cur.Owner == owner {
		pins = cur.pins
	}
	db.leases.leases[name] = leaseValue{Owner: owner, Expires: now.Add(ttl), pins: pins}
	return true, nil
}

// RenewLease extends owner's lease on name for ttl, only while owner holds
// it (expired or not, as long as nobody took it): a released lease, or one
// another owner took, reports false and stays as it is. It fails like
// Lease.
func (db *DB) RenewLease(ctx context.Context, name, owner string, ttl time.Duration) (bool, error) {
	if name == "" || owner == "" || ttl <= 0 {
		return false, fmt.Errorf("store: renew lease: %w", tandem.Errorf(tandem.EINVALID, "a lease needs a name, an owner and a positive ttl"))
	}
	if err := db.Ping(ctx); err != nil {
		return false, err
	}
	db.leases.mu.Lock()
	defer db.leases.mu.Unlock()
	cur, ok := db.leases.leases[name]
	if !ok || cur.Owner != owner || cur.Expires.IsZero() {
		return false, nil // released (kept only while a step pins it), or another's
	}
	cur.Expires = time.Now().Add(ttl)
	db.leases.leases[name] = cur
	return true, nil
}

// ReleaseLease drops owner's lease on name; it leaves another owner's alone.
func (db *DB) ReleaseLease(ctx context.Context, name, owner string) error {
	if err := db.Ping(ctx); err != nil {
		return err
	}
	db.leases.mu.Lock()
	defer db.leases.mu.Unlock()
	if cur, ok := db.leases.leases[name]; ok && cur.Owner == owner {
		if cur.pins > 0 {
			// A step of the owner's is being written: it ends the
			// lease, but keeps it until then (unpin).
			cur.Expires = time.Time{}
			db.leases.leases[name] = cur
			return nil
		}
		delete(db.leases.leases, name)
	}
	return nil
}

// LeaseNextTurn takes or renews the lease name for owner, as Lease does,
// and then reads key's next turn, as NextTurn does. It fails with
// ENOTHELD when another owner holds the lease, and with ENOTFOUND, the
// lease taken, when the session has no unfinished turn.
func (db *DB) LeaseNextTurn(ctx context.Context, name, owner string, ttl time.Duration, key tandem.SessionKey) (tandem.TurnRecord, error) {
	ok, err := db.Lease(ctx, name, owner, ttl)
	if err != nil {
		return tandem.TurnRecord{}, err
	}
	if !ok {
		return tandem.TurnRecord{}, (tandem.Hold{Name: name, Owner: owner}).NotHeld()
	}
	return db.NextTurn(ctx, key)
}

// NextTurnOrRelease reads key's next turn, as NextTurn does; when there is
// none it drops owner's lease name, as ReleaseLease does, and fails with
// ENOTFOUND.
func (db *DB) NextTurnOrRelease(ctx context.Context, key tandem.SessionKey, name, owner string) (tandem.TurnRecord, error) {
	r, err := db.NextTurn(ctx, key)
	if tandem.ErrorCode(err) == tandem.ENOTFOUND {
		if relErr := db.ReleaseLease(ctx, name, owner); relErr != nil {
			return tandem.TurnRecord{}, relErr
		}
	}
	return r, err
}

// leased reports whether an owner holds the named lease and it has not
// expired.
func (db *DB) leased(name string) bool {
	db.leases.mu.Lock()
	defer db.leases.mu.Unlock()
	cur, ok := db.leases.leases[name]
	return ok && time.Now().Before(cur.Expires)
}

// pin reports whether h.Owner holds the lease h.Name unexpired and, when
// it does, keeps it from changing hands until unpin.
func (db *DB) pin(h tandem.Hold) bool {
	db.leases.mu.Lock()
	defer db.leases.mu.Unlock()
	cur, ok := db.leases.leases[h.Name]
	if !ok || cur.Owner != h.Owner || !time.Now().Before(cur.Expires) {
		return false
	}
	cur.pins++
	db.leases.leases[h.Name] = cur
	return true
}

// unpin ends one pin of the lease name.
func (db *DB) unpin(name string) {
	db.leases.mu.Lock()
	defer db.leases.mu.Unlock()
	if cur, ok := db.leases.leases[name]; ok && cur.pins > 0 {
		cur.pins--
		db.leases.leases[name] = cur
		if cur.pins == 0 && cur.Expires.IsZero() {
			delete(db.leases.leases, name) // released while pinned
		}
	}
}
