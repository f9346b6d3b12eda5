package fakeslack

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// SlashCommand is what a user typed. Empty TeamID, TriggerID and ResponseURL
// are filled in; UserName and ChannelName come from the known users and
// channels when empty.
type SlashCommand struct {
	Command     string
	Text        string
	UserID      string
	UserName    string
	ChannelID   string
	ChannelName string
	TeamID      string
	ResponseURL string
	TriggerID   string
}

// toRaw marshals v unless it is already JSON.
func toRaw(v any) (json.RawMessage, error) {
	switch x := v.(type) {
	case json.RawMessage:
		if !json.Valid(x) {
			return nil, errors.New("fakeslack: invalid JSON")
		}
		return x, nil
	case []byte:
		return toRaw(json.RawMessage(x))
	default:
		return json.Marshal(v)
	}
}

// eventCallback wraps an inner event in Slack's event_callback.
func (s *Server) eventCallback(eventID string, event any) (json.RawMessage, string, error) {
	inner, err := toRaw(event)
	if err != nil {
		return nil, "", err
	}
	var head struct {
		Type    string `json:"type"`
		Channel string `json:"channel"`
	}
	if err := json.Unmarshal(inner, &head); err != nil || head.Type == "" {
		return nil, "", errors.New("fakeslack: event must be a JSON object with a type")
	}
	if head.Type == "app_mention" && strings.HasPrefix(head.Channel, "D") {
		return nil, "", ErrMentionInDM
	}
	s.mu.Lock()
	if eventID == "" {
		eventID = fmt.Sprintf("Ev%03X%07X", s.rng.Uint32()&0xfff, s.nextIDLocked())
	}
	now := s.opts.Clock()
	s.recordEventLocked(inner)
	s.mu.Unlock()
	cb := map[string]any{
		"token":      "fakeslack-verification-token",
		"team_id":    s.opts.TeamID,
		"api_app_id": s.opts.AppID,
		"event":      inner,
		"type":       "event_callback",
		"event_id":   eventID,
		"event_time": now.Unix(),
		"authorizations": []map[string]any{{
			"enterprise_id": nil, "team_id": s.opts.TeamID, "user_id": s.opts.BotUserID,
			"is_bot": true, "is_enterprise_install": false,
		}},
		"is_ext_shared_channel": false,
		"event_context":         "4-fakeslack-" + eventID,
	}
	raw, err := json.Marshal(cb)
	return raw, eventID, err
}

// SendEvent wraps event (a map, a struct or json.RawMessage holding an
// inner event such as MessageEvent's) in an event_callback with a new
// event_id, sends it in an events_api envelope and waits for the first
// acknowledgement of it or of one of its automatic redeliveries. It returns
// an error wrapping ctx.Err() if ctx ends first (the Delivery then still
// names the envelope and event), ErrMentionInDM for an app_mention in a DM,
// or ErrClosed.
func (s *Server) SendEvent(ctx context.Context, event any) (Delivery, error) {
	return s.SendEventWithID(ctx, "", event)
}

// SendEventWithID is SendEvent with a chosen event_id ("" generates one),
// for example to mimic Slack sending the same message under two ids.
func (s *Server) SendEventWithID(ctx context.Context, eventID string, event any) (Delivery, error) {
	rec, err := s.deliverEvent(eventID, event)
	if err != nil {
		return Delivery{}, err
	}
	return s.await(ctx, rec, rec.chain.done)
}

// DeliverEvent is the asynchronous SendEvent: it returns the envelope and
// event ids at once. Use WaitAck or WaitFor to follow up.
func (s *Server) DeliverEvent(event any) (envelopeID, eventID string, err error) {
	rec, err := s.deliverEvent("", event)
	if err != nil {
		return "", "", err
	}
	return rec.env.EnvelopeID, rec.eventID, nil
}

func (s *Server) deliverEvent(eventID string, event any) (*envRecord, error) {
	payload, _, err := s.eventCallback(eventID, event)
	if err != nil {
		return nil, err
	}
	return s.deliver(Envelope{Type: TypeEventsAPI, Payload: payload}, nil)
}

// Redeliver sends an event already sent again, in a new envelope with
// retry_attempt attempt (1 to 3) and retry_reason "timeout", and waits for
// its acknowledgement. It returns ErrUnknownEvent for an event id never
// sent, and an error wrapping ctx.Err() if ctx ends first.
func (s *Server) Redeliver(ctx context.Context, eventID string, attempt int) (Delivery, error) {
	if attempt < 1 || attempt > maxRetryAttempt {
		return Delivery{}, fmt.Errorf("fakeslack: retry_attempt %d: Slack only uses 1 to %d", attempt, maxRetryAttempt)
	}
	s.mu.Lock()
	payload, ok := s.events[eventID]
	if !ok {
		s.mu.Unlock()
		return Delivery{}, ErrUnknownEvent
	}
	rec, err := s.registerLocked(Envelope{Type: TypeEventsAPI, Payload: payload, RetryAttempt: attempt, RetryReason: "timeout"}, nil)
	if err == nil {
		s.redeliveries = append(s.redeliveries, Redelivery{EventID: eventID, EnvelopeID: rec.env.EnvelopeID, Attempt: attempt, Reason: "timeout"})
		s.notifyLocked()
	}
	s.mu.Unlock()
	if err != nil {
		return Delivery{}, err
	}
	s.dispatch(rec)
	return s.await(ctx, rec, rec.done)
}

