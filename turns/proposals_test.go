package turns

import (
	"cmp"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tandembot/tandem/internal/testclock"

	"github.com/tandembot/tandem"
	"github.com/tandembot/tandem/agent"
	"github.com/tandembot/tandem/ops"
	"github.com/tandembot/tandem/store"
)

// propModel is an in-process agent.Model: it asks for the change tool once,
// with text ("ship it" when empty), then answers.
type propModel struct{ text string }

func (m propModel) Complete(_ context.Context, c agent.Conversation) (agent.Reply, error) {
	if last := c.Messages[len(c.Messages)-1]; last.Role == agent.RoleTool {
		return agent.Reply{Text: "I can do that once you confirm."}, nil
	}
	text := cmp.Or(m.text, "ship it")
	args, err := json.Marshal(map[string]string{"text": text})
	if err != nil {
		return agent.Reply{}, err
	}
	return agent.Reply{Calls: []agent.ToolCall{{Name: "acme_change", Arguments: string(args)}}}, nil
}

// cardShows stands in for the bot's proposal card (bot.showsChanges): it
// shows a list whose summaries, escaped, take at most 3,000 bytes in all.
func cardShows(summaries []string) bool {
	n := 0
	for _, s := range summaries {
		n += len(tandem.Escape(s))
	}
	return n <= 3000
}

// propChat records the turns submitted to it.
type propChat struct {
	mu        sync.Mutex
	submitted []tandem.Turn
	onSubmit  func()          // called after each Submit, when set
	gone      map[string]bool // creators no longer in any conversation
}

func (c *propChat) CheckMember(_ context.Context, key tandem.APIKey, channel string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gone[key.Creator] {
		return tandem.Errorf(tandem.ECHANNELNOTALLOWED, "API key %s acts as %s, who is not a member of %s.", key.Name, key.Creator, channel)
	}
	return nil
}

// leave takes user out of every conversation.
func (c *propChat) leave(user string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gone == nil {
		c.gone = map[string]bool{}
	}
	c.gone[user] = true
}
func (c *propChat) StartThread(context.Context, string, string) (string, error) {
	return "", tandem.Errorf(tandem.EFORBIDDEN, "no threads here")
}
func (c *propChat) Submit(t tandem.Turn) {
	c.mu.Lock()
	c.submitted = append(c.submitted, t)
	then := c.onSubmit
	c.mu.Unlock()
	if then != nil {
		then()
	}
}
func (c *propChat) take() []tandem.Turn {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := c.submitted
	c.submitted = nil
	return out
}

// propFixture is an Engine on a real bbolt store whose only operations are
// acme.read and acme.change; changes counts (and records the login of)
// each run of acme.change.
type propFixture struct {
	db      *store.DB
	e       *Engine
	chat    *propChat
	clock   *testclock.Clock
	key     tandem.SessionKey
	changes atomic.Int32
	mu      sync.Mutex
	logins  []string
	n       int
	// onChange, when set, runs after each acme.change is made.
	onChange func()
}

func newPropFixture(t *testing.T) *propFixture {
	f := &propFixture{db: openStore(t), chat: &propChat{}, key: tandem.SessionKey{Team: "T1", Channel: "C1", ThreadTS: "1.0"},
		clock: testclock.New(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))}
	specs := []ops.Spec{
		{Name: "acme.read", Example: "acme read", Summary: "reads acme", Provider: "acme", Phrasings: []string{"acme read"},
			Run: func(ctx context.Context, r ops.Request) (tandem.Reply, error) {
				return tandem.Reply{Title: "read as " + r.Creds.Identity.Login}, nil
			}},
		{Name: "acme.change", Example: "acme change hello", Summary: "changes acme", Provider: "acme", Mutating: true,
			Phrasings: []string{"acme change {text}"}, Args: []ops.Arg{{Name: "text", Kind: ops.Text, Description: "what to change"}},
			Run: func(ctx context.Context, r ops.Request) (tandem.Reply, error) {
				f.changes.Add(1)
				f.mu.Lock()
				f.logins = append(f.logins, r.Creds.Identity.Login)
				then := f.onChange
				f.mu.Unlock()
				if then != nil {
					then()
				}
				return tandem.Reply{Title: "changed as " + r.Creds.Identity.Login}, nil
			}},
	}
	f.e = New(Config{Store: f.db, Resolver: acmeLinked{}, Providers: map[tandem.ProviderID]tandem.Provider{"acme": acmeProvider{}},
		Operations: NewOperations(specs), Chat: f.chat, ShowsChanges: cardShows, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Now: f.clock.Now,
		Agent: &Agent{Planner: &agent.Planner{Model: propModel{}}, Tools: agent.Tools(specs), MaxCalls: 8, Timeout: time.Minute}})
	return f
}

