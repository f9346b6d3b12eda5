package turns

import (
	"context"
	"io"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tandembot/tandem"
	"github.com/tandembot/tandem/ops"
)

// TestChangeNeedsTheSessionLease: a runner whose session lease another
// runner has taken makes no change: the operation is never called, and
// nothing of the turn is written (it stays pending, unaudited, for the
// lease's holder to run). A read still runs; the holder's change is made.
func TestChangeNeedsTheSessionLease(t *testing.T) {
	db := openStore(t)
	ctx := t.Context()
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	key := tandem.SessionKey{Team: "T1", Channel: "C1", ThreadTS: "1.0"}
	var changes, reads atomic.Int32
	acme := []ops.Spec{
		{Name: "acme.read", Example: "acme read", Summary: "reads", Provider: "acme", Phrasings: []string{"acme read"},
			Run: func(context.Context, ops.Request) (tandem.Reply, error) {
				reads.Add(1)
				return tandem.Reply{Title: "read"}, nil
			}},
		{Name: "acme.change", Example: "acme change", Summary: "changes", Provider: "acme", Phrasings: []string{"acme change"}, Mutating: true,
			Run: func(context.Context, ops.Request) (tandem.Reply, error) {
				changes.Add(1)
				return tandem.Reply{Title: "changed"}, nil
			}},
	}
	e := New(Config{Store: db, Resolver: acmeLinked{}, Providers: map[tandem.ProviderID]tandem.Provider{"acme": acmeProvider{}},
		Operations: NewOperations(acme), Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Now: func() time.Time { return now }})
	lease := "session/" + key.String()
	if ok, err := db.Lease(ctx, lease, "replica-b", time.Minute); err != nil || !ok {
		t.Fatalf("Lease = %v, %v", ok, err)
	}
	lost := tandem.Hold{Name: lease, Owner: "replica-a"}

	change := tandem.Turn{ID: "E1", Session: key, User: "UALICE", Text: "acme change", TS: "1.1", ReceivedAt: now}
	if _, err := db.RecordTurn(ctx, change); err != nil {
		t.Fatal(err)
	}
	out := e.Run(ctx, change, e.Parse(change.Text), lost)
	if !out.LeaseLost || out.Err != nil {
		t.Errorf("change under a lost lease: LeaseLost %v, err %v; want lost, with nothing to tell the sender", out.LeaseLost, out.Err)
	}
	if n := changes.Load(); n != 0 {
		t.Fatalf("the change was made %d times under a lease another runner holds", n)
	}
	rec, err := db.TurnRecord(ctx, change.ID)
	if err != nil || rec.State != tandem.TurnPending || rec.Attempts != 0 {
		t.Errorf("turn after the lost lease: %s, %d attempts (%v); want pending, never started", rec.State, rec.Attempts, err)
	}
	if recs, _ := db.Audit(ctx, tandem.AuditFilter{Session: &key}); len(recs) != 0 {
		t.Errorf("%d audit records written under a lost lease; want none (the holder writes its own)", len(recs))
	}

	read := tandem.Turn{ID: "E2", Session: key, User: "UALICE", Text: "acme read", TS: "1.2", ReceivedAt: now}
	if _, err := db.RecordTurn(ctx, read); err != nil {
		t.Fatal(err)
	}
	if out := e.Run(ctx, read, e.Parse(read.Text), lost); out.LeaseLost || out.Err != nil || reads.Load() != 1 {
		t.Errorf("read under a lost lease: LeaseLost %v, err %v, %d reads; a read marks nothing running, so it runs", out.LeaseLost, out.Err, reads.Load())
	}

	// The lease's holder makes the change, once.
	out = e.Run(ctx, change, e.Parse(change.Text), tandem.Hold{Name: lease, Owner: "replica-b"})
	if out.LeaseLost || out.Err != nil || changes.Load() != 1 {
		t.Errorf("the holder's run: LeaseLost %v, err %v, %d changes; want the change made once", out.LeaseLost, out.Err, changes.Load())
	}
	if rec, _ := db.TurnRecord(ctx, change.ID); rec.State != tandem.TurnRunning || rec.Attempts != 1 {
		t.Errorf("turn during the holder's run: %s, %d attempts; want running after 1", rec.State, rec.Attempts)
	}
}
