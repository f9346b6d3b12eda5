package bot

import (
	"context"
	"strings"
	"testing"

	"github.com/slack-go/slack"
	"github.com/tandembot/tandem"
	"github.com/tandembot/tandem/bot/slackview"
	"github.com/tandembot/tandem/turns"
)

// TestRefusalRepliesDoNotPostSlackMarkupFromTheSender: a refusal that quotes
// what the sender typed is posted by postReply's default case as
// Reply{Title: slackview.ErrorTitle(err), Text: tandem.ErrorMessage(err)}, and render
// does not escape Reply.Text (other messages carry <@user> mentions on
// purpose). So the quoted text must arrive escaped, or the bot itself posts
// the sender's @channel/@here pings and links with a label of their choosing
// (a fake "Reconnect GitHub" link in Tandem's voice). Anyone who can mention
// the bot, and any API key, reaches the Parse refusal.
func TestRefusalRepliesDoNotPostSlackMarkupFromTheSender(t *testing.T) {
	_, setErr := turns.New(turns.Config{}).SetVar(context.Background(), tandem.Turn{}, tandem.Session{}, tandem.EnvKeepCredentialsPersistent, "<!channel>")
	refusals := map[string]error{"set KEEP_CREDENTIALS_PERSISTENT=<!channel>": setErr}
	for _, text := range []string{
		"<!channel>",
		"<!here>",
		"<https://evil.example/reauth|Reconnect_GitHub>",
		"comment on <!everyone> please",
	} {
		refusals[text] = testOperations.Parse(text).Err()
	}
	for typed, err := range refusals {
		if tandem.ErrorCode(err) != tandem.EINVALID {
			t.Fatalf("%q: got %v, want an EINVALID refusal", typed, err)
		}
		// What postReply posts for it (bot/reply.go, default case).
		reply := tandem.Reply{Title: slackview.ErrorTitle(err), Text: tandem.ErrorMessage(err)}
		posted := []string{reply.Title + ": " + reply.Text} // the notification text
		for _, b := range slackview.Reply(reply, "ran as <@U1>") {
			if s, ok := b.(*slack.SectionBlock); ok {
				posted = append(posted, s.Text.Text)
			}
		}
		for _, p := range posted {
			for _, markup := range []string{"<!channel>", "<!here>", "<!everyone>", "<https://evil.example"} {
				if strings.Contains(p, markup) {
					t.Errorf("%q: the bot would post %s as Slack markup: %q", typed, markup, p)
				}
			}
		}
	}
}