// run records tr, runs it and marks it done, as the transport does.
func (f *propFixture) run(t *testing.T, tr tandem.Turn) Result {
	t.Helper()
	if _, err := f.db.RecordTurn(t.Context(), tr); err != nil {
		t.Fatal(err)
	}
	out := f.e.Run(t.Context(), tr, f.e.Parse(tr.Text), tandem.Hold{})
	if err := f.e.Done(t.Context(), tr, out); err != nil {
		t.Fatalf("Done %s: %v", tr.ID, err)
	}
	return out
}

// propose runs an agent turn by user that proposes one change, and returns
// the proposal.
func (f *propFixture) propose(t *testing.T, user string) *Proposal {
	t.Helper()
	f.n++
	id := "E" + string(rune('0'+f.n))
	out := f.run(t, tandem.Turn{ID: id, Session: f.key, User: user, Text: "please make the acme change", TS: "1.00" + id[1:], ReceivedAt: f.clock.Now()})
	if out.Err != nil || out.Proposal == nil || out.Command != "agent" {
		t.Fatalf("agent turn: command %q err %v proposal %+v; want a proposal", out.Command, out.Err, out.Proposal)
	}
	if out.Proposal.Sender != user || out.Proposal.User != user || len(out.Proposal.Changes) != 1 || out.Proposal.Changes[0].Op != "acme.change" {
		t.Fatalf("proposal %+v; want one acme.change by and as %s", out.Proposal, user)
	}
	if n := f.changes.Load(); n != 0 {
		t.Fatalf("the change ran %d times while only proposed", n)
	}
	return out.Proposal
}

// confirmRecorded reports whether a confirmation turn of proposal id is in
// the store.
func (f *propFixture) confirmRecorded(t *testing.T, id string) bool {
	t.Helper()
	_, err := f.db.TurnRecord(t.Context(), "confirm/"+id)
	if err != nil && tandem.ErrorCode(err) != tandem.ENOTFOUND {
		t.Fatal(err)
	}
	return err == nil
}

