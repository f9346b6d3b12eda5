// Package slackview turns Tandem's replies and view models into Slack
// Block Kit: messages within Slack's limits, the App Home, the modals and
// the consent buttons. It builds blocks only; bot sends them and decodes
// what comes back, through the ids declared here.
package slackview

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/slack-go/slack"
	"github.com/tandembot/tandem"
)

// Slack's message limits (slack-platform-facts.md).
const (
	MaxBlocks      = 50
	MaxSectionText = 3000
	MaxButtons     = 5
)

// Reply turns a reply into Block Kit within Slack's limits, truncating a
// long list and saying how many results exist in all; attr is the
// attribution line it ends with. ShowsWhole says whether it had to.
func Reply(r tandem.Reply, attr string) []slack.Block {
	blocks, _ := reply(r, attr)
	return blocks
}

// ShowsWhole reports whether Reply shows every item of r whole: none
// clipped to fit a section, none left out for want of blocks. A list that
// someone confirms must pass it, since Reply would otherwise show them
// less than they confirm.
func ShowsWhole(r tandem.Reply) bool {
	_, whole := reply(r, "")
	return whole
}

func reply(r tandem.Reply, attr string) (blocks []slack.Block, whole bool) {
	head := "*" + escape(r.Title) + "*"
	if r.Text != "" {
		head += "\n" + r.Text
	}
	blocks = append(blocks, Section(Clip(head, MaxSectionText)))

	// Room for the items: leave space for the buttons, the truncation note
	// and the attribution line.
	room := MaxBlocks - len(blocks) - 3
	var cur strings.Builder
	shown := 0
	whole = true
	for _, it := range r.Items {
		line := "• " + itemText(it)
		if len(line) > MaxSectionText {
			line, whole = Clip(line, MaxSectionText), false
		}
		if cur.Len()+len(line)+1 > MaxSectionText {
			if room == 1 {
				break
			}
			blocks = append(blocks, Section(cur.String()))
			room--
			cur.Reset()
		}
		if cur.Len() > 0 {
			cur.WriteByte('\n')
		}
		cur.WriteString(line)
		shown++
	}
	if cur.Len() > 0 {
		blocks = append(blocks, Section(cur.String()))
	}
	total := max(r.Total, len(r.Items))
	if shown < len(r.Items) {
		whole = false
	}
	if shown < total && len(r.Items) > 0 {
		blocks = append(blocks, slack.NewContextBlock("", slack.NewTextBlockObject(slack.MarkdownType, fmt.Sprintf("Showing %d of %d.", shown, total), false, false)))
	}
	if len(r.Buttons) > 0 {
		blocks = append(blocks, buttons(r.Buttons))
	}
	blocks = append(blocks, slack.NewContextBlock("attribution", slack.NewTextBlockObject(slack.MarkdownType, attr, false, false)))
	return blocks, whole
}

// Sections turns mrkdwn text into as few sections as hold it, split at
// line breaks, each within MaxSectionText: a line that fits a section is
// never cut. Only a line longer than a section is clipped, and text past
// MaxBlocks sections is left out, the last section ending in "…".
func Sections(text string) []slack.Block {
	var blocks []slack.Block
	var cur strings.Builder
	for _, line := range strings.Split(text, "\n") {
		line = Clip(line, MaxSectionText)
		if cur.Len() > 0 && cur.Len()+1+len(line) > MaxSectionText {
			if len(blocks) == MaxBlocks-1 {
				return append(blocks, Section(Clip(cur.String()+"\n…", MaxSectionText)))
			}
			blocks = append(blocks, Section(cur.String()))
			cur.Reset()
		}
		if cur.Len() > 0 {
			cur.WriteByte('\n')
		}
		cur.WriteString(line)
	}
	return append(blocks, Section(cur.String()))
}

// linkLabel keeps a link's label from ending the link early: Slack's
// "<url|label>" ends at the first "|" or ">" after the url.
var linkLabel = strings.NewReplacer("|", "¦", ">", "›")

func itemText(it tandem.Item) string {
	text := it.Text
	if it.URL != "" {
		text = "<" + it.URL + "|" + linkLabel.Replace(it.Text) + ">"
	}
	if it.Note != "" {
		text += "  _" + it.Note + "_"
	}
	return text
}

// Section returns a section block of mrkdwn text.
func Section(text string) slack.Block {
	return slack.NewSectionBlock(slack.NewTextBlockObject(slack.MarkdownType, text, false, false), nil, nil)
}

func buttons(bs []tandem.Button) slack.Block {
	var els []slack.BlockElement
	for i, b := range bs {
		if i == MaxButtons {
			break
		}
		id := b.ActionID
		if id == "" {
			id = fmt.Sprintf("link_%d", i)
		}
		btn := slack.NewButtonBlockElement(id, b.Value, plain(Clip(b.Text, 75)))
		btn.URL = b.URL
		if b.Primary {
			btn.Style = slack.StylePrimary
		}
		els = append(els, btn)
	}
	return slack.NewActionBlock("", els...)
}

// plain returns a plain-text object.
func plain(s string) *slack.TextBlockObject {
	return slack.NewTextBlockObject(slack.PlainTextType, s, false, false)
}

// Clip shortens s to at most n bytes on a rune boundary, marking the cut.
func Clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n - len("…")
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

// escape makes text safe inside Slack mrkdwn: &, < and > are the only
// characters Slack asks to escape.
func escape(s string) string { return tandem.Escape(s) }
