package bot

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
)

// callback is the part of an Events API event_callback Tandem reads.
type callback struct {
	Type    string     `json:"type"`
	TeamID  string     `json:"team_id"`
	EventID string     `json:"event_id"`
	Event   innerEvent `json:"event"`
}

// innerEvent is the part of app_mention, message and app_home_opened events
// Tandem reads.
type innerEvent struct {
	Type        string `json:"type"`
	Subtype     string `json:"subtype"`
	User        string `json:"user"`
	BotID       string `json:"bot_id"`
	Text        string `json:"text"`
	TS          string `json:"ts"`
	ThreadTS    string `json:"thread_ts"`
	Channel     string `json:"channel"`
	ChannelType string `json:"channel_type"`
	Hidden      bool   `json:"hidden"`
	Tab         string `json:"tab"`
}

// decodeCallback reads an events_api envelope payload. It fails on anything
// that is not an event_callback with an event id and an event type.
func decodeCallback(payload []byte) (callback, error) {
	var cb callback
	if err := json.Unmarshal(payload, &cb); err != nil {
		return callback{}, fmt.Errorf("bot: decode event: %w", err)
	}
	if cb.Type != "event_callback" || cb.EventID == "" || cb.Event.Type == "" {
		return callback{}, fmt.Errorf("bot: decode event: not an event callback")
	}
	return cb, nil
}

// fromHuman reports whether e is a message a person wrote. Only plain
// messages, thread replies also sent to the channel and messages with files
// count; every other subtype (bot_message, message_changed,
// message_deleted, channel_join, ...) is housekeeping, never a turn.
func (e innerEvent) fromHuman(botUserID string) bool {
	if e.Hidden || e.BotID != "" || e.User == "" || e.User == botUserID {
		return false
	}
	return e.Subtype == "" || e.Subtype == "thread_broadcast" || e.Subtype == "file_share"
}

// threadRoot is the ts of the thread e belongs to: its thread_ts, or its own
// ts when it starts one.
func (e innerEvent) threadRoot() string {
	if e.ThreadTS != "" {
		return e.ThreadTS
	}
	return e.TS
}

var mentionRe = regexp.MustCompile(`<@([UW][A-Z0-9]+)(\|[^>]*)?>`)

// stripMention removes mentions of the bot and reports whether there was one.
func stripMention(text, botUserID string) (string, bool) {
	found := false
	out := mentionRe.ReplaceAllStringFunc(text, func(m string) string {
		if sub := mentionRe.FindStringSubmatch(m); sub[1] == botUserID {
			found = true
			return " "
		}
		return m
	})
	return strings.Join(strings.Fields(out), " "), found
}