// TestProposalPresses: only the sender's Do it within ProposalTTL records a
// confirmation turn, once however often it is pressed; an expired, a
// cancelled or someone else's press submits nothing and makes nothing.
func TestProposalPresses(t *testing.T) {
	t.Run("expired", func(t *testing.T) {
		f := newPropFixture(t)
		p := f.propose(t, "UBOB")
		f.clock.Advance(ProposalTTL)
		private, card := f.e.Press(t.Context(), p.ID, "UBOB", true)
		if private != "" || !strings.Contains(card, "expired") || !strings.Contains(card, "nothing was changed") {
			t.Errorf("press after %s: private %q, card %q; want the card to say it expired", ProposalTTL, private, card)
		}
		if s := f.chat.take(); len(s) != 0 || f.confirmRecorded(t, p.ID) {
			t.Errorf("an expired press submitted %d turns (confirmation recorded: %v)", len(s), f.confirmRecorded(t, p.ID))
		}
		private, _ = f.e.Press(t.Context(), p.ID, "UBOB", true)
		if !strings.Contains(private, "no longer open") {
			t.Errorf("a press after the expiry was seen: %q, want no longer open", private)
		}
		if s := f.chat.take(); len(s) != 0 || f.changes.Load() != 0 {
			t.Errorf("after expiry: %d submitted, %d changes made", len(s), f.changes.Load())
		}
	})

	t.Run("just before expiry", func(t *testing.T) {
		f := newPropFixture(t)
		p := f.propose(t, "UBOB")
		f.clock.Advance(ProposalTTL - time.Second)
		if _, card := f.e.Press(t.Context(), p.ID, "UBOB", true); !strings.Contains(card, "Confirmed by <@UBOB>") {
			t.Errorf("press a second before the expiry: card %q", card)
		}
		if s := f.chat.take(); len(s) != 1 {
			t.Errorf("%d turns submitted, want 1", len(s))
		}
	})

	t.Run("someone else", func(t *testing.T) {
		f := newPropFixture(t)
		p := f.propose(t, "UBOB")
		for _, do := range []bool{true, false} {
			private, card := f.e.Press(t.Context(), p.ID, "UALICE", do)
			if !strings.Contains(private, "Only <@UBOB> can confirm or cancel this") || card != "" {
				t.Errorf("alice's press (do %v): private %q, card %q; want a private refusal, the card left", do, private, card)
			}
		}
		if s := f.chat.take(); len(s) != 0 || f.confirmRecorded(t, p.ID) {
			t.Errorf("someone else's press submitted %d turns", len(s))
		}
		// The trail shows who tried, as whom, refused: once a press.
		recs, err := f.db.Audit(t.Context(), tandem.AuditFilter{User: "UALICE"})
		if err != nil {
			t.Fatal(err)
		}
		refused := 0
		for _, r := range recs {
			if r.Action == "proposal_press" && r.Actor == "UALICE" && r.Effective == "UBOB" && r.Outcome == tandem.OutcomeRefused {
				refused++
			}
		}
		if refused != 2 {
			t.Errorf("audit: %d refused presses by UALICE as UBOB, want 2: %+v", refused, recs)
		}
		// Still open for its sender.
		if _, card := f.e.Press(t.Context(), p.ID, "UBOB", true); !strings.Contains(card, "Confirmed by <@UBOB>") {
			t.Errorf("the sender's press after alice's: card %q", card)
		}
	})

	t.Run("do it then cancel", func(t *testing.T) {
		f := newPropFixture(t)
		p := f.propose(t, "UBOB")
		if _, card := f.e.Press(t.Context(), p.ID, "UBOB", true); !strings.Contains(card, "Confirmed by <@UBOB>") {
			t.Fatalf("do it: card %q", card)
		}
		// The confirmation is recorded and about to make the changes: a
		// Cancel now cancels nothing, and the card must not say it did.
		private, card := f.e.Press(t.Context(), p.ID, "UBOB", false)
		if !strings.Contains(private, "confirmed already") || card != "" {
			t.Errorf("cancel after do it: private %q, card %q; want told it was confirmed, the card left", private, card)
		}
		if _, err := f.e.proposal(t.Context(), p.ID); err != nil {
			t.Errorf("the proposal its confirmation makes was dropped by the cancel: %v", err)
		}
		if s := f.chat.take(); len(s) != 1 {
			t.Errorf("%d turns submitted, want the one confirmation", len(s))
		}
	})

	t.Run("do it after an interrupted confirmation", func(t *testing.T) {
		f := newPropFixture(t)
		p := f.propose(t, "UBOB")
		if _, card := f.e.Press(t.Context(), p.ID, "UBOB", true); !strings.Contains(card, "Confirmed by <@UBOB>") {
			t.Fatalf("do it: card %q", card)
		}
		f.chat.take()
		// A restart cut the confirmation off: reported as interrupted and
		// marked done, the proposal left behind.
		if err := f.db.SetTurnState(t.Context(), confirmPrefix+p.ID, tandem.TurnDone); err != nil {
			t.Fatal(err)
		}
		private, card := f.e.Press(t.Context(), p.ID, "UBOB", true)
		if !strings.Contains(private, "a restart cut its changes off") || card != "" {
			t.Errorf("do it again: private %q, card %q; want told nothing more is made, the card left", private, card)
		}
		if s := f.chat.take(); len(s) != 0 {
			t.Errorf("%d turns submitted, want none", len(s))
		}
		// Cancel closes it, without claiming nothing was changed.
		if _, card := f.e.Press(t.Context(), p.ID, "UBOB", false); !strings.Contains(card, "a restart cut off its confirmation") || strings.Contains(card, "nothing was changed") {
			t.Errorf("cancel after the cut-off confirmation: card %q", card)
		}
		if _, err := f.e.proposal(t.Context(), p.ID); tandem.ErrorCode(err) != tandem.ENOTFOUND {
			t.Errorf("the proposal is still open after its cancel: %v", err)
		}
	})

	t.Run("cancel then do it", func(t *testing.T) {
		f := newPropFixture(t)
		p := f.propose(t, "UBOB")
		private, card := f.e.Press(t.Context(), p.ID, "UBOB", false)
		if private != "" || !strings.Contains(card, "Cancelled by <@UBOB>") || !strings.Contains(card, "changes acme") {
			t.Errorf("cancel: private %q, card %q", private, card)
		}
		private, card = f.e.Press(t.Context(), p.ID, "UBOB", true)
		if !strings.Contains(private, "no longer open") || card != "" {
			t.Errorf("do it after cancel: private %q, card %q; want no longer open", private, card)
		}
		if s := f.chat.take(); len(s) != 0 || f.confirmRecorded(t, p.ID) || f.changes.Load() != 0 {
			t.Errorf("after cancel: %d submitted, %d changes", len(s), f.changes.Load())
		}
		recs, err := f.db.Audit(t.Context(), tandem.AuditFilter{Session: &f.key})
		if err != nil {
			t.Fatal(err)
		}
		cancelled := false
		for _, r := range recs {
			cancelled = cancelled || (r.Action == "proposal_cancel" && r.Actor == "UBOB")
		}
		if !cancelled {
			t.Errorf("no proposal_cancel in the audit: %+v", recs)
		}
	})

	t.Run("double do it", func(t *testing.T) {
		f := newPropFixture(t)
		p := f.propose(t, "UBOB")
		for range 2 {
			if private, card := f.e.Press(t.Context(), p.ID, "UBOB", true); private != "" || !strings.Contains(card, "Confirmed by <@UBOB>") {
				t.Errorf("do it: private %q, card %q", private, card)
			}
		}
		subs := f.chat.take()
		if len(subs) != 1 || subs[0].ID != "confirm/"+p.ID || subs[0].User != "UBOB" || subs[0].Session != f.key {
			t.Fatalf("submitted %+v; want one confirmation turn", subs)
		}
		out := f.e.Run(t.Context(), subs[0], f.e.Parse(subs[0].Text), tandem.Hold{})
		if err := f.e.Done(t.Context(), subs[0], out); err != nil {
			t.Fatal(err)
		}
		if out.Err != nil || out.Command != "confirm" {
			t.Fatalf("the confirmation: command %q err %v", out.Command, out.Err)
		}
		f.mu.Lock()
		logins := strings.Join(f.logins, ",")
		f.mu.Unlock()
		if f.changes.Load() != 1 || logins != "UBOB-acme" {
			t.Errorf("the change ran %d times as %s; want once as UBOB-acme", f.changes.Load(), logins)
		}
		if private, _ := f.e.Press(t.Context(), p.ID, "UBOB", true); !strings.Contains(private, "no longer open") {
			t.Errorf("a press after the confirmation ran: %q", private)
		}
		if s := f.chat.take(); len(s) != 0 {
			t.Errorf("%d more turns submitted after the confirmation ran", len(s))
		}
	})
}

