package turns

import (
	"context"
	"strings"
	"testing"

	"github.com/tandembot/tandem"
	"github.com/tandembot/tandem/agent"
)

// persistentPropFixture is a propFixture whose session UALICE owns in
// persistent mode, with UBOB on its editors list, and whose People say
// who is in the workspace and the channel.
func persistentPropFixture(t *testing.T) (*propFixture, *schPeople) {
	t.Helper()
	f := newPropFixture(t)
	people := &schPeople{}
	f.e.cfg.People = people
	if out := f.run(t, tandem.Turn{ID: "E0", Session: f.key, User: "UALICE", Text: "acme read", TS: "1.000", ReceivedAt: f.clock.Now()}); out.Err != nil {
		t.Fatalf("the owner's first turn: %v", out.Err)
	}
	if _, err := f.db.UpdateSession(t.Context(), f.key, func(s *tandem.Session) error {
		s.Editors = []string{"UALICE", "UBOB"}
		s.Env = map[string]string{tandem.EnvKeepCredentialsPersistent: "true"}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return f, people
}

// leaveChannel takes user out of the session's channel, as Slack's
// conversations.members will say from now on.
func (p *schPeople) leaveChannel(user string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.notMember == nil {
		p.notMember = map[string]bool{}
	}
	p.notMember[user] = true
}

// TestEditorsAgentTurnStopsWhenTheOwnerLeavesTheChannel: an editor's
// free-form request in a persistent session acts as the owner at each read
// only while the owner is still in the session's channel, as an API key's
// turn does only while its creator is in the conversation: an owner who
// leaves while the model plans is not acted for by the reads it asks for
// next (once Slack is asked again, creatorFresh after it last vouched).
func TestEditorsAgentTurnStopsWhenTheOwnerLeavesTheChannel(t *testing.T) {
	f, people := persistentPropFixture(t)
	read := agent.Reply{Calls: []agent.ToolCall{{Name: "acme_read", Arguments: `{}`}}}
	model := &stepModel{steps: []modelStep{{reply: read}, {before: func() {
		people.leaveChannel("UALICE")
		f.clock.Advance(creatorFresh)
	}, reply: read}}}
	f.e.cfg.Agent.Planner = &agent.Planner{Model: model}
	out := f.run(t, tandem.Turn{ID: "E1", Session: f.key, User: "UBOB", Text: "please read acme twice", TS: "1.001", ReceivedAt: f.clock.Now()})
	reads := 0
	for _, s := range model.seen {
		if strings.Contains(s, "read as UALICE-acme") {
			reads++
		}
	}
	if reads != 1 {
		t.Errorf("the model was answered %d reads as the owner (%q), want 1: none after the owner left the channel", reads, model.seen)
	}
	if tandem.ErrorCode(out.Err) != tandem.EFORBIDDEN || !strings.Contains(tandem.ErrorMessage(out.Err), "no longer in this channel") {
		t.Errorf("the editor's agent turn after the owner left: %v; want refused, the owner no longer in this channel", out.Err)
	}
}

// TestEditorsConfirmationStopsWhenTheOwnerLeavesTheChannel: the changes an
// editor confirms in a persistent session are made as the owner one by
// one, each only while the owner is still in the session's channel: one
// that comes after the owner left (once Slack is asked again) is not made.
func TestEditorsConfirmationStopsWhenTheOwnerLeavesTheChannel(t *testing.T) {
	f, people := persistentPropFixture(t)
	confirm := editorConfirmsTwoChanges(t, f)
	f.onChange = func() {
		people.leaveChannel("UALICE")
		f.clock.Advance(creatorFresh)
	}
	out := f.run(t, confirm)
	if n := f.changes.Load(); n != 1 {
		t.Errorf("%d changes made as %v; want only the one made before the owner left the channel", n, f.logins)
	}
	if !strings.Contains(out.Reply.Title, "Some changes were not made") {
		t.Errorf("the confirmation's reply: %+v (err %v); want it to say the second change was not made", out.Reply, out.Err)
	}
}

// TestEditorsConfirmationStopsWhenTheOwnerTurnsPersistentModeOff: the
// owner who turns persistent mode off (Session settings, which acts
// outside the session's turns) while an editor's confirmation makes its
// changes as the owner withdraws it from the next change: that one is not
// made as the owner, nor as anyone else, and the refusal is audited, as
// an agent turn's next read is not run after a mode change.
func TestEditorsConfirmationStopsWhenTheOwnerTurnsPersistentModeOff(t *testing.T) {
	f, _ := persistentPropFixture(t)
	confirm := editorConfirmsTwoChanges(t, f)
	f.onChange = func() {
		f.onChange = nil
		// What the settings modal's Save of "per-message" does: no turn.
		sess, err := f.db.Session(context.Background(), f.key)
		if err != nil {
			t.Error(err)
			return
		}
		if _, err := f.e.SetVar(context.Background(), tandem.Turn{Session: f.key, User: "UALICE"}, sess, tandem.EnvKeepCredentialsPersistent, "false"); err != nil {
			t.Error(err)
		}
	}
	out := f.run(t, confirm)
	if got := strings.Join(f.logins, ","); got != "UALICE-acme" {
		t.Errorf("acme.change received the credentials of %s; want only UALICE-acme, for the change made before the owner turned persistent mode off", got)
	}
	if !strings.Contains(out.Reply.Title, "Some changes were not made") {
		t.Errorf("the confirmation's reply: %+v (err %v); want it to say the second change was not made", out.Reply, out.Err)
	}
	refusedAudit(t, f, confirm.ID)
}

// editorConfirmsTwoChanges runs UBOB's agent turn in f's persistent
// session (UALICE's), which proposes two acme changes as UALICE, has UBOB
// press Do it, and returns the confirmation turn it submitted, not yet
// run.
func editorConfirmsTwoChanges(t *testing.T, f *propFixture) tandem.Turn {
	t.Helper()
	two := agent.Reply{Calls: []agent.ToolCall{
		{Name: "acme_change", Arguments: `{"text":"one"}`},
		{Name: "acme_change", Arguments: `{"text":"two"}`},
	}}
	f.e.cfg.Agent.Planner = &agent.Planner{Model: &stepModel{steps: []modelStep{{reply: two}}}}
	out := f.run(t, tandem.Turn{ID: "E1", Session: f.key, User: "UBOB", Text: "please make two acme changes", TS: "1.001", ReceivedAt: f.clock.Now()})
	if out.Err != nil || out.Proposal == nil || len(out.Proposal.Changes) != 2 || out.Proposal.User != "UALICE" {
		t.Fatalf("the editor's agent turn: %v, proposal %+v; want two changes as UALICE", out.Err, out.Proposal)
	}
	if _, card := f.e.Press(t.Context(), out.Proposal.ID, "UBOB", true); !strings.Contains(card, "Confirmed by <@UBOB>") {
		t.Fatalf("bob's press: card %q", card)
	}
	subs := f.chat.take()
	if len(subs) != 1 {
		t.Fatalf("%d turns submitted, want the confirmation", len(subs))
	}
	return subs[0]
}
