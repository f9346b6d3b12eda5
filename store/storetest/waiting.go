package storetest

import (
	"slices"
	"testing"
	"time"

	"github.com/tandembot/tandem"
)

// testWaiting checks Waiting: one turn per session, the session's first by
// when it was sent; none of a session whose lease someone holds; none of a
// finished session; and the inbox's depth and oldest turn.
func testWaiting(t *testing.T, open func(t *testing.T) tandem.Store) {
	s := open(t)
	w, err := s.Waiting(t.Context(), "session/")
	must(t, "Waiting of an empty inbox", err)
	if len(w.Next) != 0 || w.Unfinished != 0 || !w.Oldest.IsZero() {
		t.Errorf("Waiting of an empty inbox = %+v", w)
	}
	sessionB := tandem.SessionKey{Team: "T1", Channel: "C2", ThreadTS: "1740830500.000100"}
	sessionC := tandem.SessionKey{Team: "T1", Channel: "C3", ThreadTS: "1740830600.000100"}
	at := func(tr tandem.Turn, key tandem.SessionKey, received time.Duration) tandem.Turn {
		tr.Session, tr.ReceivedAt = key, T0.Add(received)
		return tr
	}
	// A's later message is recorded first, and received first.
	record(t, s, at(turn("EvA2", "1740830400.000300"), sessionA, 0))
	record(t, s, at(turn("EvA1", "1740830400.000200"), sessionA, time.Second))
	record(t, s, at(turn("EvB1", "1740830500.000200"), sessionB, 2*time.Second))
	record(t, s, at(turn("EvC1", "1740830600.000200"), sessionC, 3*time.Second))
	must(t, "finish C", s.SetTurnState(t.Context(), "EvC1", tandem.TurnDone))
	ok, err := s.Lease(t.Context(), "session/"+sessionB.String(), "another-replica", time.Hour)
	must(t, "Lease", err)
	if !ok {
		t.Fatal("Lease of a free name = false")
	}

	w, err = s.Waiting(t.Context(), "session/")
	must(t, "Waiting", err)
	if got := ids(w.Next); !slices.Equal(got, []string{"EvA1"}) {
		t.Errorf("Waiting.Next = %v, want [EvA1]: A's first message, not B's (leased) nor C's (done)", got)
	}
	if w.Unfinished != 3 || !w.Oldest.Equal(T0) {
		t.Errorf("Waiting depth = %d since %v, want 3 since %v", w.Unfinished, w.Oldest, T0)
	}
	// Another prefix names other leases: B's lease does not hold it.
	w, err = s.Waiting(t.Context(), "other/")
	must(t, "Waiting under another prefix", err)
	if got := ids(w.Next); !slices.Equal(got, []string{"EvA1", "EvB1"}) {
		t.Errorf("Waiting.Next under another prefix = %v, want [EvA1 EvB1]", got)
	}
	must(t, "ReleaseLease", s.ReleaseLease(t.Context(), "session/"+sessionB.String(), "another-replica"))
	w, err = s.Waiting(t.Context(), "session/")
	must(t, "Waiting after the release", err)
	if got := ids(w.Next); !slices.Equal(got, []string{"EvA1", "EvB1"}) {
		t.Errorf("Waiting.Next after B's lease was released = %v, want [EvA1 EvB1]", got)
	}
}
