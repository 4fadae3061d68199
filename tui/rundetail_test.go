package tui

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"ulc/actions"
)

// mixedRun is the events of a finished run of one Okta step and n target
// steps of three kinds, the last of which failed; name(i) names target i.
func mixedRun(id string, n int, name func(i int) string, reason string) []actions.Event {
	info, _ := json.Marshal(actions.RunInfo{Reason: "phished", Ticket: "INC-7", Operator: "analyst",
		Users: []actions.User{cast[0].User}})
	evs := []actions.Event{{Seq: 1, RunID: id, Time: testNow, Kind: actions.KindRunStarted, Detail: info}}
	add := func(ev actions.Event) {
		ev.Seq, ev.RunID, ev.User = int64(len(evs)+1), id, cast[0].Login
		if ev.Time.IsZero() {
			ev.Time = testNow.Add(time.Duration(len(evs)) * time.Millisecond)
		}
		evs = append(evs, ev)
	}
	kinds := []actions.Action{"google", "microsoft", actions.ActionGTR}
	add(actions.Event{Kind: actions.KindPlanned, Step: 1, Target: actions.OktaTarget, Action: actions.ActionClearSessions})
	for i := range n {
		add(actions.Event{Kind: actions.KindPlanned, Step: i + 2, Target: name(i), Action: kinds[i%3]})
	}
	add(actions.Event{Kind: actions.KindAttempt, Step: 1, Target: actions.OktaTarget, Action: actions.ActionClearSessions, Attempt: 1})
	add(actions.Event{Kind: actions.KindResult, Step: 1, Target: actions.OktaTarget, Action: actions.ActionClearSessions, Attempt: 1,
		HTTPStatus: 204, Outcome: actions.Done, LatencyMS: 5})
	for i := range n {
		a := kinds[i%3]
		add(actions.Event{Kind: actions.KindAttempt, Step: i + 2, Target: name(i), Action: a, Attempt: 1})
		res := actions.Event{Kind: actions.KindResult, Step: i + 2, Target: name(i), Action: a, Attempt: 1,
			HTTPStatus: 204, Outcome: actions.Revoked, LatencyMS: 10}
		if i == n-1 {
			res.HTTPStatus, res.Outcome, res.Error = 503, actions.Failed, reason
		}
		add(res)
	}
	add(actions.Event{Kind: actions.KindRunFinished})
	return evs
}

// A run of several kinds with more steps than fit at 80×24 opens in
// History: the kind column shows, the window says where it is, and the
// last step can be reached. (Only the visible rows are formatted; the kind
// column must not be added to the others.)
func TestRunDetailOfManyKindsScrollsAt80x24(t *testing.T) {
	deps, _, _, hist := testDeps()
	hist.events = func(id string) []actions.Event {
		return mixedRun(id, 30, func(i int) string { return fmt.Sprintf("app-%02d", i) }, "the app is unavailable (503)")
	}
	d := newDriver(t, deps, 80, 24)
	d.key("tab") // to History
	d.key("enter")
	d.sees("KIND", "of 31 · ↓", "Steps        31: 29 revoked, 1 done, 1 failed")
	fits(t, "run detail", d.m.View().Content, 80, 24)
	rows := rowsBelow(d.frame(), "OUTCOME")
	if len(rows) == 0 || !strings.Contains(rows[0], "✗ failed") || !strings.Contains(rows[0], "app-29") {
		t.Fatalf("the failed step is not on top:\n%s", d.frame())
	}
	// One user, named above: the reason gets the room a user column took.
	if !strings.Contains(rows[0], "the app is unavailab") {
		t.Errorf("the reason column is too narrow to read: %q", rows[0])
	}
	d.key("G")
	d.sees("↑ ", "of 31")
	if f := d.frame(); !strings.Contains(f, "app-28") || !strings.Contains(f, "microsoft") {
		t.Fatalf("G does not reach the last step:\n%s", f)
	}
	d.key("g")
	d.sees("step 31 app-29 · the app is unavailable (503)")
}

