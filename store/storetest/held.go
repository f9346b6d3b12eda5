package storetest

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tandembot/tandem"
)

// testStepTurnHeld checks StepTurn under a lease (TurnStep.Hold): the step
// is written only while its owner holds the lease, all of it or nothing,
// and a lease changes hands only after a step written under it, so that
// its next holder reads that step.
func testStepTurnHeld(t *testing.T, open func(t *testing.T) tandem.Store) {
	lease := "session/" + sessionA.String()
	r1 := tandem.Hold{Name: lease, Owner: "replica-1"}
	running := func(h tandem.Hold) tandem.TurnStep {
		return tandem.TurnStep{
			State: tandem.TurnRunning, Hold: h,
			Session: &tandem.Session{Key: sessionA, Owner: "U1", CreatedAt: T0},
			Audit: []tandem.AuditRecord{{Time: T0, Session: sessionA, TurnID: "Ev1", Actor: "U1", Effective: "U1",
				Provider: tandem.GitHub, Action: "resolve", Reason: tandem.ReasonSender, Outcome: tandem.OutcomeOK}},
		}
	}
	// untouched fails unless Ev1 is as recorded: pending, never started,
	// no session and no audit record.
	untouched := func(t *testing.T, s tandem.Store, what string) {
		t.Helper()
		rec, err := s.TurnRecord(t.Context(), "Ev1")
		must(t, "TurnRecord", err)
		if rec.State != tandem.TurnPending || rec.Attempts != 0 {
			t.Errorf("%s: turn is %s after %d attempts; want pending, never started", what, rec.State, rec.Attempts)
		}
		_, err = s.Session(t.Context(), sessionA)
		wantCode(t, what+": Session", err, tandem.ENOTFOUND)
		if recs, err := s.Audit(t.Context(), tandem.AuditFilter{}); err != nil || len(recs) != 0 {
			t.Errorf("%s: %d audit records (%v); want none", what, len(recs), err)
		}
	}

	t.Run("WrittenOnlyByTheHolder", func(t *testing.T) {
		s := open(t)
		ctx := t.Context()
		record(t, s, turn("Ev1", "1740830400.000100"))
		wantCode(t, "a step under a lease nobody took", s.StepTurn(ctx, "Ev1", running(r1)), tandem.ENOTHELD)
		untouched(t, s, "lease never taken")

		ok, err := s.Lease(ctx, lease, "replica-2", time.Minute)
		must(t, "Lease", err)
		if !ok {
			t.Fatal("a free lease was refused")
		}
		wantCode(t, "a step under another owner's lease", s.StepTurn(ctx, "Ev1", running(r1)), tandem.ENOTHELD)
		untouched(t, s, "lease held by another owner")
		must(t, "ReleaseLease", s.ReleaseLease(ctx, lease, "replica-2"))

		if ok, err := s.Lease(ctx, lease, r1.Owner, time.Minute); err != nil || !ok {
			t.Fatalf("Lease = %v, %v; want the free lease", ok, err)
		}
		must(t, "a step under the owner's lease", s.StepTurn(ctx, "Ev1", running(r1)))
		rec, err := s.TurnRecord(ctx, "Ev1")
		must(t, "TurnRecord", err)
		if rec.State != tandem.TurnRunning || rec.Attempts != 1 {
			t.Errorf("turn is %s after %d attempts; want running after 1", rec.State, rec.Attempts)
		}
		if recs, err := s.Audit(ctx, tandem.AuditFilter{}); err != nil || len(recs) != 1 {
			t.Errorf("%d audit records (%v); want the step's one", len(recs), err)
		}

		must(t, "ReleaseLease", s.ReleaseLease(ctx, lease, r1.Owner))
		wantCode(t, "a step under a released lease", s.StepTurn(ctx, "Ev1", tandem.TurnStep{State: tandem.TurnRunning, Hold: r1}), tandem.ENOTHELD)
		if rec, _ := s.TurnRecord(ctx, "Ev1"); rec.Attempts != 1 {
			t.Errorf("a step under a released lease counted an attempt: %d", rec.Attempts)
		}
	})

	t.Run("NotAfterTheLeaseExpires", func(t *testing.T) {
		s := open(t)
		ctx := t.Context()
		record(t, s, turn("Ev1", "1740830400.000100"))
		if ok, err := s.Lease(ctx, lease, r1.Owner, 30*time.Millisecond); err != nil || !ok {
			t.Fatalf("Lease = %v, %v; want the free lease", ok, err)
		}
		// A step that writes nothing but needs the lease, until the lease
		// has run out (nobody else takes it).
		deadline := time.Now().Add(10 * time.Second)
		for {
			err := s.StepTurn(ctx, "Ev1", tandem.TurnStep{Hold: r1})
			if tandem.ErrorCode(err) == tandem.ENOTHELD {
				break
			}
			must(t, "a step while the lease lasts", err)
			if time.Now().After(deadline) {
				t.Fatal("a lease of 30 ms still held after 10 s")
			}
		}
		wantCode(t, "a step under an expired lease", s.StepTurn(ctx, "Ev1", running(r1)), tandem.ENOTHELD)
		untouched(t, s, "lease expired")
	})

	t.Run("ChangesHandsOnlyAfterAStep", func(t *testing.T) {
		// The holder marks the turn running again and again while its
		// short lease runs out and another owner waits to take it: every
		// attempt the store counts was written before the takeover, so
		// the new holder reads them all.
		s := open(t)
		ctx := t.Context()
		record(t, s, turn("Ev1", "1740830400.000100"))
		for round := range 5 {
			owner := tandem.Hold{Name: lease, Owner: "holder-" + string(rune('a'+round))}
			if ok, err := s.Lease(ctx, lease, owner.Owner, 20*time.Millisecond); err != nil || !ok {
				t.Fatalf("round %d: Lease = %v, %v; want the free or expired lease", round, ok, err)
			}
			var taken atomic.Bool
			var wg sync.WaitGroup
			wg.Go(func() {
				for !taken.Load() {
					err := s.StepTurn(ctx, "Ev1", tandem.TurnStep{State: tandem.TurnRunning, Hold: owner})
					if err != nil && tandem.ErrorCode(err) != tandem.ENOTHELD {
						t.Errorf("StepTurn: %v", err)
						return
					}
				}
			})
			var seen int
			for {
				ok, err := s.Lease(ctx, lease, "taker", time.Minute)
				must(t, "Lease", err)
				if ok {
					rec, err := s.TurnRecord(ctx, "Ev1")
					must(t, "TurnRecord", err)
					seen = rec.Attempts
					taken.Store(true)
					break
				}
			}
			wg.Wait()
			rec, err := s.TurnRecord(ctx, "Ev1")
			must(t, "TurnRecord", err)
			if rec.Attempts != seen {
				t.Fatalf("round %d: the taker read %d attempts, the store holds %d: a step under the old holder's lease was written after the lease changed hands", round, seen, rec.Attempts)
			}
			must(t, "ReleaseLease", s.ReleaseLease(ctx, lease, "taker"))
		}
	})
}

