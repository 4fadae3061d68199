package tui

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"ulc/actions"
	"ulc/config"
	"ulc/history"
)

// whole is the frame's text with its lines joined: a sentence wrapped over
// lines reads whole.
func whole(d *driver) string { return strings.Join(strings.Fields(d.frame()), " ") }

// Every list longer than the screen at 80×24 says where it is, and g and G
// reach its ends: Search's results, History, Targets and Confirm's
// targets.
func TestEveryListSaysWhereItIsAt80x24(t *testing.T) {
	deps, dir, _, hist := testDeps()
	for i := range 30 {
		dir.people = append(dir.people, Person{User: actions.User{ID: fmt.Sprintf("00u%016d", i), Login: fmt.Sprintf("agent%02d@whiterabbit.fake", i),
			Email: fmt.Sprintf("agent%02d@whiterabbit.fake", i), Status: "ACTIVE"}, FirstName: "Agent", LastName: fmt.Sprintf("No%02d", i)})
	}
	for i := range 30 {
		hist.runs = append(hist.runs, history.RunSummary{RunID: fmt.Sprintf("20261120-%02d0000-run%03d", i%24, i), Started: testNow.Add(-time.Duration(3+i) * time.Hour),
			Info:   actions.RunInfo{Reason: fmt.Sprintf("offboarding %02d", i), Operator: "bob", Users: []actions.User{cast[1].User}},
			Counts: map[actions.Outcome]int{actions.Revoked: 2}, Steps: 2})
	}
	deps.Targets = manyTargets(30)
	d := newDriver(t, deps, 80, 24)

	d.search("agent")
	d.key("enter") // to the results
	d.sees("1–", "of 30 · ↓")
	d.key("G")
	d.sees("of 30", "No29")
	d.notSees("↓")
	d.key("g")
	d.sees("1–", "No00")

	d.key("tab")
	d.sees("31 runs in")
	d.sees("1–", "of 31 · ↓")
	d.key("G")
	d.sees("–31 of 31", "offboarding 29")
	d.key("g")
	d.sees("1–", "phished")

	d.key("3")
	d.sees("1–", "of 30 · ↓")
	d.key("G")
	d.sees("–30 of 30", "app-29")
	d.key("g")
	d.sees("1–", "app-00")

	d = newDriver(t, deps, 80, 24)
	d.openConfirm("agent")
	for range fieldTargets - fieldReason {
		d.key("tab")
	}
	d.key("G")
	d.sees("of 30", "app-29")
	d.key("g")
	d.sees("1–", "app-00")
	fits(t, "confirm", d.m.View().Content, 80, 24)
}

// At 80 columns the sentences that say why a list is empty, and what to do
// about it, are read to their end.
func TestEmptyListsSayWhyInFullAt80x24(t *testing.T) {
	deps, _, _, _ := testDeps()
	d := newDriver(t, deps, 80, 24)
	d.search("zzz")
	d.waitFor("nobody matches")
	if !strings.Contains(whole(d), "matches the start of first name, last name or email") {
		t.Errorf("the empty search is cut:\n%s", d.frame())
	}
	d.key("tab")
	d.key("/")
	d.typeText("nothing-like-this")
	d.sees("no run of the 1 matches")
	if !strings.Contains(whole(d), "outcome or date; esc clears it") {
		t.Errorf("the filter that matches nothing does not say how to clear it:\n%s", d.frame())
	}
}

// manyTargets is a registry of n GTR targets, app-00 onwards.
func manyTargets(n int) []config.Target {
	out := make([]config.Target, n)
	for i := range out {
		out[i] = config.Target{Name: fmt.Sprintf("app-%02d", i), URL: "https://x.example/gtr",
			Subject: "email", BodyKey: "sub_id", Auth: "bearer", Enabled: true}
	}
	return out
}
