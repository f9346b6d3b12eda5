package bot

import (
	"bytes"
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
// renewals answer renew. Its inbox holds one pending turn. Methods a test
// does not expect panic through the nil Store.
type leaseStore struct {
	Store
	turn  tandem.Turn
	renew func() (bool, error)

	mu       sync.Mutex
	leases   int  // Lease calls, the first one included
	released bool // ReleaseLease was called
	late     bool // Lease was called after ReleaseLease
	started  bool // a turn was marked running
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

func (s *leaseStore) ReleaseLease(ctx context.Context, name, owner string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.released = true
	return nil
}

func (s *leaseStore) UnfinishedTurns(ctx context.Context) ([]tandem.TurnRecord, error) {
	return []tandem.TurnRecord{{Turn: s.turn, State: tandem.TurnPending}}, nil
}

func (s *leaseStore) NextTurn(ctx context.Context, key tandem.SessionKey) (tandem.TurnRecord, error) {
	return tandem.TurnRecord{Turn: s.turn, State: tandem.TurnPending}, nil
}

func (s *leaseStore) SetTurnState(ctx context.Context, id string, state tandem.TurnState) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.started = true
	return errors.New("leaseStore: no turn should start")
}

// TestRunSessionStopsWhenLeaseRenewalFails holds a session whose only turn
// waits out a long reorder window, and makes the first renewal of its lease
// fail or find it taken: the session must give up at once, start no turn,
// release the lease after the last renewal, and say why in the log.
func TestRunSessionStopsWhenLeaseRenewalFails(t *testing.T) {
	tests := []struct {
		name      string
		renew     func() (bool, error)
		wantLevel string
	}{
		{"taken by another replica", func() (bool, error) { return false, nil }, "WARN"},
		{"store error", func() (bool, error) { return false, errors.New("store down") }, "ERROR"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			turn := tandem.Turn{ID: "E1", Session: tandem.SessionKey{Team: "T1", Channel: "C1", ThreadTS: "1.1"}, Text: "help", ReceivedAt: time.Now()}
			store := &leaseStore{turn: turn, renew: tt.renew}
			var logs bytes.Buffer
			b := New(Config{
				Store:         store,
				Logger:        slog.New(slog.NewJSONHandler(&logs, nil)),
				LeaseTTL:      30 * time.Millisecond,
				ReorderWindow: time.Hour,
			})

			done := make(chan struct{})
			go func() {
				defer close(done)
				b.runSession(turn)
			}()
			select {
			case <-done:
			case <-time.After(10 * time.Second):
				t.Fatal("runSession still waits on a session whose lease it lost")
			}

			store.mu.Lock()
			defer store.mu.Unlock()
			if store.started {
				t.Error("a turn started after the lease was lost")
			}
			if store.leases != 2 {
				t.Errorf("Lease called %d times, want 2 (take, one failed renewal)", store.leases)
			}
			if !store.released {
				t.Error("lease not released")
			}
			if store.late {
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

// TestRenewLeaseKeepsRenewing: while renewals succeed, the lease is renewed
// again and again and never given up.
func TestRenewLeaseKeepsRenewing(t *testing.T) {
	store := &leaseStore{leases: 1, renew: func() (bool, error) { return true, nil }}
	b := New(Config{Store: store, LeaseTTL: 3 * time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	lost := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		b.renewLease(ctx, "session/T1/C1/1.1", func() { close(lost) })
	}()
	deadline := time.After(10 * time.Second)
	for renewed := 0; renewed < 5; {
		select {
		case <-lost:
			t.Fatal("lease given up while renewals succeed")
		case <-deadline:
			t.Fatalf("%d renewals, want 5", renewed)
		case <-time.After(time.Millisecond):
		}
		store.mu.Lock()
		renewed = store.leases - 1
		store.mu.Unlock()
	}
	cancel()
	<-done
	select {
	case <-lost:
		t.Error("lease given up when the session ended")
	default:
	}
}
