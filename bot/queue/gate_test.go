package queue

import (
	"testing"
	"time"

	"github.com/tandembot/tandem/internal/testclock"

	"github.com/tandembot/tandem"
)

// window feeds the gate one window of acks, slow of n of them slower than
// its target, and returns the limit after it.
func window(g *Gate, c *testclock.Clock, n, slow int) int {
	for i := range n {
		ack := time.Millisecond
		if i < slow {
			ack = 50 * time.Millisecond
		}
		if i == n-1 {
			c.Advance(g.Window)
		}
		g.Observe(ack)
	}
	return g.Limit()
}

// TestGateCutsWhenAcksAreSlowAndGrowsBack: a window with more than a tenth
// of its acks slow cuts the limit (never below Min); windows of fast acks
// raise it again (never above Max); a tenth slow or fewer counts as fast.
func TestGateCutsWhenAcksAreSlowAndGrowsBack(t *testing.T) {
	c := testclock.New(time.Unix(1_700_000_000, 0))
	g := &Gate{Min: 4, Max: 100, Now: c.Now}
	if g.Limit() != 100 {
		t.Fatalf("a new gate admits %d, want Max", g.Limit())
	}
	if got := window(g, c, 100, 20); got != 80 {
		t.Errorf("after a window with a fifth slow: limit %d, want 80", got)
	}
	for range 30 {
		window(g, c, 100, 50)
	}
	if got := g.Limit(); got != 4 {
		t.Errorf("after many slow windows: limit %d, want Min 4", got)
	}
	if got := window(g, c, 100, 10); got <= 4 {
		t.Errorf("a window with a tenth slow raised nothing: %d", got)
	}
	for range 60 {
		window(g, c, 100, 0)
	}
	if got := g.Limit(); got != 100 {
		t.Errorf("after many fast windows: limit %d, want Max 100", got)
	}
}

// TestGateGrowsBackWhileNoAcksCome: a limit cut by a burst's slow
// acknowledgements grows back while the backlog runs and no event comes,
// one fast window's worth for each window gone by, seen by the turns
// entering and leaving; a turn waiting at the gate enters once the limit
// has grown past it, when another leaves. Without this, the limit a burst
// left would hold every later turn until the next event.
func TestGateGrowsBackWhileNoAcksCome(t *testing.T) {
	c := testclock.New(time.Unix(1_700_000_000, 0))
	g := &Gate{Min: 2, Max: 100, Now: c.Now}
	for range 30 {
		window(g, c, 10, 10)
	}
	if got := g.Limit(); got != 2 {
		t.Fatalf("after slow windows: limit %d, want Min 2", got)
	}
	a, b := g.Enter("github"), g.Enter("github")
	entered := make(chan func(), 1)
	go func() { entered <- g.Enter("github") }()
	waitFor(t, func() bool { return g.waiters() == 1 })

	// The window with the last (slow) acknowledgement ends, still at Min,
	// and two more go by with none, two fast windows: 2 -> 3.2 -> 4.52.
	// The next turn to come (of another provider) finds the limit grown,
	// and the waiting turn enters with it, though no turn left.
	c.Advance(3 * g.Window)
	gl := g.Enter("gitlab")
	select {
	case leave := <-entered:
		leave()
	case <-time.After(5 * time.Second):
		t.Fatal("the waiting turn never entered after windows without acknowledgements")
	}
	if got := g.Limit(); got != 4 {
		t.Errorf("after a slow window and two without acknowledgements: limit %d, want 4", got)
	}
	gl()
	a()
	c.Advance(time.Hour)
	b()
	if got := g.Limit(); got != 100 {
		t.Errorf("after an hour without acknowledgements: limit %d, want Max 100", got)
	}
	if n := g.Running(); n != 0 {
		t.Errorf("%d running after every turn left", n)
	}
}

// TestGateCutsWhileAnEventWaitsForItsAck: windows in which no
// acknowledgement came while an event waited for one (an acknowledgement
// slower than the window) cut the limit like slow ones; once the event is
// acknowledged or given up, windows without any grow it again.
func TestGateCutsWhileAnEventWaitsForItsAck(t *testing.T) {
	c := testclock.New(time.Unix(1_700_000_000, 0))
	g := &Gate{Min: 2, Max: 100, Now: c.Now}
	g.Arrive()
	c.Advance(3 * g.Window)
	leave := g.Enter("github")
	if got := g.Limit(); got != 51 {
		t.Errorf("after three windows with an event waiting and no ack: limit %d, want 51 (100 cut three times)", got)
	}
	g.Abandon() // not acknowledged: Slack delivers it again
	c.Advance(2 * g.Window)
	leave()
	if got := g.Limit(); got <= 51 {
		t.Errorf("after two windows with nothing waiting: limit %d, want it grown past 51", got)
	}
}

