package bot

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/slack-go/slack"
	"github.com/tandembot/tandem"
	"github.com/tandembot/tandem/bot/inbox"
	"github.com/tandembot/tandem/bot/slackview"
	"github.com/tandembot/tandem/turns"
)

// runTurn runs one picked turn to its reply and reports whether it is done.
// When the bot is stopping it returns without finishing, leaving the turn in
// the inbox for the next start.
func (b *Bot) runTurn(j inbox.Job) bool {
	ctx := b.runCtx()
	if ctx.Err() != nil {
		return false
	}
	t := j.Turn
	log := b.log.With("turn", t.ID, "session", t.Session.String(), "user", t.User)
	// A turn is not marked running here: the engine marks a change running
	// before it reaches the provider, and a read interrupted by a crash
	// simply runs again.
	started := time.Now()
	stopStatus := b.showWorking(ctx, t)
	out := b.engine.Run(ctx, t, j.Cmd, j.Hold)
	if j.FreeSlot != nil {
		// Done with the provider: the reply and the record below need
		// Slack and the store, not a slot of the provider's pool.
		j.FreeSlot()
	}
	stopStatus()
	b.endProgress(t)
	if out.LeaseLost {
		// Another replica took the session over before the change left:
		// it runs the turn (or reports it interrupted), and replies.
		log.Warn("turn left to the session's new lease holder")
		return false
	}
	if ctx.Err() != nil && out.Err != nil {
		log.Info("turn interrupted by shutdown; it stays in the inbox")
		return false
	}
	if err := b.postReply(ctx, t, out); err != nil {
		if ctx.Err() != nil {
			return false
		}
		log.Error("post reply", "err", err)
	}
	// Done after the reply: a crash in between posts the reply again
	// rather than losing it.
	marked := b.engine.Done(ctx, t, out)
	switch {
	case errors.Is(marked, tandem.ErrTurnDone):
		// Another replica took the session over while this one stalled
		// and finished the turn: nothing of this run is written (the
		// session's later turns may have changed it), and the turn is done.
		log.Warn("turn finished by the session's new lease holder meanwhile; this run's writes dropped")
		marked = nil
	case marked != nil:
		log.Error("mark turn done", "err", marked)
	}
	b.engine.Finish(ctx, t, out, b.takeReplyTS(t))
	p := tandem.ProviderID("")
	if out.Identity != nil {
		p = out.Identity.Provider
	}
	b.metrics().Turn(p, out.Outcome, time.Since(started))
	log.Info("turn done", "command", out.Command, "outcome", out.Outcome, "ms", time.Since(started).Milliseconds())
	return marked == nil
}

// interrupted tells a thread that a mutating turn was cut off by a crash
// and may or may not have reached the provider.
func (b *Bot) interrupted(ctx context.Context, t tandem.Turn) {
	reply := tandem.Reply{
		Title: "Interrupted: this request may or may not have been carried out",
		Text:  fmt.Sprintf("Tandem restarted while running <@%s>'s request `%s`. It changes something, so it was not run again automatically. Check the result at the provider, then ask again if needed.", t.User, t.Text),
	}
	if err := b.postReply(ctx, t, turns.Result{Reply: reply, Outcome: tandem.OutcomeError}); err != nil {
		b.log.Error("post interrupted notice", "turn", t.ID, "err", err)
		return
	}
	if err := b.cfg.Store.SetTurnState(ctx, t.ID, tandem.TurnDone); err != nil {
		b.log.Error("mark turn done", "turn", t.ID, "err", err)
		return
	}
	b.log.Info("turn interrupted", "turn", t.ID, "session", t.Session.String(), "user", t.User)
}

// workingAfter is how long a turn runs before the bot shows it is working.
var workingAfter = time.Second

// workingReaction marks a message whose turn is still running.
const workingReaction = "hourglass_flowing_sand"

// showWorking reacts to the turn's message if the turn runs longer than
// workingAfter; the returned func removes the reaction again.
func (b *Bot) showWorking(ctx context.Context, t tandem.Turn) func() {
	if t.Rerun || t.Schedule != "" || t.APIKey != "" {
		// No message of a person to mark.
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

// tellQueued tells a turn's sender, in its thread, that Tandem is busy and
// the turn waits with ahead sessions' turns before it; it still runs, in
// order.
func (b *Bot) tellQueued(t tandem.Turn, ahead int) {
	ctx := b.runCtx()
	reply := slackview.Queued(t.User, ahead)
	if err := b.postThread(ctx, t, reply.Title, slackview.Reply(reply, fmt.Sprintf("for <@%s>", t.User))); err != nil {
		b.log.Warn("post a busy notice", "turn", t.ID, "err", err)
	}
}
