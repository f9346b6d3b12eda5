package turns

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"github.com/tandembot/tandem/agent"
	"strings"
	"time"

	"github.com/tandembot/tandem"
	"github.com/tandembot/tandem/ops"
)

// Result is what a turn produced, for the transport to render.
type Result struct {
	Command string
	// Control marks a session control's result: it changed or showed the
	// session and used nobody's account.
	Control  bool
	Reply    tandem.Reply
	Err      error            // shown to the sender
	Identity *tandem.Identity // whose credentials were used, if any
	Session  tandem.Session
	Outcome  tandem.Outcome
	Missing  []tandem.ProviderID // providers a multi-provider command lacked
	ViaKey   string              // the API key's name, for turns from the API
	// Awaits is the provider whose link by the sender runs this failed
	// turn again (Engine.RerunAfterLink), "" when nothing will.
	Awaits tandem.ProviderID
	// Agent is what an agent turn did (nil for any other turn).
	Agent *AgentRun
	// Proposal is the changes an agent turn proposes, for its sender to
	// confirm (nil for none).
	Proposal *Proposal
	// Pending are the changes an API agent turn proposed and, its call not
	// allowing changes, did not make.
	Pending []agent.Proposal
	// Schedules are the schedules a turn made or listed, for the
	// transport to offer their buttons.
	Schedules []tandem.Schedule
	// LeaseLost: the session's lease (Run's hold) was no longer the
	// runner's when the turn was to mark a change running, or a control
	// found its turn done by another runner already, so nothing was
	// changed or written, and no reply is owed: the lease's next holder
	// runs the turn (or ran it).
	LeaseLost bool
	// step is what the turn still has to write when it is done (Done).
	step tandem.TurnStep
	// hold is the session lease the turn runs under (Run).
	hold tandem.Hold
	// vouched is when Slack last vouched for the creator of an API
	// turn's key (keyStands), of a scheduled run's schedule
	// (scheduleStands) or, for an editor's turn, for the persistent
	// session's owner (ownerStaysSince), so that each step of the turn
	// asks again only after creatorFresh.
	vouched time.Time
}

// retryBackoff is the wait before retrying a read after a provider's 5xx.
var retryBackoff = 500 * time.Millisecond

