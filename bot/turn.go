package bot

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/slack-go/slack"
	"github.com/tandembot/tandem"
	"github.com/tandembot/tandem/handlers"
)

// runTurn runs one picked turn to its reply and reports whether it is done.
// When the bot is stopping it returns without finishing, leaving the turn in
// the inbox for the next start.
func (b *Bot) runTurn(j job) bool {
	ctx := b.runCtx()
	if ctx.Err() != nil {
		return false
	}
	t := j.Turn
	log := b.log.With("turn", t.ID, "session", t.Session.String(), "user", t.User)
	if err := b.cfg.Store.SetTurnState(ctx, t.ID, tandem.TurnRunning); err != nil {
		log.Error("mark turn running", "err", err)
		return false
	}
	started := time.Now()
	stopStatus := b.showWorking(ctx, t)
	out := b.execute(ctx, log, j)
	stopStatus()
	if ctx.Err() != nil && out.err != nil {
		log.Info("turn interrupted by shutdown; it stays in the inbox")
		return false
	}
	if err := b.postReply(ctx, t, out); err != nil {
		if ctx.Err() != nil {
			return false
		}
		log.Error("post reply", "err", err)
	}
	marked := b.cfg.Store.SetTurnState(context.WithoutCancel(ctx), t.ID, tandem.TurnDone)
	if marked != nil {
		log.Error("mark turn done", "err", marked)
	}
	b.finish(t, out)
	p := tandem.ProviderID("")
	if out.identity != nil {
		p = out.identity.Provider
	}
	b.metrics().Turn(p, out.outcome, time.Since(started))
	log.Info("turn done", "command", out.command, "outcome", out.outcome, "ms", time.Since(started).Milliseconds())
	return marked == nil
}

// result is what a turn produced, ready to render.
type result struct {
	command  string
	reply    tandem.Reply
	err      error            // shown to the sender
	identity *tandem.Identity // whose credentials were used, if any
	session  tandem.Session
	outcome  tandem.Outcome
	missing  []tandem.ProviderID // providers a multi-provider command lacked
	viaKey   string              // the API key's name, for turns from the API
}

// retryBackoff is the wait before retrying a read after a provider's 5xx.
var retryBackoff = 500 * time.Millisecond

