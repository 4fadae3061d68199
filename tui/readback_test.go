package tui

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/charmbracelet/x/exp/golden"

	"ulc/actions"
)

// readBack is a step's recorded read-back.
func readBack(ok bool, evidence string) actions.ResultDetail {
	return actions.ResultDetail{Verified: &ok, Evidence: evidence}
}

// The board tells apart a step a read-back proved (verified), one only
// accepted (no read-back) and one a read-back contradicted, in words and
// symbols (the frame has no colour), puts the contradicted one on top with
// what it means and what to do, and its detail shows the evidence against
// the run's start. At 80×24.
func TestBoardShowsReadBack(t *testing.T) {
	deps, _, run, _ := testDeps()
	run.script = map[string]actions.Outcome{} // every step succeeds
	run.readBacks = map[string]actions.ResultDetail{
		"chat":                              readBack(true, "signInSessionsValidFromDateTime 2026-11-21T14:30:01Z, at or after the run"),
		string(actions.ActionClearSessions): readBack(false, "lastLogin 2026-11-21T14:30:02Z, after the step began"),
	}
	d := newDriver(t, deps, 80, 24)
	d.startRun()
	d.settle()
	d.sees("3/3 finished", "2 revoked · 1 done · 1 ✓✓ verified · 1 ⚠ unverified",
		"accepted, but 1 read-back says otherwise: see ⚠ rows · /var/lib/ulc/audit.db",
		"run "+runID+" finished: 2 revoked, 1 done; 1 unverified")
	d.notSees("every step succeeded")
	fits(t, "board", d.m.View().Content, 80, 24)
	rows := rowsBelow(d.frame(), "OUTCOME")
	if len(rows) != 3 {
		t.Fatalf("%d rows, want 3:\n%s", len(rows), d.frame())
	}
	// Contradicted first, as failures are; then the plan's order.
	for i, want := range []struct{ mark, name, reason string }{
		{"⚠ unverified", "okta sessions", "NOT verified"},
		{"✓✓ verified", "chat", "verified: signInSession"},
		{"✓ revoked", "wiki", ""},
	} {
		if !strings.HasPrefix(rows[i], want.mark) || !strings.Contains(rows[i], want.name) || !strings.Contains(rows[i], want.reason) {
			t.Errorf("row %d is %q, want %s %s %q", i, rows[i], want.mark, want.name, want.reason)
		}
	}
	if strings.Contains(rows[2], "verified") {
		t.Errorf("a step without a read-back says verified: %q", rows[2])
	}
	// The selected (contradicted) step's reason in full: what it means
	// and what to do.
	d.sees("▸ okta sessions: NOT verified: the step was accepted, but the read-back says",
		"otherwise (lastLogin 2026-11-21T14:30:02Z, after the step began): the user may",
		"still get in; check them in the Okta admin console, and revoke them again if it")
	golden.RequireEqual(t, []byte(d.frame()))

	d.key("enter")
	d.sees("Read-back", "⚠ unverified: lastLogin 2026-11-21T14:30:02Z, after the step", "the run began 2026-11-21T14:30:00Z")
	fits(t, "board detail", d.m.View().Content, 80, 24)
	d.key("esc")
	d.key("down")
	d.sees("▸ chat: revoked (204), verified: signInSessionsValidFromDateTime")
	d.key("enter")
	d.sees("Read-back    ✓✓ verified: signInSessionsValidFromDateTime 2026-11-21T14:30:01Z,", "the run began 2026-11-21T14:30:00Z")
	d.key("esc")
	d.key("down")
	d.key("enter")
	d.sees("Outcome      ✓ revoked")
	d.notSees("Read-back", "verified:")
}

// The filter finds the steps by their read-back's word.
func TestBoardFiltersByReadBack(t *testing.T) {
	deps, _, run, _ := testDeps()
	run.script = map[string]actions.Outcome{}
	run.readBacks = map[string]actions.ResultDetail{"wiki": readBack(false, "signInSessionsValidFromDateTime 2026-11-20T09:00:00Z")}
	d := newDriver(t, deps, 80, 24)
	d.startRun()
	d.settle()
	d.key("/")
	d.typeText("unverified")
	d.sees("1 of 3 steps")
	if rows := rowsBelow(d.frame(), "OUTCOME"); len(rows) != 1 || !strings.Contains(rows[0], "wiki") {
		t.Fatalf("the filter shows %q, want wiki's row alone", rows)
	}
}