// hiddenTailText is a change's text whose first part is harmless and
// whose end is what it really does: 3,223 bytes, full of "<", which a
// Slack card escapes to four bytes each, so that a card clipping the
// change would show the head and hide the tail.
func hiddenTailText() string {
	return "LGTM" + strings.Repeat(" <", 1600) + "TAIL-HIDDEN-PAYLOAD"
}

// TestChangeTooLongToShowIsNeverProposed: a change the card cannot show
// whole is not proposed: there is no proposal to press, the reply says
// so (without the change), and nothing is made.
func TestChangeTooLongToShowIsNeverProposed(t *testing.T) {
	f := newPropFixture(t)
	long := hiddenTailText()
	f.e.cfg.Agent.Planner.Model = propModel{text: long}
	out := f.run(t, tandem.Turn{ID: "E1", Session: f.key, User: "UBOB", Text: "please make the acme change", TS: "1.001", ReceivedAt: f.clock.Now()})
	if out.Err != nil || out.Command != "agent" {
		t.Fatalf("agent turn: command %q err %v", out.Command, out.Err)
	}
	if out.Proposal != nil {
		t.Fatalf("a change of %d bytes (%d escaped) was proposed: %+v", len(long), len(tandem.Escape(long)), out.Proposal.Changes)
	}
	if text := out.Reply.Text; !strings.Contains(text, "Not proposed") || !strings.Contains(text, "changes acme") || strings.Contains(text, "TAIL-HIDDEN-PAYLOAD") {
		t.Errorf("reply text %q; want it to say the acme change was not proposed, without its text", text)
	}
	if !strings.HasPrefix(out.Reply.Text, "*Not proposed*") {
		// Last, it would be the first cut when a long answer is clipped.
		t.Errorf("reply text %q; want the notice first", out.Reply.Text)
	}
	if s := f.chat.take(); len(s) != 0 || f.changes.Load() != 0 {
		t.Errorf("%d turns submitted, %d changes made; want none", len(s), f.changes.Load())
	}
}

