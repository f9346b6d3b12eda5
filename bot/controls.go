package bot

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/slack-go/slack"
	"github.com/tandembot/tandem"
	"github.com/tandembot/tandem/bot/slackview"
	"github.com/tandembot/tandem/turns"
)

// people is the engine's view of Slack: who administers what (users.info,
// conversations.info), and the messages the engine asks to send.
type people struct{ b *Bot }

var (
	_ turns.Directory = people{}
	_ turns.Notifier  = people{}
)

// IsWorkspaceAdmin asks users.info whether user is a workspace admin or
// owner.
func (p people) IsWorkspaceAdmin(ctx context.Context, user string) (bool, error) {
	u, err := p.b.api.GetUserInfoContext(ctx, user)
	if err != nil {
		return false, fmt.Errorf("bot: users.info: %w", err)
	}
	return u.IsAdmin || u.IsOwner || u.IsPrimaryOwner, nil
}

// ChannelCreator asks conversations.info who created channel; a DM has
// nobody.
func (p people) ChannelCreator(ctx context.Context, channel string) (string, error) {
	if isDM(channel) {
		return "", nil
	}
	ch, err := p.b.api.GetConversationInfoContext(ctx, &slack.GetConversationInfoInput{ChannelID: channel})
	if err != nil {
		return "", fmt.Errorf("bot: conversations.info: %w", err)
	}
	return ch.Creator, nil
}

// AskConsent DMs the owner Approve / Decline buttons for the pending change.
func (p people) AskConsent(ctx context.Context, sess tandem.Session, by string, editors []string) error {
	b := p.b
	shown := sess
	shown.Editors = editors
	who, asks := turns.Mention(by), "asks"
	switch {
	case by == sess.Owner:
		who, asks = "You", "asked"
	case turns.IsOperator(by):
		// "operator <name>", as the thread is told: not a channel's
		// default, which the owner may take for a routine one.
	case !strings.HasPrefix(who, "<@"):
		who = "This channel's default, set by a channel admin,"
	}
	text := fmt.Sprintf("%s %s to turn on %s in %s. If you approve, every turn there runs with *your* accounts, for you and exactly these editors: %s.", who, asks, tandem.EnvKeepCredentialsPersistent, b.threadLink(ctx, sess.Key), turns.EditorList(shown))
	// The buttons name the request, so that a press on this message never
	// answers a later request (Engine.Consent).
	value := sess.Key.String()
	if sess.Pending != nil {
		value += "/" + sess.Pending.ID
	}
	return b.DM(ctx, sess.Owner, "Approve sharing your identity in a Tandem session?", slackview.Consent(text, value))
}

// AskEditor DMs the owner Approve / Decline buttons for a new editor.
func (p people) AskEditor(ctx context.Context, sess tandem.Session, by, user string) error {
	b := p.b
	value := sess.Key.String() + "/" + user
	text := fmt.Sprintf("%s asks to let <@%s> act as you in %s: that session runs every turn of its editors with *your* accounts.", turns.Mention(by), user, b.threadLink(ctx, sess.Key))
	return b.DM(ctx, sess.Owner, "Approve a new editor of your Tandem session?", slackview.EditorConsent(text, value))
}

// threadLink names a session's thread for its owner, linked when Slack
// gives its permalink.
func (b *Bot) threadLink(ctx context.Context, key tandem.SessionKey) string {
	link, _ := b.api.GetPermalinkContext(ctx, &slack.PermalinkParameters{Channel: key.Channel, Ts: key.ThreadTS})
	if link == "" {
		return "a thread you started"
	}
	return "<" + link + "|a thread you started>"
}

// Announce posts a visible change notice in a session's thread.
func (p people) Announce(ctx context.Context, key tandem.SessionKey, r tandem.Reply) {
	p.b.announce(ctx, key, r)
}

