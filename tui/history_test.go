package tui

import (
	"context"
	"fmt"
	"strings"
	"sync"
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
	if n := len(runRows(d.frame())); n != 3 {
		t.Fatalf("%d runs listed:\n%s", n, d.frame())
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

	// Several words narrow further; any field counts (user, operator),
	// and so does the date.
	d.key("/")
	d.typeText("neo carol")
	d.sees("offboarding")
	d.notSees("lost laptop", "phished")
	d.key("esc")
	d.sees("3 runs in")
	d.key("/")
	d.typeText("2026-11-20")
	d.sees("offboarding")
	d.notSees("lost laptop", "phished")
	d.key("esc")

	// A filter that matches nothing says so, and how to get back.
	d.key("/")
	d.typeText("nobody-at-all")
	d.sees(`no run of the 3 matches "nobody-at-all"`, "esc clears it")
	d.notSees("phished", "lost laptop", "offboarding")
	d.key("enter")
	// Nothing to open or resume: the help line does not offer it.
	if h := d.helpLine(); strings.Contains(h, "enter open") || strings.Contains(h, "R resume") || !strings.Contains(h, "esc clear filter") {
		t.Errorf("the help line with no run shown: %q", h)
	}
	d.key("enter") // nothing selected: nothing opens
	d.notSees("OUTCOME")
}

// runRows are History's rows of runs: the lines under the header that
// start with a date, less the selected run's detail (its "… by operator").
func runRows(frame string) []string {
	var out []string
	for _, l := range rowsBelow(frame, "STARTED") {
		if len(l) > 5 && (l[2] == '-' || l[4] == '-') && !strings.Contains(l, " by ") {
			out = append(out, l)
		}
	}
	return out
}

// At 80×24 History shows each run's date and ticket, and the selected run
// in full under the table; g and G jump.
func TestHistoryShowsDateAndTicketAt80x24(t *testing.T) {
	deps, _, _, hist := testDeps()
	hist.runs = append(hist.runs, history.RunSummary{RunID: "20251002-080000-eee555", Started: time.Date(2025, 10, 2, 8, 0, 0, 0, time.UTC),
		Info:   actions.RunInfo{Reason: "contractor left", Ticket: "HR-311", Operator: "dana", Host: "soc-02", Users: []actions.User{cast[1].User}},
		Counts: map[actions.Outcome]int{actions.Revoked: 3, actions.Failed: 1}, Steps: 4})
	d := newDriver(t, deps, 80, 24)
	d.key("tab")
	d.sees("STARTED UTC", "TICKET")
	rows := runRows(d.frame())
	if len(rows) != 2 || !strings.Contains(rows[0], "11-21 12:30") || !strings.Contains(rows[0], "INC-7") {
		t.Fatalf("rows %q", rows)
	}
	if !strings.Contains(rows[1], "2025-10-02") || !strings.Contains(rows[1], "HR-311") || !strings.Contains(rows[1], "failures") {
		t.Errorf("a run of another year shows its year, its ticket and its failures: %q", rows[1])
	}
	d.sees("2026-11-21 12:30:00 UTC by analyst · ticket INC-7 · reason: phished")
	d.key("G")
	if f := strings.Join(strings.Fields(d.frame()), " "); !strings.Contains(f, "2025-10-02 08:00:00 UTC by dana on soc-02 · ticket HR-311 · reason: contractor left · neo@whiterabbit.fake") {
		t.Errorf("the selected run is not shown in full:\n%s", d.frame())
	}
	d.sees("4 steps: 3 revoked, 1 failed")
	d.key("g")
	d.sees("ticket INC-7")
}

// A run's view puts failures first, and enter on a step lists every
// attempt with its time, status, latency and reason.
func TestRunDetailListsEveryAttempt(t *testing.T) {
	deps, _, _, _ := testDeps()
	d := newDriver(t, deps, 80, 24)
	d.key("tab")
	d.key("enter")
	d.sees("› Run 20261121-120000-def456",
		"INTERRUPTED: the process ended before the run finished",
		"Reason       phished", "Ticket       INC-7", "by analyst", "Steps        2: 1 revoked, 1 unknown")
	rows := rowsBelow(d.frame(), "OUTCOME")
	if len(rows) < 2 || !strings.Contains(rows[0], "? unknown") || !strings.Contains(rows[1], "✓ revoked") {
		t.Fatalf("the step that did not succeed is not first:\n%s", d.frame())
	}
	// A step the process never heard back from says so, and what to do.
	d.sees("step 2 wiki · no answer was recorded before the process ended")
	if f := strings.Join(strings.Fields(d.frame()), " "); !strings.Contains(f, "resume the run to send it again") {
		t.Errorf("the unknown step's reason has no next step:\n%s", d.frame())
	}
	d.key("down")
	d.sees("step 1 chat · revoked")
	d.key("enter")
	// The request as planned, read from the step's events: the run's
	// state is read without its requests.
	d.sees("Request      POST https://chat.example/gtr", "Subject      email", "Auth         bearer sha256:3f2a9c1d")
	d.sees("› step 1", "Target       chat (gtr)", "Time         243ms from first request to result (2 requests, 43ms of it)", "Attempts (UTC)")
	f := d.frame()
	first := strings.Index(f, "1  14:30:00.000  503     12ms  retried: the app is unavailable (503)")
	second := strings.Index(f, "2  14:30:00.212  204     31ms  revoked")
	if first < 0 || second < first {
		t.Fatalf("the attempts are not listed in order with their status and time:\n%s", f)
	}
	if !strings.Contains(strings.Join(strings.Fields(f), " "), "it is down or overloaded; retrying in 200ms") {
		t.Errorf("the retry's reason is cut:\n%s", f)
	}
	d.key("esc")
	d.sees("step 1 chat · revoked")
}

// The timeline wraps long lines under their event, and scrolls.
func TestRunTimelineWrapsAndScrolls(t *testing.T) {
	deps, _, _, _ := testDeps()
	d := newDriver(t, deps, 80, 12)
	d.key("tab")
	d.key("enter")
	d.key("t")
	d.sees("Timeline of run", "14:30:00.000 #1 run_started")
	d.notSees("#8 attempt")
	for range 20 {
		d.key("down")
	}
	d.sees("#8 attempt step 2 wiki attempt 1", "of 9 · 8 events")
	d.notSees("#1 run_started")
	f := d.frame()
	if !strings.Contains(f, "#5 retry step 1 chat attempt 1 → 503: the app is unavailable (503):\n             it is down or overloaded") {
		t.Errorf("the long line is not wrapped under its event:\n%s", f)
	}
	d.key("g")
	d.sees("#1 run_started")
	d.key("t")
	d.sees("OUTCOME")
}

// pagedHistory serves a run of n events, counting the timeline's reads.
type pagedHistory struct {
	*fakeHistory
	n     int
	mu    sync.Mutex
	reads []int64
}

func (h *pagedHistory) Timeline(_ context.Context, id string, after int64, limit int) ([]actions.Event, error) {
	h.mu.Lock()
	h.reads = append(h.reads, after)
	h.mu.Unlock()
	var out []actions.Event
	for seq := after + 1; seq <= int64(h.n) && len(out) < limit; seq++ {
		out = append(out, actions.Event{Seq: seq, RunID: id, Time: testNow, Kind: actions.KindAttempt, Step: int(seq), Target: "chat", Attempt: 1})
	}
	return out, nil
}

func (h *pagedHistory) timelineReads() []int64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]int64(nil), h.reads...)
}

