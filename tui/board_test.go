package tui

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/charmbracelet/x/ansi"

	"ulc/actions"
	"ulc/config"
)

func TestBoardPutsFailuresOnTop(t *testing.T) {
	deps, _, run, _ := testDeps()
	run.script = map[string]actions.Outcome{"chat": actions.Revoked, "wiki": actions.Failed}
	d := newDriver(t, deps, 80, 24)
	d.startRun()
	d.settle()
	d.sees("3/3 finished", "1 revoked · 1 done · 1 failed", "1 step did not succeed: R retries as a new run")
	rows := rowsBelow(d.frame(), "OUTCOME")
	if len(rows) != 3 {
		t.Fatalf("%d rows, want 3:\n%s", len(rows), d.frame())
	}
	if !strings.HasPrefix(rows[0], "✗ failed") || !strings.Contains(rows[0], "wiki") ||
		!strings.Contains(rows[0], "connection refused") {
		t.Fatalf("the first row is %q, want wiki's failure", rows[0])
	}
	// Below the failure, the plan's order: Okta first, then the targets.
	if !strings.Contains(rows[1], "okta sessions") || !strings.Contains(rows[2], "chat") {
		t.Fatalf("rows below the failure:\n%s", strings.Join(rows[1:], "\n"))
	}
	d.sees("run " + runID + " finished: 1 revoked, 1 done, 1 failed")
}

func TestBoardOrdersEveryKindOfAnswer(t *testing.T) {
	deps, _, run, _ := testDeps()
	deps.Targets = append(deps.Targets[:2:2],
		testTarget("hr"), testTarget("crm"), testTarget("vpn"))
	run.script = map[string]actions.Outcome{"chat": actions.Revoked, "wiki": actions.Rejected,
		"hr": actions.NotFound, "crm": actions.Failed, "vpn": actions.Revoked}
	d := newDriver(t, deps, 100, 30)
	d.startRun()
	d.settle()
	var order []string
	for _, r := range rowsBelow(d.frame(), "OUTCOME") {
		order = append(order, strings.TrimSpace(ansi.Cut(r, 13, 29))) // the TARGET column
	}
	// Failures first (in plan order), then successes in plan order.
	want := []string{"wiki", "crm", "okta sessions", "chat", "hr", "vpn"}
	if !slices.Equal(order, want) {
		t.Fatalf("rows in order %v, want %v:\n%s", order, want, d.frame())
	}
	d.sees("∅ not found", "the app has no such user", "✗ rejected", "credential rejected (401)")
	d.sees("2 revoked · 1 done · 1 not found · 1 rejected · 1 failed")
}

func TestBoardShowsStepsInFlight(t *testing.T) {
	deps, _, run, _ := testDeps()
	run.block = make(chan struct{})
	d := newDriver(t, deps, 80, 24)
	d.startRun()
	// The board shows whatever events are queued when it wakes, so the
	// steps' attempts can reach the screen over several frames: wait for
	// the one where every row is in flight.
	d.until("every row to read sending", func() bool {
		rows := rowsBelow(d.frame(), "OUTCOME")
		for _, r := range rows {
			if !strings.Contains(r, "sending") {
				return false
			}
		}
		return len(rows) > 0
	})
	d.sees("0/3 running", "3 waiting", "x cancel •")
	d.notSees("R retry", "finished")

	close(run.block)
	d.settle()
	d.sees("3/3 finished")
	d.notSees("sending", "x cancel")
}

func TestBoardCancelsARunInFlight(t *testing.T) {
	deps, _, run, _ := testDeps()
	run.block = make(chan struct{})
	run.drain = make(chan struct{})
	d := newDriver(t, deps, 80, 24)
	d.startRun()
	d.waitFor("sending")

	d.press("x")
	d.sees("y cancel the run", "n keep going")
	d.press("n") // second thoughts: nothing is cancelled
	d.sees("running")
	d.notSees("cancel the run")

	d.press("x")
	d.press("y")
	d.waitFor("cancelling: answers already in stay recorded")
	d.sees("0/3 cancelling")
	close(run.drain)
	d.settle()
	// Stopped by the operator: the run is named cancelled, not finished.
	d.sees("3/3 cancelled", "3 cancelled", "⊘ cancelled", "run "+runID+" cancelled: 3 cancelled")
	d.notSees("sending", "finished")
	if run.executed() != 1 {
		t.Fatalf("%d runs executed", run.executed())
	}
	// Cancelled steps are not successes: R offers them again.
	d.sees("cancelled: 3 steps did not succeed, R sends them again", "R retry")
}

