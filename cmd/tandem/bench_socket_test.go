package main

import (
	"context"
	"testing"
	"time"

	"github.com/slack-go/slack"
	"github.com/slack-go/slack/socketmode"
	"github.com/tandembot/tandem/internal/fakeslack"
	"github.com/tandembot/tandem/internal/paced"
)

// BenchmarkSocketFloor is the floor of the acknowledgement path: the fake
// Slack delivers a burst of 1,000 app_mention envelopes over Socket Mode to
// the real slack-go client, and a loop that acknowledges each at once
// (nothing recorded, no turn). It reports when the burst's last envelope
// (the one a message sent right behind a burst waits behind) was
// acknowledged, and the acks' p50 and p99: what no app on this client and
// this machine can beat, for BenchmarkConcurrency's gitlab-behind-storm-ms
// and BenchmarkAckLatency to be read against.
func BenchmarkSocketFloor(b *testing.B) {
	const burst = 1000
	sl := fakeslack.New(fakeslack.Options{
		BotToken: benchBotToken, AppToken: benchAppToken,
		Users:        []fakeslack.User{{ID: "UB00000", Name: "bench"}},
		Channels:     []fakeslack.Channel{{ID: benchChannel, Name: "bench"}},
		PingInterval: 200 * time.Millisecond, AckTimeout: 30 * time.Second,
	})
	if err := sl.Start(); err != nil {
		b.Fatal(err)
	}
	defer sl.Close()
	api := slack.New(benchBotToken, slack.OptionAppLevelToken(benchAppToken), slack.OptionAPIURL(sl.APIURL()))
	client := socketmode.New(api)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	serveSocket(ctx, client, func(evt socketmode.Event) { client.Ack(*evt.Request) })
	if err := sl.WaitFor(ctx, func() bool { return sl.Connections() > 0 }); err != nil {
		b.Fatal(err)
	}
	var last []float64
	var acks []time.Duration
	for b.Loop() {
		var envs []string
		for range burst {
			ev := fakeslack.AppMentionEvent(benchChannel, "UB00000", "<@"+sl.BotUserID()+"> list my open PRs", sl.NextTS(), "")
			env, _, err := sl.DeliverEvent(ev)
			if err != nil {
				b.Fatal(err)
			}
			envs = append(envs, env)
		}
		var lastAck time.Duration
		for _, env := range envs {
			d, err := sl.WaitAck(ctx, env)
			if err != nil {
				b.Fatal(err)
			}
			acks = append(acks, d.AckAfter)
			lastAck = d.AckAfter
		}
		last = append(last, float64(lastAck)/float64(time.Millisecond))
	}
	b.ReportMetric(last[len(last)/2], "last-of-burst-ms")
	b.ReportMetric(paced.Pct(acks, 50), "ack-p50-ms")
	b.ReportMetric(paced.Pct(acks, 99), "ack-p99-ms")
}

// serveSocket runs client until ctx ends and hands each envelope that
// awaits an acknowledgement to handle, one at a time, in the order they
// arrived.
func serveSocket(ctx context.Context, client *socketmode.Client, handle func(socketmode.Event)) {
	go client.RunContext(ctx)
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case evt := <-client.Events:
				if evt.Request != nil && evt.Request.EnvelopeID != "" {
					handle(evt)
				}
			}
		}
	}()
}