// SendSlashCommand sends cmd in a slash_commands envelope
// (accepts_response_payload true) and returns the acknowledgement's payload
// (nil if the ack had none). Like Slack it does not redeliver: without an
// ack within Options.AckTimeout it returns ErrNotAcked. It also fails if
// ctx ends first.
func (s *Server) SendSlashCommand(ctx context.Context, cmd SlashCommand) (json.RawMessage, error) {
	s.mu.Lock()
	if cmd.TeamID == "" {
		cmd.TeamID = s.opts.TeamID
	}
	if cmd.UserName == "" {
		cmd.UserName = s.users[cmd.UserID].Name
	}
	if cmd.ChannelName == "" {
		if c, ok := s.lookupChannelLocked(cmd.ChannelID); ok {
			cmd.ChannelName = c.Name
			if c.IsIM {
				cmd.ChannelName = "directmessage"
			}
		}
	}
	cmd.TriggerID = s.issueTriggerLocked(cmd.TriggerID, cmd.UserID)
	if cmd.ResponseURL == "" {
		cmd.ResponseURL = s.newResponseURLLocked(cmd.ChannelID, cmd.UserID)
	}
	s.mu.Unlock()
	payload, err := json.Marshal(map[string]any{
		"token": "fakeslack-verification-token", "team_id": cmd.TeamID, "team_domain": s.opts.TeamDomain,
		"channel_id": cmd.ChannelID, "channel_name": cmd.ChannelName,
		"user_id": cmd.UserID, "user_name": cmd.UserName,
		"command": cmd.Command, "text": cmd.Text, "api_app_id": s.opts.AppID,
		"is_enterprise_install": "false", "response_url": cmd.ResponseURL, "trigger_id": cmd.TriggerID,
	})
	if err != nil {
		return nil, err
	}
	return s.sendInteractive(ctx, Envelope{Type: TypeSlashCommands, Payload: payload, AcceptsResponsePayload: true})
}

// SendInteraction sends payload (block_actions, message_action,
// view_submission, …; see the *Payload helpers) in an interactive envelope
// and returns the acknowledgement's payload. accepts_response_payload is
// true for view_submission and block_suggestion, as on Slack. A trigger_id
// in the payload becomes usable with views.open. Not redelivered: without
// an ack within Options.AckTimeout it returns ErrNotAcked.
func (s *Server) SendInteraction(ctx context.Context, payload any) (json.RawMessage, error) {
	raw, err := toRaw(payload)
	if err != nil {
		return nil, err
	}
	var head struct {
		Type      string `json:"type"`
		TriggerID string `json:"trigger_id"`
		User      struct {
			ID string `json:"id"`
		} `json:"user"`
	}
	if err := json.Unmarshal(raw, &head); err != nil || head.Type == "" {
		return nil, errors.New("fakeslack: interaction payload must be a JSON object with a type")
	}
	if head.TriggerID != "" {
		s.mu.Lock()
		if _, known := s.triggers[head.TriggerID]; !known {
			s.issueTriggerLocked(head.TriggerID, head.User.ID)
		}
		s.mu.Unlock()
	}
	accepts := head.Type == "view_submission" || head.Type == "block_suggestion"
	return s.sendInteractive(ctx, Envelope{Type: TypeInteractive, Payload: raw, AcceptsResponsePayload: accepts})
}

// sendInteractive delivers env and waits up to Options.AckTimeout for its
// ack; an envelope still queued at the deadline is dropped.
func (s *Server) sendInteractive(ctx context.Context, env Envelope) (json.RawMessage, error) {
	rec, err := s.deliver(env, nil)
	if err != nil {
		return nil, err
	}
	actx, cancel := context.WithTimeout(ctx, s.opts.AckTimeout)
	defer cancel()
	d, err := s.await(actx, rec, rec.done)
	if err == nil {
		return d.AckPayload, nil
	}
	s.mu.Lock()
	rec.abandoned = true
	s.mu.Unlock()
	if ctx.Err() == nil && errors.Is(err, context.DeadlineExceeded) {
		return nil, fmt.Errorf("%w: %s envelope %s after %s", ErrNotAcked, env.Type, rec.env.EnvelopeID, s.opts.AckTimeout)
	}
	return nil, err
}
