package bot

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/slack-go/slack"
	"github.com/tandembot/tandem"
)

// KeyManager creates, lists and revokes API keys.
type KeyManager interface {
	CreateText(ctx context.Context, team, creator, name, expires, actor string) (string, tandem.APIKey, error)
	List(ctx context.Context, team, creator string) ([]tandem.APIKey, error)
	Revoke(ctx context.Context, prefix, creator, actor string) (tandem.APIKey, error)
}

// tandemCommand answers /tandem: API keys and channel settings.
func (b *Bot) tandemCommand(ctx context.Context, cmd slack.SlashCommand, team string) tandem.Reply {
	f := strings.Fields(cmd.Text)
	usage := tandem.Reply{Title: "Usage", Items: []tandem.Item{
		{Text: "`/tandem apikey create <name> [--expires 90d|never]`: a key that acts as you, shown once"},
		{Text: "`/tandem apikey list`"},
		{Text: "`/tandem apikey revoke <prefix>`"},
		{Text: "`/tandem channel persistent on|off`: the default for new sessions here (channel admins; owners still approve)"},
	}}
	switch {
	case len(f) >= 2 && f[0] == "apikey" && f[1] == "create":
		name, expires := "", ""
		for i := 2; i < len(f); i++ {
			if f[i] == "--expires" && i+1 < len(f) {
				expires = f[i+1]
				i++
			} else {
				name = strings.TrimSpace(name + " " + f[i])
			}
		}
		return b.createKey(ctx, team, cmd.UserID, name, expires)
	case len(f) == 2 && f[0] == "apikey" && f[1] == "list":
		return b.listKeys(ctx, team, cmd.UserID)
	case len(f) == 3 && f[0] == "apikey" && f[1] == "revoke":
		return b.revokeKey(ctx, team, cmd.UserID, f[2])
	case len(f) == 3 && f[0] == "channel" && f[1] == "persistent" && (f[2] == "on" || f[2] == "off"):
		return b.engine.SetChannelDefault(ctx, team, cmd.ChannelID, cmd.UserID, f[2] == "on")
	}
	return usage
}

func (b *Bot) createKey(ctx context.Context, team, user, name, expires string) tandem.Reply {
	if b.cfg.Keys == nil {
		return tandem.Reply{Title: "API keys are not available on this Tandem"}
	}
	key, rec, err := b.cfg.Keys.CreateText(ctx, team, user, name, expires, user)
	if err != nil {
		return tandem.Reply{Title: "No key created", Text: tandem.ErrorMessage(err)}
	}
	go b.publishHome(context.WithoutCancel(ctx), team, user)
	return tandem.Reply{
		Title: "API key " + rec.Name + " created",
		Text: fmt.Sprintf("```%s```\nCopy it now: Tandem keeps only a hash and cannot show it again. It acts as *you* (<@%s>) on every provider you have connected, whatever thread it posts in, %s. Use it as `Authorization: Bearer <key>` on `POST /api/v1/messages`.",
			key, user, expiryWords(rec)),
	}
}

func expiryWords(k tandem.APIKey) string {
	if k.Expires.IsZero() {
		return "and never expires"
	}
	return "until " + k.Expires.UTC().Format("2006-01-02")
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
		r.Items = append(r.Items, tandem.Item{Text: keyLine(k, b.cfg.Now())})
	}
	if len(keys) == 0 {
		r.Text = "None. Create one with `/tandem apikey create <name>`."
	}
	return r
}

