package bot

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/slack-go/slack"
	"github.com/tandembot/tandem"
	"github.com/tandembot/tandem/bot/slackview"
)

// KeyManager creates, lists and revokes API keys.
type KeyManager interface {
	// CreateTextScoped makes a key with the expiry and scope as people
	// type them ("" for the defaults: 90 days, read).
	CreateTextScoped(ctx context.Context, team, creator, name, expires, scope, actor string) (string, tandem.APIKey, error)
	List(ctx context.Context, team, creator string) ([]tandem.APIKey, error)
	Revoke(ctx context.Context, prefix, creator, actor string) (tandem.APIKey, error)
	// Approve allows a key an operator made, for user, the person it acts
	// as (ENOTFOUND for anyone else); allowed is false when it already was.
	Approve(ctx context.Context, prefix, user string) (rec tandem.APIKey, allowed bool, err error)
}

// tandemCommand answers /tandem: API keys and channel settings.
func (b *Bot) tandemCommand(ctx context.Context, cmd slack.SlashCommand, team string) tandem.Reply {
	f := strings.Fields(cmd.Text)
	usage := tandem.Reply{Title: "Usage", Items: []tandem.Item{
		{Text: "`/tandem apikey create <name> [--expires 90d|never] [--scope read|write]`: a key that acts as you, shown once; a read key (the default) cannot make changes"},
		{Text: "`/tandem apikey list`"},
		{Text: "`/tandem apikey revoke <prefix>`"},
		{Text: "`/tandem apikey approve <prefix>`: allow a key an operator made to act as you"},
		{Text: "`/tandem channel persistent on|off`: the default for new sessions here (channel admins; owners still approve)"},
		{Text: "`/tandem schedules`: your schedules everywhere, with Pause, Delete and Run now"},
	}}
	switch {
	case len(f) >= 2 && f[0] == "apikey" && f[1] == "create":
		name, expires, scope := "", "", ""
		for i := 2; i < len(f); i++ {
			switch {
			case f[i] == "--expires" && i+1 < len(f):
				expires = f[i+1]
				i++
			case f[i] == "--scope" && i+1 < len(f):
				scope = f[i+1]
				i++
			case strings.HasPrefix(f[i], "--scope="):
				scope = strings.TrimPrefix(f[i], "--scope=")
			case f[i] == "--scope":
				return tandem.Reply{Title: "No key created", Text: "`--scope` needs a value: read or write."}
			default:
				name = strings.TrimSpace(name + " " + f[i])
			}
		}
		return b.createKey(ctx, team, cmd.UserID, name, expires, scope)
	case len(f) == 2 && f[0] == "apikey" && f[1] == "list":
		return b.listKeys(ctx, team, cmd.UserID)
	case len(f) == 3 && f[0] == "apikey" && f[1] == "revoke":
		return b.revokeKey(ctx, team, cmd.UserID, f[2])
	case len(f) == 3 && f[0] == "apikey" && f[1] == "approve":
		return b.approveKey(ctx, team, cmd.UserID, f[2])
	case len(f) == 3 && f[0] == "channel" && f[1] == "persistent" && (f[2] == "on" || f[2] == "off"):
		return b.engine.SetChannelDefault(ctx, team, cmd.ChannelID, cmd.UserID, f[2] == "on")
	}
	return usage
}

func (b *Bot) createKey(ctx context.Context, team, user, name, expires, scope string) tandem.Reply {
	if b.cfg.Keys == nil {
		return tandem.Reply{Title: "API keys are not available on this Tandem"}
	}
	key, rec, err := b.cfg.Keys.CreateTextScoped(ctx, team, user, name, expires, scope, user)
	if err != nil {
		return tandem.Reply{Title: "No key created", Text: tandem.ErrorMessage(err)}
	}
	go b.publishHome(context.WithoutCancel(ctx), team, user)
	return tandem.Reply{
		Title: "API key " + rec.Name + " created",
		Text: fmt.Sprintf("```%s```\nCopy it now: Tandem keeps only a hash and cannot show it again. It acts as *you* (<@%s>) on every provider you have connected, whatever thread it posts in, %s. %s Use it as `Authorization: Bearer <key>` on `POST /api/v1/messages`.",
			key, user, slackview.KeyExpiry(rec), slackview.KeyScopeWords(rec)),
	}
}

