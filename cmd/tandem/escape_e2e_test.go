package main

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/tandembot/tandem"
	"github.com/tandembot/tandem/internal/fakejira"
	"github.com/tandembot/tandem/internal/fakeslack"
)

// hostileTitle is a provider's text that is Slack markup: a broadcast, bold
// and a link with a label of its author's choosing.
const hostileTitle = "<!channel> *bold* <https://evil.example/reauth|x> & co"

// TestProviderTextIsEscapedInTheMessageText: a PR title and a Jira summary
// that are Slack markup reach the reply's top-level text (what notifications
// and clients without blocks show) escaped, as in its blocks, and escaped
// once: no broadcast, no link, and no &amp;lt; either.
func TestProviderTextIsEscapedInTheMessageText(t *testing.T) {
	e := newEnv(t)
	e.gh.AddRepo("acme/tools")
	e.gh.AddCollaborator("acme/tools", "alice-gh")
	n := e.gh.AddPullRequest("acme/tools", "bob-gh", hostileTitle, false)
	issue := e.jira.AddIssue(jiraSite, fakejira.Issue{Project: "OPS", Summary: hostileTitle, Assignee: "alice@example.test"})
	e.start()
	e.connectTo("UALICE", tandem.GitHub, "alice-gh")
	e.connectTo("UALICE", tandem.Jira, "alice@example.test")
	root, _ := e.mention("UALICE", "help", "")
	e.reply(root, "Tandem runs every message")

	const escaped = "&lt;!channel&gt; *bold* &lt;https://evil.example/reauth|x&gt; &amp; co"
	for _, s := range []struct{ name, ask, want string }{
		{"pull request status", fmt.Sprintf("status of acme/tools#%d", n), "Mergeable"},
		{"jira issue", "show " + issue, "Open in Jira"},
	} {
		r := e.ask("UALICE", s.ask, root, s.want)
		if !strings.Contains(r.Text, escaped) {
			t.Errorf("%s: message text %q, want the title escaped once: %q", s.name, r.Text, escaped)
		}
		head := firstSection(t, r)
		if !strings.Contains(head, escaped) {
			t.Errorf("%s: first block %q, want the title escaped once: %q", s.name, head, escaped)
		}
		for _, where := range []struct{ name, text string }{{"message text", r.Text}, {"first block", head}} {
			for _, bad := range []string{"<!channel>", "<https://evil", "&amp;lt;", "&amp;amp;"} {
				if strings.Contains(where.text, bad) {
					t.Errorf("%s: the %s carries %q: %q", s.name, where.name, bad, where.text)
				}
			}
		}
	}
}

// firstSection returns the mrkdwn text of a message's first section block.
func firstSection(t *testing.T, m fakeslack.Message) string {
	t.Helper()
	var blocks []struct {
		Type string `json:"type"`
		Text struct {
			Text string `json:"text"`
		} `json:"text"`
	}
	if err := json.Unmarshal(m.Blocks, &blocks); err != nil {
		t.Fatal(err)
	}
	for _, b := range blocks {
		if b.Type == "section" {
			return b.Text.Text
		}
	}
	t.Fatalf("no section block in %s", m.Blocks)
	return ""
}
