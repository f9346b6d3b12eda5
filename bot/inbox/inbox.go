// Package inbox runs the durable inbox's turns: each session's unfinished
// turns in the order they were sent, under a session lease that lets
// several replicas share one store, picked one at a time with the store's
// NextTurn and parsed once. It knows nothing of Slack: the caller runs each
// picked turn, posts the interrupted notice and counts takeovers through
// the callbacks of Config.
//
// Session leases: the replica that holds a session's lease runs that
// session's unfinished turns, oldest first, whichever replica recorded
// them. A replica that dies stops renewing its leases (every LeaseTTL/3),
// and another takes over after LeaseTTL. A replica whose renewal fails or
// finds the lease taken starts no further turn of that session.
package inbox

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tandembot/tandem"
	"github.com/tandembot/tandem/turns"
)

// leasePrefix starts the name of each session's lease.
const leasePrefix = tandem.SessionLeasePrefix

// pollEvery is how often the inbox is scanned for turns no replica is
// running (recorded elsewhere, or left by a dead replica).
const pollEvery = time.Second

// Store is what the runner needs of the store.
type Store interface {
	Waiting(ctx context.Context, leasePrefix string, max int) (tandem.Waiting, error)
	TurnRecord(ctx context.Context, id string) (tandem.TurnRecord, error)
	NextTurn(ctx context.Context, key tandem.SessionKey) (tandem.TurnRecord, error)
	Lease(ctx context.Context, name, owner string, ttl time.Duration) (bool, error)
	RenewLease(ctx context.Context, name, owner string, ttl time.Duration) (bool, error)
	ReleaseLease(ctx context.Context, name, owner string) error
	LeaseNextTurn(ctx context.Context, name, owner string, ttl time.Duration, key tandem.SessionKey) (tandem.TurnRecord, error)
	NextTurnOrRelease(ctx context.Context, key tandem.SessionKey, name, owner string) (tandem.TurnRecord, error)
}

// Queue is what the runner needs of the dispatcher that calls
// Runner.RunSession for each session (package queue's Dispatcher).
type Queue interface {
	// Slot waits for a slot of pool and returns what gives it back: free
	// the pool's slot alone, release all it took; each is idempotent.
	Slot(pool string) (free, release func())
	// Stopped reports whether no further turn may start.
	Stopped() bool
	// Has reports whether key's session is queued or running.
	Has(key tandem.SessionKey) bool
	// Wake asks for t's session to be run; false when it cannot take one
	// more session now (t stays in the store for a later poll).
	Wake(t tandem.Turn) bool
	// Room is how many more sessions Wake would take now; 0 or less for no
	// bound.
	Room() int
}

// Config wires a Runner.
type Config struct {
	Store Store
	Queue Queue
	// Run runs one picked turn to its reply and reports whether it is
	// done; false (stopping) leaves it for the next run of its session.
	Run func(Job) bool
	// Interrupted tells the turn's sender that a mutating turn was cut off
	// by a crash, and marks it done; it is not run again.
	Interrupted func(ctx context.Context, t tandem.Turn)
	// Takeover counts a turn taken over from a process that stopped or
	// died while running it (nil: not counted).
	Takeover func()
	// Context returns the context turns run under (nil: Background).
	Context func() context.Context
	// Parse reads a turn's text as a command (nil: the general operations
	// only, turns.Operations{}.Parse).
	Parse  func(text string) turns.Command
	Logger *slog.Logger
	// LeaseTTL is how long a session lease lasts without renewal (default
	// 30s).
	LeaseTTL time.Duration
	// ReorderWindow is how long a pending turn waits before it runs, so
	// that an earlier message recorded a moment later by another replica
	// still runs first (0 with one process).
	ReorderWindow time.Duration
	Now           func() time.Time
	// Busy, when set, tells the sender of a turn recorded by this process
	// (Noted) that has waited BusyAfter without starting that it is
	// queued, with how many turns were waiting before it; once per turn.
	Busy      func(t tandem.Turn, ahead int)
	BusyAfter time.Duration
	// Capacity is how many turns may run at once now (nil: no bound): a
	// turn is told it waits only while the inbox holds more than that,
	// not when it merely waits behind its own thread's earlier turn.
	Capacity func() int
}

