package bot

import (
	"sync"

	"github.com/tandembot/tandem"
)

// dispatcher runs turns of one session one at a time, in the order they were
// submitted, and turns of different sessions concurrently up to a limit. A
// slow session holds at most one slot, so it never blocks others beyond the
// limit.
type dispatcher struct {
	run   func(tandem.Turn)
	slots chan struct{}

	mu       sync.Mutex
	queues   map[tandem.SessionKey][]tandem.Turn // a key present means a drainer runs
	wg       sync.WaitGroup
	stopping bool
}

// stop makes drainers start no further turns; queued ones stay unrun.
func (d *dispatcher) stop() {
	d.mu.Lock()
	d.stopping = true
	d.mu.Unlock()
}

func newDispatcher(concurrency int, run func(tandem.Turn)) *dispatcher {
	return &dispatcher{run: run, slots: make(chan struct{}, concurrency), queues: map[tandem.SessionKey][]tandem.Turn{}}
}

// submit queues t behind the earlier turns of its session.
func (d *dispatcher) submit(t tandem.Turn) {
	d.mu.Lock()
	defer d.mu.Unlock()
	q, running := d.queues[t.Session]
	d.queues[t.Session] = append(q, t)
	if !running {
		d.wg.Add(1)
		go d.drain(t.Session)
	}
}

func (d *dispatcher) drain(key tandem.SessionKey) {
	defer d.wg.Done()
	for {
		d.mu.Lock()
		q := d.queues[key]
		if len(q) == 0 || d.stopping {
			delete(d.queues, key)
			d.mu.Unlock()
			return
		}
		t := q[0]
		d.queues[key] = q[1:]
		d.mu.Unlock()

		d.slots <- struct{}{}
		d.run(t)
		<-d.slots
	}
}

// has reports whether key has turns queued or running here.
func (d *dispatcher) has(key tandem.SessionKey) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	_, ok := d.queues[key]
	return ok
}

// stopped reports whether stop was called.
func (d *dispatcher) stopped() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.stopping
}

// sessions returns how many sessions have turns queued or running.
func (d *dispatcher) sessions() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.queues)
}

// wait returns when every drainer has finished.
func (d *dispatcher) wait() { d.wg.Wait() }
