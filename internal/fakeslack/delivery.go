package fakeslack

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"
)

// Envelope types Slack sends over Socket Mode.
const (
	// TypeEventsAPI carries an event_callback; redelivered when not acked.
	TypeEventsAPI = "events_api"
	// TypeSlashCommands carries a slash command; never redelivered.
	TypeSlashCommands = "slash_commands"
	// TypeInteractive carries an interaction payload; never redelivered.
	TypeInteractive = "interactive"
)

// maxRetryAttempt is Slack's last redelivery attempt.
const maxRetryAttempt = 3

// Envelope is one Socket Mode request as Slack frames it.
type Envelope struct {
	EnvelopeID             string          `json:"envelope_id"`
	Type                   string          `json:"type"`
	Payload                json.RawMessage `json:"payload"`
	AcceptsResponsePayload bool            `json:"accepts_response_payload"`
	RetryAttempt           int             `json:"retry_attempt"`
	RetryReason            string          `json:"retry_reason"`
}

// Delivery describes an acknowledged envelope.
type Delivery struct {
	EnvelopeID   string
	EventID      string // events_api only
	RetryAttempt int
	// AckPayload is the "payload" of the acknowledgement, nil if none.
	AckPayload json.RawMessage
	// AckAfter is the time from writing the envelope to reading its ack.
	AckAfter time.Duration
}

// Redelivery records one envelope the fake sent again because an earlier
// one was not acknowledged in time (Auto), or because Redeliver was called.
type Redelivery struct {
	EventID        string
	FromEnvelopeID string // the unacknowledged envelope (auto only)
	EnvelopeID     string // the new envelope; empty when GaveUp
	Attempt        int
	Reason         string
	Auto           bool
	// GaveUp marks the end of automatic redelivery: attempt 3 was not
	// acknowledged either, and Slack stops trying.
	GaveUp bool
}

// chain groups an envelope with its automatic redeliveries: the first ack
// of any of them ends the chain.
type chain struct {
	done    chan struct{}
	ackedBy *envRecord
}

type envRecord struct {
	env       Envelope
	raw       []byte
	eventID   string
	chain     *chain
	sentAt    time.Time
	acked     bool
	ackAt     time.Time
	ackBody   json.RawMessage
	done      chan struct{}
	timer     *time.Timer
	abandoned bool // the sender gave up; do not dispatch
}

func (r *envRecord) delivery() Delivery {
	return Delivery{
		EnvelopeID: r.env.EnvelopeID, EventID: r.eventID, RetryAttempt: r.env.RetryAttempt,
		AckPayload: r.ackBody, AckAfter: r.ackAt.Sub(r.sentAt),
	}
}

// newEnvelopeIDLocked returns a UUID-shaped envelope id.
func (s *Server) newEnvelopeIDLocked() string {
	n := s.nextIDLocked()
	return fmt.Sprintf("%08x-%04x-4%03x-8%03x-%012x", s.rng.Uint32(), uint16(s.rng.Uint32()), n>>12&0xfff, n&0xfff, s.rng.Uint64()&0xffffffffffff)
}

// registerLocked stores env (assigning an id if empty) as part of ch.
func (s *Server) registerLocked(env Envelope, ch *chain) (*envRecord, error) {
	if s.closed {
		return nil, ErrClosed
	}
	if env.Type == "" {
		return nil, errors.New("fakeslack: envelope has no type")
	}
	if len(env.Payload) == 0 {
		env.Payload = json.RawMessage("{}")
	}
	if !json.Valid(env.Payload) {
		return nil, errors.New("fakeslack: envelope payload is not valid JSON")
	}
	if env.EnvelopeID == "" {
		env.EnvelopeID = s.newEnvelopeIDLocked()
	} else if _, dup := s.envs[env.EnvelopeID]; dup {
		return nil, fmt.Errorf("fakeslack: envelope id %q already used", env.EnvelopeID)
	}
	raw, err := json.Marshal(env)
	if err != nil {
		return nil, err
	}
	if ch == nil {
		ch = &chain{done: make(chan struct{})}
	}
	rec := &envRecord{env: env, raw: raw, chain: ch, done: make(chan struct{})}
	if env.Type == TypeEventsAPI {
		var head struct {
			EventID string `json:"event_id"`
		}
		_ = json.Unmarshal(env.Payload, &head)
		rec.eventID = head.EventID
		if head.EventID != "" {
			s.events[head.EventID] = env.Payload
		}
	}
	s.envs[env.EnvelopeID] = rec
	s.envOrder = append(s.envOrder, env.EnvelopeID)
	return rec, nil
}

// dispatch writes rec to a connection, or queues it until one opens.
func (s *Server) dispatch(rec *envRecord) {
	for {
		s.mu.Lock()
		if s.closed || rec.abandoned || rec.acked {
			s.mu.Unlock()
			return
		}
		c := s.pickConnLocked()
		if c == nil {
			s.queue = append(s.queue, rec)
			s.mu.Unlock()
			return
		}
		rec.sentAt = time.Now()
		s.mu.Unlock()
		if err := c.write(rec.raw); err != nil {
			c.close()
			s.removeConn(c)
			continue
		}
		s.logf("envelope %s (%s, attempt %d) sent on connection %d", rec.env.EnvelopeID, rec.env.Type, rec.env.RetryAttempt, c.id)
		s.mu.Lock()
		if s.autoRedeliver && rec.env.Type == TypeEventsAPI && rec.eventID != "" && !rec.acked && !s.closed {
			if rec.timer != nil {
				rec.timer.Stop()
			}
			rec.timer = time.AfterFunc(s.redeliverAfter, func() { s.ackTimedOut(rec) })
		}
		s.mu.Unlock()
		return
	}
}