// Runner runs the inbox's turns, one session at a time per session.
type Runner struct {
	cfg   Config
	log   *slog.Logger
	owner string // names this runner in session leases
	// depth counts turns recorded and not finished, as of the last poll,
	// and oldest is when the oldest of them was received (Unix ns; 0 for
	// none).
	depth, oldest atomic.Int64
	// parsed keeps commands parsed to recognise a turn until it is picked.
	parsed parsedTurns
	// kick asks Poll to look at the store now.
	kick chan struct{}
	// leftInStore is set when sessions may wait in the store that no
	// poll since has read: a woken session the queue turned away, or a
	// poll that read only as many as the queue could take.
	leftInStore atomic.Bool
	// noted are turns recorded here and not yet told they wait (Busy),
	// by id, with how many were ahead of them when they came.
	notedMu sync.Mutex
	noted   map[string]notedTurn
	// telling is set while busy notices are being posted.
	telling atomic.Bool
	// live estimates the inbox's depth between polls: the last poll's
	// depth, plus the turns recorded here since, minus those finished
	// here since (counted in recorded and finished).
	recorded, finished atomic.Int64
	base               struct{ depth, recorded, finished int64 }
}

// notedTurn is a turn recorded here that may be told it waits.
type notedTurn struct {
	t        tandem.Turn
	ahead    int64 // turns unfinished when it came
	finished int64 // turns finished here when it came
}

