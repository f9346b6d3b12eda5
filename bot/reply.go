package bot

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/slack-go/slack"
	"github.com/tandembot/tandem"
	"github.com/tandembot/tandem/bot/slackview"
	"github.com/tandembot/tandem/turns"
)

// postReply answers a turn in its thread. Errors become words here: a
// missing or dead link gets a private Connect button for the person whose
// link it is, plus a short visible note; everything else a visible reply.
func (b *Bot) postReply(ctx context.Context, t tandem.Turn, res turns.Result) error {
	attr := slackview.Attribution(res.ViaKey, res.Identity, res.Session, t.User)
	if res.Agent != nil && res.Identity != nil {
		// The accounts an agent turn used are listed after whose identity
		// it ran with, not as one provider's.
		who := *res.Identity
		who.Provider, who.Login = "", ""
		attr = slackview.AgentAttribution(slackview.Attribution(res.ViaKey, &who, res.Session, t.User), res.Agent.Used, res.Agent.Calls)
	}
	if t.Schedule != "" {
		attr = scheduleAttribution(t, res.Identity)
		if res.Agent != nil {
			attr = slackview.AgentAttribution(scheduleAttribution(t, nil), res.Agent.Used, res.Agent.Calls)
		}
	}
	switch {
	case res.ViaKey != "" || res.Identity != nil || t.Schedule != "":
	case res.Err != nil:
		attr = slackview.NotRun(t.User)
	case res.Control:
		attr = slackview.ControlBy(t.User)
	}
	var nc *tandem.NotConnectedError
	var ex *tandem.ExpiredError
	switch {
	case res.Err == nil && res.Proposal != nil:
		return b.postProposal(ctx, t, res, attr)
	case res.Err == nil && res.Command == "schedule.list":
		return b.postThread(ctx, t, res.Reply.Title, b.scheduleList(res.Reply.Title, res.Schedules, res.Reply.Text, attr))
	case res.Err == nil && res.Command == "schedule.create" && len(res.Schedules) == 1:
		res.Reply.Buttons = scheduleButtons(res.Schedules[0])
		return b.postThread(ctx, t, tandem.Escape(res.Reply.Title), slackview.Reply(res.Reply, attr))
	case res.Err == nil:
		// The title is plain text (render escapes it in the blocks) and may
		// carry a provider's text, a PR title or a Jira summary: the
		// notification text gets it escaped alike.
		ts, err := b.postThreadTS(ctx, t, tandem.Escape(res.Reply.Title), slackview.Reply(res.Reply, attr))
		b.noteReply(t, ts)
		if err != nil {
			return err
		}
		if len(res.Missing) > 0 && res.Identity != nil {
			b.offerConnect(ctx, t, res.Identity.SlackUser, res.Missing)
		}
		return nil
	case errors.As(res.Err, &nc):
		return b.needsLink(ctx, t, res, nc.User, nc.Provider, false)
	case errors.As(res.Err, &ex):
		return b.needsLink(ctx, t, res, ex.User, ex.Provider, true)
	case tandem.ErrorCode(res.Err) == tandem.EUNAUTHORIZED && res.Identity != nil:
		return b.needsLink(ctx, t, res, res.Identity.SlackUser, res.Identity.Provider, true)
	}
	if suggestions, ok := turns.Suggestions(res.Err); ok {
		reply := slackview.DidYouMean(suggestions)
		if b.cfg.Agent == nil && tandem.ErrorCode(res.Err) == tandem.EUNKNOWNCOMMAND {
			reply.Text += "\n" + slackview.AgentOff
		}
		return b.postThread(ctx, t, reply.Title, slackview.Reply(reply, attr))
	}
	reply := tandem.Reply{Title: slackview.ErrorTitle(res.Err), Text: tandem.ErrorMessage(res.Err)}
	if res.Agent != nil && tandem.ErrorCode(res.Err) == tandem.EUNAVAILABLE {
		// What stops an agent turn unavailable is its model (a provider's
		// outage goes back to the model as a failed call).
		reply.Title = slackview.ModelUnavailable
	}
	return b.postThread(ctx, t, reply.Title+": "+reply.Text, slackview.Reply(reply, attr))
}

