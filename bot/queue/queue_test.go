package queue

import (
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/tandembot/tandem"
)

func TestDispatcherKeepsSessionOrderAndRunsSessionsConcurrently(t *testing.T) {
	var mu sync.Mutex
	got := map[string][]string{}
	slow := make(chan struct{})
	d := New(4, func(tandem.Turn) string { return "" }, func(turn tandem.Turn) {
		if turn.Session.ThreadTS == "slow" {
			<-slow
		}
		mu.Lock()
		got[turn.Session.ThreadTS] = append(got[turn.Session.ThreadTS], turn.ID)
		mu.Unlock()
	})
	d.Submit(tandem.Turn{ID: "s0", Session: tandem.SessionKey{ThreadTS: "slow"}})
	var want []string
	for i := 0; i < 200; i++ {
		id := fmt.Sprintf("t%03d", i)
		want = append(want, id)
		d.Submit(tandem.Turn{ID: id, Session: tandem.SessionKey{ThreadTS: "fast"}})
		d.Submit(tandem.Turn{ID: id, Session: tandem.SessionKey{ThreadTS: fmt.Sprintf("other%d", i%10)}})
	}
	// Everything but the slow session finishes while it is stuck.
	deadline := time.Now().Add(10 * time.Second)
	for {
		mu.Lock()
		n := len(got["fast"])
		mu.Unlock()
		if n == 200 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("fast session ran %d of 200 turns while another session was stuck", n)
		}
		time.Sleep(time.Millisecond)
	}
	close(slow)
	d.Wait()
	if fmt.Sprint(got["fast"]) != fmt.Sprint(want) {
		t.Errorf("turns of one session ran out of order: %v", got["fast"])
	}
	if len(got["slow"]) != 1 || d.Sessions() != 0 {
		t.Errorf("slow session ran %d turns, %d queues left", len(got["slow"]), d.Sessions())
	}
}

func TestDispatcherBoundsConcurrency(t *testing.T) {
	var mu sync.Mutex
	running, peak := 0, 0
	d := New(3, func(tandem.Turn) string { return "" }, func(tandem.Turn) {
		mu.Lock()
		running++
		peak = max(peak, running)
		mu.Unlock()
		time.Sleep(2 * time.Millisecond)
		mu.Lock()
		running--
		mu.Unlock()
	})
	for i := 0; i < 50; i++ {
		d.Submit(tandem.Turn{ID: fmt.Sprint(i), Session: tandem.SessionKey{ThreadTS: fmt.Sprint(i)}})
	}
	d.Wait()
	if peak != 3 {
		t.Errorf("peak concurrency %d, want 3", peak)
	}
}

