package tui

import (
	"strings"
	"testing"

	"github.com/charmbracelet/x/ansi"
)

// The login every flow acts on.
const trinity = "trinity@whiterabbit.fake"

// The fake runner's run id.
const runID = "20261121-143000-abc123"

// search types q into the query box and waits for its answer.
func (d *driver) search(q string) {
	d.t.Helper()
	d.typeText(q)
	d.sees("search › " + q)
}

// openUser searches for q and opens the first person found.
func (d *driver) openUser(q string) {
	d.t.Helper()
	d.search(q)
	d.key("enter") // to the results
	d.key("enter") // open
	d.sees("Recent activity")
}

// openConfirm opens Confirm for the first person q finds.
func (d *driver) openConfirm(q string) {
	d.t.Helper()
	d.openUser(q)
	d.key("r")
	d.sees("Log out ")
}

// fill types a reason, leaves Ticket, Okta steps and Targets as they are,
// and types confirm into Confirm (the fields' tab order in confirm.go).
func (d *driver) fill(reason, confirm string) {
	d.t.Helper()
	d.typeText(reason)
	for range fieldConfirm - fieldReason {
		d.key("tab")
	}
	d.typeText(confirm)
}

// startRun confirms a revocation of trinity and returns once the board is
// up; with fakeRunner.block set the run stays in flight.
func (d *driver) startRun() {
	d.t.Helper()
	d.openConfirm("tri")
	d.fill("phished via fake sso page", trinity)
	d.press("enter")
	d.waitFor("OUTCOME")
}

// rowsBelow returns the frame's lines after the first line containing
// header, up to the first empty line, the line saying where a table's
// window is, or the board's reason line.
func rowsBelow(frame, header string) []string {
	lines := strings.Split(frame, "\n")
	for i, l := range lines {
		if strings.Contains(l, header) {
			var out []string
			for _, r := range lines[i+1:] {
				if t := strings.TrimSpace(r); t == "" || strings.HasPrefix(t, "▸ ") || isPosition(t) {
					break
				}
				out = append(out, r)
			}
			return out
		}
	}
	return nil
}

// isPosition reports whether line is a table's "3–14 of 20" line.
func isPosition(line string) bool {
	f := strings.Fields(strings.ReplaceAll(line, "·", " "))
	for i := 1; i+1 < len(f); i++ {
		if f[i] == "of" && strings.Contains(f[i-1], "–") {
			return true
		}
	}
	return false
}

// notSees fails if the frame contains any of unwanted.
func (d *driver) notSees(unwanted ...string) {
	d.t.Helper()
	f := d.frame()
	for _, u := range unwanted {
		if strings.Contains(f, u) {
			d.t.Fatalf("the screen shows %q, it should not:\n%s", u, f)
		}
	}
}

// fits fails unless the frame fills exactly w×h cells or fewer per line
// and exactly h lines.
func fits(t *testing.T, what, content string, w, h int) {
	t.Helper()
	lines := strings.Split(content, "\n")
	if len(lines) > h {
		t.Errorf("%s at %dx%d: %d lines, more than the terminal has:\n%s", what, w, h, len(lines), ansi.Strip(content))
	}
	for i, l := range lines {
		if n := ansi.StringWidth(l); n > w {
			t.Errorf("%s at %dx%d: line %d is %d cells wide:\n%s", what, w, h, i+1, n, ansi.Strip(l))
		}
	}
}

// helpLine is the frame's last line.
func (d *driver) helpLine() string {
	lines := strings.Split(d.frame(), "\n")
	return lines[len(lines)-1]
}
