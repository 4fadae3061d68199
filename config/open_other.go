//go:build !unix

package config

// openFlags adds nothing where there are no named pipes to block on.
const openFlags = 0