// A long run's timeline is read a page at a time, as the operator scrolls
// towards its end: opening it reads one page, not the run.
func TestRunTimelineReadsAPageAtATime(t *testing.T) {
	deps, _, _, hist := testDeps()
	ph := &pagedHistory{fakeHistory: hist, n: 1234}
	deps.History = ph
	d := newDriver(t, deps, 80, 24)
	d.key("tab")
	d.key("enter")
	d.key("t")
	if got := ph.timelineReads(); len(got) != 1 || got[0] != 0 {
		t.Fatalf("opening the timeline read %v, want one page from the start", got)
	}
	d.sees("of the first 500 events · ↓ reads on")
	for range 3 {
		d.key("G")
	}
	if got := ph.timelineReads(); len(got) != 3 || got[1] != 500 || got[2] != 1000 {
		t.Fatalf("reads %v, want pages after seq 0, 500 and 1000", got)
	}
	d.sees("#1234 attempt step 1234 chat attempt 1", "of 1234 · 1234 events")
	d.key("G")
	if got := ph.timelineReads(); len(got) != 3 {
		t.Fatalf("the end was read again: %v", got)
	}
}

// R in a run's view asks before sending the run's unfinished steps again;
// v verifies the chain from there.
func TestRunDetailResumesAndVerifies(t *testing.T) {
	deps, _, run, hist := testDeps()
	d := newDriver(t, deps, 100, 30)
	d.key("tab")
	d.key("enter")
	d.key("v")
	d.sees("chain intact: 6 events")
	if hist.verified != 1 {
		t.Fatalf("v verified %d times", hist.verified)
	}
	d.key("enter") // the step's view resumes too
	d.key("R")
	d.sees("Resume run 20261121-120000-def456: send its 1 step that has not succeeded again, as a new run? y/n", "y resume")
	d.key("n")
	d.sees("not resumed")
	d.key("esc")
	d.key("R")
	d.sees("Resume run 20261121-120000-def456")
	if n := run.executed(); n != 0 {
		t.Fatalf("asking ran %d runs", n)
	}
	d.key("y")
	d.sees("1/1 finished", "wiki")
	if p := run.plannedRequests(); len(p) != 2 || p[1].ResumeOf != "20261121-120000-def456" {
		t.Fatalf("planned %+v", p)
	}
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
		{Seq: 9, RunID: id, Time: testNow, Kind: actions.KindPlanned, Step: 3, User: cast[0].Login, Target: "google", Action: "google"},
		{Seq: 10, RunID: id, Time: testNow, Kind: actions.KindResult, Step: 3, User: cast[0].Login, Target: "google", Action: "google",
			Attempt: 2, HTTPStatus: 204, Outcome: actions.Revoked, LatencyMS: 12},
	}
	for _, ev := range more {
		st.Apply(ev)
	}
	return st, append(evs, more...), nil
}

