package bot

import (
	"context"
	"io"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/slack-go/slack"

	"github.com/tandembot/tandem"
	"github.com/tandembot/tandem/internal/countingstore"
	"github.com/tandembot/tandem/internal/fakeslack"
	"github.com/tandembot/tandem/store"
)

// TestOrderedRunsEachKeyInOrder: a key's functions run one at a time in the
// order given, the next only once the one before calls done, while a
// function unfinished on one key holds up no other key. The first of an
// idle key runs on the caller's goroutine.
func TestOrderedRunsEachKeyInOrder(t *testing.T) {
	var o ordered
	var mu sync.Mutex
	var got []string
	note := func(s string) { mu.Lock(); got = append(got, s); mu.Unlock() }
	var finishA1 func()
	inline := false
	o.Go("a", func(done func()) { inline = true; note("a1 started"); finishA1 = done })
	if !inline {
		t.Fatal("the first function of an idle key did not run on the caller's goroutine")
	}
	o.Go("a", func(done func()) { note("a2"); done() })
	o.Go("b", func(done func()) { note("b1"); done() })
	note("b1 given")
	finishA1()
	finishA1() // a second call changes nothing
	o.Wait()
	if want := []string{"a1 started", "b1", "b1 given", "a2"}; !slices.Equal(got, want) {
		t.Errorf("ran %v, want %v", got, want)
	}
}

// holdingStore is a real bbolt store whose AppendTurn holds, for the turns
// of one thread, until release is closed, and which notes the order turns
// were made durable in.
type holdingStore struct {
	*store.DB
	thread  string
	release chan struct{}
	mu      sync.Mutex
	order   []string
}

func (h *holdingStore) AppendTurn(t tandem.Turn, durable func(error), recorded func(tandem.Recorded)) error {
	appendNow := func() error {
		h.mu.Lock()
		h.order = append(h.order, t.Text)
		h.mu.Unlock()
		return h.DB.AppendTurn(t, durable, recorded)
	}
	if t.Session.ThreadTS != h.thread {
		return appendNow()
	}
	go func() {
		<-h.release
		if err := appendNow(); err != nil {
			durable(err)
		}
	}()
	return nil
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
	startBot(ctx, t, sl, api, st)
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

// lookupHoldingStore is a real bbolt store whose Session lookups for one
// thread wait until release is closed.
type lookupHoldingStore struct {
	*store.DB
	thread  string
	release chan struct{}
}

func (h *lookupHoldingStore) Session(ctx context.Context, key tandem.SessionKey) (tandem.Session, error) {
	if key.ThreadTS == h.thread {
		<-h.release
	}
	return h.DB.Session(ctx, key)
}

// TestSessionLookupHoldsNoOtherEvent: a plain message in a thread counts
// only inside a session, which takes a look in the store; while that look
// is held up, another thread's mention is recorded and acknowledged, so the
// event loop never waits for it. The plain message is acknowledged once
// the look ends (it is no turn: the thread has no session).
func TestSessionLookupHoldsNoOtherEvent(t *testing.T) {
	sl, api := fakeSlack(t)
	slow := sl.NextTS()
	st := &lookupHoldingStore{DB: countingstore.Open(t).DB, thread: slow, release: make(chan struct{})}
	release := sync.OnceFunc(func() { close(st.release) })
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	defer release() // before the bot is stopped, should the test fail early
	startBot(ctx, t, sl, api, st)
	plain, plainEvent, err := sl.DeliverEvent(fakeslack.MessageEvent("C1", "UALICE", "whoami", sl.NextTS(), slow))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sl.SendEvent(ctx, fakeslack.AppMentionEvent("C1", "UALICE", "<@U0BOT> whoami", sl.NextTS(), "")); err != nil {
		t.Fatalf("a mention was not acknowledged while a session lookup was held: %v", err)
	}
	if n := sl.Acks(); n != 1 {
		t.Errorf("%d acks while the plain message's lookup was held, want 1 (the mention's)", n)
	}
	release()
	if _, err := sl.WaitAck(ctx, plain); err != nil {
		t.Fatal(err)
	}
	if _, err := st.TurnRecord(ctx, plainEvent); tandem.ErrorCode(err) != tandem.ENOTFOUND {
		t.Errorf("a plain message outside any session was recorded: %v", err)
	}
}

// TestStopDoesNotWaitForAStalledStore: an event whose append the store
// never finishes holds Run's return for eventsWait at most, and is not
// acknowledged (Slack delivers it again).
func TestStopDoesNotWaitForAStalledStore(t *testing.T) {
	sl, api := fakeSlack(t)
	stalled := sl.NextTS()
	st := &holdingStore{DB: countingstore.Open(t).DB, thread: stalled, release: make(chan struct{})}
	defer close(st.release)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	stop := startBot(ctx, t, sl, api, st)
	if _, _, err := sl.DeliverEvent(fakeslack.AppMentionEvent("C1", "UALICE", "<@U0BOT> help", stalled, "")); err != nil {
		t.Fatal(err)
	}
	if _, err := sl.SendEvent(ctx, fakeslack.AppMentionEvent("C1", "UALICE", "<@U0BOT> whoami", sl.NextTS(), "")); err != nil {
		t.Fatal(err) // the loop took the stalled event in before this one
	}
	select {
	case err := <-stop():
		if err != nil {
			t.Errorf("Run: %v", err)
		}
	case <-time.After(3 * eventsWait):
		t.Fatalf("Run had not returned %v after the stop, its store stalled", 3*eventsWait)
	}
	if n := sl.Acks(); n != 1 {
		t.Errorf("%d acks, want 1: the stalled event must not be acknowledged", n)
	}
}

// startBot runs a bot on st against sl and waits for its Socket Mode
// connection. stop stops it and returns the channel Run's error comes on;
// the test's cleanup stops it too, and fails the test if Run failed.
func startBot(ctx context.Context, t *testing.T, sl *fakeslack.Server, api *slack.Client, st Store) (stop func() <-chan error) {
	t.Helper()
	b := New(Config{Slack: api, Store: st, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	runCtx, cancel := context.WithCancel(ctx)
	ran := make(chan error, 1)
	go func() {
		ran <- b.Run(runCtx)
		close(ran) // a second receive, the cleanup's, finds nil
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-ran; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	if err := sl.WaitFor(ctx, func() bool { return sl.Connections() > 0 }); err != nil {
		t.Fatal(err)
	}
	return func() <-chan error { cancel(); return ran }
}
