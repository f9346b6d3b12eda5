// Package testclock is the tests' clock: it says the time the test set,
// and moves only when the test moves it, so that nothing in a test sleeps
// for a deadline, a window or a schedule.
package testclock

import (
	"sync"
	"time"
)

// Clock is a settable clock, safe for concurrent use; its Now fits every
// injectable clock of the product (a func() time.Time).
type Clock struct {
	mu  sync.Mutex
	now time.Time
}

// New is a clock that says t.
func New(t time.Time) *Clock { return &Clock{now: t} }

// Now is the time the test set.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Set makes the clock say t.
func (c *Clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}

// Advance moves the clock on by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}
