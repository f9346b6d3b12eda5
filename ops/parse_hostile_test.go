package ops_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/tandembot/tandem"
	"github.com/tandembot/tandem/ops"
)

// parseRefuses fails t unless Parse(text) returns an error (a person-safe
// EINVALID or an *ops.UnknownError with suggestions) and no command.
func parseRefuses(t *testing.T, name, text string) {
	t.Helper()
	cmd, err := Parse(text)
	if err == nil {
		t.Errorf("%s: Parse accepted it as %q", name, cmd.Name)
		return
	}
	if cmd.Name != "" {
		t.Errorf("%s: Parse returned both %q and an error", name, cmd.Name)
	}
	var unknown *ops.UnknownError
	switch {
	case errors.As(err, &unknown):
		if len(unknown.Suggestions) == 0 {
			t.Errorf("%s: unknown command without suggestions", name)
		}
	case tandem.ErrorCode(err) == tandem.EINVALID:
	default:
		t.Errorf("%s: Parse failed with %v, want EINVALID or *ops.UnknownError", name, err)
	}
}

func TestParseHostileLargeInputs(t *testing.T) {
	const mb = 1 << 20
	for name, text := range map[string]string{
		"1 MB of one word":              strings.Repeat("a", mb),
		"1 MB of a command":             strings.Repeat("list my open PRs ", mb/17),
		"1 MB that starts as a command": "create issue in acme/tools " + strings.Repeat("title ", mb/6),
		"1 MB of NUL bytes":             strings.Repeat("\x00", mb),
		"1 MB of spaces":                strings.Repeat(" ", mb),
		"1 MB of invalid UTF-8":         strings.Repeat("\xff", mb),
		"1 MB of zero-width spaces":     strings.Repeat("\u200b", mb/3),
		"1 MB of pattern syntax":        strings.Repeat("[(|)]{text}", mb/11),
		"one byte over the limit":       strings.Repeat("a", ops.MaxCommandBytes+1),
		"a long word over the limit":    "comment on acme/tools#1 " + strings.Repeat("x", ops.MaxCommandBytes),
	} {
		parseRefuses(t, name, text)
		if _, err := Parse(text); tandem.ErrorCode(err) != tandem.EINVALID {
			t.Errorf("%s: got %v, want EINVALID for input over %d bytes", name, err, ops.MaxCommandBytes)
		}
	}
}

func TestParseHostileThousandsOfWords(t *testing.T) {
	// Each is under ops.MaxCommandBytes, so the whole matcher and the
	// suggestions run on it.
	for name, text := range map[string]string{
		"2000 one-letter words":          strings.Repeat("a ", 1999),
		"a command's words repeated":     strings.Repeat("list my open ", 300),
		"optional words repeated":        strings.Repeat("show me my open ", 240) + "prs",
		"a command with 1000 extra PRs":  "list my open " + strings.Repeat("PRs ", 990),
		"please repeated":                strings.Repeat("please ", 570),
		"search for for for":             "search " + strings.Repeat("for ", 990),
		"arguments everywhere":           strings.Repeat("acme/tools#1 OPS-12 group/p!3 ", 130),
		"mentions everywhere":            strings.Repeat("<@U0123|x> ", 360),
		"bad argument then many words":   "comment on acme/tools#x " + strings.Repeat("hi ", 1300),
		"commit with too many words":     "commit " + strings.Repeat("a/b ", 990) + "to acme/tools",
		"move with no issue":             "move " + strings.Repeat("to ", 1300),
		"questions marks":                strings.Repeat("? ", 1999),
		"unicode words":                  strings.Repeat("é ", 1300),
		"2-byte runes without spaces":    strings.Repeat("é", 1999),
		"4-byte runes without spaces":    strings.Repeat("\U0001F600", 999),
		"kelvin signs (fold to k)":       strings.Repeat("\u212a ", 999),
		"zero-width joiners between all": strings.Repeat("a\u200d ", 799),
	} {
		if len(text) > ops.MaxCommandBytes {
			t.Fatalf("%s: %d bytes, the test wants inputs under the limit", name, len(text))
		}
		parseRefuses(t, name, text)
	}
}

func TestParseHostileInvisibleAndControlCharacters(t *testing.T) {
	for name, text := range map[string]string{
		"NUL between words":          "list\x00my\x00open\x00PRs",
		"NUL at the end":             "list my open PRs\x00",
		"NUL only":                   "\x00",
		"NUL after please":           "please\x00 help",
		"zero-width space inside":    "list\u200bmy open PRs",
		"zero-width joiner in word":  "wh\u200doami",
		"zero-width non-joiner":      "he\u200clp",
		"word joiner":                "help\u2060",
		"BOM first":                  "\ufeffhelp",
		"RTL override around":        "\u202ehelp\u202c",
		"RTL isolate around a ref":   "status of \u2067acme/tools#12\u2069",
		"LTR mark in a key":          "show OPS\u200e-12",
		"RTL mark in a repo":         "create issue in acme\u200f/tools Title",
		"arabic letter mark":         "who\u061c am i",
		"soft hyphen":                "who\u00adami",
		"combining mark on a letter": "he\u0301lp",
		"fullwidth letters":          "ｈｅｌｐ",
		"homoglyph (cyrillic a)":     "st\u0430tus of acme/tools#12",
		"escape sequence":            "\x1b[31mhelp\x1b[0m",
		"backspaces":                 "helx\bp",
		"invalid UTF-8 in a word":    "list my \xff PRs",
		"truncated rune":             "help\xe2\x80",
		"surrogate half (CESU-8)":    "help\xed\xa0\x80",
	} {
		parseRefuses(t, name, text)
	}
}

// BenchmarkParseLongUnknown measures the worst case found by FuzzParse: a
// message near ops.MaxCommandBytes that is no command. The time goes into
// suggest, which computes an edit distance between the whole message and
// every command's example (see docs/fuzzing.md).
func BenchmarkParseLongUnknown(b *testing.B) {
	text := strings.Repeat("list my open ", 300)
	for b.Loop() {
		Parse(text)
	}
}

// TestParseRefusalEscapesAndBoundsTheEcho: the "is not …" refusal quotes the
// offending word back, and the bot posts that message as Slack mrkdwn
// (bot/reply.go, default case: Text is not escaped, on purpose, since other
// messages carry <@user> mentions). So the echoed word must be escaped the
// way handlers escape every other outside text (escape in args.go), or
// anyone who can mention the bot makes it post @channel/@here pings and
// links with a label of their choosing; and it must be bounded, not the
// whole 4000-byte message.
func TestParseRefusalEscapesAndBoundsTheEcho(t *testing.T) {
	for _, text := range []string{
		"<!channel>",
		"<!here|here>",
		"<!subteam^S0123|@oncall>",
		"<https://evil.example/reauth|Reconnect_GitHub>",
		"comment on <!everyone> hi",
		"create issue in <@U0BOSS> Title",
		"status of <#C0123|general>",
		strings.Repeat("x", ops.MaxCommandBytes-10),
		strings.Repeat("é", 1999),
	} {
		_, err := Parse(text)
		if tandem.ErrorCode(err) != tandem.EINVALID {
			t.Errorf("Parse(%.40q) = %v, want an EINVALID refusal", text, err)
			continue
		}
		msg := tandem.ErrorMessage(err)
		if strings.ContainsAny(msg, "<>") {
			t.Errorf("Parse(%.40q): the refusal passes Slack markup through: %.200q", text, msg)
		}
		if len(msg) > 300 {
			t.Errorf("Parse(%.40q): the refusal is %d bytes; it echoes the whole input", text, len(msg))
		}
	}
}
