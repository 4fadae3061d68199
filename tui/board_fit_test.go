package tui

import (
	"fmt"
	"strings"
	"testing"

	"github.com/charmbracelet/x/exp/golden"

	"ulc/actions"
	"ulc/config"
)

// demoSizedDeps are test deps with 18 enabled targets, as many as the
// demo has: with Okta's step, a board of 19 rows, more than 80×24 holds.
func demoSizedDeps() (Deps, *fakeRunner) {
	deps, _, run, _ := testDeps()
	deps.Targets = nil
	for i := range 18 {
		deps.Targets = append(deps.Targets, config.Target{Name: fmt.Sprintf("app-%02d", i+1), URL: fmt.Sprintf("https://app-%02d.example/gtr", i+1),
			Subject: "email", BodyKey: "sub_id", Auth: "bearer", Enabled: true})
	}
	run.script = map[string]actions.Outcome{"app-03": actions.Failed, "app-07": actions.Rejected, "app-11": actions.NotFound}
	return deps, run
}

// TestBoardAt80x24HidesNothingSilently: a finished board of 19 steps at
// 80×24 says where its window is and how many rows lie below; G and g
// jump to the last and first rows, and the window follows.
func TestBoardAt80x24HidesNothingSilently(t *testing.T) {
	deps, _ := demoSizedDeps()
	d := newDriver(t, deps, 80, 24)
	d.startRun()
	d.settle()
	d.sees("19/19 finished")
	fits(t, "board", d.m.View().Content, 80, 24)
	shown := len(rowsBelow(d.frame(), "OUTCOME"))
	if shown == 0 || shown >= 19 {
		t.Fatalf("%d rows shown of 19:\n%s", shown, d.frame())
	}
	d.sees(fmt.Sprintf("1–%d of 19 · ↓ %d more", shown, 19-shown))
	// The status holds every count, at the cost of the id the title shows.
	d.sees("run finished: 15 revoked, 1 done, 1 not found, 1 rejected, 1 failed")
	golden.RequireEqual(t, []byte(d.frame()))

	d.key("G")
	d.sees(fmt.Sprintf("↑ %d more · %d–19 of 19", 19-shown, 20-shown))
	rows := rowsBelow(d.frame(), "OUTCOME")
	if last := rows[len(rows)-1]; !strings.Contains(last, "app-18") {
		t.Fatalf("after G the last row shown is %q, want app-18's", last)
	}
	d.sees("▸ app-18: revoked (204)")
	d.key("g")
	d.sees(fmt.Sprintf("1–%d of 19 · ↓ %d more", shown, 19-shown))
	// Failures on top, the selected one's reason in full below.
	d.sees("▸ app-03: connection refused (after 3 attempts): is the app up at")
}

// TestBoardReasonIsReadableAt80Columns: a reason cut in its column is
// whole in the line below the table, for whichever row is selected.
func TestBoardReasonIsReadableAt80Columns(t *testing.T) {
	deps, _, run, _ := testDeps()
	run.errors = map[string]string{"wiki": "no answer within 1s (after 3 attempts): the app is slow or down; raise its timeout, or R to retry"}
	d := newDriver(t, deps, 80, 24)
	d.startRun()
	d.settle()
	row := rowsBelow(d.frame(), "OUTCOME")[0]
	if strings.Contains(row, "R to retry") {
		t.Fatalf("the row holds the whole reason at 80 columns; this test needs one that is cut: %q", row)
	}
	f := d.frame()
	i := strings.Index(f, "▸ wiki: no answer within 1s")
	if i < 0 {
		t.Fatalf("no reason line for the selected row:\n%s", f)
	}
	if below := strings.Join(strings.Fields(f[i:]), " "); !strings.HasPrefix(below, "▸ wiki: no answer within 1s (after 3 attempts): the app is slow or down; raise its timeout, or R to retry") {
		t.Fatalf("the reason line does not hold the whole reason:\n%s", f)
	}
	d.key("down")
	d.sees("▸ okta sessions: done")
	d.notSees("▸ wiki")
}

// TestBoardFilter: / narrows the rows as it is typed, enter keeps the
// filter, esc clears it; while it is typed, q is text.
func TestBoardFilter(t *testing.T) {
	deps, _ := demoSizedDeps()
	d := newDriver(t, deps, 80, 24)
	d.startRun()
	d.settle()
	d.key("/")
	if h := d.helpLine(); strings.Contains(h, "q quit") || !strings.Contains(h, "ctrl+c quit") || !strings.Contains(h, "esc clear filter") {
		t.Fatalf("the help line while the filter is typed: %q", h)
	}
	d.typeText("app-1")
	rows := rowsBelow(d.frame(), "OUTCOME")
	if len(rows) != 9 { // app-10 … app-18
		t.Fatalf("%d rows for app-1, want 9:\n%s", len(rows), d.frame())
	}
	d.sees("9 of 19 steps")
	d.typeText("q") // text, not quit
	if d.quit {
		t.Fatal("q quit while the filter was typed")
	}
	d.sees("no step matches the filter")
	d.key("enter") // keep the filter that matches nothing
	if h := d.helpLine(); strings.Contains(h, "enter detail") || !strings.Contains(h, "esc clear filter") {
		t.Errorf("the help line offers a detail of no row: %q", h)
	}
	d.key("/")
	d.key("backspace")
	d.key("enter")
	d.sees("filter › app-1", "9 of 19 steps", "↑↓ g/G move")
	d.key("esc") // clears the filter, stays on the board
	d.notSees("filter ›")
	d.sees("19/19 finished", "1–")
	d.key("/")
	d.typeText("refused")
	if rows := rowsBelow(d.frame(), "OUTCOME"); len(rows) != 1 || !strings.Contains(rows[0], "app-03") {
		t.Fatalf("filtering by reason: %v", rows)
	}
}

