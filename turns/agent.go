package turns

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/tandembot/tandem"
	"github.com/tandembot/tandem/agent"
)

// Agent is what free-form requests need: a planner with its model, the
// tools made from the operations (agent.Tools), and the limits of a turn.
type Agent struct {
	Planner  *agent.Planner
	Tools    []agent.Tool
	MaxCalls int           // tool calls a turn may make (TANDEM_AGENT_MAX_CALLS)
	Timeout  time.Duration // how long a turn may plan (TANDEM_AGENT_TIMEOUT)
}

// AgentRun is what an agent turn did, for its reply: the accounts its reads
// used, how many tool calls it made, and the changes it proposes.
type AgentRun struct {
	// Used lists, per provider in the order first used, the identity a
	// read ran with.
	Used      []tandem.Identity
	Calls     int
	Proposals []agent.Proposal
}

// runAgent runs t, a free-form request, as an agent turn: the identity is
// decided here by the rule, never by the model; each read the model asks
// for resolves that identity's credentials at the moment of the call and
// is audited as its own record; changes are only proposed.
func (e *Engine) runAgent(ctx context.Context, t tandem.Turn, sess tandem.Session, res Result) Result {
	res.Command = "agent"
	asked := e.cfg.Now()
	user, reason, refusal := e.identity(ctx, t, sess, &res.step, "agent", "")
	if refusal != nil {
		res.Err, res.Outcome = refusal, tandem.OutcomeRefused
		return res
	}
	if actsForOwner(t, user, reason) {
		res.vouched = asked // identity asked Slack whether the owner stays
	}
	ctx, cancel := context.WithTimeout(ctx, e.cfg.Agent.Timeout)
	defer cancel()
	ruleUser, ruleReason := e.rule(t, sess)
	ex := &agentExecutor{e: e, t: t, user: user, reason: reason, ruleUser: ruleUser, ruleReason: ruleReason, step: &res.step, vouched: &res.vouched}
	req := agent.Request{Text: t.Text, Tools: e.cfg.Agent.Tools, MaxCalls: e.cfg.Agent.MaxCalls,
		History: e.history(ctx, t), Progress: func(c agent.Call) { e.progress(ctx, t, c) }, Shows: e.showsChanges}
	out, err := e.cfg.Agent.Planner.Run(ctx, req, ex)
	res.Agent = &AgentRun{Used: ex.used, Calls: len(out.Calls) + len(out.Proposals) + len(out.Unshown), Proposals: out.Proposals}
	res.Identity = &tandem.Identity{SlackUser: user, Reason: reason}
	if err != nil {
		// A missing or refused link names its provider, for the Connect
		// button of the effective identity.
		res.Identity.Provider = ex.failedAt
		res.Err, res.Outcome = err, outcomeOf(err)
		if res.Outcome == tandem.OutcomeError {
			e.log.Error("agent turn failed", "turn", t.ID, "err", err)
		}
		var nc *tandem.NotConnectedError
		var exp *tandem.ExpiredError
		if errors.As(err, &nc) || errors.As(err, &exp) || tandem.ErrorCode(err) == tandem.EUNAUTHORIZED {
			res.Awaits = e.awaitsLink(ctx, &res, t, user, ex.failedAt, reason, res.Outcome, "agent")
		}
		return res
	}
	// The model's words are shown as text, never as markup: no mention,
	// link or broadcast can come from them.
	res.Reply = tandem.Reply{Title: "Answer", Text: tandem.Escape(out.Text)}
	if strings.TrimSpace(out.Text) == "" {
		res.Reply.Text = "(The model gave no answer.)"
	}
	if len(out.Unshown) > 0 {
		// Said here, not left to the model, which may claim otherwise;
		// first, so that clipping a long answer never cuts it.
		res.Reply.Text = e.unshownWords(out.Unshown) + "\n\n" + res.Reply.Text
	}
	switch {
	case len(out.Proposals) == 0:
	case allowsChanges(t):
		// The API call allowed changes: they are made now, as the key's
		// creator (the rule's row for API keys), each audited.
		res.Reply.Title = "Answer and changes made"
		e.makeChanges(ctx, t, sess, &res, user, reason, out.Proposals)
	case t.APIKey != "":
		res.Pending = out.Proposals
		res.Reply.Text += "\n\nProposed, not made (the API call did not allow changes):"
		for _, p := range out.Proposals {
			res.Reply.Items = append(res.Reply.Items, tandem.Item{Text: tandem.Escape(p.Summary)})
		}
	default:
		p, err := e.propose(ctx, t, user, reason, out.Proposals)
		if err != nil {
			res.Err, res.Outcome = err, tandem.OutcomeError
			return res
		}
		res.Proposal = p
	}
	return res
}

// showsChanges is ShowsChanges; nil shows nothing.
func (e *Engine) showsChanges(summaries []string) bool {
	return e.cfg.ShowsChanges != nil && e.cfg.ShowsChanges(summaries)
}

