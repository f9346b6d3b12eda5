package inbox

import (
	"context"
	"testing"
	"time"

	"github.com/tandembot/tandem"
)

// waitingStore's inbox holds the given first turns of sessions, none
// leased.
type waitingStore struct {
	leaseStore
	next  []tandem.TurnRecord
	polls chan struct{} // one send per Waiting call
}

func (s *waitingStore) Waiting(ctx context.Context, leasePrefix string) (tandem.Waiting, error) {
	s.polls <- struct{}{}
	return tandem.Waiting{Next: s.next, Unfinished: len(s.next)}, nil
}

// fullQueue takes no session: everything waits in the store.
type fullQueue struct{ fakeQueue }

func (fullQueue) Wake(tandem.Turn) bool { return false }

// TestPollTellsATurnRecordedHereThatWaitsLong: a turn recorded by this
// process that has waited BusyAfter without starting is told once that it
// is queued, with the sessions waiting before it (oldest first); a turn
// recorded elsewhere, or not yet waiting that long, is not.
func TestPollTellsATurnRecordedHereThatWaitsLong(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	mk := func(id string, age time.Duration) tandem.TurnRecord {
		return tandem.TurnRecord{State: tandem.TurnPending, Turn: tandem.Turn{ID: id, Session: tandem.SessionKey{Team: "T", Channel: "C", ThreadTS: id}, ReceivedAt: now.Add(-age)}}
	}
	// Listed in session order; by age: elsewhere, old, mine, young.
	st := &waitingStore{next: []tandem.TurnRecord{mk("young", time.Second), mk("mine", 8*time.Second), mk("elsewhere", 20*time.Second), mk("old", 10*time.Second)},
		polls: make(chan struct{})}
	type told struct {
		id    string
		ahead int
	}
	got := make(chan told, 10)
	r := New(Config{Store: st, Queue: fullQueue{}, Now: func() time.Time { return now }, BusyAfter: 5 * time.Second,
		Busy: func(t tandem.Turn, ahead int) { got <- told{t.ID, ahead} }})
	for _, id := range []string{"young", "mine", "old"} {
		r.Note(tandem.Turn{ID: id})
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { r.Poll(ctx); close(done) }()
	// Three polls begin, so the first two have ended: the second tells
	// nobody again.
	for range 3 {
		r.Kick()
		<-st.polls
	}
	cancel()
	<-done
	var seen []told
	close(got)
	for tl := range got {
		seen = append(seen, tl)
	}
	if want := []told{{"old", 1}, {"mine", 2}}; len(seen) != 2 || seen[0] != want[0] || seen[1] != want[1] {
		t.Errorf("told %v, want %v", seen, want)
	}
}
