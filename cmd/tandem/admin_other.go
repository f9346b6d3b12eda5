//go:build !linux

package main

import "net"

// listenPrivate listens on the unix socket path. Outside Linux (where Tandem
// is not deployed) there is no umask guard: serveAdmin's chmod to 0600
// follows the listen.
func listenPrivate(path string) (net.Listener, error) {
	return net.Listen("unix", path)
}

// peerUID cannot ask the kernel who the peer is outside Linux: it reports
// the peer as unknown, and serveAdmin relies on the socket's file mode.
func peerUID(net.Conn) (uid uint32, known bool, err error) {
	return 0, false, nil
}
