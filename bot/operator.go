package bot

import (
	"context"
	"fmt"
	"strings"

	"github.com/tandembot/tandem"
	"github.com/tandembot/tandem/bot/slackview"
)

// RequestPersistent asks a session's owner, on an operator's behalf, to turn
// on KEEP_CREDENTIALS_PERSISTENT, and announces it in the thread. The owner's
// consent rule holds: nothing changes until they approve. It fails with
// ENOTFOUND for an unknown session.
func (b *Bot) RequestPersistent(ctx context.Context, key tandem.SessionKey, operator string) (tandem.Session, error) {
	return b.engine.RequestPersistent(ctx, key, operator)
}

// NotifyEditor DMs user the providers they must connect or reconnect for
// the sessions they take part in, with a button for each.
func (b *Bot) NotifyEditor(ctx context.Context, team, user string, missing, broken []tandem.ProviderID, sessions int) error {
	reply := tandem.Reply{
		Title: "Your shared Tandem threads need your own accounts",
		Text: fmt.Sprintf("In %d shared thread(s) you take part in, turns run with your own accounts and need: %s. Connect them once and they work everywhere.",
			sessions, strings.Join(append(providerNames(missing), reconnectNames(broken)...), ", ")),
	}
	for _, p := range missing {
		reply.Buttons = append(reply.Buttons, b.connectButton(ctx, team, user, p, "", tandem.Button{Text: "Connect " + p.Name(), ActionID: "connect_" + string(p)})...)
	}
	for _, p := range broken {
		reply.Buttons = append(reply.Buttons, b.connectButton(ctx, team, user, p, "", tandem.Button{Text: "Reconnect " + p.Name(), ActionID: "connect_" + string(p)})...)
	}
	return b.DM(ctx, user, reply.Title, slackview.Reply(reply, fmt.Sprintf("for <@%s>", user)))
}

func providerNames(ps []tandem.ProviderID) []string {
	var out []string
	for _, p := range ps {
		out = append(out, p.Name())
	}
	return out
}

func reconnectNames(ps []tandem.ProviderID) []string {
	var out []string
	for _, p := range ps {
		out = append(out, p.Name()+" (reconnect)")
	}
	return out
}
