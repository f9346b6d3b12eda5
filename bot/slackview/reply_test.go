package slackview

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/slack-go/slack"
	"github.com/tandembot/tandem"
)

func TestRenderStaysWithinSlackLimits(t *testing.T) {
	var items []tandem.Item
	for i := 0; i < 5000; i++ {
		items = append(items, tandem.Item{Text: fmt.Sprintf("org/repo#%d %s", i, strings.Repeat("long title ", 30)), URL: "https://example.test/pr/" + fmt.Sprint(i)})
	}
	blocks := Reply(tandem.Reply{Title: strings.Repeat("t", 5000), Items: items, Total: 7000}, "ran as <@U1>")
	if len(blocks) > MaxBlocks {
		t.Fatalf("Reply gave %d blocks, Slack allows %d", len(blocks), MaxBlocks)
	}
	shown := 0
	for _, b := range blocks {
		if s, ok := b.(*slack.SectionBlock); ok {
			if n := len(s.Text.Text); n > MaxSectionText {
				t.Errorf("section of %d characters, Slack allows %d", n, MaxSectionText)
			}
			shown += strings.Count(s.Text.Text, "• ")
		}
	}
	last := blocks[len(blocks)-1].(*slack.ContextBlock)
	if got := last.ContextElements.Elements[0].(*slack.TextBlockObject).Text; got != "ran as <@U1>" {
		t.Errorf("last block = %q, want the attribution line", got)
	}
	note := blocks[len(blocks)-2].(*slack.ContextBlock).ContextElements.Elements[0].(*slack.TextBlockObject).Text
	if want := fmt.Sprintf("Showing %d of 7000.", shown); note != want {
		t.Errorf("truncation note = %q, want %q", note, want)
	}
}

func TestRenderEscapesProviderText(t *testing.T) {
	blocks := Reply(tandem.Reply{Title: "<!channel> & co", Items: []tandem.Item{{Text: "a|b>c", URL: "https://x.test/1"}}}, "attr")
	raw, err := json.Marshal(blocks)
	if err != nil {
		t.Fatal(err)
	}
	got := string(raw)
	if strings.Contains(got, "<!channel>") {
		t.Errorf("title not escaped: %s", got)
	}
	if !strings.Contains(got, `\u003chttps://x.test/1|a¦b›c\u003e`) {
		t.Errorf("link text not made safe: %s", got)
	}
}
