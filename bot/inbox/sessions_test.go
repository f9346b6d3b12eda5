package inbox

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/tandembot/tandem"
)

// leaseStore is a store whose session lease is granted once, and whose
// renewals answer renew. Its inbox holds one pending turn; with finds set,
// only the first finds reads find it.
type leaseStore struct {
	turn  tandem.Turn
	state tandem.TurnState // the turn's, pending when empty
	renew func() (bool, error)
	finds int
	// lastRead is how long NextTurnOrRelease takes after it released the
	// lease, and firstRead how long LeaseNextTurn takes after its read.
	lastRead, firstRead time.Duration

	mu       sync.Mutex
	leases   int  // Lease and LeaseNextTurn calls, the first one included
	released bool // the lease was released
	late     bool // the lease was taken or renewed after its release
	reads    int  // reads of the session's next turn
}

func (s *leaseStore) Lease(ctx context.Context, name, owner string, ttl time.Duration) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.leases++
	s.late = s.late || s.released
	if s.leases == 1 {
		return true, nil
	}
	return s.renew()
}

// RenewLease counts as Lease does: after the first take, each call is a
// renewal that answers renew.
func (s *leaseStore) RenewLease(ctx context.Context, name, owner string, ttl time.Duration) (bool, error) {
	return s.Lease(ctx, name, owner, ttl)
}

func (s *leaseStore) ReleaseLease(ctx context.Context, name, owner string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.released = true
	return nil
}

func (s *leaseStore) LeaseNextTurn(ctx context.Context, name, owner string, ttl time.Duration, key tandem.SessionKey) (tandem.TurnRecord, error) {
	ok, err := s.Lease(ctx, name, owner, ttl)
	if err != nil {
		return tandem.TurnRecord{}, err
	}
	if !ok {
		return tandem.TurnRecord{}, (tandem.Hold{Name: name, Owner: owner}).NotHeld()
	}
	rec, err := s.NextTurn(ctx, key)
	time.Sleep(s.firstRead)
	return rec, err
}

func (s *leaseStore) NextTurnOrRelease(ctx context.Context, key tandem.SessionKey, name, owner string) (tandem.TurnRecord, error) {
	rec, err := s.NextTurn(ctx, key)
	if tandem.ErrorCode(err) == tandem.ENOTFOUND {
		s.ReleaseLease(ctx, name, owner)
		time.Sleep(s.lastRead)
	}
	return rec, err
}

func (s *leaseStore) Waiting(ctx context.Context, leasePrefix string, max int) (tandem.Waiting, error) {
	return tandem.Waiting{Next: []tandem.TurnRecord{{Turn: s.turn, State: tandem.TurnPending}}, Unfinished: 1}, nil
}

// TurnRecord says every turn is still pending.
func (s *leaseStore) TurnRecord(ctx context.Context, id string) (tandem.TurnRecord, error) {
	return tandem.TurnRecord{Turn: tandem.Turn{ID: id}, State: tandem.TurnPending}, nil
}

func (s *leaseStore) NextTurn(ctx context.Context, key tandem.SessionKey) (tandem.TurnRecord, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reads++
	if s.finds > 0 && s.reads > s.finds {
		return tandem.TurnRecord{}, tandem.Errorf(tandem.ENOTFOUND, "no turn")
	}
	return tandem.TurnRecord{Turn: s.turn, State: cmp.Or(s.state, tandem.TurnPending)}, nil
}

func (s *leaseStore) counts() (leases int, released, late bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.leases, s.released, s.late
}

// fakeQueue is a dispatcher with slots to spare that is never stopped.
type fakeQueue struct{}

func (fakeQueue) Slot(string) (free, release func()) { return func() {}, func() {} }
func (fakeQueue) Stopped() bool                      { return false }
func (fakeQueue) Has(tandem.SessionKey) bool         { return false }
func (fakeQueue) Wake(tandem.Turn) bool              { return true }
func (fakeQueue) Room() int                          { return -1 }