func (h mixedHistory) State(ctx context.Context, id string) (*actions.RunState, error) {
	st, _, err := h.Run(ctx, id)
	return st, err
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

// A run the operator stopped is "cancelled" in History's list and in the
// run's view, even when a step had failed before the stop.
func TestHistoryNamesAStoppedRunCancelled(t *testing.T) {
	deps, _, _, hist := testDeps()
	hist.runs = []history.RunSummary{{RunID: "20261121-120000-def456", Started: testNow.Add(-time.Hour), Done: true,
		Info:   actions.RunInfo{Reason: "phished", Operator: "analyst", Users: []actions.User{cast[0].User}},
		Counts: map[actions.Outcome]int{actions.Revoked: 1, actions.Failed: 1, actions.Cancelled: 2}, Steps: 4}}
	hist.events = func(id string) []actions.Event {
		evs := mixedRun(id, 3, func(i int) string { return fmt.Sprintf("app-%d", i) }, "connection refused")
		// The operator stopped the run: two steps had no answer.
		for i := range evs {
			if evs[i].Kind == actions.KindResult && evs[i].Step <= 3 && evs[i].Step > 1 {
				evs[i].Outcome, evs[i].HTTPStatus, evs[i].Error = actions.Cancelled, 0, "cancelled before an answer came: R to retry"
			}
		}
		return evs
	}
	d := newDriver(t, deps, 80, 24)
	d.key("tab")
	rows := runRows(d.frame())
	if len(rows) != 1 || !strings.Contains(rows[0], "cancelled") || strings.Contains(rows[0], "failures") {
		t.Fatalf("the stopped run is not named cancelled: %q", rows)
	}
	d.key("enter")
	d.sees("State        cancelled by the operator: 2 steps stopped before an answer came")
	d.notSees("finished")
}

// At 80 columns the selected run's outcome line keeps every count and the
// alarm; only the hint that enter opens the run, which the help line
// gives too, is left out.
func TestHistoryOutcomeLineKeepsEveryCountAt80Columns(t *testing.T) {
	deps, _, _, hist := testDeps()
	hist.runs[0].Counts = map[actions.Outcome]int{actions.Revoked: 15, actions.Done: 1, actions.NotFound: 1, actions.Rejected: 1, actions.Failed: 2}
	hist.runs[0].Steps, hist.runs[0].Watched, hist.runs[0].WatchAlarms = 20, true, 1
	d := newDriver(t, deps, 80, 24)
	d.key("tab")
	d.sees("20 steps: 15 revoked, 1 done, 1 not found, 1 rejected, 2 failed · ⚠ 1 alarm")
	d.notSees("⚠ 1 alarm · e…")
	d.sees("enter open")
}

// In a run's view / filters the steps by target, user, outcome or reason:
// the keys typed are text, enter keeps the filter, a filter that matches
// nothing says so, and esc clears it before it leaves the run.
func TestRunViewFiltersItsSteps(t *testing.T) {
	deps, _, _, _ := testDeps()
	d := newDriver(t, deps, 80, 24)
	d.key("tab")
	d.key("enter")
	d.sees("OUTCOME")
	d.key("?")
	d.sees("/      filter")
	d.key("?")
	d.key("/")
	d.typeText("revoked")
	d.sees("filter › revoked", "1 of 2 steps")
	if rows := rowsBelow(d.frame(), "OUTCOME"); len(rows) == 0 || !strings.Contains(rows[0], "chat") || strings.Contains(d.frame(), "wiki") {
		t.Fatalf("the filter for revoked shows %q", rows)
	}
	d.key("enter") // keep it
	d.sees("step 1 chat")
	d.key("/")
	d.typeText("q?")
	if d.quit || d.m.full {
		t.Fatal("q or ? typed into the filter acted")
	}
	d.sees("0 of 2 steps · none matches; esc clears it")
	d.key("enter")
	if h := d.helpLine(); strings.Contains(h, "enter attempts") || !strings.Contains(h, "esc clear filter") {
		t.Errorf("with no step shown the help line is %q", h)
	}
	d.key("esc") // clears the filter, stays in the run
	d.sees("› Run 20261121-120000-def456", "step 2 wiki")
	d.notSees("filter ›")
	if f := d.frame(); !strings.Contains(f, "✓ revoked    chat") || !strings.Contains(f, "? unknown    wiki") {
		t.Errorf("after esc not every step shows:\n%s", f)
	}
	d.key("esc")
	d.sees("1 run in")
}
