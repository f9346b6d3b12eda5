package main

import (
	"fmt"
	"strings"
	"testing"

	"github.com/tandembot/tandem/internal/fakeslack"
)

// TestSessionReadinessFollowsTheMode: `@tandem session` reports and offers
// Connect buttons for the identity turns actually run as. Per-message, an
// editor missing an account is offered their own; persistent, only the
// owner's links matter, only the owner is offered buttons, and only when
// the owner or an editor asks.
func TestSessionReadinessFollowsTheMode(t *testing.T) {
	e := newEnv(t)
	e.start()
	e.connect("UALICE", "alice-gh")
	root, _ := e.mention("UALICE", "list my open PRs", "")
	e.reply(root, "ran as <@UALICE> · GitHub: alice-gh")
	e.ask("UALICE", "editors add <@UBOB>", root, "added <@UBOB>")

	// since returns the private messages (ephemeral or DM) sent from the
	// n-th message on; toBob counts those to Bob.
	private := func(m fakeslack.Message) bool {
		return m.Method == "chat.postEphemeral" || strings.HasPrefix(m.Channel, "D")
	}
	since := func(n int) []fakeslack.Message {
		var out []fakeslack.Message
		for _, m := range e.slack.Messages()[n:] {
			if private(m) {
				out = append(out, m)
			}
		}
		return out
	}
	// describe shows messages as a person would read them, for failures.
	describe := func(ms []fakeslack.Message) string {
		var out []string
		for _, m := range ms {
			out = append(out, fmt.Sprintf("%s to %s%s: %s", m.Method, m.User, m.Channel, plain(m)))
		}
		return fmt.Sprintf("%d: %s", len(ms), strings.Join(out, "\n"))
	}
	toBob := func(ms []fakeslack.Message) int {
		n := 0
		for _, m := range ms {
			if m.User == "UBOB" || m.Channel == "DUBOB" {
				n++
			}
		}
		return n
	}

	// Per-message: Bob acts as himself, so he is offered his own GitHub.
	mark := len(e.slack.Messages())
	view := plain(e.ask("UBOB", "session", root, "Mode: per-message"))
	for _, want := range []string{":warning: <@UBOB> — missing: GitHub", "1 of 2 editors ready"} {
		if !strings.Contains(view, want) {
			t.Errorf("per-message view lacks %q:\n%s", want, view)
		}
	}
	got := since(mark)
	if len(got) != 1 || got[0].Method != "chat.postEphemeral" || got[0].User != "UBOB" || !strings.Contains(plain(got[0]), "Each message here runs as its sender") {
		t.Fatalf("per-message private messages = %s\nwant one ephemeral offer to Bob", describe(got))
	}
	buttonURL(t, got[0].Blocks, "/connect/github")

	// Persistent: every turn runs as Alice, who is ready; Bob's own links do
	// not matter and nobody is prompted.
	e.setPersistent("UALICE", root, "UBOB")
	persistentFrom := len(e.slack.Messages())
	mark = persistentFrom
	view = plain(e.ask("UBOB", "session", root, "Mode: persistent: every turn runs as <@UALICE>"))
	for _, want := range []string{":white_check_mark: <@UALICE> (owner) — connected: GitHub", "<@UBOB> — acts as <@UALICE>", "Every turn runs as <@UALICE>, who is ready."} {
		if !strings.Contains(view, want) {
			t.Errorf("persistent view lacks %q:\n%s", want, view)
		}
	}
	for _, unwanted := range []string{"missing", "editors ready"} {
		if strings.Contains(view, unwanted) {
			t.Errorf("persistent view says %q:\n%s", unwanted, view)
		}
	}
	if got := since(mark); len(got) != 0 {
		t.Errorf("asking a ready persistent session sent private messages: %s", describe(got))
	}

	// Alice disconnects GitHub. Carol, not an editor, asks: she sees the
	// report, and nobody is prompted.
	if _, err := e.slack.SendSlashCommand(ctxFor(t), fakeslack.SlashCommand{Command: "/disconnect", Text: "github", UserID: "UALICE", ChannelID: channel}); err != nil {
		t.Fatalf("/disconnect: %v", err)
	}
	mark = len(e.slack.Messages())
	view = plain(e.ask("UCAROL", "session", root, "Every turn runs as <@UALICE>, who is not ready: connect GitHub."))
	if !strings.Contains(view, ":warning: <@UALICE> (owner) — missing: GitHub") {
		t.Errorf("persistent view lacks the owner's gap:\n%s", view)
	}
	if got := since(mark); len(got) != 0 {
		t.Errorf("a non-editor's question sent private messages: %s", describe(got))
	}

	// Bob, an editor, asks: only Alice is offered a Connect button, for her
	// own GitHub, with words true of persistent mode.
	mark = len(e.slack.Messages())
	e.ask("UBOB", "session", root, "who is not ready: connect GitHub")
	got = since(mark)
	if len(got) != 1 || got[0].Method != "chat.postEphemeral" || got[0].User != "UALICE" {
		t.Fatalf("private messages after Bob asked = %s\nwant one ephemeral to Alice", describe(got))
	}
	offer := plain(got[0])
	if !strings.Contains(offer, "Every turn in this session runs as you (persistent mode)") || !strings.Contains(offer, "Connect GitHub") || strings.Contains(offer, "Each message here runs as its sender") {
		t.Errorf("the owner's offer says:\n%s", offer)
	}
	if n := toBob(since(persistentFrom)); n != 0 {
		t.Errorf("Bob got %d private messages in persistent mode", n)
	}

	// The button is Alice's: it links her account, and the session is
	// ready again.
	status, page := open(t, e.browserAs("UALICE", "alice-gh"), buttonURL(t, got[0].Blocks, "/connect/github"))
	if status != 200 || !strings.Contains(page, "GitHub account alice-gh is now linked") {
		t.Fatalf("Alice's Connect button: status %d page %s", status, page)
	}
	mark = len(e.slack.Messages())
	e.ask("UBOB", "session", root, "Every turn runs as <@UALICE>, who is ready.")
	if got := since(mark); len(got) != 0 {
		t.Errorf("asking a ready persistent session sent private messages: %s", describe(got))
	}

	// Back to per-message: Bob is offered his own accounts again.
	e.ask("UALICE", "unset KEEP_CREDENTIALS_PERSISTENT", root, "every turn runs as its sender")
	mark = len(e.slack.Messages())
	e.ask("UALICE", "session", root, "1 of 2 editors ready")
	got = since(mark)
	if len(got) != 1 || got[0].User != "UBOB" || !strings.Contains(plain(got[0]), "Connect GitHub") {
		t.Errorf("per-message again: private messages = %s\nwant Bob's own Connect offer", describe(got))
	}
}