func (b *Bot) listKeys(ctx context.Context, team, user string) tandem.Reply {
	if b.cfg.Keys == nil {
		return tandem.Reply{Title: "API keys are not available on this Tandem"}
	}
	keys, err := b.cfg.Keys.List(ctx, team, user)
	if err != nil {
		return tandem.Reply{Title: "Could not list your keys", Text: tandem.ErrorMessage(err)}
	}
	r := tandem.Reply{Title: fmt.Sprintf("Your API keys (%d)", len(keys))}
	for _, k := range keys {
		r.Items = append(r.Items, tandem.Item{Text: slackview.KeyLine(k, b.cfg.Now())})
	}
	if len(keys) == 0 {
		r.Text = "None. Create one with `/tandem apikey create <name>`."
	}
	return r
}

func (b *Bot) revokeKey(ctx context.Context, team, user, prefix string) tandem.Reply {
	if b.cfg.Keys == nil {
		return tandem.Reply{Title: "API keys are not available on this Tandem"}
	}
	k, err := b.cfg.Keys.Revoke(ctx, prefix, user, user)
	if err != nil {
		return tandem.Reply{Title: "Nothing revoked", Text: tandem.ErrorMessage(err)}
	}
	go b.publishHome(context.WithoutCancel(ctx), team, user)
	return tandem.Reply{Title: "API key " + k.Name + " revoked", Text: fmt.Sprintf("`%s` no longer works.", k.Prefix)}
}

// approveKey allows, for user, a key an operator made to act as them.
func (b *Bot) approveKey(ctx context.Context, team, user, prefix string) tandem.Reply {
	if b.cfg.Keys == nil {
		return tandem.Reply{Title: "API keys are not available on this Tandem"}
	}
	k, allowed, err := b.cfg.Keys.Approve(ctx, prefix, user)
	if err != nil {
		return tandem.Reply{Title: "Nothing allowed", Text: tandem.ErrorMessage(err)}
	}
	go b.publishHome(context.WithoutCancel(ctx), team, user)
	if !allowed {
		return tandem.Reply{Title: "API key " + k.Name + " was already allowed", Text: fmt.Sprintf("`%s` acts as you; `/tandem apikey revoke %s` stops it.", k.Prefix, k.Prefix)}
	}
	return tandem.Reply{Title: "API key " + k.Name + " allowed", Text: fmt.Sprintf("`%s` now acts as you (<@%s>), %s. `/tandem apikey revoke %s` stops it.", k.Prefix, user, slackview.KeyExpiry(k), k.Prefix)}
}

// AskKeyApproval asks, by direct message, the person a key an operator
// made acts as to allow it (Allow) or revoke it (Decline). A key that is
// not pending is left alone. It fails when Slack refuses the message; the
// person can still allow it with /tandem apikey approve or the App Home.
func (b *Bot) AskKeyApproval(ctx context.Context, k tandem.APIKey) error {
	if !k.Pending {
		return nil
	}
	text, blocks := slackview.KeyApproval(k)
	if err := b.DM(ctx, k.Creator, text, blocks); err != nil {
		return err
	}
	go b.publishHome(context.WithoutCancel(ctx), k.Team, k.Creator)
	return nil
}