// Run runs t, whose text was read as cmd, in its session (started here
// for its first turn): it resolves the identity by the identity rule,
// resolves that identity's credentials, audits each resolution and runs the
// command. Every failure is in the Result: Err is meant for the sender,
// Outcome classifies it. A change is marked running only while hold, the
// session's lease its runner holds, is still the runner's (zero: the turn
// is not run under a lease); when it is not, the Result is LeaseLost.
func (e *Engine) Run(ctx context.Context, t tandem.Turn, cmd Command, hold tandem.Hold) Result {
	log := e.log.With("turn", t.ID, "session", t.Session.String(), "user", t.User)
	var vouched time.Time // when Slack last vouched for an API key's or a schedule's creator
	if t.APIKey != "" {
		// An API turn acts as its key's creator only while the key stands:
		// one that does not any more does nothing, not even start the
		// session of a new thread. Its refusal is audited: the turn was
		// recorded and its thread is answered.
		var err error
		if vouched, err = e.keyStands(ctx, t, e.apiAsked(t)); err != nil {
			res := Result{Err: err, Outcome: outcomeOf(err), ViaKey: t.APIKeyName}
			e.auditKeyRefused(&res.step, t, res.Outcome, cmp.Or(cmd.Name(), "agent")+" (the API key no longer stands)")
			return res
		}
	}
	// A session's first turn needs its channel's default mode: it comes
	// with the session's read.
	sess, channelDefault, err := e.cfg.Store.SessionOrSetting(ctx, t.Session, channelDefaultKey(t.Session.Team, t.Session.Channel))
	created := tandem.ErrorCode(err) == tandem.ENOTFOUND
	if created {
		sess, err = tandem.Session{Key: t.Session, Owner: t.User, CreatedAt: t.ReceivedAt}, nil
	}
	if err != nil {
		return Result{Err: fmt.Errorf("turns: session: %w", err), Outcome: tandem.OutcomeError}
	}
	res := Result{Session: sess, Outcome: tandem.OutcomeOK, ViaKey: t.APIKeyName, hold: hold, vouched: vouched}
	// The session a first turn starts, and its sender as a new editor, are
	// written with the turn's state (Engine.Done), in the same commit.
	if created {
		log.Info("session started", "owner", t.User)
		stored := sess
		res.step.Session = &stored
		sess = e.applyChannelDefault(ctx, t, &res.step, channelDefault)
	} else if !sess.HasEditor(t.User) && !sess.Persistent() && sess.Pending == nil && t.APIKey == "" && t.Schedule == "" {
		// In a per-message session whoever writes becomes an editor. A
		// persistent (or pending) session's list changes only through its
		// owner or a channel admin, since it shares the owner's identity.
		res.step.Editor = t.User
		sess.Editors = append(sess.Editors, t.User)
	}
	res.Session = sess

	if t.Schedule != "" {
		// A scheduled run acts as its creator only while its schedule
		// still stands as it was claimed, and its creator could still
		// ask for it: the claim's answer from Slack (at ReceivedAt) does
		// not serve a run that waited (behind the session's turns, or
		// for a restart).
		if res.vouched, err = e.scheduleStands(ctx, t, t.ReceivedAt, true); err != nil {
			res.Err, res.Outcome = err, outcomeOf(err)
			return res
		}
	}
	if Confirms(t) {
		return e.runConfirmed(ctx, t, sess, res)
	}
	if cmd.err != nil {
		if e.cfg.Agent != nil && tandem.ErrorCode(cmd.err) == tandem.EUNKNOWNCOMMAND {
			return e.runAgent(ctx, t, sess, res)
		}
		res.Err, res.Outcome = cmd.err, tandem.OutcomeRefused
		return res
	}
	c := cmd.cmd
	res.Command, res.Control = c.Name, c.Control
	if c.Control && t.APIKey != "" {
		// Audited, as nobody: a key's attempt on a session (sharing its
		// owner's identity, adding an editor) belongs in the trail.
		res.Err = tandem.Errorf(tandem.EFORBIDDEN, "Session controls are not available through API keys; use Slack.")
		res.Outcome = tandem.OutcomeRefused
		e.auditKeyRefused(&res.step, t, res.Outcome, c.Name+" (session controls are not available through API keys)")
		return res
	}
	if c.Control && t.Schedule != "" {
		// A schedule runs what its creator wrote, never a control (its
		// creation refuses them; this holds whatever the store says).
		res.Err, res.Outcome = tandem.Errorf(tandem.EFORBIDDEN, "A scheduled run cannot change the session or its schedules."), tandem.OutcomeRefused
		return res
	}
	if c.Control && strings.HasPrefix(c.Name, "schedule.") {
		return e.runScheduleControl(ctx, t, sess, c.Name, res)
	}
	if c.Control {
		if !e.writeBeforeControl(ctx, t, &res) {
			return res
		}
		reply, err := e.control(ctx, t, sess, cmd)
		res.Reply, res.Err = reply, err
		if err != nil {
			res.Outcome = outcomeOf(err)
		}
		// Another runner ran this control after this one lost the lease:
		// its answer is that runner's to post.
		res.LeaseLost = errors.Is(err, tandem.ErrTurnDone)
		return res
	}

	user, reason, refusal := e.identity(ctx, t, sess, &res.step, c.Name, c.Provider)
	if refusal != nil {
		res.Err, res.Outcome = refusal, tandem.OutcomeRefused
		return res
	}
	req := ops.Request{Turn: t, Session: sess, Command: c}
	if c.Provider != "" {
		prov, ok := e.cfg.Providers[c.Provider]
		if !ok {
			res.Err = tandem.Errorf(tandem.EINVALID, "%s is not enabled on this Tandem; ask whoever runs it to configure it.", c.Provider.Name())
			res.Outcome = tandem.OutcomeRefused
			return res
		}
		creds, err := e.credentials(ctx, t.Session, user, c.Provider, reason)
		e.audit(&res.step, t, user, c.Provider, reason, outcomeOf(err), c.Name)
		if err != nil {
			res.Err, res.Outcome = err, outcomeOf(err)
			res.Awaits = e.awaitsLink(ctx, &res, t, user, c.Provider, reason, res.Outcome, c.Name)
			return res
		}
		log.Info("credentials resolved", "provider", c.Provider, "effective_user", user, "reason", reason, "login", creds.Identity.Login)
		req.Creds, req.Provider = creds, prov
		res.Identity = &creds.Identity
	}
	if c.Name == "whoami" {
		req.Identities = e.Identities(ctx, sess.Key.Team, user, reason)
	}
	if len(c.Uses) > 0 {
		req.Sources = map[tandem.ProviderID]ops.Source{}
		for _, p := range c.Uses {
			prov, ok := e.cfg.Providers[p]
			if !ok {
				continue
			}
			creds, err := e.credentials(ctx, t.Session, user, p, reason)
			e.audit(&res.step, t, user, p, reason, outcomeOf(err), c.Name)
			req.Sources[p] = ops.Source{Creds: creds, Provider: prov, Err: err}
			if err != nil {
				res.Missing = append(res.Missing, p)
			}
		}
		res.Identity = &tandem.Identity{SlackUser: user, Reason: reason}
	}
	if c.Mutating {
		// A change may reach the provider: the turn is marked running
		// first, with its audit records, so a crash from here on cannot
		// make it twice (it is reported as interrupted instead).
		if err := e.markRunning(ctx, t, &res); err != nil {
			if res.LeaseLost {
				log.Warn("session lease lost before the change; it was not made here", "err", err)
				return res
			}
			res.Err, res.Outcome = fmt.Errorf("turns: mark running: %w", err), tandem.OutcomeError
			log.Error("mark turn running; the change was not made", "err", err)
			return res
		}
	}
	reply, err := e.cfg.Operations.get().Run(ctx, req)
	if tandem.ErrorCode(err) == tandem.EUNAVAILABLE && !c.Mutating {
		// One retry with backoff for a provider's 5xx or timeout; a change
		// is never retried, since it may have reached the provider.
		log.Info("provider unavailable; retrying once", "command", c.Name)
		select {
		case <-ctx.Done():
		case <-time.After(retryBackoff):
			reply, err = e.cfg.Operations.get().Run(ctx, req)
		}
	}
	if err != nil {
		res.Err, res.Outcome = err, outcomeOf(err)
		if res.Outcome == tandem.OutcomeError {
			log.Error("command failed", "command", c.Name, "err", err)
		}
		// The provider refused the credentials (401): the request did
		// nothing there, so the turn may wait for a reconnect like one
		// whose link was missing.
		res.Awaits = e.awaitsLink(ctx, &res, t, user, c.Provider, reason, res.Outcome, c.Name)
		return res
	}
	res.Reply = reply
	return res
}