// TestGateHoldsTurnsPastItsLimit: with the limit cut to Min, a turn past
// it waits at Enter until one leaves, then enters.
func TestGateHoldsTurnsPastItsLimit(t *testing.T) {
	c := testclock.New(time.Unix(1_700_000_000, 0))
	g := &Gate{Min: 2, Max: 2, Now: c.Now}
	a, b := g.Enter("github"), g.Enter("github")
	entered := make(chan struct{})
	go func() {
		leave := g.Enter("github")
		leave()
		close(entered) // entered, and left again
	}()
	waitFor(t, func() bool { return g.waiters() == 1 })
	select {
	case <-entered:
		t.Fatal("a third turn entered a gate of 2")
	default:
	}
	a()
	a() // leaving twice frees one place only
	select {
	case <-entered:
	case <-time.After(5 * time.Second):
		t.Fatal("the waiting turn never entered after one left")
	}
	b()
	if n := g.Running(); n != 0 {
		t.Errorf("%d running after every turn left", n)
	}
}

// TestDispatcherLeavesSessionsInTheStorePastMaxSessions: past MaxSessions
// sessions, Wake queues nothing and says so; when a session ends after
// that, OnFree asks for more.
func TestDispatcherLeavesSessionsInTheStorePastMaxSessions(t *testing.T) {
	release := make(chan struct{})
	d := New(8, nil, func(tandem.Turn) { <-release })
	d.MaxSessions = 2
	freed := make(chan struct{}, 4)
	d.OnFree = func() { freed <- struct{}{} }
	key := func(s string) tandem.Turn { return tandem.Turn{ID: s, Session: tandem.SessionKey{ThreadTS: s}} }
	if !d.Wake(key("a")) || !d.Wake(key("b")) {
		t.Fatal("the first two sessions were turned away")
	}
	if d.Wake(key("c")) || !d.Full() {
		t.Fatal("a third session was queued past MaxSessions 2")
	}
	if !d.Wake(key("a")) {
		t.Error("a session already here was turned away")
	}
	close(release)
	select {
	case <-freed:
	case <-time.After(5 * time.Second):
		t.Fatal("OnFree was not called when room freed")
	}
	d.Wait()
	if d.Full() || !d.Wake(key("c")) {
		t.Error("the third session is still turned away once the others ended")
	}
	d.Wait()
}

// TestGateLetsAnIdlePoolIn: with the gate full of one provider's turns, a
// turn of a provider with none running enters at once, and a second one
// of that provider waits like any other.
func TestGateLetsAnIdlePoolIn(t *testing.T) {
	c := testclock.New(time.Unix(1_700_000_000, 0))
	g := &Gate{Min: 2, Max: 2, Now: c.Now}
	a, b := g.Enter("github"), g.Enter("github")
	done := make(chan func())
	go func() { done <- g.Enter("gitlab") }()
	var gl func()
	select {
	case gl = <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("a GitLab turn waited behind a gate full of GitHub turns")
	}
	go func() { done <- g.Enter("gitlab") }()
	waitFor(t, func() bool { return g.waiters() == 1 })
	select {
	case <-done:
		t.Fatal("a second GitLab turn entered a full gate")
	default:
	}
	gl()
	select {
	case leave := <-done:
		leave()
	case <-time.After(5 * time.Second):
		t.Fatal("the second GitLab turn never entered after the first left")
	}
	a()
	b()
	if n := g.Running(); n != 0 {
		t.Errorf("%d running after every turn left", n)
	}
}

// TestGateLetsWaitersInOldestFirstOneAtATime: each turn that leaves a full
// gate lets in exactly one waiting turn, the one that has waited longest.
func TestGateLetsWaitersInOldestFirstOneAtATime(t *testing.T) {
	c := testclock.New(time.Unix(1_700_000_000, 0))
	g := &Gate{Min: 1, Max: 1, Now: c.Now}
	leave := g.Enter("github")
	entered := make(chan int, 3)
	leaves := make(chan func(), 3)
	for i := range 3 {
		go func() {
			l := g.Enter("github")
			entered <- i
			leaves <- l
		}()
		waitFor(t, func() bool { return g.waiters() == i+1 })
	}
	for want := range 3 {
		leave()
		select {
		case got := <-entered:
			if got != want {
				t.Fatalf("waiter %d entered; want the oldest, %d", got, want)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("no waiter entered after a turn left; want %d", want)
		}
		leave = <-leaves
		if n := g.Running(); n != 1 {
			t.Fatalf("%d running after one left a gate of 1 with waiters", n)
		}
		if n := g.waiters(); n != 2-want {
			t.Fatalf("%d still waiting, want %d", n, 2-want)
		}
	}
	leave()
	if n := g.Running(); n != 0 {
		t.Errorf("%d running after every turn left", n)
	}
}

// waiters counts the turns waiting at g.
func (g *Gate) waiters() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.waiting)
}

// waitFor polls cond until it holds, failing after five seconds.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition never held")
		}
		time.Sleep(time.Millisecond)
	}
}