// Target names and reasons in the audit log come from outside the
// console: the run's view, a step's detail and the timeline show their
// printable part only.
func TestRunDetailSanitisesTheLog(t *testing.T) {
	deps, _, _, hist := testDeps()
	// The run's id and an Okta step's action come from the log too.
	hist.runs[0].RunID = "20261121-120000-def456\x1b]0;pwned\x07"
	hist.events = func(id string) []actions.Event {
		evs := mixedRun(id, 3, func(i int) string { return fmt.Sprintf("ev\x1b]0;pwned\x07il-%d\x1b[2J", i) },
			"down \x1b[41mALERT\x1b[0m \u202eecnis")
		// The user's profile and the operator's host, as the log holds them.
		login := "mal\x1b[31mlory@evil.fake"
		evs[0].Detail, _ = json.Marshal(actions.RunInfo{Reason: "phished\x1b[2J", Operator: "op\x1b]0;pwned\x07", Host: "soc\u202e-01",
			Users: []actions.User{{ID: "00u1mallory00000000", Login: login, Name: "\x1b]0;pwned\x07Mal Lory"}}})
		for i := range evs {
			if evs[i].User != "" {
				evs[i].User = login
			}
			if evs[i].Action == actions.ActionClearSessions {
				evs[i].Action = "okta.clear\x1b[2J_sessions"
			}
		}
		return evs
	}
	d := newDriver(t, deps, 100, 30)
	d.key("tab") // to History
	d.key("enter")
	d.sees("OUTCOME")
	check := func(what string, visible ...string) {
		t.Helper()
		v := d.m.View().Content
		harmless(t, what, v)
		f := d.frame()
		for _, s := range visible {
			if !strings.Contains(f, s) {
				t.Fatalf("%s: %q is not shown whole:\n%s", what, s, f)
			}
		}
		for _, frag := range []string{"]0;", "[2J", "[41m", "pwned"} {
			if strings.Contains(f, frag) {
				t.Fatalf("%s: a piece of an escape sequence shows: %q\n%s", what, frag, f)
			}
		}
	}
	check("run view", "evil-2", "evil-0", "down ALERT ecnis", "mallory@evil.fake", "by op on soc-01",
		"› Run 20261121-120000-def456", "okta clear_sess")
	d.key("enter")
	d.sees("› step")
	check("step detail", "evil-2", "down ALERT ecnis", "mallory@evil.fake")
	d.key("esc")
	d.key("t")
	d.sees("Timeline of run")
	check("timeline", "evil-0")
}

// A step's detail longer than the screen says where it is and scrolls to
// its last attempt; one that fits offers no scrolling.
func TestStepDetailSaysWhereItIs(t *testing.T) {
	deps, _, _, _ := testDeps()
	d := newDriver(t, deps, 80, 12)
	d.key("tab")
	d.key("enter")
	d.key("down") // chat, below the unknown wiki
	d.key("enter")
	d.sees("› step 1", "lines · ↑/↓ scroll", "↓ ")
	if h := d.helpLine(); !strings.Contains(h, "↑↓ g/G scroll") {
		t.Errorf("the help line does not say the detail scrolls: %q", h)
	}
	d.notSees("2  14:30:00.212")
	d.key("G")
	d.sees("2  14:30:00.212  204", "↑ ")
	fits(t, "step detail", d.m.View().Content, 80, 12)
	d.key("g")
	d.sees("Run          20261121-120000-def456")

	d = newDriver(t, deps, 100, 40)
	d.key("tab")
	d.key("enter")
	d.key("down")
	d.key("enter")
	d.sees("2  14:30:00.212  204")
	d.notSees("lines · ↑/↓ scroll")
	if h := d.helpLine(); strings.Contains(h, "scroll") {
		t.Errorf("the help line offers scrolling a detail that fits: %q", h)
	}
}

// A run of several users and kinds at 80 columns keeps every column,
// the reason's included, whole in its header.
func TestRunDetailOfABulkRunFits80Columns(t *testing.T) {
	deps, _, _, hist := testDeps()
	hist.events = func(id string) []actions.Event {
		evs := mixedRun(id, 6, func(i int) string { return fmt.Sprintf("app-%02d", i) }, "the app is unavailable (503)")
		evs[0].Detail, _ = json.Marshal(actions.RunInfo{Reason: "offboarding", Operator: "analyst",
			Users: []actions.User{cast[0].User, cast[1].User}})
		return evs
	}
	d := newDriver(t, deps, 80, 24)
	d.key("tab")
	d.key("enter")
	d.sees("OUTCOME")
	var header string
	for _, l := range strings.Split(d.frame(), "\n") {
		if strings.HasPrefix(l, "OUTCOME") {
			header = strings.TrimRight(l, " ")
		}
	}
	for _, col := range []string{"TARGET", "KIND", "USER", "HTTP", "TRY", "TIME", "REASON"} {
		if !strings.Contains(header, col) {
			t.Errorf("the header %q lacks %s", header, col)
		}
	}
	fits(t, "bulk run view", d.m.View().Content, 80, 24)
}
