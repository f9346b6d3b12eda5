package bot

import "sync"

// ordered runs the functions given for one key one after another, in the
// order they were given, and those of different keys concurrently. A
// function finishes when it calls its done, which may be later and on
// another goroutine: the event loop records each session's events through
// it without waiting for the store, a busy session delays no other
// session's acknowledgement, and a session's messages are still recorded
// in the order Slack delivered them.
type ordered struct {
	mu sync.Mutex
	// pending holds, for each key with a function unfinished, the
	// functions given after it.
	pending map[string][]func(done func())
	wg      sync.WaitGroup
}

// Go runs fn on the caller's goroutine when no function given before for
// key is unfinished, and otherwise on a goroutine of its own once they all
// are. fn must call done exactly once.
func (o *ordered) Go(key string, fn func(done func())) {
	o.mu.Lock()
	if o.pending == nil {
		o.pending = map[string][]func(done func()){}
	}
	if q, busy := o.pending[key]; busy {
		o.pending[key] = append(q, fn)
		o.mu.Unlock()
		return
	}
	o.pending[key] = nil
	o.wg.Add(1)
	o.mu.Unlock()
	fn(o.doneFunc(key))
}

// doneFunc is what a function of key calls when it finishes: the next one
// given for key starts, or the key is idle.
func (o *ordered) doneFunc(key string) func() {
	return sync.OnceFunc(func() {
		o.mu.Lock()
		q := o.pending[key]
		if len(q) == 0 {
			delete(o.pending, key)
			o.mu.Unlock()
			o.wg.Done()
			return
		}
		next := q[0]
		o.pending[key] = q[1:]
		o.mu.Unlock()
		go next(o.doneFunc(key))
	})
}

// Wait waits until every function given has finished.
func (o *ordered) Wait() { o.wg.Wait() }
