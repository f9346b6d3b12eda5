package bot

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/slack-go/slack"
	"github.com/tandembot/tandem"
	"github.com/tandembot/tandem/bot/slackview"
)

// homeAction carries out a press on the Integrations page, then shows the
// page again.
func (b *Bot) homeAction(ctx context.Context, team, user string, a *slack.BlockAction) {
	switch {
	case strings.HasPrefix(a.ActionID, slackview.ActionDisconnect):
		p := tandem.ProviderID(strings.TrimPrefix(a.ActionID, slackview.ActionDisconnect))
		msg := b.disconnect(ctx, team, user, string(p))
		if err := b.DM(ctx, user, msg.Title+". "+msg.Text, slackview.Reply(msg, fmt.Sprintf("for <@%s>", user))); err != nil {
			b.log.Warn("dm disconnect", "user", user, "err", err)
		}
	case strings.HasPrefix(a.ActionID, slackview.ActionSite):
		p := tandem.ProviderID(strings.TrimPrefix(a.ActionID, slackview.ActionSite))
		err := b.engine.ChooseSite(ctx, team, user, p, a.SelectedOption.Value)
		if errors.Is(err, errors.ErrUnsupported) {
			return
		}
		if err != nil {
			b.log.Warn("choose site", "provider", p, "user", user, "err", err)
		}
	case strings.HasPrefix(a.ActionID, slackview.ActionConnect):
		// The browser opened the link, which works once: publish the page
		// again so its button carries a fresh one, in case this attempt is
		// abandoned.
	default:
		return
	}
	b.publishHome(ctx, team, user)
}

// publishHome renders the Integrations page on the user's App Home tab: for
// each enabled provider its state, the linked identity and site, when it was
// linked, and Connect / Reconnect / Disconnect.
func (b *Bot) publishHome(ctx context.Context, team, user string) {
	if team == "" {
		team = b.teamID
	}
	links, err := b.cfg.Store.Links(ctx, team, user)
	if err != nil {
		b.log.Error("read links for home", "user", user, "err", err)
		return
	}
	var ps []slackview.Provider
	for _, st := range tandem.LinkStates(links, b.enabled()) {
		ps = append(ps, slackview.Provider{Status: st, Link: linkOf(links, st.Provider), ConnectURL: b.homeConnectURL(ctx, team, user, st.Provider)})
	}
	view := slackview.Home(ps, append(b.homeKeys(ctx, team, user), b.homeSchedules(ctx, team, user)...))
	err = b.withRateLimit(ctx, func() error {
		_, err := b.api.PublishViewContext(ctx, slack.PublishViewContextRequest{UserID: user, View: view})
		return err
	})
	if err != nil {
		b.log.Warn("publish home", "user", user, "err", err)
	}
}

// linkOf returns the link to p that tandem.LinkStates reads, or nil.
func linkOf(links []tandem.Link, p tandem.ProviderID) *tandem.Link {
	for i := range links {
		if links[i].Provider == p {
			return &links[i]
		}
	}
	return nil
}

// homeConnectURL makes a fresh connect link for a button of the
// Integrations page, or "" when it cannot: without a URL the button still
// reaches Tandem, which publishes the page again with fresh links.
func (b *Bot) homeConnectURL(ctx context.Context, team, user string, p tandem.ProviderID) string {
	u, err := b.cfg.Linker.ConnectURL(ctx, team, user, p, "")
	if err != nil {
		b.log.Warn("make connect link", "user", user, "provider", p, "err", err)
	}
	return u
}