// New returns a Runner; it runs nothing until its Queue calls RunSession or
// Poll runs.
func New(cfg Config) *Runner {
	if cfg.LeaseTTL <= 0 {
		cfg.LeaseTTL = 30 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Parse == nil {
		cfg.Parse = turns.Operations{}.Parse
	}
	if cfg.Context == nil {
		cfg.Context = context.Background
	}
	if cfg.Takeover == nil {
		cfg.Takeover = func() {}
	}
	if cfg.BusyAfter <= 0 {
		cfg.BusyAfter = 5 * time.Second
	}
	return &Runner{cfg: cfg, log: cfg.Logger, owner: newOwner(), kick: make(chan struct{}, 1), noted: map[string]notedTurn{}}
}

// maxNoted bounds the turns kept for a busy notice; past it, a turn is
// not told it waits (it still runs in order).
const maxNoted = 20_000

// Note marks t as recorded by this process, so that Poll tells its sender
// when it waits long (Config.Busy), with how many turns were ahead of it.
func (r *Runner) Note(t tandem.Turn) {
	n := r.recorded.Add(1)
	if r.cfg.Busy == nil {
		return
	}
	r.notedMu.Lock()
	defer r.notedMu.Unlock()
	if len(r.noted) >= maxNoted {
		return
	}
	fin := r.finished.Load()
	ahead := max(0, r.base.depth+(n-1-r.base.recorded)-(fin-r.base.finished))
	r.noted[t.ID] = notedTurn{t: t, ahead: ahead, finished: fin}
}

// Unnote forgets t for busy notices: it was a duplicate, or not recorded.
func (r *Runner) Unnote(t tandem.Turn) {
	r.recorded.Add(-1)
	r.notedMu.Lock()
	delete(r.noted, t.ID)
	r.notedMu.Unlock()
}

// Kick makes Poll look at the store now rather than at its next tick (at
// most every minPoll).
func (r *Runner) Kick() {
	select {
	case r.kick <- struct{}{}:
	default:
	}
}

// LeftInStore tells the runner that a session was left in the store (the
// queue turned it away), so that the next Refill polls for it.
func (r *Runner) LeftInStore() { r.leftInStore.Store(true) }

// Refill kicks the poll when the store may hold sessions left for it (a
// session turned away, or a poll cut short by the queue's room), and
// reports whether it did. The queue calls it as room frees; without
// anything left in the store it does nothing, so a replica that keeps up
// reads the inbox once a second rather than after every turn.
func (r *Runner) Refill() bool {
	if !r.leftInStore.Load() {
		return false
	}
	r.Kick()
	return true
}

// minPoll is the shortest time between two polls Kick asks for.
const minPoll = 100 * time.Millisecond

// Depth returns how many turns were recorded and not finished at the last
// poll.
func (r *Runner) Depth() int { return int(r.depth.Load()) }

// Oldest returns when the oldest turn that was unfinished at the last poll
// was received (zero when there was none).
func (r *Runner) Oldest() time.Time {
	ns := r.oldest.Load()
	if ns == 0 {
		return time.Time{}
	}
	return time.Unix(0, ns)
}

// newOwner names one runner in leases: unique per Runner, so two bots in
// one process contend like two replicas.
func newOwner() string {
	host, _ := os.Hostname()
	b := make([]byte, 4)
	rand.Read(b)
	return host + "-" + hex.EncodeToString(b)
}

// RunSession runs every unfinished turn of t's session, in the order they
// were sent, while holding the session's lease. It returns at once when
// another replica holds the lease: that replica runs them, or the poll finds
// them once its lease expires. The lease is taken with the read of the
// session's first turn (Store.LeaseNextTurn), and each later turn is picked
// with one read of the store (the session's next turn) that, when it finds
// none, releases the lease in the same round trip (NextTurnOrRelease). Each
// turn is parsed once and run in a slot of the pool of the provider it
// needs. With a reorder window (several replicas), a pending turn younger
// than the window waits it out and the session is read again after it, so a
// message recorded a moment later by another replica still goes first.
func (r *Runner) RunSession(t tandem.Turn) {
	ctx := r.cfg.Context()
	key := t.Session
	name := leasePrefix + key.String()
	store := r.cfg.Store
	owner := r.owner
	// When this run ends, the commands kept for the session's turns before
	// its last look at the store (the lease it did not get, or a read that
	// found no turn) are of turns another replica runs or that are done.
	seen := r.parsed.mark()
	defer func() { r.parsed.forget(key, seen) }()
	release := func() { store.ReleaseLease(context.WithoutCancel(ctx), name, owner) }
	readAt := r.cfg.Now()
	rec, err := store.LeaseNextTurn(ctx, name, owner, r.cfg.LeaseTTL, key)
	switch tandem.ErrorCode(err) {
	case "":
	case tandem.ENOTHELD:
		return // another replica runs the session
	case tandem.ENOTFOUND:
		release() // nothing left to run
		return
	default:
		if ctx.Err() == nil {
			r.log.Error("take session lease", "session", key.String(), "err", err)
		}
		release() // in case the lease was taken before the read failed
		return
	}
	// held ends when the lease can no longer be counted on; the turn
	// running then finishes (under Run's context), but no other starts.
	held, lost := context.WithCancel(ctx)
	defer lost()
	// The lease is renewed while a turn runs or waits, and renewal stops
	// before every read that may release it (and before the release
	// below), so that a renewal in flight cannot take the lease again
	// after its release.
	renewal := r.renew(ctx, name, lost)
	released := false
	defer func() {
		renewal.stop()
		if !released {
			release()
		}
	}()
	waited := ""
	q := r.cfg.Queue
	going := func() bool { return held.Err() == nil && !q.Stopped() }
	for going() {
		rec, err = r.waitOut(held, key, rec, readAt, &waited)
		if err != nil {
			return
		}
		j := r.parse(rec)
		j.Hold = tandem.Hold{Name: name, Owner: owner}
		interrupted := false
		if j.State == tandem.TurnRunning {
			// Started before, by a process that stopped or died in the
			// middle: a change may have reached the provider.
			r.cfg.Takeover()
			interrupted = j.Cmd.Mutating() || turns.MakesChanges(j.Turn)
			if interrupted {
				r.cfg.Interrupted(ctx, j.Turn)
			} else {
				r.log.Info("running an interrupted turn again", "turn", j.Turn.ID, "session", key.String())
			}
		}
		if !interrupted && !r.runJob(held, j) {
			// Not finished (stopping, or the lease was lost before a
			// change): it stays for the session's next run.
			return
		}
		if !going() {
			return
		}
		renewal.stop()
		seen = r.parsed.mark()
		readAt = r.cfg.Now()
		rec, err = store.NextTurnOrRelease(held, key, name, owner)
		if tandem.ErrorCode(err) == tandem.ENOTFOUND {
			released = true
			return
		}
		if err != nil {
			if held.Err() == nil {
				r.log.Error("read inbox", "session", key.String(), "err", err)
			}
			return
		}
		renewal = r.renew(ctx, name, lost)
	}
}

// runJob runs j in a slot of its provider's pool, unless the lease is lost
// or the runner stops while it waits for one, and reports whether j is
// finished.
func (r *Runner) runJob(held context.Context, j Job) bool {
	q := r.cfg.Queue
	free, release := q.Slot(j.Pool())
	defer release()
	j.FreeSlot = free
	if held.Err() != nil || q.Stopped() {
		return false // it stays for whoever runs the session next
	}
	r.started(j.Turn)
	if !r.cfg.Run(j) {
		return false
	}
	r.finished.Add(1)
	return true
}

// renewal is a session lease's renewal running (Runner.renew).
type renewal struct {
	stop func() // stops it and waits until it has stopped; idempotent
}

// renew renews the session lease name in the background until its stop
// (Runner.renewLease); it outlives a stop's cancellation of ctx, while
// running turns finish.
func (r *Runner) renew(ctx context.Context, name string, lost func()) renewal {
	renewCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan struct{})
	go func() {
		defer close(done)
		r.renewLease(renewCtx, name, lost)
	}()
	return renewal{stop: func() {
		cancel()
		<-done
	}}
}

