package main

import (
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

	payload := e.slack.MessageShortcutPayload(fakeslack.ShortcutSpec{CallbackID: "session_settings", UserID: "UALICE", ChannelID: channel, MessageTS: bobTS, ThreadTS: root, MessageUser: "UBOB"})
	if _, err := e.slack.SendInteraction(ctxFor(t), payload); err != nil {
		t.Fatal(err)
	}
	view, err := e.slack.WaitForView(ctxFor(t), func(m fakeslack.Message) bool { return m.Method == "views.open" })
	if err != nil {
		t.Fatalf("no modal opened: %v", err)
	}
	if !strings.Contains(string(view.View), "Session settings") || !strings.Contains(string(view.View), "KEEP_CREDENTIALS_PERSISTENT") {
		t.Errorf("modal: %s", view.View)
	}
	key := tandem.SessionKey{Team: "T0TANDEM", Channel: channel, ThreadTS: root}.String()
	submit := func(user string) string {
		ack, err := e.slack.SendInteraction(ctxFor(t), e.slack.ViewSubmissionPayload(fakeslack.SubmissionSpec{
			UserID: user, CallbackID: "session_settings_modal", PrivateMetadata: key,
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
