package turns

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/tandembot/tandem"
	"github.com/tandembot/tandem/agent"
	"github.com/tandembot/tandem/ops"
)

// ProposalTTL is how long a proposal card can be confirmed.
const ProposalTTL = 10 * time.Minute

// confirmPrefix starts the id of the turn a sender's Do it press records:
// only Engine.Press makes such turns (Slack's event ids, API turns and
// re-runs never start with it).
const confirmPrefix = "confirm/"

// Proposal is the changes an agent turn proposed, kept until its sender
// confirms or cancels them, or ProposalTTL passes. User and Reason are the
// identity the turn ran with: a confirmation runs only under that same
// identity.
type Proposal struct {
	ID      string            `json:"id"`
	Session tandem.SessionKey `json:"session"`
	Sender  string            `json:"sender"`
	User    string            `json:"user"`
	Reason  tandem.Reason     `json:"reason"`
	Changes []agent.Proposal  `json:"changes"`
	Expires time.Time         `json:"expires"`
}

func proposalSetting(id string) string { return "proposal/" + id }

// propose keeps what an agent turn proposed and returns it.
func (e *Engine) propose(ctx context.Context, t tandem.Turn, user string, reason tandem.Reason, changes []agent.Proposal) (*Proposal, error) {
	p := &Proposal{ID: randomID(12), Session: t.Session, Sender: t.User, User: user, Reason: reason,
		Changes: changes, Expires: e.cfg.Now().Add(ProposalTTL)}
	raw, err := json.Marshal(p)
	if err == nil {
		err = e.cfg.Store.SetSetting(context.WithoutCancel(ctx), proposalSetting(p.ID), string(raw))
	}
	if err != nil {
		return nil, fmt.Errorf("turns: keep a proposal: %w", err)
	}
	return p, nil
}

// proposal reads a kept proposal; ENOTFOUND when it was used, cancelled or
// never made.
func (e *Engine) proposal(ctx context.Context, id string) (Proposal, error) {
	raw, err := e.cfg.Store.Setting(ctx, proposalSetting(id))
	if err != nil {
		return Proposal{}, err
	}
	var p Proposal
	if err := json.Unmarshal([]byte(raw), &p); err != nil {
		return Proposal{}, fmt.Errorf("turns: proposal %s: %w", id, err)
	}
	return p, nil
}