// BenchMarkRunning times marking a recorded turn running with its audit
// record, as a change does before it leaves, in a store open returns:
// without and with the session's lease (TurnStep.Hold). Recording each
// turn is left out of the time.
func BenchMarkRunning(b *testing.B, open func(b *testing.B) tandem.Store) {
	for _, held := range []bool{false, true} {
		b.Run(fmt.Sprintf("held=%v", held), func(b *testing.B) { benchMarkRunning(b, open(b), held) })
	}
}

func benchMarkRunning(b *testing.B, s tandem.Store, held bool) {
	ctx := b.Context()
	lease := "session/" + sessionA.String()
	var hold tandem.Hold
	if held {
		hold = tandem.Hold{Name: lease, Owner: "bench"}
		if ok, err := s.Lease(ctx, lease, hold.Owner, time.Hour); err != nil || !ok {
			b.Fatalf("Lease = %v, %v", ok, err)
		}
	}
	i := 0
	for b.Loop() {
		b.StopTimer()
		i++
		tr := turn(fmt.Sprintf("Ev%09d", i), fmt.Sprintf("1740830400.%09d", i))
		if _, err := s.RecordTurn(ctx, tr); err != nil {
			b.Fatal(err)
		}
		step := tandem.TurnStep{State: tandem.TurnRunning, Hold: hold,
			Audit: []tandem.AuditRecord{{Session: sessionA, TurnID: tr.ID, Actor: "U1", Effective: "U1",
				Provider: tandem.GitHub, Action: "resolve", Reason: tandem.ReasonSender, Outcome: tandem.OutcomeOK}}}
		b.StartTimer()
		if err := s.StepTurn(ctx, tr.ID, step); err != nil {
			b.Fatal(err)
		}
	}
}
