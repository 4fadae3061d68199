package tui

import (
	"bytes"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/colorprofile"
	"github.com/charmbracelet/x/ansi"
	"github.com/charmbracelet/x/exp/golden"
	"github.com/charmbracelet/x/exp/teatest/v2"

	"ulc/actions"
)

// These run the console in a real tea.Program (its event loop, renderer
// and command scheduling), headless.

func startProgram(t *testing.T, deps Deps) *teatest.TestModel {
	t.Helper()
	return teatest.NewTestModel(t, newTestModel(deps),
		teatest.WithInitialTermSize(100, 30),
		teatest.WithProgramOptions(tea.WithColorProfile(colorprofile.Ascii)),
	)
}

// waitFor waits until the program has drawn s.
func waitFor(t *testing.T, tm *teatest.TestModel, s string) {
	t.Helper()
	teatest.WaitFor(t, tm.Output(), func(b []byte) bool { return bytes.Contains(b, []byte(s)) },
		teatest.WithDuration(5*time.Second), teatest.WithCheckInterval(5*time.Millisecond))
}

func press(code rune) tea.KeyPressMsg { return tea.KeyPressMsg{Code: code} }

func TestProgramRevokesTrinity(t *testing.T) {
	deps, dir, run, _ := testDeps()
	tm := startProgram(t, deps)

	waitFor(t, tm, "results appear")
	tm.Type("tri")
	waitFor(t, tm, "1 person")
	tm.Send(press(tea.KeyEnter)) // to the results
	tm.Send(press(tea.KeyEnter)) // open Trinity
	waitFor(t, tm, "Recent activity")
	tm.Type("r")
	waitFor(t, tm, "Log out")
	tm.Type("phished via fake sso page")
	for range fieldConfirm - fieldReason {
		tm.Send(press(tea.KeyTab))
	}
	tm.Type(trinity)
	tm.Send(press(tea.KeyEnter))
	waitFor(t, tm, "3/3 finished")
	tm.Type("q")

	fm, ok := tm.FinalModel(t, teatest.WithFinalTimeout(5*time.Second)).(Model)
	if !ok {
		t.Fatal("the final model is not the console")
	}
	if !fm.Done() {
		t.Fatal("the console did not end cleanly")
	}
	if q := dir.queries[len(dir.queries)-1]; q != "tri" {
		t.Fatalf("the last search was %q", q)
	}
	p := run.plannedRequests()
	if len(p) != 1 || p[0].Reason != "phished via fake sso page" || p[0].DryRun ||
		len(p[0].Users) != 1 || p[0].Users[0].Login != trinity {
		t.Fatalf("planned %+v", p)
	}
	if run.executed() != 1 {
		t.Fatalf("%d runs executed", run.executed())
	}
	b, ok := fm.top().(*boardScreen)
	if !ok {
		t.Fatalf("the console ended on %s, not the board", fm.top().title())
	}
	if c := b.state.Counts(); c[actions.Revoked] != 1 || c[actions.Done] != 1 || c[actions.Failed] != 1 {
		t.Fatalf("the board counted %v", c)
	}
	golden.RequireEqual(t, []byte(ansi.Strip(fm.View().Content)))
}

func TestProgramStopsARunOnShutdown(t *testing.T) {
	deps, _, run, _ := testDeps()
	run.block = make(chan struct{})
	tm := startProgram(t, deps)

	waitFor(t, tm, "results appear")
	tm.Type("tri")
	waitFor(t, tm, "1 person")
	tm.Send(press(tea.KeyEnter))
	tm.Send(press(tea.KeyEnter))
	waitFor(t, tm, "Recent activity")
	tm.Type("r")
	waitFor(t, tm, "Log out")
	tm.Type("drill")
	for range fieldConfirm - fieldReason {
		tm.Send(press(tea.KeyTab))
	}
	tm.Type(trinity)
	tm.Send(press(tea.KeyEnter))
	waitFor(t, tm, "sending")

	// q asks; the program keeps running.
	tm.Type("q")
	waitFor(t, tm, "Cancel it and quit?")
	tm.Type("n")
	waitFor(t, tm, "the run goes on")

	// SIGTERM: the run is cancelled, its answers recorded, then it quits.
	tm.Send(ShutdownMsg{})
	fm := tm.FinalModel(t, teatest.WithFinalTimeout(5*time.Second)).(Model)
	if !fm.Done() {
		t.Fatal("the console did not end cleanly")
	}
	b := fm.top().(*boardScreen)
	if c := b.state.Counts(); c[actions.Cancelled] != 3 {
		t.Fatalf("after the shutdown the board counted %v, want 3 cancelled", c)
	}
	if !run.sawCancel.Load() {
		t.Fatal("the runner never saw the cancellation")
	}
}