// Press answers presser's press of a proposal card's Do it (do) or Cancel.
// Only the proposal's sender may answer it: anyone else is told so and
// nothing changes. A Do it within ProposalTTL records a turn that makes
// the changes (Confirms), in the session's order, once however often it is
// pressed. It returns what to tell the presser privately ("" for nothing),
// and what the card becomes ("" to leave it). A Cancel after a Do it was
// recorded cancels nothing (the changes are being made); the sender's
// presses of one proposal are answered one at a time (its lease), so a
// Cancel never reads "nothing was changed" on a card whose changes a
// confirmation it raced with is making.
func (e *Engine) Press(ctx context.Context, id, presser string, do bool) (private, card string) {
	p, err := e.proposal(ctx, id)
	if tandem.ErrorCode(err) == tandem.ENOTFOUND {
		return "This proposal is no longer open: it was confirmed, cancelled or has expired.", ""
	}
	if err != nil {
		e.log.Error("read a proposal", "proposal", id, "err", err)
		return "Could not read this proposal; try again in a moment.", ""
	}
	if presser != p.Sender {
		e.auditPress(ctx, p.Session, presser, p.User, "proposal_press", tandem.OutcomeRefused, "pressed <@"+p.Sender+">'s proposal: only they may confirm or cancel it; nothing was changed")
		return fmt.Sprintf("Only <@%s> can confirm or cancel this: it would run as them.", p.Sender), ""
	}
	release, took, err := e.answering(ctx, proposalSetting(id), presser)
	if err != nil {
		e.log.Error("take a proposal to answer a press", "proposal", id, "err", err)
		return "Could not read this proposal; try again in a moment.", ""
	}
	if !took {
		return "Your other press of this proposal is being answered; look at the card in a moment.", ""
	}
	defer release()
	p, err = e.proposal(ctx, id)
	if tandem.ErrorCode(err) == tandem.ENOTFOUND {
		// Answered by the press that held it before this one.
		return "This proposal is no longer open: it was confirmed, cancelled or has expired.", ""
	}
	if err != nil {
		e.log.Error("read a proposal", "proposal", id, "err", err)
		return "Could not read this proposal; try again in a moment.", ""
	}
	cutOff := false // its confirmation ran, and a restart cut it off
	if !do {
		rec, err := e.cfg.Store.TurnRecord(ctx, confirmPrefix+id)
		switch {
		case err == nil && rec.State == tandem.TurnDone:
			cutOff = true
		case err == nil:
			return "It was confirmed already: the changes are being made, and the thread will say which were.", ""
		case tandem.ErrorCode(err) != tandem.ENOTFOUND:
			e.log.Error("read a proposal's confirmation", "proposal", id, "err", err)
			return "Could not read this proposal; try again in a moment.", ""
		}
	}
	if do && !e.showsChanges(agent.Summaries(p.Changes)) {
		// Kept from before the card's limits were checked when proposing:
		// its card did not show every change whole.
		e.dropProposal(ctx, id)
		return "", "These changes are too long to show here in full, so they cannot be confirmed: nothing was changed. Ask again for shorter ones."
	}
	list := "\n• " + strings.Join(escaped(agent.Summaries(p.Changes)), "\n• ")
	if !do {
		e.dropProposal(ctx, id)
		e.auditChange(ctx, p.Session, presser, p.User, "proposal_cancel", strings.Join(agent.Summaries(p.Changes), "; "))
		if cutOff {
			return "", fmt.Sprintf("Cancelled by <@%s>: a restart cut off its confirmation, and nothing more is made from it; the thread says what may have been.", presser) + list
		}
		return "", fmt.Sprintf("Cancelled by <@%s>: nothing was changed.", presser) + list
	}
	if !e.cfg.Now().Before(p.Expires) {
		e.dropProposal(ctx, id)
		return "", "This proposal expired before it was confirmed: nothing was changed. Ask again if you still want it." + list
	}
	t := tandem.Turn{ID: confirmPrefix + id, Session: p.Session, User: presser, Text: "confirm the proposed changes",
		ReceivedAt: e.cfg.Now()}
	dup, err := e.cfg.Store.RecordTurn(ctx, t)
	if err != nil {
		e.log.Error("record a confirmation", "proposal", id, "err", err)
		return "Could not record your confirmation; press again in a moment.", ""
	}
	if !dup {
		e.cfg.Chat.Submit(t)
	} else if rec, err := e.cfg.Store.TurnRecord(ctx, t.ID); err == nil && rec.State == tandem.TurnDone {
		// Its confirmation ran already and left the proposal behind: a
		// restart cut it off (it was reported as interrupted, never run
		// again), so this press makes nothing either.
		return "This proposal was confirmed already, and a restart cut its changes off: nothing more is made from it. The thread says so; check the result at the provider and ask again if needed.", ""
	}
	return "", fmt.Sprintf("Confirmed by <@%s>: making the changes…", presser) + list
}

func escaped(lines []string) []string {
	out := make([]string, len(lines))
	for i, l := range lines {
		out[i] = tandem.Escape(l)
	}
	return out
}

func (e *Engine) dropProposal(ctx context.Context, id string) {
	if err := e.cfg.Store.SetSetting(context.WithoutCancel(ctx), proposalSetting(id), ""); err != nil {
		e.log.Error("drop a proposal", "proposal", id, "err", err)
	}
}

// Confirms reports whether t is the turn of a sender's Do it press: it
// makes changes, so after a crash in the middle it is reported, never run
// again.
func Confirms(t tandem.Turn) bool { return strings.HasPrefix(t.ID, confirmPrefix) }

// MakesChanges reports whether t may make changes whatever its text parses
// to: a confirmation of a proposal, or an API turn that allows changes (a
// free-form request whose agent makes what it plans). Such a turn found
// running after a crash or a takeover may have made some of them, so it is
// reported as interrupted rather than run again.
func MakesChanges(t tandem.Turn) bool { return Confirms(t) || allowsChanges(t) }