func TestBoardRetriesWhatDidNotSucceed(t *testing.T) {
	deps, _, run, _ := testDeps()
	d := newDriver(t, deps, 80, 24)
	d.startRun()
	d.settle()
	d.sees("1 failed")

	// R asks before anything is sent again.
	d.key("R")
	d.sees("Send 1 step again, as a new run? y/n", "y send again", "n do not")
	if n := len(run.plannedRequests()); n != 1 {
		t.Fatalf("R planned a retry before the operator agreed")
	}
	d.key("n")
	d.sees("nothing sent again")
	if n := len(run.plannedRequests()); n != 1 {
		t.Fatalf("n planned a retry")
	}
	d.key("R")
	d.key("y")
	p := run.plannedRequests()
	if len(p) != 2 {
		t.Fatalf("%d plans, want the first and the retry", len(p))
	}
	r := p[1]
	if r.ResumeOf != runID {
		t.Errorf("the retry resumes %q, want %q", r.ResumeOf, runID)
	}
	if r.Reason != "phished via fake sso page" || len(r.Users) != 1 || r.Users[0].Login != trinity {
		t.Errorf("the retry is for %+v with reason %q", r.Users, r.Reason)
	}
	if !slices.Equal(r.Targets, []string{"wiki"}) || len(r.OktaSteps) != 0 {
		t.Errorf("the retry sends targets %v and Okta steps %v, want only wiki", r.Targets, r.OktaSteps)
	}
	u := cast[0].User
	if r.Skip == nil || !r.Skip(u, actions.ActionGTR, "chat") || !r.Skip(u, actions.ActionClearSessions, actions.OktaTarget) {
		t.Errorf("the retry does not skip the steps that succeeded")
	}
	if r.Skip != nil && r.Skip(u, actions.ActionGTR, "wiki") {
		t.Errorf("the retry skips the failed step")
	}
	// The new run has its own board, with only the failed step.
	d.sees("1/1 finished", "1 failed")
	d.notSees("chat", "okta sessions")
}

func TestBoardRetryIsNotOfferedWhenAllSucceeded(t *testing.T) {
	deps, _, run, _ := testDeps()
	run.script = nil
	d := newDriver(t, deps, 80, 24)
	d.startRun()
	d.settle()
	d.sees("3/3 finished", "2 revoked · 1 done")
	d.notSees("R retry")
	d.key("R")
	if n := len(run.plannedRequests()); n != 1 {
		t.Fatalf("R planned %d more runs", n-1)
	}
}

func TestBoardRowDetail(t *testing.T) {
	deps, _, _, _ := testDeps()
	d := newDriver(t, deps, 80, 24)
	d.startRun()
	d.settle()
	d.key("enter") // the top row: wiki's failure
	// Every attempt: its time, status, latency and reason; the step's
	// time is all of them.
	d.sees("Target       wiki", "Outcome      ✗ failed", "Time         710ms from first request to result (3 requests, 42ms of it)",
		"Attempts     1 14:30:00.290   -    10ms connection refused; retrying in 250ms",
		"             2 14:30:00.580   -    20ms connection refused; retrying in 500ms",
		"             3 14:30:00.988   -    12ms failed (the reason above)",
		"Request      POST https://wiki.example/gtr", "Subject      email",
		"connection refused", "enter or esc closes the detail")
	d.key("esc")
	d.sees("OUTCOME")
	d.notSees("Attempts")
	d.key("down")
	d.key("down")
	d.key("enter")
	d.sees("Target       chat", "HTTP         204", "Outcome      ✓ revoked")
	d.key("enter")
	d.key("esc") // off the board, back to the user
	d.sees("Recent activity")
}

func TestBoardQuitWhileInFlightAsksFirst(t *testing.T) {
	deps, _, run, _ := testDeps()
	run.block = make(chan struct{})
	run.drain = make(chan struct{})
	d := newDriver(t, deps, 80, 24)
	d.startRun()
	d.waitFor("sending")

	d.press("q")
	d.sees("A run is in flight. Cancel it and quit? y/n")
	if d.quit {
		t.Fatal("q quit with a run in flight")
	}
	d.press("n")
	d.sees("the run goes on", "sending")
	if d.quit {
		t.Fatal("n quit")
	}

	d.press("ctrl+c") // ctrl+c asks too
	d.sees("Cancel it and quit? y/n")
	d.press("y")
	d.sees("cancelling the run; recording what was answered")
	d.notSees("Cancel it and quit?")
	// The engine is still recording: the console waits for it.
	d.until("the cancellation to reach the runner", run.sawCancel.Load)
	if d.quit {
		t.Fatal("the console quit before the run ended")
	}
	close(run.drain)
	d.settle()
	if !d.quit || !d.m.Done() {
		t.Fatalf("the console did not quit once the run ended (quit %v, done %v)", d.quit, d.m.Done())
	}
	d.sees("3 cancelled")
}

