//go:build !unix

package forward

import "net"

// peekClosed cannot ask the socket on this platform: open reads with a
// short deadline instead.
func peekClosed(net.Conn) (closed, ok bool) { return false, false }
