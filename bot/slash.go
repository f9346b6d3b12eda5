package bot

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/slack-go/slack"
	"github.com/slack-go/slack/socketmode"
	"github.com/tandembot/tandem"
	"github.com/tandembot/tandem/bot/slackview"
)

// handleSlash answers /connect and /disconnect in the acknowledgement
// itself, privately to whoever typed it.
func (b *Bot) handleSlash(ctx context.Context, client *socketmode.Client, evt socketmode.Event) {
	cmd, ok := evt.Data.(slack.SlashCommand)
	if !ok {
		b.ack(client, evt.Request, nil)
		return
	}
	team := cmd.TeamID
	if team == "" {
		team = b.teamID
	}
	arg := strings.ToLower(strings.TrimSpace(cmd.Text))
	var msg tandem.Reply
	switch cmd.Command {
	case "/connect":
		msg = b.connectMenu(ctx, team, cmd.UserID, arg)
	case "/disconnect":
		msg = b.disconnect(ctx, team, cmd.UserID, arg)
	case "/tandem":
		if f := strings.Fields(arg); len(f) == 1 && f[0] == "schedules" {
			// One's own schedules everywhere, each with its buttons.
			b.ack(client, evt.Request, map[string]any{
				"response_type": "ephemeral",
				"text":          "Your schedules",
				"blocks":        b.mySchedules(ctx, team, cmd.UserID, fmt.Sprintf("only visible to <@%s>", cmd.UserID)),
			})
			return
		}
		msg = b.tandemCommand(ctx, cmd, team)
	default:
		msg = tandem.Reply{Title: "Unknown command " + cmd.Command}
	}
	b.ack(client, evt.Request, map[string]any{
		"response_type": "ephemeral",
		"text":          msg.Title,
		"blocks":        slackview.Reply(msg, fmt.Sprintf("only visible to <@%s>", cmd.UserID)),
	})
}

// providerArg reads a provider name typed after a slash command.
func (b *Bot) providerArg(arg string) (tandem.ProviderID, bool) {
	p := tandem.ProviderID(arg)
	_, ok := b.cfg.Providers[p]
	return p, ok
}

// enabled lists the providers configured here, in the usual provider order.
func (b *Bot) enabled() []tandem.ProviderID { return b.engine.Enabled() }

func (b *Bot) enabledNames() string {
	var names []string
	for _, p := range b.enabled() {
		names = append(names, string(p))
	}
	return strings.Join(names, ", ")
}

// connectMenu lists each enabled provider with its state and a button, or
// goes straight to one provider.
func (b *Bot) connectMenu(ctx context.Context, team, user, arg string) tandem.Reply {
	if arg != "" {
		p, ok := b.providerArg(arg)
		if !ok {
			return tandem.Reply{Title: fmt.Sprintf("Tandem cannot connect “%s”", arg), Text: "Enabled here: " + b.enabledNames() + "."}
		}
		return tandem.Reply{
			Title:   "Connect " + p.Name(),
			Text:    "Sign in to " + p.Name() + " in your browser; Tandem will then act as you there, and only for your own messages.",
			Buttons: b.connectButton(ctx, team, user, p, "", tandem.Button{Text: "Connect " + p.Name(), ActionID: "connect_" + string(p), Primary: true}),
		}
	}
	reply := tandem.Reply{Title: "Your integrations", Text: "Each account acts only for your own messages."}
	for _, st := range b.statuses(ctx, team, user) {
		reply.Items = append(reply.Items, tandem.Item{Text: slackview.StatusLine(st)})
		label := "Connect " + st.Provider.Name()
		if st.State != tandem.LinkMissing {
			label = "Reconnect " + st.Provider.Name()
		}
		reply.Buttons = append(reply.Buttons, b.connectButton(ctx, team, user, st.Provider, "", tandem.Button{Text: label, ActionID: "connect_" + string(st.Provider)})...)
	}
	return reply
}

func (b *Bot) statuses(ctx context.Context, team, user string) []tandem.IdentityStatus {
	return b.engine.Identities(ctx, team, user, tandem.ReasonSender)
}

