package main

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tandembot/tandem/internal/fakeslack"
)

// TestGracefulShutdown: a stop finishes the running turn, starts no queued
// one, and the next start runs what was left, each exactly once.
func TestGracefulShutdown(t *testing.T) {
	e := newEnv(t)
	e.start()
	e.connect("UALICE", "alice-gh")
	e.connect("UBOB", "bob-gh")
	e.gh.SetLatency(1500 * time.Millisecond)
	root, _ := e.mention("UALICE", "list my open PRs", "")
	e.mention("UBOB", "list my open PRs", root) // queued behind Alice's
	waitFor(t, "Alice's turn to call GitHub", func() bool { return strings.Contains(e.logs.String(), `"msg":"credentials resolved"`) })
	e.stop()
	replies := func(who string) int {
		return e.count(func(m fakeslack.Message) bool {
			return m.ThreadTS == root && strings.Contains(plain(m), "ran as <@"+who+"> · GitHub")
		})
	}
	if a, b := replies("UALICE"), replies("UBOB"); a != 1 || b != 0 {
		t.Fatalf("after the stop: Alice %d replies (want 1, finished), Bob %d (want 0, not started)", a, b)
	}
	e.gh.SetLatency(0)
	e.start()
	e.reply(root, "ran as <@UBOB> · GitHub: bob-gh")
	if a, b := replies("UALICE"), replies("UBOB"); a != 1 || b != 1 {
		t.Errorf("after restart: Alice %d, Bob %d replies; want 1 each", a, b)
	}
}

// TestMetricsEndpoint: /metrics speaks Prometheus and counts what happened.
func TestMetricsEndpoint(t *testing.T) {
	e := newEnv(t)
	e.start()
	e.connect("UALICE", "alice-gh")
	root, _ := e.mention("UALICE", "list my open PRs", "")
	e.reply(root, "ran as <@UALICE>")
	var body []byte
	waitFor(t, "the turn in /metrics", func() bool {
		resp, err := http.Get(e.public + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ = io.ReadAll(resp.Body)
		return strings.Contains(string(body), "tandem_turn_latency_seconds_bucket")
	})
	for _, want := range []string{
		`tandem_turns_total{outcome="ok",provider="github",replica=`,
		"tandem_ack_latency_seconds_count",
		`tandem_provider_call_seconds_count{code="200",provider="github"`,
		"tandem_turn_latency_seconds_bucket",
		"tandem_inbox_depth",
		"tandem_open_sessions",
		"tandem_token_refreshes_total",
		"tandem_slack_rate_limit_wait_seconds_total",
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}