// TestBoardShortensALongAuditPath: at 80 columns the finished board's last
// lines name the audit log whole or shortened in the middle with its file
// name kept, never cut off without a sign.
func TestBoardShortensALongAuditPath(t *testing.T) {
	deps, _ := demoSizedDeps()
	deps.AuditPath = "/srv/incident-response/ulc/evidence/2026/december/soc-team-a/audit.db"
	d := newDriver(t, deps, 80, 24)
	d.startRun()
	d.settle()
	d.sees("19/19 finished")
	fits(t, "board", d.m.View().Content, 80, 24)
	var line string
	for _, l := range strings.Split(d.frame(), "\n") {
		if strings.Contains(l, "did not succeed: R retries") {
			line = strings.TrimRight(l, " ")
		}
	}
	if !strings.HasPrefix(line, "2 steps did not succeed: R retries as a new run · /srv/incident") ||
		!strings.HasSuffix(line, "…/audit.db") {
		t.Fatalf("the audit path is not shortened in its middle: %q\n%s", line, d.frame())
	}
}

// TestBoardWithFullHelpHidesNothingSilently: with ? open at 80×24 the
// board gives the full help its lines and its table still ends in the line
// saying how many rows lie below.
func TestBoardWithFullHelpHidesNothingSilently(t *testing.T) {
	deps, _ := demoSizedDeps()
	d := newDriver(t, deps, 80, 24)
	d.startRun()
	d.settle()
	d.sees("19/19 finished")
	before := len(rowsBelow(d.frame(), "OUTCOME"))
	d.key("?")
	d.sees("G/end", "last row")
	fits(t, "board with the full help", d.m.View().Content, 80, 24)
	shown := len(rowsBelow(d.frame(), "OUTCOME"))
	if shown == 0 || shown >= before {
		t.Fatalf("%d rows with the full help, %d without:\n%s", shown, before, d.frame())
	}
	d.sees(fmt.Sprintf("1–%d of 19 · ↓ %d more", shown, 19-shown), "▸ app-03: connection refused")
}

// TestHeaderKeepsTheAuditFileName: at 80 columns a long audit path in the
// header loses its middle, not its file name, and READ-ONLY stays.
func TestHeaderKeepsTheAuditFileName(t *testing.T) {
	deps, _ := demoSizedDeps()
	deps.AuditPath = "/srv/incident-response/ulc/evidence/2026/december/soc-team-a/audit.db"
	for _, ro := range []bool{false, true} {
		deps.ReadOnly = ro
		d := newDriver(t, deps, 80, 24)
		head := strings.TrimRight(strings.Split(d.frame(), "\n")[0], " ")
		want := "…/audit.db"
		if ro {
			want += " READ-ONLY"
		}
		if !strings.HasSuffix(head, want) || !strings.Contains(head, "audit /srv/") {
			t.Errorf("read-only %v: the header is %q, want it to end in %q", ro, head, want)
		}
		fits(t, "header", d.m.View().Content, 80, 24)
	}
}

// TestBulkBoardAt80x24SaysWhereItIs: a bulk run of two people at 18
// targets (38 steps) at 80×24 shows its window's place and what lies
// below, and G reaches the last row.
func TestBulkBoardAt80x24SaysWhereItIs(t *testing.T) {
	deps, run := demoSizedDeps()
	run.script = nil
	d := newDriver(t, deps, 80, 24)
	d.search("t")
	d.key("enter")
	d.key("space")
	d.key("space")
	d.key("r")
	d.typeText("credential stuffing wave")
	d.key("ctrl+g")
	d.typeText("2")
	d.key("enter")
	d.waitFor("OUTCOME")
	d.settle()
	d.sees("finished")
	fits(t, "bulk board", d.m.View().Content, 80, 24)
	total := len(run.plannedRequests()[0].Users) * 19
	shown := len(rowsBelow(d.frame(), "OUTCOME"))
	if shown == 0 || shown >= total {
		t.Fatalf("%d rows shown of %d:\n%s", shown, total, d.frame())
	}
	d.sees(fmt.Sprintf("1–%d of %d · ↓ %d more", shown, total, total-shown))
	d.key("G")
	d.sees(fmt.Sprintf("↑ %d more · %d–%d of %d", total-shown, total-shown+1, total, total))
}