// startedTurns counts the turns a Runner hands to Config.Run and
// Config.Interrupted.
type startedTurns struct {
	mu sync.Mutex
	n  int
}

func (s *startedTurns) run(Job) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.n++
	return true
}

func (s *startedTurns) interrupted(context.Context, tandem.Turn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.n++
}

func (s *startedTurns) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.n
}

// TestRunSessionStopsWhenLeaseRenewalFails holds a session whose only turn
// waits out a long reorder window, and makes the first renewal of its lease
// fail or find it taken: the session must give up at once, start no turn,
// release the lease after the last renewal, and say why in the log. The
// session is woken by that turn (it waits before its first read), or by an
// older one (it reads first, and waits for the turn it finds).
func TestRunSessionStopsWhenLeaseRenewalFails(t *testing.T) {
	tests := []struct {
		name      string
		renew     func() (bool, error)
		wantLevel string
		wokenAgo  time.Duration
	}{
		{"taken by another replica", func() (bool, error) { return false, nil }, "WARN", 0},
		{"store error", func() (bool, error) { return false, errors.New("store down") }, "ERROR", 0},
		{"taken, woken by an older turn", func() (bool, error) { return false, nil }, "WARN", 2 * time.Hour},
		{"store error, woken by an older turn", func() (bool, error) { return false, errors.New("store down") }, "ERROR", 2 * time.Hour},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			turn := tandem.Turn{ID: "E1", Session: tandem.SessionKey{Team: "T1", Channel: "C1", ThreadTS: "1.1"}, Text: "help", ReceivedAt: time.Now()}
			woken := turn
			woken.ReceivedAt = woken.ReceivedAt.Add(-tt.wokenAgo)
			store := &leaseStore{turn: turn, renew: tt.renew}
			var logs bytes.Buffer
			var started startedTurns
			r := New(Config{
				Store:         store,
				Queue:         fakeQueue{},
				Run:           started.run,
				Interrupted:   started.interrupted,
				Logger:        slog.New(slog.NewJSONHandler(&logs, nil)),
				LeaseTTL:      30 * time.Millisecond,
				ReorderWindow: time.Hour,
			})

			runSessionWithin(t, r, woken, "RunSession still waits on a session whose lease it lost")

			if n := started.count(); n != 0 {
				t.Errorf("%d turns started after the lease was lost", n)
			}
			leases, released, late := store.counts()
			if leases != 2 {
				t.Errorf("Lease called %d times, want 2 (take, one failed renewal)", leases)
			}
			if !released {
				t.Error("lease not released")
			}
			if late {
				t.Error("Lease called after ReleaseLease")
			}
			var line struct {
				Level string `json:"level"`
				Lease string `json:"lease"`
			}
			if err := json.Unmarshal(logs.Bytes(), &line); err != nil {
				t.Fatalf("want one log line, got %q: %v", logs.String(), err)
			}
			if line.Level != tt.wantLevel || line.Lease != "session/T1/C1/1.1" {
				t.Errorf("log line %q: want level %s and lease session/T1/C1/1.1", logs.String(), tt.wantLevel)
			}
		})
	}
}

