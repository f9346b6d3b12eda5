package inbox

import (
	"context"
	"github.com/tandembot/tandem/internal/countingstore"
	"io"
	"log/slog"
	"maps"
	"sync"
	"testing"
	"time"

	gocmp "github.com/google/go-cmp/cmp"
	"github.com/tandembot/tandem"
	"github.com/tandembot/tandem/turns"
)

// parseCounter is a Config.Parse that counts the parses of each text.
type parseCounter struct {
	mu     sync.Mutex
	counts map[string]int
}

func (p *parseCounter) parse(text string) turns.Command {
	p.mu.Lock()
	if p.counts == nil {
		p.counts = map[string]int{}
	}
	p.counts[text]++
	p.mu.Unlock()
	return turns.Operations{}.Parse(text)
}

func (p *parseCounter) parses() map[string]int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return maps.Clone(p.counts)
}

// TestRunSessionReadsOnlyItsSessionAndParsesEachTurnOnce: running a
// session picks each of its turns with one read of that session's next
// turn, never a read of every unfinished turn, runs them in the order they
// were sent whatever order they were recorded in, leaves other sessions'
// turns alone, and parses each turn's text once; a command kept when its
// message was recognised is not parsed again.
func TestRunSessionReadsOnlyItsSessionAndParsesEachTurnOnce(t *testing.T) {
	st := countingstore.Open(t)
	ctx := context.Background()
	a := tandem.SessionKey{Team: "T1", Channel: "C1", ThreadTS: "1700000000.000100"}
	other := tandem.SessionKey{Team: "T1", Channel: "C1", ThreadTS: "1700000000.000200"}
	now := time.Now()
	recorded := []tandem.Turn{ // in the order recorded
		{ID: "Ev3", Session: a, Text: "frobnicate the widgets", TS: "1700000000.000900"},
		{ID: "Ev1", Session: a, Text: "help", TS: "1700000000.000100"},
		{ID: "EvOther", Session: other, Text: "commands", TS: "1700000000.000200"},
		{ID: "Ev2", Session: a, Text: "what can you do", TS: "1700000000.000500"},
		{ID: "Ev0", Session: a, Text: "help me", TS: "1700000000.000050"},
		{ID: "Ev4", Session: a, Text: "kept", TS: "1700000000.000950"},
	}
	for _, tr := range recorded {
		tr.User, tr.ReceivedAt = "UALICE", now
		if _, err := st.RecordTurn(ctx, tr); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.SetTurnState(ctx, "Ev0", tandem.TurnDone); err != nil {
		t.Fatal(err)
	}

	var pc parseCounter
	type ran struct {
		ID      string
		Command bool // the text is a command
	}
	var order []ran
	r := New(Config{
		Store: st,
		Queue: fakeQueue{},
		Run: func(j Job) bool {
			order = append(order, ran{j.Turn.ID, j.Cmd.Err() == nil})
			if err := st.SetTurnState(ctx, j.Turn.ID, tandem.TurnDone); err != nil {
				t.Error(err)
				return false
			}
			return true
		},
		Interrupted: func(context.Context, tandem.Turn) { t.Error("a pending turn was called interrupted") },
		Parse:       pc.parse,
		Logger:      slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	r.Keep(recorded[5], turns.Operations{}.Parse("help"))
	r.RunSession(recorded[0])

	unfinished, next := st.Counts()
	if unfinished != 0 {
		t.Errorf("running a session read every unfinished turn %d times, want 0", unfinished)
	}
	// One read per turn picked, and one that finds the session done.
	if d := gocmp.Diff(next, map[tandem.SessionKey]int{a: 5}); d != "" {
		t.Errorf("NextTurn calls by session (-got +want):\n%s", d)
	}
	if d := gocmp.Diff(pc.parses(), map[string]int{"help": 1, "what can you do": 1, "frobnicate the widgets": 1}); d != "" {
		t.Errorf("parses by text (-got +want):\n%s", d)
	}
	want := []ran{{"Ev1", true}, {"Ev2", true}, {"Ev3", false}, {"Ev4", true}}
	if d := gocmp.Diff(order, want); d != "" {
		t.Errorf("turns run, in order (-got +want):\n%s", d)
	}
	if n := r.Kept(); n != 0 {
		t.Errorf("%d kept commands left after their turns ran", n)
	}
	for id, want := range map[string]tandem.TurnState{"Ev1": tandem.TurnDone, "Ev2": tandem.TurnDone, "Ev3": tandem.TurnDone, "Ev4": tandem.TurnDone, "EvOther": tandem.TurnPending} {
		if r, err := st.TurnRecord(ctx, id); err != nil || r.State != want {
			t.Errorf("turn %s: %s, %v; want %s", id, r.State, err, want)
		}
	}
}
