// Package paced runs an operation open-loop at a fixed rate, as events
// arrive, and measures each run from the moment it was due: the floor
// benchmarks use it to say what the disk or the database alone allows an
// acknowledgement at a given rate. It is for benchmarks only.
package paced

import (
	"context"
	"os"
	"slices"
	"strconv"
	"testing"
	"time"
)

// Run calls op once every 1/rate seconds for d, one call at a time, and
// returns, for each call, the time from when it was due to when it
// returned. A call that is due while an earlier one is still running waits
// for it, as an event waits behind a stalled flush, and that wait counts.
// It stops at the first error op returns, or when ctx ends.
func Run(ctx context.Context, rate int, d time.Duration, op func() error) ([]time.Duration, error) {
	interval := time.Second / time.Duration(rate)
	n := int(d / interval)
	out := make([]time.Duration, 0, n)
	start := time.Now()
	for i := range n {
		due := start.Add(time.Duration(i) * interval)
		if wait := time.Until(due); wait > 0 {
			t := time.NewTimer(wait)
			select {
			case <-ctx.Done():
				t.Stop()
				return out, ctx.Err()
			case <-t.C:
			}
		}
		if err := op(); err != nil {
			return out, err
		}
		out = append(out, time.Since(due))
	}
	return out, nil
}

// Pct is the p-th percentile of ds in milliseconds (0 for none).
func Pct(ds []time.Duration, p float64) float64 {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	i := int(float64(len(s))*p/100+0.5) - 1
	i = max(0, min(i, len(s)-1))
	return float64(s[i]) / float64(time.Millisecond)
}

// Settings reads TANDEM_BENCH_FLOOR_RATE (calls a second, default 200, the
// rate of issue 16's ack row) and TANDEM_BENCH_FLOOR_DURATION (default
// 10s; 60s for that row's window), failing tb on a value it cannot read.
func Settings(tb testing.TB) (rate int, d time.Duration) {
	tb.Helper()
	rate, d = 200, 10*time.Second
	if v := os.Getenv("TANDEM_BENCH_FLOOR_RATE"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 {
			tb.Fatalf("TANDEM_BENCH_FLOOR_RATE=%q: want a positive number", v)
		}
		rate = n
	}
	if v := os.Getenv("TANDEM_BENCH_FLOOR_DURATION"); v != "" {
		x, err := time.ParseDuration(v)
		if err != nil || x <= 0 {
			tb.Fatalf("TANDEM_BENCH_FLOOR_DURATION=%q: want a duration", v)
		}
		d = x
	}
	return rate, d
}

// Report reports the percentiles of a floor benchmark's calls, in
// milliseconds, and how many there were.
func Report(b *testing.B, ds []time.Duration) {
	b.ReportMetric(Pct(ds, 50), "p50-ms")
	b.ReportMetric(Pct(ds, 99), "p99-ms")
	b.ReportMetric(Pct(ds, 99.9), "p99.9-ms")
	b.ReportMetric(Pct(ds, 100), "max-ms")
	b.ReportMetric(float64(len(ds)), "calls")
}

// Bench is a floor benchmark's loop: each iteration calls op open-loop at
// Settings' rate for its duration, and the percentiles of every call are
// reported at the end. It fails b at op's first error.
func Bench(b *testing.B, op func() error) {
	b.Helper()
	rate, d := Settings(b)
	var all []time.Duration
	for b.Loop() {
		ds, err := Run(context.Background(), rate, d, op)
		if err != nil {
			b.Fatal(err)
		}
		all = append(all, ds...)
	}
	Report(b, all)
}