// keyLine describes a key without its secret.
func keyLine(k tandem.APIKey, now time.Time) string {
	state := expiryWords(k)
	switch {
	case !k.Revoked.IsZero():
		state = "revoked " + k.Revoked.UTC().Format("2006-01-02")
	case k.Expired(now):
		state = "expired " + k.Expires.UTC().Format("2006-01-02")
	}
	used := "never used"
	if !k.LastUsed.IsZero() {
		used = "last used " + k.LastUsed.UTC().Format("2006-01-02 15:04 UTC")
	}
	return fmt.Sprintf("`%s` *%s* · created %s · %s · %s", k.Prefix, escape(k.Name), k.CreatedAt.UTC().Format("2006-01-02"), state, used)
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

// homeKeys renders the API keys section of the App Home.
func (b *Bot) homeKeys(ctx context.Context, team, user string) []slack.Block {
	if b.cfg.Keys == nil {
		return nil
	}
	create := slack.NewButtonBlockElement(actionKeyCreate, "create", slack.NewTextBlockObject(slack.PlainTextType, "Create API key", false, false))
	blocks := []slack.Block{
		slack.NewDividerBlock(),
		slack.NewHeaderBlock(slack.NewTextBlockObject(slack.PlainTextType, "API keys", false, false)),
		slack.NewSectionBlock(slack.NewTextBlockObject(slack.MarkdownType, "Keys let automation act as *you*. Each is shown once.", false, false), nil, slack.NewAccessory(create)),
	}
	keys, err := b.cfg.Keys.List(ctx, team, user)
	if err != nil {
		b.log.Warn("list keys for home", "err", err)
		return blocks
	}
	for i, k := range keys {
		if i == 20 {
			blocks = append(blocks, section(fmt.Sprintf("…and %d more; `/tandem apikey list` shows all.", len(keys)-20)))
			break
		}
		var acc *slack.Accessory
		if k.Revoked.IsZero() {
			revoke := slack.NewButtonBlockElement(actionKeyRevoke, k.Prefix, slack.NewTextBlockObject(slack.PlainTextType, "Revoke", false, false))
			revoke.Style = slack.StyleDanger
			acc = slack.NewAccessory(revoke)
		}
		blocks = append(blocks, slack.NewSectionBlock(slack.NewTextBlockObject(slack.MarkdownType, keyLine(k, b.cfg.Now()), false, false), nil, acc))
	}
	return blocks
}

// App Home API key actions and the create modal.
const (
	actionKeyCreate   = "home_key_create"
	actionKeyRevoke   = "home_key_revoke"
	callbackKeyModal  = "apikey_create_modal"
	blockKeyName      = "key_name"
	blockKeyExpiry    = "key_expiry"
	actionKeyNameIn   = "key_name_input"
	actionKeyExpiryIn = "key_expiry_input"
)

func (b *Bot) openKeyModal(ctx context.Context, triggerID string) {
	name := slack.NewPlainTextInputBlockElement(slack.NewTextBlockObject(slack.PlainTextType, "ci-deploy", false, false), actionKeyNameIn)
	var opts []*slack.OptionBlockObject
	for _, e := range []string{"30d", "90d", "365d", "never"} {
		opts = append(opts, slack.NewOptionBlockObject(e, slack.NewTextBlockObject(slack.PlainTextType, e, false, false), nil))
	}
	expiry := slack.NewOptionsSelectBlockElement(slack.OptTypeStatic, nil, actionKeyExpiryIn, opts...)
	expiry.InitialOption = opts[1]
	view := slack.ModalViewRequest{
		Type:       slack.VTModal,
		Title:      slack.NewTextBlockObject(slack.PlainTextType, "New API key", false, false),
		Submit:     slack.NewTextBlockObject(slack.PlainTextType, "Create", false, false),
		Close:      slack.NewTextBlockObject(slack.PlainTextType, "Cancel", false, false),
		CallbackID: callbackKeyModal,
		Blocks: slack.Blocks{BlockSet: []slack.Block{
			slack.NewInputBlock(blockKeyName, slack.NewTextBlockObject(slack.PlainTextType, "Name", false, false), nil, name),
			slack.NewInputBlock(blockKeyExpiry, slack.NewTextBlockObject(slack.PlainTextType, "Expires after", false, false), nil, expiry),
		}},
	}
	if _, err := b.api.OpenViewContext(ctx, triggerID, view); err != nil {
		b.log.Warn("open key modal", "err", err)
	}
}

// submitKeyModal creates the key and shows it once in the modal.
func (b *Bot) submitKeyModal(ctx context.Context, team string, cb slack.InteractionCallback) any {
	vals := cb.View.State.Values
	name := vals[blockKeyName][actionKeyNameIn].Value
	expires := vals[blockKeyExpiry][actionKeyExpiryIn].SelectedOption.Value
	r := b.createKey(ctx, team, cb.User.ID, name, expires)
	view := slack.ModalViewRequest{
		Type:   slack.VTModal,
		Title:  slack.NewTextBlockObject(slack.PlainTextType, "API key", false, false),
		Close:  slack.NewTextBlockObject(slack.PlainTextType, "Done", false, false),
		Blocks: slack.Blocks{BlockSet: []slack.Block{section("*" + escape(r.Title) + "*\n" + r.Text)}},
	}
	return slack.NewUpdateViewSubmissionResponse(&view)
}
