package bot

import (
	"context"
	"fmt"

	"github.com/slack-go/slack"
	"github.com/tandembot/tandem"
	"github.com/tandembot/tandem/turns"
)

// The Session settings message shortcut and its modal.
const (
	shortcutSessionSettings = "session_settings"
	callbackSettingsModal   = "session_settings_modal"
	blockMode               = "mode"
	actionMode              = "mode_choice"
)

// openSettings opens the Session settings modal for the thread of the
// message the shortcut ran on (slash commands cannot reach threads).
func (b *Bot) openSettings(ctx context.Context, team string, cb slack.InteractionCallback) {
	root := cb.Message.ThreadTimestamp
	if root == "" {
		root = cb.Message.Timestamp
	}
	key := tandem.SessionKey{Team: team, Channel: cb.Channel.ID, ThreadTS: root}
	sess, err := b.cfg.Store.Session(ctx, key)
	var blocks []slack.Block
	if err != nil {
		blocks = []slack.Block{section("This thread is not a Tandem session yet. Mention @tandem in it to start one.")}
	} else {
		mode := "Per-message: every message runs as its sender."
		if sess.Persistent() {
			mode = fmt.Sprintf("Persistent: every turn runs as <@%s>.", sess.Owner)
		} else if sess.Pending != nil {
			mode += fmt.Sprintf(" Persistent mode is waiting for <@%s>'s approval.", sess.Owner)
		}
		blocks = []slack.Block{
			section(fmt.Sprintf("*Owner:* <@%s>\n*Mode:* %s\n*Editors:* %s", sess.Owner, mode, turns.EditorList(sess))),
		}
		perMsg := slack.NewOptionBlockObject("per_message", slack.NewTextBlockObject(slack.PlainTextType, "Every message runs as its sender", false, false), nil)
		persist := slack.NewOptionBlockObject("persistent", slack.NewTextBlockObject(slack.PlainTextType, "Every turn runs as the owner (KEEP_CREDENTIALS_PERSISTENT)", false, false), nil)
		radio := slack.NewRadioButtonsBlockElement(actionMode, perMsg, persist)
		radio.InitialOption = perMsg
		if sess.Persistent() {
			radio.InitialOption = persist
		}
		blocks = append(blocks, slack.NewInputBlock(blockMode, slack.NewTextBlockObject(slack.PlainTextType, "Credentials", false, false), nil, radio))
	}
	view := slack.ModalViewRequest{
		Type:            slack.VTModal,
		Title:           slack.NewTextBlockObject(slack.PlainTextType, "Session settings", false, false),
		Close:           slack.NewTextBlockObject(slack.PlainTextType, "Close", false, false),
		Blocks:          slack.Blocks{BlockSet: blocks},
		CallbackID:      callbackSettingsModal,
		PrivateMetadata: key.String(),
	}
	if err == nil {
		view.Submit = slack.NewTextBlockObject(slack.PlainTextType, "Save", false, false)
	}
	if _, err := b.api.OpenViewContext(ctx, cb.TriggerID, view); err != nil {
		b.log.Warn("open session settings", "err", err)
	}
}

// submitSettings applies the modal's choice with the same rules as
// `@tandem set`: owner or channel admin, owner's consent to share. It
// returns the acknowledgement payload (errors shown in the modal).
func (b *Bot) submitSettings(ctx context.Context, team string, cb slack.InteractionCallback) any {
	if cb.View.CallbackID != callbackSettingsModal {
		return nil
	}
	key, ok := parseSessionKey(cb.View.PrivateMetadata)
	if !ok {
		return nil
	}
	sess, err := b.cfg.Store.Session(ctx, key)
	if err != nil {
		return nil
	}
	choice := cb.View.State.Values[blockMode][actionMode].SelectedOption.Value
	refuse := func(msg string) any {
		return slack.NewErrorsViewSubmissionResponse(map[string]string{blockMode: msg})
	}
	allowed, err := b.engine.MayChange(ctx, sess, cb.User.ID)
	if err != nil {
		return refuse("Tandem could not check who administers this channel; try again.")
	}
	if !allowed {
		return refuse("Only the session owner or a channel admin can change this.")
	}
	value := "false"
	if choice == "persistent" {
		value = "true"
	}
	t := tandem.Turn{Session: key, User: cb.User.ID}
	go func() {
		ctx := context.WithoutCancel(ctx)
		reply, err := b.engine.SetVar(ctx, t, sess, tandem.EnvKeepCredentialsPersistent, value)
		if err != nil {
			b.log.Warn("session settings", "err", err)
			return
		}
		b.announce(ctx, key, reply)
	}()
	return nil
}