// needsLink tells user privately that p must be (re)connected, with a
// button that links their own account, and leaves a short visible note in
// the thread. When the turn waits for that link (res.Awaits), the reply
// says that connecting p by any path within the re-run window runs it
// again, and the button carries the turn too. Nothing ran with anyone
// else's token.
func (b *Bot) needsLink(ctx context.Context, t tandem.Turn, res turns.Result, user string, p tandem.ProviderID, expired bool) error {
	if t.APIKey != "" {
		b.tellKeyCreator(ctx, t, user, p, expired)
	}
	if t.Schedule != "" {
		// The creator is told by direct message, once per gap (the
		// engine, when the turn is done); the thread gets a short note.
		return b.postThread(ctx, t, "Scheduled run skipped", slackview.Reply(scheduleNote(t, p, expired), scheduleAttribution(t, nil)))
	}
	rerun, window := "", time.Duration(0)
	if res.Awaits == p && user == t.User {
		rerun, window = t.ID, b.engine.RerunWindow()
	}
	private, label, note, attr := slackview.LinkNeeded(user, p, expired, window)
	private.Buttons = b.connectButton(ctx, t.Session.Team, user, p, rerun, tandem.Button{Text: label, ActionID: "connect_" + string(p), Primary: true})
	if err := b.postEphemeral(ctx, t.Session, user, private.Title, slackview.Reply(private, attr)); err != nil {
		b.log.Warn("post ephemeral", "turn", t.ID, "err", err)
	}
	return b.postThread(ctx, t, note.Title, slackview.Reply(note, attr))
}

// offerConnect privately gives user, the identity a combined command ran
// as (the sender, or a persistent session's owner), a Connect button per
// provider it could not use. Nobody else gets them: a link made for the
// owner is useless to an editor, and the other way round.
func (b *Bot) offerConnect(ctx context.Context, t tandem.Turn, user string, ps []tandem.ProviderID) {
	reply := slackview.ConnectTheRest(user, t.User)
	for _, p := range ps {
		reply.Buttons = append(reply.Buttons, b.connectButton(ctx, t.Session.Team, user, p, "", tandem.Button{Text: "Connect " + p.Name(), ActionID: "connect_" + string(p)})...)
	}
	if err := b.postEphemeral(ctx, t.Session, user, reply.Title, slackview.Reply(reply, fmt.Sprintf("only visible to <@%s>", user))); err != nil {
		b.log.Warn("post connect buttons", "turn", t.ID, "err", err)
	}
}

// postThread posts a visible reply in the turn's thread, waiting out Slack's
// rate limits.
func (b *Bot) postThread(ctx context.Context, t tandem.Turn, text string, blocks []slack.Block) error {
	_, err := b.postThreadTS(ctx, t, text, blocks)
	return err
}

// postThreadTS is postThread that also returns the posted message's ts.
func (b *Bot) postThreadTS(ctx context.Context, t tandem.Turn, text string, blocks []slack.Block) (string, error) {
	var ts string
	err := b.withRateLimit(ctx, func() error {
		var err error
		_, ts, err = b.api.PostMessageContext(ctx, t.Session.Channel,
			slack.MsgOptionText(slackview.Clip(text, 3000), false),
			slack.MsgOptionBlocks(blocks...),
			slack.MsgOptionTS(t.Session.ThreadTS),
			slack.MsgOptionDisableLinkUnfurl())
		return err
	})
	return ts, err
}

