package tui

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"ulc/actions"
	"ulc/config"
)

func TestConfirmShowsThePlanBeforeAnythingIsSent(t *testing.T) {
	deps, _, run, _ := testDeps()
	d := newDriver(t, deps, 80, 24)
	d.openConfirm("tri")
	d.sees("Log out "+trinity+" (Trinity Moss, active)",
		"[x] clear Okta sessions and tokens", "[ ] suspend",
		"Targets: 2 of 2", "chat", "https://chat.example/gtr", "signed JWT",
		"Confirm › type "+trinity, "(3 requests)")
	d.notSees("legacy") // a switched-off target is not offered
	if n := len(run.plannedRequests()); n != 0 {
		t.Fatalf("opening Confirm planned %d runs", n)
	}
}

func TestConfirmRefusesWithoutAReason(t *testing.T) {
	deps, _, run, _ := testDeps()
	d := newDriver(t, deps, 80, 24)
	d.openConfirm("tri")
	d.fill("", trinity)
	d.key("enter")
	d.sees("a reason is required")
	if n := len(run.plannedRequests()); n != 0 {
		t.Fatalf("%d plans made without a reason", n)
	}
	// The refusal puts the operator back in Reason: what they type next
	// lands there.
	d.typeText("phished")
	d.sees("Reason  › phished")
	// Blanks are no reason either.
	for range len("phished") {
		d.key("backspace")
	}
	d.typeText("   ")
	d.key("ctrl+p")
	d.sees("a reason is required")
	if n := len(run.plannedRequests()); n != 0 {
		t.Fatalf("%d plans made with a blank reason", n)
	}
}

func TestConfirmRefusesTheWrongLogin(t *testing.T) {
	deps, _, run, _ := testDeps()
	d := newDriver(t, deps, 80, 24)
	d.openConfirm("tri")
	for _, typed := range []string{"", "neo@whiterabbit.fake", "trinity@whiterabbit.fak", "TRINITY@WHITERABBIT.FAKE"} {
		d.key("esc")
		d.key("r")
		d.fill("phished", typed)
		d.key("enter")
		d.sees(`type "` + trinity + `" in Confirm`)
		if n := len(run.plannedRequests()); n != 0 {
			t.Fatalf("typing %q planned %d runs", typed, n)
		}
	}
	if run.executed() != 0 {
		t.Fatal("a run was executed")
	}
}

func TestConfirmEnterInAFieldMovesOnInsteadOfSending(t *testing.T) {
	deps, _, run, _ := testDeps()
	d := newDriver(t, deps, 80, 24)
	d.openConfirm("tri")
	d.typeText("phished")
	d.key("enter") // Reason → Ticket
	d.typeText("INC-4211")
	d.sees("Ticket  › INC-4211")
	d.key("enter") // Ticket → Okta steps
	d.key("enter") // Okta steps → Targets
	d.key("enter") // Targets → Confirm
	d.typeText(trinity)
	if n := len(run.plannedRequests()); n != 0 {
		t.Fatalf("enter in a field planned %d runs", n)
	}
	d.key("enter")
	d.sees("finished")
	p := run.plannedRequests()
	if len(p) != 1 || p[0].Reason != "phished" || p[0].Ticket != "INC-4211" || p[0].DryRun {
		t.Fatalf("planned %+v", p)
	}
}

func TestConfirmSendsWhatWasChosen(t *testing.T) {
	deps, _, run, _ := testDeps()
	d := newDriver(t, deps, 80, 24)
	d.openConfirm("tri")
	d.typeText("phished")
	d.key("tab")
	d.key("tab") // Okta steps
	d.key("down")
	d.key("space") // forget devices
	d.key("down")
	d.key("down")
	d.key("space") // suspend
	d.key("down")
	d.key("down")
	d.key("space") // Okta Universal Logout
	d.sees("[x] clear Okta sessions and tokens", "[x] forget devices", "[x] suspend", "[x] Okta Universal Logout")
	d.key("tab") // Targets
	d.key("down")
	d.key("space") // wiki off
	d.sees("Targets: 1 of 2", "(4 requests)")
	d.key("tab")
	d.typeText(trinity)
	d.key("enter")
	d.sees("finished")

	p := run.plannedRequests()
	if len(p) != 1 {
		t.Fatalf("%d plans", len(p))
	}
	r := p[0]
	if !slices.Equal(r.OktaSteps, []actions.Action{actions.ActionClearSessions, actions.ActionSuspend, actions.ActionUniversalLogout}) || !r.ForgetDevices {
		t.Errorf("Okta steps %v, forget devices %v", r.OktaSteps, r.ForgetDevices)
	}
	if !slices.Equal(r.Targets, []string{"chat"}) {
		t.Errorf("targets %v, want only chat", r.Targets)
	}
	if len(r.Users) != 1 || r.Users[0].Login != trinity || r.Users[0].ID != cast[0].ID {
		t.Errorf("users %+v", r.Users)
	}
}

