package bot

import (
	"context"
	"fmt"

	"github.com/tandembot/tandem"
	"github.com/tandembot/tandem/bot/slackview"
)

// OnLinkMisused tells user that opener, a different Slack user, opened the
// connect link Tandem made for user; nothing was linked.
func (b *Bot) OnLinkMisused(ctx context.Context, team, user string, p tandem.ProviderID, opener string) {
	text := fmt.Sprintf("<@%s> opened the Connect %s link Tandem made for you. Nothing was connected: a link works only for the person it was made for, and only once. To connect your own %s account, use `/connect %s`.", opener, p.Name(), p.Name(), p)
	reply := tandem.Reply{Title: "Someone else opened your Connect " + p.Name() + " link", Text: text}
	if err := b.DM(ctx, user, reply.Title, slackview.Reply(reply, fmt.Sprintf("for <@%s>", user))); err != nil {
		b.log.Warn("dm link misused", "user", user, "err", err)
	}
	go b.publishHome(context.WithoutCancel(ctx), team, user)
}

// Names returns a Slack user's display name and the workspace's name, for
// the pages of the connect flow; an unknown user or team comes back as its
// id.
func (b *Bot) Names(ctx context.Context, team, user string) (userName, teamName string) {
	userName, teamName = user, team
	b.mu.Lock()
	if team == b.teamID && b.teamName != "" {
		teamName = b.teamName
	}
	b.mu.Unlock()
	u, err := b.api.GetUserInfoContext(ctx, user)
	if err != nil {
		b.log.Warn("users.info for a page", "user", user, "err", err)
		return userName, teamName
	}
	switch {
	case u.Profile.DisplayName != "":
		userName = u.Profile.DisplayName
	case u.Name != "":
		userName = u.Name
	}
	return userName, teamName
}
