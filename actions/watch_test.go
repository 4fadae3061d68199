package actions_test

import (
	"strings"
	"testing"
	"time"

	"ulc/actions"
)

func TestClassifySign(t *testing.T) {
	const me = "00uTRINITY0000000001"
	end := time.Date(2026, 12, 2, 4, 10, 0, 0, time.UTC)
	after, before := end.Add(2*time.Minute), end.Add(-time.Minute)
	user := func(typ, result string, at time.Time) actions.LogEvent {
		return actions.LogEvent{UUID: "u1", EventType: typ, Result: result, Published: at, ActorID: me, ActorType: "User",
			IP: "203.0.113.66", City: "Amsterdam", Country: "Netherlands", Client: "CHROME on Windows 10"}
	}
	admin := actions.LogEvent{EventType: "user.lifecycle.suspend", Result: "SUCCESS", Published: after,
		ActorID: "00uADMIN000000000001", ActorType: "User", Targets: []actions.LogTarget{{ID: me, Type: "User"}}}
	adminReset := admin
	adminReset.EventType = "user.mfa.factor.reset_all"
	grant := actions.LogEvent{EventType: "app.oauth2.token.grant.refresh_token", Result: "SUCCESS", Published: after,
		ActorID: "0oaDOCK", ActorType: "PublicClientApp", ActorName: "Dock Control", Targets: []actions.LogTarget{{ID: me, Type: "User"}}}
	cases := []struct {
		name string
		ev   actions.LogEvent
		want actions.SignLevel // "" for no sign
	}{
		{"sign-in after the run", user("user.session.start", "SUCCESS", after), actions.SignAlarm},
		{"denied sign-in after the run", user("user.session.start", "FAILURE", after), actions.SignAttempt},
		{"sign-in before the run ended", user("user.session.start", "SUCCESS", before), actions.SignEarlier},
		{"policy allowed", user("policy.evaluate_sign_on", "ALLOW", after), actions.SignAlarm},
		{"policy challenged", user("policy.evaluate_sign_on", "CHALLENGE", after), actions.SignAttempt},
		{"push sent", user("system.push.send_factor_verify_push", "SUCCESS", after), actions.SignAlarm},
		{"another success of the user's", user("user.account.update_profile", "SUCCESS", after), actions.SignAlarm},
		{"another failure of the user's", user("user.account.update_profile", "FAILURE", after), ""},
		{"the run's own suspend", admin, ""},
		{"an admin's factor reset", adminReset, ""},
		{"a token grant by a client app", grant, actions.SignAlarm},
	}
	for _, c := range cases {
		s, ok := actions.ClassifySign(c.ev, "r1", "trinity", me, end)
		if got := map[bool]actions.SignLevel{true: s.Level}[ok]; got != c.want {
			t.Errorf("%s: level %q, want %q", c.name, got, c.want)
		}
	}
	s, _ := actions.ClassifySign(user("user.session.start", "FAILURE", after), "r1", "trinity", me, end)
	if l := s.Line(); !strings.Contains(l, "user.session.start failure from 203.0.113.66 Amsterdam Netherlands via CHROME on Windows 10 — 2 min after revocation") {
		t.Errorf("line %q", l)
	}
	g, _ := actions.ClassifySign(grant, "r1", "trinity", me, end)
	if g.App != "Dock Control" || !strings.Contains(g.Line(), "to Dock Control") || !strings.Contains(g.Advice, "targets.toml") {
		t.Errorf("grant sign %+v", g)
	}
}

func TestRunStateLeavesWatchEventsOut(t *testing.T) {
	st := actions.NewRunState("r1")
	st.Apply(actions.Event{RunID: "r1", Kind: actions.KindRunStarted})
	st.Apply(actions.Event{RunID: "r1", Kind: actions.KindPlanned, Step: 1, Target: "okta", Action: actions.ActionSuspend})
	yes := []byte(`{"verified":true,"evidence":"status SUSPENDED"}`)
	st.Apply(actions.Event{RunID: "r1", Kind: actions.KindResult, Step: 1, Outcome: actions.Done, Detail: yes})
	st.Apply(actions.Event{RunID: "r1", Kind: actions.KindRunFinished})
	st.Apply(actions.Event{RunID: "r1", Kind: actions.KindWatchStarted})
	st.Apply(actions.Event{RunID: "r1", Kind: actions.KindWatchSign})
	if len(st.Steps) != 1 || st.Pending() != 0 {
		t.Fatalf("watch events made steps: %+v", st.Steps)
	}
	if v := st.Steps[0].Verified; v == nil || !*v || st.Steps[0].Evidence != "status SUSPENDED" {
		t.Fatalf("verified %v %q", v, st.Steps[0].Evidence)
	}
}
