package bot

import (
	"sync"

	"github.com/tandembot/tandem"
)

// dispatcher runs turns of one session one at a time, in the order they were
// submitted, and turns of different sessions concurrently up to a limit per
// provider. A slow session holds at most one slot, and a backlog at one
// provider never takes the slots of another's turns (a bulkhead per
// provider).
type dispatcher struct {
	run   func(tandem.Turn)
	slots func(tandem.Turn) chan struct{}

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

// newDispatcher runs at most concurrency turns at once for each pool that
// poolOf names (the provider a turn needs).
func newDispatcher(concurrency int, poolOf func(tandem.Turn) string, run func(tandem.Turn)) *dispatcher {
	var mu sync.Mutex
	pools := map[string]chan struct{}{}
	slots := func(t tandem.Turn) chan struct{} {
		name := poolOf(t)
		mu.Lock()
		defer mu.Unlock()
		p, ok := pools[name]
		if !ok {
			p = make(chan struct{}, concurrency)
			pools[name] = p
		}
		return p
	}
	return &dispatcher{run: run, slots: slots, queues: map[tandem.SessionKey][]tandem.Turn{}}
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

		slots := d.slots(t)
		slots <- struct{}{}
		d.run(t)
		<-slots
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