// unshownWords tells the sender which changes the model asked for were not
// proposed because they are too long to show whole, by each operation's
// summary (the change itself is what could not be shown).
func (e *Engine) unshownWords(unshown []agent.Proposal) string {
	var what []string
	for _, c := range unshown {
		w := c.Op
		if spec := e.cfg.Operations.get().Spec(c.Op); spec != nil && spec.Summary != "" {
			w = spec.Summary
		}
		what = append(what, tandem.Escape(w))
	}
	return fmt.Sprintf("*Not proposed* (too long to show here in full, and nothing is made that you were not shown whole): %s.", strings.Join(what, "; "))
}

// agentExecutor runs the reads of one agent turn as the turn's identity.
type agentExecutor struct {
	e      *Engine
	t      tandem.Turn
	user   string
	reason tandem.Reason
	step   *tandem.TurnStep
	// ruleUser and ruleReason are what the rule gave at the turn's start,
	// before a re-run's own row: each call must find the same.
	ruleUser   string
	ruleReason tandem.Reason

	mu       sync.Mutex
	used     []tandem.Identity
	failedAt tandem.ProviderID // the provider whose credentials stopped the turn
	vouched  *time.Time        // the turn's Result.vouched, under mu
}

// Read runs the read operation op with args. The identity rule is applied
// again at the moment of the call, to the session as stored now: when it
// no longer gives the identity the turn started with (the mode changed
// meanwhile), the turn stops rather than act as anyone else. Missing or
// refused credentials stop the turn too (agent.StopsTurn), and so does,
// for an API turn, a key that no longer stands (keyStands: revoked,
// expired, or its creator gone from the workspace or the conversation
// while the model planned), for a scheduled run a schedule that no
// longer does (scheduleStands), for an editor's turn that acts as a
// persistent session's owner an owner gone from the workspace or the
// channel (ownerStaysSince), and a link that went to another account since
// an earlier read of the turn (accountChanged).
func (x *agentExecutor) Read(ctx context.Context, op string, args map[string]string) (string, error) {
	e, t := x.e, x.t
	spec := e.cfg.Operations.get().Spec(op)
	if spec == nil || spec.Mutating || spec.Control {
		return "", tandem.Errorf(tandem.EINVALID, "There is no read operation %q.", op)
	}
	if t.APIKey != "" || t.Schedule != "" {
		x.mu.Lock()
		var asked time.Time
		var err error
		what := "the API key"
		if t.APIKey != "" {
			asked, err = e.keyStands(ctx, t, *x.vouched)
		} else {
			what = "the schedule"
			asked, err = e.scheduleStands(ctx, t, *x.vouched, false)
		}
		*x.vouched = asked
		x.mu.Unlock()
		if err != nil {
			e.audit(x.step, t, "", spec.Provider, x.reason, outcomeOf(err), "agent: "+op+" ("+what+" no longer stands)")
			return "", agent.Stop(err)
		}
	}
	sess, err := e.sessionNow(ctx, t, tandem.Session{Key: t.Session, Owner: t.User})
	if err != nil {
		return "", agent.Stop(err)
	}
	if user, reason := e.rule(t, sess); user != x.ruleUser || reason != x.ruleReason {
		e.audit(x.step, t, "", spec.Provider, reason, tandem.OutcomeRefused, "agent: "+op+" (the session's mode changed during the turn)")
		return "", agent.Stop(tandem.Errorf(tandem.EFORBIDDEN, "This session's mode changed while your request ran (it now runs as %s), so it stopped. Please ask again.", identityWords(user, reason)))
	}
	if actsForOwner(t, x.user, x.reason) {
		// An editor acts as the owner only while the owner stays in the
		// workspace and the channel, at each read as at the turn's start.
		x.mu.Lock()
		asked, err := e.ownerStaysSince(ctx, sess, *x.vouched)
		*x.vouched = asked
		x.mu.Unlock()
		if err != nil {
			e.audit(x.step, t, "", spec.Provider, x.reason, outcomeOf(err), "agent: "+op+" (the owner left the workspace or the channel, or Slack could not say)")
			return "", agent.Stop(err)
		}
	}
	reply, done, err := e.runOp(ctx, t, sess, spec, args, x.user, x.reason, func(p tandem.ProviderID, id tandem.Identity, err error) error {
		if err == nil {
			// The link may have gone to another account since an earlier
			// read (or during one whose error went back to the model).
			x.mu.Lock()
			cerr := accountChanged(x.used, id)
			x.mu.Unlock()
			if cerr != nil {
				e.audit(x.step, t, x.user, p, x.reason, tandem.OutcomeRefused, "agent: "+op+" (the link changed to another account during the turn)")
				return agent.Stop(cerr)
			}
		}
		e.audit(x.step, t, x.user, p, x.reason, outcomeOf(err), "agent: "+op)
		return nil
	})
	for _, id := range done.used {
		x.note(id)
	}
	if err != nil {
		if done.failedAt != "" {
			x.mu.Lock()
			x.failedAt = done.failedAt
			x.mu.Unlock()
		}
		return "", err
	}
	return plainText(reply), nil
}

