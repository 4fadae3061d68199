//go:build !unix

package forward

import "net"

// peek cannot ask the socket on this platform: open reads with a short
// deadline instead.
func peek(net.Conn) (socketState, bool) { return 0, false }
