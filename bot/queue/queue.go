// Package queue orders the turns of sessions: each session's one at a
// time in the order they came, different sessions at once, within a pool
// of slots per provider. It knows nothing of Slack or the store.
package queue

import (
	"sync"

	"github.com/tandembot/tandem"
)

// Dispatcher runs the work submitted for one session one piece at a time,
// in the order it was submitted, and different sessions concurrently; a
// running turn holds one of at most concurrency slots of its provider's
// pool. A slow session holds at most one slot, and a backlog at one
// provider never takes the slots of another's turns (a bulkhead per
// provider).
type Dispatcher struct {
	// Gate, when set, admits each turn after its pool's slot, so that
	// Slack's acknowledgements keep up when the machine is overloaded.
	Gate *Gate
	// MaxSessions bounds the sessions queued or running here (0: no
	// bound): past it, Wake leaves a session's turns in the store, for
	// the inbox's poll, so a backlog costs the store and not memory.
	MaxSessions int
	// RunTakesSlots says that run takes the slots of the turns it runs
	// itself, through Slot: for a run that picks from the store which turn
	// of the session runs, the woken turn's pool is only a hint (used for
	// MaxSessions). Such a run must set it: otherwise each of its turns
	// holds two slots of its pool, and a full pool waits on itself.
	RunTakesSlots bool
	// OnFree, when set, is called when a session's last turn here ends
	// and at most half of MaxSessions are left, so that the poll fetches
	// more from the store (at its own pace).
	OnFree func()

	run    func(tandem.Turn)
	poolOf func(tandem.Turn) string // nil: one pool

	concurrency int
	poolsMu     sync.Mutex
	pools       map[string]chan struct{}

	mu       sync.Mutex
	queues   map[tandem.SessionKey][]tandem.Turn // a key present means a drainer runs
	poolOfQ  map[tandem.SessionKey]string        // the pool each session here was taken for
	byPool   map[string]int                      // sessions here by that pool
	wg       sync.WaitGroup
	stopping bool
}

// Stop makes drainers start no further turns; queued ones stay unrun.
func (d *Dispatcher) Stop() {
	d.mu.Lock()
	d.stopping = true
	d.mu.Unlock()
}

// New returns a Dispatcher that runs at most concurrency turns at once for
// each pool, the pool poolOf names for each turn (nil: one pool for all).
// Past MaxSessions, Wake still takes a session whose turn's pool has fewer
// than concurrency sessions here, so that a backlog at one provider never
// keeps another's turns out (the bound grows by concurrency per pool at
// most).
func New(concurrency int, poolOf func(tandem.Turn) string, run func(tandem.Turn)) *Dispatcher {
	return &Dispatcher{
		run: run, poolOf: poolOf, concurrency: concurrency,
		pools: map[string]chan struct{}{}, queues: map[tandem.SessionKey][]tandem.Turn{},
		poolOfQ: map[tandem.SessionKey]string{}, byPool: map[string]int{},
	}
}

// Slot waits for a free slot of the named pool, then (with a Gate) for the
// gate, and returns what gives them back: free gives back the pool's slot
// alone, for a turn done with its provider that still replies and records
// (it stays counted at the gate, which bounds the work of every turn
// started); release gives back both. Each may be called more than once,
// and release after free gives back only what free kept.
func (d *Dispatcher) Slot(pool string) (free, release func()) {
	d.poolsMu.Lock()
	p, ok := d.pools[pool]
	if !ok {
		p = make(chan struct{}, d.concurrency)
		d.pools[pool] = p
	}
	d.poolsMu.Unlock()
	p <- struct{}{}
	var freed, left sync.Once
	free = func() { freed.Do(func() { <-p }) }
	if d.Gate == nil {
		return free, free
	}
	// The pool's slot first: a turn waiting at the gate holds only its
	// own provider's slot, never another provider's turn's.
	leave := d.Gate.Enter(pool)
	return free, func() {
		left.Do(leave)
		free()
	}
}

// Submit queues t behind the earlier turns of its session.
func (d *Dispatcher) Submit(t tandem.Turn) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.enqueue(t)
}

// Wake queues t like Submit, unless its session already has a turn queued
// that has not started: for a run that reads what to do from the store
// when it starts, that one stands for t as well. With MaxSessions sessions
// here already (and concurrency of t's pool), it queues
// nothing and reports false: t waits in the store. Once the dispatcher is
// stopping it queues nothing either (a turn recorded late in a stop waits
// in the store for the next start), and reports true.
func (d *Dispatcher) Wake(t tandem.Turn) bool {
	d.mu.Lock()
	if d.stopping {
		d.mu.Unlock()
		return true
	}
	if q, here := d.queues[t.Session]; here {
		// Its pool is not needed: no pool's share changes. (Naming it
		// may parse t, which the session's run may have done already.)
		if len(q) == 0 {
			d.enqueue(t)
		}
		d.mu.Unlock()
		return true
	}
	d.mu.Unlock()
	pool := d.pool(t)
	d.mu.Lock()
	defer d.mu.Unlock()
	q, here := d.queues[t.Session]
	if len(q) > 0 {
		return true
	}
	if !here && d.MaxSessions > 0 && len(d.queues) >= d.MaxSessions && (d.poolOf == nil || d.byPool[pool] >= d.concurrency) {
		return false
	}
	if !here {
		d.poolOfQ[t.Session] = pool
		d.byPool[pool]++
	}
	d.enqueue(t)
	return true
}

// Room is how many more sessions Wake would take now, at least 1 with
// room or 0 when full; -1 without MaxSessions.
func (d *Dispatcher) Room() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.MaxSessions <= 0 {
		return -1
	}
	return max(0, d.MaxSessions-len(d.queues))
}

// Full reports whether Wake would turn a new session away.
func (d *Dispatcher) Full() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.MaxSessions > 0 && len(d.queues) >= d.MaxSessions
}

func (d *Dispatcher) enqueue(t tandem.Turn) {
	q, running := d.queues[t.Session]
	d.queues[t.Session] = append(q, t)
	if !running {
		d.wg.Add(1)
		go d.drain(t.Session)
	}
}

func (d *Dispatcher) drain(key tandem.SessionKey) {
	defer d.wg.Done()
	for {
		d.mu.Lock()
		q := d.queues[key]
		if len(q) == 0 || d.stopping {
			delete(d.queues, key)
			if pool, ok := d.poolOfQ[key]; ok {
				delete(d.poolOfQ, key)
				d.byPool[pool]--
			}
			free := d.OnFree != nil && !d.stopping && d.MaxSessions > 0 && len(d.queues) <= d.MaxSessions/2
			d.mu.Unlock()
			if free {
				d.OnFree()
			}
			return
		}
		t := q[0]
		d.queues[key] = q[1:]
		d.mu.Unlock()

		if d.RunTakesSlots {
			d.run(t)
			continue
		}
		_, release := d.Slot(d.pool(t))
		d.run(t)
		release()
	}
}

// pool is the pool of t ("" without poolOf).
func (d *Dispatcher) pool(t tandem.Turn) string {
	if d.poolOf == nil {
		return ""
	}
	return d.poolOf(t)
}

// Has reports whether key has turns queued or running here.
func (d *Dispatcher) Has(key tandem.SessionKey) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	_, ok := d.queues[key]
	return ok
}

// Stopped reports whether Stop was called.
func (d *Dispatcher) Stopped() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.stopping
}

// Sessions returns how many sessions have turns queued or running.
func (d *Dispatcher) Sessions() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.queues)
}

// Wait returns when every drainer has finished.
func (d *Dispatcher) Wait() { d.wg.Wait() }
