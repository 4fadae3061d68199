package actions_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"ulc/actions"
	"ulc/audit"
	"ulc/config"
)

// alice is the one person of aliceDirectory.
var alice = actions.User{ID: "00ualice00000000001", Login: "alice@example.com", Email: "alice@example.com"}

// aliceDirectory resolves alice by her email or her Okta id, and nobody else.
type aliceDirectory struct{}

func (aliceDirectory) Resolve(_ context.Context, ref string) (actions.User, error) {
	if ref == alice.ID || ref == alice.Email {
		return alice, nil
	}
	return actions.User{}, fmt.Errorf("user %q: no such user", ref)
}

// env is a fake environment.
type env map[string]string

func (e env) get(k string) string { return e[k] }

// chatTarget is a target whose token comes from CHAT_UL_TOKEN.
func chatTarget(url string) string {
	return fmt.Sprintf("[[target]]\nname = \"chat\"\nurl = %q\ntoken_env = \"CHAT_UL_TOKEN\"\n", url)
}

// stepOf returns the state of target's step in st.
func stepOf(t *testing.T, st *actions.RunState, target string) *actions.StepState {
	t.Helper()
	for _, s := range st.Steps {
		if s.Target == target {
			return s
		}
	}
	t.Fatalf("no step for %s in %+v", target, st.Steps)
	return nil
}

