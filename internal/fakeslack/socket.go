package fakeslack

import (
	"encoding/json"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

// wsConn is one Socket Mode connection. Data frames are written under wmu
// (gorilla allows one writer); control frames and Close may run alongside.
type wsConn struct {
	id        int
	ws        *websocket.Conn
	wmu       sync.Mutex
	draining  bool // a disconnect was sent; guarded by Server.mu
	done      chan struct{}
	closeOnce sync.Once
}

func (c *wsConn) write(data []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	return c.writeLocked(data)
}

func (c *wsConn) writeLocked(data []byte) error {
	_ = c.ws.SetWriteDeadline(time.Now().Add(5 * time.Second))
	return c.ws.WriteMessage(websocket.TextMessage, data)
}

// close drops the TCP connection without a close frame.
func (c *wsConn) close() {
	c.closeOnce.Do(func() {
		close(c.done)
		_ = c.ws.Close()
	})
}

func mustJSON(v any) []byte {
	data, err := json.Marshal(v)
	if err != nil {
		panic("fakeslack: marshal: " + err.Error())
	}
	return data
}

func disconnectFrame(reason string) []byte {
	return mustJSON(map[string]any{"type": "disconnect", "reason": reason, "debug_info": map[string]any{"host": "fake"}})
}

// handleLink upgrades a Socket Mode dial carrying a ticket from
// apps.connections.open. Tickets are single use.
func (s *Server) handleLink(w http.ResponseWriter, r *http.Request) {
	ticket := r.URL.Query().Get("ticket")
	s.mu.Lock()
	ok := s.tickets[ticket]
	delete(s.tickets, ticket)
	s.mu.Unlock()
	if !ok {
		http.Error(w, "invalid ticket", http.StatusUnauthorized)
		return
	}
	ws, err := s.upgrader.Upgrade(w, r, nil)
	if err != nil {
		return
	}
	ws.SetReadLimit(maxRequestBody)
	c := &wsConn{ws: ws, done: make(chan struct{})}
	c.wmu.Lock()
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		c.wmu.Unlock()
		c.close()
		return
	}
	if len(s.conns) >= maxConnections {
		s.logf("refusing connection: too_many_websockets")
		s.mu.Unlock()
		_ = c.writeLocked(disconnectFrame("too_many_websockets"))
		c.wmu.Unlock()
		s.closeLater(c)
		return
	}
	s.connSeq++
	c.id = s.connSeq
	s.conns = append(s.conns, c)
	s.opened++
	hello := mustJSON(map[string]any{
		"type":            "hello",
		"num_connections": len(s.conns),
		"connection_info": map[string]any{"app_id": s.opts.AppID},
		"debug_info":      map[string]any{"host": "fake", "approximate_connection_time": 18060},
	})
	s.wg.Add(2)
	s.notifyLocked()
	s.mu.Unlock()
	err = c.writeLocked(hello)
	c.wmu.Unlock()
	s.logf("connection %d opened", c.id)
	go s.readLoop(c)
	go s.pingLoop(c)
	if err != nil {
		c.close()
		return
	}
	s.flushQueue()
}

// closeLater closes c after Options.DisconnectGrace, or sooner if the
// server or the connection closes.
func (s *Server) closeLater(c *wsConn) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		c.close()
		return
	}
	s.wg.Add(1)
	s.mu.Unlock()
	go func() {
		defer s.wg.Done()
		t := time.NewTimer(s.opts.DisconnectGrace)
		defer t.Stop()
		select {
		case <-t.C:
		case <-s.done:
		case <-c.done:
		}
		c.close()
	}()
}

// readLoop reads acknowledgements until the connection fails. Frames of
// 20 KB or more are ignored, as Slack ignores them.
func (s *Server) readLoop(c *wsConn) {
	defer s.wg.Done()
	defer s.removeConn(c)
	for {
		typ, data, err := c.ws.ReadMessage()
		if err != nil {
			return
		}
		if typ != websocket.TextMessage && typ != websocket.BinaryMessage {
			continue
		}
		if len(data) >= maxAckFrame {
			s.mu.Lock()
			s.ignoredFrames++
			s.notifyLocked()
			s.mu.Unlock()
			s.logf("connection %d: ignored a %d-byte frame", c.id, len(data))
			continue
		}
		var ack struct {
			EnvelopeID string          `json:"envelope_id"`
			Payload    json.RawMessage `json:"payload"`
		}
		if json.Unmarshal(data, &ack) != nil || ack.EnvelopeID == "" {
			continue
		}
		s.handleAck(ack.EnvelopeID, ack.Payload)
	}
}

func (s *Server) removeConn(c *wsConn) {
	c.close()
	s.mu.Lock()
	defer s.mu.Unlock()
	if i := slices.Index(s.conns, c); i >= 0 {
		s.conns = slices.Delete(s.conns, i, i+1)
		s.logf("connection %d closed", c.id)
		s.notifyLocked()
	}
}

// pingLoop sends a WebSocket PING right away and then every PingInterval,
// unless StopPinging is in effect.
func (s *Server) pingLoop(c *wsConn) {
	defer s.wg.Done()
	t := time.NewTicker(s.opts.PingInterval)
	defer t.Stop()
	for {
		s.mu.Lock()
		stopped := s.pingStopped
		s.mu.Unlock()
		if !stopped {
			if err := c.ws.WriteControl(websocket.PingMessage, []byte("Ping from fakeslack"), time.Now().Add(5*time.Second)); err != nil {
				c.close()
				return
			}
		}
		select {
		case <-t.C:
		case <-c.done:
			return
		case <-s.done:
			return
		}
	}
}

// Disconnect sends {"type":"disconnect","reason":reason} to every
// connection, stops dispatching to them and closes them after
// Options.DisconnectGrace. Slack's reasons are "warning",
// "refresh_requested", "link_disabled" and "too_many_websockets". It returns
// how many connections were told.
func (s *Server) Disconnect(reason string) int {
	s.mu.Lock()
	conns := slices.Clone(s.conns)
	for _, c := range conns {
		c.draining = true
	}
	s.mu.Unlock()
	frame := disconnectFrame(reason)
	for _, c := range conns {
		_ = c.write(frame)
		s.closeLater(c)
	}
	s.logf("disconnect %q sent to %d connections", reason, len(conns))
	return len(conns)
}

// DropConnections closes every connection abruptly, without a close frame,
// and returns how many there were.
func (s *Server) DropConnections() int {
	s.mu.Lock()
	conns := slices.Clone(s.conns)
	s.mu.Unlock()
	for _, c := range conns {
		c.close()
	}
	return len(conns)
}

// StopPinging stops (true) or resumes (false) WebSocket PINGs. slack-go
// reconnects when no ping arrives within its ping interval.
func (s *Server) StopPinging(stop bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.pingStopped = stop
}

// Connections returns how many WebSocket connections are open now.
func (s *Server) Connections() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.conns)
}

// ConnectionsOpened returns how many connections were ever accepted and sent
// a hello (refused ones do not count).
func (s *Server) ConnectionsOpened() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.opened
}

// IgnoredFrames returns how many client frames were ignored for being 20 KB
// or larger.
func (s *Server) IgnoredFrames() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ignoredFrames
}

// pickConnLocked chooses the connection for the next envelope, or nil.
func (s *Server) pickConnLocked() *wsConn {
	var live []*wsConn
	for _, c := range s.conns {
		if !c.draining {
			live = append(live, c)
		}
	}
	if len(live) == 0 {
		return nil
	}
	if s.opts.RandomDispatch {
		return live[s.rng.IntN(len(live))]
	}
	s.rr++
	return live[s.rr%len(live)]
}
