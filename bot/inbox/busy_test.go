package inbox

import (
	"context"
	"testing"
	"time"

	"github.com/tandembot/tandem"
)

// depthStore's inbox holds depth unfinished turns, none of them waiting
// for this runner.
type depthStore struct {
	leaseStore
	depth int
	polls chan struct{} // one send per Waiting call
}

// TurnRecord says "elsewhere" was run (by another replica); the others
// are pending.
func (s *depthStore) TurnRecord(ctx context.Context, id string) (tandem.TurnRecord, error) {
	state := tandem.TurnPending
	if id == "elsewhere" {
		state = tandem.TurnDone
	}
	return tandem.TurnRecord{Turn: tandem.Turn{ID: id}, State: state}, nil
}

func (s *depthStore) Waiting(ctx context.Context, leasePrefix string, max int) (tandem.Waiting, error) {
	s.polls <- struct{}{}
	return tandem.Waiting{Unfinished: s.depth}, nil
}

// fullQueue takes no session: everything waits in the store.
type fullQueue struct{ fakeQueue }

func (fullQueue) Wake(tandem.Turn) bool { return false }
func (fullQueue) Room() int             { return 0 }

// TestPollTellsATurnRecordedHereThatWaitsLong: a turn recorded by this
// process that has waited BusyAfter without starting is told once that it
// is queued, with the turns ahead of it when it came (the inbox's depth,
// then each turn recorded before it); a turn that has not waited that long
// is not told yet, and one another replica ran is never told.
// (The inbox's 3 turns are more than the 2 that may run at once: busy.)
func TestPollTellsATurnRecordedHereThatWaitsLong(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	st := &depthStore{depth: 3, polls: make(chan struct{})}
	type told struct {
		id    string
		ahead int
	}
	got := make(chan told, 10)
	r := New(Config{Store: st, Queue: fullQueue{}, Now: func() time.Time { return now }, BusyAfter: 5 * time.Second,
		Busy: func(t tandem.Turn, ahead int) { got <- told{t.ID, ahead} }, Capacity: func() int { return 2 }})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { r.Poll(ctx); close(done) }()
	<-st.polls // the first poll: the depth is known
	r.Kick()
	<-st.polls // it has ended: Note sees its depth
	for _, n := range []struct {
		id  string
		age time.Duration
	}{{"old", 10 * time.Second}, {"elsewhere", 9 * time.Second}, {"mine", 8 * time.Second}, {"young", time.Second}} {
		r.Note(tandem.Turn{ID: n.id, ReceivedAt: now.Add(-n.age)})
	}
	// Two more polls begin, so one has ended after the notes; the next
	// tells nobody again.
	for range 2 {
		r.Kick()
		<-st.polls
	}
	r.Kick()
	<-st.polls
	cancel()
	<-done
	close(got)
	var seen []told
	for tl := range got {
		seen = append(seen, tl)
	}
	if want := []told{{"old", 3}, {"mine", 5}}; len(seen) != 2 || seen[0] != want[0] || seen[1] != want[1] {
		t.Errorf("told %v, want %v", seen, want)
	}
}

// TestPollTellsNobodyWhenNotBusy: a turn that waits long while the inbox
// holds no more turns than may run at once waits behind its own thread's
// earlier turn, not because Tandem is busy: it is not told.
func TestPollTellsNobodyWhenNotBusy(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	st := &depthStore{depth: 3, polls: make(chan struct{})}
	told := make(chan string, 10)
	r := New(Config{Store: st, Queue: fullQueue{}, Now: func() time.Time { return now }, BusyAfter: 5 * time.Second,
		Busy: func(t tandem.Turn, _ int) { told <- t.ID }, Capacity: func() int { return 64 }})
	r.Note(tandem.Turn{ID: "old", ReceivedAt: now.Add(-time.Minute)})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { r.Poll(ctx); close(done) }()
	for range 3 {
		r.Kick()
		<-st.polls
	}
	cancel()
	<-done
	close(told)
	for id := range told {
		t.Errorf("%s was told it waits while Tandem was not busy", id)
	}
}

// sessionsStore's inbox holds one waiting turn for each session in next.
type sessionsStore struct {
	leaseStore
	next  []tandem.TurnRecord
	polls chan int // the max of each Waiting call
}

func (s *sessionsStore) Waiting(ctx context.Context, leasePrefix string, max int) (tandem.Waiting, error) {
	s.polls <- max
	n := len(s.next)
	if max > 0 {
		n = min(n, max)
	}
	return tandem.Waiting{Unfinished: len(s.next), Next: s.next[:n]}, nil
}

// roomQueue has room for room more sessions and says which it took.
type roomQueue struct {
	fakeQueue
	room  int
	woken chan string
}

func (q roomQueue) Wake(t tandem.Turn) bool { q.woken <- t.ID; return true }
func (q roomQueue) Room() int               { return q.room }

// TestRefillPollsOnlyForSessionsLeftInTheStore: as room frees, Refill
// asks for a poll only when a session may wait in the store that no poll
// has read: after the queue turned a woken session away, or after a poll
// that read as many sessions as the queue had room for. A poll that read
// everything waiting leaves nothing for it.
func TestRefillPollsOnlyForSessionsLeftInTheStore(t *testing.T) {
	turn := func(id string) tandem.TurnRecord {
		return tandem.TurnRecord{Turn: tandem.Turn{ID: id, Session: tandem.SessionKey{Team: "T", Channel: "C", ThreadTS: id}}}
	}
	st := &sessionsStore{next: []tandem.TurnRecord{turn("a")}, polls: make(chan int)}
	q := roomQueue{room: 2, woken: make(chan string, 10)}
	r := New(Config{Store: st, Queue: q})
	r.LeftInStore() // before the first poll, which then reads it
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { r.Poll(ctx); close(done) }()
	defer func() { cancel(); <-done }()

	<-st.polls // the first poll: one session waits, room for two
	if id := <-q.woken; id != "a" {
		t.Fatalf("the poll woke %s, want a", id)
	}
	if r.Refill() {
		t.Fatal("Refill asked for a poll after one that read every waiting session")
	}

	r.LeftInStore() // the queue turned a recorded turn's session away
	if !r.Refill() {
		t.Fatal("Refill did not ask for a poll after a session was left in the store")
	}
	st.next = []tandem.TurnRecord{turn("b"), turn("c"), turn("d")}
	<-st.polls // room for two of three: the poll is cut short
	<-q.woken
	<-q.woken
	if !r.Refill() {
		t.Fatal("Refill did not ask for a poll after one that read only as many sessions as the queue had room for")
	}
	<-st.polls
}
