package main

import (
	"encoding/json"
	"fmt"
	"html"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"
)

// kitControl is an interactive element the console shows as [n: label]:
// a button (with a URL or an action) or a select menu.
type kitControl struct {
	Kind     string // "button", "static_select", "radio_buttons", …
	Label    string
	URL      string
	ActionID string
	BlockID  string
	Value    string
	Confirm  string // the confirmation dialog's title, if any
	Options  []kitOption
	Path     string // block and element index, stable for one message
}

// kitOption is one choice of a select menu or radio buttons.
type kitOption struct {
	Value, Text string
	Initial     bool
}

// kitRenderer turns Block Kit and mrkdwn into terminal text.
type kitRenderer struct {
	// name gives the display name of a user id (<@U…>); nil shows the id.
	name func(id string) string
	// control numbers an interactive element; nil numbers them 1, 2, … in
	// the order rendered.
	control func(kitControl) int
	// color adds ANSI styles (bold, dim).
	color bool

	next int
}

const (
	kitBold   = "\x1b[1m"
	kitDim    = "\x1b[2m"
	kitItalic = "\x1b[3m"
	kitCyan   = "\x1b[36m"
	kitYellow = "\x1b[33m"
	kitRed    = "\x1b[31m"
	kitGreen  = "\x1b[32m"
	kitReset  = "\x1b[0m"
)

func (r *kitRenderer) style(code, s string) string {
	if !r.color || s == "" {
		return s
	}
	return code + s + kitReset
}

var kitANSIRe = regexp.MustCompile(`\x1b\[[0-9;]*m`)

// kitStripANSI removes terminal styles, for expect lines and tests.
func kitStripANSI(s string) string { return kitANSIRe.ReplaceAllString(s, "") }

// blocks renders a list of blocks as lines. Text falls back on fallback
// when there are no blocks.
func (r *kitRenderer) blocks(raw json.RawMessage, fallback string) []string {
	var list []any
	if len(raw) > 0 {
		json.Unmarshal(raw, &list)
	}
	if len(list) == 0 {
		return r.lines(r.mrkdwn(fallback))
	}
	var out []string
	for i, b := range list {
		bm, ok := b.(map[string]any)
		if !ok {
			continue
		}
		out = append(out, r.block(bm, i)...)
	}
	return out
}

