package bot

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/slack-go/slack"
	"github.com/tandembot/tandem"
	"github.com/tandembot/tandem/turns"
)

// Slack's message limits (slack-platform-facts.md).
const (
	maxBlocks      = 50
	maxSectionText = 3000
	maxButtons     = 5
)

// attribution is the line every reply carries: whose Slack identity the
// turn ran as and which provider account it used.
func attribution(res turns.Result, sender string) string {
	if res.ViaKey != "" {
		who := fmt.Sprintf("via API key %s of <@%s>", escape(res.ViaKey), sender)
		if res.Identity != nil && res.Identity.Provider != "" {
			who += fmt.Sprintf(" · %s: %s", res.Identity.Provider.Name(), escape(res.Identity.Login))
		}
		return who
	}
	if res.Identity == nil {
		user := sender
		if res.Session.Persistent() && res.Session.Owner != "" {
			return fmt.Sprintf("ran as <@%s> (persistent session)", res.Session.Owner)
		}
		return fmt.Sprintf("ran as <@%s>", user)
	}
	id := res.Identity
	who := fmt.Sprintf("ran as <@%s>", id.SlackUser)
	if id.Reason == tandem.ReasonPersistentOwner {
		who += " (persistent session)"
	}
	if id.Provider == "" {
		return who
	}
	return fmt.Sprintf("%s · %s: %s", who, id.Provider.Name(), escape(id.Login))
}

// render turns a reply into Block Kit within Slack's limits, truncating a
// long list and saying how many results exist in all.
func render(r tandem.Reply, attr string) []slack.Block {
	var blocks []slack.Block
	head := "*" + escape(r.Title) + "*"
	if r.Text != "" {
		head += "\n" + r.Text
	}
	blocks = append(blocks, section(clip(head, maxSectionText)))

	// Room for the items: leave space for the buttons, the truncation note
	// and the attribution line.
	room := maxBlocks - len(blocks) - 3
	var cur strings.Builder
	shown := 0
	for _, it := range r.Items {
		line := "• " + itemText(it)
		line = clip(line, maxSectionText)
		if cur.Len()+len(line)+1 > maxSectionText {
			if room == 1 {
				break
			}
			blocks = append(blocks, section(cur.String()))
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
		blocks = append(blocks, section(cur.String()))
	}
	total := max(r.Total, len(r.Items))
	if shown < total && len(r.Items) > 0 {
		blocks = append(blocks, slack.NewContextBlock("", slack.NewTextBlockObject(slack.MarkdownType, fmt.Sprintf("Showing %d of %d.", shown, total), false, false)))
	}
	if len(r.Buttons) > 0 {
		blocks = append(blocks, buttons(r.Buttons))
	}
	blocks = append(blocks, slack.NewContextBlock("attribution", slack.NewTextBlockObject(slack.MarkdownType, attr, false, false)))
	return blocks
}

func itemText(it tandem.Item) string {
	text := it.Text
	if it.URL != "" {
		text = "<" + it.URL + "|" + strings.NewReplacer("|", "¦", ">", "›").Replace(it.Text) + ">"
	}
	if it.Note != "" {
		text += "  _" + it.Note + "_"
	}
	return text
}

func section(text string) slack.Block {
	return slack.NewSectionBlock(slack.NewTextBlockObject(slack.MarkdownType, text, false, false), nil, nil)
}

func buttons(bs []tandem.Button) slack.Block {
	var els []slack.BlockElement
	for i, b := range bs {
		if i == maxButtons {
			break
		}
		id := b.ActionID
		if id == "" {
			id = fmt.Sprintf("link_%d", i)
		}
		btn := slack.NewButtonBlockElement(id, b.Value, slack.NewTextBlockObject(slack.PlainTextType, clip(b.Text, 75), false, false))
		btn.URL = b.URL
		if b.Primary {
			btn.Style = slack.StylePrimary
		}
		els = append(els, btn)
	}
	return slack.NewActionBlock("", els...)
}

// clip shortens s to at most n bytes on a rune boundary, marking the cut.
func clip(s string, n int) string {
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
