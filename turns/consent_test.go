package turns

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/tandembot/tandem"
)

// askedNotifier keeps every request to share the owner's identity the
// owner is asked about: the request and the editors its message lists.
type askedNotifier struct {
	schNotifier
	mu    sync.Mutex
	asked []tandem.PendingChange
}

func (n *askedNotifier) AskConsent(_ context.Context, sess tandem.Session, _ string, shown []string) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	p := *sess.Pending
	p.Editors = slices.Clone(shown)
	n.asked = append(n.asked, p)
	return nil
}

func (n *askedNotifier) requests() []tandem.PendingChange {
	n.mu.Lock()
	defer n.mu.Unlock()
	return slices.Clone(n.asked)
}

// startedSession is a session the owner started, whose requests to share
// the owner's identity the notifier keeps.
func startedSession(t *testing.T) (*schFixture, *askedNotifier) {
	t.Helper()
	note := &askedNotifier{}
	f := newSchFixture(t, func(c *Config) { c.Notifier = note })
	if out := f.send(t, schOwner, "acme read", nil); out.Err != nil {
		t.Fatal(out.Err)
	}
	return f, note
}

// A channel admin asks for persistent mode, cancels, writes (becoming an
// editor while the session runs each message as its sender) and asks
// again. The owner's press on the first message, which listed nobody, must
// not approve the second request, which lists the admin.
func TestConsentAnswersOnlyTheRequestItsMessageShowed(t *testing.T) {
	ctx := t.Context()
	f, note := startedSession(t)
	sess, err := f.db.Session(ctx, schKey)
	if err != nil {
		t.Fatal(err)
	}
	// The settings modal asks outside any turn: the admin is no editor.
	if _, err := f.e.SetVar(ctx, tandem.Turn{Session: schKey, User: schChanAdmin}, sess, tandem.EnvKeepCredentialsPersistent, "true"); err != nil {
		t.Fatal(err)
	}
	if out := f.send(t, schChanAdmin, "unset KEEP_CREDENTIALS_PERSISTENT", nil); out.Err != nil {
		t.Fatal(out.Err)
	}
	if out := f.send(t, schChanAdmin, "set KEEP_CREDENTIALS_PERSISTENT=true", nil); out.Err != nil {
		t.Fatal(out.Err)
	}
	asked := note.requests()
	if len(asked) != 2 || len(asked[0].Editors) != 0 || !slices.Equal(asked[1].Editors, []string{schChanAdmin}) {
		t.Fatalf("the owner was asked %+v; want two requests, the first listing nobody, the second %s", asked, schChanAdmin)
	}
	if asked[0].ID == "" || asked[0].ID == asked[1].ID {
		t.Fatalf("request IDs %q and %q: each request needs its own", asked[0].ID, asked[1].ID)
	}

	for _, approve := range []bool{true, false} {
		msg, ok := f.e.Consent(ctx, schKey, asked[0].ID, schOwner, approve)
		if !ok || msg == "" {
			t.Fatalf("the owner's press on the replaced request (approve %v) was not answered: %q", approve, msg)
		}
		after, _ := f.db.Session(ctx, schKey)
		if after.Persistent() || after.Pending == nil || after.Pending.ID != asked[1].ID {
			t.Fatalf("after a press on the replaced request (approve %v): persistent %v, pending %+v; want the second request still waiting",
				approve, after.Persistent(), after.Pending)
		}
	}
	// Nor does a press that names no request, as messages sent before
	// requests had IDs.
	if _, ok := f.e.Consent(ctx, schKey, "", schOwner, true); !ok {
		t.Fatal("a press without a request was not answered")
	}
	if out := f.send(t, schChanAdmin, "acme read", nil); out.Identity != nil && out.Identity.SlackUser == schOwner {
		t.Fatalf("the admin's turn ran as the owner (%s) though the owner approved nothing", out.Identity.Reason)
	}
	if _, ok := f.e.Consent(ctx, schKey, asked[1].ID, schOther, true); ok {
		t.Fatal("someone other than the owner answered the request")
	}
	if recs, err := f.db.Audit(ctx, tandem.AuditFilter{User: schOther}); err != nil || !slices.ContainsFunc(recs, func(r tandem.AuditRecord) bool {
		return r.Action == "consent" && r.Actor == schOther && r.Effective == schOwner && r.Outcome == tandem.OutcomeRefused
	}) {
		t.Errorf("no refused consent press by %s as %s in the audit: %+v (%v)", schOther, schOwner, recs, err)
	}

	// The press on the request now waiting applies it, with its list.
	if _, ok := f.e.Consent(ctx, schKey, asked[1].ID, schOwner, true); !ok {
		t.Fatal("the owner's approval of the waiting request was not applied")
	}
	after, _ := f.db.Session(ctx, schKey)
	if !after.Persistent() || after.Pending != nil || !slices.Equal(after.Editors, []string{schChanAdmin}) {
		t.Fatalf("after the approval: persistent %v, pending %+v, editors %q; want persistent with [%s]", after.Persistent(), after.Pending, after.Editors, schChanAdmin)
	}
}