// TestMissingCredentialBlocksOnlyItsTarget: with CHAT_UL_TOKEN unset, Okta
// and the other app still get their requests, chat is recorded as failed
// with what to do, and resuming the run once the variable is set sends
// exactly the chat step.
func TestMissingCredentialBlocksOnlyItsTarget(t *testing.T) {
	wiki := newReceiver(t, status(204))
	chat := newReceiver(t, status(204))
	f := setup(t, bearerTarget("wiki", wiki.URL+"/gtr"), chatTarget(chat.URL+"/gtr"))
	log, err := audit.Open(filepath.Join(t.TempDir(), "audit.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := log.Close(); err != nil {
			t.Errorf("closing the audit log: %v", err)
		}
	})
	vars := env{"T_TOKEN": testToken}
	okta := &countingOkta{}
	x := &actions.Executor{Journal: log, Okta: okta, BackoffBase: 5 * time.Millisecond}
	ctx := context.Background()

	p, err := actions.BuildPlan(ctx, actions.Request{
		Users: []string{alice.Email}, Reason: "phished", Operator: "tester",
		OktaSteps: []actions.Action{actions.ActionClearSessions},
		Targets:   f.Targets, Defaults: f.Defaults, Getenv: vars.get, Version: "test",
	}, aliceDirectory{})
	if err != nil {
		t.Fatalf("one missing token refused the whole run: %v", err)
	}
	want := "token_env CHAT_UL_TOKEN is not set: set it, then ulc resume " + p.RunID
	u := p.Unusable()
	if len(u) != 1 || u[0].Target != "chat" || u[0].Reason != want {
		t.Fatalf("Unusable() = %+v, want chat: %q", u, want)
	}
	if len(p.Steps) != 3 {
		t.Fatalf("%d steps planned, want Okta, wiki and chat", len(p.Steps))
	}

	st, err := x.Execute(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	if okta.calls.Load() != 1 || wiki.hits.Load() != 1 || chat.hits.Load() != 0 {
		t.Fatalf("Okta called %d times, wiki %d, chat %d; want 1, 1, 0", okta.calls.Load(), wiki.hits.Load(), chat.hits.Load())
	}
	if s := stepOf(t, st, "wiki"); s.Outcome != actions.Revoked {
		t.Fatalf("wiki: %s %s", s.Outcome, s.Error)
	}
	c := stepOf(t, st, "chat")
	if c.Outcome != actions.Failed || c.Error != u[0].Reason || c.Attempts != 0 || c.HTTPStatus != 0 {
		t.Fatalf("chat: %s after %d attempts (%d): %q; want failed, not sent, %q", c.Outcome, c.Attempts, c.HTTPStatus, c.Error, u[0].Reason)
	}
	if st.AllSucceeded() {
		t.Fatal("a run with a step that could not be sent counts as all succeeded")
	}

	// The audit log says the same: chat was planned, then failed, and no
	// attempt was ever made.
	got, events, err := log.Run(ctx, p.RunID)
	if err != nil {
		t.Fatal(err)
	}
	var kinds []actions.EventKind
	for _, ev := range events {
		if ev.Target == "chat" {
			kinds = append(kinds, ev.Kind)
		}
	}
	if !slices.Equal(kinds, []actions.EventKind{actions.KindPlanned, actions.KindResult}) {
		t.Fatalf("chat's events in the audit log: %v, want planned then result", kinds)
	}
	if g := stepOf(t, got, "chat"); g.Outcome != actions.Failed || g.Error != c.Error {
		t.Fatalf("audit says chat %s %q, engine said %s %q", g.Outcome, g.Error, c.Outcome, c.Error)
	}

	// The operator sets the variable and resumes: only chat is sent.
	vars["CHAT_UL_TOKEN"] = "chat-tok-51c0"
	r := actions.ResumeOf(got)
	if r.Steps != 1 || !slices.Equal(r.Targets, []string{"chat"}) || len(r.OktaSteps) != 0 {
		t.Fatalf("resume sends %d steps to %v with Okta steps %v; want one, to chat only", r.Steps, r.Targets, r.OktaSteps)
	}
	var users []string
	for _, u := range r.Users {
		users = append(users, u.ID)
	}
	var targets []config.Target
	for _, tg := range f.Targets {
		if slices.Contains(r.Targets, tg.Name) {
			targets = append(targets, tg)
		}
	}
	p2, err := actions.BuildPlan(ctx, actions.Request{
		Users: users, Reason: got.Info.Reason, Operator: "tester", OktaSteps: r.OktaSteps,
		Targets: targets, Defaults: f.Defaults, Getenv: vars.get, Version: "test",
		ResumeOf: p.RunID, Skip: r.Skip,
	}, aliceDirectory{})
	if err != nil {
		t.Fatal(err)
	}
	if len(p2.Steps) != 1 || p2.Steps[0].Target != "chat" || p2.Steps[0].Blocked != "" || len(p2.Unusable()) != 0 {
		t.Fatalf("resume planned %+v, want one sendable chat step", p2.Steps)
	}
	st2, err := x.Execute(ctx, p2)
	if err != nil {
		t.Fatal(err)
	}
	if s := stepOf(t, st2, "chat"); s.Outcome != actions.Revoked || !st2.AllSucceeded() {
		t.Fatalf("resumed chat: %s %q", s.Outcome, s.Error)
	}
	if chat.hits.Load() != 1 || chat.auths[0] != "Bearer chat-tok-51c0" || wiki.hits.Load() != 1 || okta.calls.Load() != 1 {
		t.Fatalf("after the resume chat saw %d requests, wiki %d, Okta %d; want 1, 1, 1", chat.hits.Load(), wiki.hits.Load(), okta.calls.Load())
	}
}

// TestDryRunRecordsABlockedStepAsFailed: a dry run does not promise a
// request that cannot leave.
func TestDryRunRecordsABlockedStepAsFailed(t *testing.T) {
	wiki := newReceiver(t, status(204))
	chat := newReceiver(t, status(204))
	f := setup(t, bearerTarget("wiki", wiki.URL+"/gtr"), chatTarget(chat.URL+"/gtr"))
	st, _, err := runOnce(t, context.Background(), f, func(r *actions.Request) { r.DryRun = true })
	if err != nil {
		t.Fatal(err)
	}
	if wiki.hits.Load()+chat.hits.Load() != 0 {
		t.Fatal("a dry run sent requests")
	}
	if s := stepOf(t, st, "wiki"); s.Outcome != actions.Planned {
		t.Fatalf("wiki: %s", s.Outcome)
	}
	if s := stepOf(t, st, "chat"); s.Outcome != actions.Failed || !strings.Contains(s.Error, "CHAT_UL_TOKEN is not set") {
		t.Fatalf("chat in a dry run: %s %q, want failed with the reason", s.Outcome, s.Error)
	}
	if st.AllSucceeded() {
		t.Fatal("a dry run with a blocked step counts as all succeeded")
	}
}

