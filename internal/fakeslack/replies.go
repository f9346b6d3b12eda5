package fakeslack

import (
	"cmp"
	"encoding/base64"
	"encoding/json"
	"slices"
	"strconv"
	"strings"
)

// Paging of conversations.replies, as Slack documents it: up to 1000
// messages a page, 1000 unless limit says otherwise.
const (
	repliesDefaultLimit = 1000
	repliesMaxLimit     = 1000
)

// historyMessage is one message of a conversation as conversations.replies
// shows it: a person's message the fake delivered as an event, or the bot's
// own chat.postMessage post (bot non-nil, so chat.update edits show).
type historyMessage struct {
	ts, threadTS string // threadTS is "" for a top-level message
	user, text   string
	blocks       json.RawMessage
	clientMsgID  string
	bot          *postedMessage
	// appBotID and appName mark another app's message (subtype
	// bot_message: an incoming webhook, a workflow), which has no user.
	appBotID, appName string
	// editedTS is when its author last edited a person's message.
	editedTS string
}

// root is the ts of the thread the message belongs to.
func (m *historyMessage) root() string {
	if m.threadTS != "" {
		return m.threadTS
	}
	return m.ts
}

// historySubtypes are the message subtypes that are messages someone sent;
// edits, deletions, joins and the like are not kept.
var historySubtypes = []string{"", "thread_broadcast", "file_share", "me_message"}

// recordEventLocked keeps the person's message an app_mention or message
// event carries, so conversations.replies can show it. An app_mention and a
// message event for the same channel and ts are one message: the first one
// is kept, so the message event Slack echoes for the bot's own post leaves it
// the bot's. s.mu must be held.
func (s *Server) recordEventLocked(inner json.RawMessage) {
	var ev struct {
		Type        string          `json:"type"`
		Subtype     string          `json:"subtype"`
		Channel     string          `json:"channel"`
		User        string          `json:"user"`
		Text        string          `json:"text"`
		TS          string          `json:"ts"`
		ThreadTS    string          `json:"thread_ts"`
		ClientMsgID string          `json:"client_msg_id"`
		Blocks      json.RawMessage `json:"blocks"`
	}
	if json.Unmarshal(inner, &ev) != nil || (ev.Type != "message" && ev.Type != "app_mention") ||
		!slices.Contains(historySubtypes, ev.Subtype) || ev.Channel == "" || ev.TS == "" {
		return
	}
	if _, dup := s.history[ev.Channel][ev.TS]; dup {
		return
	}
	s.addHistoryLocked(ev.Channel, &historyMessage{
		ts: ev.TS, threadTS: ev.ThreadTS, user: ev.User, text: ev.Text,
		blocks: ev.Blocks, clientMsgID: ev.ClientMsgID,
	})
}

// addHistoryLocked stores m in channel's history. s.mu must be held.
func (s *Server) addHistoryLocked(channel string, m *historyMessage) {
	if s.history[channel] == nil {
		s.history[channel] = map[string]*historyMessage{}
	}
	s.history[channel][m.ts] = m
}

// AddUserMessage records a message user sent in channel without delivering
// any event, for messages the app is not told about (a thread's parent when
// the app only subscribes to app_mention). conversations.replies shows it.
// Leave threadTS empty for a top-level message.
func (s *Server) AddUserMessage(channel, user, text, ts, threadTS string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.recordEventLocked(mustJSON(MessageEvent(channel, user, text, ts, threadTS)))
}

// AddAppMessage records a message another app posted in channel (an
// incoming webhook or a workflow step: subtype bot_message, its bot_id and
// username, no user), without delivering any event. conversations.replies
// shows it. Leave threadTS empty for a top-level message.
func (s *Server) AddAppMessage(channel, botID, username, text, ts, threadTS string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.addHistoryLocked(channel, &historyMessage{ts: ts, threadTS: threadTS, text: text, appBotID: botID, appName: username})
}

