package bot

import (
	"context"
	"io"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/tandembot/tandem"
	"github.com/tandembot/tandem/internal/countingstore"
	"github.com/tandembot/tandem/internal/fakeslack"
	"github.com/tandembot/tandem/store"
)

// TestOrderedRunsEachKeyInOrder: a key's functions run one at a time in the
// order given, while a function held up on one key holds up no other key.
func TestOrderedRunsEachKeyInOrder(t *testing.T) {
	var o ordered
	var mu sync.Mutex
	var got []string
	hold := make(chan struct{})
	other := make(chan struct{})
	o.Go("a", func() { <-hold; mu.Lock(); got = append(got, "a1"); mu.Unlock() })
	o.Go("a", func() { mu.Lock(); got = append(got, "a2"); mu.Unlock() })
	o.Go("b", func() { mu.Lock(); got = append(got, "b1"); mu.Unlock(); close(other) })
	<-other // b ran while a1 was held
	close(hold)
	o.Wait()
	if want := []string{"b1", "a1", "a2"}; !slices.Equal(got, want) {
		t.Errorf("ran %v, want %v", got, want)
	}
}

// holdingStore is a real bbolt store whose AppendTurn waits, for the turns
// of one thread, until release is closed, and which notes the order turns
// were made durable in.
type holdingStore struct {
	*store.DB
	thread  string
	release chan struct{}
	mu      sync.Mutex
	order   []string
}

func (h *holdingStore) AppendTurn(ctx context.Context, t tandem.Turn) (<-chan tandem.Recorded, error) {
	if t.Session.ThreadTS == h.thread {
		<-h.release
	}
	recorded, err := h.DB.AppendTurn(ctx, t)
	h.mu.Lock()
	h.order = append(h.order, t.Text)
	h.mu.Unlock()
	return recorded, err
}

// TestSlowRecordingDelaysNoOtherSession: while the recording of one
// thread's event is held up, another thread's event is recorded and
// acknowledged; the held thread's second message is recorded after its
// first, and neither is acknowledged before it is recorded.
func TestSlowRecordingDelaysNoOtherSession(t *testing.T) {
	sl, api := fakeSlack(t)
	slow := sl.NextTS()
	st := &holdingStore{DB: countingstore.Open(t).DB, thread: slow, release: make(chan struct{})}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	b := New(Config{Slack: api, Store: st, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	runCtx, stop := context.WithCancel(ctx)
	ran := make(chan error, 1)
	go func() { ran <- b.Run(runCtx) }()
	defer func() {
		stop()
		if err := <-ran; err != nil {
			t.Errorf("Run: %v", err)
		}
	}()
	if err := sl.WaitFor(ctx, func() bool { return sl.Connections() > 0 }); err != nil {
		t.Fatal(err)
	}
	first, _, err := sl.DeliverEvent(fakeslack.AppMentionEvent("C1", "UALICE", "<@U0BOT> help", slow, ""))
	if err != nil {
		t.Fatal(err)
	}
	second, _, err := sl.DeliverEvent(fakeslack.AppMentionEvent("C1", "UALICE", "<@U0BOT> commands", sl.NextTS(), slow))
	if err != nil {
		t.Fatal(err)
	}
	fast := sl.NextTS()
	if _, err := sl.SendEvent(ctx, fakeslack.AppMentionEvent("C1", "UALICE", "<@U0BOT> whoami", fast, "")); err != nil {
		t.Fatalf("the other thread's event was not acknowledged while the first thread's recording was held: %v", err)
	}
	if n := sl.Acks(); n != 1 {
		t.Errorf("%d acks while one thread's events were not recorded, want 1 (the other thread's)", n)
	}
	close(st.release)
	for _, env := range []string{first, second} {
		if _, err := sl.WaitAck(ctx, env); err != nil {
			t.Fatal(err)
		}
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	if want := []string{"whoami", "help", "commands"}; !slices.Equal(st.order, want) {
		t.Errorf("recorded %v, want %v", st.order, want)
	}
}