// TestPressOfAChangeTooLongToShowMakesNothing: a proposal kept with a
// change the card cannot show whole (kept before proposals were checked)
// is refused on its sender's Do it and dropped: no confirmation turn,
// nothing made.
func TestPressOfAChangeTooLongToShowMakesNothing(t *testing.T) {
	f := newPropFixture(t)
	long := hiddenTailText()
	p, err := f.e.propose(t.Context(), tandem.Turn{ID: "E1", Session: f.key, User: "UBOB"}, "UBOB", tandem.ReasonSender,
		[]agent.Proposal{{Op: "acme.change", Args: map[string]string{"text": long}, Summary: "changes acme — what to change: “" + long + "”"}})
	if err != nil {
		t.Fatal(err)
	}
	private, card := f.e.Press(t.Context(), p.ID, "UBOB", true)
	if private != "" || !strings.Contains(card, "cannot be confirmed") || strings.Contains(card, "Confirmed by") {
		t.Errorf("do it: private %q, card %q; want the card to say it cannot be confirmed", private, card)
	}
	if s := f.chat.take(); len(s) != 0 || f.confirmRecorded(t, p.ID) || f.changes.Load() != 0 {
		t.Errorf("%d turns submitted (confirmation recorded: %v), %d changes made; want none", len(s), f.confirmRecorded(t, p.ID), f.changes.Load())
	}
	if private, _ := f.e.Press(t.Context(), p.ID, "UBOB", true); !strings.Contains(private, "no longer open") {
		t.Errorf("a second press: %q; want no longer open", private)
	}
}

