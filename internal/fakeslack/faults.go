package fakeslack

import "time"

// What became of events under fault injection: the fault tests send events
// asynchronously (DeliverEvent) while the app crashes, reconnects or is
// told to disconnect, and afterwards ask which of them Slack would consider
// delivered.

// EventStatus is what became of one event id.
type EventStatus struct {
	// Envelopes is how many envelopes carried the event: the first one,
	// automatic redeliveries and Redeliver calls.
	Envelopes int
	// Acked is true when at least one of those envelopes was acknowledged,
	// i.e. the app took responsibility for the event.
	Acked bool
	// GaveUp is true when automatic redelivery stopped after retry_attempt 3
	// without an acknowledgement on one of the event's chains.
	GaveUp bool
	// Queued is how many of its envelopes wait for a connection right now.
	Queued int
	// OpenChains counts its deliveries still in progress: an envelope
	// (with its automatic redeliveries) that nobody acknowledged yet and
	// that automatic redelivery has not given up on. Redeliver starts a
	// delivery of its own, so an event can have several.
	OpenChains int
}

// EventStatuses returns the status of every event id sent so far
// (events_api envelopes only), by event id.
func (s *Server) EventStatuses() map[string]EventStatus {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]EventStatus{}
	gaveUp := map[*chain]bool{}
	for _, r := range s.redeliveries {
		if from := s.envs[r.FromEnvelopeID]; r.GaveUp && from != nil {
			gaveUp[from.chain] = true
		}
	}
	counted := map[*chain]bool{}
	for _, id := range s.envOrder {
		rec := s.envs[id]
		if rec.eventID == "" {
			continue
		}
		st := out[rec.eventID]
		st.Envelopes++
		st.Acked = st.Acked || rec.acked
		if !counted[rec.chain] {
			counted[rec.chain] = true
			if rec.chain.ackedBy == nil && !gaveUp[rec.chain] {
				st.OpenChains++
			}
		}
		out[rec.eventID] = st
	}
	for _, rec := range s.queue {
		if rec.eventID == "" {
			continue
		}
		st := out[rec.eventID]
		st.Queued++
		out[rec.eventID] = st
	}
	for _, r := range s.redeliveries {
		if r.GaveUp {
			st := out[r.EventID]
			st.GaveUp = true
			out[r.EventID] = st
		}
	}
	return out
}

// QueuedEnvelopes returns how many envelopes wait for a connection to open:
// those sent while no connection was up (or every one was draining after a
// disconnect). They are written as soon as a connection sends its hello.
func (s *Server) QueuedEnvelopes() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, rec := range s.queue {
		if !rec.acked && !rec.abandoned {
			n++
		}
	}
	return n
}

// AckDelays returns, for every acknowledged envelope, the time from writing
// it to the connection to reading its acknowledgement, in sending order.
func (s *Server) AckDelays() []time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []time.Duration
	for _, id := range s.envOrder {
		if rec := s.envs[id]; rec.acked {
			out = append(out, rec.ackAt.Sub(rec.sentAt))
		}
	}
	return out
}
