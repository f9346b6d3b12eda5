package main

import (
	"bytes"
	"os"
	"strings"
	"testing"
)

func TestAllowPeerOnlyTheSameUser(t *testing.T) {
	me := uint32(os.Getuid())
	if !allowPeer(me) {
		t.Errorf("allowPeer(%d) refuses tandem's own user", me)
	}
	for _, other := range []uint32{me + 1, me - 1, 65534, 0} {
		if other == me {
			continue
		}
		if allowPeer(other) {
			t.Errorf("allowPeer(%d) lets another OS user in (tandem runs as %d)", other, me)
		}
	}
}

// TestAdminSocketServesItsOwner: the running serve's admin socket is owner
// only, and an operator command from the same OS user goes through it.
func TestAdminSocketServesItsOwner(t *testing.T) {
	e := newEnv(t)
	e.start()
	fi, err := os.Stat(socketPath(e.db))
	if err != nil {
		t.Fatal(err)
	}
	if got := fi.Mode().Perm(); got != 0o600 {
		t.Errorf("admin socket mode %o, want 600", got)
	}
	var stdout, stderr bytes.Buffer
	if err := run(ctxFor(t), []string{"audit"}, e.getenv, &stdout, &stderr); err != nil {
		t.Fatalf("tandem audit: %v\n%s", err, stderr.String())
	}
	if !strings.Contains(stderr.String(), "running inside") {
		t.Errorf("tandem audit did not go through the admin socket: %s", stderr.String())
	}
}
