package tui

import (
	"strings"
	"testing"
)

// TestHelpLineIsTrueWhileTyping: while a text field has focus, q and ? are
// text, so the help line offers ctrl+c and esc instead; esc on an empty
// search box leaves it, and then ? and q are commands again.
func TestHelpLineIsTrueWhileTyping(t *testing.T) {
	deps, dir, _, _ := testDeps()
	d := newDriver(t, deps, 80, 24)
	h := d.helpLine()
	if strings.Contains(h, "? help") || strings.Contains(h, "q quit") || !strings.Contains(h, "ctrl+c quit") || !strings.Contains(h, "esc leave the box") {
		t.Fatalf("the search box's help line: %q", h)
	}
	d.search("tri")
	if h := d.helpLine(); !strings.Contains(h, "esc clear") || !strings.Contains(h, "enter/↓ to results") {
		t.Fatalf("with a query typed: %q", h)
	}
	d.key("esc") // clears
	d.sees("search › name or email")
	d.key("esc") // leaves the empty box
	if h := d.helpLine(); !strings.Contains(h, "? help") || !strings.Contains(h, "q quit") || !strings.Contains(h, "/ search") {
		t.Fatalf("after leaving the box: %q", h)
	}
	d.sees("/ to search again")
	d.key("?")
	if !d.m.full {
		t.Fatal("? did not open the help after leaving the box")
	}
	d.key("?")
	d.key("/")
	d.typeText("q") // back in the box: q is text
	if d.quit {
		t.Fatal("q quit from the search box")
	}
	d.sees("search › q")
	d.key("backspace")
	d.key("esc")
	dir.mu.Lock()
	queries := len(dir.queries)
	dir.mu.Unlock()
	d.key("q")
	if !d.quit {
		t.Fatal("q did not quit once the box was left")
	}
	dir.mu.Lock()
	n := len(dir.queries)
	dir.mu.Unlock()
	if n != queries {
		t.Fatalf("q was searched for after leaving the box (%d queries, then %d)", queries, n)
	}
}

// TestConfirmFieldsInScreenOrder: the fields are on the screen in their
// tab order, ctrl+g jumps to Confirm from any of them, and the help line
// offers only what works in the field.
func TestConfirmFieldsInScreenOrder(t *testing.T) {
	deps, _, run, _ := testDeps()
	d := newDriver(t, deps, 80, 24)
	d.openConfirm("tri")
	f := d.frame()
	order := []string{"Reason  ›", "Ticket  ›", "Okta steps", "Targets:", "Confirm ›"}
	last := -1
	for _, w := range order {
		i := strings.Index(f, w)
		if i <= last {
			t.Fatalf("%q is not below the field before it:\n%s", w, f)
		}
		last = i
	}
	if h := d.helpLine(); strings.Contains(h, "q quit") || strings.Contains(h, "? help") || !strings.Contains(h, "ctrl+g Confirm") {
		t.Fatalf("the reason field's help line: %q", h)
	}
	d.typeText("phished")
	d.key("ctrl+g")
	d.typeText(trinity)
	d.sees("Confirm › " + trinity)
	if h := d.helpLine(); !strings.Contains(h, "enter send") {
		t.Fatalf("Confirm's help line: %q", h)
	}
	d.key("enter")
	d.waitFor("OUTCOME")
	if p := run.plannedRequests(); len(p) != 1 || p[0].Reason != "phished" {
		t.Fatalf("planned %+v", p)
	}
}

// TestConfirmWarnsAboutDeactivate: ticking deactivate says it cannot be
// undone from ulc; unticking it takes the warning away.
func TestConfirmWarnsAboutDeactivate(t *testing.T) {
	deps, _, _, _ := testDeps()
	d := newDriver(t, deps, 80, 24)
	d.openConfirm("tri")
	d.notSees("cannot be undone")
	d.key("tab")
	d.key("tab") // Okta steps
	for range stepDeactivate {
		d.key("down")
	}
	d.key("space")
	d.sees("[x] deactivate", "⚠ deactivate cannot be undone from ulc")
	fits(t, "confirm", d.m.View().Content, 80, 24)
	d.key("space")
	d.notSees("cannot be undone")
}

// TestConfirmKeepsUntickedTargets: a target switched off stays off while
// the screen is open, whatever else the operator does there: moving
// between fields, a refused send, a resize, a dry run's plan coming back
// held.
func TestConfirmKeepsUntickedTargets(t *testing.T) {
	deps, _ := withMissingChat()
	d := newDriver(t, deps, 80, 24)
	d.openConfirm("tri")
	d.key("tab")
	d.key("tab")
	d.key("tab") // Targets, on chat
	d.key("down")
	d.key("space") // wiki off
	d.sees("[ ] wiki", "Targets: 1 of 2")
	d.key("tab")
	d.key("enter") // refused: no reason
	d.sees("a reason is required")
	d.typeText("phished")
	d.key("ctrl+g")
	d.typeText(trinity)
	d.key("enter") // chat is unusable: the plan is held
	d.sees("[ ] wiki", "Targets: 1 of 2")
	for range 5 {
		d.key("tab")
	}
	d.sees("[ ] wiki", "Targets: 1 of 2")
}

// In every text field the console's keys are text: q, ?, the screens'
// digits and r go into Confirm's Reason, Ticket and Confirm fields and
// into History's filter, and nothing quits, opens help or changes screen.
func TestKeysAreTextInEveryField(t *testing.T) {
	deps, _, _, _ := testDeps()
	d := newDriver(t, deps, 80, 24)
	d.openConfirm("tri")
	d.typeText("q?13r")
	d.sees("Reason  › q?13r")
	d.key("tab")
	d.typeText("q?2")
	d.sees("Ticket  › q?2")
	d.key("ctrl+g")
	d.typeText("q?3")
	d.sees("Confirm › q?3")
	if d.quit || d.m.full {
		t.Fatalf("a key typed into a field quit or opened the help:\n%s", d.frame())
	}
	d.sees("› Confirm") // still on Confirm

	d = newDriver(t, deps, 80, 24)
	d.key("tab")
	d.sees("1 run in")
	d.key("/")
	d.typeText("q?13")
	d.sees("filter › q?13")
	if d.quit || d.m.full || d.activeTab() != "History" {
		t.Fatalf("a key typed into History's filter acted:\n%s", d.frame())
	}
}
