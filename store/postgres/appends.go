package postgres

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tandembot/tandem"
)

// appendBatch gathers the AppendTurn calls that arrive while earlier ones
// are being written, so that many events share one round trip and one
// commit (one WAL flush): a batch is one pipeline of inserts that
// PostgreSQL runs as one implicit transaction. At most appendConns batches
// are in flight, one per connection of the appends pool.
type appendBatch struct {
	mu      sync.Mutex
	pending []*pgAppend
	writers int
	closed  bool
	wg      sync.WaitGroup
}

// pgAppend is one AppendTurn waiting for its batch.
type pgAppend struct {
	args     []any
	durable  func(error)
	recorded func(tandem.Recorded)
}

// maxAppendBatch bounds the inserts of one batch.
const maxAppendBatch = 256

// AppendTurn queues t to be recorded as RecordTurn does, in a batch with
// the appends that came meanwhile, on a pool of connections of its own,
// and returns: the running turns' queries never hold the connection it
// needs. Once the batch is committed, durable and then recorded are
// called (committed is both durable and in the inbox). When the batch's
// transaction fails, durable gets the error for every append of that
// batch, none of which is recorded, and Slack delivers each again.
// AppendTurn fails at once for an invalid turn or a closed store.
func (db *DB) AppendTurn(t tandem.Turn, durable func(error), recorded func(tandem.Recorded)) error {
	if err := checkTurn(t); err != nil {
		return fmt.Errorf("postgres: append turn: %w", err)
	}
	req := &pgAppend{args: turnArgs(tandem.TurnRecord{Turn: t, State: tandem.TurnPending}, db.now()), durable: durable, recorded: recorded}
	b := &db.batch
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return fmt.Errorf("postgres: append turn: %w", errClosed)
	}
	b.pending = append(b.pending, req)
	start := b.writers < appendConns
	if start {
		b.writers++
		b.wg.Add(1)
	}
	b.mu.Unlock()
	if start {
		go db.writeAppends()
	}
	return nil
}

// closeAppends refuses further appends and waits for the batches being
// written.
func (b *appendBatch) closeAppends() {
	b.mu.Lock()
	b.closed = true
	b.mu.Unlock()
	b.wg.Wait()
}

// writeAppends writes batches of pending appends until none is left.
func (db *DB) writeAppends() {
	b := &db.batch
	defer b.wg.Done()
	for {
		b.mu.Lock()
		n := min(len(b.pending), maxAppendBatch)
		if n == 0 {
			b.writers--
			b.mu.Unlock()
			return
		}
		reqs := b.pending[:n:n]
		b.pending = b.pending[n:]
		b.mu.Unlock()
		db.writeBatch(reqs)
	}
}

// appendTimeout bounds the writing of one batch: past it the batch fails
// (Slack, unacknowledged, delivers its events again), so a stalled
// database holds Close for at most that long per batch still to write.
const appendTimeout = 10 * time.Second

// writeBatch inserts reqs in one pipeline and tells each what it found.
// The batch has a deadline of its own rather than its callers' contexts:
// it serves many callers, and one caller leaving must not fail the rest.
func (db *DB) writeBatch(reqs []*pgAppend) {
	ctx, cancel := context.WithTimeout(context.Background(), appendTimeout)
	defer cancel()
	var pb pgx.Batch
	for _, r := range reqs {
		pb.Queue(insertTurn+` ON CONFLICT DO NOTHING`, r.args...)
	}
	res := db.appends.SendBatch(ctx, &pb)
	dups := make([]bool, len(reqs))
	var err error
	for i := range reqs {
		tag, e := res.Exec()
		if e != nil {
			err = e
			break
		}
		dups[i] = tag.RowsAffected() == 0
	}
	if e := res.Close(); err == nil {
		err = e
	}
	err = db.fail(ctx, "append turn", err)
	for i, r := range reqs {
		r.durable(err)
		if err == nil {
			r.recorded(tandem.Recorded{Duplicate: dups[i]})
		}
	}
}
