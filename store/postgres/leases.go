package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/tandembot/tandem"
)

// Lease takes or renews the named lease for owner until now+ttl, by the
// store's clock (Options.Now), in one statement: an upsert that updates the
// row only when owner holds it or it has expired. Concurrent takers on any
// replica wait for each other on the row, so exactly one of them gets a
// free or expired lease. It reports false when another owner holds it and
// it has not expired; it fails with EINVALID for an empty name or owner or
// a ttl that is not positive.
func (db *DB) Lease(ctx context.Context, name, owner string, ttl time.Duration) (bool, error) {
	if name == "" || owner == "" || ttl <= 0 {
		return false, fmt.Errorf("postgres: lease: %w", tandem.Errorf(tandem.EINVALID, "a lease needs a name, an owner and a positive ttl"))
	}
	if err := db.ready(ctx, "lease"); err != nil {
		return false, err
	}
	now := db.now()
	var got bool
	err := db.pool.QueryRow(ctx, `
		INSERT INTO leases (name, owner, expires) VALUES ($1, $2, $3)
		ON CONFLICT (name) DO UPDATE SET owner = excluded.owner, expires = excluded.expires
		WHERE leases.owner = excluded.owner OR leases.expires <= $4
		RETURNING true`, name, owner, now.Add(ttl), now).Scan(&got)
	if errors.Is(err, pgx.ErrNoRows) {
		return false, nil // another owner holds it
	}
	if err != nil {
		return false, db.fail(ctx, "lease", err)
	}
	return got, nil
}

// ReleaseLease drops owner's lease on name; it leaves another owner's alone.
func (db *DB) ReleaseLease(ctx context.Context, name, owner string) error {
	_, err := db.exec(ctx, "release lease", `DELETE FROM leases WHERE name = $1 AND owner = $2`, name, owner)
	return err
}
