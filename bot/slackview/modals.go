package slackview

import (
	"fmt"
	"strings"

	"github.com/slack-go/slack"
	"github.com/tandembot/tandem"
)

// The Session settings message shortcut and its modal.
const (
	ShortcutSessionSettings = "session_settings"
	CallbackSettingsModal   = "session_settings_modal"
	BlockMode               = "mode"
	ActionMode              = "mode_choice"
)

// The API key create modal.
const (
	CallbackKeyModal  = "apikey_create_modal"
	BlockKeyName      = "key_name"
	BlockKeyExpiry    = "key_expiry"
	BlockKeyScope     = "key_scope"
	ActionKeyNameIn   = "key_name_input"
	ActionKeyExpiryIn = "key_expiry_input"
	ActionKeyScopeIn  = "key_scope_input"
)

// SessionSettings returns the Session settings modal for the thread key:
// its owner, mode and editors (a list in words) and a choice of mode, or,
// with sess nil, a note that the thread is no session yet and no Save
// button. shown names the editors list the modal shows (a digest); it
// comes back with the submission, with the key, in the private metadata
// (SettingsMetadata).
func SessionSettings(key tandem.SessionKey, sess *tandem.Session, editors, shown string) slack.ModalViewRequest {
	var blocks []slack.Block
	if sess == nil {
		blocks = []slack.Block{Section("This thread is not a Tandem session yet. Mention @tandem in it to start one.")}
	} else {
		mode := "Per-message: every message runs as its sender."
		if sess.Persistent() {
			mode = fmt.Sprintf("Persistent: every turn runs as <@%s>.", sess.Owner)
		} else if sess.Pending != nil {
			mode += fmt.Sprintf(" Persistent mode is waiting for <@%s>'s approval.", sess.Owner)
		}
		blocks = []slack.Block{
			Section(fmt.Sprintf("*Owner:* <@%s>\n*Mode:* %s\n*Editors:* %s", sess.Owner, mode, editors)),
		}
		perMsg := slack.NewOptionBlockObject("per_message", plain("Every message runs as its sender"), nil)
		persist := slack.NewOptionBlockObject("persistent", plain("Every turn runs as the owner (KEEP_CREDENTIALS_PERSISTENT)"), nil)
		radio := slack.NewRadioButtonsBlockElement(ActionMode, perMsg, persist)
		radio.InitialOption = perMsg
		if sess.Persistent() {
			radio.InitialOption = persist
		}
		blocks = append(blocks, slack.NewInputBlock(BlockMode, plain("Credentials"), nil, radio))
	}
	view := slack.ModalViewRequest{
		Type:            slack.VTModal,
		Title:           plain("Session settings"),
		Close:           plain("Close"),
		Blocks:          slack.Blocks{BlockSet: blocks},
		CallbackID:      CallbackSettingsModal,
		PrivateMetadata: key.String() + "#" + shown,
	}
	if sess != nil {
		view.Submit = plain("Save")
	}
	return view
}

// SettingsMetadata splits the Session settings modal's private metadata
// into the session's key and the digest of the editors list it showed
// ("" for a modal opened before it carried one).
func SettingsMetadata(meta string) (key, shown string) {
	key, shown, _ = strings.Cut(meta, "#")
	return key, shown
}

// KeyModal returns the modal that creates an API key: a name, an expiry,
// 90 days unless changed, and a scope, read unless changed.
func KeyModal() slack.ModalViewRequest {
	name := slack.NewPlainTextInputBlockElement(plain("ci-deploy"), ActionKeyNameIn)
	var opts []*slack.OptionBlockObject
	for _, e := range []string{"30d", "90d", "365d", "never"} {
		opts = append(opts, slack.NewOptionBlockObject(e, plain(e), nil))
	}
	expiry := slack.NewOptionsSelectBlockElement(slack.OptTypeStatic, nil, ActionKeyExpiryIn, opts...)
	expiry.InitialOption = opts[1]
	scopes := []*slack.OptionBlockObject{
		slack.NewOptionBlockObject(string(tandem.ScopeRead), plain("read: reads, and proposes changes without making them"), nil),
		slack.NewOptionBlockObject(string(tandem.ScopeWrite), plain("write: may also make changes"), nil),
	}
	scope := slack.NewOptionsSelectBlockElement(slack.OptTypeStatic, nil, ActionKeyScopeIn, scopes...)
	scope.InitialOption = scopes[0]
	return slack.ModalViewRequest{
		Type:       slack.VTModal,
		Title:      plain("New API key"),
		Submit:     plain("Create"),
		Close:      plain("Cancel"),
		CallbackID: CallbackKeyModal,
		Blocks: slack.Blocks{BlockSet: []slack.Block{
			slack.NewInputBlock(BlockKeyName, plain("Name"), nil, name),
			slack.NewInputBlock(BlockKeyExpiry, plain("Expires after"), nil, expiry),
			slack.NewInputBlock(BlockKeyScope, plain("Scope"), nil, scope),
		}},
	}
}

// KeyCreated returns the modal that shows r, the outcome of creating a key
// (the key itself, once, or why there is none).
func KeyCreated(r tandem.Reply) slack.ModalViewRequest {
	return slack.ModalViewRequest{
		Type:   slack.VTModal,
		Title:  plain("API key"),
		Close:  plain("Done"),
		Blocks: slack.Blocks{BlockSet: []slack.Block{Section("*" + escape(r.Title) + "*\n" + r.Text)}},
	}
}

// Consent action ids on the DMs that ask an owner to share their identity:
// with a persistent session, or with one more editor of one.
const (
	ActionApprove       = "consent_approve"
	ActionDecline       = "consent_decline"
	ActionEditorApprove = "editor_approve"
	ActionEditorDecline = "editor_decline"
	// ActionProposalDo and ActionProposalCancel answer an agent turn's
	// proposal card; the value is the proposal's id.
	ActionProposalDo     = "proposal_do"
	ActionProposalCancel = "proposal_cancel"
)

// Consent returns the DM that asks a session's owner, in text, to approve
// persistent mode; value (the session key) comes back with the press.
func Consent(text, value string) []slack.Block {
	return []slack.Block{Section(text), slack.NewActionBlock("consent", approveDecline(ActionApprove, ActionDecline, value)...)}
}

// EditorConsent returns the DM that asks a session's owner, in text, to
// approve a new editor; value (session key and user) comes back with the
// press.
func EditorConsent(text, value string) []slack.Block {
	return []slack.Block{Section(text), slack.NewActionBlock("editor_consent", approveDecline(ActionEditorApprove, ActionEditorDecline, value)...)}
}

func approveDecline(approveID, declineID, value string) []slack.BlockElement {
	approve := slack.NewButtonBlockElement(approveID, value, plain("Approve"))
	approve.Style = slack.StylePrimary
	decline := slack.NewButtonBlockElement(declineID, value, plain("Decline"))
	decline.Style = slack.StyleDanger
	return []slack.BlockElement{approve, decline}
}
