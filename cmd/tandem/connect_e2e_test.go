package main

import (
	"strings"
	"testing"

	"github.com/tandembot/tandem"
	"github.com/tandembot/tandem/internal/fakeslack"
)

// TestConnectEachProviderFromTheFailedTurn: for every provider, a turn
// without a link gets "<Provider> credentials not configured" with a private
// button; following it links the sender's own account and the failed turn
// runs again by itself, as them.
func TestConnectEachProviderFromTheFailedTurn(t *testing.T) {
	e := newEnv(t)
	e.start()
	root, _ := e.mention("UCAROL", "help", "")
	e.reply(root, "Tandem runs every message")
	for _, c := range []struct {
		p       tandem.ProviderID
		command string
		login   string
		done    string
	}{
		{tandem.GitHub, "list my open PRs", "carol-gh", "open pull requests"},
		{tandem.GitLab, "list my open MRs", "carol-gl", "open merge request"},
		{tandem.Jira, "my jira issues", "carol@example.test", "open Jira issue"},
		{tandem.Google, "my meetings today", "carol@example.test", "meeting"},
	} {
		name := c.p.Name()
		e.mention("UCAROL", c.command, root)
		eph, err := e.slack.WaitForMessage(ctxFor(t), func(m fakeslack.Message) bool {
			return m.Method == "chat.postEphemeral" && m.User == "UCAROL" && strings.Contains(plain(m), name+" credentials not configured")
		})
		if err != nil {
			t.Fatalf("%s: no private 'not configured' reply: %v", name, err)
		}
		u := buttonURL(t, eph.Blocks, "/connect/"+string(c.p))
		if status, page := open(t, e.browser(c.login), u); status != 200 || !strings.Contains(page, name+" account "+c.login+" is now linked") {
			t.Fatalf("%s: connect: %d %s", name, status, page)
		}
		r := e.reply(root, "ran as <@UCAROL> · "+name+": "+c.login)
		if !strings.Contains(plain(r), c.done) {
			t.Errorf("%s: the re-run replied %s", name, plain(r))
		}
	}
}

// TestJiraSiteChoice: a Jira user with two sites works on the first after
// linking, sees the choice on the App Home, and switching it moves their
// turns to the other site.
func TestJiraSiteChoice(t *testing.T) {
	e := newEnv(t)
	e.jira.AddSite("cloud-labs-0002", "acme-labs", "")
	e.jira.AddSiteUser("cloud-labs-0002", "alice@example.test")
	e.jira.AddProject("cloud-labs-0002", "LAB", "Labs")
	e.start()
	e.connectTo("UALICE", tandem.Jira, "alice@example.test")
	if _, err := e.slack.SendEvent(ctxFor(t), e.slack.AppHomeOpenedEvent("UALICE")); err != nil {
		t.Fatal(err)
	}
	e.waitHome("UALICE", "on site *acme*")
	if !strings.Contains(e.homeText("UALICE"), "Choose site") {
		t.Fatalf("no site picker on the App Home: %s", e.homeText("UALICE"))
	}
	payload := e.slack.BlockActionsPayload(fakeslack.BlockActionSpec{UserID: "UALICE", ActionID: "home_site_jira"})
	action := payload["actions"].([]any)[0].(map[string]any)
	action["type"] = "static_select"
	action["selected_option"] = map[string]any{"value": "cloud-labs-0002", "text": map[string]any{"type": "plain_text", "text": "acme-labs"}}
	if _, err := e.slack.SendInteraction(ctxFor(t), payload); err != nil {
		t.Fatal(err)
	}
	e.waitHome("UALICE", "on site *acme-labs*")
	root, _ := e.mention("UALICE", "my jira issues", "")
	e.reply(root, "ran as <@UALICE> · Jira: alice@example.test")
	reqs := e.jira.Requests()
	if last := reqs[len(reqs)-1]; last.CloudID != "cloud-labs-0002" {
		t.Errorf("the turn ran on site %q, want the chosen cloud-labs-0002", last.CloudID)
	}
}
