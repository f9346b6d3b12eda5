package storetest

import (
	"fmt"
	"testing"
	"time"

	gocmp "github.com/google/go-cmp/cmp"
	"github.com/tandembot/tandem"
)

// nextID returns the id of key's next turn, or "" when NextTurn reports
// ENOTFOUND.
func nextID(t *testing.T, s tandem.Store, key tandem.SessionKey) string {
	t.Helper()
	r, err := s.NextTurn(t.Context(), key)
	if tandem.ErrorCode(err) == tandem.ENOTFOUND {
		return ""
	}
	must(t, "NextTurn "+key.String(), err)
	if r.Turn.Session != key {
		t.Errorf("NextTurn %s returned turn %s of session %s", key, r.Turn.ID, r.Turn.Session)
	}
	return r.Turn.ID
}

// drain marks key's next turns done one by one and returns their ids in the
// order NextTurn gave them.
func drain(t *testing.T, s tandem.Store, key tandem.SessionKey) []string {
	t.Helper()
	var out []string
	for range 100 {
		id := nextID(t, s, key)
		if id == "" {
			return out
		}
		out = append(out, id)
		must(t, id+" done", s.SetTurnState(t.Context(), id, tandem.TurnDone))
	}
	t.Fatalf("NextTurn %s never ran out: %v", key, out)
	return nil
}