// TestRunSessionKeepsRenewing: while renewals succeed, the lease of a
// session whose turn waits out a long reorder window is renewed again and
// again and never given up; when the session's run ends, renewal stops
// before the lease is released.
func TestRunSessionKeepsRenewing(t *testing.T) {
	turn := tandem.Turn{ID: "E1", Session: tandem.SessionKey{Team: "T1", Channel: "C1", ThreadTS: "1.1"}, Text: "help", ReceivedAt: time.Now()}
	store := &leaseStore{turn: turn, renew: func() (bool, error) { return true, nil }}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var logs bytes.Buffer
	var started startedTurns
	r := New(Config{
		Store:         store,
		Queue:         fakeQueue{},
		Run:           started.run,
		Interrupted:   started.interrupted,
		Context:       func() context.Context { return ctx },
		Logger:        slog.New(slog.NewJSONHandler(&logs, nil)),
		LeaseTTL:      3 * time.Millisecond,
		ReorderWindow: time.Hour,
	})
	done := make(chan struct{})
	go func() {
		defer close(done)
		r.RunSession(turn)
	}()
	deadline := time.After(10 * time.Second)
	for renewed := 0; renewed < 5; {
		select {
		case <-done:
			t.Fatalf("session given up after %d renewals while renewals succeed; log: %s", renewed, logs.String())
		case <-deadline:
			t.Fatalf("%d renewals, want 5", renewed)
		case <-time.After(time.Millisecond):
		}
		leases, _, _ := store.counts()
		renewed = leases - 1
	}
	cancel()
	<-done
	if logs.Len() != 0 {
		t.Errorf("lease given up while renewals succeed or when the session ended; log: %s", logs.String())
	}
	if n := started.count(); n != 0 {
		t.Errorf("%d turns started inside the reorder window", n)
	}
	_, released, late := store.counts()
	if !released {
		t.Error("lease not released")
	}
	if late {
		t.Error("Lease called after ReleaseLease: renewal did not stop before the release")
	}
}

// TestRunSessionWaitsAtMostTheReorderWindow: a turn stamped an hour ahead
// of this replica's clock (another replica's clock runs ahead) waits the
// reorder window, not the hour: it is read with the lease, and once again
// after the window, before it runs.
func TestRunSessionWaitsAtMostTheReorderWindow(t *testing.T) {
	turn := tandem.Turn{ID: "E1", Session: tandem.SessionKey{Team: "T1", Channel: "C1", ThreadTS: "1.1"}, Text: "help", ReceivedAt: time.Now().Add(time.Hour)}
	store := &leaseStore{turn: turn, renew: func() (bool, error) { return true, nil }, finds: 2}
	if n := runWindowed(t, store, turn, "a turn stamped by a clock ahead waited past the reorder window"); n != 1 {
		t.Errorf("%d turns ran, want 1", n)
	}
	if store.reads != 3 {
		t.Errorf("%d reads of the inbox, want 3: the turn with the lease, again after the window, then none left", store.reads)
	}
	if _, released, late := store.counts(); !released || late {
		t.Errorf("lease released %v, taken or renewed after its release %v; want released, and not after", released, late)
	}
}

// TestRunSessionRenewsNothingAfterItsLastRead: the lease is renewed while
// the session's turn runs, and renewal stops before the read that finds
// no turn left and releases the lease in the same round trip, so that no
// renewal takes the released lease back while that read is on its way.
func TestRunSessionRenewsNothingAfterItsLastRead(t *testing.T) {
	turn := tandem.Turn{ID: "E1", Session: tandem.SessionKey{Team: "T1", Channel: "C1", ThreadTS: "1.1"}, Text: "help"}
	store := &leaseStore{turn: turn, renew: func() (bool, error) { return true, nil }, finds: 1, lastRead: 30 * time.Millisecond}
	r := New(Config{
		Store: store, Queue: fakeQueue{}, Interrupted: func(context.Context, tandem.Turn) { t.Error("the turn was called interrupted") },
		Run: func(Job) bool {
			// Long enough for several renewals.
			for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(time.Millisecond) {
				if leases, _, _ := store.counts(); leases >= 3 || time.Now().After(deadline) {
					return true
				}
			}
		},
		LeaseTTL: 3 * time.Millisecond,
	})
	runSessionWithin(t, r, turn, "the session's run did not end after its last read")
	leases, released, late := store.counts()
	if leases < 3 {
		t.Errorf("%d takes and renewals of the lease while the turn ran, want at least 3", leases)
	}
	if !released {
		t.Error("the lease was not released")
	}
	if late {
		t.Error("the lease was renewed after the last read released it")
	}
	if store.reads != 2 {
		t.Errorf("%d reads, want 2: the turn with the lease, then none left", store.reads)
	}
}