// rule is the row of the identity rule t meets in sess: an API key's
// creator, or tandem.EffectiveUser.
func (e *Engine) rule(t tandem.Turn, sess tandem.Session) (string, tandem.Reason) {
	if t.APIKey != "" {
		// An API key always acts as its creator, whatever the session's mode.
		return t.User, tandem.ReasonAPIKeyCreator
	}
	if t.Schedule != "" {
		// So does a schedule (Run checked that User is its creator).
		return t.User, tandem.ReasonScheduleCreator
	}
	return tandem.EffectiveUser(sess, t.User)
}

// identity applies the identity rule to t in sess: whose identity the turn
// uses, by which row of the table, or why it may use nobody's (the refusal,
// audited in step; detail and p name what it asked for).
func (e *Engine) identity(ctx context.Context, t tandem.Turn, sess tandem.Session, step *tandem.TurnStep, detail string, p tandem.ProviderID) (string, tandem.Reason, error) {
	user, reason := e.rule(t, sess)
	if t.Rerun && (user != t.User || reason != e.originalReason(ctx, t)) {
		// The message was sent when it ran as its sender; the session's mode
		// has changed since, and a re-run must not act as anyone else.
		e.audit(step, t, "", p, reason, tandem.OutcomeRefused, detail+" (re-run refused: the mode changed)")
		return "", reason, tandem.Errorf(tandem.EFORBIDDEN, "<@%s>, your message was not run again: this session's mode changed after you sent it (it now runs as %s), so please send it again if you still want it.", t.User, identityWords(user, reason))
	}
	if t.Rerun {
		// The identity is the same as the original row's; the re-run itself
		// is the table's own row: the user who just connected, as sender.
		reason = tandem.ReasonSender
	}
	if reason == tandem.ReasonRefusedNotEditor {
		e.audit(step, t, "", p, reason, tandem.OutcomeRefused, detail)
		if !sess.Persistent() {
			return "", reason, tandem.Errorf(tandem.EFORBIDDEN, "This session is about to run with <@%s>'s identity (persistent session, waiting for their approval), and you are not on its editors list. Ask <@%s> to add you: `@tandem editors add <@%s>`.", sess.Owner, sess.Owner, t.User)
		}
		return "", reason, tandem.Errorf(tandem.EFORBIDDEN, "This session runs with <@%s>'s identity (persistent session), and you are not on its editors list. Ask <@%s> or a channel admin to add you: `@tandem editors add <@%s>`.", sess.Owner, sess.Owner, t.User)
	}
	if actsForOwner(t, user, reason) {
		// An editor acts as the owner only while the owner is still in
		// the workspace and in the session's channel: leaving either
		// withdraws what they approved (for as long as they are away).
		if err := e.ownerStays(ctx, sess); err != nil {
			e.audit(step, t, "", p, reason, tandem.OutcomeRefused, detail+" (the owner left the workspace or the channel, or Slack could not say)")
			return "", reason, err
		}
	}
	return user, reason, nil
}

