package postgres

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// TestLeaseWritesDoNotWaitForTheDisk runs the statements Lease and
// ReleaseLease send, each in a transaction of its own that is then rolled
// back, and reads what synchronous_commit their commit would have had: off,
// while an ordinary write in the same position keeps the connection's (on).
func TestLeaseWritesDoNotWaitForTheDisk(t *testing.T) {
	db, url := newDB(t)
	conn := sql(t, url)
	ctx := t.Context()
	// The lease to release, and the row the renewal below finds.
	if ok, err := db.Lease(ctx, "session/a", "replica-1", 30*time.Second); err != nil || !ok {
		t.Fatalf("Lease = %v, %v; want true", ok, err)
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
	for _, c := range []struct {
		name string
		sql  string
		args []any
		want string
	}{
		{"a new lease", leaseSQL, []any{"session/b", "replica-1", int64(30e6)}, "off"},
		{"a renewal", leaseSQL, []any{"session/a", "replica-1", int64(30e6)}, "off"},
		{"a release", releaseSQL, []any{"session/a", "replica-1"}, "off"},
		{"any other write", `DELETE FROM leases WHERE name = $1 AND owner = $2`, []any{"session/a", "replica-1"}, "on"},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := commitSetting(t, c.sql, c.args...); got != c.want {
				t.Errorf("synchronous_commit after %s = %q, want %q", c.name, got, c.want)
			}
		})
	}
	// What the statements did, rolled back: the lease is still held.
	if ok, err := db.Lease(context.WithoutCancel(ctx), "session/a", "replica-2", 30*time.Second); err != nil || ok {
		t.Errorf("Lease by another owner = %v, %v; want false (still held)", ok, err)
	}
}

// errRollback ends a test transaction without committing it.
var errRollback = errors.New("rolled back on purpose")
