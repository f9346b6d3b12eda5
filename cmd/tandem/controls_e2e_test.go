package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/tandembot/tandem"
	"github.com/tandembot/tandem/internal/fakeslack"
)

// TestSessionSettingsShortcut: the message shortcut opens the modal for the
// thread; the owner's choice applies at once; a non-admin's submission is
// refused inside the modal.
func TestSessionSettingsShortcut(t *testing.T) {
	e := newEnv(t)
	e.start()
	e.connect("UALICE", "alice-gh")
	e.connect("UBOB", "bob-gh")
	root, _ := e.mention("UALICE", "list my open PRs", "")
	e.reply(root, "ran as <@UALICE>")
	bobTS, _ := e.mention("UBOB", "list my open PRs", root)
	e.reply(root, "ran as <@UBOB>")

	// open opens the modal as Alice and returns its private metadata (the
	// session's key and the editors list it shows).
	opened := 0
	open := func() string {
		payload := e.slack.MessageShortcutPayload(fakeslack.ShortcutSpec{CallbackID: "session_settings", UserID: "UALICE", ChannelID: channel, MessageTS: bobTS, ThreadTS: root, MessageUser: "UBOB"})
		if _, err := e.slack.SendInteraction(ctxFor(t), payload); err != nil {
			t.Fatal(err)
		}
		n := 0
		view, err := e.slack.WaitForView(ctxFor(t), func(m fakeslack.Message) bool {
			if m.Method != "views.open" {
				return false
			}
			n++
			return n > opened
		})
		if err != nil {
			t.Fatalf("no modal opened: %v", err)
		}
		opened++
		if !strings.Contains(string(view.View), "Session settings") || !strings.Contains(string(view.View), "KEEP_CREDENTIALS_PERSISTENT") {
			t.Errorf("modal: %s", view.View)
		}
		var v struct {
			PrivateMetadata string `json:"private_metadata"`
		}
		if err := json.Unmarshal(view.View, &v); err != nil || !strings.HasPrefix(v.PrivateMetadata, tandem.SessionKey{Team: "T0TANDEM", Channel: channel, ThreadTS: root}.String()+"#") {
			t.Fatalf("the modal's private metadata %q (%v): want the session's key and the editors it shows", v.PrivateMetadata, err)
		}
		return v.PrivateMetadata
	}
	meta := open()
	submit := func(user string) string {
		ack, err := e.slack.SendInteraction(ctxFor(t), e.slack.ViewSubmissionPayload(fakeslack.SubmissionSpec{
			UserID: user, CallbackID: "session_settings_modal", PrivateMetadata: meta,
			Values: map[string]map[string]any{"mode": {"mode_choice": map[string]any{"type": "radio_buttons", "selected_option": map[string]any{"value": "persistent"}}}},
		}))
		if err != nil {
			t.Fatal(err)
		}
		return string(ack)
	}
	if ack := submit("UCAROL"); !strings.Contains(ack, "Only the session owner or a channel admin") {
		t.Errorf("carol's submission was not refused in the modal: %s", ack)
	}
	// Carol writes while Alice's modal is open: she joins the editors, so
	// Alice's Save would share her identity with someone the modal did not
	// show. It is refused in the modal, and nothing changes.
	e.connect("UCAROL", "carol-gh")
	e.ask("UCAROL", "list my open PRs", root, "ran as <@UCAROL>")
	if ack := submit("UALICE"); !strings.Contains(ack, "The editors changed since you opened this") {
		t.Fatalf("the owner's Save after the editors changed was not refused: %s", ack)
	}
	e.ask("UCAROL", "list my open PRs", root, "ran as <@UCAROL> · GitHub: carol-gh")
	meta = open()
	submit("UALICE")
	e.reply(root, "every turn now runs as the owner")
	e.ask("UBOB", "list my open PRs", root, "ran as <@UALICE> (persistent session) · GitHub: alice-gh")
}

// TestChannelDefaultPersistent: a channel admin makes new sessions start by
// asking their owner; the owner's approval is still needed.
func TestChannelDefaultPersistent(t *testing.T) {
	e := newEnv(t)
	e.start()
	e.connect("UBOB", "bob-gh")
	e.connect("UCAROL", "carol-gh")
	set := func(user string) string {
		ack, err := e.slack.SendSlashCommand(ctxFor(t), fakeslack.SlashCommand{Command: "/tandem", Text: "channel persistent on", UserID: user, ChannelID: channel})
		if err != nil {
			t.Fatal(err)
		}
		return string(ack)
	}
	if ack := set("UBOB"); !strings.Contains(ack, "Only a channel admin") {
		t.Errorf("a non-admin changed the channel default: %s", ack)
	}
	if ack := set("UALICE"); !strings.Contains(ack, "Channel default is persistent") { // Alice created the channel
		t.Fatalf("the channel's creator could not set the default: %s", ack)
	}
	root, _ := e.mention("UBOB", "list my open PRs", "")
	e.reply(root, "ran as <@UBOB>")
	if _, err := e.slack.WaitForMessage(ctxFor(t), func(m fakeslack.Message) bool {
		return m.Channel == "DUBOB" && strings.Contains(plain(m), "asks to turn on KEEP_CREDENTIALS_PERSISTENT")
	}); err != nil {
		t.Fatalf("the new session's owner was not asked: %v", err)
	}
	e.ask("UBOB", "env", root, "waiting for <@UBOB>'s approval")
	// Pending the owner's approval, only the owner and the editors may run
	// turns (docs/identity-rules.md), and they still run as themselves.
	e.ask("UCAROL", "list my open PRs", root, "not on its editors list")
	e.ask("UBOB", "list my open PRs", root, "ran as <@UBOB> · GitHub: bob-gh")
}

// TestStandupCombinesWhatIsConnected: one reply with each connected
// provider's part, naming what is missing, with private Connect buttons.
func TestStandupCombinesWhatIsConnected(t *testing.T) {
	e := newEnv(t)
	e.start()
	e.connectTo("UALICE", tandem.GitHub, "alice-gh")
	e.connectTo("UALICE", tandem.Jira, "alice@example.test")
	root, _ := e.mention("UALICE", "standup", "")
	r := e.reply(root, "Your standup")
	for _, want := range []string{"GitHub pull requests* — 2 open pull requests (as alice-gh)", "Jira issues* — 1 open Jira issue (as alice@example.test)", "GitLab credentials not configured", "Google credentials not configured", "Not included: GitLab, Google"} {
		if !strings.Contains(plain(r), want) {
			t.Errorf("standup lacks %q:\n%s", want, plain(r))
		}
	}
	if _, err := e.slack.WaitForMessage(ctxFor(t), func(m fakeslack.Message) bool {
		return m.Method == "chat.postEphemeral" && m.User == "UALICE" && strings.Contains(plain(m), "Connect GitLab") && strings.Contains(plain(m), "Connect Google")
	}); err != nil {
		t.Errorf("no private Connect buttons for the missing providers: %v", err)
	}
}