// ownerStays fails with EFORBIDDEN when sess's owner left the workspace
// (or Slack no longer knows them) or is no longer in the session's
// channel, and with EUNAVAILABLE when Slack cannot say (leftWorkspace,
// People.IsMember): an editor's turn never acts as the owner on a guess.
// The owner who left the channel sees nothing of what would be done in
// their name there, as a key's creator or a schedule's would not. Slack
// is asked at each such turn, without a cache, so a departure counts from
// the next turn, and a return too.
func (e *Engine) ownerStays(ctx context.Context, sess tandem.Session) error {
	if e.cfg.People == nil {
		return nil
	}
	left, err := e.leftWorkspace(ctx, sess.Owner, "whose identity this session uses")
	if err != nil {
		return err
	}
	if left {
		return tandem.Errorf(tandem.EFORBIDDEN, "This session runs with <@%s>'s identity (persistent session), and <@%s> left the workspace: nothing runs as them any more. A channel admin can turn persistent mode off (`@tandem unset %s`); then each message runs as its sender.", sess.Owner, sess.Owner, tandem.EnvKeepCredentialsPersistent)
	}
	member, err := e.cfg.People.IsMember(ctx, sess.Key.Channel, sess.Owner)
	if err != nil {
		e.log.Warn("conversations.members for a persistent session's owner", "session", sess.Key.String(), "err", err)
		return tandem.Errorf(tandem.EUNAVAILABLE, "Slack could not say whether <@%s>, whose identity this session uses, is still in this channel; nothing ran. Try again in a moment.", sess.Owner)
	}
	if !member {
		return tandem.Errorf(tandem.EFORBIDDEN, "This session runs with <@%s>'s identity (persistent session), and <@%s> is no longer in this channel: nothing runs as them here until they are back. A channel admin can turn persistent mode off (`@tandem unset %s`); then each message runs as its sender.", sess.Owner, sess.Owner, tandem.EnvKeepCredentialsPersistent)
	}
	return nil
}