// A turn that started while the session ran each message as its sender,
// and ends after the owner approved persistent mode, does not add its
// sender to the list the owner approved.
func TestTurnEndingAfterApprovalAddsNoEditor(t *testing.T) {
	ctx := t.Context()
	f, note := startedSession(t)
	tr := tandem.Turn{ID: "Ev_SLOW_1", Session: schKey, User: schOther, Text: "acme read", TS: "1700000000.000900", ReceivedAt: f.clock.Now()}
	if _, err := f.db.RecordTurn(ctx, tr); err != nil {
		t.Fatal(err)
	}
	running := f.e.Run(ctx, tr, f.e.Parse(tr.Text), tandem.Hold{})

	sess, err := f.db.Session(ctx, schKey)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.e.SetVar(ctx, tandem.Turn{Session: schKey, User: schChanAdmin}, sess, tandem.EnvKeepCredentialsPersistent, "true"); err != nil {
		t.Fatal(err)
	}
	asked := note.requests()
	if len(asked) != 1 || len(asked[0].Editors) != 0 {
		t.Fatalf("the owner was asked %+v; want one request listing nobody", asked)
	}
	if _, ok := f.e.Consent(ctx, schKey, asked[0].ID, schOwner, true); !ok {
		t.Fatal("the owner's approval was not applied")
	}
	if err := f.e.Done(ctx, tr, running); err != nil {
		t.Fatal(err)
	}
	after, _ := f.db.Session(ctx, schKey)
	if !after.Persistent() || len(after.Editors) != 0 {
		t.Fatalf("after the slow turn ended: persistent %v, editors %q; want persistent with none", after.Persistent(), after.Editors)
	}
	if out := f.send(t, schOther, "acme read", nil); out.Identity != nil && out.Identity.SlackUser == schOwner {
		t.Fatalf("%s's next turn ran as the owner (%s); the owner approved nobody", schOther, out.Identity.Reason)
	}
}

// An admin's "editors add" whose turn read the session before it became
// persistent asks the owner instead of adding.
func TestEditorsAddRereadsTheMode(t *testing.T) {
	ctx := t.Context()
	f, _ := startedSession(t)
	stale, err := f.db.Session(ctx, schKey)
	if err != nil {
		t.Fatal(err)
	}
	if out := f.send(t, schOwner, "set KEEP_CREDENTIALS_PERSISTENT=true", nil); out.Err != nil {
		t.Fatal(out.Err)
	}
	admin := f.record(t, schChanAdmin, "editors add <@"+schOther+">")
	reply, err := f.e.changeEditors(ctx, admin, stale, schOther, true)
	if err != nil {
		t.Fatal(err)
	}
	after, _ := f.db.Session(ctx, schKey)
	if after.HasEditor(schOther) {
		t.Fatalf("%s was added to a persistent session by a channel admin (reply %q)", schOther, reply.Title)
	}
	if reply.Title != "Editor waiting for the owner's approval" {
		t.Fatalf("reply %q; want the owner asked", reply.Title)
	}
}

// racingStore runs before once, just before the next UpdateSession: what
// another replica, or another press, writes between a read and a change.
type racingStore struct {
	Store
	before func()
}

func (s *racingStore) UpdateSession(ctx context.Context, key tandem.SessionKey, fn func(*tandem.Session) error) (tandem.Session, error) {
	if b := s.before; b != nil {
		s.before = nil
		b()
	}
	return s.Store.UpdateSession(ctx, key, fn)
}

