package tui

import (
	"fmt"
	"maps"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"ulc/actions"
)

// bigBoard is a board of n GTR steps for one user, every request in flight.
func bigBoard(n int) *boardScreen {
	deps, _, _, _ := testDeps()
	c := &common{deps: deps, width: 120, height: 40, st: newStyles(), keys: newKeyMap()}
	p := &actions.Plan{RunID: "20261121-143000-abc123", Created: testNow,
		Info: actions.RunInfo{Reason: "bench", Users: []actions.User{cast[0].User}}}
	for i := range n {
		p.Steps = append(p.Steps, actions.Step{N: i + 1, User: &cast[0].User, Action: actions.ActionGTR,
			Target: fmt.Sprintf("app-%04d", i)})
	}
	b := newBoard(c, p)
	b.started, b.running = true, true
	var evs []actions.Event
	for i := range n {
		evs = append(evs, actions.Event{RunID: p.RunID, Kind: actions.KindAttempt, Step: i + 1,
			User: cast[0].Login, Target: fmt.Sprintf("app-%04d", i), Action: actions.ActionGTR, Attempt: 1})
	}
	b.update(boardEventsMsg{b: b, evs: evs})
	return b
}

// BenchmarkBoard1000Frame is one frame of a 1,000-target board: fold a
// frame's worth of answers (100) and render the screen. A frame at 60 fps
// has 16 ms.
func BenchmarkBoard1000Frame(b *testing.B) {
	board := bigBoard(1000)
	next := 0
	b.ResetTimer()
	for range b.N {
		var evs []actions.Event
		for range 100 {
			i := next % 1000
			next++
			o := actions.Revoked
			if i%17 == 0 {
				o = actions.Failed
			}
			evs = append(evs, actions.Event{RunID: board.plan.RunID, Time: testNow, Kind: actions.KindResult, Step: i + 1,
				User: cast[0].Login, Target: fmt.Sprintf("app-%04d", i), Action: actions.ActionGTR, Attempt: 1,
				Outcome: o, HTTPStatus: 204, LatencyMS: 50})
		}
		board.update(boardEventsMsg{b: board, evs: evs})
		_ = board.view()
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N)/1000, "ms/frame")
}

// TestBoard1000StaysResponsive checks the property the benchmark measures,
// without timing: a frame of a 1,000-target board renders one screenful,
// and a key press still moves the selection.
func TestBoard1000StaysResponsive(t *testing.T) {
	board := bigBoard(1000)
	frame := board.view()
	if lines := strings.Count(frame, "\n") + 1; lines > board.c.height {
		t.Fatalf("the frame has %d lines for a %d-line terminal", lines, board.c.height)
	}
	board.update(tea.KeyPressMsg{Code: tea.KeyDown})
	if board.cursor != 1 {
		t.Fatalf("cursor %d after ↓", board.cursor)
	}
}

// BenchmarkBoard200kFilteredFrame is one frame of a 200,000-step board
// with a filter set: fold a frame's worth of answers (100), re-order the
// rows that match, and render the screen.
func BenchmarkBoard200kFilteredFrame(b *testing.B) {
	const n = 200_000
	board := bigBoard(n)
	board.setFilter("app-01")
	_ = board.view()
	next := 0
	b.ResetTimer()
	for range b.N {
		var evs []actions.Event
		for range 100 {
			i := next % n
			next++
			o := actions.Revoked
			if i%17 == 0 {
				o = actions.Failed
			}
			evs = append(evs, actions.Event{RunID: board.plan.RunID, Time: testNow, Kind: actions.KindResult, Step: i + 1,
				User: cast[0].Login, Target: fmt.Sprintf("app-%04d", i), Action: actions.ActionGTR, Attempt: 1,
				Outcome: o, HTTPStatus: 204, LatencyMS: 50, Error: "the app answered 204"})
		}
		board.update(boardEventsMsg{b: board, evs: evs})
		_ = board.view()
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N)/1000, "ms/frame")
}