// TestBoardQuestionStillCountsWhenTheRunEndsByItself: the run ends while
// "quit?" is open; the question stays, now about a console with nothing in
// flight, and the operator's answer counts.
func TestBoardQuestionStillCountsWhenTheRunEndsByItself(t *testing.T) {
	for _, answer := range []string{"y", "n"} {
		t.Run(answer, func(t *testing.T) {
			deps, _, run, _ := testDeps()
			run.block = make(chan struct{})
			d := newDriver(t, deps, 80, 24)
			d.startRun()
			d.waitFor("sending")
			d.press("q")
			d.sees("Cancel it and quit? y/n")
			close(run.block)
			d.settle()
			if d.quit {
				t.Fatal("the console quit without an answer")
			}
			d.sees("3/3 finished", "Quit? y/n · the run has ended: run "+runID+" finished")
			d.notSees("Cancel it and quit?")
			if !strings.HasPrefix(d.helpLine(), "y quit • n stay") {
				t.Fatalf("the help line is %q while the question is open", d.helpLine())
			}
			d.press(answer)
			d.settle()
			if d.quit != (answer == "y") {
				t.Fatalf("%s: quit is %v", answer, d.quit)
			}
			if answer == "n" {
				d.notSees("Quit? y/n", "the run goes on")
				d.sees("3/3 finished")
			}
		})
	}
}

func TestBoardQuitRightAfterTheRunQuits(t *testing.T) {
	deps, _, _, _ := testDeps()
	d := newDriver(t, deps, 80, 24)
	d.startRun()
	// The board says finished as soon as the run is over; a q then is a
	// plain quit, even if other messages are still on their way.
	d.until("the board to finish", func() bool { return strings.Contains(d.frame(), "finished") })
	d.press("q")
	d.notSees("Cancel it and quit?")
	d.settle()
	if !d.quit {
		t.Fatal("q on a finished board did not quit")
	}
}

func TestShutdownCancelsTheRunAndQuits(t *testing.T) {
	deps, _, run, _ := testDeps()
	run.block = make(chan struct{})
	d := newDriver(t, deps, 80, 24)
	d.startRun()
	d.waitFor("sending")
	d.send(ShutdownMsg{})
	d.sees("stopping: cancelling the run")
	d.settle()
	if !d.quit || !d.m.Done() {
		t.Fatal("the console did not quit after SIGTERM")
	}
	d.sees("3 cancelled")
}

func TestBoardRunGoesOnWhileBrowsing(t *testing.T) {
	deps, _, run, _ := testDeps()
	run.block = make(chan struct{})
	d := newDriver(t, deps, 80, 24)
	d.startRun()
	d.waitFor("sending")

	d.press("2")
	d.sees("1 run in", "● run in flight (b)")
	d.press("b")
	d.sees("0/3 running", "sending")
	d.press("3")
	d.sees("3 targets registered", "run in flight (b)")
	close(run.block)
	d.settle()
	d.notSees("run in flight")
	d.sees("run " + runID + " finished") // the status line tells, wherever one is
	d.key("b")                           // no run in flight: b does nothing
	d.sees("3 targets registered")
}

// testTarget is an enabled bearer target.
func testTarget(name string) config.Target {
	return config.Target{Name: name, URL: "https://" + name + ".example/gtr", Subject: "email", BodyKey: "sub_id", Auth: "bearer", Enabled: true}
}

func TestBoardDetailFollowsItsStepWhileRowsMove(t *testing.T) {
	deps, _, run, _ := testDeps()
	run.block = make(chan struct{})
	d := newDriver(t, deps, 80, 24)
	d.startRun()
	d.waitFor("sending")
	d.press("down")
	d.press("down") // wiki, third in plan order
	d.press("enter")
	d.sees("Target       wiki")
	// wiki fails and moves to the top: the detail stays on wiki.
	close(run.block)
	d.settle()
	d.sees("Target       wiki", "Outcome      ✗ failed")
	d.key("esc")
	rows := rowsBelow(d.frame(), "OUTCOME")
	if d.m.top().(*boardScreen).cursor != 0 || !strings.Contains(rows[0], "wiki") {
		t.Fatalf("the selection did not follow wiki to the top:\n%s", d.frame())
	}
}