// OfferConnect privately gives user a button per provider they must
// connect or reconnect; the links are bound to that user alone.
func (p people) OfferConnect(ctx context.Context, key tandem.SessionKey, user string, reply tandem.Reply, ps, reconnect []tandem.ProviderID) {
	b := p.b
	for _, pr := range ps {
		label := "Connect " + pr.Name()
		if slices.Contains(reconnect, pr) {
			label = "Reconnect " + pr.Name()
		}
		reply.Buttons = append(reply.Buttons, b.connectButton(ctx, key.Team, user, pr, "", tandem.Button{Text: label, ActionID: "connect_" + string(pr)})...)
	}
	if len(reply.Buttons) == 0 {
		return
	}
	if err := b.postEphemeral(ctx, key, user, reply.Title, slackview.Reply(reply, fmt.Sprintf("only visible to <@%s>", user))); err != nil {
		b.log.Warn("offer connect", "user", user, "err", err)
	}
}

// consent handles the owner's answer to the engine's AskConsent. Only the
// owner's own press counts.
func (b *Bot) consent(ctx context.Context, cb slack.InteractionCallback, a *slack.BlockAction) {
	// The value is the session's key and the request's ID; a message sent
	// before requests had IDs carries the key alone and answers nothing
	// (a request stored without an ID is then sent again, Engine.Consent).
	key, request, ok := parseKeyAnd(a.Value)
	if !ok {
		key, ok = parseSessionKey(a.Value)
	}
	if !ok {
		return
	}
	outcome, ok := b.engine.Consent(ctx, key, request, cb.User.ID, a.ActionID == slackview.ActionApprove)
	if ok {
		b.answered(ctx, cb, outcome)
	}
}

// editorConsent handles the owner's answer to the engine's AskEditor. Only
// the owner's own press counts, and only for a request still open.
func (b *Bot) editorConsent(ctx context.Context, cb slack.InteractionCallback, a *slack.BlockAction) {
	key, user, ok := parseKeyAnd(a.Value)
	if !ok || user == "" {
		return
	}
	outcome, ok := b.engine.EditorConsent(ctx, key, user, cb.User.ID, a.ActionID == slackview.ActionEditorApprove)
	if ok {
		b.answered(ctx, cb, outcome)
	}
}

// answered replaces the buttons of a consent DM with what they did.
func (b *Bot) answered(ctx context.Context, cb slack.InteractionCallback, outcome string) {
	if cb.Channel.ID != "" && cb.Message.Timestamp != "" {
		b.api.UpdateMessageContext(ctx, cb.Channel.ID, cb.Message.Timestamp, slack.MsgOptionText(slackview.Clip(outcome, slackview.MaxSectionText), false), slack.MsgOptionBlocks(slackview.Sections(outcome)...))
	}
}

// announce posts a visible change notice in a session's thread.
func (b *Bot) announce(ctx context.Context, key tandem.SessionKey, r tandem.Reply) {
	t := tandem.Turn{Session: key}
	if err := b.postThread(ctx, t, r.Title, slackview.Reply(r, "session settings")); err != nil {
		b.log.Warn("announce", "session", key.String(), "err", err)
	}
}

// parseKeyAnd splits a button's value made of a session key, a slash and
// one more part (a request's ID, a user), as the buttons' makers join them.
func parseKeyAnd(s string) (tandem.SessionKey, string, bool) {
	i := strings.LastIndex(s, "/")
	if i < 0 {
		return tandem.SessionKey{}, "", false
	}
	key, ok := parseSessionKey(s[:i])
	return key, s[i+1:], ok
}

func parseSessionKey(s string) (tandem.SessionKey, bool) {
	parts := strings.Split(s, "/")
	if len(parts) != 3 || parts[0] == "" || parts[1] == "" || parts[2] == "" {
		return tandem.SessionKey{}, false
	}
	return tandem.SessionKey{Team: parts[0], Channel: parts[1], ThreadTS: parts[2]}, true
}
