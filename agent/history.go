package agent

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// ThreadMessage is an earlier message of the turn's thread. It reaches the
// model as untrusted data, whoever wrote it.
type ThreadMessage struct {
	// Author names who wrote it, as the caller chooses ("<@U123>"); only
	// [A-Za-z0-9 _.:@#!/-] of it is kept.
	Author string
	// Bot marks an earlier reply of Tandem.
	Bot  bool
	Text string
}

// History budget: the thread is trimmed, oldest first, to about
// DefaultHistoryTokens tokens, estimated at BytesPerToken bytes a token
// (24,000 bytes), and one message keeps at most maxThreadMessageBytes.
// That leaves most of a small model's context (8k and up) for the tools,
// tool results and the answer.
const (
	DefaultHistoryTokens  = 6000
	BytesPerToken         = 4
	maxThreadMessageBytes = 4000
)

// renderHistory quotes the newest messages that fit in budget tokens,
// oldest first, and says how many older ones were left out.
func renderHistory(msgs []ThreadMessage, budget int) string {
	if budget <= 0 {
		budget = DefaultHistoryTokens
	}
	left := budget * BytesPerToken
	var kept []string
	i := len(msgs) - 1
	for ; i >= 0; i-- {
		m := msgs[i]
		source := "thread message by " + m.Author
		if m.Bot {
			source = "earlier reply by Tandem"
		}
		block := quote(source, clipBytes(m.Text, maxThreadMessageBytes))
		if len(block) > left {
			break
		}
		left -= len(block)
		kept = append(kept, block)
	}
	var b strings.Builder
	if i >= 0 {
		fmt.Fprintf(&b, "(%d older messages left out)\n\n", i+1)
	}
	for j := len(kept) - 1; j >= 0; j-- {
		b.WriteString(kept[j])
		if j > 0 {
			b.WriteString("\n\n")
		}
	}
	return b.String()
}

// clipBytes shortens s to at most n bytes on a rune boundary, marking the cut.
func clipBytes(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + " […]"
}
