package main

import (
	"bytes"
	"context"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestListenPrivateSocketIsOwnerOnlyAtCreation: the socket file has no bits
// for group or others when listenPrivate returns, before any chmod, under
// the usual umask 022 (with which a plain net.Listen makes it 0755).
func TestListenPrivateSocketIsOwnerOnlyAtCreation(t *testing.T) {
	umaskMu.Lock()
	old := syscall.Umask(0o022)
	umaskMu.Unlock()
	defer syscall.Umask(old)

	path := filepath.Join(t.TempDir(), "admin.sock")
	ln, err := listenPrivate(path)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode()&os.ModeSocket == 0 {
		t.Fatalf("%s is %v, not a socket", path, fi.Mode())
	}
	if got := fi.Mode().Perm(); got&0o077 != 0 {
		t.Errorf("socket mode %o right after listen, want no group or other bits", got)
	}
	if got := syscall.Umask(0o022); got != 0o022 {
		t.Errorf("listenPrivate left the umask at %o, want it restored to 022", got)
	}
}

func TestPeerUIDIsTheConnectingProcess(t *testing.T) {
	path := filepath.Join(t.TempDir(), "peer.sock")
	ln, err := listenPrivate(path)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	client, err := net.Dial("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	conn, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	uid, known, err := peerUID(conn)
	if err != nil || !known || uid != uint32(os.Getuid()) {
		t.Errorf("peerUID = %d, %v, %v; want %d, true, nil", uid, known, err, os.Getuid())
	}
}

// TestAdminSocketRefusesAnotherUser: even with the socket's permissions
// opened up (a wrong mode, a shared directory), an operator command run by
// another OS user is refused by the peer-credential check and logged, and
// the owner is still served. It needs root to start that other user's
// process.
func TestAdminSocketRefusesAnotherUser(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("needs root to run a client as another OS user")
	}
	const nobody = 65534
	e := newEnv(t)
	e.start()
	sock := socketPath(e.db)
	// Open the way to the socket for everyone: only allowPeer stands.
	root := filepath.Dir(filepath.Dir(e.db))
	binDir := t.TempDir()
	for _, p := range []string{root, filepath.Dir(e.db), binDir} {
		if err := os.Chmod(p, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chmod(sock, 0o666); err != nil {
		t.Fatal(err)
	}
	// The test binary, where another user can run it, as the tandem CLI
	// (TestMain's child mode).
	bin := filepath.Join(binDir, "tandem")
	copyFile(t, os.Args[0], bin)

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "audit")
	cmd.Env = []string{childEnvVar + "=1", "TANDEM_DB=" + e.db}
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: nobody, Gid: nobody}}
	out, err := cmd.CombinedOutput()
	if err == nil {
		t.Errorf("another OS user's operator command was served:\n%s", out)
	}
	if !strings.Contains(string(out), "admin socket") {
		t.Errorf("the other user's command did not reach the admin socket (so this test proves nothing):\n%s", out)
	}
	// serveAdmin logs the refusal before it closes the connection the child
	// saw end.
	if logs := e.logs.String(); !strings.Contains(logs, "refused a connection from another OS user") || !strings.Contains(logs, `"peer_uid":65534`) {
		t.Errorf("no warning names the refused peer:\n%s", logs)
	}

	var stdout, stderr bytes.Buffer
	if err := run(ctxFor(t), []string{"audit"}, e.getenv, &stdout, &stderr); err != nil || !strings.Contains(stderr.String(), "running inside") {
		t.Errorf("the owner's command after the refusal: %v\n%s", err, stderr.String())
	}
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	src, err := os.Open(from)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	dst, err := os.OpenFile(to, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(dst, src); err != nil {
		t.Fatal(err)
	}
	if err := dst.Close(); err != nil {
		t.Fatal(err)
	}
}
