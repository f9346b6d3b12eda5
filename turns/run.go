package turns

import (
	"context"
	"errors"
	"fmt"
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
}

// retryBackoff is the wait before retrying a read after a provider's 5xx.
var retryBackoff = 500 * time.Millisecond

// Run runs t, whose text was read as cmd, in its session (started here
// for its first turn): it resolves the identity by the identity rule,
// resolves that identity's credentials, audits each resolution and runs the
// command. Every failure is in the Result: Err is meant for the sender,
// Outcome classifies it.
func (e *Engine) Run(ctx context.Context, t tandem.Turn, cmd Command) Result {
	log := e.log.With("turn", t.ID, "session", t.Session.String(), "user", t.User)
	sess, created, err := e.cfg.Store.EnsureSession(ctx, tandem.Session{Key: t.Session, Owner: t.User, CreatedAt: t.ReceivedAt})
	if err != nil {
		return Result{Err: fmt.Errorf("turns: session: %w", err), Outcome: tandem.OutcomeError}
	}
	if created {
		log.Info("session started", "owner", t.User)
		sess = e.applyChannelDefault(ctx, sess)
	} else if !sess.HasEditor(t.User) && !sess.Persistent() && sess.Pending == nil && t.APIKey == "" {
		// In a per-message session whoever writes becomes an editor. A
		// persistent (or pending) session's list changes only through its
		// owner or a channel admin, since it shares the owner's identity.
		if err := e.cfg.Store.AddEditor(ctx, t.Session, t.User); err != nil {
			log.Error("add editor", "err", err)
		}
		sess.Editors = append(sess.Editors, t.User)
	}
	res := Result{Session: sess, Outcome: tandem.OutcomeOK, ViaKey: t.APIKeyName}

	if cmd.err != nil {
		res.Err, res.Outcome = cmd.err, tandem.OutcomeRefused
		return res
	}
	c := cmd.cmd
	res.Command, res.Control = c.Name, c.Control
	if c.Control && t.APIKey != "" {
		res.Err = tandem.Errorf(tandem.EFORBIDDEN, "Session controls are not available through API keys; use Slack.")
		res.Outcome = tandem.OutcomeRefused
		return res
	}
	if c.Control {
		reply, err := e.control(ctx, t, sess, cmd)
		res.Reply, res.Err = reply, err
		if err != nil {
			res.Outcome = outcomeOf(err)
		}
		return res
	}

	user, reason := tandem.EffectiveUser(sess, t.User)
	if t.APIKey != "" {
		// An API key always acts as its creator, whatever the session's mode.
		user, reason = t.User, tandem.ReasonAPIKeyCreator
	}
	req := ops.Request{Turn: t, Session: sess, Command: c}
	if t.Rerun && (user != t.User || reason != e.originalReason(ctx, t)) {
		// The message was sent when it ran as its sender; the session's mode
		// has changed since, and a re-run must not act as anyone else.
		res.Err = tandem.Errorf(tandem.EFORBIDDEN, "<@%s>, your message was not run again: this session's mode changed after you sent it (it now runs as %s), so please send it again if you still want it.", t.User, identityWords(user, reason))
		res.Outcome = tandem.OutcomeRefused
		e.audit(ctx, t, "", c.Provider, reason, tandem.OutcomeRefused, c.Name+" (re-run refused: the mode changed)")
		return res
	}
	if t.Rerun {
		// The identity is the same as the original row's; the re-run itself
		// is the table's own row: the user who just connected, as sender.
		reason = tandem.ReasonSender
	}
	if reason == tandem.ReasonRefusedNotEditor {
		e.audit(ctx, t, "", c.Provider, reason, tandem.OutcomeRefused, c.Name)
		res.Err = tandem.Errorf(tandem.EFORBIDDEN, "This session runs with <@%s>'s identity (persistent session), and you are not on its editors list. Ask <@%s> or a channel admin to add you: `@tandem editors add <@%s>`.", sess.Owner, sess.Owner, t.User)
		if !sess.Persistent() {
			res.Err = tandem.Errorf(tandem.EFORBIDDEN, "This session is about to run with <@%s>'s identity (persistent session, waiting for their approval), and you are not on its editors list. Ask <@%s> to add you: `@tandem editors add <@%s>`.", sess.Owner, sess.Owner, t.User)
		}
		res.Outcome = tandem.OutcomeRefused
		return res
	}
	if c.Provider != "" {
		prov, ok := e.cfg.Providers[c.Provider]
		if !ok {
			res.Err = tandem.Errorf(tandem.EINVALID, "%s is not enabled on this Tandem; ask whoever runs it to configure it.", c.Provider.Name())
			res.Outcome = tandem.OutcomeRefused
			return res
		}
		creds, err := e.credentials(ctx, t.Session, user, c.Provider, reason)
		e.audit(ctx, t, user, c.Provider, reason, outcomeOf(err), c.Name)
		if err != nil {
			res.Err, res.Outcome = err, outcomeOf(err)
			res.Awaits = e.awaitsLink(ctx, t, user, c.Provider, reason, res.Outcome, c.Name)
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
			e.audit(ctx, t, user, p, reason, outcomeOf(err), c.Name)
			req.Sources[p] = ops.Source{Creds: creds, Provider: prov, Err: err}
			if err != nil {
				res.Missing = append(res.Missing, p)
			}
		}
		res.Identity = &tandem.Identity{SlackUser: user, Reason: reason}
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
		res.Awaits = e.awaitsLink(ctx, t, user, c.Provider, reason, res.Outcome, c.Name)
		return res
	}
	res.Reply = reply
	return res
}

// awaitsLink is the provider a turn that failed with out waits for (see
// awaitConnect), or "" when it does not wait.
func (e *Engine) awaitsLink(ctx context.Context, t tandem.Turn, user string, p tandem.ProviderID, reason tandem.Reason, out tandem.Outcome, detail string) tandem.ProviderID {
	if out != tandem.OutcomeNotConfigured && out != tandem.OutcomeExpired {
		return ""
	}
	if !e.awaitConnect(ctx, t, user, p, reason, out, detail) {
		return ""
	}
	return p
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

// audit records a credential resolution. It never holds a secret.
func (e *Engine) audit(ctx context.Context, t tandem.Turn, effective string, p tandem.ProviderID, reason tandem.Reason, out tandem.Outcome, detail string) {
	actor := t.User
	if t.APIKey != "" {
		// The key acted, not its creator at a keyboard: say which key.
		actor = "apikey:" + t.APIKey
	}
	rec := tandem.AuditRecord{
		Time: e.cfg.Now(), Session: t.Session, TurnID: t.ID, Actor: actor,
		Effective: effective, Provider: p, Action: "resolve", Reason: reason,
		Outcome: out, Detail: detail,
	}
	if err := e.cfg.Store.AppendAudit(context.WithoutCancel(ctx), rec); err != nil {
		e.log.Error("append audit", "turn", t.ID, "err", err)
	}
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