// actsForOwner reports whether a turn of t that uses user's identity by
// reason is an editor's acting as a persistent session's owner: what the
// owner's staying in the workspace and the channel (ownerStays) allows.
func actsForOwner(t tandem.Turn, user string, reason tandem.Reason) bool {
	return reason == tandem.ReasonPersistentOwner && user != t.User
}

// ownerStaysSince is ownerStays for a later step of an editor's turn that
// acts as sess's owner (each read of a free-form request, each change of a
// confirmation after the first): an owner who leaves the workspace or the
// channel while the turn runs is not acted for by its next step, as an API
// key's creator who leaves the conversation is not. Slack is asked unless
// it vouched for the owner less than creatorFresh before (asked: when it
// last did for this turn, zero for never). It returns when Slack last
// vouched, and fails as ownerStays.
func (e *Engine) ownerStaysSince(ctx context.Context, sess tandem.Session, asked time.Time) (time.Time, error) {
	now := e.cfg.Now()
	if vouchedRecently(asked, now) {
		return asked, nil
	}
	if err := e.ownerStays(ctx, sess); err != nil {
		return asked, err
	}
	return now, nil
}

// awaitsLink is the provider a turn that failed with out waits for (see
// awaitConnect), or "" when it does not wait. A turn that waits has its
// records written before its reply offers the link, so a link made at once
// finds it.
func (e *Engine) awaitsLink(ctx context.Context, res *Result, t tandem.Turn, user string, p tandem.ProviderID, reason tandem.Reason, out tandem.Outcome, detail string) tandem.ProviderID {
	if out != tandem.OutcomeNotConfigured && out != tandem.OutcomeExpired {
		return ""
	}
	if !e.awaitConnect(&res.step, t, user, p, reason, out, detail) {
		return ""
	}
	if err := e.write(ctx, t, &res.step); err != nil {
		// The Connect button in the thread still re-runs it.
		e.log.Error("record a turn that waits for a link", "turn", t.ID, "err", err)
	}
	return p
}

// writeBeforeControl writes what the turn has to write so far (the
// session it starts, its sender as an editor) before a control reads and
// changes the stored session. It reports false, with res failed, when that
// write fails; res is then LeaseLost when another runner finished the turn
// meanwhile.
func (e *Engine) writeBeforeControl(ctx context.Context, t tandem.Turn, res *Result) bool {
	err := e.write(ctx, t, &res.step)
	if err == nil {
		return true
	}
	res.Err, res.Outcome = fmt.Errorf("turns: session: %w", err), tandem.OutcomeError
	res.LeaseLost = errors.Is(err, tandem.ErrTurnDone)
	return false
}

// write writes what the turn has to write so far (step), in one commit,
// and empties step; a failure leaves step for Done to write. It fails with
// tandem.ErrTurnDone, writing nothing, when another runner finished the
// turn meanwhile (this one lost the session's lease).
func (e *Engine) write(ctx context.Context, t tandem.Turn, step *tandem.TurnStep) error {
	if step.Session == nil && step.Editor == "" && len(step.Audit) == 0 {
		return nil
	}
	if err := e.cfg.Store.StepTurn(context.WithoutCancel(ctx), t.ID, *step); err != nil {
		return err
	}
	*step = tandem.TurnStep{}
	return nil
}

// markRunning marks t running, with what it has to write so far, under
// res's lease: a change may reach the provider next. It sets LeaseLost
// when the lease is no longer the runner's, or another runner finished the
// turn meanwhile (this one stalled past the lease, and may have taken it
// again once it was free): the change is not made then.
func (e *Engine) markRunning(ctx context.Context, t tandem.Turn, res *Result) error {
	w := res.step
	w.State, w.Hold = tandem.TurnRunning, res.hold
	if err := e.cfg.Store.StepTurn(context.WithoutCancel(ctx), t.ID, w); err != nil {
		res.LeaseLost = tandem.ErrorCode(err) == tandem.ENOTHELD || errors.Is(err, tandem.ErrTurnDone)
		return err
	}
	res.step = tandem.TurnStep{}
	return nil
}