func testNextTurn(t *testing.T, open func(t *testing.T) tandem.Store) {
	t.Run("EmptySession", func(t *testing.T) {
		s := open(t)
		_, err := s.NextTurn(t.Context(), sessionA)
		wantCode(t, "NextTurn of an empty store", err, tandem.ENOTFOUND)
	})

	t.Run("OneSessionOnly", func(t *testing.T) {
		s := open(t)
		// Keys that share a prefix as text: each is its own session.
		keys := []tandem.SessionKey{
			sessionA,
			{Team: "T1", Channel: "C1", ThreadTS: "1740830400.0001"},
			{Team: "T1", Channel: "C10", ThreadTS: "1740830400.000100"},
			{Team: "T10", Channel: "C1", ThreadTS: "1740830400.000100"},
			{Team: "T1", Channel: "C1", ThreadTS: "1740830400.000100x"},
		}
		empty := tandem.SessionKey{Team: "T1", Channel: "C1", ThreadTS: "1740830400.00010"}
		// Recorded interleaved, later sessions' turns sent earlier.
		for i := range 3 {
			for j, k := range keys {
				tr := turn(fmt.Sprintf("S%d-%d", j, i), fmt.Sprintf("1740830400.%06d", 500-100*j+i))
				tr.Session = k
				record(t, s, tr)
			}
		}
		for j, k := range keys {
			want := []string{fmt.Sprintf("S%d-0", j), fmt.Sprintf("S%d-1", j), fmt.Sprintf("S%d-2", j)}
			if d := gocmp.Diff(drain(t, s, k), want); d != "" {
				t.Errorf("session %s's turns (-got +want):\n%s", k, d)
			}
			// The other sessions still have theirs.
			for _, other := range keys[j+1:] {
				if nextID(t, s, other) == "" {
					t.Errorf("finishing %s's turns finished %s's", k, other)
				}
			}
		}
		if id := nextID(t, s, empty); id != "" {
			t.Errorf("NextTurn of a session without turns = %s", id)
		}
	})

	t.Run("WithTheLease", func(t *testing.T) {
		s := open(t)
		ctx := t.Context()
		name := tandem.SessionLeasePrefix + sessionA.String()
		taken := func(owner string) bool {
			t.Helper()
			ok, err := s.Lease(ctx, name, owner, time.Minute)
			must(t, "Lease "+owner, err)
			if ok {
				must(t, "ReleaseLease "+owner, s.ReleaseLease(ctx, name, owner))
			}
			return !ok
		}
		// No turn: the lease is taken all the same.
		_, err := s.LeaseNextTurn(ctx, name, "r1", time.Minute, sessionA)
		wantCode(t, "LeaseNextTurn of a session without turns", err, tandem.ENOTFOUND)
		if !taken("r9") {
			t.Error("LeaseNextTurn that found no turn did not take the lease")
		}
		record(t, s, turn("B", "1740830400.000200"))
		record(t, s, turn("A", "1740830400.000100"))
		_, err = s.LeaseNextTurn(ctx, name, "r2", time.Minute, sessionA)
		wantCode(t, "LeaseNextTurn of a held lease", err, tandem.ENOTHELD)
		must(t, "ReleaseLease r1", s.ReleaseLease(ctx, name, "r1"))
		got, err := s.LeaseNextTurn(ctx, name, "r2", time.Minute, sessionA)
		must(t, "LeaseNextTurn", err)
		if d := gocmp.Diff(got.Turn, turn("A", "1740830400.000100"), diffOpts...); d != "" || got.State != tandem.TurnPending {
			t.Errorf("LeaseNextTurn's turn is %s (-got +want):\n%s", got.State, d)
		}
		if !taken("r9") {
			t.Error("LeaseNextTurn did not take the lease")
		}
		// A turn left: the lease stays.
		must(t, "A done", s.SetTurnState(ctx, "A", tandem.TurnDone))
		if got, err := s.NextTurnOrRelease(ctx, sessionA, name, "r2"); err != nil || got.Turn.ID != "B" {
			t.Errorf("NextTurnOrRelease with B left = %q, %v; want B", got.Turn.ID, err)
		}
		if !taken("r9") {
			t.Error("NextTurnOrRelease released the lease while a turn was left")
		}
		// None left: another owner's call leaves the lease alone; the
		// holder's releases it.
		must(t, "B done", s.SetTurnState(ctx, "B", tandem.TurnDone))
		_, err = s.NextTurnOrRelease(ctx, sessionA, name, "r3")
		wantCode(t, "NextTurnOrRelease by another owner", err, tandem.ENOTFOUND)
		if !taken("r9") {
			t.Error("NextTurnOrRelease dropped another owner's lease")
		}
		_, err = s.NextTurnOrRelease(ctx, sessionA, name, "r2")
		wantCode(t, "NextTurnOrRelease with no turn left", err, tandem.ENOTFOUND)
		if taken("r9") {
			t.Error("NextTurnOrRelease with no turn left kept the lease")
		}
	})

	t.Run("SentOrder", func(t *testing.T) {
		s := open(t)
		// Recorded out of the order they were sent (by two replicas): the
		// thread's order wins; then turns without a ts by when they were
		// received, and equal times by recording order.
		late := turn("late", "1740830400.000300")
		early := turn("early", "1740830400.000100")
		api := turn("api", "api-1")
		api.APIKey, api.ReceivedAt = "tdm_1", T0.Add(200*time.Microsecond)
		rerun := turn("rerun", "1740830400.000050/rerun/github")
		rerun.Rerun, rerun.ReceivedAt = true, T0.Add(250*time.Microsecond)
		first := turn("no-ts-1", "")
		first.ReceivedAt = T0.Add(time.Second)
		second := first
		second.ID = "no-ts-2"
		for _, tr := range []tandem.Turn{late, api, rerun, second, first, early} {
			record(t, s, tr)
		}
		want := []string{"early", "api", "rerun", "late", "no-ts-2", "no-ts-1"}
		if d := gocmp.Diff(drain(t, s, sessionA), want); d != "" {
			t.Errorf("NextTurn order (-got +want):\n%s", d)
		}
	})

	t.Run("States", func(t *testing.T) {
		s := open(t)
		for i, id := range []string{"A", "B", "C"} {
			record(t, s, turn(id, fmt.Sprintf("1740830400.00010%d", i)))
		}
		must(t, "A running", s.SetTurnState(t.Context(), "A", tandem.TurnRunning))
		got, err := s.NextTurn(t.Context(), sessionA)
		must(t, "NextTurn", err)
		if got.Turn.ID != "A" || got.State != tandem.TurnRunning || got.Attempts != 1 {
			t.Errorf("NextTurn with A running = %s, %s, %d attempts; want A, running, 1", got.Turn.ID, got.State, got.Attempts)
		}
		if d := gocmp.Diff(got.Turn, turn("A", "1740830400.000100"), diffOpts...); d != "" {
			t.Errorf("NextTurn's turn (-got +want):\n%s", d)
		}
		must(t, "A done", s.SetTurnState(t.Context(), "A", tandem.TurnDone))
		must(t, "B running", s.SetTurnState(t.Context(), "B", tandem.TurnRunning))
		must(t, "B done", s.SetTurnState(t.Context(), "B", tandem.TurnDone))
		if id := nextID(t, s, sessionA); id != "C" {
			t.Errorf("NextTurn with A and B done = %q, want C", id)
		}
		// A done turn moved back keeps its place.
		must(t, "A pending again", s.SetTurnState(t.Context(), "A", tandem.TurnPending))
		if id := nextID(t, s, sessionA); id != "A" {
			t.Errorf("NextTurn with A pending again = %q, want A", id)
		}
		must(t, "A done", s.SetTurnState(t.Context(), "A", tandem.TurnDone))
		must(t, "C done", s.SetTurnState(t.Context(), "C", tandem.TurnDone))
		if id := nextID(t, s, sessionA); id != "" {
			t.Errorf("NextTurn with every turn done = %q, want ENOTFOUND", id)
		}
		// A duplicate delivery of a done turn does not come back.
		dup, err := s.RecordTurn(t.Context(), turn("C-again", "1740830400.000102"))
		must(t, "RecordTurn duplicate", err)
		if !dup {
			t.Error("redelivery of C: duplicate = false, want true")
		}
		if id := nextID(t, s, sessionA); id != "" {
			t.Errorf("NextTurn after a duplicate delivery = %q, want ENOTFOUND", id)
		}
	})
}
