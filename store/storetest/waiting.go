package storetest

import (
	"fmt"
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
	w, err := s.Waiting(t.Context(), "session/", 0)
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

	w, err = s.Waiting(t.Context(), "session/", 0)
	must(t, "Waiting", err)
	if got := ids(w.Next); !slices.Equal(got, []string{"EvA1"}) {
		t.Errorf("Waiting.Next = %v, want [EvA1]: A's first message, not B's (leased) nor C's (done)", got)
	}
	if w.Unfinished != 3 || !w.Oldest.Equal(T0) {
		t.Errorf("Waiting depth = %d since %v, want 3 since %v", w.Unfinished, w.Oldest, T0)
	}
	// Another prefix names other leases: B's lease does not hold it.
	w, err = s.Waiting(t.Context(), "other/", 0)
	must(t, "Waiting under another prefix", err)
	if got := ids(w.Next); !slices.Equal(got, []string{"EvA1", "EvB1"}) {
		t.Errorf("Waiting.Next under another prefix = %v, want [EvA1 EvB1]", got)
	}
	must(t, "ReleaseLease", s.ReleaseLease(t.Context(), "session/"+sessionB.String(), "another-replica"))
	w, err = s.Waiting(t.Context(), "session/", 0)
	must(t, "Waiting after the release", err)
	if got := ids(w.Next); !slices.Equal(got, []string{"EvA1", "EvB1"}) {
		t.Errorf("Waiting.Next after B's lease was released = %v, want [EvA1 EvB1]", got)
	}
}

// testWaitingAtMost checks Waiting with a bound: the sessions whose turns
// were received first, no more than the bound, each still by its first
// message, and the depth of the whole inbox all the same.
func testWaitingAtMost(t *testing.T, open func(t *testing.T) tandem.Store) {
	s := open(t)
	var keys []tandem.SessionKey
	for i := range 5 {
		key := tandem.SessionKey{Team: "T1", Channel: "C1", ThreadTS: fmt.Sprintf("1740830%03d.000100", i)}
		keys = append(keys, key)
		// Each session's later message is recorded first.
		late := turn(fmt.Sprintf("Ev%dlate", i), fmt.Sprintf("1740830%03d.000300", i))
		late.Session, late.ReceivedAt = key, T0.Add(time.Duration(i)*time.Minute)
		early := turn(fmt.Sprintf("Ev%dearly", i), fmt.Sprintf("1740830%03d.000200", i))
		early.Session, early.ReceivedAt = key, T0.Add(time.Duration(i)*time.Minute+time.Second)
		record(t, s, late)
		record(t, s, early)
	}
	ok, err := s.Lease(t.Context(), "session/"+keys[0].String(), "another-replica", time.Hour)
	must(t, "Lease", err)
	if !ok {
		t.Fatal("Lease of a free name = false")
	}
	w, err := s.Waiting(t.Context(), "session/", 2)
	must(t, "Waiting at most 2", err)
	if got := ids(w.Next); !slices.Equal(got, []string{"Ev1early", "Ev2early"}) {
		t.Errorf("Waiting.Next at most 2 = %v, want [Ev1early Ev2early]: the first two unleased sessions, each by its first message", got)
	}
	if w.Unfinished != 10 || !w.Oldest.Equal(T0) {
		t.Errorf("Waiting depth at most 2 = %d since %v, want 10 since %v", w.Unfinished, w.Oldest, T0)
	}
	w, err = s.Waiting(t.Context(), "session/", 10)
	must(t, "Waiting at most 10", err)
	if len(w.Next) != 4 {
		t.Errorf("Waiting.Next at most 10 = %v, want the 4 unleased sessions", ids(w.Next))
	}
}