// Done marks t done, with what running it left to write (the session it
// started, its sender as a new editor, its audit records), in one commit.
// It fails when the store does: the turn then stays in the inbox and runs
// again.
func (e *Engine) Done(ctx context.Context, t tandem.Turn, out Result) error {
	step := out.step
	step.State = tandem.TurnDone
	if t.Schedule != "" {
		e.afterScheduledRun(ctx, t, out)
	}
	return e.cfg.Store.StepTurn(context.WithoutCancel(ctx), t.ID, step)
}

// outcomeOf classifies a resolution or command error for the audit trail.
func outcomeOf(err error) tandem.Outcome {
	var nc *tandem.NotConnectedError
	var ex *tandem.ExpiredError
	switch {
	case err == nil:
		return tandem.OutcomeOK
	case errors.As(err, &nc):
		return tandem.OutcomeNotConfigured
	case errors.As(err, &ex), tandem.ErrorCode(err) == tandem.EUNAUTHORIZED:
		return tandem.OutcomeExpired
	case tandem.ErrorCode(err) == tandem.EINTERNAL:
		return tandem.OutcomeError
	}
	return tandem.OutcomeRefused
}

// audit adds the record of a credential resolution to what the turn
// writes (step), and logs it. It never holds a secret.
func (e *Engine) audit(step *tandem.TurnStep, t tandem.Turn, effective string, p tandem.ProviderID, reason tandem.Reason, out tandem.Outcome, detail string) {
	actor := t.User
	if t.APIKey != "" {
		// The key acted, not its creator at a keyboard: say which key.
		actor = "apikey:" + t.APIKey
	}
	if t.Schedule != "" {
		actor = "schedule:" + t.Schedule
	}
	rec := tandem.AuditRecord{
		Time: e.cfg.Now(), Session: t.Session, TurnID: t.ID, Actor: actor,
		Effective: effective, Provider: p, Action: "resolve", Reason: reason,
		Outcome: out, Detail: detail,
	}
	step.Audit = append(step.Audit, rec)
	e.log.Info("audit", "action", rec.Action, "turn", t.ID, "session", t.Session.String(), "actor", actor,
		"effective_user", effective, "provider", p, "reason", reason, "outcome", out)
}

// Identities says, for each enabled provider, how the identity a turn
// resolved (user, for reason) stands; links it cannot read count as none
// (and are logged).
func (e *Engine) Identities(ctx context.Context, team, user string, reason tandem.Reason) []tandem.IdentityStatus {
	links, err := e.cfg.Store.Links(ctx, team, user)
	if err != nil {
		e.log.Error("read links", "err", err)
	}
	out := tandem.LinkStates(links, e.Enabled())
	for i := range out {
		out[i].SlackUser, out[i].Reason = user, reason
	}
	return out
}

// identityWords says whose identity a turn would use, for a refusal.
func identityWords(user string, reason tandem.Reason) string {
	if reason == tandem.ReasonRefusedNotEditor {
		return "its owner and editors only"
	}
	return fmt.Sprintf("<@%s>", user)
}

// originalReason is the row of the identity rules that applied to the
// message a re-run replays, from its audit record ("" when there is none,
// which refuses the re-run).
func (e *Engine) originalReason(ctx context.Context, t tandem.Turn) tandem.Reason {
	orig, _, _ := strings.Cut(t.ID, "/rerun/")
	key := t.Session
	// A re-run is recorded at most RerunWindow after its original message
	// arrived, so the original's record is no older than that: the session's
	// older audit trail need not be read.
	recs, err := e.cfg.Store.Audit(ctx, tandem.AuditFilter{Session: &key, Since: t.ReceivedAt.Add(-e.cfg.RerunWindow)})
	if err != nil {
		e.log.Error("read audit for a re-run", "turn", t.ID, "err", err)
		return ""
	}
	var reason tandem.Reason
	for _, r := range recs {
		if r.TurnID == orig && r.Action == "resolve" {
			reason = r.Reason
		}
	}
	return reason
}
