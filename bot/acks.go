package bot

import (
	"context"
	"sync"
	"time"

	"github.com/slack-go/slack/socketmode"
)

// inbound is one Socket Mode request waiting for its acknowledgement.
type inbound struct {
	client   *socketmode.Client
	req      *socketmode.Request
	received time.Time
}

// acker sends the acknowledgements of Events API envelopes on a goroutine
// of its own (Bot.runAcks), in the order they were added: a turn's once it
// is durable (the store calls back on its writer's goroutine, which must
// never wait for the Socket Mode connection), any other event's at once
// (the event loop must not wait for it either). One goroutine for all of a
// batch's acknowledgements, rather than one woken for each, leaves the
// cores to the loop that reads the next envelopes.
type acker struct {
	mu    sync.Mutex
	queue []inbound
	wake  chan struct{}
}

func newAcker() *acker { return &acker{wake: make(chan struct{}, 1)} }

// add queues in's acknowledgement.
func (a *acker) add(in inbound) {
	a.mu.Lock()
	a.queue = append(a.queue, in)
	a.mu.Unlock()
	select {
	case a.wake <- struct{}{}:
	default:
	}
}

// take returns the acknowledgements queued, oldest first, and forgets them.
func (a *acker) take() []inbound {
	a.mu.Lock()
	defer a.mu.Unlock()
	q := a.queue
	a.queue = nil
	return q
}

// runAcks sends the acknowledgements queued until ctx ends. Those left
// then are given up: Slack delivers their events again, and the store
// finds them duplicates.
func (b *Bot) runAcks(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			for range b.acks.take() {
				b.queue.Gate.Abandon()
			}
			return
		case <-b.acks.wake:
		}
		for _, in := range b.acks.take() {
			b.ackCtx(ctx, in.client, in.req, nil)
			b.acked(in)
		}
	}
}

// acked counts in's acknowledgement: its time, for the metrics and the
// turn gate.
func (b *Bot) acked(in inbound) {
	d := time.Since(in.received)
	b.metrics().Ack(d)
	b.queue.Gate.Observe(d)
}
