//go:build unix

package config

import "syscall"

// openFlags make opening a file that is not a regular one harmless: a named
// pipe without a writer does not block the open, and a terminal device does
// not become ulc's controlling terminal.
const openFlags = syscall.O_NONBLOCK | syscall.O_NOCTTY
