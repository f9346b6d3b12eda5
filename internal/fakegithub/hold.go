package fakegithub

import (
	"net/http"
	"sync/atomic"

	"github.com/tandembot/tandem/internal/fakeoauth"
)

// HoldComments makes the next comments be stored and then held before
// their responses leave: stored receives once for each comment stored, and
// release lets every held response (and every later one) go. A client
// killed meanwhile made its comment and never heard so.
func (s *Server) HoldComments() (stored <-chan struct{}, release func()) {
	return fakeoauth.HoldOn(&s.hold)
}

// HoldSearches is HoldComments for issue searches ("list my open PRs"):
// answered receives once for each search answered, whose response then
// waits for release. A turn is thereby kept running, after its request
// reached GitHub, for as long as a test needs.
func (s *Server) HoldSearches() (answered <-chan struct{}, release func()) {
	return fakeoauth.HoldOn(&s.holdSearch)
}

// held runs h, then the hold set in slot (HoldComments, HoldSearches), if
// any.
func held(slot *atomic.Pointer[func()], h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		h(w, r)
		if hold := slot.Load(); hold != nil {
			(*hold)()
		}
	}
}
