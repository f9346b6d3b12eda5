package fakeoauth

import (
	"sync"
	"sync/atomic"
)

// HoldOn sets in slot a hold for the handlers that call it: each call
// sends once on reached (dropped when sixteen wait unread) and then waits
// until release, which clears slot and lets every held call, and every
// later one, go.
func HoldOn(slot *atomic.Pointer[func()]) (reached <-chan struct{}, release func()) {
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
	slot.Store(&hold)
	return ch, func() {
		once.Do(func() {
			slot.Store(nil)
			close(gate)
		})
	}
}