func (r *kitRenderer) lines(s string) []string {
	s = strings.Trim(s, "\n")
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

func kitStr(v any) string {
	s, _ := v.(string)
	return s
}

func kitArr(v any) []any {
	a, _ := v.([]any)
	return a
}

func kitObj(v any) map[string]any {
	m, _ := v.(map[string]any)
	return m
}

// block renders one block; i is its index, for stable control numbers.
func (r *kitRenderer) block(b map[string]any, i int) []string {
	blockID := kitStr(b["block_id"])
	switch kitStr(b["type"]) {
	case "section":
		out := r.lines(r.textObject(b["text"]))
		for _, f := range kitArr(b["fields"]) {
			out = append(out, r.lines(r.textObject(f))...)
		}
		if acc := kitObj(b["accessory"]); acc != nil {
			if s := r.element(acc, blockID, fmt.Sprintf("%d/a", i)); s != "" {
				out = append(out, s)
			}
		}
		return out
	case "header":
		return []string{r.style(kitBold, strings.ToUpper(r.textObject(b["text"])))}
	case "divider":
		return []string{r.style(kitDim, strings.Repeat("─", 24))}
	case "context":
		var parts []string
		for _, el := range kitArr(b["elements"]) {
			e := kitObj(el)
			switch kitStr(e["type"]) {
			case "image":
				if alt := kitStr(e["alt_text"]); alt != "" {
					parts = append(parts, "["+alt+"]")
				}
			default:
				if t := r.textObject(e); t != "" {
					parts = append(parts, t)
				}
			}
		}
		if len(parts) == 0 {
			return nil
		}
		return []string{r.style(kitDim, "· "+strings.ReplaceAll(strings.Join(parts, "  "), "\n", " "))}
	case "actions":
		var parts []string
		for j, el := range kitArr(b["elements"]) {
			if s := r.element(kitObj(el), blockID, fmt.Sprintf("%d/%d", i, j)); s != "" {
				parts = append(parts, s)
			}
		}
		if len(parts) == 0 {
			return nil
		}
		return []string{strings.Join(parts, "  ")}
	case "input":
		label := r.textObject(b["label"])
		el := kitObj(b["element"])
		head := r.style(kitBold, label) + " (" + blockID + ")"
		switch kitStr(el["type"]) {
		case "radio_buttons", "checkboxes":
			out := []string{head + ":"}
			initial := kitStr(kitObj(el["initial_option"])["value"])
			for k, o := range kitArr(el["options"]) {
				om := kitObj(o)
				mark := "○"
				if kitStr(om["value"]) == initial {
					mark = "●"
				}
				out = append(out, fmt.Sprintf("  %s %d. %s", mark, k+1, r.textObject(om["text"])))
			}
			return out
		case "static_select":
			return []string{head + ": " + r.optionList(el)}
		default:
			ph := r.textObject(el["placeholder"])
			if ph != "" {
				ph = " e.g. " + ph
			}
			return []string{head + ": ____" + r.style(kitDim, ph)}
		}
	case "rich_text":
		var sb strings.Builder
		var walk func(v any)
		walk = func(v any) {
			m := kitObj(v)
			switch kitStr(m["type"]) {
			case "text":
				sb.WriteString(kitStr(m["text"]))
				return
			case "user":
				sb.WriteString("@" + r.userName(kitStr(m["user_id"])))
				return
			case "link":
				if t := kitStr(m["text"]); t != "" {
					sb.WriteString(t)
				} else {
					sb.WriteString(kitStr(m["url"]))
				}
				return
			}
			for _, c := range kitArr(m["elements"]) {
				walk(c)
			}
		}
		walk(b)
		return r.lines(sb.String())
	case "image":
		return []string{"[image: " + kitStr(b["alt_text"]) + "]"}
	}
	return nil
}

// element renders an interactive element and registers it.
func (r *kitRenderer) element(e map[string]any, blockID, path string) string {
	typ := kitStr(e["type"])
	c := kitControl{Kind: typ, ActionID: kitStr(e["action_id"]), BlockID: blockID, Value: kitStr(e["value"]), URL: kitStr(e["url"]), Path: path}
	switch typ {
	case "button":
		c.Label = r.textObject(e["text"])
		if cf := kitObj(e["confirm"]); cf != nil {
			c.Confirm = r.textObject(cf["title"])
		}
	case "static_select", "radio_buttons", "overflow":
		c.Label = r.textObject(e["placeholder"])
		initial := kitStr(kitObj(e["initial_option"])["value"])
		for _, o := range kitArr(e["options"]) {
			om := kitObj(o)
			c.Options = append(c.Options, kitOption{Value: kitStr(om["value"]), Text: r.textObject(om["text"]), Initial: kitStr(om["value"]) == initial})
		}
	case "image":
		return "[image: " + kitStr(e["alt_text"]) + "]"
	default:
		return ""
	}
	n := r.number(c)
	switch typ {
	case "button":
		label := c.Label
		switch kitStr(e["style"]) {
		case "primary":
			label = r.style(kitGreen, label)
		case "danger":
			label = r.style(kitRed, label)
		}
		return fmt.Sprintf("[%d: %s]", n, label)
	default:
		head := c.Label
		if head == "" {
			head = "choose"
		}
		return fmt.Sprintf("[%d: %s ▾ %s]", n, head, r.optionList(e))
	}
}

func (r *kitRenderer) number(c kitControl) int {
	if r.control != nil {
		return r.control(c)
	}
	r.next++
	return r.next
}

// optionList shows a select's options, the initial one starred.
func (r *kitRenderer) optionList(e map[string]any) string {
	initial := kitStr(kitObj(e["initial_option"])["value"])
	var opts []string
	for _, o := range kitArr(e["options"]) {
		om := kitObj(o)
		t := r.textObject(om["text"])
		if kitStr(om["value"]) == initial {
			t += "*"
		}
		opts = append(opts, t)
	}
	return strings.Join(opts, " | ")
}

// textObject renders a plain_text or mrkdwn text object.
func (r *kitRenderer) textObject(v any) string {
	m := kitObj(v)
	if m == nil {
		return ""
	}
	t := kitStr(m["text"])
	if kitStr(m["type"]) == "mrkdwn" {
		return r.mrkdwn(t)
	}
	return kitEmojiRe.ReplaceAllStringFunc(t, kitEmoji)
}

func (r *kitRenderer) userName(id string) string {
	if r.name != nil {
		if n := r.name(id); n != "" {
			return n
		}
	}
	return id
}

var (
	kitAngleRe = regexp.MustCompile(`<([^<>\n]*)>`)
	kitEmojiRe = regexp.MustCompile(`:[a-z0-9_+-]+:`)
)

var kitEmojis = map[string]string{
	":white_check_mark:":    "✓",
	":heavy_check_mark:":    "✓",
	":x:":                   "✗",
	":warning:":             "⚠",
	":large_green_circle:":  "●",
	":red_circle:":          "●",
	":large_yellow_circle:": "●",
	":hourglass:":           "⧗",
	":lock:":                "🔒",
	":eyes:":                "👀",
}

func kitEmoji(s string) string {
	if e, ok := kitEmojis[s]; ok {
		return e
	}
	return s
}

// mrkdwn renders Slack's mrkdwn as text: mentions by name, links as their
// label, dates as their fallback, `code`, *bold* and _italic_ without the
// marks (styled on a terminal), entities unescaped.
func (r *kitRenderer) mrkdwn(s string) string {
	s = strings.ReplaceAll(s, "```", "")
	s = kitAngleRe.ReplaceAllStringFunc(s, func(m string) string {
		inner := m[1 : len(m)-1]
		target, label, hasLabel := strings.Cut(inner, "|")
		switch {
		case strings.HasPrefix(target, "@"):
			return "@" + r.userName(target[1:])
		case strings.HasPrefix(target, "#"):
			if hasLabel {
				return "#" + label
			}
			if target == "#"+demoChannelID {
				return "#" + demoChannelName
			}
			return target
		case strings.HasPrefix(target, "!date^"):
			return label
		case strings.HasPrefix(target, "!subteam^"):
			return "@" + label
		case strings.HasPrefix(target, "!"):
			return "@" + target[1:]
		case !strings.Contains(target, "://") && !strings.HasPrefix(target, "mailto:"):
			return m // not a link: "<key>" stays as written
		case hasLabel:
			return "\x00L" + label + "\x00l" // styled below, after entities
		}
		return target
	})
	s = r.code(s)
	s = r.emphasis(s, '*', kitBold)
	s = r.emphasis(s, '_', kitItalic)
	s = kitEmojiRe.ReplaceAllStringFunc(s, kitEmoji)
	s = html.UnescapeString(s)
	if r.color {
		s = strings.NewReplacer("\x00L", "\x1b[4m", "\x00l", kitReset).Replace(s)
	} else {
		s = strings.NewReplacer("\x00L", "", "\x00l", "").Replace(s)
	}
	return s
}

// code removes the backticks of Slack's inline `code` on one line, styling
// what they held on a terminal; a lone backtick stays.
func (r *kitRenderer) code(s string) string {
	if !strings.Contains(s, "`") {
		return s
	}
	return kitCodeRe.ReplaceAllStringFunc(s, func(m string) string { return r.style(kitCyan, m[1:len(m)-1]) })
}

var kitCodeRe = regexp.MustCompile("`([^`\n]+)`")

// emphasis removes pairs of mark (Slack's *bold* and _italic_) that open
// after a non-word character and close before one, on one line, styling
// the text between on a terminal.
func (r *kitRenderer) emphasis(s string, mark rune, code string) string {
	if !strings.ContainsRune(s, mark) {
		return s
	}
	word := func(c rune) bool { return unicode.IsLetter(c) || unicode.IsDigit(c) || c == mark }
	rs := []rune(s)
	var out strings.Builder
	for i := 0; i < len(rs); i++ {
		c := rs[i]
		if c != mark || (i > 0 && word(rs[i-1])) || i+1 >= len(rs) || unicode.IsSpace(rs[i+1]) {
			out.WriteRune(c)
			continue
		}
		end := -1
		for j := i + 1; j < len(rs) && rs[j] != '\n'; j++ {
			if rs[j] == mark && !unicode.IsSpace(rs[j-1]) && j > i+1 && (j+1 == len(rs) || !word(rs[j+1])) {
				end = j
				break
			}
		}
		if end < 0 {
			out.WriteRune(c)
			continue
		}
		out.WriteString(r.style(code, string(rs[i+1:end])))
		i = end
	}
	return out.String()
}

// consolePageText reads the title and first paragraph of an HTML page, as a
// person glancing at it would.
func consolePageText(body string) (title, text string) {
	grab := func(tag string) string {
		re := regexp.MustCompile(`(?is)<` + tag + `[^>]*>(.*?)</` + tag + `>`)
		m := re.FindStringSubmatch(body)
		if m == nil {
			return ""
		}
		t := regexp.MustCompile(`(?s)<[^>]*>`).ReplaceAllString(m[1], "")
		return strings.Join(strings.Fields(html.UnescapeString(t)), " ")
	}
	title = grab("h1")
	if title == "" {
		title = grab("title")
	}
	return title, grab("p")
}

// consoleClip shortens s to n runes for one-line summaries.
func consoleClip(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	rs := []rune(s)
	return string(rs[:n-1]) + "…"
}
