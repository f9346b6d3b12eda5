package store

import (
	"context"
	"fmt"
	"time"

	"github.com/tandembot/tandem"
	bolt "go.etcd.io/bbolt"
)

type leaseValue struct {
	Owner   string    `json:"owner"`
	Expires time.Time `json:"expires"`
}

// Lease takes or renews the named lease for owner until now+ttl, in one
// write transaction. It reports false when another owner holds it and it has
// not expired; it fails with EINVALID for an empty name or owner.
func (db *DB) Lease(ctx context.Context, name, owner string, ttl time.Duration) (bool, error) {
	if name == "" || owner == "" || ttl <= 0 {
		return false, fmt.Errorf("store: lease: %w", tandem.Errorf(tandem.EINVALID, "a lease needs a name, an owner and a positive ttl"))
	}
	got := false
	err := db.update(ctx, "lease", func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte(bucketLeases))
		now := db.now()
		if raw := b.Get([]byte(name)); raw != nil {
			var cur leaseValue
			if err := decode(raw, &cur); err != nil {
				return err
			}
			if cur.Owner != owner && now.Before(cur.Expires) {
				return nil
			}
		}
		got = true
		return putJSON(b, []byte(name), leaseValue{Owner: owner, Expires: now.Add(ttl)})
	})
	return got, err
}

// ReleaseLease drops owner's lease on name; it leaves another owner's alone.
func (db *DB) ReleaseLease(ctx context.Context, name, owner string) error {
	return db.update(ctx, "release lease", func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte(bucketLeases))
		raw := b.Get([]byte(name))
		if raw == nil {
			return nil
		}
		var cur leaseValue
		if err := decode(raw, &cur); err != nil {
			return err
		}
		if cur.Owner != owner {
			return nil
		}
		return b.Delete([]byte(name))
	})
}
