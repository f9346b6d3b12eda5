// Package metrics exposes Tandem's Prometheus metrics: turns, latencies of
// acknowledgements, turns and provider calls, token refreshes, Slack rate
// limit waits, inbox depth and open sessions.
package metrics

import (
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/tandembot/tandem"
)

// Metrics records what Tandem does. Its methods are safe for concurrent use
// and never fail.
type Metrics struct {
	reg          *prometheus.Registry
	turns        *prometheus.CounterVec
	ackLatency   prometheus.Histogram
	turnLatency  *prometheus.HistogramVec
	providerCall *prometheus.HistogramVec
	refreshes    *prometheus.CounterVec
	rateWaits    *prometheus.CounterVec
	rateWaitSecs prometheus.Counter
	takeovers    prometheus.Counter
}

// Gauges reads values sampled at scrape time.
type Gauges struct {
	InboxDepth   func() float64
	OpenSessions func() float64
	// OldestWait is the age in seconds of the oldest unfinished turn, and
	// TurnLimit how many turns may run at once now.
	OldestWait func() float64
	TurnLimit  func() float64
}

// New registers Tandem's metrics with a fresh registry. replica names this
// process among several (per-replica counts).
func New(replica string, g Gauges) *Metrics {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	labels := prometheus.Labels{"replica": replica}
	buckets := []float64{.001, .002, .005, .01, .02, .05, .1, .25, .5, 1, 2.5, 5, 10, 30}
	m := &Metrics{
		reg: reg,
		turns: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "tandem_turns_total", Help: "Turns finished, by provider and outcome.", ConstLabels: labels},
			[]string{"provider", "outcome"}),
		ackLatency: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "tandem_ack_latency_seconds", Help: "Envelope received to acknowledgement sent, including the durable inbox write.", Buckets: buckets, ConstLabels: labels}),
		turnLatency: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "tandem_turn_latency_seconds", Help: "Turn start to reply posted.", Buckets: buckets, ConstLabels: labels},
			[]string{"provider"}),
		providerCall: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "tandem_provider_call_seconds", Help: "Provider HTTP calls, by provider and status code.", Buckets: buckets, ConstLabels: labels},
			[]string{"provider", "code"}),
		refreshes: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "tandem_token_refreshes_total", Help: "Token refreshes, by provider and result.", ConstLabels: labels},
			[]string{"provider", "result"}),
		rateWaits: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "tandem_slack_rate_limited_total", Help: "Slack 429 answers waited out, by method.", ConstLabels: labels},
			[]string{"method"}),
		rateWaitSecs: prometheus.NewCounter(prometheus.CounterOpts{Name: "tandem_slack_rate_limit_wait_seconds_total", Help: "Time spent waiting out Slack rate limits.", ConstLabels: labels}),
		takeovers:    prometheus.NewCounter(prometheus.CounterOpts{Name: "tandem_lease_takeovers_total", Help: "Unfinished turns of another replica taken over after its lease expired.", ConstLabels: labels}),
	}
	reg.MustRegister(m.turns, m.ackLatency, m.turnLatency, m.providerCall, m.refreshes, m.rateWaits, m.rateWaitSecs, m.takeovers)
	if g.InboxDepth != nil {
		reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "tandem_inbox_depth", Help: "Turns recorded and not yet finished.", ConstLabels: labels}, g.InboxDepth))
	}
	if g.OldestWait != nil {
		reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "tandem_inbox_oldest_wait_seconds", Help: "How long the oldest unfinished turn has waited since it was received.", ConstLabels: labels}, g.OldestWait))
	}
	if g.TurnLimit != nil {
		reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "tandem_turn_limit", Help: "Turns that may run at once now; below the configured concurrency while acknowledgements are slow.", ConstLabels: labels}, g.TurnLimit))
	}
	if g.OpenSessions != nil {
		reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "tandem_open_sessions", Help: "Sessions with a turn queued or running.", ConstLabels: labels}, g.OpenSessions))
	}
	return m
}

// Handler serves /metrics.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

// Ack records one acknowledgement's latency.
func (m *Metrics) Ack(d time.Duration) { m.ackLatency.Observe(d.Seconds()) }

// Turn records a finished turn.
func (m *Metrics) Turn(p tandem.ProviderID, outcome tandem.Outcome, d time.Duration) {
	label := string(p)
	if label == "" {
		label = "none"
	}
	m.turns.WithLabelValues(label, string(outcome)).Inc()
	m.turnLatency.WithLabelValues(label).Observe(d.Seconds())
}

// RateLimited records a Slack 429 waited out for d.
func (m *Metrics) RateLimited(method string, d time.Duration) {
	m.rateWaits.WithLabelValues(method).Inc()
	m.rateWaitSecs.Add(d.Seconds())
}

// Refresh records a token refresh and whether it worked.
func (m *Metrics) Refresh(p tandem.ProviderID, err error) {
	result := "ok"
	if err != nil {
		result = "failed"
	}
	m.refreshes.WithLabelValues(string(p), result).Inc()
}

// Takeover records a turn taken over from a dead replica.
func (m *Metrics) Takeover() { m.takeovers.Inc() }

// ProviderCall records one HTTP call to a provider (status 0: no answer).
func (m *Metrics) ProviderCall(p tandem.ProviderID, status int, d time.Duration) {
	code := strconv.Itoa(status)
	if status == 0 {
		code = "error"
	}
	m.providerCall.WithLabelValues(string(p), code).Observe(d.Seconds())
}

// Init creates the per-provider series at zero, so dashboards see them
// before the first event.
func (m *Metrics) Init(providers []tandem.ProviderID) {
	for _, p := range providers {
		m.refreshes.WithLabelValues(string(p), "ok")
		m.refreshes.WithLabelValues(string(p), "failed")
	}
}
