package bot

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/slack-go/slack"
	"github.com/tandembot/tandem"
	"github.com/tandembot/tandem/bot/slackview"
	"github.com/tandembot/tandem/turns"
)

// RunAPI runs text as a turn of the API key's creator in channel, in the
// thread threadTS or in a new thread it starts, and waits for the result.
// It fails with ECHANNELNOTALLOWED, having posted nothing, when the creator
// is not a member of the channel; with EFORBIDDEN when Tandem cannot post in
// the channel; and with EUNAVAILABLE when Slack cannot say who is a member,
// or when ctx ends first (the turn still completes in Slack).
func (b *Bot) RunAPI(ctx context.Context, key tandem.APIKey, channel, threadTS, text string, allowChanges bool) (tandem.TurnResult, error) {
	b.mu.Lock()
	botUser := b.userID
	b.mu.Unlock()
	text, _ = stripMention(text, botUser)
	return b.engine.RunAPI(ctx, key, channel, threadTS, text, allowChanges)
}

// chat is where the engine runs API turns: Slack's conversations and this
// bot's queue.
type chat struct{ b *Bot }

var _ turns.Chat = chat{}

// CheckMember asks Slack whether key's creator is a member of channel.
func (c chat) CheckMember(ctx context.Context, key tandem.APIKey, channel string) error {
	return c.b.checkMember(ctx, key, channel)
}

// CreatorHere fails when key's creator has left the workspace, or Slack
// cannot say (turns.Engine.CreatorHere).
func (b *Bot) CreatorHere(ctx context.Context, key tandem.APIKey) error {
	return b.engine.CreatorHere(ctx, key)
}

// StartThread posts text in channel, waiting out Slack's rate limits.
func (c chat) StartThread(ctx context.Context, channel, text string) (string, error) {
	var ts string
	err := c.b.withRateLimit(ctx, func() error {
		var err error
		_, ts, err = c.b.api.PostMessageContext(ctx, channel, slack.MsgOptionText(text, false))
		return err
	})
	if err != nil {
		return "", slackPostError(channel, err)
	}
	return ts, nil
}

// Submit asks for t's session to be run.
func (c chat) Submit(t tandem.Turn) { c.b.submit(t) }

// membersPage is how many members one conversations.members call asks for:
// Slack's recommended page size.
const membersPage = 200

// checkMember fails with ECHANNELNOTALLOWED unless key's creator is a member
// of channel: for a DM, the person Tandem talks with there; otherwise one of
// conversations.members. Slack is asked every time, so someone who leaves a
// channel stops their keys from posting there at once. Whatever Slack
// refuses (channel_not_found, not_in_channel, ...) is refused alike, so the
// answer does not tell whether a channel exists; when Slack cannot be
// reached it fails with EUNAVAILABLE. Either way nothing has been posted.
func (b *Bot) checkMember(ctx context.Context, key tandem.APIKey, channel string) error {
	notAllowed := tandem.Errorf(tandem.ECHANNELNOTALLOWED,
		"API key %s (%s) acts as its creator %s, who is not a member of %s. An API key can post only in conversations its creator is a member of.",
		key.Name, key.Prefix, key.Creator, channel)
	member, err := b.isMember(ctx, channel, key.Creator)
	var se slack.SlackErrorResponse
	switch {
	case errors.As(err, &se):
		b.log.Info("api key refused in channel", "api_key", key.Prefix, "channel", channel, "slack_error", se.Err)
		return notAllowed
	case err != nil:
		b.log.Warn("check api key creator's membership", "api_key", key.Prefix, "channel", channel, "err", err)
		return tandem.Errorf(tandem.EUNAVAILABLE, "Tandem could not ask Slack who is in %s; try again.", channel)
	case !member:
		b.log.Info("api key refused in a conversation its creator is not in", "api_key", key.Prefix, "channel", channel)
		return notAllowed
	}
	return nil
}

// isMember reports whether user is in channel: for a DM, whether user is
// the person Tandem talks with there; otherwise whether conversations.members
// lists them. It fails with Slack's error (a slack.SlackErrorResponse when
// Slack refused, as for an unknown channel).
func (b *Bot) isMember(ctx context.Context, channel, user string) (bool, error) {
	var info *slack.Channel
	err := b.withRateLimit(ctx, func() error {
		var err error
		info, err = b.api.GetConversationInfoContext(ctx, &slack.GetConversationInfoInput{ChannelID: channel})
		return err
	})
	if err != nil {
		return false, err
	}
	if info.IsIM {
		return info.User == user, nil
	}
	cursor := ""
	for {
		var members []string
		var next string
		err := b.withRateLimit(ctx, func() error {
			var err error
			members, next, err = b.api.GetUsersInConversationContext(ctx, &slack.GetUsersInConversationParameters{ChannelID: channel, Cursor: cursor, Limit: membersPage})
			return err
		})
		if err != nil {
			return false, err
		}
		if slices.Contains(members, user) {
			return true, nil
		}
		if cursor = next; cursor == "" {
			return false, nil
		}
	}
}

// slackPostError words why Tandem could not post in a channel.
func slackPostError(channel string, err error) error {
	var se slack.SlackErrorResponse
	if errors.As(err, &se) && (se.Err == "channel_not_found" || se.Err == "not_in_channel" || se.Err == "is_archived") {
		return tandem.Errorf(tandem.EFORBIDDEN, "Tandem cannot post in %s; invite @tandem to the channel first.", channel)
	}
	return fmt.Errorf("bot: start api thread: %w", err)
}

// noteReply remembers the ts of an API turn's reply for its result.
func (b *Bot) noteReply(t tandem.Turn, ts string) {
	if t.APIKey == "" {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.replyTS == nil {
		b.replyTS = map[string]string{}
	}
	b.replyTS[t.ID] = ts
}

// takeReplyTS returns and forgets the ts noteReply kept for a turn.
func (b *Bot) takeReplyTS(t tandem.Turn) string {
	b.mu.Lock()
	defer b.mu.Unlock()
	ts := b.replyTS[t.ID]
	delete(b.replyTS, t.ID)
	return ts
}

// tellKeyCreator DMs an API key's creator that their automation stopped for
// want of a provider link, with a button to fix it.
func (b *Bot) tellKeyCreator(ctx context.Context, t tandem.Turn, user string, p tandem.ProviderID, expired bool) {
	reply, label := slackview.KeyStopped(t.APIKeyName, t.APIKey, p, expired)
	reply.Buttons = b.connectButton(ctx, t.Session.Team, user, p, "", tandem.Button{Text: label, Primary: true})
	if err := b.DM(ctx, user, reply.Title, slackview.Reply(reply, fmt.Sprintf("for <@%s>", user))); err != nil {
		b.log.Warn("dm key creator", "user", user, "err", err)
	}
}