// renewLease renews the session lease name every LeaseTTL/3 until ctx
// ends. When a renewal fails or finds that another replica took the lease,
// it logs, calls lost and stops renewing: from then on another replica may
// run the session's turns, so this one must start no further turn of it.
// A failed renewal is treated as a lost lease rather than retried, because
// giving up is cheap: the lease is released (or expires) and the poll
// submits the session again within pollEvery.
func (r *Runner) renewLease(ctx context.Context, name string, lost func()) {
	t := time.NewTicker(r.cfg.LeaseTTL / 3)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		ok, err := r.cfg.Store.RenewLease(ctx, name, r.owner, r.cfg.LeaseTTL)
		switch {
		case ctx.Err() != nil:
			return // the session is done; a renewal cut short means nothing
		case err != nil:
			r.log.Error("renew session lease; starting no further turn here", "lease", name, "err", err)
		case !ok:
			r.log.Warn("session lease lost (released, or taken by another replica); starting no further turn here", "lease", name)
		default:
			continue
		}
		lost()
		return
	}
}

// waitOut returns rec, the session's next turn as read at readAt (the
// read's start), when it may run now. With a reorder window (several
// replicas):
//   - a pending turn that was younger than the window when it was read
//     first waits for the rest of it, so a message recorded a moment later
//     by another replica still goes first, and the session is read again,
//     also when the window has passed meanwhile; a turn waits so once
//     (waited names the turn that last did), whatever the clock that
//     stamped it says;
//   - a read that took longer than the window (a stall, a slow database)
//     is made again, once: what it found may be stale, since another
//     replica may have run that turn meanwhile.
//
// It fails with ctx's error, or the read's (ENOTFOUND when the session has
// no unfinished turn left).
func (r *Runner) waitOut(ctx context.Context, key tandem.SessionKey, rec tandem.TurnRecord, readAt time.Time, waited *string) (tandem.TurnRecord, error) {
	slowOnce := false
	for {
		young := rec.State == tandem.TurnPending && rec.Turn.ID != *waited && r.reorderWaitAt(rec.Turn, readAt) > 0
		slow := r.cfg.ReorderWindow > 0 && r.cfg.Now().Sub(readAt) > r.cfg.ReorderWindow && !slowOnce
		switch {
		case young:
			select {
			case <-ctx.Done():
				return tandem.TurnRecord{}, ctx.Err()
			case <-time.After(max(0, r.reorderWait(rec.Turn))):
			}
			*waited = rec.Turn.ID
		case slow:
			slowOnce = true
		default:
			return rec, nil
		}
		readAt = r.cfg.Now()
		var err error
		rec, err = r.cfg.Store.NextTurn(ctx, key)
		if err != nil {
			if ctx.Err() == nil && tandem.ErrorCode(err) != tandem.ENOTFOUND {
				r.log.Error("read inbox", "session", key.String(), "err", err)
			}
			return tandem.TurnRecord{}, err
		}
	}
}

// reorderWait is how much longer t waits before it runs: what is left of
// the reorder window since it was received, never more than the window
// itself (a turn received by a replica whose clock is ahead).
func (r *Runner) reorderWait(t tandem.Turn) time.Duration {
	return r.reorderWaitAt(t, r.cfg.Now())
}

