package turns

import (
	"context"
	"io"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/tandembot/tandem"
	"github.com/tandembot/tandem/ops"
	"github.com/tandembot/tandem/store"
)

// writeCounter is a real bbolt store that counts the writes made through
// it, each of which is one commit.
type writeCounter struct {
	*store.DB
	mu     sync.Mutex
	writes []string
}

func (w *writeCounter) count(name string) {
	w.mu.Lock()
	w.writes = append(w.writes, name)
	w.mu.Unlock()
}

func (w *writeCounter) take() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := w.writes
	w.writes = nil
	return out
}

func (w *writeCounter) StepTurn(ctx context.Context, id string, s tandem.TurnStep) error {
	w.count("step " + string(s.State))
	return w.DB.StepTurn(ctx, id, s)
}

func (w *writeCounter) AppendAudit(ctx context.Context, r tandem.AuditRecord) error {
	w.count("audit")
	return w.DB.AppendAudit(ctx, r)
}

func (w *writeCounter) UpdateSession(ctx context.Context, key tandem.SessionKey, fn func(*tandem.Session) error) (tandem.Session, error) {
	w.count("update session")
	return w.DB.UpdateSession(ctx, key, fn)
}

func (w *writeCounter) SetSetting(ctx context.Context, name, value string) error {
	w.count("setting")
	return w.DB.SetSetting(ctx, name, value)
}

// acmeProvider is a provider the operations only need to be there.
type acmeProvider struct{ tandem.Provider }

// acmeLinked resolves everyone's "acme" credentials to their own login.
type acmeLinked struct{}

func (acmeLinked) Credentials(_ context.Context, team, user string, p tandem.ProviderID, reason tandem.Reason) (tandem.Credentials, error) {
	return tandem.Credentials{Identity: tandem.Identity{SlackUser: user, Provider: p, Login: user + "-acme", Reason: reason}}, nil
}

// TestTurnWritesOnceAfterRecording: a read makes no write while it runs
// and one commit when done, which starts its session, adds its sender as an
// editor and holds its audit record; a change is marked running, with its
// audit record and session, in one commit before it reaches the provider,
// and done in one more. What each operation saw of the store while it ran
// is checked, not only the counts.
func TestTurnWritesOnceAfterRecording(t *testing.T) {
	db := &writeCounter{DB: openStore(t)}
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	key := tandem.SessionKey{Team: "T1", Channel: "C1", ThreadTS: "1.0"}
	type seen struct {
		state   tandem.TurnState
		audited int
		session bool
	}
	var during seen
	look := func(ctx context.Context, r ops.Request) {
		rec, err := db.TurnRecord(ctx, r.Turn.ID)
		if err != nil {
			t.Errorf("the running turn %s is not in the store: %v", r.Turn.ID, err)
		}
		recs, _ := db.Audit(ctx, tandem.AuditFilter{Session: &key})
		audited := 0
		for _, a := range recs {
			if a.TurnID == r.Turn.ID {
				audited++
			}
		}
		_, err = db.Session(ctx, key)
		during = seen{rec.State, audited, err == nil}
	}
	acme := []ops.Spec{
		{Name: "acme.read", Example: "acme read", Summary: "reads", Provider: "acme", Phrasings: []string{"acme read"},
			Run: func(ctx context.Context, r ops.Request) (tandem.Reply, error) {
				look(ctx, r)
				return tandem.Reply{Title: "read as " + r.Creds.Identity.Login}, nil
			}},
		{Name: "acme.change", Example: "acme change", Summary: "changes", Provider: "acme", Phrasings: []string{"acme change"}, Mutating: true,
			Run: func(ctx context.Context, r ops.Request) (tandem.Reply, error) {
				look(ctx, r)
				return tandem.Reply{Title: "changed as " + r.Creds.Identity.Login}, nil
			}},
	}
	e := New(Config{Store: db, Resolver: acmeLinked{}, Providers: map[tandem.ProviderID]tandem.Provider{"acme": acmeProvider{}},
		Operations: NewOperations(acme), Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Now: func() time.Time { return now }})

	steps := []struct {
		id, user, text string
		wantDuring     seen
		wantWrites     []string // while it runs, then when done
		wantEditors    []string
	}{
		{"E1", "UALICE", "acme read", seen{tandem.TurnPending, 0, false}, []string{"step done"}, nil},
		{"E2", "UBOB", "acme read", seen{tandem.TurnPending, 0, true}, []string{"step done"}, []string{"UBOB"}},
		{"E3", "UCAROL", "acme change", seen{tandem.TurnRunning, 1, true}, []string{"step running", "step done"}, []string{"UBOB", "UCAROL"}},
		{"E4", "UALICE", "acme change", seen{tandem.TurnRunning, 1, true}, []string{"step running", "step done"}, []string{"UBOB", "UCAROL"}},
	}
	for i, s := range steps {
		tr := tandem.Turn{ID: s.id, Session: key, User: s.user, Text: s.text, TS: "1.00" + s.id[1:], ReceivedAt: now}
		if _, err := db.RecordTurn(t.Context(), tr); err != nil {
			t.Fatal(err)
		}
		out := e.Run(t.Context(), tr, e.Parse(tr.Text), tandem.Hold{})
		if out.Err != nil || out.Identity == nil || out.Identity.Login != s.user+"-acme" {
			t.Fatalf("%s: err %v, identity %+v; want it run as %s", s.id, out.Err, out.Identity, s.user)
		}
		if during != s.wantDuring {
			t.Errorf("%s: while the operation ran the store held %+v, want %+v", s.id, during, s.wantDuring)
		}
		if err := e.Done(t.Context(), tr, out); err != nil {
			t.Fatal(err)
		}
		if got := db.take(); !slices.Equal(got, s.wantWrites) {
			t.Errorf("%s: writes %q, want %q (one commit each)", s.id, got, s.wantWrites)
		}
		rec, err := db.TurnRecord(t.Context(), s.id)
		if err != nil || rec.State != tandem.TurnDone {
			t.Errorf("%s after Done: %+v, %v", s.id, rec, err)
		}
		sess, err := db.Session(t.Context(), key)
		if err != nil || sess.Owner != "UALICE" || !slices.Equal(sess.Editors, s.wantEditors) {
			t.Errorf("after %s the session is %+v (%v), want owner UALICE, editors %v", s.id, sess, err, s.wantEditors)
		}
		recs, _ := db.Audit(t.Context(), tandem.AuditFilter{Session: &key})
		if len(recs) != i+1 || recs[i].TurnID != s.id || recs[i].Effective != s.user {
			t.Errorf("after %s the audit trail is %+v, want one record per turn, this one as %s", s.id, recs, s.user)
		}
	}
}
