package queue

import (
	"sync"
	"time"
)

// Gate admits turns to start while Slack's acknowledgements keep up. The
// acknowledgement of an event and the turns already running share the
// machine's cores and the store's writer; when more than a tenth of the
// acknowledgements of a Window take longer than Target, the gate lets a
// fifth fewer turns run at once (down to Min), and otherwise a tenth more
// (up to Max): a multiplicative decrease and increase, as a congestion
// window does. A window in which no acknowledgement came counts as a fast
// one when no event was waiting for one (Arrive): nothing waited on the
// turns, so a limit cut during a burst grows back while the backlog it
// left runs, rather than holding until the next event comes. It counts as
// a slow one when an event still waits for its acknowledgement as the
// window closes: acknowledgements are late, not absent. Turns that wait at
// the gate enter in the order they came to it (after their pool's slot);
// none is dropped. A pool with no turn running is always let one in, so
// that a backlog at one provider never holds another's turns at the gate
// (the limit is then exceeded by at most one turn per pool).
type Gate struct {
	// Target is the acknowledgement time the gate keeps (default 10 ms).
	Target time.Duration
	// Window is how often the gate adjusts (default 100 ms).
	Window time.Duration
	// Min and Max bound how many turns may run at once (defaults 8 and
	// 256).
	Min, Max int
	// Now is the clock (default time.Now).
	Now func() time.Time

	once    sync.Once
	mu      sync.Mutex
	limit   float64
	running int
	byPool  map[string]int // running turns of each pool
	waiting []waiter       // turns waiting to enter, oldest first
	// The window being counted: when it began, its acknowledgements and
	// how many of them were slow.
	began      time.Time
	acks, slow int
	// unacked counts the events that arrived and are not yet
	// acknowledged or given up.
	unacked int
}

func (g *Gate) init() {
	g.once.Do(func() {
		if g.Target <= 0 {
			g.Target = 10 * time.Millisecond
		}
		if g.Window <= 0 {
			g.Window = 100 * time.Millisecond
		}
		if g.Min <= 0 {
			g.Min = 8
		}
		if g.Max <= 0 {
			g.Max = 256
		}
		g.Max = max(g.Max, g.Min)
		if g.Now == nil {
			g.Now = time.Now
		}
		g.byPool = map[string]int{}
		g.limit = float64(g.Max)
	})
}

// waiter is a turn waiting at the gate: ready is closed once it is let in.
type waiter struct {
	pool  string
	ready chan struct{}
}

// Enter waits until one more turn of pool may run, and returns what lets
// the next one in when this one ends. Turns waiting are let in oldest
// first among those that may run, each by the leave or adjustment that
// makes room for it: within a pool, one leaving turn lets in at most one
// waiting turn (a leave may also let in another pool's turn, as its pool's
// only one, past the limit).
func (g *Gate) Enter(pool string) (leave func()) {
	g.init()
	g.mu.Lock()
	g.roll(g.Now())
	if g.mayEnter(pool) {
		g.admit(pool)
		g.mu.Unlock()
	} else {
		w := waiter{pool: pool, ready: make(chan struct{})}
		g.waiting = append(g.waiting, w)
		g.mu.Unlock()
		<-w.ready // admitted on our behalf by letIn
	}
	var once sync.Once
	return func() {
		once.Do(func() {
			g.mu.Lock()
			defer g.mu.Unlock()
			g.running--
			g.byPool[pool]--
			g.roll(g.Now())
			g.letIn()
		})
	}
}

// mayEnter reports whether a turn of pool may run now: under the limit,
// or as its pool's only running turn. g.mu is held.
func (g *Gate) mayEnter(pool string) bool {
	return g.running < int(g.limit) || g.byPool[pool] == 0
}

func (g *Gate) admit(pool string) {
	g.running++
	g.byPool[pool]++
}

// letIn admits, oldest first, every waiting turn that may run now. g.mu is
// held.
func (g *Gate) letIn() {
	kept := g.waiting[:0]
	for _, w := range g.waiting {
		if g.mayEnter(w.pool) {
			g.admit(w.pool)
			close(w.ready)
			continue
		}
		kept = append(kept, w)
	}
	clear(g.waiting[len(kept):])
	g.waiting = kept
}

// Arrive tells the gate that an event came and waits for its
// acknowledgement; Observe or Abandon tells it that the wait ended.
func (g *Gate) Arrive() {
	g.init()
	g.mu.Lock()
	defer g.mu.Unlock()
	g.roll(g.Now())
	g.unacked++
}

// Observe tells the gate how long one acknowledgement took; the gate
// adjusts its limit at the end of each Window by that window's share of
// slow ones.
func (g *Gate) Observe(ack time.Duration) {
	g.init()
	g.mu.Lock()
	defer g.mu.Unlock()
	g.roll(g.Now())
	g.unacked = max(0, g.unacked-1)
	g.acks++
	if ack > g.Target {
		g.slow++
	}
}

// Abandon tells the gate that an event that arrived will not be
// acknowledged (Slack delivers it again).
func (g *Gate) Abandon() {
	g.init()
	g.mu.Lock()
	defer g.mu.Unlock()
	g.roll(g.Now())
	g.unacked = max(0, g.unacked-1)
}

// roll closes the windows that ended by now, if any: the one counted so
// far by its share of slow acknowledgements, and each later one, which
// had none, as a slow one if an event waited meanwhile and otherwise as a
// fast one. Turns and events call it as they come, so the gate needs no
// clock of its own: while nothing comes, nothing waits on its limit. g.mu
// is held.
func (g *Gate) roll(now time.Time) {
	if g.began.IsZero() {
		g.began = now
		return
	}
	windows := int(now.Sub(g.began) / g.Window)
	if windows < 1 {
		return
	}
	before := int(g.limit)
	cut := func() { g.limit = max(float64(g.Min), g.limit*0.8) }
	grow := func() { g.limit = min(float64(g.Max), g.limit*1.1+1) }
	if g.slow*10 > g.acks || g.acks == 0 && g.unacked > 0 {
		cut()
	} else {
		grow()
	}
	for range min(windows-1, 100) {
		if g.unacked > 0 {
			cut()
		} else {
			grow()
		}
	}
	g.began, g.acks, g.slow = g.began.Add(time.Duration(windows)*g.Window), 0, 0
	if int(g.limit) > before {
		g.letIn()
	}
}

// Limit returns how many turns may run at once now.
func (g *Gate) Limit() int {
	g.init()
	g.mu.Lock()
	defer g.mu.Unlock()
	return int(g.limit)
}

// Running returns how many turns are running.
func (g *Gate) Running() int {
	g.init()
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.running
}