// answerKey handles a press of Allow or Decline on KeyApproval: only the
// person the key acts as is answered (Keys.Approve and Keys.Revoke refuse
// anyone else, as a key they do not have, and their press changes nothing,
// the message included); the message then says what the press did.
func (b *Bot) answerKey(ctx context.Context, team string, cb slack.InteractionCallback, a *slack.BlockAction) {
	if b.cfg.Keys == nil {
		return
	}
	user, prefix := cb.User.ID, a.Value
	var outcome string
	if a.ActionID == slackview.ActionKeyDecline {
		k, err := b.cfg.Keys.Revoke(ctx, prefix, user, user)
		if err != nil {
			b.log.Info("key decline refused", "key", prefix, "user", user, "err", err)
			return
		}
		outcome = fmt.Sprintf("Declined: API key `%s` (%s) is revoked and never acts as you.", k.Prefix, tandem.Escape(k.Name))
	} else {
		k, _, err := b.cfg.Keys.Approve(ctx, prefix, user)
		if err != nil {
			b.log.Info("key approval refused", "key", prefix, "user", user, "err", err)
			return
		}
		outcome = fmt.Sprintf("Allowed: API key `%s` (%s) now acts as you, %s. `/tandem apikey revoke %s` stops it.", k.Prefix, tandem.Escape(k.Name), slackview.KeyExpiry(k), k.Prefix)
	}
	b.publishHome(ctx, team, user)
	if cb.Container.Type != "view" && cb.Channel.ID != "" {
		b.answered(ctx, cb, outcome)
	}
}

// homeKeys renders the API keys section of the App Home.
func (b *Bot) homeKeys(ctx context.Context, team, user string) []slack.Block {
	if b.cfg.Keys == nil {
		return nil
	}
	keys, err := b.cfg.Keys.List(ctx, team, user)
	if err != nil {
		b.log.Warn("list keys for home", "err", err)
		keys = nil
	}
	blocks := slackview.HomeKeys(keys, b.cfg.Now())
	recs, err := b.cfg.Store.Audit(ctx, tandem.AuditFilter{User: user, Limit: keyCallsRead, Since: b.cfg.Now().Add(-keyCallsSince)})
	if err != nil {
		b.log.Warn("read key calls for home", "err", err)
		return blocks
	}
	var calls []tandem.AuditRecord
	for i := len(recs) - 1; i >= 0 && len(calls) < keyCallsShown; i-- {
		if strings.HasPrefix(recs[i].Actor, "apikey:") && recs[i].Effective == user && recs[i].Session.Team == team {
			calls = append(calls, recs[i])
		}
	}
	return append(blocks, slackview.KeyCalls(calls)...)
}

// The App Home shows the newest keyCallsShown calls made with a person's
// keys (through the API or MCP), found among their newest keyCallsRead
// audit records of the last keyCallsSince: the bbolt store has no index by
// person, so the window bounds how much of the trail opening the App Home
// reads.
const (
	keyCallsShown = 5
	keyCallsRead  = 50
	keyCallsSince = 7 * 24 * time.Hour
)

func (b *Bot) openKeyModal(ctx context.Context, triggerID string) {
	if _, err := b.api.OpenViewContext(ctx, triggerID, slackview.KeyModal()); err != nil {
		b.log.Warn("open key modal", "err", err)
	}
}

// submitKeyModal creates the key and shows it once in the modal.
func (b *Bot) submitKeyModal(ctx context.Context, team string, cb slack.InteractionCallback) any {
	vals := cb.View.State.Values
	name := vals[slackview.BlockKeyName][slackview.ActionKeyNameIn].Value
	expires := vals[slackview.BlockKeyExpiry][slackview.ActionKeyExpiryIn].SelectedOption.Value
	// A modal opened before it had a scope select creates a read key.
	scope := vals[slackview.BlockKeyScope][slackview.ActionKeyScopeIn].SelectedOption.Value
	r := b.createKey(ctx, team, cb.User.ID, name, expires, scope)
	view := slackview.KeyCreated(r)
	return slack.NewUpdateViewSubmissionResponse(&view)
}