// EditUserMessage changes the text of the person's message at ts in
// channel, as its author editing it at editedTS does (Slack keeps the
// message's ts): conversations.replies shows the new text with "edited".
// It reports whether there was such a message.
func (s *Server) EditUserMessage(channel, ts, text, editedTS string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	m, ok := s.history[channel][ts]
	if !ok || m.bot != nil || m.appBotID != "" {
		return false
	}
	m.text, m.blocks, m.editedTS = text, nil, editedTS
	return true
}

// conversationsReplies answers conversations.replies: the thread ts belongs
// to (ts may name the parent or any reply), the parent first, then the
// replies oldest first, a page at a time. Errors, as Slack gives them:
// channel_not_found for an unknown channel or a private one without the bot,
// not_in_channel for a public channel that lists its members without the
// bot, thread_not_found when no message or thread has ts, invalid_ts_latest
// and invalid_ts_oldest for a malformed bound, invalid_limit, invalid_cursor.
//
// latest and oldest bound the replies (exclusive unless inclusive is "1" or
// "true"). The parent is always the first message of the first page, even
// outside the bounds (an inference from Slack's "a message plus all the
// messages in reply to it"); continuation pages carry replies only. A thread
// whose parent the fake never saw (no event, no AddUserMessage) comes back
// without it.
func (s *Server) conversationsReplies(q *apiRequest) (map[string]any, *apiError) {
	c, ok := s.lookupChannelLocked(q.str("channel"))
	if !ok {
		return nil, fail("channel_not_found")
	}
	if !slices.Contains(s.membersLocked(c), s.opts.BotUserID) {
		if c.IsPrivate {
			return nil, fail("channel_not_found")
		}
		return nil, fail("not_in_channel")
	}
	ts := q.str("ts")
	if ts == "" {
		return nil, fail("invalid_arguments", "[ERROR] missing required field: ts")
	}
	inclusive := q.str("inclusive") == "1" || q.str("inclusive") == "true"
	latest, ok := tsMicros(q.str("latest"), 1<<62)
	if !ok {
		return nil, fail("invalid_ts_latest")
	}
	oldest, ok := tsMicros(q.str("oldest"), 0)
	if !ok {
		return nil, fail("invalid_ts_oldest")
	}
	limit := repliesDefaultLimit
	if l := q.str("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 0 || n > repliesMaxLimit {
			return nil, fail("invalid_limit")
		}
		if n > 0 {
			limit = n
		}
	}
	parent, replies := s.threadLocked(c.ID, ts)
	if parent == nil && replies == nil {
		return nil, fail("thread_not_found")
	}

	var page []*historyMessage
	if cur := q.str("cursor"); cur != "" {
		from, ok := repliesCursorTS(cur)
		if !ok {
			return nil, fail("invalid_cursor")
		}
		for _, m := range replies {
			if micros, _ := tsMicros(m.ts, 0); micros >= from {
				page = append(page, m)
			}
		}
	} else {
		if parent != nil {
			page = append(page, parent)
		}
		page = append(page, replies...)
	}
	page = slices.DeleteFunc(page, func(m *historyMessage) bool {
		micros, _ := tsMicros(m.ts, 0)
		in := (micros < latest && micros > oldest) || (inclusive && (micros == latest || micros == oldest))
		return m != parent && !in
	})

	next := ""
	if len(page) > limit {
		micros, _ := tsMicros(page[limit].ts, 0)
		next = base64.StdEncoding.EncodeToString([]byte("next_ts:" + strconv.FormatInt(micros, 10)))
		page = page[:limit]
	}
	msgs := make([]any, 0, len(page))
	for _, m := range page {
		msgs = append(msgs, s.historyJSON(m, parent, replies))
	}
	return map[string]any{
		"messages":          msgs,
		"has_more":          next != "",
		"response_metadata": map[string]any{"next_cursor": next},
	}, nil
}

