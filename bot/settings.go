package bot

import (
	"context"

	"github.com/slack-go/slack"
	"github.com/tandembot/tandem"
	"github.com/tandembot/tandem/bot/slackview"
	"github.com/tandembot/tandem/turns"
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
	var view slack.ModalViewRequest
	if err != nil {
		view = slackview.SessionSettings(key, nil, "", "")
	} else {
		view = slackview.SessionSettings(key, &sess, turns.EditorList(sess), turns.EditorsDigest(sess))
	}
	if _, err := b.api.OpenViewContext(ctx, cb.TriggerID, view); err != nil {
		b.log.Warn("open session settings", "err", err)
	}
}

// submitSettings applies the modal's choice with the same rules as
// `@tandem set`: owner or channel admin, owner's consent to share. It
// returns the acknowledgement payload (errors shown in the modal).
func (b *Bot) submitSettings(ctx context.Context, team string, cb slack.InteractionCallback) any {
	if cb.View.CallbackID != slackview.CallbackSettingsModal {
		return nil
	}
	meta, shown := slackview.SettingsMetadata(cb.View.PrivateMetadata)
	key, ok := parseSessionKey(meta)
	if !ok {
		return nil
	}
	sess, err := b.cfg.Store.Session(ctx, key)
	if err != nil {
		return nil
	}
	choice := cb.View.State.Values[slackview.BlockMode][slackview.ActionMode].SelectedOption.Value
	refuse := func(msg string) any {
		return slack.NewErrorsViewSubmissionResponse(map[string]string{slackview.BlockMode: msg})
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
	apply := func(ctx context.Context) (tandem.Reply, error) {
		return b.engine.SetVar(ctx, t, sess, tandem.EnvKeepCredentialsPersistent, value)
	}
	if value == "true" && cb.User.ID == sess.Owner && !sess.Persistent() {
		// The owner shares their identity with the editors the modal
		// showed, and nobody who joined since it opened.
		if shown == "" || turns.EditorsDigest(sess) != shown {
			return refuse("The editors changed since you opened this. Close it and open Session settings again to see who would act as you.")
		}
		apply = func(ctx context.Context) (tandem.Reply, error) {
			return b.engine.EnablePersistentAsShown(ctx, key, cb.User.ID, shown)
		}
	}
	go func() {
		ctx := context.WithoutCancel(ctx)
		reply, err := apply(ctx)
		if err != nil {
			b.log.Warn("session settings", "err", err)
			return
		}
		b.announce(ctx, key, reply)
	}()
	return nil
}
