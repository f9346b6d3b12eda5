package bot

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"time"

	"github.com/tandembot/tandem"
)

// Session leases let several replicas share one store: the replica that
// holds a session's lease runs that session's unfinished turns, oldest
// first, whichever replica recorded them. A replica that dies stops renewing
// its leases (every LeaseTTL/3), and another takes over after LeaseTTL. A
// replica whose renewal fails or finds the lease taken starts no further
// turn of that session.

// pollEvery is how often the inbox is scanned for turns no replica is
// running (recorded elsewhere, or left by a dead replica).
const pollEvery = time.Second

// newOwner names one bot in leases: unique per Bot, so two bots in one
// process contend like two replicas.
func newOwner() string {
	host, _ := os.Hostname()
	b := make([]byte, 4)
	rand.Read(b)
	return host + "-" + hex.EncodeToString(b)
}

// Takeovers counts turns this process took over from a replica that died.
type takeoverRecorder interface{ Takeover() }

// runSession runs every unfinished turn of t's session, in the order they
// were sent, while holding the session's lease. It returns at once when
// another replica holds the lease: that replica runs them, or the poll finds
// them once its lease expires. Each turn is picked with one read of the
// store (the session's next turn), parsed once, and run in a slot of the
// pool of the provider it needs.
func (b *Bot) runSession(t tandem.Turn) {
	ctx := b.runCtx()
	key := t.Session
	name := "session/" + key.String()
	store := b.cfg.Store
	owner := b.owner
	// When this run ends, the commands kept for the session's turns before
	// its last look at the store (the lease it did not get, or a read that
	// found no turn) are of turns another replica runs or that are done.
	seen := b.parsed.mark()
	defer func() { b.parsed.forget(key, seen) }()
	if ok, err := store.Lease(ctx, name, owner, b.cfg.LeaseTTL); err != nil || !ok {
		if err != nil && ctx.Err() == nil {
			b.log.Error("take session lease", "session", key.String(), "err", err)
		}
		return
	}
	defer store.ReleaseLease(context.WithoutCancel(ctx), name, owner)
	// held ends when the lease can no longer be counted on; the turn
	// running then finishes (under Run's context), but no other starts.
	held, lost := context.WithCancel(ctx)
	defer lost()
	// Renewal outlives a stop's cancellation of ctx, while running turns
	// finish, and ends before the release above, so that a renewal in
	// flight cannot take the lease again after it.
	renewCtx, stopRenew := context.WithCancel(context.WithoutCancel(ctx))
	renewed := make(chan struct{})
	go func() {
		defer close(renewed)
		b.renewLease(renewCtx, name, lost)
	}()
	defer func() {
		stopRenew()
		<-renewed
	}()
	for held.Err() == nil && !b.queue.Stopped() {
		seen = b.parsed.mark()
		j, ok := b.next(held, key)
		if !ok {
			return
		}
		if j.State == tandem.TurnRunning {
			// Started before, by a process that stopped or died in the
			// middle: a change may have reached the provider.
			if tr, ok := b.cfg.Metrics.(takeoverRecorder); ok {
				tr.Takeover()
			}
			if j.mutating() {
				b.interrupted(ctx, j.Turn)
				continue
			}
			b.log.Info("running an interrupted turn again", "turn", j.Turn.ID, "session", key.String())
		}
		release := b.queue.Slot(j.pool())
		if held.Err() != nil || b.queue.Stopped() {
			release()
			return // it stays for whoever runs the session next
		}
		finished := b.runTurn(j)
		release()
		if !finished {
			return // not finished (stopping); it stays for the next run
		}
	}
}

// renewLease renews the session lease name every LeaseTTL/3 until ctx
// ends. When a renewal fails or finds that another replica took the lease,
// it logs, calls lost and stops renewing: from then on another replica may
// run the session's turns, so this one must start no further turn of it.
// A failed renewal is treated as a lost lease rather than retried, because
// giving up is cheap: the lease is released (or expires) and the poll
// submits the session again within pollEvery.
func (b *Bot) renewLease(ctx context.Context, name string, lost func()) {
	t := time.NewTicker(b.cfg.LeaseTTL / 3)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		ok, err := b.cfg.Store.Lease(ctx, name, b.owner, b.cfg.LeaseTTL)
		switch {
		case ctx.Err() != nil:
			return // the session is done; a renewal cut short means nothing
		case err != nil:
			b.log.Error("renew session lease; starting no further turn here", "lease", name, "err", err)
		case !ok:
			b.log.Warn("session lease lost to another replica; starting no further turn here", "lease", name)
		default:
			continue
		}
		lost()
		return
	}
}

// next picks the session's next turn to run: its earliest pending or
// running turn by the time its message was sent (Slack's ts), which is the
// thread's order even when replicas recorded the turns in another order,
// read from the store's index of the session's unfinished turns. With a
// reorder window (several replicas), a turn younger than the window waits
// for it, so a message recorded a moment later by another replica still
// goes first. The picked turn's text is parsed here, once.
func (b *Bot) next(ctx context.Context, key tandem.SessionKey) (job, bool) {
	for {
		rec, err := b.cfg.Store.NextTurn(ctx, key)
		if tandem.ErrorCode(err) == tandem.ENOTFOUND {
			return job{}, false
		}
		if err != nil {
			if ctx.Err() == nil {
				b.log.Error("read inbox", "session", key.String(), "err", err)
			}
			return job{}, false
		}
		wait := b.cfg.ReorderWindow - b.cfg.Now().Sub(rec.Turn.ReceivedAt)
		if rec.State != tandem.TurnPending || wait <= 0 {
			return b.parse(rec), true
		}
		select {
		case <-ctx.Done():
			return job{}, false
		case <-time.After(wait):
		}
	}
}

// poll submits every session that has unfinished turns and is not queued
// here: at start (what a previous run left), and then every pollEvery (turns
// another replica recorded, or left behind when it died).
func (b *Bot) poll(ctx context.Context) {
	t := time.NewTicker(pollEvery)
	defer t.Stop()
	for {
		recs, err := b.cfg.Store.UnfinishedTurns(ctx)
		if err == nil {
			b.inbox.Store(int64(len(recs)))
			seen := map[tandem.SessionKey]bool{}
			for _, r := range recs {
				if !seen[r.Turn.Session] && !b.queue.Has(r.Turn.Session) {
					seen[r.Turn.Session] = true
					b.submit(r.Turn)
				}
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
