//go:build unix

package forward

import (
	"crypto/tls"
	"errors"
	"net"
	"syscall"
)

// peekClosed reports whether the receiver has closed c (or reset it, or
// written to it), by asking the socket without waiting and without
// taking what it holds; ok is false when c has no socket to ask. A read
// with a short deadline cannot tell this on a busy machine: once the
// deadline has passed before the read starts, Go reports the timeout
// without looking at the socket, and a closed connection passes for open.
func peekClosed(c net.Conn) (closed, ok bool) {
	if tc, isTLS := c.(*tls.Conn); isTLS {
		c = tc.NetConn() // a TLS alert is bytes on the socket too
	}
	sc, isSys := c.(syscall.Conn)
	if !isSys {
		return false, false
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return false, false
	}
	err = raw.Read(func(fd uintptr) bool {
		var b [1]byte
		n, _, rerr := syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		// Nothing to read: still open. Anything else, bytes, the end
		// (0 bytes) or an error, is the receiver gone.
		closed = !(n < 0 && (errors.Is(rerr, syscall.EAGAIN) || errors.Is(rerr, syscall.EWOULDBLOCK)))
		return true // never wait for the socket to become readable
	})
	if err != nil {
		return true, true // the connection is closed on this side
	}
	return closed, true
}