// flushQueue dispatches the envelopes that waited for a connection.
func (s *Server) flushQueue() {
	s.mu.Lock()
	q := s.queue
	s.queue = nil
	s.mu.Unlock()
	for _, rec := range q {
		s.dispatch(rec)
	}
}

func (s *Server) handleAck(id string, payload json.RawMessage) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rec := s.envs[id]
	if rec == nil || rec.acked {
		return
	}
	rec.acked = true
	rec.ackAt = time.Now()
	if len(payload) > 0 && string(payload) != "null" {
		rec.ackBody = slices.Clone(payload)
	}
	s.acks++
	if rec.timer != nil {
		rec.timer.Stop()
	}
	close(rec.done)
	if rec.chain.ackedBy == nil {
		rec.chain.ackedBy = rec
		close(rec.chain.done)
	}
	s.logf("envelope %s acknowledged after %s", id, rec.ackAt.Sub(rec.sentAt))
	s.notifyLocked()
}

// ackTimedOut redelivers an events_api envelope nobody acknowledged, as
// Slack does, with retry_attempt 1, 2, 3 and then gives up.
func (s *Server) ackTimedOut(rec *envRecord) {
	s.mu.Lock()
	if s.closed || rec.acked || !s.autoRedeliver || rec.chain.ackedBy != nil {
		s.mu.Unlock()
		return
	}
	if rec.env.RetryAttempt >= maxRetryAttempt {
		s.redeliveries = append(s.redeliveries, Redelivery{
			EventID: rec.eventID, FromEnvelopeID: rec.env.EnvelopeID, Attempt: rec.env.RetryAttempt,
			Reason: "timeout", Auto: true, GaveUp: true,
		})
		s.logf("event %s: giving up after attempt %d", rec.eventID, rec.env.RetryAttempt)
		s.notifyLocked()
		s.mu.Unlock()
		return
	}
	next, err := s.registerLocked(Envelope{
		Type: TypeEventsAPI, Payload: rec.env.Payload,
		RetryAttempt: rec.env.RetryAttempt + 1, RetryReason: "timeout",
	}, rec.chain)
	if err != nil {
		s.mu.Unlock()
		return
	}
	s.redeliveries = append(s.redeliveries, Redelivery{
		EventID: rec.eventID, FromEnvelopeID: rec.env.EnvelopeID, EnvelopeID: next.env.EnvelopeID,
		Attempt: next.env.RetryAttempt, Reason: "timeout", Auto: true,
	})
	s.notifyLocked()
	s.mu.Unlock()
	s.dispatch(next)
}

// Deliver sends env to one connection (or queues it until one opens) and
// returns its envelope id at once, generating one if env has none. Pair it
// with WaitAck. It fails if the server is closed, env has no type, its
// payload is not JSON, or its id was already used.
func (s *Server) Deliver(env Envelope) (string, error) {
	rec, err := s.deliver(env, nil)
	if err != nil {
		return "", err
	}
	return rec.env.EnvelopeID, nil
}

func (s *Server) deliver(env Envelope, ch *chain) (*envRecord, error) {
	s.mu.Lock()
	rec, err := s.registerLocked(env, ch)
	s.mu.Unlock()
	if err != nil {
		return nil, err
	}
	s.dispatch(rec)
	return rec, nil
}

// WaitAck waits for the acknowledgement of one envelope. It returns
// ErrUnknownEnvelope for an id never sent, ErrClosed if the server closes,
// and an error wrapping ctx.Err() if ctx ends first.
func (s *Server) WaitAck(ctx context.Context, envelopeID string) (Delivery, error) {
	s.mu.Lock()
	rec := s.envs[envelopeID]
	s.mu.Unlock()
	if rec == nil {
		return Delivery{}, ErrUnknownEnvelope
	}
	return s.await(ctx, rec, rec.done)
}

func (s *Server) await(ctx context.Context, rec *envRecord, done chan struct{}) (Delivery, error) {
	select {
	case <-done:
		s.mu.Lock()
		defer s.mu.Unlock()
		if done == rec.chain.done {
			return rec.chain.ackedBy.delivery(), nil
		}
		return rec.delivery(), nil
	case <-ctx.Done():
		return Delivery{EnvelopeID: rec.env.EnvelopeID, EventID: rec.eventID},
			fmt.Errorf("fakeslack: envelope %s not acknowledged: %w", rec.env.EnvelopeID, ctx.Err())
	case <-s.done:
		return Delivery{EnvelopeID: rec.env.EnvelopeID, EventID: rec.eventID}, ErrClosed
	}
}

// Acks returns how many envelopes were acknowledged (the first ack of each).
func (s *Server) Acks() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.acks
}

// UnackedEnvelopes returns the ids of envelopes sent or queued and never
// acknowledged, oldest first.
func (s *Server) UnackedEnvelopes() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, id := range s.envOrder {
		if !s.envs[id].acked {
			out = append(out, id)
		}
	}
	return out
}

// Redeliveries returns every redelivery so far, oldest first.
func (s *Server) Redeliveries() []Redelivery {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.redeliveries)
}

// AutoRedeliver turns Slack's redelivery on or off: an events_api envelope
// not acknowledged within timeout (Slack: 3s; <= 0 means Options.AckTimeout)
// is sent again in a new envelope with retry_attempt 1, 2, 3 and
// retry_reason "timeout", then abandoned. Each step is recorded in
// Redeliveries.
func (s *Server) AutoRedeliver(enabled bool, timeout time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if timeout <= 0 {
		timeout = s.opts.AckTimeout
	}
	s.autoRedeliver = enabled
	s.redeliverAfter = timeout
}
