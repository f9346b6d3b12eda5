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
type leaseTable struct {
	mu     sync.Mutex
	leases map[string]leaseValue
}

type leaseValue struct {
	Owner   string
	Expires time.Time
}

// Lease takes or renews the named lease for owner until now+ttl. It reports
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
	now := db.now()
	if cur, ok := db.leases.leases[name]; ok && cur.Owner != owner && now.Before(cur.Expires) {
		return false, nil
	}
	if db.leases.leases == nil {
		db.leases.leases = map[string]leaseValue{}
	}
	db.leases.leases[name] = leaseValue{Owner: owner, Expires: now.Add(ttl)}
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
		delete(db.leases.leases, name)
	}
	return nil
}

// leased reports whether an owner holds the named lease and it has not
// expired.
func (db *DB) leased(name string) bool {
	db.leases.mu.Lock()
	defer db.leases.mu.Unlock()
	cur, ok := db.leases.leases[name]
	return ok && db.now().Before(cur.Expires)
}
