package tandem

import "strings"

// Reply is what a command answers, free of any Slack type; the bot renders
// it as Block Kit with the attribution line of the turn.
type Reply struct {
	// Title is the first line ("3 open pull requests"), plain text: the bot
	// escapes it wherever it shows it, so it may carry a provider's text
	// as is.
	Title string `json:"title"`
	// Items is a list of results, each a line of text with an optional link.
	Items []Item `json:"items,omitempty"`
	// Total is how many results exist when Items shows only some of them.
	Total int `json:"total,omitempty"`
	// Text is free text shown under the title.
	Text string `json:"text,omitempty"`
	// Buttons are links or actions offered under the reply.
	Buttons []Button `json:"buttons,omitempty"`
}

// Item is one line of a list in a reply.
type Item struct {
	Text string `json:"text"`
	URL  string `json:"url,omitempty"`
	Note string `json:"note,omitempty"`
}

// Button is a link button, or an action when URL is empty.
type Button struct {
	Text     string `json:"text"`
	URL      string `json:"url,omitempty"`
	ActionID string `json:"action_id,omitempty"`
	Value    string `json:"value,omitempty"`
	Primary  bool   `json:"primary,omitempty"`
}

// mrkdwnEscaper escapes the three characters Slack's mrkdwn asks to escape.
var mrkdwnEscaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;")

// Escape makes text from people or providers safe inside Slack mrkdwn, so
// it can never become a mention, a link or a broadcast.
func Escape(s string) string { return mrkdwnEscaper.Replace(s) }