// runConfirmed makes the changes of the proposal t confirms, in order, each
// with the credentials of the identity the rule gives now, provided that is
// the identity the proposing turn ran with; the first failure stops the
// rest, and the reply says which changes were made and which were not.
func (e *Engine) runConfirmed(ctx context.Context, t tandem.Turn, sess tandem.Session, res Result) Result {
	res.Command = "confirm"
	id := strings.TrimPrefix(t.ID, confirmPrefix)
	p, err := e.proposal(ctx, id)
	switch {
	case tandem.ErrorCode(err) == tandem.ENOTFOUND:
		res.Err, res.Outcome = tandem.Errorf(tandem.EINVALID, "This proposal is no longer open: nothing was changed."), tandem.OutcomeRefused
		return res
	case err != nil:
		res.Err, res.Outcome = err, tandem.OutcomeError
		return res
	case t.User != p.Sender || t.Session != p.Session:
		res.Err, res.Outcome = tandem.Errorf(tandem.EFORBIDDEN, "Only <@%s> can confirm this.", p.Sender), tandem.OutcomeRefused
		return res
	}
	// Used once: dropped whatever happens next, unless this runner lost
	// the session's lease (the lease's next holder runs the confirmation).
	// A second press finds the confirmation turn recorded already (its id
	// is the proposal's).
	defer func() {
		if !res.LeaseLost {
			e.dropProposal(ctx, id)
		}
	}()
	user, reason, refusal := t.User, p.Reason, error(nil)
	if p.Reason != tandem.ReasonScheduleCreator {
		// A scheduled run's proposal acts as the schedule's creator, who
		// alone may press (checked above), whatever the mode; any other
		// proposal goes by the session's rule now.
		asked := e.cfg.Now()
		user, reason, refusal = e.identity(ctx, t, sess, &res.step, "confirm", "")
		if refusal == nil && actsForOwner(t, user, reason) {
			res.vouched = asked // identity asked Slack whether the owner stays
		}
	}
	if refusal == nil && (user != p.User || reason != p.Reason) {
		e.audit(&res.step, t, "", "", reason, tandem.OutcomeRefused, "confirm (the session's mode changed since the proposal)")
		refusal = tandem.Errorf(tandem.EFORBIDDEN, "Nothing was changed: this session's mode changed since these changes were proposed (they would now run as %s, not <@%s>). Ask again if you still want them.", identityWords(user, reason), p.User)
	}
	if refusal != nil {
		res.Err, res.Outcome = refusal, tandem.OutcomeRefused
		return res
	}
	res.Identity = &tandem.Identity{SlackUser: user, Reason: reason}
	res.Reply = tandem.Reply{Title: "Changes made"}
	e.makeChanges(ctx, t, sess, &res, user, reason, p.Changes)
	return res
}

// makeChanges makes changes in order as user, adding a line per change to
// res's reply. The first failure stops the rest: when nothing was made,
// res.Err says why (a missing link gets its Connect button); when some
// were, the reply says which were made and which not.
func (e *Engine) makeChanges(ctx context.Context, t tandem.Turn, sess tandem.Session, res *Result, user string, reason tandem.Reason, changes []agent.Proposal) {
	for i, c := range changes {
		reply, err := e.change(ctx, t, sess, res, user, reason, c)
		if res.LeaseLost {
			// This one was not made, nor any after it: the lease's next
			// holder finds the turn running (when an earlier change
			// was made) and says so, or runs it.
			e.log.Warn("session lease lost before a change; it was not made here", "turn", t.ID, "err", err)
			return
		}
		if err != nil {
			res.Err, res.Outcome = err, outcomeOf(err)
			if i == 0 {
				return // nothing was made: the error says why
			}
			res.Err, res.Outcome = nil, tandem.OutcomeError
			res.Reply.Title = "Some changes were not made"
			res.Reply.Items = append(res.Reply.Items, tandem.Item{Text: "Not made: " + tandem.Escape(c.Summary) + " (" + tandem.Escape(tandem.ErrorMessage(err)) + ")"})
			for _, rest := range changes[i+1:] {
				res.Reply.Items = append(res.Reply.Items, tandem.Item{Text: "Not made: " + tandem.Escape(rest.Summary)})
			}
			return
		}
		line := "Made: " + tandem.Escape(c.Summary)
		if reply.Title != "" {
			line += " — " + tandem.Escape(reply.Title)
		}
		res.Reply.Items = append(res.Reply.Items, tandem.Item{Text: line})
	}
}

