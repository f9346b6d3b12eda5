package turns

import (
	"context"
	"github.com/tandembot/tandem/internal/countingstore"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/tandembot/tandem"
	"github.com/tandembot/tandem/store"
)

// notConnected resolves nobody's credentials, and records who was asked.
type notConnected struct {
	mu    sync.Mutex
	asked []string
}

func (r *notConnected) Credentials(_ context.Context, team, user string, p tandem.ProviderID, reason tandem.Reason) (tandem.Credentials, error) {
	r.mu.Lock()
	r.asked = append(r.asked, user+"/"+string(reason))
	r.mu.Unlock()
	return tandem.Credentials{}, &tandem.NotConnectedError{Team: team, User: user, Provider: p}
}

// openStore opens a real bbolt store in t's temporary directory.
func openStore(t *testing.T) *store.DB { return countingstore.Open(t).DB }

// runToDone records t, runs it and marks it done, as the transport does.
func runToDone(t *testing.T, db *store.DB, e *Engine, tr tandem.Turn) Result {
	t.Helper()
	if _, err := db.RecordTurn(t.Context(), tr); err != nil {
		t.Fatal(err)
	}
	out := e.Run(t.Context(), tr, Parse(tr.Text), tandem.Hold{})
	if err := e.Done(t.Context(), tr, out); err != nil {
		t.Fatalf("Done %s: %v", tr.ID, err)
	}
	return out
}

// TestRunResolvesTheIdentityByTheRule: in a persistent session a message of
// someone who is not an editor is refused without resolving anyone's
// credentials, and an API key acts as its creator whatever the mode; the
// audit trail says which row applied.
func TestRunResolvesTheIdentityByTheRule(t *testing.T) {
	ctx := context.Background()
	db := openStore(t)
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	key := tandem.SessionKey{Team: "T1", Channel: "C1", ThreadTS: "1.0"}
	if _, _, err := db.EnsureSession(ctx, tandem.Session{Key: key, Owner: "UOWNER", CreatedAt: now,
		Env: map[string]string{tandem.EnvKeepCredentialsPersistent: "true"}}); err != nil {
		t.Fatal(err)
	}
	r := &notConnected{}
	e := New(Config{Store: db, Resolver: r, Providers: map[tandem.ProviderID]tandem.Provider{tandem.GitHub: nil},
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Now: func() time.Time { return now }})

	out := runToDone(t, db, e, tandem.Turn{ID: "E1", Session: key, User: "UOUT", Text: "list my open PRs", TS: "1.1", ReceivedAt: now})
	if tandem.ErrorCode(out.Err) != tandem.EFORBIDDEN || out.Outcome != tandem.OutcomeRefused || out.Identity != nil {
		t.Errorf("outsider: err %v, outcome %s, identity %v; want a refusal as nobody", out.Err, out.Outcome, out.Identity)
	}

	if err := db.SaveAPIKey(ctx, tandem.APIKey{Prefix: "tdm_abc", Hash: "hash-abc", Name: "ci", Team: "T1", Creator: "UCREATOR", CreatedAt: now}); err != nil {
		t.Fatal(err)
	}
	out = runToDone(t, db, e, tandem.Turn{ID: "api-1", Session: key, User: "UCREATOR", Text: "list my open PRs", TS: "api-1", ReceivedAt: now,
		APIKey: "tdm_abc", APIKeyName: "ci"})
	if out.Outcome != tandem.OutcomeNotConfigured || out.ViaKey != "ci" {
		t.Errorf("api key: outcome %s via %q, want not configured via ci", out.Outcome, out.ViaKey)
	}
	if diff := cmp.Diff(r.asked, []string{"UCREATOR/" + string(tandem.ReasonAPIKeyCreator)}); diff != "" {
		t.Errorf("credentials asked for (-got +want):\n%s", diff)
	}

	recs, err := db.Audit(ctx, tandem.AuditFilter{Session: &key})
	if err != nil {
		t.Fatal(err)
	}
	type row struct {
		Turn, Actor, Effective string
		Reason                 tandem.Reason
		Outcome                tandem.Outcome
	}
	var got []row
	for _, rec := range recs {
		got = append(got, row{rec.TurnID, rec.Actor, rec.Effective, rec.Reason, rec.Outcome})
	}
	want := []row{
		{"E1", "UOUT", "", tandem.ReasonRefusedNotEditor, tandem.OutcomeRefused},
		{"api-1", "apikey:tdm_abc", "UCREATOR", tandem.ReasonAPIKeyCreator, tandem.OutcomeNotConfigured},
	}
	if diff := cmp.Diff(got, want, cmpopts.SortSlices(func(a, b row) bool { return a.Turn < b.Turn })); diff != "" {
		t.Errorf("audit (-got +want):\n%s", diff)
	}
}
