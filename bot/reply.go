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
	attr := attribution(res, t.User)
	var nc *tandem.NotConnectedError
	var ex *tandem.ExpiredError
	switch {
	case res.Err == nil:
		// The title is plain text (render escapes it in the blocks) and may
		// carry a provider's text, a PR title or a Jira summary: the
		// notification text gets it escaped alike.
		ts, err := b.postThreadTS(ctx, t, escape(res.Reply.Title), slackview.Reply(res.Reply, attr))
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
	case isUnknown(res.Err):
		suggestions, _ := turns.Suggestions(res.Err)
		var items []tandem.Item
		for _, s := range suggestions {
			items = append(items, tandem.Item{Text: "`@tandem " + s + "`"})
		}
		reply := tandem.Reply{Title: "I didn't understand that. Did you mean:", Items: items, Text: "Say `help` for everything I can do."}
		return b.postThread(ctx, t, reply.Title, slackview.Reply(reply, attr))
	default:
		reply := tandem.Reply{Title: errorTitle(res.Err), Text: tandem.ErrorMessage(res.Err)}
		return b.postThread(ctx, t, reply.Title+": "+reply.Text, slackview.Reply(reply, attr))
	}
}

// attribution is the line every reply carries: whose Slack identity the
// turn ran as and which provider account it used.
func attribution(res turns.Result, sender string) string {
	if res.ViaKey != "" {
		who := fmt.Sprintf("via API key %s of <@%s>", escape(res.ViaKey), sender)
		if res.Identity != nil && res.Identity.Provider != "" {
			who += fmt.Sprintf(" · %s: %s", res.Identity.Provider.Name(), escape(res.Identity.Login))
		}
		return who
	}
	if res.Identity == nil {
		user := sender
		if res.Session.Persistent() && res.Session.Owner != "" {
			return fmt.Sprintf("ran as <@%s> (persistent session)", res.Session.Owner)
		}
		return fmt.Sprintf("ran as <@%s>", user)
	}
	id := res.Identity
	who := fmt.Sprintf("ran as <@%s>", id.SlackUser)
	if id.Reason == tandem.ReasonPersistentOwner {
		who += " (persistent session)"
	}
	if id.Provider == "" {
		return who
	}
	return fmt.Sprintf("%s · %s: %s", who, id.Provider.Name(), escape(id.Login))
}

// escape makes text safe inside Slack mrkdwn: &, < and > are the only
// characters Slack asks to escape.
func escape(s string) string { return tandem.Escape(s) }

// isUnknown reports whether err says a text is no command.
func isUnknown(err error) bool {
	_, ok := turns.Suggestions(err)
	return ok
}

func errorTitle(err error) string {
	switch tandem.ErrorCode(err) {
	case tandem.EINVALID:
		return "That request needs fixing"
	case tandem.EFORBIDDEN, tandem.ENOTFOUND:
		return "Not allowed"
	case tandem.ERATELIMITED:
		return "Rate limited"
	case tandem.EUNAVAILABLE:
		return "The provider is not answering"
	case tandem.EINTERNAL:
		return "Something went wrong"
	}
	return "Could not do that"
}

// needsLink tells user privately that p must be (re)connected, with a
// button that links their own account and re-runs this turn, and leaves a
// short visible note in the thread. Nothing ran with anyone else's token.
func (b *Bot) needsLink(ctx context.Context, t tandem.Turn, res turns.Result, user string, p tandem.ProviderID, expired bool) error {
	title := p.Name() + " credentials not configured"
	body := fmt.Sprintf("<@%s> has not connected %s, so Tandem did not run this request; it never uses anyone else's account instead.", user, p.Name())
	label := "Connect " + p.Name()
	if expired {
		title = p.Name() + " credentials expired or revoked"
		body = fmt.Sprintf("%s refused the account linked by <@%s>. Reconnect it to continue.", p.Name(), user)
		label = "Reconnect " + p.Name()
	}
	if t.APIKey != "" {
		b.tellKeyCreator(ctx, t, user, p, expired)
	}
	rerun := ""
	if user == t.User && t.APIKey == "" {
		rerun = t.ID
		body += " Once connected, your message runs again here automatically."
	}
	private := tandem.Reply{
		Title: title, Text: body,
		Buttons: b.connectButton(ctx, t.Session.Team, user, p, rerun, tandem.Button{Text: label, ActionID: "connect_" + string(p), Primary: true}),
	}
	attr := fmt.Sprintf("ran as <@%s> · %s: not connected", user, p.Name())
	if expired {
		attr = fmt.Sprintf("ran as <@%s> · %s: needs reconnect", user, p.Name())
	}
	if err := b.postEphemeral(ctx, t.Session, user, title, slackview.Reply(private, attr)); err != nil {
		b.log.Warn("post ephemeral", "turn", t.ID, "err", err)
	}
	note := tandem.Reply{Title: title, Text: fmt.Sprintf("I've sent <@%s> a private link to connect %s.", user, p.Name())}
	return b.postThread(ctx, t, title, slackview.Reply(note, attr))
}

// offerConnect privately gives user, the identity a combined command ran
// as (the sender, or a persistent session's owner), a Connect button per
// provider it could not use. Nobody else gets them: a link made for the
// owner is useless to an editor, and the other way round.
func (b *Bot) offerConnect(ctx context.Context, t tandem.Turn, user string, ps []tandem.ProviderID) {
	reply := tandem.Reply{Title: "Connect the rest to include them", Text: "These buttons link *your own* accounts."}
	if user != t.User {
		reply.Text = fmt.Sprintf("<@%s>'s request here runs as you (persistent session). These buttons link *your own* accounts.", t.User)
	}
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

// OnLinked confirms a new link to its owner by DM and re-runs the turn that
// failed for want of it.
func (b *Bot) OnLinked(ctx context.Context, l tandem.Link, rerunTurn string) {
	login := escape(l.Login)
	text := fmt.Sprintf("%s account %s is now linked to <@%s>. Tandem acts as %s on %s for your own messages only.", l.Provider.Name(), login, l.User, login, l.Provider.Name())
	blocks := []slack.Block{slackview.Section(":white_check_mark: " + text)}
	if err := b.DM(ctx, l.User, text, blocks); err != nil {
		b.log.Warn("confirm link by dm", "user", l.User, "err", err)
	}
	go b.publishHome(ctx, l.Team, l.User)
	if rerunTurn != "" {
		if err := b.engine.Rerun(ctx, rerunTurn, l.User, l.Provider); err != nil {
			b.log.Warn("rerun after link", "turn", rerunTurn, "err", err)
		}
	}
}

// OnNeedsReconnect tells a user, once, that a link died.
func (b *Bot) OnNeedsReconnect(ctx context.Context, l tandem.Link) {
	b.engine.DropUser(l.User, l.Provider)
	text := fmt.Sprintf("%s credentials expired or revoked: %s refused the account %s. Reconnect it so Tandem can act as you again.", l.Provider.Name(), l.Provider.Name(), l.Login)
	reply := tandem.Reply{Title: l.Provider.Name() + " credentials expired or revoked", Text: escape(text),
		Buttons: b.connectButton(ctx, l.Team, l.User, l.Provider, "", tandem.Button{Text: "Reconnect " + l.Provider.Name(), Primary: true})}
	if err := b.DM(ctx, l.User, escape(text), slackview.Reply(reply, fmt.Sprintf("for <@%s>", l.User))); err != nil {
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
