package fakegithub

import (
	"net/http"
	"sync"
)

// HoldComments makes the next comments be stored and then held before
// their responses leave: stored receives once for each comment stored, and
// release lets every held response (and every later one) go. A client
// killed meanwhile made its comment and never heard so.
func (s *Server) HoldComments() (stored <-chan struct{}, release func()) {
	ch := make(chan struct{}, 16)
	gate := make(chan struct{})
	var once sync.Once
	hold := func() {
		select {
		case ch <- struct{}{}:
		default:
		}
		<-gate
	}
	s.hold.Store(&hold)
	return ch, func() {
		once.Do(func() {
			s.hold.Store(nil)
			close(gate)
		})
	}
}

// held runs h, then the hold HoldComments set, if any.
func (s *Server) held(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		h(w, r)
		if hold := s.hold.Load(); hold != nil {
			(*hold)()
		}
	}
}
