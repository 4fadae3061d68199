package audit

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"ulc/actions"
)

// The Targets screen's record counts only steps whose request was sent,
// and times each step whole: a flaky app's three tries, with the waits
// between them, are not "0 ms".
func TestTargetStatsCountOnlySendsAndTimeTheWholeStep(t *testing.T) {
	l := openLog(t, newPath(t))
	users := []actions.User{{Login: "trinity@whiterabbit.fake"}}
	flaky := step{user: users[0].Login, target: "flaky", action: actions.ActionGTR}
	steady := step{user: users[0].Login, target: "steady", action: actions.ActionGTR}
	okta := step{user: users[0].Login, target: actions.OktaTarget, action: actions.ActionClearSessions}

	// A dry run: planned, nothing sent.
	dry := planEvents(t, "r1-dry", base, users, []step{flaky, steady})
	dry = append(dry, result("r1-dry", base, 1, flaky, 0, 0, actions.Planned), result("r1-dry", base, 2, steady, 0, 0, actions.Planned))
	record(t, l, dry...)

	// A real run: flaky answers on its third try, 1.5 s after the first
	// left (the engine records that whole time on the result); steady at
	// once; Okta's step is not a target's.
	at := base.Add(time.Hour)
	real := planEvents(t, "r2-real", at, users, []step{okta, flaky, steady})
	real = append(real,
		attempt("r2-real", at, 1, okta, 1), result("r2-real", at, 1, okta, 1, 200, actions.Done),
		attempt("r2-real", at, 2, flaky, 1), attempt("r2-real", at, 3, steady, 1),
		actions.Event{RunID: "r2-real", Time: at.Add(300 * time.Millisecond), Kind: actions.KindRetry, Step: 2, Target: "flaky", Action: actions.ActionGTR, Attempt: 1, HTTPStatus: 503, LatencyMS: 2},
		result("r2-real", at.Add(40*time.Millisecond), 3, steady, 1, 204, actions.Revoked),
		attempt("r2-real", at.Add(500*time.Millisecond), 2, flaky, 2),
		attempt("r2-real", at.Add(1400*time.Millisecond), 2, flaky, 3),
		withDetail(result("r2-real", at.Add(1500*time.Millisecond), 2, flaky, 3, 204, actions.Revoked), `{"verified":null,"step_ms":1500}`))
	// A step never sent: its credential was missing.
	blocked := result("r3-blocked", at.Add(2*time.Hour), 1, steady, 0, 0, actions.Failed)
	blocked.Error = "token_env STEADY_TOKEN is not set"
	record(t, l, real...)
	record(t, l, append(planEvents(t, "r3-blocked", at.Add(2*time.Hour), users, []step{steady}), blocked)...)

	stats, err := l.TargetStats(context.Background(), 10)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := stats[actions.OktaTarget]; ok {
		t.Errorf("Okta's steps are in the targets' record: %+v", stats[actions.OktaTarget])
	}
	if got := stats["flaky"]; len(got) != 1 || got[0].Attempts != 3 || got[0].StepMS != 1500 || got[0].Outcome != actions.Revoked || got[0].RunID != "r2-real" {
		t.Errorf("flaky's record %+v, want one sent step of 3 attempts taking 1500 ms", got)
	}
	if got := stats["steady"]; len(got) != 1 || got[0].Attempts != 1 || got[0].StepMS != 42 {
		// One request: the step's time is that request's.
		t.Errorf("steady's record %+v, want only the sent step, 42 ms", got)
	}

	// The last n per target, oldest first.
	for i := range 3 {
		r := "r4-" + string(rune('a'+i))
		t0 := at.Add(time.Duration(3+i) * time.Hour)
		record(t, l, append(planEvents(t, r, t0, users, []step{steady}),
			attempt(r, t0, 1, steady, 1), result(r, t0.Add(time.Duration(i+1)*time.Second), 1, steady, 1, 204, actions.Revoked))...)
	}
	stats, err = l.TargetStats(context.Background(), 2)
	if err != nil {
		t.Fatal(err)
	}
	if got := stats["steady"]; len(got) != 2 || got[0].RunID != "r4-b" || got[1].RunID != "r4-c" || got[1].StepMS != 42 {
		t.Errorf("steady's last 2: %+v", got)
	}
}

// withDetail returns ev with the detail JSON d.
func withDetail(ev actions.Event, d string) actions.Event {
	ev.Detail = json.RawMessage(d)
	return ev
}
