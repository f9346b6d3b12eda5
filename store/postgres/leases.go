package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/tandembot/tandem"
)

// Lease takes or renews the named lease for owner for ttl, in one
// statement: an upsert that updates the row only when owner holds it or it
// has expired. Its time is the database server's (now()), which every
// replica shares, so replicas whose clocks disagree still agree on when it
// expires. Concurrent takers on any replica wait for each other on the
// row, so exactly one of them gets a free or expired lease; a takeover
// also waits for a step its holder is writing under it (StepTurn with a
// Hold). It reports false when another owner holds it and it has not
// expired; it fails with EINVALID for an empty name or owner or a ttl
// that is not positive.
func (db *DB) Lease(ctx context.Context, name, owner string, ttl time.Duration) (bool, error) {
	if name == "" || owner == "" || ttl <= 0 {
		return false, fmt.Errorf("postgres: lease: %w", tandem.Errorf(tandem.EINVALID, "a lease needs a name, an owner and a positive ttl"))
	}
	if err := db.ready(ctx, "lease"); err != nil {
		return false, err
	}
	var got bool
	err := db.pool.QueryRow(ctx, `
		INSERT INTO leases (name, owner, expires) VALUES ($1, $2, now() + $3 * interval '1 microsecond')
		ON CONFLICT (name) DO UPDATE SET owner = excluded.owner, expires = excluded.expires
		WHERE leases.owner = excluded.owner OR leases.expires <= now()
		RETURNING true`, name, owner, max(1, ttl.Microseconds())).Scan(&got)
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
