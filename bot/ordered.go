package bot

import "sync"

// ordered runs the functions given for one key one after another, in the
// order they were given, and those of different keys concurrently. The
// event loop records each session's events through it: a busy session
// delays no other session's acknowledgement, and a session's messages are
// still recorded in the order Slack delivered them.
type ordered struct {
	mu      sync.Mutex
	pending map[string][]func() // a key present means a goroutine drains it
	wg      sync.WaitGroup
}

// Go runs fn after the functions given before for key, on another
// goroutine.
func (o *ordered) Go(key string, fn func()) {
	o.mu.Lock()
	if o.pending == nil {
		o.pending = map[string][]func(){}
	}
	q, draining := o.pending[key]
	o.pending[key] = append(q, fn)
	o.mu.Unlock()
	if draining {
		return
	}
	o.wg.Add(1)
	go func() {
		defer o.wg.Done()
		o.drain(key)
	}()
}

func (o *ordered) drain(key string) {
	for {
		o.mu.Lock()
		q := o.pending[key]
		if len(q) == 0 {
			delete(o.pending, key)
			o.mu.Unlock()
			return
		}
		fn := q[0]
		o.pending[key] = q[1:]
		o.mu.Unlock()
		fn()
	}
}

// Wait waits until every function given has run.
func (o *ordered) Wait() { o.wg.Wait() }
