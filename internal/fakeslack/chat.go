package fakeslack

import (
	"encoding/json"
	"fmt"
	"slices"
)

// postedMessage is a message chat.update may change.
type postedMessage struct {
	threadTS string
	text     string
	blocks   json.RawMessage
	editedTS string // when chat.update last changed it
}

// botChannelLocked finds the channel of a chat.* call and checks the bot may
// post there.
func (s *Server) botChannelLocked(q *apiRequest) (Channel, *apiError) {
	c, ok := s.lookupChannelLocked(q.str("channel"))
	if !ok {
		return Channel{}, fail("channel_not_found")
	}
	if c.Members != nil && !slices.Contains(c.Members, s.opts.BotUserID) {
		return Channel{}, fail("not_in_channel")
	}
	return c, nil
}

// messageJSON is the message object chat.postMessage and chat.update return.
func (s *Server) messageJSON(ts, threadTS, text string, blocks json.RawMessage) map[string]any {
	m := map[string]any{
		"type": "message", "user": s.opts.BotUserID, "bot_id": s.opts.BotID,
		"app_id": s.opts.AppID, "team": s.opts.TeamID, "text": text, "ts": ts,
		"bot_profile": map[string]any{
			"id": s.opts.BotID, "app_id": s.opts.AppID, "name": s.opts.BotName,
			"team_id": s.opts.TeamID, "deleted": false,
		},
	}
	if threadTS != "" {
		m["thread_ts"] = threadTS
	}
	if blocks != nil {
		m["blocks"] = blocks
	}
	return m
}

func (s *Server) chatPostMessage(q *apiRequest) (map[string]any, *apiError) {
	c, err := s.botChannelLocked(q)
	if err != nil {
		return nil, err
	}
	text, blocks, err := messageContent(q)
	if err != nil {
		return nil, err
	}
	threadTS := q.str("thread_ts")
	ts := s.nextTSLocked()
	pm := &postedMessage{threadTS: threadTS, text: text, blocks: blocks}
	s.posted[c.ID+"/"+ts] = pm
	s.addHistoryLocked(c.ID, &historyMessage{ts: ts, threadTS: threadTS, bot: pm})
	s.recordLocked(Message{Method: "chat.postMessage", Channel: c.ID, ThreadTS: threadTS, TS: ts, Text: text, Blocks: blocks})
	return map[string]any{"channel": c.ID, "ts": ts, "message": s.messageJSON(ts, threadTS, text, blocks)}, nil
}

func (s *Server) chatPostEphemeral(q *apiRequest) (map[string]any, *apiError) {
	c, err := s.botChannelLocked(q)
	if err != nil {
		return nil, err
	}
	user := q.str("user")
	if _, ok := s.users[user]; !ok {
		return nil, fail("user_not_found")
	}
	if (c.Members != nil && !slices.Contains(c.Members, user)) || (c.IsIM && c.User != user) {
		return nil, fail("user_not_in_channel")
	}
	text, blocks, err := messageContent(q)
	if err != nil {
		return nil, err
	}
	ts := s.nextTSLocked()
	s.recordLocked(Message{
		Method: "chat.postEphemeral", Channel: c.ID, ThreadTS: q.str("thread_ts"), TS: ts,
		Text: text, User: user, Blocks: blocks, Ephemeral: true,
	})
	return map[string]any{"message_ts": ts}, nil
}

// chatUpdate changes a message the bot posted. Ephemeral messages cannot be
// updated: like Slack, their ts is not found.
func (s *Server) chatUpdate(q *apiRequest) (map[string]any, *apiError) {
	c, err := s.botChannelLocked(q)
	if err != nil {
		return nil, err
	}
	ts := q.str("ts")
	pm, ok := s.posted[c.ID+"/"+ts]
	if !ok {
		return nil, fail("message_not_found")
	}
	text, blocks, err := messageContent(q)
	if err != nil {
		return nil, err
	}
	pm.text = text
	// The edit time; not from nextTSLocked, so message ts values stay as before.
	now := s.opts.Clock().UnixMicro()
	pm.editedTS = fmt.Sprintf("%d.%06d", now/1e6, now%1e6)
	if blocks != nil {
		pm.blocks = blocks
	}
	s.recordLocked(Message{Method: "chat.update", Channel: c.ID, ThreadTS: pm.threadTS, TS: ts, Text: text, Blocks: pm.blocks})
	return map[string]any{
		"channel": c.ID, "ts": ts, "text": text,
		"message": s.messageJSON(ts, pm.threadTS, text, pm.blocks),
	}, nil
}