// threadLocked returns the parent (nil if the fake never saw it) and the
// replies, oldest first, of the thread the message at ts belongs to.
func (s *Server) threadLocked(channel, ts string) (parent *historyMessage, replies []*historyMessage) {
	root := ts
	if m, ok := s.history[channel][ts]; ok {
		root = m.root()
	}
	for _, m := range s.history[channel] {
		switch {
		case m.ts == root:
			parent = m
		case m.threadTS == root:
			replies = append(replies, m)
		}
	}
	slices.SortFunc(replies, func(a, b *historyMessage) int {
		am, _ := tsMicros(a.ts, 0)
		bm, _ := tsMicros(b.ts, 0)
		return cmp.Compare(am, bm)
	})
	return parent, replies
}

// historyJSON renders m as conversations.replies does: a bot post as
// chat.postMessage returns it (with "edited" once chat.update changed it),
// a person's message with its user, team and blocks; the parent of a thread
// with replies carries reply_count, reply_users and latest_reply, and a
// reply its parent_user_id.
func (s *Server) historyJSON(m, parent *historyMessage, replies []*historyMessage) map[string]any {
	var j map[string]any
	if m.bot != nil {
		j = s.messageJSON(m.ts, m.bot.threadTS, m.bot.text, m.bot.blocks)
		if m.bot.editedTS != "" {
			j["edited"] = map[string]any{"user": s.opts.BotUserID, "ts": m.bot.editedTS}
		}
	} else if m.appBotID != "" {
		j = map[string]any{"type": "message", "subtype": "bot_message", "bot_id": m.appBotID, "username": m.appName, "text": m.text, "ts": m.ts}
		if m.threadTS != "" {
			j["thread_ts"] = m.threadTS
		}
	} else {
		j = map[string]any{"type": "message", "user": m.user, "text": m.text, "ts": m.ts, "team": s.opts.TeamID}
		if m.threadTS != "" {
			j["thread_ts"] = m.threadTS
		}
		if m.clientMsgID != "" {
			j["client_msg_id"] = m.clientMsgID
		}
		if m.blocks != nil {
			j["blocks"] = m.blocks
		}
		if m.editedTS != "" {
			j["edited"] = map[string]any{"user": m.user, "ts": m.editedTS}
		}
	}
	switch {
	case m == parent && len(replies) > 0:
		var users []string
		for _, r := range replies {
			if !slices.Contains(users, r.author(s)) {
				users = append(users, r.author(s))
			}
		}
		j["thread_ts"] = m.ts
		j["reply_count"] = len(replies)
		j["reply_users_count"] = len(users)
		j["reply_users"] = users
		j["latest_reply"] = replies[len(replies)-1].ts
		j["is_locked"] = false
		j["subscribed"] = false
	case m != parent && parent != nil:
		j["parent_user_id"] = parent.author(s)
	}
	return j
}

// author is the user id Slack shows for m: the bot user for the bot's posts.
func (m *historyMessage) author(s *Server) string {
	switch {
	case m.bot != nil:
		return s.opts.BotUserID
	case m.appBotID != "":
		return m.appBotID
	}
	return m.user
}

// tsMicros parses a Slack timestamp ("1700000000.000100", or whole
// seconds) into microseconds; "" gives def.
func tsMicros(ts string, def int64) (int64, bool) {
	if ts == "" {
		return def, true
	}
	secs, frac, _ := strings.Cut(ts, ".")
	if len(frac) > 6 {
		return 0, false
	}
	s, err := strconv.ParseInt(secs, 10, 64)
	if err != nil || s < 0 {
		return 0, false
	}
	var f int64
	if frac != "" {
		if f, err = strconv.ParseInt(frac+strings.Repeat("0", 6-len(frac)), 10, 64); err != nil || f < 0 {
			return 0, false
		}
	}
	return s*1e6 + f, true
}

// repliesCursorTS decodes a cursor made by conversationsReplies; Slack's
// look the same ("bmV4dF90czoxNTEyMDg1ODYxMDAwNTQz" is
// "next_ts:1512085861000543").
func repliesCursorTS(cursor string) (int64, bool) {
	raw, err := base64.StdEncoding.DecodeString(cursor)
	if err != nil {
		return 0, false
	}
	digits, ok := strings.CutPrefix(string(raw), "next_ts:")
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseInt(digits, 10, 64)
	return n, err == nil && n >= 0
}
