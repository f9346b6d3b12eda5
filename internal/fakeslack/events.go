package fakeslack

import (
	"crypto/sha1"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
)

// mentionRE matches a user mention as Slack encodes it in text: <@U123> or
// <@U123|name>.
var mentionRE = regexp.MustCompile(`<@([UW][A-Z0-9]+)(?:\|[^>]*)?>`)

// channelType is the channel_type of a message event in channel.
func channelType(channel string) string {
	switch {
	case strings.HasPrefix(channel, "D"):
		return "im"
	case strings.HasPrefix(channel, "G"):
		return "group"
	default:
		return "channel"
	}
}

// stableID derives a hex id from parts, so helpers need no state.
func stableID(parts ...string) string {
	sum := sha1.Sum([]byte(strings.Join(parts, "\x00")))
	return fmt.Sprintf("%x", sum[:])
}

// richTextBlocks is the rich_text block Slack attaches to a typed message,
// with mentions as user elements.
func richTextBlocks(text, seed string) []any {
	var elems []any
	prev := 0
	for _, m := range mentionRE.FindAllStringSubmatchIndex(text, -1) {
		if m[0] > prev {
			elems = append(elems, map[string]any{"type": "text", "text": text[prev:m[0]]})
		}
		elems = append(elems, map[string]any{"type": "user", "user_id": text[m[2]:m[3]]})
		prev = m[1]
	}
	if prev < len(text) {
		elems = append(elems, map[string]any{"type": "text", "text": text[prev:]})
	}
	if elems == nil {
		elems = []any{}
	}
	return []any{map[string]any{
		"type":     "rich_text",
		"block_id": stableID("block", seed)[:5],
		"elements": []any{map[string]any{"type": "rich_text_section", "elements": elems}},
	}}
}

func userMessage(typ, channel, user, text, ts, threadTS string) map[string]any {
	id := stableID("msg", channel, ts)
	ev := map[string]any{
		"type":          typ,
		"client_msg_id": fmt.Sprintf("%s-%s-%s-%s-%s", id[0:8], id[8:12], id[12:16], id[16:20], id[20:32]),
		"channel":       channel,
		"user":          user,
		"text":          text,
		"ts":            ts,
		"event_ts":      ts,
		"blocks":        richTextBlocks(text, channel+ts),
	}
	if threadTS != "" {
		ev["thread_ts"] = threadTS
	}
	return ev
}

// MessageEvent returns a message event as Slack sends it for a user's
// message: channel_type "im" for a D… channel ("group" for G…, else
// "channel"), event_ts = ts, a client_msg_id and a rich_text block. Leave
// threadTS empty for a top-level message; set it to ts for a thread parent
// or to the parent's ts for a reply.
func MessageEvent(channel, user, text, ts, threadTS string) map[string]any {
	ev := userMessage("message", channel, user, text, ts, threadTS)
	ev["channel_type"] = channelType(channel)
	return ev
}

// AppMentionEvent returns an app_mention event as Slack sends it. Slack
// never sends one in a DM; SendEvent refuses that with ErrMentionInDM.
func AppMentionEvent(channel, user, text, ts, threadTS string) map[string]any {
	return userMessage("app_mention", channel, user, text, ts, threadTS)
}

// AppHomeOpenedEvent returns an app_home_opened event for user's Home tab,
// carrying the view last published with views.publish, if any.
func (s *Server) AppHomeOpenedEvent(user string) map[string]any {
	ev := map[string]any{
		"type":     "app_home_opened",
		"user":     user,
		"channel":  "D" + user,
		"tab":      "home",
		"event_ts": s.NextTS(),
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if hv, ok := s.homeViews[user]; ok {
		var view map[string]json.RawMessage
		if json.Unmarshal(hv.view, &view) == nil {
			ev["view"] = s.viewJSON(view, hv.id, hv.hash)
		}
	}
	return ev
}
