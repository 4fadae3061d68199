//go:build unix

package forward

import (
	"crypto/tls"
	"errors"
	"net"
	"os"
	"syscall"
)

// peek asks c's socket, without waiting and without taking what it holds,
// whether there is something to read; ok is false when c has no socket to
// ask. A read with a short deadline cannot tell this on a busy machine:
// once the deadline has passed before the read starts, Go reports the
// timeout without looking at the socket, and a closed connection passes
// for open.
func peek(c net.Conn) (s socketState, ok bool) {
	if tc, isTLS := c.(*tls.Conn); isTLS {
		c = tc.NetConn()
	}
	sc, isSys := c.(syscall.Conn)
	if !isSys {
		return 0, false
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return 0, false
	}
	err = raw.Read(func(fd uintptr) bool {
		var b [1]byte
		n, _, rerr := syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		switch {
		case n > 0:
			s = socketPending
		case errors.Is(rerr, syscall.EAGAIN) || errors.Is(rerr, syscall.EWOULDBLOCK):
			s = socketEmpty
		default: // 0 bytes: the end; or a reset
			s = socketGone
		}
		return true // never wait for the socket to become readable
	})
	switch {
	case errors.Is(err, os.ErrDeadlineExceeded):
		return 0, false // a deadline still set: let the read decide
	case err != nil:
		return socketGone, true // closed on this side
	}
	return s, true
}
