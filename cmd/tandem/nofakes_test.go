package main

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// TestBinaryLinksNoFakes: the production binary contains none of the
// internal/fake* packages, whose consent pages sign anyone in as anyone.
// The console, which runs the app against them, is cmd/tandem-console.
// This is `go list -deps ./cmd/tandem` (test files are not part of the
// binary, so they may use the fakes).
func TestBinaryLinksNoFakes(t *testing.T) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skipf("go is not on PATH: %v", err)
	}
	cmd := exec.Command(goBin, "list", "-deps", ".")
	// Everything go list needs is in the module cache already (this test
	// was built from it); never reach for the network.
	cmd.Env = append(os.Environ(), "GOPROXY=off")
	out, err := cmd.Output()
	if err != nil {
		var stderr string
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = string(ee.Stderr)
		}
		t.Fatalf("go list -deps ./cmd/tandem: %v\n%s", err, stderr)
	}
	deps := strings.Fields(string(out))
	var sawApp bool
	for _, p := range deps {
		if strings.HasPrefix(p, "github.com/tandembot/tandem/internal/fake") {
			t.Errorf("cmd/tandem links %s: the fakes belong in tests and cmd/tandem-console only", p)
		}
		sawApp = sawApp || p == "github.com/tandembot/tandem/app"
	}
	if !sawApp {
		t.Errorf("go list -deps did not list github.com/tandembot/tandem/app; is this the dependency list of cmd/tandem?\n%s", out)
	}
}

// TestConsoleCommandPointsToTandemConsole: tandem console no longer runs a
// console; it fails, naming the command that does.
func TestConsoleCommandPointsToTandemConsole(t *testing.T) {
	var out strings.Builder
	err := run(context.Background(), []string{"console", "--auto-consent"}, func(string) string { return "" }, &out, &out)
	if err == nil || !strings.Contains(err.Error(), "go run ./cmd/tandem-console") {
		t.Fatalf("tandem console: %v, want an error naming go run ./cmd/tandem-console", err)
	}
	if strings.Contains(err.Error(), "\n") {
		t.Errorf("tandem console: the pointer is more than one line: %q", err)
	}
}
