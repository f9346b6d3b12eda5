package fakeslack

import (
	"context"
	"encoding/json"
	"slices"
	"time"
)

// Messages returns a copy of every message recorded so far, in order:
// chat.postMessage, chat.postEphemeral, chat.update and response_url posts.
func (s *Server) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.messages)
}

// Views returns a copy of every views.publish and views.open call recorded.
func (s *Server) Views() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.views)
}

// WaitForMessage returns the first recorded message (already recorded ones
// first) for which match returns true, blocking until one arrives. It
// returns ctx.Err() if ctx ends first, or ErrClosed if the server closes.
func (s *Server) WaitForMessage(ctx context.Context, match func(Message) bool) (Message, error) {
	return s.waitRecord(ctx, func() []Message { return s.messages }, match)
}

// WaitForView is WaitForMessage for views.publish and views.open calls.
func (s *Server) WaitForView(ctx context.Context, match func(Message) bool) (Message, error) {
	return s.waitRecord(ctx, func() []Message { return s.views }, match)
}

func (s *Server) waitRecord(ctx context.Context, list func() []Message, match func(Message) bool) (Message, error) {
	next := 0
	for {
		s.mu.Lock()
		pending := slices.Clone(list()[next:])
		next += len(pending)
		ch, closed := s.changed, s.closed
		s.mu.Unlock()
		for _, m := range pending {
			if match(m) {
				return m, nil
			}
		}
		if closed {
			return Message{}, ErrClosed
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return Message{}, ctx.Err()
		}
	}
}

// HomeView returns the latest view published to user's App Home with
// views.publish, and false if none was published.
func (s *Server) HomeView(user string) (json.RawMessage, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	hv, ok := s.homeViews[user]
	if !ok {
		return nil, false
	}
	return slices.Clone(hv.view), true
}

// Calls returns how many times method was called, counting calls that
// failed, were rate limited, or named an unknown method. Posts to
// response URLs count under "response_url".
func (s *Server) Calls(method string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[method]
}

// Reactions returns the reaction names the bot has on the message at ts in
// channel, in the order they were added (nil if none).
func (s *Server) Reactions(channel, ts string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.reactions[channel+"/"+ts])
}

// recordLocked stamps m with the time now, appends it to the message list
// and wakes waiters.
func (s *Server) recordLocked(m Message) {
	m.At = time.Now()
	s.messages = append(s.messages, m)
	s.logf("recorded %s in %s ts=%s", m.Method, m.Channel, m.TS)
	s.notifyLocked()
}

// recordViewLocked is recordLocked for the view list.
func (s *Server) recordViewLocked(m Message) {
	m.At = time.Now()
	s.views = append(s.views, m)
	s.logf("recorded %s for %s", m.Method, m.User)
	s.notifyLocked()
}
