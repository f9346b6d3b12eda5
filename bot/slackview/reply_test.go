package slackview

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
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

// TestShowsWholeSaysWhenAnItemIsCutOrLeftOut: a list someone confirms is
// checked with ShowsWhole, so it must say no whenever Reply would clip an
// item or leave one out, and yes when Reply shows each in full.
func TestShowsWholeSaysWhenAnItemIsCutOrLeftOut(t *testing.T) {
	item := func(n int) tandem.Item { return tandem.Item{Text: strings.Repeat("x", n)} }
	items := func(count, n int) []tandem.Item {
		var out []tandem.Item
		for range count {
			out = append(out, item(n))
		}
		return out
	}
	// 3,223 bytes of text full of "<", escaped as a proposal card does.
	hidden := "LGTM" + strings.Repeat(" <", 1600) + "TAIL-HIDDEN-PAYLOAD"
	fill := MaxSectionText - len("• ")
	for _, tc := range []struct {
		name  string
		items []tandem.Item
		want  bool
	}{
		{"an item that fills its section", []tandem.Item{item(fill)}, true},
		{"an item a byte too long", []tandem.Item{item(fill + 1)}, false},
		{"an escaped 3,223-byte text full of <", []tandem.Item{{Text: tandem.Escape(hidden)}}, false},
		{"the same text unescaped", []tandem.Item{{Text: hidden}}, false},
		{"a section each, as many as fit", items(MaxBlocks-4, 2000), true},
		{"a section each, one too many", items(MaxBlocks-3, 2000), false},
		{"many short items sharing sections", items(1000, 10), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := tandem.Reply{Title: "Answer", Items: tc.items, Buttons: []tandem.Button{{Text: "Do it", ActionID: "do"}}}
			got := ShowsWhole(r)
			if got != tc.want {
				t.Errorf("ShowsWhole = %v, want %v", got, tc.want)
			}
			// Whatever it says must be what Reply does: every item's text,
			// uncut, in the sections.
			var shown strings.Builder
			for _, b := range Reply(r, "attr") {
				if s, ok := b.(*slack.SectionBlock); ok {
					shown.WriteString(s.Text.Text + "\n")
				}
			}
			whole := strings.Count(shown.String(), "• ") == len(tc.items) && !strings.Contains(shown.String(), "…")
			for _, it := range tc.items {
				whole = whole && strings.Contains(shown.String(), "• "+it.Text+"\n")
			}
			if whole != got {
				t.Errorf("ShowsWhole = %v, but Reply shows every item whole: %v", got, whole)
			}
		})
	}
}

// TestSectionsKeepEachLineThatFitsWhole: the text of an answered card is
// split at line breaks, never inside a line that fits a section, within
// Slack's limits.
func TestSectionsKeepEachLineThatFitsWhole(t *testing.T) {
	lines := []string{"Confirmed by <@U1>: making the changes…"}
	for i := range 5 {
		lines = append(lines, fmt.Sprintf("• change %d: %s", i, strings.Repeat("&lt;", 700)))
	}
	blocks := Sections(strings.Join(lines, "\n"))
	var got []string
	for _, b := range blocks {
		text := b.(*slack.SectionBlock).Text.Text
		if len(text) > MaxSectionText {
			t.Errorf("a section of %d bytes; Slack allows %d", len(text), MaxSectionText)
		}
		got = append(got, strings.Split(text, "\n")...)
	}
	if diff := cmp.Diff(got, lines); diff != "" {
		t.Errorf("lines across the sections (-got +want):\n%s", diff)
	}

	blocks = Sections(strings.Repeat(strings.Repeat("y", 2000)+"\n", 2*MaxBlocks))
	if len(blocks) != MaxBlocks {
		t.Fatalf("%d sections for %d lines of 2,000 bytes; want Slack's %d at most", len(blocks), 2*MaxBlocks, MaxBlocks)
	}
	if last := blocks[len(blocks)-1].(*slack.SectionBlock).Text.Text; !strings.HasSuffix(last, "…") {
		t.Errorf("the last section of text cut short ends %q; want …", last[max(0, len(last)-10):])
	}
}
