package tui

import (
	"fmt"
	"testing"

	"github.com/charmbracelet/x/exp/golden"

	"ulc/actions"
)

// TestGolden keeps a frame of every screen at two terminal sizes under
// testdata/TestGolden/. After a deliberate change to a screen, look at the
// diff, then regenerate with: go test ./tui -run TestGolden -update
func TestGolden(t *testing.T) {
	screens := []struct {
		name string
		// open brings the console to the screen; run is the fake runner,
		// blocked so a run stays in flight until the test ends.
		open func(d *driver, run *fakeRunner)
	}{
		{"search_empty", func(d *driver, _ *fakeRunner) {}},
		{"search_results", func(d *driver, _ *fakeRunner) {
			d.search("t")
			d.key("enter")
			d.key("space") // Trinity marked, Thomas selected
		}},
		{"user", func(d *driver, _ *fakeRunner) { d.openUser("tri") }},
		{"confirm_single", func(d *driver, _ *fakeRunner) {
			d.openConfirm("tri")
			d.typeText("phished via fake sso page")
			d.key("tab")
			d.typeText("INC-4211")
		}},
		{"confirm_bulk", func(d *driver, _ *fakeRunner) {
			d.search("t")
			d.key("enter")
			d.key("space")
			d.key("space")
			d.key("r")
			d.typeText("credential stuffing wave")
			d.key("tab")
			d.key("tab") // Okta steps
			d.key("down")
			d.key("down")
			d.key("down")
			d.key("space") // suspend
		}},
		{"board_running", func(d *driver, _ *fakeRunner) {
			d.startRun()
			d.waitFor("sending")
		}},
		{"board_finished", func(d *driver, run *fakeRunner) {
			d.startRun()
			close(run.block)
			d.settle()
			d.sees("finished")
		}},
		{"board_detail", func(d *driver, run *fakeRunner) {
			d.startRun()
			close(run.block)
			d.settle()
			d.key("enter")
		}},
		{"history", func(d *driver, _ *fakeRunner) { d.key("tab") }},
		{"run_detail", func(d *driver, _ *fakeRunner) {
			d.key("tab")
			d.key("enter")
			d.sees("OUTCOME")
		}},
		{"run_timeline", func(d *driver, _ *fakeRunner) {
			d.key("tab")
			d.key("enter")
			d.key("t")
			d.sees("Timeline of run")
		}},
		{"step_detail", func(d *driver, _ *fakeRunner) {
			d.key("tab")
			d.key("enter")
			d.key("down") // chat, below the unknown wiki
			d.key("enter")
			d.sees("Attempts")
		}},
		{"targets", func(d *driver, _ *fakeRunner) {
			d.key("shift+tab")
			d.key("down")
			d.key("c") // wiki checked
		}},
		{"help_full", func(d *driver, _ *fakeRunner) {
			d.key("tab")
			d.key("?")
		}},
	}
	for _, size := range [][2]int{{80, 24}, {120, 40}} {
		for _, s := range screens {
			t.Run(fmt.Sprintf("%s_%dx%d", s.name, size[0], size[1]), func(t *testing.T) {
				deps, _, run, _ := testDeps()
				deps.Prober = &fakeProber{res: ProbeResult{Outcome: actions.Rejected, HTTPStatus: 401, LatencyMS: 18,
					Verdict: "credential rejected (401): the signed JWT: check that the app trusts our key"}}
				run.block = make(chan struct{})
				d := newDriver(t, deps, size[0], size[1])
				s.open(d, run)
				frame := d.frame()
				fits(t, s.name, d.m.View().Content, size[0], size[1])
				golden.RequireEqual(t, []byte(frame))
				// Let a run still in flight end before the next test.
				select {
				case <-run.block:
				default:
					close(run.block)
				}
				d.settle()
			})
		}
	}
}