func TestConfirmForgetDevicesNeedsClearSessions(t *testing.T) {
	deps, _, _, _ := testDeps()
	d := newDriver(t, deps, 80, 24)
	d.openConfirm("tri")
	d.key("tab")
	d.key("tab") // Okta steps, on "clear sessions"
	d.key("space")
	d.sees("[ ] clear Okta sessions and tokens", "[ ] forget devices")
	d.key("down")
	d.key("space") // forget devices switches clear sessions back on
	d.sees("[x] clear Okta sessions and tokens", "[x] forget devices")
	d.key("up")
	d.key("space") // and clearing sessions off takes forget devices with it
	d.sees("[ ] clear Okta sessions and tokens", "[ ] forget devices")
}

func TestConfirmRefusesAnEmptyPlan(t *testing.T) {
	deps, _, run, _ := testDeps()
	d := newDriver(t, deps, 80, 24)
	d.openConfirm("tri")
	d.typeText("phished")
	d.key("tab")
	d.key("tab")
	d.key("space") // clear sessions off
	d.key("tab")
	d.key("a") // every target off
	d.sees("Targets: 0 of 2", "(0 requests)")
	d.key("tab")
	d.typeText(trinity)
	d.key("enter")
	d.sees("nothing to do")
	if n := len(run.plannedRequests()); n != 0 {
		t.Fatalf("an empty plan was made")
	}
}

func TestConfirmDryRunNeedsNoTypedConfirmation(t *testing.T) {
	deps, _, run, _ := testDeps()
	d := newDriver(t, deps, 80, 24)
	d.openConfirm("tri")
	d.typeText("drill")
	d.key("ctrl+p")
	d.sees("› Dry run", "◇ planned", "3 planned", "dry run: the plan is recorded, nothing was sent")
	d.notSees("revoked", "R retry")
	p := run.plannedRequests()
	if len(p) != 1 || !p[0].DryRun || p[0].Reason != "drill" {
		t.Fatalf("planned %+v, want one dry run", p)
	}
}

func TestConfirmEscGoesBackWithoutSending(t *testing.T) {
	deps, _, run, _ := testDeps()
	d := newDriver(t, deps, 80, 24)
	d.openConfirm("tri")
	d.fill("phished", trinity)
	d.key("esc")
	d.sees("Recent activity")
	d.notSees("Confirm")
	if len(run.plannedRequests()) != 0 {
		t.Fatal("esc planned a run")
	}
}

// TestConfirmSaysWhenTargetsDoNotFit: with more targets than fit, the plan
// says how many are out of sight instead of hiding them silently.
func TestConfirmSaysWhenTargetsDoNotFit(t *testing.T) {
	deps, _, _, _ := testDeps()
	deps.Targets = nil
	for i := range 40 {
		deps.Targets = append(deps.Targets, config.Target{Name: fmt.Sprintf("app-%02d", i), URL: "https://x.example/gtr",
			Subject: "email", BodyKey: "sub_id", Auth: "bearer", Enabled: true})
	}
	d := newDriver(t, deps, 80, 24)
	d.openConfirm("tri")
	d.sees("Targets: 40 of 40")
	f := d.frame()
	shown := strings.Count(f, "[x] app-")
	if shown == 0 || shown == 40 || !strings.Contains(f, fmt.Sprintf("… %d more targets", 40-shown)) {
		t.Fatalf("%d targets shown, and the rest not counted:\n%s", shown, f)
	}
}
