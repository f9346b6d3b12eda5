package fakeslack

import "encoding/json"

// BlockActionSpec describes a click on a button in a message.
type BlockActionSpec struct {
	UserID    string
	ChannelID string
	MessageTS string // the message holding the button
	ThreadTS  string // its thread, if it is in one
	ActionID  string
	BlockID   string
	Value     string
	Ephemeral bool // the button is in an ephemeral message
}

// ShortcutSpec describes a message shortcut run on a message.
type ShortcutSpec struct {
	CallbackID  string
	UserID      string // who ran the shortcut
	ChannelID   string
	MessageTS   string
	ThreadTS    string
	MessageUser string // author of the message
	MessageText string
}

// SubmissionSpec describes a modal submitted by a user.
type SubmissionSpec struct {
	UserID          string
	CallbackID      string
	PrivateMetadata string
	ViewID          string // generated when empty
	// Values is the view state: block_id -> action_id -> element value,
	// e.g. {"b":{"a":{"type":"plain_text_input","value":"x"}}}.
	Values map[string]map[string]any
}

func (s *Server) userRefLocked(id string) map[string]any {
	name := s.users[id].Name
	return map[string]any{"id": id, "username": name, "name": name, "team_id": s.opts.TeamID}
}

// interactionBaseLocked is what every interaction payload carries.
func (s *Server) interactionBaseLocked(typ, user string) map[string]any {
	return map[string]any{
		"type": typ, "token": "fakeslack-verification-token", "api_app_id": s.opts.AppID,
		"team":       map[string]any{"id": s.opts.TeamID, "domain": s.opts.TeamDomain},
		"user":       s.userRefLocked(user),
		"enterprise": nil, "is_enterprise_install": false,
		"trigger_id": s.issueTriggerLocked("", user),
	}
}

func (s *Server) channelRefLocked(id string) map[string]any {
	c, _ := s.lookupChannelLocked(id)
	name := c.Name
	if c.IsIM {
		name = "directmessage"
	}
	return map[string]any{"id": id, "name": name}
}

// BlockActionsPayload returns a block_actions payload for SendInteraction,
// with a fresh trigger_id and response_url. The message is the one the bot
// posted at MessageTS when the fake knows it.
func (s *Server) BlockActionsPayload(a BlockActionSpec) map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.interactionBaseLocked("block_actions", a.UserID)
	actionTS := s.nextTSLocked()
	container := map[string]any{"type": "message", "message_ts": a.MessageTS, "channel_id": a.ChannelID, "is_ephemeral": a.Ephemeral}
	msg := map[string]any{"type": "message", "user": s.opts.BotUserID, "bot_id": s.opts.BotID, "text": "", "ts": a.MessageTS}
	if pm, ok := s.posted[a.ChannelID+"/"+a.MessageTS]; ok {
		msg = s.messageJSON(a.MessageTS, pm.threadTS, pm.text, pm.blocks)
	}
	if a.ThreadTS != "" {
		container["thread_ts"] = a.ThreadTS
		msg["thread_ts"] = a.ThreadTS
	}
	p["container"] = container
	p["channel"] = s.channelRefLocked(a.ChannelID)
	if !a.Ephemeral {
		p["message"] = msg
	}
	p["state"] = map[string]any{"values": map[string]any{}}
	p["response_url"] = s.newResponseURLLocked(a.ChannelID, a.UserID)
	blockID := a.BlockID
	if blockID == "" {
		blockID = "fakeslack"
	}
	p["actions"] = []any{map[string]any{
		"type": "button", "action_id": a.ActionID, "block_id": blockID, "value": a.Value,
		"text": map[string]any{"type": "plain_text", "text": a.Value, "emoji": true}, "action_ts": actionTS,
	}}
	return p
}

// MessageShortcutPayload returns a message_action payload for
// SendInteraction: it carries the channel and the message with its ts and
// thread_ts, plus a fresh trigger_id and response_url.
func (s *Server) MessageShortcutPayload(m ShortcutSpec) map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.interactionBaseLocked("message_action", m.UserID)
	p["callback_id"] = m.CallbackID
	p["action_ts"] = s.nextTSLocked()
	p["channel"] = s.channelRefLocked(m.ChannelID)
	p["message_ts"] = m.MessageTS
	msg := map[string]any{"type": "message", "user": m.MessageUser, "text": m.MessageText, "ts": m.MessageTS}
	if m.ThreadTS != "" {
		msg["thread_ts"] = m.ThreadTS
	}
	p["message"] = msg
	p["response_url"] = s.newResponseURLLocked(m.ChannelID, m.UserID)
	return p
}

// ViewSubmissionPayload returns a view_submission payload for
// SendInteraction; acknowledge it with a response_action payload.
func (s *Server) ViewSubmissionPayload(v SubmissionSpec) map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.interactionBaseLocked("view_submission", v.UserID)
	id := v.ViewID
	if id == "" {
		id = s.newViewIDLocked()
	}
	values := v.Values
	if values == nil {
		values = map[string]map[string]any{}
	}
	p["view"] = s.viewJSON(map[string]json.RawMessage{
		"type":             json.RawMessage(`"modal"`),
		"callback_id":      mustJSON(v.CallbackID),
		"private_metadata": mustJSON(v.PrivateMetadata),
		"title":            json.RawMessage(`{"type":"plain_text","text":"Tandem"}`),
	}, id, s.newHashLocked())
	p["view"].(map[string]any)["state"] = map[string]any{"values": values}
	p["response_urls"] = []any{}
	return p
}
