package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/tandembot/tandem"
)

// A session's lease (a name that starts with tandem.SessionLeasePrefix)
// is written without waiting for the disk: its statements take their rows
// from asyncCommit, which sets synchronous_commit off for their own
// transaction only. Such a lease only says which replica runs a session,
// and every replica sees it the moment it commits; what a crash of the
// database server could lose is its last fraction of a second of lease
// writes. Nothing durable is decided on one that is not itself durable: a
// change's running mark reads the lease row in its own, synchronous,
// commit (StepTurn with a Hold), and that commit's flush writes out every
// earlier WAL record, the lease's included. A session lease lost in a
// crash only lets another replica take the session sooner (a change it
// finds running is reported as interrupted; the old holder's own mark is
// then refused), and a lost release only makes the session wait out the
// ttl. A turn thus waits for two flushes (its record and its done state),
// not four. Every other lease, such as a token refresh's, which nothing
// re-checks, waits for the disk.
const asyncCommit = `(SELECT set_config('synchronous_commit', 'off', true)) AS async`

// leaseSQL takes or renews a lease ($1 name, $2 owner, $3 ttl in
// microseconds), from the rows of its source; releaseSQL drops $2's lease
// on $1, using its source. A session's lease gives both asyncCommit as
// their source; any other lease none.
const (
	leaseSQL = `
		INSERT INTO leases (name, owner, expires)
		SELECT $1, $2, now() + $3 * interval '1 microsecond' %s
		ON CONFLICT (name) DO UPDATE SET owner = excluded.owner, expires = excluded.expires
		WHERE leases.owner = excluded.owner OR leases.expires <= now()
		RETURNING true`
	releaseSQL = `DELETE FROM leases %s WHERE name = $1 AND owner = $2`
	renewSQL   = `
		UPDATE leases SET expires = now() + $3 * interval '1 microsecond' %s
		WHERE name = $1 AND owner = $2
		RETURNING true`
)

// The statements of leaseSQL and releaseSQL, for session leases and for
// the others.
var (
	leaseSessionSQL   = fmt.Sprintf(leaseSQL, "FROM "+asyncCommit)
	releaseSessionSQL = fmt.Sprintf(releaseSQL, "USING "+asyncCommit)
	leaseOtherSQL     = fmt.Sprintf(leaseSQL, "")
	releaseOtherSQL   = fmt.Sprintf(releaseSQL, "")
	renewSessionSQL   = fmt.Sprintf(renewSQL, "FROM "+asyncCommit)
	renewOtherSQL     = fmt.Sprintf(renewSQL, "")
)

// renewStatement returns the statement that renews the lease name.
func renewStatement(name string) string {
	if strings.HasPrefix(name, tandem.SessionLeasePrefix) {
		return renewSessionSQL
	}
	return renewOtherSQL
}

// leaseStatements returns the statements that take and release the lease
// name.
func leaseStatements(name string) (lease, release string) {
	if strings.HasPrefix(name, tandem.SessionLeasePrefix) {
		return leaseSessionSQL, releaseSessionSQL
	}
	return leaseOtherSQL, releaseOtherSQL
}

// Lease takes or renews the named lease for owner for ttl, in one
// statement: an upsert that updates the row only when owner holds it or it
// has expired. Its time is the database server's (now()), which every
// replica shares, so replicas whose clocks disagree still agree on when it
// expires. Concurrent takers on any replica wait for each other on the
// row, so exactly one of them gets a free or expired lease; a takeover
// also waits for a step its holder is writing under it (StepTurn with a
// Hold). A session's lease commits without waiting for the disk
// (asyncCommit says why that is safe). It reports false when another
// owner holds it and it has not expired; it fails with EINVALID for an
// empty name or owner or a ttl that is not positive.
func (db *DB) Lease(ctx context.Context, name, owner string, ttl time.Duration) (bool, error) {
	if name == "" || owner == "" || ttl <= 0 {
		return false, fmt.Errorf("postgres: lease: %w", tandem.Errorf(tandem.EINVALID, "a lease needs a name, an owner and a positive ttl"))
	}
	if err := db.ready(ctx, "lease"); err != nil {
		return false, err
	}
	var got bool
	sql, _ := leaseStatements(name)
	err := db.pool.QueryRow(ctx, sql, name, owner, max(1, ttl.Microseconds())).Scan(&got)
	if errors.Is(err, pgx.ErrNoRows) {
		return false, nil // another owner holds it
	}
	if err != nil {
		return false, db.fail(ctx, "lease", err)
	}
	return got, nil
}

// RenewLease extends owner's lease on name for ttl, in one statement that
// updates the row only while owner holds it (expired or not, as long as
// nobody took it): a released lease, or one another owner took, reports
// false and stays as it is, so a replica that stalled past its release
// cannot take its session back by renewing. Like Lease, a session's lease
// commits without waiting for the disk. It fails like Lease.
func (db *DB) RenewLease(ctx context.Context, name, owner string, ttl time.Duration) (bool, error) {
	if name == "" || owner == "" || ttl <= 0 {
		return false, fmt.Errorf("postgres: renew lease: %w", tandem.Errorf(tandem.EINVALID, "a lease needs a name, an owner and a positive ttl"))
	}
	if err := db.ready(ctx, "renew lease"); err != nil {
		return false, err
	}
	var got bool
	err := db.pool.QueryRow(ctx, renewStatement(name), name, owner, max(1, ttl.Microseconds())).Scan(&got)
	if errors.Is(err, pgx.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, db.fail(ctx, "renew lease", err)
	}
	return got, nil
}

// ReleaseLease drops owner's lease on name; it leaves another owner's
// alone. Like Lease, it does not wait for the disk for a session's lease.
func (db *DB) ReleaseLease(ctx context.Context, name, owner string) error {
	_, sql := leaseStatements(name)
	_, err := db.exec(ctx, "release lease", sql, name, owner)
	return err
}