// TestConfirmRefusedWhenTheModeChanged: the session becomes persistent
// with another owner between the proposal and the press; the confirmation
// turn refuses, the change never runs, and the audit says why.
func TestConfirmRefusedWhenTheModeChanged(t *testing.T) {
	f := newPropFixture(t)
	p := f.propose(t, "UBOB")
	if _, err := f.db.UpdateSession(t.Context(), f.key, func(s *tandem.Session) error {
		s.Owner = "UALICE"
		s.Editors = []string{"UBOB"}
		s.Env = map[string]string{tandem.EnvKeepCredentialsPersistent: "true"}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if _, card := f.e.Press(t.Context(), p.ID, "UBOB", true); !strings.Contains(card, "Confirmed by <@UBOB>") {
		t.Fatalf("bob's press: card %q", card)
	}
	subs := f.chat.take()
	if len(subs) != 1 {
		t.Fatalf("%d turns submitted, want the confirmation", len(subs))
	}
	out := f.e.Run(t.Context(), subs[0], f.e.Parse(subs[0].Text), tandem.Hold{})
	if err := f.e.Done(t.Context(), subs[0], out); err != nil {
		t.Fatal(err)
	}
	if tandem.ErrorCode(out.Err) != tandem.EFORBIDDEN || out.Outcome != tandem.OutcomeRefused ||
		!strings.Contains(tandem.ErrorMessage(out.Err), "mode changed") || !strings.Contains(tandem.ErrorMessage(out.Err), "<@UALICE>") {
		t.Errorf("confirmation after the mode changed: err %v, outcome %s; want a refusal naming the new identity", out.Err, out.Outcome)
	}
	if n := f.changes.Load(); n != 0 {
		t.Errorf("the change ran %d times after the mode changed", n)
	}
	recs, err := f.db.Audit(t.Context(), tandem.AuditFilter{Session: &f.key})
	if err != nil {
		t.Fatal(err)
	}
	var refusal *tandem.AuditRecord
	for i, r := range recs {
		if r.TurnID == subs[0].ID {
			if r.Outcome == tandem.OutcomeOK {
				t.Errorf("the confirmation resolved someone's credentials: %+v", r)
			}
			if r.Outcome == tandem.OutcomeRefused && strings.Contains(r.Detail, "mode changed") {
				refusal = &recs[i]
			}
		}
	}
	if refusal == nil || refusal.Actor != "UBOB" || refusal.Reason != tandem.ReasonPersistentOwner {
		t.Errorf("no refusal of the confirmation in the audit: %+v", recs)
	}
	if private, _ := f.e.Press(t.Context(), p.ID, "UBOB", true); !strings.Contains(private, "no longer open") {
		t.Errorf("the refused proposal is still open: %q", private)
	}
}

// flakyPressStore fails, with EUNAVAILABLE, every read of a proposal after
// the first readsOK (none when negative), and with leases every lease a
// press takes: the store answers Press's first look, then not.
type flakyPressStore struct {
	Store
	mu      sync.Mutex
	readsOK int
	leases  bool
}

func (s *flakyPressStore) Setting(ctx context.Context, name string) (string, error) {
	s.mu.Lock()
	fail := false
	if strings.HasPrefix(name, "proposal/") {
		if s.readsOK == 0 {
			fail = true
		} else if s.readsOK > 0 {
			s.readsOK--
		}
	}
	s.mu.Unlock()
	if fail {
		return "", tandem.Errorf(tandem.EUNAVAILABLE, "the database is unreachable")
	}
	return s.Store.Setting(ctx, name)
}

func (s *flakyPressStore) Lease(ctx context.Context, name, owner string, ttl time.Duration) (bool, error) {
	if s.leases && strings.HasPrefix(name, "answer/") {
		return false, tandem.Errorf(tandem.EUNAVAILABLE, "the database is unreachable")
	}
	return s.Store.Lease(ctx, name, owner, ttl)
}

// TestPressWhenTheStoreFails: a press the store could not answer (its
// lease, or the proposal read again under it) tells the sender to try
// again, not that the proposal is closed or that another press is being
// answered: the proposal is still open, and the next press confirms it.
func TestPressWhenTheStoreFails(t *testing.T) {
	for _, tt := range []struct {
		name    string
		readsOK int
		leases  bool
	}{
		{"the proposal read again", 1, false},
		{"the press's lease", -1, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := newPropFixture(t)
			p := f.propose(t, "UBOB")
			f.e.cfg.Store = &flakyPressStore{Store: f.db, readsOK: tt.readsOK, leases: tt.leases}
			private, card := f.e.Press(t.Context(), p.ID, "UBOB", true)
			if !strings.Contains(private, "try again") || card != "" {
				t.Errorf("press while the store fails: private %q, card %q; want told to try again, the card left", private, card)
			}
			if s := f.chat.take(); len(s) != 0 || f.confirmRecorded(t, p.ID) {
				t.Fatalf("%d turns submitted while the store failed", len(s))
			}
			f.e.cfg.Store = f.db
			if private, card := f.e.Press(t.Context(), p.ID, "UBOB", true); private != "" || !strings.Contains(card, "Confirmed by <@UBOB>") {
				t.Errorf("the press after: private %q, card %q; want it confirmed (the proposal was open)", private, card)
			}
		})
	}
}
