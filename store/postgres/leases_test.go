package postgres

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/tandembot/tandem"
)

// TestSessionLeasesDoNotWaitForTheDisk runs the statements Lease and
// ReleaseLease send for a session's lease and for a token refresh's, each
// in a transaction of its own that is then rolled back, and reads what
// synchronous_commit their commit would have had: off for the session's
// (asyncCommit says why), on for the refresh's, which nothing re-checks,
// and on for an ordinary write.
func TestSessionLeasesDoNotWaitForTheDisk(t *testing.T) {
	db, url := newDB(t)
	conn := sql(t, url)
	ctx := t.Context()
	session := tandem.SessionLeasePrefix + "T1/C1/1700000000.000100"
	const refresh = "refresh/T1/U1/github"
	// The leases that the renewals and releases below find.
	for _, name := range []string{session, refresh} {
		if ok, err := db.Lease(ctx, name, "replica-1", 30*time.Second); err != nil || !ok {
			t.Fatalf("Lease(%s) = %v, %v; want true", name, ok, err)
		}
	}
	// Whatever the server's default, this connection's is on, so that
	// each case below can only pass by what its own statement sets.
	if _, err := conn.Exec(ctx, `SET synchronous_commit = on`); err != nil {
		t.Fatal(err)
	}
	commitSetting := func(t *testing.T, sql string, args ...any) string {
		t.Helper()
		var setting string
		err := pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, sql, args...); err != nil {
				return err
			}
			if err := tx.QueryRow(ctx, `SELECT current_setting('synchronous_commit')`).Scan(&setting); err != nil {
				return err
			}
			return errRollback
		})
		if !errors.Is(err, errRollback) {
			t.Fatalf("%s: %v", sql, err)
		}
		return setting
	}
	ttl := int64(30e6) // microseconds
	const (
		take = iota
		renew
		release
		lastRead // NextTurnOrRelease's, of a session with no turn
	)
	cases := []struct {
		name, lease string
		op          int
		owner       string
		want        string
	}{
		{"a new session lease", tandem.SessionLeasePrefix + "T1/C1/1700000000.000200", take, "replica-1", "off"},
		{"a session lease's renewal", session, take, "replica-1", "off"},
		{"a session lease's renewal (RenewLease)", session, renew, "replica-1", "off"},
		{"a session lease taken by another", session, take, "replica-2", "off"},
		{"a session lease's release", session, release, "replica-1", "off"},
		{"a session's last read, which releases its lease", session, lastRead, "replica-1", "off"},
		{"a new refresh lease", "refresh/T1/U2/github", take, "replica-1", "on"},
		{"a refresh lease's renewal", refresh, take, "replica-1", "on"},
		{"a refresh lease's renewal (RenewLease)", refresh, renew, "replica-1", "on"},
		{"a refresh lease's release", refresh, release, "replica-1", "on"},
		{"a last read releasing a refresh lease", refresh, lastRead, "replica-1", "on"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			lease, rel := leaseStatements(c.lease)
			var got string
			switch c.op {
			case take:
				got = commitSetting(t, lease, c.lease, c.owner, ttl)
			case renew:
				got = commitSetting(t, renewStatement(c.lease), c.lease, c.owner, ttl)
			case release:
				got = commitSetting(t, rel, c.lease, c.owner)
			case lastRead:
				got = commitSetting(t, nextOrReleaseStatement(c.lease), "T1", "C1", "1700000000.000100", c.lease, c.owner)
			}
			if got != c.want {
				t.Errorf("synchronous_commit after %s = %q, want %q", c.name, got, c.want)
			}
		})
	}
	t.Run("any other write", func(t *testing.T) {
		if got := commitSetting(t, `UPDATE leases SET owner = owner WHERE name = $1`, session); got != "on" {
			t.Errorf("synchronous_commit after an ordinary write = %q, want on", got)
		}
	})
	// What the statements did was rolled back: both leases are still held.
	for _, name := range []string{session, refresh} {
		if ok, err := db.Lease(context.WithoutCancel(ctx), name, "replica-2", 30*time.Second); err != nil || ok {
			t.Errorf("Lease(%s) by another owner = %v, %v; want false (still held)", name, ok, err)
		}
	}
}

// errRollback ends a test transaction without committing it.
var errRollback = errors.New("rolled back on purpose")