// TestBoardFilterFollowsAnswers: with a filter set, a step whose answer
// comes to match it shows, one whose answer no longer does leaves, and the
// order stays failures first, as when the rows are sorted afresh.
func TestBoardFilterFollowsAnswers(t *testing.T) {
	board := bigBoard(50)
	board.setFilter("REFUSED") // any case
	if got := board.rowOrder(); len(got) != 0 {
		t.Fatalf("%d rows match before any answer", len(got))
	}
	result := func(step int, o actions.Outcome, reason string) {
		board.update(boardEventsMsg{b: board, evs: []actions.Event{{RunID: board.plan.RunID, Kind: actions.KindResult, Step: step,
			User: cast[0].Login, Target: fmt.Sprintf("app-%04d", step-1), Action: actions.ActionGTR, Attempt: 1, Outcome: o, Error: reason}}})
	}
	result(30, actions.Revoked, "the app said: refused nothing")
	result(7, actions.Failed, "connection refused (after 3 attempts)")
	result(12, actions.Revoked, "")
	got := board.rowOrder()
	if len(got) != 2 || board.state.Steps[got[0]].Step != 7 || board.state.Steps[got[1]].Step != 30 {
		t.Fatalf("rows %v, want steps 7 (failed, first) and 30", got)
	}
	result(7, actions.Revoked, "")
	if got := board.rowOrder(); len(got) != 1 || board.state.Steps[got[0]].Step != 30 {
		t.Fatalf("rows %v after step 7 succeeded, want step 30 alone", got)
	}
	board.setFilter("")
	got = board.rowOrder()
	var last []int
	for _, i := range got[len(got)-3:] {
		last = append(last, board.state.Steps[i].Step)
	}
	if len(got) != 50 || !slices.Equal(last, []int{7, 12, 30}) {
		t.Fatalf("without a filter %d rows ending in steps %v, want 50 ending in the answered 7, 12, 30", len(got), last)
	}
}

// bigOffboarding is the board of a 10,000-person offboarding: users people
// times targets GTR targets, every step planned and waiting.
func bigOffboarding(users, targets int) *boardScreen {
	b := newBoard(boardCommon(), offboardingPlan(users, targets))
	b.started, b.running = true, true
	return b
}

func boardCommon() *common {
	deps, _, _, _ := testDeps()
	return &common{deps: deps, width: 120, height: 40, st: newStyles(), keys: newKeyMap()}
}

// offboardingPlan is the plan of users people times targets GTR targets.
func offboardingPlan(users, targets int) *actions.Plan {
	p := &actions.Plan{RunID: "20261121-143000-abc123", Created: testNow, Info: actions.RunInfo{Reason: "offboarding"}}
	for u := range users {
		user := actions.User{ID: fmt.Sprintf("00u%017d", u), Login: fmt.Sprintf("person%05d@corp.example", u)}
		p.Info.Users = append(p.Info.Users, user)
		for t := range targets {
			p.Steps = append(p.Steps, actions.Step{N: len(p.Steps) + 1, User: &user, Action: actions.ActionGTR,
				Target: fmt.Sprintf("app-%02d", t), Detail: actions.StepDetail{Method: "POST",
					URL:  fmt.Sprintf("https://app-%02d.corp.example/global-token-revocation", t),
					Body: `{"sub_id":{"format":"email","email":"` + user.Login + `"}}`, SubjectFormat: "email", Auth: "bearer"}})
		}
	}
	return p
}

// BenchmarkBoard200kFrame is one frame of the board of 10,000 people times
// 20 targets (200,000 steps) while the run goes on: fold a frame's worth
// of answers (100 attempts and 100 results) and render the screen. The goal
// is a frame under 16 ms (60 Hz). MB-board is the heap the board adds to
// its plan once built, measured after a collection; ms-open the time the
// board takes to open on the plan (once, after Confirm).
func BenchmarkBoard200kFrame(b *testing.B) {
	var before, after runtime.MemStats
	p, c := offboardingPlan(10_000, 20), boardCommon()
	runtime.GC()
	runtime.ReadMemStats(&before)
	start := time.Now()
	board := newBoard(c, p)
	open := time.Since(start)
	board.started, board.running = true, true
	runtime.GC()
	runtime.ReadMemStats(&after)
	n := len(board.plan.Steps)
	next := 0
	b.ResetTimer()
	for range b.N {
		evs := make([]actions.Event, 0, 200)
		for range 100 {
			i := next % n
			next++
			s := board.plan.Steps[i]
			o := actions.Revoked
			if i%17 == 0 {
				o = actions.Failed
			}
			evs = append(evs, actions.Event{RunID: board.plan.RunID, Time: testNow, Kind: actions.KindAttempt, Step: s.N,
				User: s.User.Key(), Target: s.Target, Action: s.Action, Attempt: 1},
				actions.Event{RunID: board.plan.RunID, Time: testNow, Kind: actions.KindResult, Step: s.N,
					User: s.User.Key(), Target: s.Target, Action: s.Action, Attempt: 1, Outcome: o, HTTPStatus: 204, LatencyMS: 50})
		}
		board.update(boardEventsMsg{b: board, evs: evs})
		_ = board.view()
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N)/1000, "ms/frame")
	b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/(1<<20), "MB-board")
	b.ReportMetric(float64(open.Microseconds())/1000, "ms-open")
	runtime.KeepAlive(board)
}

