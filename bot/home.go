package bot

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/slack-go/slack"
	"github.com/tandembot/tandem"
)

// App Home action ids.
const (
	actionDisconnect = "home_disconnect_"
	actionConnect    = "home_connect_"
	actionSite       = "home_site_"
)

// homeAction carries out a press on the Integrations page, then shows the
// page again.
func (b *Bot) homeAction(ctx context.Context, team, user string, a *slack.BlockAction) {
	switch {
	case strings.HasPrefix(a.ActionID, actionDisconnect):
		p := tandem.ProviderID(strings.TrimPrefix(a.ActionID, actionDisconnect))
		msg := b.disconnect(ctx, team, user, string(p))
		if err := b.DM(ctx, user, msg.Title+". "+msg.Text, render(msg, fmt.Sprintf("for <@%s>", user))); err != nil {
			b.log.Warn("dm disconnect", "user", user, "err", err)
		}
	case strings.HasPrefix(a.ActionID, actionSite):
		p := tandem.ProviderID(strings.TrimPrefix(a.ActionID, actionSite))
		err := b.engine.ChooseSite(ctx, team, user, p, a.SelectedOption.Value)
		if errors.Is(err, errors.ErrUnsupported) {
			return
		}
		if err != nil {
			b.log.Warn("choose site", "provider", p, "user", user, "err", err)
		}
	case strings.HasPrefix(a.ActionID, actionConnect):
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
	blocks := []slack.Block{
		slack.NewHeaderBlock(slack.NewTextBlockObject(slack.PlainTextType, "Integrations", false, false)),
		section("Tandem acts on these accounts only for *your own* messages. In a shared thread, everyone's messages use their own accounts."),
		slack.NewDividerBlock(),
	}
	for _, st := range tandem.LinkStates(links, b.enabled()) {
		blocks = append(blocks, b.homeProvider(ctx, team, user, st, linkOf(links, st.Provider))...)
	}
	blocks = append(blocks, b.homeKeys(ctx, team, user)...)
	view := slack.HomeTabViewRequest{Type: slack.VTHomeTab, Blocks: slack.Blocks{BlockSet: blocks}}
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

// homeProvider renders one provider of the Integrations page as st says
// it stands; l is its link, nil when st is missing.
func (b *Bot) homeProvider(ctx context.Context, team, user string, st tandem.IdentityStatus, l *tandem.Link) []slack.Block {
	p := st.Provider
	connect := func(label string, style slack.Style) *slack.ButtonBlockElement {
		btn := slack.NewButtonBlockElement(actionConnect+string(p), string(p), slack.NewTextBlockObject(slack.PlainTextType, label, false, false))
		u, err := b.cfg.Linker.ConnectURL(ctx, team, user, p, "")
		if err != nil {
			// Without a URL the button still reaches Tandem, which
			// publishes the page again with fresh links.
			b.log.Warn("make connect link", "user", user, "provider", p, "err", err)
		}
		btn.URL = u
		btn.Style = style
		return btn
	}
	if st.State == tandem.LinkMissing || l == nil {
		return []slack.Block{
			slack.NewSectionBlock(slack.NewTextBlockObject(slack.MarkdownType, fmt.Sprintf("*%s*\nNot connected", p.Name()), false, false), nil,
				slack.NewAccessory(connect("Connect "+p.Name(), slack.StylePrimary))),
		}
	}
	state := ":large_green_circle: Connected"
	if st.State == tandem.LinkNeedsReconnect {
		state = ":warning: Needs reconnect: " + p.Name() + " refused this account's token"
	}
	text := fmt.Sprintf("*%s*\n%s as *%s*", p.Name(), state, escape(st.Login))
	if l.SiteName != "" {
		text += fmt.Sprintf(" on site *%s*", escape(l.SiteName))
	}
	text += fmt.Sprintf("\nLinked <!date^%d^{date_short_pretty} at {time}|%s>", l.LinkedAt.Unix(), l.LinkedAt.UTC().Format("2006-01-02 15:04 UTC"))
	reconnectStyle := slack.StyleDefault
	if st.State == tandem.LinkNeedsReconnect {
		reconnectStyle = slack.StylePrimary
	}
	disconnect := slack.NewButtonBlockElement(actionDisconnect+string(p), string(p), slack.NewTextBlockObject(slack.PlainTextType, "Disconnect", false, false))
	disconnect.Style = slack.StyleDanger
	disconnect.Confirm = slack.NewConfirmationBlockObject(
		slack.NewTextBlockObject(slack.PlainTextType, "Disconnect "+p.Name()+"?", false, false),
		slack.NewTextBlockObject(slack.MarkdownType, "Tandem will stop acting as "+escape(l.Login)+" and revoke its access where "+p.Name()+" allows it.", false, false),
		slack.NewTextBlockObject(slack.PlainTextType, "Disconnect", false, false),
		slack.NewTextBlockObject(slack.PlainTextType, "Cancel", false, false))
	elements := []slack.BlockElement{connect("Reconnect", reconnectStyle), disconnect}
	if len(l.Sites) > 1 {
		var opts []*slack.OptionBlockObject
		var chosen *slack.OptionBlockObject
		for _, s := range l.Sites {
			o := slack.NewOptionBlockObject(s.ID, slack.NewTextBlockObject(slack.PlainTextType, clip(s.Name, 75), false, false), nil)
			opts = append(opts, o)
			if s.ID == l.Site {
				chosen = o
			}
		}
		sel := slack.NewOptionsSelectBlockElement(slack.OptTypeStatic, slack.NewTextBlockObject(slack.PlainTextType, "Choose site", false, false), actionSite+string(p), opts...)
		sel.InitialOption = chosen
		elements = append(elements, sel)
	}
	return []slack.Block{
		section(text),
		slack.NewActionBlock("home_actions_"+string(p), elements...),
	}
}
