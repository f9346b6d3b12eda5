package turns

import (
	"context"
	"strings"
	"sync"
	"testing"

	"github.com/tandembot/tandem"
	"github.com/tandembot/tandem/agent"
	"github.com/tandembot/tandem/ops"
)

// relinkingResolver resolves everyone's "acme" credentials to their own
// login, until relink gives a person's link another account (a new
// login), as their Connect from another browser tab would.
type relinkingResolver struct {
	mu    sync.Mutex
	other map[string]bool
}

func (r *relinkingResolver) relink(user string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.other == nil {
		r.other = map[string]bool{}
	}
	r.other[user] = true
}

func (r *relinkingResolver) Credentials(_ context.Context, team, user string, p tandem.ProviderID, reason tandem.Reason) (tandem.Credentials, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	login := user + "-acme"
	if r.other[user] {
		login = user + "-other-acme"
	}
	return tandem.Credentials{Identity: tandem.Identity{Team: team, SlackUser: user, Provider: p, Login: login, Reason: reason}}, nil
}

// TestATurnStopsWhenItsAccountIsRelinked: a turn acts with the account it
// started with. An agent turn resolves its identity's credentials at each
// read, and a confirmation at each change: when the person whose identity
// the turn uses relinks another account between two of them, the next
// one reaches no provider as the new account; the turn stops, refused and
// audited. Persistent mode is no exception: an editor's turn acts with the
// owner's account it started with.
func TestATurnStopsWhenItsAccountIsRelinked(t *testing.T) {
	read := agent.Reply{Calls: []agent.ToolCall{{Name: "acme_read", Arguments: `{}`}}}
	for _, tt := range []struct {
		name       string
		persistent bool
		sender     string
		as         string
	}{
		{"per-message", false, "UBOB", "UBOB"},
		{"an editor of a persistent session", true, "UBOB", "UALICE"},
	} {
		t.Run("reads of "+tt.name, func(t *testing.T) {
			f, reads, res := relinkFixture(t, tt.persistent)
			model := &stepModel{steps: []modelStep{{reply: read}, {before: func() { res.relink(tt.as) }, reply: read}}}
			f.e.cfg.Agent.Planner = &agent.Planner{Model: model}
			out := f.run(t, tandem.Turn{ID: "E1", Session: f.key, User: tt.sender, Text: "please read acme twice", TS: "1.001", ReceivedAt: f.clock.Now()})
			if got, want := reads(), []string{tt.as + "-acme"}; strings.Join(got, ",") != strings.Join(want, ",") {
				t.Errorf("acme.read received the credentials of %v; want only %v (the account the turn started with)", got, want)
			}
			if tandem.ErrorCode(out.Err) != tandem.ECONFLICT || out.Outcome != tandem.OutcomeRefused {
				t.Errorf("Run = %v (%s), want ECONFLICT, refused", out.Err, out.Outcome)
			}
			refusedAudit(t, f, "E1")
		})
	}
	t.Run("changes of a confirmation", func(t *testing.T) {
		f, _, res := relinkFixture(t, false)
		two := agent.Reply{Calls: []agent.ToolCall{
			{Name: "acme_change", Arguments: `{"text":"first"}`},
			{Name: "acme_change", Arguments: `{"text":"second"}`},
		}}
		f.e.cfg.Agent.Planner = &agent.Planner{Model: &stepModel{steps: []modelStep{{reply: two}}}}
		out := f.run(t, tandem.Turn{ID: "E1", Session: f.key, User: "UBOB", Text: "make two acme changes", TS: "1.001", ReceivedAt: f.clock.Now()})
		if out.Proposal == nil || len(out.Proposal.Changes) != 2 {
			t.Fatalf("agent turn: %v, proposal %+v; want two changes proposed", out.Err, out.Proposal)
		}
		f.onChange = func() { res.relink("UBOB") }
		f.e.Press(t.Context(), out.Proposal.ID, "UBOB", true)
		turns := f.chat.take()
		if len(turns) != 1 {
			t.Fatalf("the press submitted %d turns, want 1", len(turns))
		}
		f.run(t, turns[0])
		if got := strings.Join(f.logins, ","); got != "UBOB-acme" {
			t.Errorf("acme.change received the credentials of %s; want only UBOB-acme (the account the confirmation started with)", got)
		}
		refusedAudit(t, f, turns[0].ID)
	})
}

// relinkFixture is a propFixture whose credentials come from a
// relinkingResolver, and whose acme.read records the login it received;
// persistent makes UALICE's session persistent with UBOB on its editors.
func relinkFixture(t *testing.T, persistent bool) (*propFixture, func() []string, *relinkingResolver) {
	t.Helper()
	var f *propFixture
	if persistent {
		f, _ = persistentPropFixture(t)
	} else {
		f = newPropFixture(t)
	}
	res := &relinkingResolver{}
	f.e.cfg.Resolver = res
	var mu sync.Mutex
	var reads []string
	var specs []ops.Spec
	for _, s := range f.e.cfg.Operations.Specs() {
		if s.Provider == "acme" {
			specs = append(specs, s)
		}
	}
	for i := range specs {
		if specs[i].Name == "acme.read" {
			specs[i].Run = func(ctx context.Context, r ops.Request) (tandem.Reply, error) {
				mu.Lock()
				reads = append(reads, r.Creds.Identity.Login)
				mu.Unlock()
				return tandem.Reply{Title: "read as " + r.Creds.Identity.Login}, nil
			}
		}
	}
	f.e.cfg.Operations = NewOperations(specs)
	return f, func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), reads...)
	}, res
}

// refusedAudit fails unless turn id's audit trail holds a refusal.
func refusedAudit(t *testing.T, f *propFixture, id string) {
	t.Helper()
	recs, err := f.db.Audit(t.Context(), tandem.AuditFilter{Session: &f.key})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range recs {
		if r.TurnID == id && r.Outcome == tandem.OutcomeRefused {
			return
		}
	}
	t.Errorf("turn %s's audit trail holds no refusal: %+v", id, recs)
}
