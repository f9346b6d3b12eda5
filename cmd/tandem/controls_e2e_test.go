package main

import (
	"context"
	"encoding/json"
	"fmt"
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
	open := func() string {
		view, meta, err := openSettingsModal(ctxFor(t), e.slack, fakeslack.ShortcutSpec{UserID: "UALICE", ChannelID: channel, MessageTS: bobTS, ThreadTS: root, MessageUser: "UBOB"})
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(view.View), "Session settings") || !strings.Contains(string(view.View), "KEEP_CREDENTIALS_PERSISTENT") {
			t.Errorf("modal: %s", view.View)
		}
		if !strings.HasPrefix(meta, tandem.SessionKey{Team: "T0TANDEM", Channel: channel, ThreadTS: root}.String()+"#") {
			t.Fatalf("the modal's private metadata %q: want the session's key and the editors it shows", meta)
		}
		return meta
	}
	meta := open()
	submit := func(user string) string {
		ack, err := submitPersistent(ctxFor(t), e.slack, user, meta)
		if err != nil {
			t.Fatal(err)
		}
		return ack
	}
	if ack := submit("UCAROL"); !strings.Contains(ack, "Only the session owner or a channel admin") {
		t.Errorf("carol's submission was not refused in the modal: %s", ack)
	}
	// Carol writes while Alice's modal is open: she joins the editors, so
	// Alice's Save would share her identity with someone the modal did not
	// show. It is refused in the modal, and nothing changes.
	e.connect("UCAROL", "carol-gh")
	e.ask("UCAROL", "list my open PRs", root, "ran as <@UCAROL>")
	// She joins when her turn is marked done, just after its reply.
	e.waitEditor(root, "UCAROL")
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

// openSettingsModal runs the Session settings shortcut as spec says (its
// CallbackID set here) and waits for the modal it opens for spec.UserID;
// it returns the view and its private metadata.
func openSettingsModal(ctx context.Context, s *fakeslack.Server, spec fakeslack.ShortcutSpec) (fakeslack.Message, string, error) {
	before := len(s.Views())
	spec.CallbackID = "session_settings"
	if _, err := s.SendInteraction(ctx, s.MessageShortcutPayload(spec)); err != nil {
		return fakeslack.Message{}, "", fmt.Errorf("run the shortcut: %w", err)
	}
	i := -1 // the fake offers every view once, in order
	view, err := s.WaitForView(ctx, func(m fakeslack.Message) bool {
		i++
		return i >= before && m.Method == "views.open" && m.User == spec.UserID
	})
	if err != nil {
		return fakeslack.Message{}, "", fmt.Errorf("no Session settings opened for %s: %w", spec.UserID, err)
	}
	var v struct {
		PrivateMetadata string `json:"private_metadata"`
	}
	if err := json.Unmarshal(view.View, &v); err != nil {
		return fakeslack.Message{}, "", fmt.Errorf("Session settings view: %w", err)
	}
	return view, v.PrivateMetadata, nil
}

// submitPersistent submits, as user, the Session settings modal whose
// private metadata is meta with persistent mode chosen, and returns the
// acknowledgement.
func submitPersistent(ctx context.Context, s *fakeslack.Server, user, meta string) (string, error) {
	ack, err := s.SendInteraction(ctx, s.ViewSubmissionPayload(fakeslack.SubmissionSpec{
		UserID: user, CallbackID: "session_settings_modal", PrivateMetadata: meta,
		Values: map[string]map[string]any{"mode": {"mode_choice": map[string]any{"type": "radio_buttons", "selected_option": map[string]any{"value": "persistent"}}}},
	}))
	return string(ack), err
}

// waitEditor waits until the operator's report lists user among the
// editors of the session of thread root: a turn's sender joins them in the
// commit that marks the turn done, just after its reply is posted.
func (e *env) waitEditor(root, user string) {
	e.t.Helper()
	waitFor(e.t, user+" on the editors of the session "+root, func() bool {
		var report struct {
			Sessions []struct {
				Session tandem.SessionKey `json:"session"`
				Editors []struct {
					User string `json:"user"`
				} `json:"editors"`
			} `json:"sessions"`
		}
		if err := json.Unmarshal([]byte(e.op("sessions", "report", "--json")), &report); err != nil {
			e.t.Fatal(err)
		}
		for _, s := range report.Sessions {
			if s.Session.ThreadTS != root {
				continue
			}
			for _, ed := range s.Editors {
				if ed.User == user {
					return true
				}
			}
		}
		return false
	})
}
