package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"runtime/pprof"
	"syscall"
	"testing"
	"time"
)

// childEnvVar, set to 1, makes the test binary run as the tandem binary
// instead of running tests: the fault tests (reliability_test.go) re-execute
// themselves this way to get a real process they can kill -9 or SIGTERM.
const childEnvVar = "TANDEM_TEST_CHILD"

// TestMain runs the tests, or, as a child started by the fault tests, runs
// tandem exactly as main does: run with the process's arguments and
// environment, SIGINT/SIGTERM cancelling its context, and main's exit status
// (exitCode: 0, 2 for a usage error, else 1).
func TestMain(m *testing.M) {
	if os.Getenv(benchPeerEnvVar) == "1" {
		os.Exit(runBenchPeer()) // BenchmarkOverload's durable peer
	}
	if os.Getenv(childEnvVar) == "1" {
		if f := os.Getenv(clockFileVar); f != "" {
			clock.now, clock.tick = fileClock(f), 20*time.Millisecond
		}
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		stopProfile := childProfile()
		err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
		stopProfile()
		stop()
		os.Exit(exitCode(err, os.Stderr))
	}
	os.Exit(m.Run())
}

// childProfileVar names a file prefix: a child started with it writes a
// CPU profile of its whole run to prefix.<pid> (for the benchmarks' serve
// processes; see docs/performance.md). It has no TANDEM_ prefix so that
// childEnv passes it through.
const childProfileVar = "BENCH_SERVE_CPUPROFILE"

// childProfile starts the CPU profile childProfileVar asks for, and
// returns what stops and writes it.
func childProfile() (stop func()) {
	prefix := os.Getenv(childProfileVar)
	if prefix == "" {
		return func() {}
	}
	f, err := os.Create(fmt.Sprintf("%s.%d", prefix, os.Getpid()))
	if err != nil {
		fmt.Fprintln(os.Stderr, "cpu profile:", err)
		return func() {}
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		fmt.Fprintln(os.Stderr, "cpu profile:", err)
		f.Close()
		return func() {}
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}
}