// reorderWaitAt is what was left of t's reorder window at now.
func (r *Runner) reorderWaitAt(t tandem.Turn, now time.Time) time.Duration {
	return min(r.cfg.ReorderWindow-now.Sub(t.ReceivedAt), r.cfg.ReorderWindow)
}

// Poll submits every session that has unfinished turns, is not queued here
// and whose lease nobody holds: at once (what a previous run left), and
// then every second (turns another replica recorded, or left behind when
// it died), until ctx ends. It reads one turn per such session, so a deep
// inbox or the sessions other replicas are running cost it little.
func (r *Runner) Poll(ctx context.Context) {
	t := time.NewTicker(pollEvery)
	defer t.Stop()
	for {
		// Only as many sessions as the queue can take: a deep backlog
		// stays in the store and costs this poll nothing more.
		recorded, finished := r.recorded.Load(), r.finished.Load()
		limit := r.cfg.Queue.Room()
		switch {
		case limit < 0:
			limit = 0 // no bound: every session
		case limit == 0:
			limit = 1 // full: only the depth is of use
		}
		// What this poll does not read is marked left below; what came
		// before it, it reads.
		r.leftInStore.Store(false)
		w, err := r.cfg.Store.Waiting(ctx, leasePrefix, limit)
		if err != nil || limit > 0 && len(w.Next) >= limit {
			r.leftInStore.Store(true)
		}
		if err == nil {
			r.notedMu.Lock()
			r.base.depth, r.base.recorded, r.base.finished = int64(w.Unfinished), recorded, finished
			r.notedMu.Unlock()
			r.depth.Store(int64(w.Unfinished))
			var oldest int64
			if !w.Oldest.IsZero() {
				oldest = w.Oldest.UnixNano()
			}
			r.oldest.Store(oldest)
			// Oldest first: when the queue can take only some sessions,
			// those that waited longest go first.
			slices.SortFunc(w.Next, func(a, b tandem.TurnRecord) int { return a.Turn.ReceivedAt.Compare(b.Turn.ReceivedAt) })
			for _, rec := range w.Next {
				if !r.cfg.Queue.Has(rec.Turn.Session) && !r.cfg.Queue.Wake(rec.Turn) {
					r.leftInStore.Store(true)
					break
				}
			}
			// Busy notices are posts to Slack, which may wait out its
			// rate limits: never in the way of the next poll.
			if r.telling.CompareAndSwap(false, true) {
				go func() {
					defer r.telling.Store(false)
					r.tellBusy(ctx)
				}()
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-r.kick:
			select {
			case <-ctx.Done():
				return
			case <-time.After(minPoll):
			}
		}
	}
}

// tellBusy tells the sender of each turn recorded here that has waited
// BusyAfter without starting (here or on another replica: the store says
// it is still pending) that it is queued, once, with the turns still
// ahead of it (those ahead when it came, less those finished here since).
func (r *Runner) tellBusy(ctx context.Context) {
	if r.cfg.Busy == nil {
		return
	}
	now, fin := r.cfg.Now(), r.finished.Load()
	var due []notedTurn
	r.notedMu.Lock()
	for id, n := range r.noted {
		if now.Sub(n.t.ReceivedAt) >= r.cfg.BusyAfter {
			due = append(due, n)
			delete(r.noted, id)
		}
	}
	r.notedMu.Unlock()
	if r.cfg.Capacity != nil && r.depth.Load() <= int64(r.cfg.Capacity()) {
		return // not busy: they wait behind their own threads
	}
	slices.SortFunc(due, func(a, b notedTurn) int { return a.t.ReceivedAt.Compare(b.t.ReceivedAt) })
	for _, n := range due {
		rec, err := r.cfg.Store.TurnRecord(ctx, n.t.ID)
		if err != nil || rec.State != tandem.TurnPending {
			continue
		}
		r.cfg.Busy(n.t, int(max(1, n.ahead-(fin-n.finished))))
	}
}

// started forgets t for busy notices: it runs now.
func (r *Runner) started(t tandem.Turn) {
	if r.cfg.Busy == nil {
		return
	}
	r.notedMu.Lock()
	delete(r.noted, t.ID)
	r.notedMu.Unlock()
}