// TestBlockedReasonSaysWhatToDo: the reason names the credential, never
// its value, and says how to go on.
func TestBlockedReasonSaysWhatToDo(t *testing.T) {
	dir := t.TempDir()
	junk := filepath.Join(dir, "junk.pem")
	if err := os.WriteFile(junk, []byte("not a certificate\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, block, want string
	}{
		{"unset variable", chatTarget("https://chat.example/gtr"), "token_env CHAT_UL_TOKEN is not set"},
		{"missing token file", fmt.Sprintf("[[target]]\nname = \"chat\"\nurl = \"https://chat.example/gtr\"\ntoken_file = %q\n", filepath.Join(dir, "nope")), "token_file " + filepath.Join(dir, "nope")},
		{"missing key file", fmt.Sprintf("[[target]]\nname = \"chat\"\nurl = \"https://chat.example/gtr\"\nauth = \"jwt\"\njwt_key_file = %q\njwt_iss = \"i\"\njwt_sub = \"s\"\n", filepath.Join(dir, "key.pem")), "jwt_key_file " + filepath.Join(dir, "key.pem")},
		{"missing CA file", bearerTarget("chat", "https://chat.example/gtr", fmt.Sprintf("ca_file = %q", filepath.Join(dir, "ca.pem"))), "ca_file " + filepath.Join(dir, "ca.pem")},
		{"CA file without a certificate", bearerTarget("chat", "https://chat.example/gtr", fmt.Sprintf("ca_file = %q", junk)), "ca_file " + junk + " holds no PEM certificate"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := setup(t, tc.block)
			p, err := actions.BuildPlan(context.Background(), actions.Request{
				Users: []string{"alice@example.com"}, Reason: "test", Targets: f.Targets, Defaults: f.Defaults, Getenv: getenv,
			}, actions.StaticDirectory{})
			if err != nil {
				t.Fatal(err)
			}
			u := p.Unusable()
			if len(u) != 1 || !strings.HasPrefix(u[0].Reason, tc.want) || !strings.HasSuffix(u[0].Reason, ", then ulc resume "+p.RunID) {
				t.Fatalf("Unusable() = %+v, want a reason starting %q and ending with the resume", u, tc.want)
			}
			if strings.Contains(u[0].Reason, "targets.toml") {
				t.Fatalf("reason %q repeats the file and line the step already names", u[0].Reason)
			}
		})
	}
}

// TestInterruptedPlanIsNotABlockedTarget: when the operator gives up while
// credentials load, the plan is refused, not made with every target
// blocked.
func TestInterruptedPlanIsNotABlockedTarget(t *testing.T) {
	f := setup(t, bearerTarget("wiki", "https://wiki.example/gtr"))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	p, err := actions.BuildPlan(ctx, actions.Request{
		Users: []string{"alice@example.com"}, Reason: "test", Targets: f.Targets, Defaults: f.Defaults, Getenv: getenv,
	}, actions.StaticDirectory{})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("plan %v, err %v; want the cancellation", p, err)
	}
}

// TestOtherProblemsStillRefuseTheRun: a missing credential is not a licence
// to go ahead with a wrong request.
func TestOtherProblemsStillRefuseTheRun(t *testing.T) {
	f := setup(t, bearerTarget("wiki", "https://wiki.example/gtr"), chatTarget("https://chat.example/gtr"))
	cases := []struct {
		name string
		req  func(*actions.Request)
		want string
	}{
		{"unknown user", func(r *actions.Request) { r.Users = []string{"not an address"} }, "not an address"},
		{"target twice", func(r *actions.Request) { r.Targets = append(r.Targets, f.Targets[1]) }, `target "chat" selected twice`},
		{"no reason", func(r *actions.Request) { r.Reason = " " }, "a reason is required"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			req := actions.Request{
				Users: []string{"alice@example.com"}, Reason: "test", Targets: slices.Clone(f.Targets), Defaults: f.Defaults, Getenv: getenv,
			}
			tc.req(&req)
			p, err := actions.BuildPlan(context.Background(), req, actions.StaticDirectory{})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("plan %v, err %v; want an error saying %q", p, err, tc.want)
			}
		})
	}
}
