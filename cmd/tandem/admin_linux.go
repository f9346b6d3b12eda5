package main

import (
	"fmt"
	"net"
	"sync"
	"syscall"
)

// umaskMu serialises changes of the process's umask: two listenPrivate
// calls that overlapped could otherwise restore each other's value.
var umaskMu sync.Mutex

// listenPrivate listens on the unix socket path, which exists with no
// permission for group or others from the instant bind(2) creates it.
// bind creates the socket file with mode 0777 &^ umask, so a chmod after
// net.Listen leaves a window in which anyone who can reach the directory may
// connect (and keep that connection). The umask is process-wide; 077 only
// ever makes another goroutine's concurrent file or directory more private
// (directories keep their owner's x bit, unlike with 0177), never less, and
// it is restored at once. The socket path stays <db>.sock, which operator
// commands connect to.
func listenPrivate(path string) (net.Listener, error) {
	umaskMu.Lock()
	defer umaskMu.Unlock()
	old := syscall.Umask(0o077)
	defer syscall.Umask(old)
	return net.Listen("unix", path)
}

// peerUID returns the OS user id of the process on the other end of conn,
// from the kernel (SO_PEERCRED), so it cannot be forged by the peer. known
// is always true on Linux.
func peerUID(conn net.Conn) (uid uint32, known bool, err error) {
	uc, ok := conn.(*net.UnixConn)
	if !ok {
		return 0, false, fmt.Errorf("admin socket: a %T is not a unix socket connection", conn)
	}
	raw, err := uc.SyscallConn()
	if err != nil {
		return 0, false, fmt.Errorf("admin socket: peer credentials: %w", err)
	}
	var cred *syscall.Ucred
	var credErr error
	if err := raw.Control(func(fd uintptr) {
		cred, credErr = syscall.GetsockoptUcred(int(fd), syscall.SOL_SOCKET, syscall.SO_PEERCRED)
	}); err != nil {
		return 0, false, fmt.Errorf("admin socket: peer credentials: %w", err)
	}
	if credErr != nil {
		return 0, false, fmt.Errorf("admin socket: peer credentials: %w", credErr)
	}
	return cred.Uid, true, nil
}