func (b *Bot) disconnect(ctx context.Context, team, user, arg string) tandem.Reply {
	p, ok := b.providerArg(arg)
	if !ok {
		return tandem.Reply{Title: "Which account?", Text: "Say `/disconnect <provider>` with one of: " + b.enabledNames() + "."}
	}
	l, err := b.engine.Disconnect(ctx, team, user, p)
	if errors.Is(err, errors.ErrUnsupported) {
		return tandem.Reply{Title: "Disconnecting is not available here"}
	} else if tandem.ErrorCode(err) == tandem.ENOTFOUND {
		return tandem.Reply{Title: p.Name() + " was not connected", Text: "There was nothing to unlink."}
	} else if err != nil {
		b.log.Error("disconnect", "provider", p, "user", user, "err", err)
		return tandem.Reply{Title: "Could not disconnect " + p.Name(), Text: tandem.ErrorMessage(err)}
	}
	go b.publishHome(context.WithoutCancel(ctx), team, user)
	return slackview.Disconnected(l)
}

// handleInteraction acknowledges button presses and shortcuts, then acts
// on the App Home's Disconnect buttons and site pickers. Link buttons need
// nothing more: the browser opens the URL.
func (b *Bot) handleInteraction(ctx context.Context, client *socketmode.Client, evt socketmode.Event) {
	cb, ok := evt.Data.(slack.InteractionCallback)
	if !ok {
		b.ack(client, evt.Request, nil)
		return
	}
	team := cb.Team.ID
	if team == "" {
		team = b.teamID
	}
	switch cb.Type {
	case slack.InteractionTypeMessageAction:
		b.ack(client, evt.Request, nil)
		if cb.CallbackID == slackview.ShortcutSessionSettings {
			go b.openSettings(context.WithoutCancel(ctx), team, cb)
		}
	case slack.InteractionTypeViewSubmission:
		if cb.View.CallbackID == slackview.CallbackKeyModal {
			b.ack(client, evt.Request, b.submitKeyModal(ctx, team, cb))
			return
		}
		b.ack(client, evt.Request, b.submitSettings(ctx, team, cb))
	case slack.InteractionTypeBlockActions:
		b.ack(client, evt.Request, nil)
		for _, a := range cb.ActionCallback.BlockActions {
			switch a.ActionID {
			case slackview.ActionApprove, slackview.ActionDecline:
				go b.consent(context.WithoutCancel(ctx), cb, a)
			case slackview.ActionEditorApprove, slackview.ActionEditorDecline:
				go b.editorConsent(context.WithoutCancel(ctx), cb, a)
			case slackview.ActionProposalDo, slackview.ActionProposalCancel:
				go b.pressProposal(context.WithoutCancel(ctx), cb, a)
			case slackview.ActionSchedulePause, slackview.ActionScheduleResume, slackview.ActionScheduleDelete, slackview.ActionScheduleRun:
				go b.pressSchedule(context.WithoutCancel(ctx), team, cb, a)
			case slackview.ActionKeyAllow, slackview.ActionKeyDecline:
				go b.answerKey(context.WithoutCancel(ctx), team, cb, a)
			case slackview.ActionKeyCreate:
				go b.openKeyModal(context.WithoutCancel(ctx), cb.TriggerID)
			case slackview.ActionKeyRevoke:
				go func(prefix string) {
					ctx := context.WithoutCancel(ctx)
					b.revokeKey(ctx, team, cb.User.ID, prefix)
					b.publishHome(ctx, team, cb.User.ID)
				}(a.Value)
			default:
				go b.homeAction(context.WithoutCancel(ctx), team, cb.User.ID, a)
			}
		}
	default:
		b.ack(client, evt.Request, nil)
	}
}

// ackBadMessage acknowledges an envelope slack-go could not parse, so Slack
// does not redeliver garbage forever.
func (b *Bot) ackBadMessage(client *socketmode.Client, evt socketmode.Event) {
	bad, ok := evt.Data.(*socketmode.ErrorBadMessage)
	if !ok {
		return
	}
	var env struct {
		EnvelopeID string `json:"envelope_id"`
	}
	if json.Unmarshal(bad.Message, &env) != nil || env.EnvelopeID == "" {
		b.log.Warn("dropping unreadable socket message")
		return
	}
	b.log.Warn("dropping malformed envelope", "envelope", env.EnvelopeID)
	b.ack(client, &socketmode.Request{EnvelopeID: env.EnvelopeID}, nil)
}