// verifiedRun is a finished run of an Okta suspend, whose read-back shows
// the user still active, a Microsoft target whose read-back verified it,
// one whose read-back found the sessions valid from before the run (the
// connector's reason says what to do), and a GTR target with none.
func verifiedRun(id string) []actions.Event {
	info, _ := json.Marshal(actions.RunInfo{Reason: "phished", Ticket: "INC-7", Operator: "analyst",
		Users: []actions.User{cast[0].User}, Targets: []string{"entra", "entra-eu", "chat"}})
	evs := []actions.Event{{Seq: 1, RunID: id, Time: testNow, Kind: actions.KindRunStarted, Detail: info}}
	add := func(ev actions.Event) {
		ev.Seq, ev.RunID, ev.User = int64(len(evs)+1), id, cast[0].Login
		ev.Time = testNow.Add(time.Duration(len(evs)) * time.Millisecond)
		evs = append(evs, ev)
	}
	detail := func(ok bool, evidence string) json.RawMessage {
		b, _ := json.Marshal(readBack(ok, evidence))
		return b
	}
	steps := []struct {
		target string
		action actions.Action
		res    actions.Event
	}{
		{actions.OktaTarget, actions.ActionSuspend, actions.Event{HTTPStatus: 200, Outcome: actions.Done,
			Detail: detail(false, "status ACTIVE, lastLogin never")}},
		{"entra", "microsoft", actions.Event{HTTPStatus: 204, Outcome: actions.Revoked,
			Detail: detail(true, "signInSessionsValidFromDateTime 2026-11-21T14:30:00Z, at or after the run")}},
		{"entra-eu", "microsoft", actions.Event{HTTPStatus: 204, Outcome: actions.Revoked,
			Error:  "revoked (Graph accepted the sign-out), but signInSessionsValidFromDateTime reads 2026-11-20T09:00:00Z, before this run (2026-11-21T14:29:59Z): Entra ID may not have applied it yet; check the user in the Entra admin center in a few minutes, and resume the run if it has not changed",
			Detail: detail(false, "signInSessionsValidFromDateTime 2026-11-20T09:00:00Z")}},
		{"chat", actions.ActionGTR, actions.Event{HTTPStatus: 204, Outcome: actions.Revoked}},
	}
	for i, s := range steps {
		add(actions.Event{Kind: actions.KindPlanned, Step: i + 1, Target: s.target, Action: s.action})
	}
	for i, s := range steps {
		add(actions.Event{Kind: actions.KindAttempt, Step: i + 1, Target: s.target, Action: s.action, Attempt: 1})
		res := s.res
		res.Kind, res.Step, res.Target, res.Action, res.Attempt, res.LatencyMS = actions.KindResult, i+1, s.target, s.action, 1, 20
		add(res)
	}
	add(actions.Event{Kind: actions.KindRunFinished})
	return evs
}

// History's view of a run shows what the read-backs proved and what they
// contradicted, and a step's detail the evidence against the run's start.
func TestRunDetailShowsReadBack(t *testing.T) {
	deps, _, _, hist := testDeps()
	hist.events = verifiedRun
	d := newDriver(t, deps, 80, 24)
	d.key("tab") // to History
	d.key("enter")
	d.sees("OUTCOME", "Read-back    1 ✓✓ verified · 2 ⚠ unverified: the read-back contradicts")
	fits(t, "run detail", d.m.View().Content, 80, 24)
	rows := rowsBelow(d.frame(), "OUTCOME")
	if len(rows) < 4 {
		t.Fatalf("%d rows, want 4:\n%s", len(rows), d.frame())
	}
	for i, want := range []struct{ mark, name string }{
		{"⚠ unverified", "okta suspend"}, {"⚠ unverified", "entra-eu"}, {"✓✓ verified", "entra"}, {"✓ revoked", "chat"},
	} {
		if !strings.HasPrefix(rows[i], want.mark) || !strings.Contains(rows[i], want.name) {
			t.Errorf("row %d is %q, want %s %s", i, rows[i], want.mark, want.name)
		}
	}
	d.sees("step 1 okta suspend · NOT verified: the step was accepted, but the read-back")

	d.key("enter")
	d.sees("Read-back    ⚠ unverified: status ACTIVE, lastLogin never",
		"the run began 2026-11-21T14:30:00Z", "check them in the Okta admin console")
	fits(t, "step detail", d.m.View().Content, 80, 24)
	d.key("esc")
	d.key("down")
	d.sees("step 3 entra-eu · NOT verified: revoked (Graph accepted the sign-out), but")
	d.key("enter")
	d.sees("⚠ unverified: signInSessionsValidFromDateTime 2026-11-20T09:00:00Z",
		"the run began 2026-11-21T14:30:00Z", "check the user in the Entra admin center")
	d.key("esc")
	d.key("down")
	d.sees("step 2 entra · revoked, verified: signInSessionsValidFromDateTime")
	d.key("enter")
	d.sees("Read-back    ✓✓ verified: signInSessionsValidFromDateTime 2026-11-21T14:30:00Z,")
	d.key("esc")
	d.key("down")
	d.sees("step 4 chat · revoked ·")
	d.key("enter")
	d.sees("Outcome      ✓ revoked")
	d.notSees("Read-back", "verified:")
}
