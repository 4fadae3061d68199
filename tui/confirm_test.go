package tui

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/charmbracelet/x/exp/golden"

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
	deps.Targets = manyTargets(40)
	d := newDriver(t, deps, 80, 24)
	d.openConfirm("tri")
	d.sees("Targets: 40 of 40")
	f := d.frame()
	shown := strings.Count(f, "[x] app-")
	if shown == 0 || shown == 40 || !strings.Contains(f, fmt.Sprintf("1–%d of 40 · ↓ %d more", shown, 40-shown)) {
		t.Fatalf("%d targets shown, and the rest not counted:\n%s", shown, f)
	}
	// The list gives way, not the lines below it.
	d.sees("Confirm › type "+trinity, "(41 requests) tab: the next field down")
	fits(t, "confirm", d.m.View().Content, 80, 24)
}

// missingCredRunner is the fake runner with chat's credential missing: its
// steps come back blocked, as the engine plans them.
type missingCredRunner struct{ *fakeRunner }

const chatMissing = "token_env CHAT_UL_TOKEN is not set: set it"

func (r missingCredRunner) Plan(ctx context.Context, rr RunRequest) (*actions.Plan, error) {
	p, err := r.fakeRunner.Plan(ctx, rr)
	if err != nil {
		return nil, err
	}
	for i, s := range p.Steps {
		if s.Target == "chat" {
			p.Steps[i].Blocked = chatMissing + ", then ulc resume " + p.RunID
		}
	}
	return p, nil
}

// withMissingChat returns test deps whose runner cannot send to chat.
func withMissingChat() (Deps, *fakeRunner) {
	deps, _, run, _ := testDeps()
	deps.Runner = missingCredRunner{run}
	return deps, run
}

// TestConfirmShowsAnUnusableTargetBeforeSending: the plan says chat has no
// credential; Confirm shows it, says it will be recorded as failed, and
// sends only when the operator confirms again, exactly the plan shown.
func TestConfirmShowsAnUnusableTargetBeforeSending(t *testing.T) {
	deps, run := withMissingChat()
	d := newDriver(t, deps, 80, 24)
	d.openConfirm("tri")
	d.fill("phished", trinity)
	d.key("enter")
	d.sees("Targets: 2 of 2, 1 unusable", "[✗] chat", "token_env CHAT_UL_TOKEN is not set",
		"1 target will be recorded as failed and not sent: enter again sends the rest")
	d.notSees("OUTCOME")
	if run.executed() != 0 {
		t.Fatal("a plan with an unusable target was sent before the operator saw it")
	}
	if row := rowsBelow(d.frame(), "TARGET"); len(row) == 0 || !strings.Contains(row[0], "[✗] chat") || strings.Contains(row[0], "https://chat.example") {
		t.Fatalf("chat's row does not say it cannot be sent: %q", row)
	}
	if row := rowsBelow(d.frame(), "TARGET"); len(row) < 2 || !strings.Contains(row[1], "[x] wiki") || !strings.Contains(row[1], "https://wiki.example/gtr") {
		t.Fatalf("wiki's row changed: %q", row)
	}

	d.key("enter")
	d.sees("OUTCOME")
	if n := len(run.plannedRequests()); n != 1 || run.executed() != 1 {
		t.Fatalf("planned %d times, executed %d; want the one plan shown, sent once", n, run.executed())
	}
}

// TestConfirmReplansWhenTheChoiceChanges: switching the unusable target off
// drops the held plan; the next enter plans afresh and, with nothing
// unusable left, sends at once.
func TestConfirmReplansWhenTheChoiceChanges(t *testing.T) {
	deps, run := withMissingChat()
	d := newDriver(t, deps, 80, 24)
	d.openConfirm("tri")
	d.fill("phished", trinity)
	d.key("enter")
	d.sees("1 unusable", "enter again sends the rest")
	d.key("shift+tab") // Targets, on chat
	d.key("space")     // chat off
	d.sees("Targets: 1 of 2 (", "[ ] chat", "token_env CHAT_UL_TOKEN is not set")
	d.notSees("1 unusable", "enter again sends the rest", "[✗]")
	d.key("tab")
	d.key("enter")
	d.sees("OUTCOME")
	p := run.plannedRequests()
	if len(p) != 2 || !slices.Equal(p[1].Targets, []string{"wiki"}) || run.executed() != 1 {
		t.Fatalf("planned %+v, executed %d; want a second plan for wiki alone, sent", p, run.executed())
	}
}

// TestConfirmDryRunWithAnUnusableTarget: a dry run sends nothing, so it
// does not stop to ask; the board shows the result.
func TestConfirmDryRunWithAnUnusableTarget(t *testing.T) {
	deps, run := withMissingChat()
	d := newDriver(t, deps, 80, 24)
	d.openConfirm("tri")
	d.typeText("drill")
	d.key("ctrl+p")
	d.sees("› Dry run")
	if run.executed() != 1 {
		t.Fatalf("dry run executed %d times", run.executed())
	}
}

// TestConfirmUnusableGolden keeps the frame of a held plan at 80x24.
func TestConfirmUnusableGolden(t *testing.T) {
	for _, size := range [][2]int{{80, 24}, {120, 40}} {
		t.Run(fmt.Sprintf("%dx%d", size[0], size[1]), func(t *testing.T) {
			deps, _ := withMissingChat()
			d := newDriver(t, deps, size[0], size[1])
			d.openConfirm("tri")
			d.fill("phished via fake sso page", trinity)
			d.key("enter")
			d.sees("1 unusable")
			fits(t, "confirm unusable", d.m.View().Content, size[0], size[1])
			golden.RequireEqual(t, []byte(d.frame()))
		})
	}
}

// What a sign-out leaves alive is on Confirm before anything is sent: how
// many targets leave something, and the selected target's residual.
func TestConfirmShowsWhatStaysAlive(t *testing.T) {
	deps, _, run, _ := testDeps()
	deps.Targets = append(deps.Targets, config.Target{Name: "google", Kind: config.KindGoogle, URL: "https://admin.googleapis.com/", Enabled: true})
	deps.Residual = map[string]string{"google": "OAuth grants and app passwords survive the sign-out"}
	deps.Targets = append(deps.Targets, config.Target{Name: "m365", Kind: config.KindMicrosoft, URL: "https://graph.microsoft.com/", Enabled: true})
	deps.Residual["m365"] = "app passwords survive"
	d := newDriver(t, deps, 80, 24)
	d.openConfirm("tri")
	// Whole at 80 columns.
	d.sees("    2 targets leave something alive after sign-out: tab to the list for each\n")
	d.key("tab") // ticket
	d.key("tab") // Okta steps
	d.key("tab") // targets
	d.key("down")
	d.key("down") // chat, wiki, google, m365 (legacy is off and not listed)
	// Each target's kind, once the registry mixes kinds.
	if rows := rowsBelow(d.frame(), "TARGET"); len(rows) < 2 || !strings.Contains(d.frame(), "KIND") ||
		!strings.Contains(rows[0], "wiki           gtr") || !strings.Contains(rows[1], "google         google") {
		t.Errorf("the targets do not show their kind:\n%s", d.frame())
	}
	// Wrapped, not cut, at 80 columns.
	if f := strings.Join(strings.Fields(d.frame()), " "); !strings.Contains(f, "still alive after google's sign-out: OAuth grants and app passwords survive the sign-out Confirm ›") {
		t.Errorf("the residual is not whole under the list:\n%s", d.frame())
	}
	fits(t, "confirm", d.m.View().Content, 80, 24)
	if run.executed() != 0 {
		t.Fatal("showing the residual sent something")
	}
}