// TestBoardKeepsCountsAndOrderOfItsState: the counts and the row order a
// board keeps between frames, updated per answer, are those its state
// gives when computed afresh, through attempts, retries and results.
func TestBoardKeepsCountsAndOrderOfItsState(t *testing.T) {
	board := bigOffboarding(30, 4)
	steps := board.plan.Steps
	kinds := []actions.EventKind{actions.KindAttempt, actions.KindRetry, actions.KindResult}
	outcomes := []actions.Outcome{actions.Revoked, actions.Failed, actions.NotFound, actions.Rejected}
	for frame := range 40 {
		var evs []actions.Event
		for j := range 7 {
			s := steps[(frame*31+j*17)%len(steps)]
			k := kinds[(frame+j)%len(kinds)]
			evs = append(evs, actions.Event{RunID: board.plan.RunID, Time: testNow, Kind: k, Step: s.N, User: s.User.Key(),
				Target: s.Target, Action: s.Action, Attempt: 1 + frame%3, Outcome: outcomes[(frame*j)%len(outcomes)], HTTPStatus: 500})
			if k != actions.KindResult {
				evs[len(evs)-1].Outcome = ""
			}
		}
		board.update(boardEventsMsg{b: board, evs: evs})
		_ = board.view()
		if got, want := board.stepCounts(), board.state.Counts(); !maps.Equal(got, want) {
			t.Fatalf("frame %d: counts %v; the state's %v", frame, got, want)
		}
		got := slices.Clone(board.rowOrder())
		board.ranks, board.order = nil, nil
		if want := board.rowOrder(); !slices.Equal(got, want) {
			t.Fatalf("frame %d: the kept order differs from a fresh one", frame)
		}
	}
}

// TestBoardDetailListsEveryCallOfAStep: a step of several requests (a
// token, a lookup, the sign-out) lists each in the detail, when it left,
// not only its last; no latency is made up for calls the engine times
// together.
func TestBoardDetailListsEveryCallOfAStep(t *testing.T) {
	board := bigBoard(1)
	at := func(ms int) time.Time { return testNow.Add(time.Duration(ms) * time.Millisecond) }
	ev := func(kind actions.EventKind, n, ms int) actions.Event {
		return actions.Event{RunID: board.plan.RunID, Time: at(ms), Kind: kind, Step: 1, User: cast[0].Login,
			Target: "app-0000", Action: actions.ActionGTR, Attempt: n}
	}
	res := ev(actions.KindResult, 3, 31)
	res.Outcome, res.HTTPStatus, res.LatencyMS = actions.Revoked, 204, 28
	board.update(boardEventsMsg{b: board, evs: []actions.Event{ev(actions.KindAttempt, 1, 0), ev(actions.KindAttempt, 2, 10), ev(actions.KindAttempt, 3, 20), res}})
	board.detail = true
	got := strings.Join(board.detailLines(), "\n")
	local := func(ms int) string { return at(ms).Local().Format("15:04:05.000") }
	for _, want := range []string{
		"1 " + local(0) + "   -       - answered; the step went on to its next request",
		"2 " + local(10) + "   -       - answered; the step went on to its next request",
		"3 " + local(20) + " 204       - revoked",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("the detail lacks %q:\n%s", want, got)
		}
	}
}

// A long reason of an attempt wraps under it as words, without the gaps
// of the padding wrap adds.
func TestBoardDetailWrapsAnAttemptsReason(t *testing.T) {
	board := bigBoard(1)
	board.c.width = 80
	long := "rate limited (429): " + strings.Repeat("Too many requests, please try again later. ", 4) + "retrying in 1s"
	retry := actions.Event{RunID: board.plan.RunID, Time: testNow.Add(time.Second), Kind: actions.KindRetry, Step: 1,
		User: cast[0].Login, Target: "app-0000", Action: actions.ActionGTR, Attempt: 1, HTTPStatus: 429, LatencyMS: 5, Error: long}
	board.update(boardEventsMsg{b: board, evs: []actions.Event{retry}})
	board.detail = true
	got := ansi.Strip(strings.Join(board.detailLines(), "\n"))
	flat := strings.Join(strings.Fields(got), " ")
	if !strings.Contains(flat, long) {
		t.Fatalf("the reason is not whole:\n%s", got)
	}
	under := 0 // the attempt's reason continued under it
	for _, l := range strings.Split(got, "\n") {
		if strings.HasPrefix(l, strings.Repeat(" ", 16)) {
			under++
			if strings.Contains(strings.TrimSpace(l), "  ") {
				t.Errorf("a gap inside a wrapped reason: %q", l)
			}
		}
	}
	if under == 0 {
		t.Fatalf("the reason did not wrap under its attempt:\n%s", got)
	}
}