func TestQuitAsksWhileAnyRunIsInFlight(t *testing.T) {
	deps, _, run, _ := testDeps()
	slow := make(chan struct{})
	run.block = slow
	d := newDriver(t, deps, 80, 24)
	d.startRun() // the first run waits on slow apps
	d.waitFor("sending")

	// A second run, for Neo, answers at once.
	run.mu.Lock()
	run.block = nil
	run.mu.Unlock()
	d.press("1")
	d.press("esc") // from the results to the query
	d.press("esc") // clear it
	for _, r := range "neo" {
		d.press(string(r))
	}
	d.waitFor("neo@whiterabbit.fake")
	d.press("enter")
	d.press("enter")
	d.waitFor("Recent activity")
	d.press("r")
	d.waitFor("Log out neo@")
	for _, r := range "same campaign" {
		d.press(keyName(r))
	}
	for range fieldConfirm - fieldReason {
		d.press("tab")
	}
	for _, r := range "neo@whiterabbit.fake" {
		d.press(string(r))
	}
	d.press("enter")
	d.until("both runs planned, the second finished", func() bool {
		return len(run.plannedRequests()) == 2 && strings.Contains(d.frame(), "3/3 finished")
	})

	// Trinity's run is still in flight: the console says so, and asks.
	d.sees("run in flight (b)")
	d.press("q")
	d.sees("A run is in flight. Cancel it and quit? y/n")
	if d.quit {
		t.Fatal("q quit with the first run in flight")
	}
	d.press("n")
	d.press("b")
	d.sees("0/3 running", "sending")
	d.press("q")
	d.press("y")
	d.settle()
	if !d.quit || !d.m.Done() {
		t.Fatal("y did not cancel the run and quit")
	}
	d.sees("3 cancelled")
	select {
	case <-slow:
		t.Fatal("unreachable")
	default:
		close(slow)
	}
}

// keyName is the driver's name for the key that types r.
func keyName(r rune) string {
	if r == ' ' {
		return "space"
	}
	return string(r)
}

func TestBoardRetryPlansOnceForAnImpatientR(t *testing.T) {
	deps, _, run, _ := testDeps()
	d := newDriver(t, deps, 80, 24)
	d.startRun()
	d.settle()
	d.press("R")
	d.press("y")
	d.press("R") // before the first retry's plan is back
	d.press("y")
	d.settle()
	if n := len(run.plannedRequests()); n != 2 {
		t.Fatalf("%d plans, want the run and one retry", n)
	}
	if run.executed() != 2 {
		t.Fatalf("%d runs executed, want 2", run.executed())
	}
}

func TestBoardRetryThatCannotBePlannedSaysWhy(t *testing.T) {
	deps, _, run, _ := testDeps()
	d := newDriver(t, deps, 80, 24)
	d.startRun()
	d.settle()
	run.mu.Lock()
	run.planErr = errors.New("target wiki: token_env WIKI_TOKEN is not set")
	run.mu.Unlock()
	d.key("R")
	d.key("y")
	d.sees("retry: target wiki: token_env WIKI_TOKEN is not set", "1 failed")
	// Once the problem is fixed, R works again.
	run.mu.Lock()
	run.planErr = nil
	run.mu.Unlock()
	d.key("R")
	d.key("y")
	if n := len(run.plannedRequests()); n != 2 {
		t.Fatalf("%d plans after fixing the problem, want 2", n)
	}
}

// TestSecondCtrlCLeavesAtOnce: while a cancelled run is still recording,
// a second ctrl+c leaves without waiting (its unanswered steps stay
// unknown in the audit log), but any other key does not.
func TestSecondCtrlCLeavesAtOnce(t *testing.T) {
	deps, _, run, _ := testDeps()
	run.block = make(chan struct{})
	run.drain = make(chan struct{})
	defer close(run.drain)
	d := newDriver(t, deps, 80, 24)
	d.startRun()
	d.waitFor("sending")
	d.press("ctrl+c")
	d.press("y")
	d.sees("ctrl+c again leaves at once")
	d.press("q")
	if d.quit {
		t.Fatal("q left while the run was still being recorded")
	}
	d.press("ctrl+c")
	d.until("a second ctrl+c to leave", func() bool { return d.quit })
}