// A request replaced between Consent's read of the session and its change
// is not answered by a press on the replaced one's message, approve or
// decline: the ID is checked again in the transaction that changes it.
func TestConsentChecksTheRequestInItsTransaction(t *testing.T) {
	for _, approve := range []bool{true, false} {
		ctx := t.Context()
		racing := &racingStore{}
		note := &askedNotifier{}
		f := newSchFixture(t, func(c *Config) {
			c.Notifier = note
			racing.Store = c.Store
			c.Store = racing
		})
		if out := f.send(t, schOwner, "acme read", nil); out.Err != nil {
			t.Fatal(out.Err)
		}
		if out := f.send(t, schChanAdmin, "set KEEP_CREDENTIALS_PERSISTENT=true", nil); out.Err != nil {
			t.Fatal(out.Err)
		}
		asked := note.requests()
		if len(asked) != 1 {
			t.Fatalf("the owner was asked %+v; want one request", asked)
		}
		racing.before = func() {
			if _, err := f.db.UpdateSession(ctx, schKey, func(s *tandem.Session) error {
				s.Pending.ID, s.Pending.Editors = "replaced", []string{schChanAdmin, schOther}
				s.Editors = append(s.Editors, schOther)
				return nil
			}); err != nil {
				t.Fatal(err)
			}
		}
		if msg, ok := f.e.Consent(ctx, schKey, asked[0].ID, schOwner, approve); !ok || msg != staleAnswer {
			t.Fatalf("approve %v: Consent = %q, %v; want the stale answer", approve, msg, ok)
		}
		after, _ := f.db.Session(ctx, schKey)
		if after.Persistent() || after.Pending == nil || after.Pending.ID != "replaced" {
			t.Fatalf("approve %v: persistent %v, pending %+v; want the replacing request still waiting", approve, after.Persistent(), after.Pending)
		}
	}
}