func (b *Bot) execute(ctx context.Context, log *slog.Logger, j job) result {
	t := j.Turn
	sess, created, err := b.cfg.Store.EnsureSession(ctx, tandem.Session{Key: t.Session, Owner: t.User, CreatedAt: t.ReceivedAt})
	if err != nil {
		return result{err: fmt.Errorf("bot: session: %w", err), outcome: tandem.OutcomeError}
	}
	if created {
		log.Info("session started", "owner", t.User)
		sess = b.applyChannelDefault(ctx, sess)
	} else if !sess.HasEditor(t.User) && !sess.Persistent() && sess.Pending == nil && t.APIKey == "" {
		// In a per-message session whoever writes becomes an editor. A
		// persistent (or pending) session's list changes only through its
		// owner or a channel admin, since it shares the owner's identity.
		if err := b.cfg.Store.AddEditor(ctx, t.Session, t.User); err != nil {
			log.Error("add editor", "err", err)
		}
		sess.Editors = append(sess.Editors, t.User)
	}
	res := result{session: sess, outcome: tandem.OutcomeOK, viaKey: t.APIKeyName}

	if j.err != nil {
		res.err, res.outcome = j.err, tandem.OutcomeRefused
		return res
	}
	cmd := j.cmd
	res.command = cmd.Name
	if cmd.Control && t.APIKey != "" {
		res.err = tandem.Errorf(tandem.EFORBIDDEN, "Session controls are not available through API keys; use Slack.")
		res.outcome = tandem.OutcomeRefused
		return res
	}
	if cmd.Control {
		reply, err := b.control(ctx, t, sess, cmd)
		res.reply, res.err = reply, err
		if err != nil {
			res.outcome = outcomeOf(err)
		}
		return res
	}

	user, reason := tandem.EffectiveUser(sess, t.User)
	if t.APIKey != "" {
		// An API key always acts as its creator, whatever the session's mode.
		user, reason = t.User, tandem.ReasonAPIKeyCreator
	}
	req := handlers.Request{Turn: t, Session: sess, Command: cmd}
	if t.Rerun && (user != t.User || reason != b.originalReason(ctx, t)) {
		// The message was sent when it ran as its sender; the session's mode
		// has changed since, and a re-run must not act as anyone else.
		res.err = tandem.Errorf(tandem.EFORBIDDEN, "<@%s>, your message was not run again: this session's mode changed after you sent it (it now runs as %s), so please send it again if you still want it.", t.User, identityWords(user, reason))
		res.outcome = tandem.OutcomeRefused
		b.audit(ctx, t, "", cmd.Provider, reason, tandem.OutcomeRefused, cmd.Name+" (re-run refused: the mode changed)")
		return res
	}
	if t.Rerun {
		// The identity is the same as the original row's; the re-run itself
		// is the table's own row: the user who just connected, as sender.
		reason = tandem.ReasonSender
	}
	if reason == tandem.ReasonRefusedNotEditor {
		b.audit(ctx, t, "", cmd.Provider, reason, tandem.OutcomeRefused, cmd.Name)
		res.err = tandem.Errorf(tandem.EFORBIDDEN, "This session runs with <@%s>'s identity (persistent session), and you are not on its editors list. <@%s> or a channel admin can add you with `@tandem editors add @you`.", sess.Owner, sess.Owner)
		if !sess.Persistent() {
			res.err = tandem.Errorf(tandem.EFORBIDDEN, "This session is about to run with <@%s>'s identity (persistent session, waiting for their approval), and you are not on its editors list. <@%s> can add you with `@tandem editors add @you`.", sess.Owner, sess.Owner)
		}
		res.outcome = tandem.OutcomeRefused
		return res
	}
	if cmd.Provider != "" {
		prov, ok := b.cfg.Providers[cmd.Provider]
		if !ok {
			res.err = tandem.Errorf(tandem.EINVALID, "%s is not enabled on this Tandem; ask whoever runs it to configure it.", cmd.Provider.Name())
			res.outcome = tandem.OutcomeRefused
			return res
		}
		creds, err := b.credentials(ctx, t.Session, user, cmd.Provider, reason)
		b.audit(ctx, t, user, cmd.Provider, reason, outcomeOf(err), cmd.Name)
		if err != nil {
			res.err, res.outcome = err, outcomeOf(err)
			return res
		}
		log.Info("credentials resolved", "provider", cmd.Provider, "effective_user", user, "reason", reason, "login", creds.Identity.Login)
		req.Creds, req.Provider = creds, prov
		res.identity = &creds.Identity
	}
	if cmd.Name == "whoami" {
		req.Identities = b.identities(ctx, sess.Key.Team, user, reason)
	}
	if len(cmd.Uses) > 0 {
		req.Sources = map[tandem.ProviderID]handlers.Source{}
		for _, p := range cmd.Uses {
			prov, ok := b.cfg.Providers[p]
			if !ok {
				continue
			}
			creds, err := b.credentials(ctx, t.Session, user, p, reason)
			b.audit(ctx, t, user, p, reason, outcomeOf(err), cmd.Name)
			req.Sources[p] = handlers.Source{Creds: creds, Provider: prov, Err: err}
			if err != nil {
				res.missing = append(res.missing, p)
			}
		}
		res.identity = &tandem.Identity{SlackUser: user, Reason: reason}
	}
	reply, err := handlers.Run(ctx, req)
	if tandem.ErrorCode(err) == tandem.EUNAVAILABLE && !cmd.Mutating {
		// One retry with backoff for a provider's 5xx or timeout; a change
		// is never retried, since it may have reached the provider.
		log.Info("provider unavailable; retrying once", "command", cmd.Name)
		select {
		case <-ctx.Done():
		case <-time.After(retryBackoff):
			reply, err = handlers.Run(ctx, req)
		}
	}
	if err != nil {
		res.err, res.outcome = err, outcomeOf(err)
		if res.outcome == tandem.OutcomeError {
			log.Error("command failed", "command", cmd.Name, "err", err)
		}
		return res
	}
	res.reply = reply
	return res
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
func (b *Bot) audit(ctx context.Context, t tandem.Turn, effective string, p tandem.ProviderID, reason tandem.Reason, out tandem.Outcome, detail string) {
	actor := t.User
	if t.APIKey != "" {
		// The key acted, not its creator at a keyboard: say which key.
		actor = "apikey:" + t.APIKey
	}
	rec := tandem.AuditRecord{
		Time: b.cfg.Now(), Session: t.Session, TurnID: t.ID, Actor: actor,
		Effective: effective, Provider: p, Action: "resolve", Reason: reason,
		Outcome: out, Detail: detail,
	}
	if err := b.cfg.Store.AppendAudit(context.WithoutCancel(ctx), rec); err != nil {
		b.log.Error("append audit", "turn", t.ID, "err", err)
	}
	b.log.Info("audit", "action", rec.Action, "turn", t.ID, "session", t.Session.String(), "actor", actor,
		"effective_user", effective, "provider", p, "reason", reason, "outcome", out)
}

// identities says, for each enabled provider, how the identity a turn
// resolved (user, for reason) stands.
func (b *Bot) identities(ctx context.Context, team, user string, reason tandem.Reason) []tandem.IdentityStatus {
	links, err := b.cfg.Store.Links(ctx, team, user)
	if err != nil {
		b.log.Error("read links", "err", err)
	}
	out := tandem.LinkStates(links, b.enabled())
	for i := range out {
		out[i].SlackUser, out[i].Reason = user, reason
	}
	return out
}

// interrupted tells a thread that a mutating turn was cut off by a crash
// and may or may not have reached the provider.
func (b *Bot) interrupted(ctx context.Context, t tandem.Turn) {
	reply := tandem.Reply{
		Title: "Interrupted: this request may or may not have been carried out",
		Text:  fmt.Sprintf("Tandem restarted while running <@%s>'s request `%s`. It changes something, so it was not run again automatically. Check the result at the provider, then ask again if needed.", t.User, t.Text),
	}
	if err := b.postReply(ctx, t, result{reply: reply, outcome: tandem.OutcomeError}); err != nil {
		b.log.Error("post interrupted notice", "turn", t.ID, "err", err)
		return
	}
	if err := b.cfg.Store.SetTurnState(ctx, t.ID, tandem.TurnDone); err != nil {
		b.log.Error("mark turn done", "turn", t.ID, "err", err)
	}
}

// workingAfter is how long a turn runs before the bot shows it is working.
var workingAfter = time.Second

// workingReaction marks a message whose turn is still running.
const workingReaction = "hourglass_flowing_sand"

// showWorking reacts to the turn's message if the turn runs longer than
// workingAfter; the returned func removes the reaction again.
func (b *Bot) showWorking(ctx context.Context, t tandem.Turn) func() {
	if t.Rerun {
		return func() {}
	}
	item := slack.NewRefToMessage(t.Session.Channel, t.TS)
	var mu sync.Mutex
	added, stopped := false, false
	timer := time.AfterFunc(workingAfter, func() {
		mu.Lock()
		defer mu.Unlock()
		if stopped {
			return
		}
		if err := b.api.AddReactionContext(ctx, workingReaction, item); err == nil {
			added = true
		}
	})
	return func() {
		timer.Stop()
		mu.Lock()
		defer mu.Unlock()
		stopped = true
		if added {
			b.api.RemoveReactionContext(context.WithoutCancel(ctx), workingReaction, item)
		}
	}
}

// credentials resolves user's credentials for p. In a persistent session the
// owner's credentials stay held between turns, but every turn resolves them
// again from the owner's current link: a relink, a disconnect or a "needs
// reconnect", on this replica or another, replaces or drops them before the
// next turn. Otherwise they live only for the turn.
func (b *Bot) credentials(ctx context.Context, key tandem.SessionKey, user string, p tandem.ProviderID, reason tandem.Reason) (tandem.Credentials, error) {
	c, err := b.cfg.Resolver.Credentials(ctx, key.Team, user, p, reason)
	if reason != tandem.ReasonPersistentOwner {
		return c, err
	}
	if err != nil {
		b.mu.Lock()
		delete(b.held[key], p)
		b.mu.Unlock()
		return c, err
	}
	b.mu.Lock()
	if b.held == nil {
		b.held = map[tandem.SessionKey]map[tandem.ProviderID]tandem.Credentials{}
	}
	if b.held[key] == nil {
		b.held[key] = map[tandem.ProviderID]tandem.Credentials{}
	}
	b.held[key][p] = c
	b.mu.Unlock()
	return c, nil
}

// dropHeld forgets held credentials: of one session (p == ""), or of one
// user's provider in every session (key zero).
func (b *Bot) dropHeld(key tandem.SessionKey, user string, p tandem.ProviderID) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if key != (tandem.SessionKey{}) {
		delete(b.held, key)
		return
	}
	for k, byProvider := range b.held {
		if c, ok := byProvider[p]; ok && c.Identity.SlackUser == user {
			delete(byProvider, p)
		}
		if len(byProvider) == 0 {
			delete(b.held, k)
		}
	}
}

// HeldIdentities lists the credentials a session holds between turns (only
// a persistent session's owner's), for tests and the session view.
func (b *Bot) HeldIdentities(key tandem.SessionKey) []tandem.Identity {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []tandem.Identity
	for _, p := range tandem.Providers {
		if c, ok := b.held[key][p]; ok {
			out = append(out, c.Identity)
		}
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
func (b *Bot) originalReason(ctx context.Context, t tandem.Turn) tandem.Reason {
	orig, _, _ := strings.Cut(t.ID, "/rerun/")
	key := t.Session
	// A re-run is recorded at most RerunWindow after its original message
	// arrived, so the original's record is no older than that: the session's
	// older audit trail need not be read.
	recs, err := b.cfg.Store.Audit(ctx, tandem.AuditFilter{Session: &key, Since: t.ReceivedAt.Add(-b.cfg.RerunWindow)})
	if err != nil {
		b.log.Error("read audit for a re-run", "turn", t.ID, "err", err)
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
