package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/tandembot/tandem/internal/fakeslack"
)

// homeText is what the user's App Home tab says now.
func (e *env) homeText(user string) string {
	raw, ok := e.slack.HomeView(user)
	if !ok {
		return ""
	}
	var view struct {
		Blocks json.RawMessage `json:"blocks"`
	}
	json.Unmarshal(raw, &view)
	return plain(fakeslack.Message{Blocks: view.Blocks})
}

func (e *env) waitHome(user, want string) {
	e.t.Helper()
	waitFor(e.t, "App Home showing "+want, func() bool { return strings.Contains(e.homeText(user), want) })
}

// TestIntegrationsPageFollowsTheLink: the App Home tab shows the link after
// connecting, "needs reconnect" after GitHub refuses the token (with one DM
// and a Reconnect button in the thread), and nothing after disconnecting,
// which revokes the grant at GitHub.
func TestIntegrationsPageFollowsTheLink(t *testing.T) {
	e := newEnv(t)
	e.start()
	if _, err := e.slack.SendEvent(ctxFor(t), e.slack.AppHomeOpenedEvent("UALICE")); err != nil {
		t.Fatal(err)
	}
	e.waitHome("UALICE", "*GitHub*\nNot connected")

	e.connect("UALICE", "alice-gh")
	e.waitHome("UALICE", "Connected as *alice-gh*")
	if !strings.Contains(e.homeText("UALICE"), "Disconnect") {
		t.Errorf("home has no Disconnect button: %s", e.homeText("UALICE"))
	}

	// GitHub revokes the grant: the next turn says so, and the page follows.
	e.gh.RevokeGrant("alice-gh")
	root, _ := e.mention("UALICE", "list my open PRs", "")
	eph, err := e.slack.WaitForMessage(ctxFor(t), func(m fakeslack.Message) bool {
		return m.Method == "chat.postEphemeral" && m.User == "UALICE" && strings.Contains(plain(m), "GitHub credentials expired or revoked")
	})
	if err != nil {
		t.Fatalf("no private 'expired or revoked' reply: %v", err)
	}
	if !strings.Contains(plain(eph), "Reconnect GitHub") {
		t.Errorf("the reply has no Reconnect button: %s", plain(eph))
	}
	e.reply(root, "GitHub credentials expired or revoked")
	e.waitHome("UALICE", "Needs reconnect")
	dms := e.count(func(m fakeslack.Message) bool {
		return m.Channel == "DUALICE" && strings.Contains(m.Text, "expired or revoked")
	})
	// A second turn does not DM again.
	e.mention("UALICE", "list my open PRs", root)
	waitFor(t, "second expired reply", func() bool {
		return e.count(func(m fakeslack.Message) bool {
			return m.ThreadTS == root && m.Method == "chat.postMessage" && strings.Contains(plain(m), "expired or revoked")
		}) == 2
	})
	if after := e.count(func(m fakeslack.Message) bool {
		return m.Channel == "DUALICE" && strings.Contains(m.Text, "expired or revoked")
	}); dms != 1 || after != 1 {
		t.Errorf("needs-reconnect DMs: %d then %d, want exactly one", dms, after)
	}

	// Reconnecting heals it; disconnecting from the page revokes at GitHub.
	e.connect("UALICE", "alice-gh")
	e.waitHome("UALICE", "Connected as *alice-gh*")
	tok := e.lastToken("alice-gh")
	payload := e.slack.BlockActionsPayload(fakeslack.BlockActionSpec{UserID: "UALICE", ActionID: "home_disconnect_github", Value: "github"})
	if _, err := e.slack.SendInteraction(ctxFor(t), payload); err != nil {
		t.Fatal(err)
	}
	e.waitHome("UALICE", "*GitHub*\nNot connected")
	if !e.gh.Revoked(tok) {
		t.Errorf("disconnect did not revoke the grant at GitHub; logs:\n%s", e.logs.String())
	}
	ack, err := e.slack.SendSlashCommand(ctxFor(t), fakeslack.SlashCommand{Command: "/disconnect", Text: "github", UserID: "UALICE", ChannelID: channel})
	if err != nil || !strings.Contains(string(ack), "GitHub was not connected") {
		t.Errorf("/disconnect after disconnecting: %s %v", ack, err)
	}
}

// lastToken is the newest token the fake GitHub saw for login.
func (e *env) lastToken(login string) string {
	reqs := e.gh.Requests()
	for i := len(reqs) - 1; i >= 0; i-- {
		if reqs[i].Login == login && reqs[i].Token != "" {
			return reqs[i].Token
		}
	}
	e.t.Fatalf("GitHub saw no request from %s", login)
	return ""
}