func TestDispatcherGivesEachProviderItsOwnSlots(t *testing.T) {
	stuck := make(chan struct{})
	ran := make(chan string, 10)
	d := New(2, func(t tandem.Turn) string { return t.Text }, func(turn tandem.Turn) {
		if turn.Text == "github" {
			<-stuck
		}
		ran <- turn.ID
	})
	// GitHub's two slots are taken by stuck sessions; a GitLab turn still runs.
	for i := 0; i < 3; i++ {
		d.Submit(tandem.Turn{ID: fmt.Sprint("gh", i), Text: "github", Session: tandem.SessionKey{ThreadTS: fmt.Sprint("g", i)}})
	}
	d.Submit(tandem.Turn{ID: "gl", Text: "gitlab", Session: tandem.SessionKey{ThreadTS: "l"}})
	select {
	case id := <-ran:
		if id != "gl" {
			t.Errorf("%s ran first, want the GitLab turn", id)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a GitLab turn waited behind stuck GitHub turns")
	}
	close(stuck)
	d.Wait()
}

// TestDispatcherWakeCoalesces: waking a session that already has a run
// waiting to start adds none (that run reads the store when it starts),
// but a session whose run has started gets one more after it.
func TestDispatcherWakeCoalesces(t *testing.T) {
	key := tandem.SessionKey{ThreadTS: "1.1"}
	started := make(chan string, 10)
	release := make(chan struct{})
	d := New(1, nil, func(turn tandem.Turn) {
		started <- turn.ID
		<-release
	})
	d.RunTakesSlots = true // as the inbox: x runs beside a, not after its slot
	d.Wake(tandem.Turn{ID: "a", Session: key})
	if id := <-started; id != "a" {
		t.Fatalf("first run for %s, want a", id)
	}
	d.Wake(tandem.Turn{ID: "b", Session: key}) // a has started: b waits
	d.Wake(tandem.Turn{ID: "c", Session: key}) // b stands for c
	d.Wake(tandem.Turn{ID: "x", Session: tandem.SessionKey{ThreadTS: "2.2"}})
	close(release)
	d.Wait()
	close(started)
	var got []string
	for id := range started {
		got = append(got, id)
	}
	slices.Sort(got)
	if fmt.Sprint(got) != "[b x]" {
		t.Errorf("runs after the first: %v, want b and x", got)
	}
}

// TestDispatcherSlotsPerPool: a pool's slots (Slot, as a run that takes
// its slots itself calls it) bound its turns and leave other pools' free.
func TestDispatcherSlotsPerPool(t *testing.T) {
	d := New(2, nil, nil)
	_, r1 := d.Slot("github")
	_, r2 := d.Slot("github")
	got := make(chan func(), 1)
	go func() {
		_, r := d.Slot("github")
		got <- r
	}()
	_, gl := d.Slot("gitlab") // another pool: free at once
	select {
	case <-got:
		t.Fatal("a third GitHub slot was handed out with two taken")
	case <-time.After(50 * time.Millisecond):
	}
	r1()
	select {
	case r3 := <-got:
		r3()
	case <-time.After(10 * time.Second):
		t.Fatal("a freed GitHub slot was not handed out")
	}
	r2()
	gl()
}

// TestDispatcherFreeGivesBackThePoolSlotOnce: free gives a turn's pool
// slot to the next turn while the gate still counts the first, and
// release after free (or twice) never gives back a slot it no longer holds,
// which would let one more turn use the provider than the pool allows.
func TestDispatcherFreeGivesBackThePoolSlotOnce(t *testing.T) {
	d := New(1, nil, nil)
	d.Gate = &Gate{Min: 1, Max: 2}
	free, release := d.Slot("github")
	free()
	free()
	free2, release2 := d.Slot("github") // the slot free gave back
	if got := d.Gate.Running(); got != 2 {
		t.Errorf("the gate counts %d turns running, want 2 (free leaves the gate)", got)
	}
	release()
	release()
	third := make(chan struct{})
	go func() {
		_, r := d.Slot("github")
		close(third)
		r()
	}()
	select {
	case <-third:
		t.Fatal("a slot was handed out while the pool's one slot was taken: release after free gave it back again")
	case <-time.After(50 * time.Millisecond):
	}
	free2()
	release2()
	select {
	case <-third:
	case <-time.After(10 * time.Second):
		t.Fatal("the slot given back was not handed out")
	}
}

// TestDispatcherTakesAnotherProvidersSessionPastMaxSessions: with
// MaxSessions sessions of one provider here, a session whose turn needs
// another provider is still taken (up to concurrency of them), so a
// backlog at one provider never keeps another's turns in the store.
func TestDispatcherTakesAnotherProvidersSessionPastMaxSessions(t *testing.T) {
	release := make(chan struct{})
	d := New(1, func(t tandem.Turn) string { return t.Text }, func(tandem.Turn) { <-release })
	d.RunTakesSlots = true // as the inbox does: no slot held while waiting on release
	d.MaxSessions = 2
	turn := func(id, pool string) tandem.Turn {
		return tandem.Turn{ID: id, Text: pool, Session: tandem.SessionKey{ThreadTS: id}}
	}
	if !d.Wake(turn("gh1", "github")) || !d.Wake(turn("gh2", "github")) {
		t.Fatal("the first two sessions were turned away")
	}
	if d.Wake(turn("gh3", "github")) {
		t.Error("a third GitHub session was taken past MaxSessions")
	}
	if !d.Wake(turn("gl1", "gitlab")) {
		t.Error("a GitLab session was kept out by the GitHub sessions")
	}
	if d.Wake(turn("gl2", "gitlab")) {
		t.Error("a second GitLab session was taken past MaxSessions and its pool's share")
	}
	close(release)
	d.Wait()
	if n := d.Sessions(); n != 0 {
		t.Errorf("%d sessions left after every turn ran", n)
	}
}
