package bot

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
	"github.com/slack-go/slack"
	"github.com/tandembot/tandem"
	"github.com/tandembot/tandem/internal/fakeslack"
	"github.com/tandembot/tandem/turns"
)

// countParses makes parseText count the parses of each text until t ends.
// Call it before a bot starts, so that the bot is stopped when it is undone.
func countParses(t *testing.T) func() map[string]int {
	t.Helper()
	var mu sync.Mutex
	counts := map[string]int{}
	saved := parseText
	parseText = func(o turns.Operations, text string) turns.Command {
		mu.Lock()
		counts[text]++
		mu.Unlock()
		return o.Parse(text)
	}
	t.Cleanup(func() { parseText = saved })
	return func() map[string]int {
		mu.Lock()
		defer mu.Unlock()
		return maps.Clone(counts)
	}
}

// fakeSlack starts a fake Slack with one channel and returns it with a
// client for the bot.
func fakeSlack(t *testing.T) (*fakeslack.Server, *slack.Client) {
	t.Helper()
	sl := fakeslack.New(fakeslack.Options{
		Users:        []fakeslack.User{{ID: "UALICE", Name: "alice"}},
		Channels:     []fakeslack.Channel{{ID: "C1", Name: "shared"}},
		PingInterval: 200 * time.Millisecond,
	})
	if err := sl.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sl.Close)
	api := slack.New(sl.BotToken(), slack.OptionAppLevelToken(sl.AppToken()), slack.OptionAPIURL(sl.APIURL()))
	return sl, api
}

// repliesIn returns the bot's replies in a thread, in the order posted.
func repliesIn(sl *fakeslack.Server, threadTS string) []string {
	var out []string
	for _, m := range sl.Messages() {
		if m.Method == "chat.postMessage" && m.ThreadTS == threadTS {
			out = append(out, m.Text)
		}
	}
	return out
}

// TestEventTurnsAreParsedOnce runs the bot on a fake Slack: a turn another
// process left in the inbox, a mention, a plain command in a session's
// thread (parsed to recognise it as a turn) and a message that is no
// command are each parsed once, from the event to the reply.
func TestEventTurnsAreParsedOnce(t *testing.T) {
	parses := countParses(t)
	sl, api := fakeSlack(t)
	st := countingstore.Open(t)
	db := st.DB
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	left := tandem.Turn{
		ID: "EvLeft", Session: tandem.SessionKey{Team: "T0TANDEM", Channel: "C1", ThreadTS: "1700000000.000100"},
		User: "UALICE", Text: "commands", TS: "1700000000.000100", ReceivedAt: time.Now(),
	}
	if _, err := db.RecordTurn(ctx, left); err != nil {
		t.Fatal(err)
	}
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

	waitReplies := func(threadTS string, n int) {
		t.Helper()
		err := sl.WaitFor(ctx, func() bool { return len(repliesIn(sl, threadTS)) >= n })
		if err != nil {
			t.Fatalf("waiting for %d replies in %s: %v (got %q)", n, threadTS, err, repliesIn(sl, threadTS))
		}
		// A session's run goes on after its reply, to find its next turn:
		// a message recorded before that read and kept only after it would
		// be parsed again (the command is kept after the turn is recorded),
		// so the next message waits for the run to end.
		for b.OpenSessions() != 0 {
			select {
			case <-ctx.Done():
				t.Fatal("waiting for the session's run to end")
			case <-time.After(time.Millisecond):
			}
		}
	}
	waitReplies(left.TS, 1)
	if err := sl.WaitFor(ctx, b.Ready); err != nil {
		t.Fatal(err)
	}
	root := sl.NextTS()
	send := func(ev map[string]any) {
		t.Helper()
		if _, err := sl.SendEvent(ctx, ev); err != nil {
			t.Fatal(err)
		}
	}
	send(fakeslack.AppMentionEvent("C1", "UALICE", "<@U0BOT> help", root, ""))
	waitReplies(root, 1)
	send(fakeslack.MessageEvent("C1", "UALICE", "what can you do", sl.NextTS(), root))
	waitReplies(root, 2)
	send(fakeslack.AppMentionEvent("C1", "UALICE", "<@U0BOT> frobnicate the widgets", sl.NextTS(), root))
	waitReplies(root, 3)
	// Not a command, so no turn: parsed once to find out.
	send(fakeslack.MessageEvent("C1", "UALICE", "thanks, that helps", sl.NextTS(), root))

	want := map[string]int{"commands": 1, "help": 1, "what can you do": 1, "frobnicate the widgets": 1, "thanks, that helps": 1}
	if d := gocmp.Diff(parses(), want); d != "" {
		t.Errorf("parses by text (-got +want):\n%s", d)
	}
	if n := b.inbox.Kept(); n != 0 {
		t.Errorf("%d parsed commands kept after their turns ran", n)
	}
	_, next := st.Counts()
	for key, n := range next {
		if key != left.Session && key.ThreadTS != root {
			t.Errorf("NextTurn read session %s (%d times), which had no turn", key, n)
		}
	}
}
