package main

import (
	"context"
	"os"
	"os/signal"
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
		err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
		stop()
		os.Exit(exitCode(err, os.Stderr))
	}
	os.Exit(m.Run())
}