// sessionNow is t's session as the store holds it now, for a step of a
// turn that applies the rule again (each read of an agent turn, each
// change of a confirmation): the session's mode may have changed outside
// its turns since the turn started. It is starting when none is stored
// yet (the turn starts it); it fails with the store's error.
func (e *Engine) sessionNow(ctx context.Context, t tandem.Turn, starting tandem.Session) (tandem.Session, error) {
	sess, err := e.cfg.Store.Session(ctx, t.Session)
	if tandem.ErrorCode(err) == tandem.ENOTFOUND {
		return starting, nil
	}
	if err != nil {
		return sess, fmt.Errorf("turns: session: %w", err)
	}
	return sess, nil
}

// accountChanged fails with ECONFLICT when id, credentials a step of a
// turn (a read of an agent turn, a change it makes) just resolved, are of
// another account at their provider than used, the identities the turn's
// earlier steps used: the person relinked another account while the turn
// ran. A turn acts with the account it started with, as a single call's
// token source stops when its link changes under it, so the step does not
// run as the new one.
func accountChanged(used []tandem.Identity, id tandem.Identity) error {
	for _, u := range used {
		if u.Provider == id.Provider && u.Login != id.Login {
			return tandem.Errorf(tandem.ECONFLICT, "The %s link of <@%s> changed to another account (%s, not %s) while this ran, so it stopped: nothing more ran as either. Send the message again to run it as %s.",
				id.Provider.Name(), id.SlackUser, tandem.Escape(id.Login), tandem.Escape(u.Login), tandem.Escape(id.Login))
		}
	}
	return nil
}

// note keeps the identity a read used, once per provider.
func (x *agentExecutor) note(id tandem.Identity) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if !slices.ContainsFunc(x.used, func(u tandem.Identity) bool { return u.Provider == id.Provider }) {
		x.used = append(x.used, id)
	}
}

// plainText renders a reply for the model: its title, text and items, one
// per line, with their links.
func plainText(r tandem.Reply) string {
	var b strings.Builder
	for _, s := range []string{r.Title, r.Text} {
		if s != "" {
			b.WriteString(s + "\n")
		}
	}
	for _, it := range r.Items {
		b.WriteString("- " + it.Text)
		if it.Note != "" {
			b.WriteString(" (" + it.Note + ")")
		}
		if it.URL != "" {
			b.WriteString(" " + it.URL)
		}
		b.WriteString("\n")
	}
	if r.Total > len(r.Items) {
		fmt.Fprintf(&b, "(%d in all)\n", r.Total)
	}
	return b.String()
}

// history is the thread before t, for the model (nil when the chat cannot
// give it: the turn then plans from its own text).
func (e *Engine) history(ctx context.Context, t tandem.Turn) []agent.ThreadMessage {
	h, ok := e.cfg.Chat.(Historian)
	if !ok {
		return nil
	}
	// Slack's ts of the message: later ones never enter the turn (a
	// re-run's is its original message's).
	before, _, _ := strings.Cut(t.TS, "/rerun/")
	if t.APIKey != "" {
		// An API turn's message is not in the thread: it sees the thread
		// as it was when the call came, so that nobody can add to what
		// the model reads while the turn waits to run. The call's time is
		// this replica's clock, Slack's ts Slack's: clockSkew keeps a
		// clock a moment ahead of Slack's from letting in a message
		// posted just after the call.
		before = slackTS(t.ReceivedAt.Add(-clockSkew))
	}
	msgs, err := h.Thread(ctx, t.Session, before)
	if err != nil {
		e.log.Warn("read the thread for an agent turn", "turn", t.ID, "err", err)
		return nil
	}
	return msgs
}

// clockSkew is how far this process's clock may be ahead of Slack's: an
// API turn's history ends that much before the call.
const clockSkew = 2 * time.Second

// slackTS writes at as a Slack message ts (seconds and microseconds).
func slackTS(at time.Time) string {
	us := at.UnixMicro()
	return fmt.Sprintf("%d.%06d", us/1e6, us%1e6)
}

// progress tells the thread what an agent turn is looking at.
func (e *Engine) progress(ctx context.Context, t tandem.Turn, c agent.Call) {
	p, ok := e.cfg.Notifier.(Progresser)
	if !ok {
		return
	}
	spec := e.cfg.Operations.get().Spec(c.Op)
	what := c.Op
	if spec != nil {
		what = spec.Summary
	}
	verb := "Looking at"
	if c.Change {
		verb = "Preparing a change:"
	}
	p.Progress(ctx, t, verb+" "+what+"…")
}

// Historian is a Chat that can read a thread's messages before ts, oldest
// first, for an agent turn.
type Historian interface {
	Thread(ctx context.Context, key tandem.SessionKey, before string) ([]agent.ThreadMessage, error)
}

// Progresser is a Notifier that shows an agent turn's progress in one
// message it updates.
type Progresser interface {
	Progress(ctx context.Context, t tandem.Turn, line string)
}