// A request stored before requests had IDs is sent again, with an ID on
// its buttons, when its owner presses the old message; that press itself
// answers nothing, the new message's does.
func TestConsentAsksAgainForARequestWithoutID(t *testing.T) {
	ctx := t.Context()
	f, note := startedSession(t)
	if _, err := f.db.UpdateSession(ctx, schKey, func(s *tandem.Session) error {
		s.Pending = &tandem.PendingChange{Name: tandem.EnvKeepCredentialsPersistent, Value: "true", RequestedBy: schChanAdmin, RequestedAt: f.clock.Now()}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if _, ok := f.e.Consent(ctx, schKey, "", schOther, true); ok {
		t.Fatal("someone other than the owner was answered")
	}
	if len(note.requests()) != 0 {
		t.Fatal("a press by someone other than the owner asked the owner again")
	}
	msg, ok := f.e.Consent(ctx, schKey, "", schOwner, true)
	asked := note.requests()
	if !ok || len(asked) != 1 || asked[0].ID == "" {
		t.Fatalf("Consent = %q, %v, asked %+v; want the request sent again with an ID", msg, ok, asked)
	}
	if after, _ := f.db.Session(ctx, schKey); after.Persistent() {
		t.Fatal("the press on the message without an ID turned persistent mode on")
	}
	if _, ok := f.e.Consent(ctx, schKey, asked[0].ID, schOwner, true); !ok {
		t.Fatal("the new message's approval was not applied")
	}
	if after, _ := f.db.Session(ctx, schKey); !after.Persistent() {
		t.Fatal("the new message's approval did not turn persistent mode on")
	}
}

// A runner that lost the session's lease in the middle of a control (a
// stall past the lease's ttl) while another replica ran that control and
// the session's later turns must not apply it again after them: the
// owner's set, replayed after the owner's unset, would share their
// identity against their last word. The same for an owner's editors add
// replayed after their remove. The stale runner's result is LeaseLost (the
// other replica answered), and the session stays as the later turn left it.
func TestAStaleRunnerDoesNotReplayAControl(t *testing.T) {
	ctx := t.Context()
	const third = "UTHIRD"
	for _, tt := range []struct {
		name, by, first, then string
		check                 func(tandem.Session) bool // the session as the later turn left it
	}{
		{"set after unset", schOwner, "set KEEP_CREDENTIALS_PERSISTENT=true", "unset KEEP_CREDENTIALS_PERSISTENT",
			func(s tandem.Session) bool { return !s.Persistent() && s.Pending == nil }},
		{"editors add after remove", schOwner, "editors add <@" + third + ">", "editors remove <@" + third + ">",
			func(s tandem.Session) bool { return !s.HasEditor(third) }},
		// The stale run of anyone's control would also write its sender
		// as a new editor (what a per-message turn writes before a
		// control), after the owner removed them.
		{"a control of someone the owner then removed", third, "env", "editors remove <@" + third + ">",
			func(s tandem.Session) bool { return !s.HasEditor(third) }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f, _ := startedSession(t)
			if out := f.send(t, schOther, "acme read", nil); out.Err != nil { // an editor while per message
				t.Fatal(out.Err)
			}
			first := f.record(t, tt.by, tt.first)
			then := f.record(t, schOwner, tt.then)
			// The session's new lease holder runs both, in order.
			f.runAll(t, first, then)
			if s, _ := f.db.Session(ctx, schKey); !tt.check(s) {
				t.Fatalf("setup: after %q the session is %+v", tt.then, s)
			}
			// The stalled runner wakes up and goes on with the first.
			out := f.e.Run(ctx, first, f.e.Parse(first.Text), tandem.Hold{})
			if !out.LeaseLost {
				t.Errorf("the stale run of %q: LeaseLost false (err %v); want it left to the runner that ran it", tt.first, out.Err)
			}
			s, err := f.db.Session(ctx, schKey)
			if err != nil || !tt.check(s) {
				t.Errorf("after the stale run of %q the session is %+v (%v): the owner's later %q was undone", tt.first, s, err, tt.then)
			}
			if read := f.send(t, schOther, "acme read", nil); read.Identity == nil || read.Identity.SlackUser != schOther {
				t.Errorf("%s's message after the owner's %q ran as %+v", schOther, tt.then, read.Identity)
			}
		})
	}
}

// A runner of an ordinary turn that stalled past its lease, while the
// session's new holder ran that turn and the owner's removal of its sender
// after it, writes nothing when it wakes: its done step would put the
// sender back as an editor (a per-message session's sender becomes one),
// and the owner's next "set KEEP_CREDENTIALS_PERSISTENT=true" would share
// their identity with someone they had removed.
func TestAStaleRunnerOfATurnDoesNotPutBackAnEditor(t *testing.T) {
	ctx := t.Context()
	const third = "UTHIRD"
	f, _ := startedSession(t)
	first := f.record(t, third, "acme read")
	then := f.record(t, schOwner, "editors remove <@"+third+">")
	f.runAll(t, first, then)
	if s, _ := f.db.Session(ctx, schKey); s.HasEditor(third) {
		t.Fatalf("setup: after the removal the session is %+v", s)
	}
	stale := f.e.Run(ctx, first, f.e.Parse(first.Text), tandem.Hold{})
	if stale.Err != nil {
		t.Fatalf("the stale run: %v", stale.Err)
	}
	if err := f.e.Done(ctx, first, stale); !errors.Is(err, tandem.ErrTurnDone) {
		t.Errorf("the stale run's Done: %v, want ErrTurnDone", err)
	}
	if s, err := f.db.Session(ctx, schKey); err != nil || s.HasEditor(third) {
		t.Errorf("after the stale run the session is %+v (%v): the owner's removal of %s was undone", s, err, third)
	}
}

// runAll runs recorded turns in order and marks each done, as the
// session's lease holder does, failing on any error.
func (f *schFixture) runAll(t *testing.T, turns ...tandem.Turn) {
	t.Helper()
	for _, tr := range turns {
		out := f.e.Run(t.Context(), tr, f.e.Parse(tr.Text), tandem.Hold{})
		if out.Err != nil {
			t.Fatalf("%s: %v", tr.Text, out.Err)
		}
		if err := f.e.Done(t.Context(), tr, out); err != nil {
			t.Fatal(err)
		}
	}
}

// record records a turn of user with text, as send does, without running
// it, and returns it.
func (f *schFixture) record(t *testing.T, user, text string) tandem.Turn {
	t.Helper()
	tr := f.next(user, text)
	if _, err := f.db.RecordTurn(t.Context(), tr); err != nil {
		t.Fatal(err)
	}
	return tr
}

// A runner that stalled past its session's lease in the middle of "every
// day at …", while another replica made the schedule and its creator then
// deleted it, does not make it again when it wakes: the schedule would run
// as its creator against their last word.
func TestAStaleRunnerDoesNotMakeADeletedScheduleAgain(t *testing.T) {
	ctx := t.Context()
	f, _ := startedSession(t)
	first := f.record(t, schOwner, "every day at 8:00 acme read")
	out := f.e.Run(ctx, first, f.e.Parse(first.Text), tandem.Hold{})
	if out.Err != nil || len(out.Schedules) != 1 {
		t.Fatalf("the new holder's run: %v, %d schedules", out.Err, len(out.Schedules))
	}
	if err := f.e.Done(ctx, first, out); err != nil {
		t.Fatal(err)
	}
	if err := f.db.DeleteSchedule(ctx, out.Schedules[0].ID); err != nil {
		t.Fatal(err)
	}
	stale := f.e.Run(ctx, first, f.e.Parse(first.Text), tandem.Hold{})
	if !stale.LeaseLost {
		t.Errorf("the stale run: LeaseLost false (err %v); want it left to the runner that ran it", stale.Err)
	}
	if all, err := f.db.Schedules(ctx, tandem.ScheduleFilter{}); err != nil || len(all) != 0 {
		t.Errorf("schedules after the stale run: %+v (%v); want none, its creator deleted it", all, err)
	}
}

// A turn that made a schedule and was cut off by a crash before it
// finished runs again when Tandem restarts (making a schedule changes
// nothing at a provider); when its creator deleted the schedule in
// between, the run does not make it again: it would run as them against
// their last word. Without a delete the run again answers with the
// schedule it made.
func TestACrashedScheduleTurnDoesNotMakeADeletedScheduleAgain(t *testing.T) {
	ctx := t.Context()
	f, _ := startedSession(t)
	first := f.record(t, schOwner, "every day at 8:00 acme read")
	out := f.e.Run(ctx, first, f.e.Parse(first.Text), tandem.Hold{})
	if out.Err != nil || len(out.Schedules) != 1 {
		t.Fatalf("the first run: %v, %d schedules", out.Err, len(out.Schedules))
	}
	id := out.Schedules[0].ID
	// The crash: no Done. Run again, the schedule still there: the same
	// schedule, not a second.
	again := f.e.Run(ctx, first, f.e.Parse(first.Text), tandem.Hold{})
	if again.Err != nil || len(again.Schedules) != 1 || again.Schedules[0].ID != id {
		t.Fatalf("the run again with the schedule there: %v, %+v; want schedule %s", again.Err, again.Schedules, id)
	}
	if _, _, err := f.e.ActOnSchedule(ctx, schKey.Team, id, schOwner, ScheduleDelete); err != nil {
		t.Fatalf("the creator's delete: %v", err)
	}
	third := f.e.Run(ctx, first, f.e.Parse(first.Text), tandem.Hold{})
	if tandem.ErrorCode(third.Err) != tandem.ECONFLICT || third.Outcome != tandem.OutcomeRefused || !strings.Contains(third.Err.Error(), "deleted since") {
		t.Errorf("the run after the delete: %v (outcome %s); want ECONFLICT, refused, saying it was deleted since", third.Err, third.Outcome)
	}
	if all, err := f.db.Schedules(ctx, tandem.ScheduleFilter{}); err != nil || len(all) != 0 {
		t.Errorf("schedules after the run again: %+v (%v); want none, its creator deleted it", all, err)
	}
	if err := f.e.Done(ctx, first, third); err != nil {
		t.Errorf("Done: %v", err)
	}
}

// The owner's typed "set KEEP_CREDENTIALS_PERSISTENT=true" shows them no
// editors list, so it shares their identity at once only when nobody else
// is on it. Someone who wrote in the thread a moment before (and so joined
// the per-message session's editors) acts as the owner only after the
// owner approves a list that names them.
func TestOwnersTypedSetConfirmsTheEditorsFirst(t *testing.T) {
	ctx := t.Context()
	f, note := startedSession(t)
	if out := f.send(t, schOther, "acme read", nil); out.Err != nil {
		t.Fatal(out.Err)
	}
	out := f.send(t, schOwner, "set KEEP_CREDENTIALS_PERSISTENT=true", nil)
	if out.Err != nil || out.Reply.Title != "Confirm who may act as you" || !strings.Contains(out.Reply.Text, "<@"+schOther+">") {
		t.Fatalf("the owner's set: %+v, %v; want the editors to confirm, naming %s", out.Reply, out.Err, schOther)
	}
	if read := f.send(t, schOther, "acme read", nil); read.Identity == nil || read.Identity.SlackUser != schOther {
		t.Errorf("%s's read before the owner approved ran as %+v; want as %s", schOther, read.Identity, schOther)
	}
	asked := note.requests()
	if len(asked) != 1 || !slices.Equal(asked[0].Editors, []string{schOther}) {
		t.Fatalf("asked %+v; want one request showing %s", asked, schOther)
	}
	if _, ok := f.e.Consent(ctx, schKey, asked[0].ID, schOwner, true); !ok {
		t.Fatal("the owner's approval was refused")
	}
	if read := f.send(t, schOther, "acme read", nil); read.Identity == nil || read.Identity.SlackUser != schOwner {
		t.Errorf("%s's read after the owner approved ran as %+v; want as %s", schOther, read.Identity, schOwner)
	}

	// Nobody else on the list: the owner's set takes effect at once.
	g, gnote := startedSession(t)
	if out := g.send(t, schOwner, "set KEEP_CREDENTIALS_PERSISTENT=true", nil); out.Err != nil || !strings.Contains(out.Reply.Title, "every turn now runs as the owner") {
		t.Errorf("the owner's set with no editors: %+v, %v; want it on at once", out.Reply, out.Err)
	}
	if n := len(gnote.requests()); n != 0 {
		t.Errorf("%d requests for a session without editors", n)
	}
}

// An editor of a persistent session acts as its owner only while the
// owner is still in the workspace and in the session's channel: once they
// left either (or Slack no longer knows them) the editor's turn is refused
// and reaches no provider, until they are back; while Slack cannot say it
// is refused as unavailable.
func TestPersistentSessionStopsActingAsAnOwnerWhoLeft(t *testing.T) {
	ctx := t.Context()
	f, note := startedSession(t)
	if out := f.send(t, schOther, "acme read", nil); out.Err != nil {
		t.Fatal(out.Err)
	}
	f.send(t, schOwner, "set KEEP_CREDENTIALS_PERSISTENT=true", nil)
	asked := note.requests()
	if len(asked) != 1 {
		t.Fatalf("asked %+v; want one request", asked)
	}
	if _, ok := f.e.Consent(ctx, schKey, asked[0].ID, schOwner, true); !ok {
		t.Fatal("the owner's approval was refused")
	}
	if read := f.send(t, schOther, "acme read", nil); read.Identity == nil || read.Identity.SlackUser != schOwner {
		t.Fatalf("the editor's read ran as %+v; want as the owner", read.Identity)
	}
	f.res.take()

	f.people.mu.Lock()
	f.people.deleted = map[string]bool{schOwner: true}
	f.people.mu.Unlock()
	out := f.send(t, schOther, "acme read", nil)
	if tandem.ErrorCode(out.Err) != tandem.EFORBIDDEN || !strings.Contains(tandem.ErrorMessage(out.Err), "left the workspace") || out.Identity != nil {
		t.Errorf("the editor's read after the owner left: %v, identity %+v; want refused", out.Err, out.Identity)
	}
	if got := f.res.take(); len(got) != 0 {
		t.Errorf("credentials resolved after the owner left: %v", got)
	}

	// Back in the workspace, but not in the session's channel.
	f.people.mu.Lock()
	f.people.deleted = nil
	f.people.notMember = map[string]bool{schOwner: true}
	f.people.mu.Unlock()
	out = f.send(t, schOther, "acme read", nil)
	if tandem.ErrorCode(out.Err) != tandem.EFORBIDDEN || !strings.Contains(tandem.ErrorMessage(out.Err), "no longer in this channel") || out.Identity != nil {
		t.Errorf("the editor's read after the owner left the channel: %v, identity %+v; want refused", out.Err, out.Identity)
	}
	if got := f.res.take(); len(got) != 0 {
		t.Errorf("credentials resolved after the owner left the channel: %v", got)
	}
	// The owner's own message is theirs to send wherever they are.
	if own := f.send(t, schOwner, "acme read", nil); own.Err != nil || own.Identity == nil || own.Identity.SlackUser != schOwner {
		t.Errorf("the owner's own read: %v, identity %+v; want as the owner", own.Err, own.Identity)
	}
	f.res.take()
	// Back in the channel: the editor acts as the owner again.
	f.people.mu.Lock()
	f.people.notMember = nil
	f.people.mu.Unlock()
	if read := f.send(t, schOther, "acme read", nil); read.Err != nil || read.Identity == nil || read.Identity.SlackUser != schOwner {
		t.Errorf("the editor's read once the owner is back: %v, identity %+v; want as the owner", read.Err, read.Identity)
	}
	f.res.take()

	f.e.cfg.People = failingPeople{}
	if out := f.send(t, schOther, "acme read", nil); tandem.ErrorCode(out.Err) != tandem.EUNAVAILABLE || out.Identity != nil {
		t.Errorf("the editor's read while Slack cannot say: %v, identity %+v; want unavailable", out.Err, out.Identity)
	}
	if got := f.res.take(); len(got) != 0 {
		t.Errorf("credentials resolved while Slack could not say: %v", got)
	}
}

// The same "every day at …" run twice before it is done (a run cut off by
// a crash, or a runner that stalled past the lease while another ran it)
// makes one schedule, not a second one that would also run as its creator.
func TestATurnRunTwiceMakesOneSchedule(t *testing.T) {
	ctx := t.Context()
	f, _ := startedSession(t)
	tr := f.record(t, schOwner, "every day at 8:00 acme read")
	first := f.e.Run(ctx, tr, f.e.Parse(tr.Text), tandem.Hold{})
	again := f.e.Run(ctx, tr, f.e.Parse(tr.Text), tandem.Hold{})
	if first.Err != nil || again.Err != nil || len(first.Schedules) != 1 || len(again.Schedules) != 1 || first.Schedules[0].ID != again.Schedules[0].ID {
		t.Fatalf("two runs: %v / %v, schedules %+v / %+v; want the same one", first.Err, again.Err, first.Schedules, again.Schedules)
	}
	if all, err := f.db.Schedules(ctx, tandem.ScheduleFilter{}); err != nil || len(all) != 1 {
		t.Errorf("schedules after two runs of one turn: %d (%v); want 1", len(all), err)
	}
	if recs := f.audit(t, ActionScheduleCreate); len(recs) != 1 {
		t.Errorf("%d schedule.create records; want 1", len(recs))
	}
}

// TestEditorsTheOwnerApprovesWhileAskedStay: while a channel admin's
// request for persistent mode waits, the owner approves an editor another
// person asked for, and adds one themselves; the owner's approval of the
// mode then keeps both (the owner was told each is an editor), and still
// nobody the owner never agreed to.
func TestEditorsTheOwnerApprovesWhileAskedStay(t *testing.T) {
	ctx := t.Context()
	f, note := startedSession(t)
	const asked, added, never = "UASKED", "UADDED", "UNEVER"
	sess, err := f.db.Session(ctx, schKey)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.e.SetVar(ctx, tandem.Turn{Session: schKey, User: schChanAdmin}, sess, tandem.EnvKeepCredentialsPersistent, "true"); err != nil {
		t.Fatal(err)
	}
	requests := note.requests()
	if len(requests) != 1 {
		t.Fatalf("the owner was asked %d times, want once", len(requests))
	}
	// The admin asks for two editors; the owner approves one, declines the
	// other, and adds a third themselves.
	for _, who := range []string{asked, never} {
		if out := f.send(t, schChanAdmin, "editors add <@"+who+">", nil); out.Err != nil || out.Reply.Title != "Editor waiting for the owner's approval" {
			t.Fatalf("the admin's editors add %s: %v, %q; want it waiting for the owner", who, out.Err, out.Reply.Title)
		}
	}
	// The admin who asked cannot answer for the owner: refused, audited.
	if _, ok := f.e.EditorConsent(ctx, schKey, asked, schChanAdmin, true); ok {
		t.Fatalf("the admin answered the owner's editor request")
	}
	if recs, err := f.db.Audit(ctx, tandem.AuditFilter{User: schChanAdmin}); err != nil || !slices.ContainsFunc(recs, func(r tandem.AuditRecord) bool {
		return r.Action == "editor_consent" && r.Actor == schChanAdmin && r.Effective == schOwner && r.Outcome == tandem.OutcomeRefused
	}) {
		t.Errorf("no refused editor_consent press by %s as %s in the audit: %+v (%v)", schChanAdmin, schOwner, recs, err)
	}
	if msg, ok := f.e.EditorConsent(ctx, schKey, asked, schOwner, true); !ok || !strings.Contains(msg, "Approved") {
		t.Fatalf("the owner's approval of %s: %q, %v", asked, msg, ok)
	}
	if _, ok := f.e.EditorConsent(ctx, schKey, never, schOwner, false); !ok {
		t.Fatalf("the owner's refusal of %s was not applied", never)
	}
	if out := f.send(t, schOwner, "editors add <@"+added+">", nil); out.Err != nil || out.Reply.Title != "Editor added" {
		t.Fatalf("the owner's editors add: %v, %q", out.Err, out.Reply.Title)
	}
	if _, ok := f.e.Consent(ctx, schKey, requests[0].ID, schOwner, true); !ok {
		t.Fatal("the owner's approval of the mode was not applied")
	}
	after, _ := f.db.Session(ctx, schKey)
	if !after.Persistent() || !after.HasEditor(asked) || !after.HasEditor(added) || after.HasEditor(never) || after.HasEditor(schChanAdmin) {
		t.Fatalf("after the owner's approval: persistent %v, editors %q; want %s and %s, and neither %s nor %s",
			after.Persistent(), after.Editors, asked, added, never, schChanAdmin)
	}
	if out := f.send(t, asked, "acme read", nil); out.Identity == nil || out.Identity.SlackUser != schOwner {
		t.Fatalf("%s, whom the owner approved, did not run as the owner: %+v, %v", asked, out.Identity, out.Err)
	}
}

// pressingStore runs during, once, just before the next SetSetting that
// closes an editor request: the owner's other press of the same request,
// handled by another goroutine or replica while this one answers it.
type pressingStore struct {
	Store
	during func()
}

func (s *pressingStore) SetSetting(ctx context.Context, name, value string) error {
	if d := s.during; d != nil && value == "" && strings.HasPrefix(name, "editor-request/") {
		s.during = nil
		d()
	}
	return s.Store.SetSetting(ctx, name, value)
}

// The owner presses Approve and Decline of one editor request at once
// (two presses, handled side by side). Only one of them answers it: what
// the owner is told matches who acts as them. Before, a Decline that read
// the request before the Approve closed it told the owner and the thread
// "declined" while the editor the Approve added ran every turn as the
// owner.
func TestEditorRequestIsAnsweredByOnePressOnly(t *testing.T) {
	const editor = "UEDITORRACE"
	for _, first := range []bool{false, true} {
		ctx := t.Context()
		pressing := &pressingStore{}
		f := newSchFixture(t, func(c *Config) {
			pressing.Store = c.Store
			c.Store = pressing
		})
		if out := f.send(t, schOwner, "acme read", nil); out.Err != nil {
			t.Fatal(out.Err)
		}
		if out := f.send(t, schOwner, "set KEEP_CREDENTIALS_PERSISTENT=true", nil); out.Err != nil {
			t.Fatal(out.Err)
		}
		if out := f.send(t, schChanAdmin, "editors add <@"+editor+">", nil); out.Err != nil || out.Reply.Title != "Editor waiting for the owner's approval" {
			t.Fatalf("the admin's editors add: %v, %q; want it waiting for the owner", out.Err, out.Reply.Title)
		}
		var other string
		pressing.during = func() { other, _ = f.e.EditorConsent(ctx, schKey, editor, schOwner, !first) }
		answer, _ := f.e.EditorConsent(ctx, schKey, editor, schOwner, first)
		told := []string{answer, other}
		f.res.take()
		out := f.send(t, editor, "acme read", nil)
		asked := f.res.take()
		after, _ := f.db.Session(ctx, schKey)
		approved := slices.ContainsFunc(told, func(s string) bool { return strings.HasPrefix(s, "Approved") })
		declined := slices.ContainsFunc(told, func(s string) bool { return strings.HasPrefix(s, "Declined") })
		switch {
		case declined && (after.HasEditor(editor) || len(asked) > 0):
			t.Fatalf("first press approves %v: the owner was told %q, yet %s is an editor (%q) and their turn asked for %q (%v)",
				first, told, editor, after.Editors, asked, out.Err)
		case approved == declined:
			t.Fatalf("first press approves %v: the owner was told %q; want one answer", first, told)
		case approved && (!after.HasEditor(editor) || !slices.Equal(asked, []string{schOwner + "/acme/persistent_owner"})):
			t.Fatalf("first press approves %v: the owner was told %q, yet %s's turn asked for %q (%v)", first, told, editor, asked, out.Err)
		}
	}
}