// TestRunSessionReadsAgainAfterASlowRead: with a reorder window (several
// replicas), a read that outlasted the window (a stall) is made again
// before its turn runs, whether the turn it found was young then or
// older than the window: by then another replica may have run it, and the
// second read finds it gone.
func TestRunSessionReadsAgainAfterASlowRead(t *testing.T) {
	for _, tt := range []struct {
		name string
		age  time.Duration // of the turn when it is read
	}{{"young turn", 0}, {"turn older than the window", time.Hour}} {
		t.Run(tt.name, func(t *testing.T) {
			turn := tandem.Turn{ID: "E1", Session: tandem.SessionKey{Team: "T1", Channel: "C1", ThreadTS: "1.1"}, Text: "help", ReceivedAt: time.Now().Add(-tt.age)}
			store := &leaseStore{turn: turn, renew: func() (bool, error) { return true, nil }, finds: 1, firstRead: 60 * time.Millisecond}
			if n := runWindowed(t, store, turn, "the session's run did not end"); n != 0 {
				t.Errorf("%d turns ran from a read that outlasted the window, want 0", n)
			}
			if store.reads != 2 {
				t.Errorf("%d reads, want 2: the turn with the lease, then none left", store.reads)
			}
		})
	}
}

// runWindowed runs turn's session on store with a reorder window of 20 ms
// (runSessionWithin), and returns how many turns started.
func runWindowed(t *testing.T, store *leaseStore, turn tandem.Turn, why string) int {
	t.Helper()
	var started startedTurns
	r := New(Config{
		Store: store, Queue: fakeQueue{}, Run: started.run, Interrupted: started.interrupted,
		LeaseTTL: time.Minute, ReorderWindow: 20 * time.Millisecond,
	})
	runSessionWithin(t, r, turn, why)
	return started.count()
}

// runSessionWithin runs r.RunSession(turn), failing with why when it has
// not returned after ten seconds.
func runSessionWithin(t *testing.T, r *Runner, turn tandem.Turn, why string) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		r.RunSession(turn)
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal(why)
	}
}

// TestRunSessionReportsARunningTurnThatMayHaveMadeChanges: a turn found
// running (its runner stopped or died in the middle) runs again only when
// it cannot have changed anything. A read runs again; a proposal's
// confirmation and an API turn that allows changes, whose text parses as
// no change command, are reported as interrupted.
func TestRunSessionReportsARunningTurnThatMayHaveMadeChanges(t *testing.T) {
	for _, tt := range []struct {
		name, id, key string
		interrupted   bool
	}{
		{"a read", "E1", "", false},
		{"an API turn", "api-0123456789abcdef", "tdm_abc", false},
		{"a proposal's confirmation", "confirm/E1/1", "", true},
		{"an API turn that allows changes", "api-changes-0123456789abcdef", "tdm_abc", true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			turn := tandem.Turn{ID: tt.id, Session: tandem.SessionKey{Team: "T1", Channel: "C1", ThreadTS: "1.1"},
				User: "U1", Text: "close every stale issue in acme/api", APIKey: tt.key, ReceivedAt: time.Now().Add(-time.Minute)}
			store := &leaseStore{turn: turn, state: tandem.TurnRunning, finds: 1, renew: func() (bool, error) { return true, nil }}
			var ran, interrupted startedTurns
			r := New(Config{Store: store, Queue: fakeQueue{}, Run: ran.run, Interrupted: interrupted.interrupted, LeaseTTL: time.Minute})
			runSessionWithin(t, r, turn, "RunSession did not return")
			want := map[bool][2]int{false: {1, 0}, true: {0, 1}}[tt.interrupted]
			if got := [2]int{ran.count(), interrupted.count()}; got != want {
				t.Errorf("run again %d times, reported interrupted %d times; want %d and %d", got[0], got[1], want[0], want[1])
			}
		})
	}
}
