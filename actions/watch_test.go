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
	asGrant := grant
	asGrant.EventType = "app.oauth2.as.token.grant.access_token"
	deniedGrant := grant
	deniedGrant.Result = "FAILURE"
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
		// Every type of sign the watch reads, with the user as actor (or,
		// for a token grant, as target of a client app).
		{"sso to an app", user("user.authentication.sso", "SUCCESS", after), actions.SignAlarm},
		{"sso denied", user("user.authentication.sso", "FAILURE", after), actions.SignAttempt},
		{"mfa passed", user("user.authentication.auth_via_mfa", "SUCCESS", after), actions.SignAlarm},
		{"mfa failed", user("user.authentication.auth_via_mfa", "FAILURE", after), actions.SignAttempt},
		{"a token grant of the user's", user("app.oauth2.token.grant.id_token", "SUCCESS", after), actions.SignAlarm},
		{"an authorization server's token grant", asGrant, actions.SignAlarm},
		{"a token grant denied", deniedGrant, actions.SignAttempt},
		{"a factor enrolled", user("user.mfa.factor.activate", "SUCCESS", after), actions.SignAlarm},
		{"every factor reset by the user", user("user.mfa.factor.reset_all", "SUCCESS", after), actions.SignAlarm},
		{"the password changed", user("user.account.update_password", "SUCCESS", after), actions.SignAlarm},
		{"a password change refused", user("user.account.update_password", "FAILURE", after), actions.SignAttempt},
		{"a push denied", user("system.push.send_factor_verify_push", "FAILURE", after), actions.SignAttempt},
		{"policy denied", user("policy.evaluate_sign_on", "DENY", after), actions.SignAttempt},
		{"a token grant before the run ended", user("app.oauth2.as.token.grant.refresh_token", "SUCCESS", before), actions.SignEarlier},
		// A type that only begins like a sign's is not one.
		{"a lookalike type's failure", user("user.session.start_over", "FAILURE", after), ""},
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
	for _, typ := range []string{"user.mfa.factor.activate", "user.mfa.factor.reset_all", "user.account.update_password"} {
		if c, _ := actions.ClassifySign(user(typ, "SUCCESS", after), "r1", "trinity", me, end); !strings.Contains(c.Advice, "credentials changed") {
			t.Errorf("%s: advice %q, want the credentials reset", typ, c.Advice)
		}
	}
	if a, _ := actions.ClassifySign(user("user.authentication.sso", "FAILURE", after), "r1", "trinity", me, end); !strings.Contains(a.Advice, "the containment holds") {
		t.Errorf("a denied sso's advice %q, want that the containment holds", a.Advice)
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
