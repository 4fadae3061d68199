package tui

import (
	"strings"
	"testing"

	"github.com/charmbracelet/x/ansi"
)

// TestHelpLineIsWholeAt80x24: on every screen of the walk-through the help
// line fits 80 columns with no key cut off: each entry is whole, the line
// ends in the way to quit, and where keys gave way it says ? lists them
// all. On the lists, g/G are there.
func TestHelpLineIsWholeAt80x24(t *testing.T) {
	deps, _, run, _ := testDeps()
	run.block = make(chan struct{})
	deps.Prober = &fakeProber{}
	d := newDriver(t, deps, 80, 24)
	check := func(where string, want ...string) {
		t.Helper()
		h := strings.TrimRight(d.helpLine(), " ")
		if ansi.StringWidth(h) > 80 || strings.Contains(h, "…") {
			t.Errorf("%s: the help line is cut: %q", where, h)
		}
		if !strings.HasSuffix(h, "q quit") && !strings.HasSuffix(h, "ctrl+c quit") {
			t.Errorf("%s: the help line does not end in the way to quit: %q", where, h)
		}
		for _, w := range want {
			if !strings.Contains(h, w) {
				t.Errorf("%s: the help line %q lacks %q", where, h, w)
			}
		}
	}
	check("search box", "esc leave the box")
	d.search("tri")
	d.key("enter")
	check("search results", "r revoke", "/ search")
	d.key("enter")
	d.sees("Recent activity")
	check("user", "r revoke this user", "↑↓ g/G select event")
	d.key("r")
	check("confirm", "ctrl+g Confirm")
	d.fill("phished", trinity)
	check("confirm, on Confirm", "enter send")
	d.press("enter")
	d.waitFor("running")
	check("board, running", "↑↓ g/G move", "x cancel", "esc back")
	close(run.block)
	d.settle()
	d.sees("finished")
	check("board, finished", "↑↓ g/G move", "R retry", "esc back")
	d.key("enter")
	check("board detail", "close detail")
	d.key("esc")
	d.key("2")
	check("history", "↑↓ g/G move", "v verify", "? all keys")
	d.key("enter")
	d.sees("OUTCOME")
	check("run view", "t timeline", "v verify", "? all keys")
	d.key("t")
	check("timeline", "↑↓ g/G scroll", "t steps")
	d.key("3")
	check("targets", "↑↓ g/G move", "C check all")
}

// While the finished board watches its users, the help line at 80 columns
// keeps R (the next step of its failures) beside the watch's keys: stop
// and extend.
func TestHelpLineOfAWatchedBoardKeepsR(t *testing.T) {
	d, _, _ := watchedBoard(t, 80, 24)
	h := strings.TrimRight(d.helpLine(), " ")
	for _, w := range []string{"↑↓ g/G move", "w stop • + 15m more", "R retry", "? all keys", "q quit"} {
		if !strings.Contains(h, w) {
			t.Errorf("the help line %q lacks %q", h, w)
		}
	}
	if ansi.StringWidth(h) > 80 || strings.Contains(h, "…") {
		t.Errorf("the help line is cut: %q", h)
	}
}
