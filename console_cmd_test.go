package main

import (
	"strings"
	"testing"
)

// TestConsoleWithoutATerminal: the console and the demo, started with no
// terminal to read keys from (stdin is /dev/null, as under cron), say so
// and point to the scripting command, with a usage exit status, instead
// of a terminal library's error.
func TestConsoleWithoutATerminal(t *testing.T) {
	for _, args := range [][]string{nil, {"demo"}, {"--readonly"}} {
		code, out, errOut := runBinary(t, cleanEnv(t), args...)
		if code != exitUsage {
			t.Errorf("ulc %v without a terminal: exit %d, want %d\n%s%s", args, code, exitUsage, out, errOut)
		}
		if want := "ulc: the console needs a terminal; in scripts use ulc revoke"; !strings.Contains(errOut, want) {
			t.Errorf("ulc %v without a terminal says:\n%s\nwant %q", args, errOut, want)
		}
		if strings.Contains(errOut, "epoll") || strings.Contains(errOut, "demo's files") {
			t.Errorf("ulc %v without a terminal started anyway:\n%s", args, errOut)
		}
	}
}
