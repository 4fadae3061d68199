package tui

import (
	"context"
	"strings"
	"testing"
	"time"

	"ulc/actions"
	"ulc/history"
)

func TestHistoryFilterNarrowsRuns(t *testing.T) {
	deps, _, _, hist := testDeps()
	hist.runs = append(hist.runs,
		history.RunSummary{RunID: "20261121-100000-aaa111", Started: testNow.Add(-4 * time.Hour),
			Info:   actions.RunInfo{Reason: "lost laptop", Ticket: "INC-9", Operator: "bob", Users: []actions.User{cast[1].User}},
			Counts: map[actions.Outcome]int{actions.Revoked: 12}, Steps: 12},
		history.RunSummary{RunID: "20261120-090000-bbb222", Started: testNow.Add(-29 * time.Hour),
			Info:   actions.RunInfo{Reason: "offboarding", Operator: "carol", DryRun: true, Users: []actions.User{cast[2].User, cast[1].User}},
			Counts: map[actions.Outcome]int{actions.Planned: 4}, Steps: 4},
	)
	d := newDriver(t, deps, 120, 30)
	d.key("tab")
	d.sees("3 runs in", "phished", "lost laptop", "offboarding", "11-20 09:30", "smith@whiterabbi… +1", "dry run")
	if n := len(rowsBelow(d.frame(), "STARTED")); n != 4 { // three runs and the legend
		t.Fatalf("%d rows under the header:\n%s", n, d.frame())
	}

	d.key("/")
	d.typeText("laptop")
	d.sees("filter › laptop", "lost laptop")
	d.notSees("phished", "offboarding")
	d.key("enter") // done filtering: the filter stays
	d.sees("lost laptop")
	d.notSees("phished")

	d.key("esc") // clears it
	d.sees("phished", "lost laptop", "offboarding")

	// Several words narrow further; any field counts (user, operator).
	d.key("/")
	d.typeText("neo carol")
	d.sees("offboarding")
	d.notSees("lost laptop", "phished")
	d.key("esc")
	d.sees("3 runs in")

	d.key("/")
	d.typeText("nobody-at-all")
	d.notSees("phished", "lost laptop", "offboarding")
	d.key("enter")
	d.key("enter") // nothing selected: nothing opens
	d.notSees("Timeline")
}

func TestHistoryOpensARunWithItsTimeline(t *testing.T) {
	deps, _, _, _ := testDeps()
	d := newDriver(t, deps, 100, 40)
	d.key("tab")
	d.sees("12:30:00", "INTERRUPTED", "phished", "✓1 ?1")
	d.key("enter")
	d.sees("› Run 20261121-120000-def456",
		"INTERRUPTED: the process ended before the run finished",
		"Reason       phished", "Ticket       INC-7", "by analyst",
		"✓ revoked", "chat", "204",
		"? unknown", "wiki", // an attempt left, no answer recorded
		"Timeline",
		"14:30:00.000 #1 run_started",
		"#5 result step 1 chat attempt 1 → 204 revoked",
		"#6 attempt step 2 wiki attempt 1")
	d.notSees("planned") // planned events are the table, not the timeline
	d.key("esc")
	d.sees("1 run in")
	d.notSees("Timeline")
}

func TestRunDetailScrolls(t *testing.T) {
	deps, _, _, _ := testDeps()
	d := newDriver(t, deps, 80, 12)
	d.key("tab")
	d.key("enter")
	d.sees("State")
	d.notSees("#6 attempt")
	for range 20 {
		d.key("down")
	}
	d.sees("#6 attempt step 2 wiki attempt 1")
	d.notSees("State ")
	// Scrolling stopped at the end: one step up moves at once.
	d.key("up")
	d.sees("#5 result")
	d.notSees("#6 attempt")
}

func TestHistoryVerifiesTheChain(t *testing.T) {
	deps, _, _, hist := testDeps()
	d := newDriver(t, deps, 120, 30)
	d.key("tab")
	d.key("v")
	if hist.verified != 1 {
		t.Fatalf("v verified %d times", hist.verified)
	}
	d.sees("chain intact: 6 events, head abababab")
	d.notSees("verifying")
}

func TestHistoryResumesAnInterruptedRun(t *testing.T) {
	deps, _, run, _ := testDeps()
	d := newDriver(t, deps, 100, 30)
	d.key("tab")
	d.key("R")
	d.sees("Resume run 20261121-120000-def456: send its 1 step that has not succeeded again, as a new run? y/n",
		"y resume", "n don't")
	d.key("n")
	d.sees("not resumed")
	if n := run.executed(); n != 0 {
		t.Fatalf("n ran %d runs", n)
	}
	if len(run.resumed) != 1 || run.resumed[0] != "20261121-120000-def456" {
		t.Fatalf("the console asked the backend to resume %v", run.resumed)
	}

	d.key("R")
	d.key("y")
	p := run.plannedRequests()
	if len(p) != 2 {
		t.Fatalf("%d plans", len(p))
	}
	r := p[1]
	if r.ResumeOf != "20261121-120000-def456" || r.Reason != "phished" || r.Ticket != "INC-7" {
		t.Errorf("the resumed run is %+v", r)
	}
	if len(r.Targets) != 1 || r.Targets[0] != "wiki" {
		t.Errorf("resuming sends to %v, want only wiki (chat was revoked)", r.Targets)
	}
	if r.Skip == nil || !r.Skip(cast[0].User, actions.ActionGTR, "chat") {
		t.Error("resuming does not skip chat, which was revoked")
	}
	d.sees("› Run "+runID, "1/1 finished", "wiki")
}

// mixedHistory serves the fixed run with one more step, to a Google target.
type mixedHistory struct{ *fakeHistory }

func (h mixedHistory) Run(ctx context.Context, id string) (*actions.RunState, []actions.Event, error) {
	st, evs, err := h.fakeHistory.Run(ctx, id)
	if err != nil {
		return nil, nil, err
	}
	more := []actions.Event{
		{Seq: 7, RunID: id, Time: testNow, Kind: actions.KindPlanned, Step: 3, User: cast[0].Login, Target: "google", Action: "google"},
		{Seq: 8, RunID: id, Time: testNow, Kind: actions.KindResult, Step: 3, User: cast[0].Login, Target: "google", Action: "google",
			Attempt: 2, HTTPStatus: 204, Outcome: actions.Revoked, LatencyMS: 12},
	}
	for _, ev := range more {
		st.Apply(ev)
	}
	return st, append(evs, more...), nil
}

// A run that signed the user out of several kinds of target shows each
// step's kind; a run of GTR targets only keeps its columns for the reasons.
func TestRunDetailShowsEachKind(t *testing.T) {
	deps, _, _, hist := testDeps()
	deps.History = mixedHistory{hist}
	d := newDriver(t, deps, 120, 40)
	d.key("tab")
	d.key("enter")
	rows := rowsBelow(d.frame(), "KIND")
	var google string
	for _, r := range rows {
		if strings.Contains(r, "google") && strings.Contains(r, "revoked") {
			google = r
		}
	}
	if strings.Count(google, "google") < 2 { // the target, and its kind
		t.Fatalf("no row of the google step with its kind:\n%s", d.frame())
	}
	if !strings.Contains(d.frame(), "gtr") {
		t.Errorf("the GTR steps do not say their kind:\n%s", d.frame())
	}

	deps, _, _, _ = testDeps()
	d = newDriver(t, deps, 120, 40)
	d.key("tab")
	d.key("enter")
	d.notSees("KIND")
}