// change makes one proposed change as user: its credentials, its audit
// record and the turn marked running, in one commit before the request
// leaves, then the operation. It fails, reaching no provider, with
// EFORBIDDEN when the rule no longer gives user by reason in the session
// as stored now (its mode changed since the turn started; not for an API
// key's or a schedule's changes, which ignore the mode), and with
// ECONFLICT when user's link went to another account since an earlier
// step of the turn used it (accountChanged).
func (e *Engine) change(ctx context.Context, t tandem.Turn, sess tandem.Session, res *Result, user string, reason tandem.Reason, c agent.Proposal) (tandem.Reply, error) {
	spec := e.cfg.Operations.get().Spec(c.Op)
	if spec == nil || !spec.Mutating {
		return tandem.Reply{}, tandem.Errorf(tandem.EINVALID, "There is no change %q.", c.Op)
	}
	prov, ok := e.cfg.Providers[spec.Provider]
	if !ok {
		return tandem.Reply{}, tandem.Errorf(tandem.EINVALID, "%s is not enabled here.", spec.Provider.Name())
	}
	if res.Identity != nil {
		// A missing or refused link names its provider, for the Connect
		// button of the effective identity.
		res.Identity.Provider = spec.Provider
	}
	if t.APIKey != "" {
		// Made at once (allow_changes), as the key's creator: only while
		// the key still stands, which the model's planning may have
		// outlasted.
		asked, err := e.keyStands(ctx, t, res.vouched)
		res.vouched = asked
		if err != nil {
			e.audit(&res.step, t, "", spec.Provider, reason, outcomeOf(err), "confirm: "+c.Op+" (the API key no longer stands)")
			return tandem.Reply{}, err
		}
	}
	if t.APIKey == "" && reason != tandem.ReasonScheduleCreator {
		// The rule is applied again to the session as stored now, at each
		// change as at each read of an agent turn: an owner who turned
		// persistent mode off meanwhile (Session settings acts outside the
		// session's turns) is not acted for by the next change, nor is
		// anyone else acted for by it.
		stored, err := e.sessionNow(ctx, t, sess)
		if err != nil {
			return tandem.Reply{}, err
		}
		if now, nowReason := e.rule(t, stored); now != user || nowReason != reason {
			e.audit(&res.step, t, "", spec.Provider, nowReason, tandem.OutcomeRefused, "confirm: "+c.Op+" (the session's mode changed during the turn)")
			return tandem.Reply{}, tandem.Errorf(tandem.EFORBIDDEN, "This session's mode changed while the changes were being made (it now runs as %s), so this one was not made. Ask again if you still want it.", identityWords(now, nowReason))
		}
	}
	if actsForOwner(t, user, reason) {
		// An editor's confirmation acts as the owner only while the owner
		// stays in the workspace and the channel, at each change.
		asked, err := e.ownerStaysSince(ctx, sess, res.vouched)
		res.vouched = asked
		if err != nil {
			e.audit(&res.step, t, "", spec.Provider, reason, outcomeOf(err), "confirm: "+c.Op+" (the owner left the workspace or the channel, or Slack could not say)")
			return tandem.Reply{}, err
		}
	}
	creds, err := e.credentials(ctx, t.Session, user, spec.Provider, reason)
	if err == nil && res.Agent != nil {
		// An earlier change (or read) of this turn used the provider: it
		// goes on only with the same account.
		if err := accountChanged(res.Agent.Used, creds.Identity); err != nil {
			e.audit(&res.step, t, user, spec.Provider, reason, tandem.OutcomeRefused, "confirm: "+c.Op+" (the link changed to another account during the turn)")
			return tandem.Reply{}, err
		}
	}
	e.audit(&res.step, t, user, spec.Provider, reason, outcomeOf(err), "confirm: "+c.Op)
	if err != nil {
		return tandem.Reply{}, err
	}
	if res.Agent == nil {
		res.Agent = &AgentRun{}
	}
	if err := e.markRunning(ctx, t, res); err != nil {
		return tandem.Reply{}, fmt.Errorf("turns: mark running: %w", err)
	}
	res.Agent.Calls++
	if !containsProvider(res.Agent.Used, spec.Provider) {
		res.Agent.Used = append(res.Agent.Used, creds.Identity)
	}
	return e.cfg.Operations.get().Run(ctx, ops.Request{Turn: t, Session: sess,
		Command: ops.Command{Name: c.Op, Args: c.Args, Provider: spec.Provider, Mutating: true}, Creds: creds, Provider: prov})
}

func containsProvider(ids []tandem.Identity, p tandem.ProviderID) bool {
	for _, id := range ids {
		if id.Provider == p {
			return true
		}
	}
	return false
}