// postEphemeral posts a message in the session's thread that only user sees.
func (b *Bot) postEphemeral(ctx context.Context, key tandem.SessionKey, user, text string, blocks []slack.Block) error {
	return b.withRateLimit(ctx, func() error {
		_, err := b.api.PostEphemeralContext(ctx, key.Channel, user,
			slack.MsgOptionText(slackview.Clip(text, 3000), false),
			slack.MsgOptionBlocks(blocks...),
			slack.MsgOptionTS(key.ThreadTS))
		return err
	})
}

// DM sends user a direct message.
func (b *Bot) DM(ctx context.Context, user, text string, blocks []slack.Block) error {
	ch, _, _, err := b.api.OpenConversationContext(ctx, &slack.OpenConversationParameters{Users: []string{user}})
	if err != nil {
		return fmt.Errorf("bot: open dm: %w", err)
	}
	return b.withRateLimit(ctx, func() error {
		_, _, err := b.api.PostMessageContext(ctx, ch.ID, slack.MsgOptionText(text, false), slack.MsgOptionBlocks(blocks...))
		return err
	})
}

// withRateLimit calls post, waiting out every 429's Retry-After for as long
// as Slack keeps asking (a reply is never dropped for a rate limit); only a
// stop (ctx) ends the wait, leaving the turn for the next start. Only the
// calling turn waits: other sessions post on.
func (b *Bot) withRateLimit(ctx context.Context, post func() error) error {
	for {
		err := post()
		var rl *slack.RateLimitedError
		if !errors.As(err, &rl) {
			return err
		}
		wait := rl.RetryAfter
		if wait <= 0 {
			wait = time.Second
		}
		b.metrics().RateLimited("slack", wait)
		b.log.Info("slack rate limited; waiting", "retry_after", wait)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
	}
}

// OnLinked confirms a new link to its owner by DM and re-runs the turns
// that wait for it: rerunTurn, whose Connect button made the link ("" for
// none), and every other recent turn of the owner that failed for want of
// it, whichever path the link came through.
//
// The re-runs are recorded first: the DM may wait out Slack's rate limits,
// and a crash meanwhile must not lose the re-run the failed turn promised.
func (b *Bot) OnLinked(ctx context.Context, l tandem.Link, rerunTurn string) {
	if err := b.engine.RerunAfterLink(ctx, l, rerunTurn); err != nil {
		b.log.Warn("rerun after link", "user", l.User, "provider", l.Provider, "turn", rerunTurn, "err", err)
	}
	text := slackview.Linked(l)
	blocks := []slack.Block{slackview.Section(":white_check_mark: " + text)}
	if err := b.DM(ctx, l.User, text, blocks); err != nil {
		b.log.Warn("confirm link by dm", "user", l.User, "err", err)
	}
	go b.publishHome(ctx, l.Team, l.User)
}

// OnNeedsReconnect tells a user, once, that a link died.
func (b *Bot) OnNeedsReconnect(ctx context.Context, l tandem.Link) {
	b.engine.DropUser(l.User, l.Provider)
	reply := slackview.LinkDied(l)
	reply.Buttons = b.connectButton(ctx, l.Team, l.User, l.Provider, "", tandem.Button{Text: "Reconnect " + l.Provider.Name(), Primary: true})
	if err := b.DM(ctx, l.User, reply.Text, slackview.Reply(reply, fmt.Sprintf("for <@%s>", l.User))); err != nil {
		b.log.Warn("dm needs reconnect", "user", l.User, "err", err)
	}
	go b.publishHome(context.WithoutCancel(ctx), l.Team, l.User)
}

// connectButton returns btn pointing at a new single-use connect link for
// user, or no button when the link cannot be made (the store failed; the
// person can ask again with /connect).
func (b *Bot) connectButton(ctx context.Context, team, user string, p tandem.ProviderID, rerun string, btn tandem.Button) []tandem.Button {
	u, err := b.cfg.Linker.ConnectURL(ctx, team, user, p, rerun)
	if err != nil {
		b.log.Warn("make connect link", "user", user, "provider", p, "err", err)
		return nil
	}
	btn.URL = u
	return []tandem.Button{btn}
}
