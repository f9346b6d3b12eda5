package api

import (
	"testing"
	"time"
)

// The slowdown lifts failWindow after the failsAllowed-th most recent
// failure, and a client whose failures all expired is forgotten.
func TestFailureLogExpires(t *testing.T) {
	var l failureLog
	t0 := time.Date(2026, 11, 29, 10, 0, 0, 0, time.UTC)
	for i := range failsAllowed {
		l.add("198.51.100.1", t0.Add(time.Duration(i)*time.Second))
	}
	last := t0.Add(time.Duration(failsAllowed-1) * time.Second)
	if got := l.blocked("198.51.100.1", last); got != failWindow-(failsAllowed-1)*time.Second {
		t.Errorf("blocked right after the %dth failure: %v, want %v", failsAllowed, got, failWindow-(failsAllowed-1)*time.Second)
	}
	if got := l.blocked("198.51.100.1", t0.Add(failWindow)); got != 0 {
		t.Errorf("blocked once the oldest failure left the window: %v, want 0", got)
	}
	l.add("192.0.2.1", last.Add(failWindow))
	if clients, times := l.tracked("198.51.100.1"); clients != 1 || times != 0 {
		t.Errorf("after every failure expired: %d clients tracked, %d failures of the old one; want 1 and 0", clients, times)
	}
}
