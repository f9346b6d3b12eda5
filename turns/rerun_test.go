package turns

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/tandembot/tandem"
)

// submitted records the turns an Engine submits.
type submitted struct {
	mu    sync.Mutex
	turns []string
}

func (c *submitted) CheckMember(context.Context, tandem.APIKey, string) error { return nil }
func (c *submitted) StartThread(context.Context, string, string) (string, error) {
	return "", nil
}
func (c *submitted) Submit(t tandem.Turn) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.turns = append(c.turns, t.ID)
}

func (c *submitted) take() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := c.turns
	c.turns = nil
	return out
}

// TestRerunAfterLink: a link re-runs, once, exactly the recent turns of its
// user that failed for want of it in its workspace, whatever path made it;
// not a turn of someone else, for another provider or workspace, through
// an API key, older than the window, or a re-run.
func TestRerunAfterLink(t *testing.T) {
	ctx := context.Background()
	db := openStore(t)
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	chat := &submitted{}
	e := New(Config{Store: db, Resolver: &notConnected{}, Chat: chat,
		Providers:  map[tandem.ProviderID]tandem.Provider{tandem.GitHub: nil, tandem.GitLab: nil},
		Operations: testOperations,
		Logger:     slog.New(slog.NewTextHandler(io.Discard, nil)), Now: func() time.Time { return now }})
	key := tandem.SessionKey{Team: "T1", Channel: "C1", ThreadTS: "1.0"}
	other := tandem.SessionKey{Team: "T2", Channel: "C1", ThreadTS: "1.0"}
	run := func(t1 tandem.Turn) Result {
		t.Helper()
		t1.ReceivedAt = now
		if t1.TS == "" {
			t1.TS = t1.ID
		}
		if _, err := db.RecordTurn(ctx, t1); err != nil {
			t.Fatal(err)
		}
		return e.Run(ctx, t1, Parse(t1.Text), tandem.Hold{})
	}
	prs := "list my open PRs"
	stale := run(tandem.Turn{ID: "Eold", Session: key, User: "UCAROL", Text: prs})
	now = now.Add(10 * time.Minute)
	waits := run(tandem.Turn{ID: "E1", Session: key, User: "UCAROL", Text: prs})
	results := map[string]Result{
		"Eold":  stale,
		"E1":    waits,
		"E2":    run(tandem.Turn{ID: "E2", Session: key, User: "UCAROL", Text: "list my open MRs"}),
		"E3":    run(tandem.Turn{ID: "E3", Session: key, User: "UBOB", Text: prs}),
		"E4":    run(tandem.Turn{ID: "E4", Session: other, User: "UCAROL", Text: prs}),
		"api-1": run(tandem.Turn{ID: "api-1", Session: key, User: "UCAROL", Text: prs, APIKey: "tdm_abc", APIKeyName: "ci"}),
	}
	awaits := map[string]tandem.ProviderID{}
	for id, r := range results {
		awaits[id] = r.Awaits
	}
	if diff := cmp.Diff(awaits, map[string]tandem.ProviderID{"Eold": "github", "E1": "github", "E2": "gitlab", "E3": "github", "E4": "github", "api-1": ""}); diff != "" {
		t.Errorf("what each failed turn waits for (-got +want):\n%s", diff)
	}

	// Twenty-one minutes after Eold: it is past the window.
	now = now.Add(21 * time.Minute)
	carol := tandem.Link{Team: "T1", User: "UCAROL", Provider: tandem.GitHub}
	if err := e.RerunAfterLink(ctx, carol, ""); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(chat.take(), []string{"E1/rerun/github"}); diff != "" {
		t.Errorf("re-run after Carol's link (-got +want):\n%s", diff)
	}
	// Another path, and the button's own turn as a hint: nothing runs twice.
	for _, hint := range []string{"", "E1", "E1/rerun/github"} {
		if err := e.RerunAfterLink(ctx, carol, hint); err != nil {
			t.Fatal(err)
		}
	}
	if got := chat.take(); len(got) != 0 {
		t.Errorf("a second link re-ran %v", got)
	}
	rec, err := db.TurnRecord(ctx, "E1/rerun/github")
	if err != nil || !rec.Turn.Rerun || rec.Turn.User != "UCAROL" {
		t.Fatalf("the re-run's record: %+v, %v", rec, err)
	}

	// The re-run failing again waits for nothing: it never runs a third time.
	if r := e.Run(ctx, rec.Turn, Parse(rec.Turn.Text), tandem.Hold{}); r.Awaits != "" || r.Outcome != tandem.OutcomeNotConfigured {
		t.Errorf("the re-run: outcome %s, awaits %q; want not configured, awaiting nothing", r.Outcome, r.Awaits)
	}
	if err := e.RerunAfterLink(ctx, carol, "E1/rerun/github"); err != nil {
		t.Fatal(err)
	}
	if got := chat.take(); len(got) != 0 {
		t.Errorf("a link after the re-run failed re-ran %v", got)
	}
}
