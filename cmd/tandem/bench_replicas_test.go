package main

import (
	"context"
	"io"
	"net/http"
	"os"
	"os/exec"
	"testing"
	"time"
)

// startReplica runs one more tandem serve in this process on its own HTTP
// address, sharing the env's database and Slack app, and waits until it is
// ready. It stops when the benchmark ends.
func (e *benchEnv) startReplica(tb testing.TB) {
	tb.Helper()
	vars := map[string]string{}
	for k, v := range e.vars {
		vars[k] = v
	}
	addr := "127.0.0.1:" + benchFreePort(tb)
	vars["TANDEM_HTTP_ADDR"] = addr
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	opened := e.slack.ConnectionsOpened()
	go func() {
		done <- run(ctx, []string{"serve"}, func(k string) string { return vars[k] }, io.Discard, e.logs)
	}()
	tb.Cleanup(func() { cancel(); <-done })
	deadline := time.Now().Add(60 * time.Second)
	for {
		if resp, err := http.Get("http://" + addr + "/readyz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 && e.slack.ConnectionsOpened() > opened {
				return
			}
		}
		if time.Now().After(deadline) {
			tb.Fatalf("replica on %s did not become ready\n%s", addr, e.logTail())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// startReplicaProcess runs tandem serve as a child process (this test
// binary, as main runs it) on addr, sharing the env's database and Slack
// app, and waits until it is ready. It is killed when the benchmark ends.
func (e *benchEnv) startReplicaProcess(tb testing.TB, addr string) {
	tb.Helper()
	exe, err := os.Executable()
	if err != nil {
		tb.Fatal(err)
	}
	cmd := exec.Command(exe, "serve")
	cmd.Env = childEnv(e.vars, addr)
	cmd.Stderr = e.logs
	opened := e.slack.ConnectionsOpened()
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	tb.Cleanup(func() { cmd.Process.Signal(os.Interrupt); <-exited })
	deadline := time.Now().Add(60 * time.Second)
	for {
		select {
		case <-exited:
			tb.Fatalf("replica process on %s ended while starting\n%s", addr, e.logTail())
		default:
		}
		if resp, err := http.Get("http://" + addr + "/readyz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 && e.slack.ConnectionsOpened() > opened {
				return
			}
		}
		if time.Now().After(deadline) {
			tb.Fatalf("replica process on %s did not become ready\n%s", addr, e.logTail())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// BenchmarkReplicas compares ack latency and turn throughput at 200 new
// turns/s on bbolt (one process, the only option) with one and three
// replicas on PostgreSQL sharing one Slack app (envelopes go to any
// connection). It needs TANDEM_BENCH_DATABASE_URL for the PostgreSQL cases;
// without it only bbolt runs. One iteration is one window of
// TANDEM_BENCH_ACK_DURATION (default 5s); use -benchtime=1x. The
// "-processes" cases run every replica as its own tandem serve process, as
// they would be deployed (on one machine here, so they share its cores).
// durable-floor-postgres-1 runs turnFloor (bench_floor_test.go) instead of
// Tandem, keeping each event and each turn's end in the same database: what
// an app that loses nothing could do here.
func BenchmarkReplicas(b *testing.B) {
	window := benchEnvDuration(b, "TANDEM_BENCH_ACK_DURATION", 5*time.Second)
	rate := benchEnvInt(b, "TANDEM_BENCH_ACK_RATE", 200)
	pg := os.Getenv("TANDEM_BENCH_DATABASE_URL")
	cases := []struct {
		name      string
		replicas  int
		pg        bool
		processes bool
		floor     bool // turnFloor, durable in the database, instead of Tandem
	}{{"bbolt-1", 1, false, false, false}, {"postgres-1", 1, true, false, false}, {"postgres-3", 3, true, false, false},
		{"postgres-1-processes", 1, true, true, false}, {"postgres-3-processes", 3, true, true, false},
		{"durable-floor-postgres-1", 1, true, false, true}}
	for _, c := range cases {
		if c.pg && pg == "" {
			continue
		}
		b.Run(c.name, func(b *testing.B) {
			if !c.pg {
				b.Setenv("TANDEM_BENCH_DATABASE_URL", "")
			}
			e := newBenchEnv(b, benchOptions{users: 20})
			var floor *turnFloor
			switch {
			case c.floor:
				// As many turns at once as Tandem's gate lets through.
				floor = startTurnFloor(b, e, 4*64, pgLog(b, e.vars["TANDEM_DATABASE_URL"]))
			case c.processes:
				e.startReplicaProcess(b, e.vars["TANDEM_HTTP_ADDR"])
				for i := 1; i < c.replicas; i++ {
					e.startReplicaProcess(b, "127.0.0.1:"+benchFreePort(b))
				}
			default:
				e.start()
				for i := 1; i < c.replicas; i++ {
					e.startReplica(b)
				}
			}
			var runs []ackStats
			turns := 0
			var busy time.Duration
			for b.Loop() {
				began := time.Now()
				st, _, t, _ := e.ackWindow(b, "distinct", rate, window)
				busy += time.Since(began)
				runs = append(runs, st)
				turns += t
				if floor != nil {
					floor.check(b)
				}
			}
			ackStats{}.report(b, runs)
			b.ReportMetric(float64(turns)/busy.Seconds(), "turns/s")
			b.ReportMetric(float64(c.replicas), "replicas")
		})
	}
}
