package slack_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"ulc/actions"
	"ulc/actions/slack"
	"ulc/config"
	"ulc/internal/journaltest"
	"ulc/sandbox/slackfake"
)

func init() { actions.Register(config.KindSlack, slack.Connector{}) }

// load writes a targets.toml of blocks and parses it with the real config
// package.
func load(t *testing.T, blocks ...string) *config.File {
	t.Helper()
	src := "[defaults]\ntimeout = \"10s\"\nretries = 2\nmax_retry_wait = \"2s\"\n\n" + strings.Join(blocks, "\n")
	path := filepath.Join(t.TempDir(), "targets.toml")
	if err := os.WriteFile(path, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := config.Load(path)
	if err != nil {
		t.Fatalf("config: %v\n%s", err, src)
	}
	return f
}

// envTarget is a kind "slack" target at url whose token is $SLACK_T.
func envTarget(name, url string) string {
	return fmt.Sprintf("[[target]]\nname = %q\nkind = \"slack\"\nurl = %q\ntoken_env = \"SLACK_T\"\n", name, url)
}

// outcome is what a run did to one step, and everything it recorded.
type outcome struct {
	plan  *actions.Plan
	step  *actions.StepState
	evs   []actions.Event
	calls []string // the call names of the attempts, in order
	all   string   // every event, the plan and the state, as JSON
}

// run plans and executes one user against f's first target through the
// real engine.
func run(t *testing.T, f *config.File, user string, getenv func(string) string) outcome {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	p, st, j := journaltest.Run(ctx, t, actions.Request{
		Users: []string{user}, Reason: "test", Operator: "tester",
		Targets: f.Targets[:1], Defaults: f.Defaults, Getenv: getenv, Version: "test",
	})
	o := outcome{plan: p, evs: j.Events()}
	for _, s := range st.Steps {
		if s.Target == f.Targets[0].Name {
			o.step = s
		}
	}
	if o.step == nil {
		t.Fatalf("no step for target %s", f.Targets[0].Name)
	}
	o.calls = journaltest.Calls(t, o.evs)
	all, err := json.Marshal(struct {
		Events []actions.Event
		Steps  []*actions.StepState
		Detail []actions.StepDetail
	}{o.evs, st.Steps, []actions.StepDetail{o.step.Request()}})
	if err != nil {
		t.Fatal(err)
	}
	o.all = string(all)
	return o
}

// check compares a step's outcome, status, attempts and calls, and that its
// sentence holds every part of has.
func (o outcome) check(t *testing.T, want actions.Outcome, status int, calls string, has ...string) {
	t.Helper()
	s := o.step
	if s.Outcome != want || s.HTTPStatus != status || s.Attempts != len(o.calls) || strings.Join(o.calls, " ") != calls {
		t.Errorf("got %s %d, %d attempts (%s), want %s %d (%s); error %q", s.Outcome, s.HTTPStatus, s.Attempts,
			strings.Join(o.calls, " "), want, status, calls, s.Error)
	}
	for _, h := range has {
		if !strings.Contains(s.Error, h) {
			t.Errorf("error %q lacks %q", s.Error, h)
		}
	}
	if want != actions.Revoked && !strings.Contains(s.Error, ":") {
		t.Errorf("error %q does not say what to do", s.Error)
	}
}

func startFake(t *testing.T, o slackfake.Options) *slackfake.Server {
	t.Helper()
	s, err := slackfake.Start(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("closing the fake: %v", err)
		}
	})
	return s
}

func fakeTarget(t *testing.T, s *slackfake.Server) *config.File {
	t.Helper()
	block, err := s.TargetTOML("slack", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return load(t, block)
}

func TestSignOutAgainstTheFake(t *testing.T) {
	s := startFake(t, slackfake.Options{Users: []string{"alice@example.com"}})
	o := run(t, fakeTarget(t, s), "alice@example.com", nil)
	o.check(t, actions.Revoked, 200, "lookup reset")
	if o.step.Error != "" || o.step.ErrorCode != "" {
		t.Errorf("a success carries error %q code %q", o.step.Error, o.step.ErrorCode)
	}
	if o.step.RequestID == "" {
		t.Error("the result has no request id (Slack's X-Slack-Req-Id)")
	}
	if n := s.SignedOut("alice@example.com"); n != 1 {
		t.Errorf("SignedOut = %d, want 1", n)
	}
	for _, r := range s.Requests() {
		if r.HTTPMethod != http.MethodPost || r.TokenFrom != "header" || r.ContentType != "application/x-www-form-urlencoded" {
			t.Errorf("%s: %s, token from %q, %s; want a form POST with the token in the Authorization header", r.Method, r.HTTPMethod, r.TokenFrom, r.ContentType)
		}
	}
	// The audit log says where each call went.
	var urls []string
	for _, ev := range o.evs {
		if ev.Kind == actions.KindAttempt {
			var d struct{ Method, URL string }
			_ = json.Unmarshal(ev.Detail, &d)
			urls = append(urls, d.Method+" "+d.URL)
		}
	}
	want := "POST " + s.URL() + "users.lookupByEmail|POST " + s.URL() + "admin.users.session.reset"
	if strings.Join(urls, "|") != want {
		t.Errorf("attempts went to %v, want %s", urls, want)
	}
	d := o.step.Detail
	if d.Method != http.MethodPost || d.URL != s.URL()+"admin.users.session.reset" || !strings.Contains(d.Body, "alice@example.com") || d.Credential == "" {
		t.Errorf("planned detail %+v", d)
	}
	if r := o.plan.Residual()["slack"]; !strings.Contains(r, "OAuth tokens") || strings.Count(r, ". ") != 0 || !strings.HasSuffix(r, ".") {
		t.Errorf("Residual %q: want one sentence about the app OAuth tokens", r)
	}
	if strings.Contains(o.all, s.Token()) {
		t.Error("the token appears in the events or the state")
	}
}

func TestFakeAnswers(t *testing.T) {
	cases := []struct {
		name    string
		opt     slackfake.Options
		user    string
		token   func(*slackfake.Server) string // default: the admin token
		outcome actions.Outcome
		status  int
		calls   string
		code    string
		has     []string
		signed  int
	}{
		{name: "users_not_found", user: "nobody@example.com", outcome: actions.NotFound, status: 200, calls: "lookup",
			code: "users_not_found", has: []string{"no member with this email"}},
		{name: "users_not_found, with a token that could not reset", opt: slackfake.Options{MissingPermission: true}, user: "nobody@example.com",
			outcome: actions.NotFound, status: 200, calls: "lookup", code: "users_not_found", has: []string{"no member with this email", "token lacks admin.users:write"}},
		{name: "throttled once, then reset", opt: slackfake.Options{Throttle: 1}, outcome: actions.Revoked, status: 200,
			calls: "lookup reset reset", signed: 1},
		{name: "throttled past the retries", opt: slackfake.Options{Throttle: 10}, outcome: actions.Failed, status: 429,
			calls: "lookup reset reset reset", code: "ratelimited", has: []string{"ratelimited", "after 3 attempts", "ulc resume"}},
		{name: "missing permission", opt: slackfake.Options{MissingPermission: true}, outcome: actions.Rejected, status: 200,
			calls: "lookup reset", code: "missing_scope", has: []string{"admin.users:write", "User Token Scopes", "it has users:read.email"}},
		{name: "not an admin", opt: slackfake.Options{NotAdmin: true}, outcome: actions.Rejected, status: 200,
			calls: "lookup reset", code: "not_an_admin", has: []string{"Org Admin or Owner"}},
		{name: "not Enterprise Grid", opt: slackfake.Options{NotGrid: true}, outcome: actions.Rejected, status: 200,
			calls: "lookup reset", code: "feature_not_enabled", has: []string{"Enterprise Grid"}},
		{name: "a bot", opt: slackfake.Options{Bots: []string{"bot@example.com"}}, user: "bot@example.com",
			outcome: actions.Rejected, status: 200, calls: "lookup reset", code: "cannot_reset_bot", has: []string{"bot"}},
		{name: "the primary owner", opt: slackfake.Options{PrimaryOwner: "owner@example.com"}, user: "owner@example.com",
			outcome: actions.Rejected, status: 200, calls: "lookup reset", code: "cannot_reset_primary_owner", has: []string{"primary owner"}},
		{name: "a bot token", token: (*slackfake.Server).BotToken, outcome: actions.Rejected, status: 200,
			calls: "lookup reset", code: "not_allowed_token_type", has: []string{"xoxp-", "not a bot token"}},
		{name: "an unknown token", token: func(*slackfake.Server) string { return "xoxp-1-not-this-orgs" }, outcome: actions.Rejected,
			status: 200, calls: "lookup", code: "invalid_auth", has: []string{"token_env SLACK_T"}},
		{name: "a revoked token", token: func(s *slackfake.Server) string { s.Revoke(s.Token()); return s.Token() },
			outcome: actions.Rejected, status: 200, calls: "lookup", code: "token_revoked", has: []string{"reinstall", "token_env SLACK_T"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			user := c.user
			if user == "" {
				user = "alice@example.com"
			}
			c.opt.Users = append(c.opt.Users, "alice@example.com")
			s := startFake(t, c.opt)
			tok := s.Token()
			if c.token != nil {
				tok = c.token(s)
			}
			f := load(t, envTarget("slack", s.URL()))
			o := run(t, f, user, func(k string) string {
				if k == "SLACK_T" {
					return tok
				}
				return ""
			})
			o.check(t, c.outcome, c.status, c.calls, c.has...)
			if o.step.ErrorCode != c.code {
				t.Errorf("error code %q, want %q", o.step.ErrorCode, c.code)
			}
			if n := s.SignedOut(user); n != c.signed {
				t.Errorf("SignedOut = %d, want %d", n, c.signed)
			}
			if strings.Contains(o.all, tok) {
				t.Error("the token appears in the events or the state")
			}
			if strings.Contains(c.name, "throttled") {
				var retries []string
				for _, ev := range o.evs {
					if ev.Kind == actions.KindRetry {
						retries = append(retries, ev.Error)
					}
				}
				if len(retries) == 0 || !strings.Contains(retries[0], "retrying in 1s") {
					t.Errorf("retry events %q: want the first to wait Retry-After: 1s", retries)
				}
			}
		})
	}
}

// answer is one canned HTTP answer of a fake Slack.
type answer struct {
	status int
	header map[string]string
	body   string
}

// slackServer answers each Web API method with its list of answers, one per
// call (the last repeats), and records what it received.
type slackServer struct {
	*httptest.Server
	mu    sync.Mutex
	auths []string
	hits  atomic.Int32
}

func newSlack(t *testing.T, answers map[string][]answer) *slackServer {
	t.Helper()
	ss := &slackServer{}
	n := map[string]int{}
	ss.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ss.hits.Add(1)
		_, _ = io.Copy(io.Discard, r.Body)
		method := strings.TrimPrefix(r.URL.Path, "/api/")
		ss.mu.Lock()
		ss.auths = append(ss.auths, r.Header.Get("Authorization"))
		as := answers[method]
		i := min(n[method], len(as)-1)
		n[method]++
		ss.mu.Unlock()
		if len(as) == 0 {
			w.WriteHeader(http.StatusNotFound)
			return
		}
		a := as[i]
		for k, v := range a.header {
			w.Header().Set(k, v)
		}
		if a.header["Content-Type"] == "" {
			w.Header().Set("Content-Type", "application/json; charset=utf-8")
		}
		w.WriteHeader(a.status)
		_, _ = io.WriteString(w, a.body)
	}))
	t.Cleanup(ss.Close)
	return ss
}

const (
	secret   = "xoxp-5ecret-7f3a9c1e5b2d"
	okUser   = `{"ok":true,"user":{"id":"W0ALICE001","name":"alice","is_bot":false}}`
	okReset  = `{"ok":true}`
	rateBody = `{"ok":false,"error":"ratelimited"}`
)

func secretEnv(k string) string {
	if k == "SLACK_T" {
		return secret
	}
	return ""
}

func fail(code string) answer {
	return answer{status: 200, body: `{"ok":false,"error":"` + code + `"}`}
}

func TestDocumentedAnswers(t *testing.T) {
	lookupOK := []answer{{status: 200, body: okUser}}
	cases := []struct {
		name    string
		answers map[string][]answer
		outcome actions.Outcome
		status  int
		calls   string
		code    string
		has     []string
	}{
		{name: "ok", answers: map[string][]answer{"users.lookupByEmail": lookupOK, "admin.users.session.reset": {{status: 200, body: okReset}}},
			outcome: actions.Revoked, status: 200, calls: "lookup reset"},
		{name: "ratelimited in a 200, then ok", answers: map[string][]answer{"users.lookupByEmail": lookupOK,
			"admin.users.session.reset": {{status: 200, header: map[string]string{"Retry-After": "1"}, body: rateBody}, {status: 200, body: okReset}}},
			outcome: actions.Revoked, status: 200, calls: "lookup reset reset"},
		{name: "ratelimited in a 200, always", answers: map[string][]answer{"users.lookupByEmail": lookupOK,
			"admin.users.session.reset": {{status: 200, body: rateBody}}},
			outcome: actions.Failed, status: 200, calls: "lookup reset reset reset", code: "ratelimited", has: []string{"kept answering ratelimited"}},
		{name: "429 on the lookup, then ok", answers: map[string][]answer{
			"users.lookupByEmail":       {{status: 429, header: map[string]string{"Retry-After": "1"}, body: rateBody}, {status: 200, body: okUser}},
			"admin.users.session.reset": {{status: 200, body: okReset}}},
			outcome: actions.Revoked, status: 200, calls: "lookup lookup reset"},
		{name: "429 longer than max_retry_wait", answers: map[string][]answer{
			"users.lookupByEmail": {{status: 429, header: map[string]string{"Retry-After": "3600"}, body: rateBody}}},
			outcome: actions.Failed, status: 429, calls: "lookup", code: "ratelimited", has: []string{"longer than max_retry_wait"}},
		{name: "not_authed", answers: map[string][]answer{"users.lookupByEmail": {fail("not_authed")}},
			outcome: actions.Rejected, status: 200, calls: "lookup", code: "not_authed", has: []string{"no token", "token_env SLACK_T"}},
		{name: "token_expired", answers: map[string][]answer{"users.lookupByEmail": {fail("token_expired")}},
			outcome: actions.Rejected, status: 200, calls: "lookup", code: "token_expired", has: []string{"expired", "token_env SLACK_T"}},
		{name: "missing_scope on the lookup", answers: map[string][]answer{"users.lookupByEmail": {{status: 200,
			body: `{"ok":false,"error":"missing_scope","needed":"users:read.email","provided":"admin.users:write"}`}}},
			outcome: actions.Rejected, status: 200, calls: "lookup", code: "missing_scope", has: []string{"lacks the scope users:read.email", "User Token Scopes"}},
		{name: "missing_scope without needed", answers: map[string][]answer{"users.lookupByEmail": lookupOK,
			"admin.users.session.reset": {fail("missing_scope")}},
			outcome: actions.Rejected, status: 200, calls: "lookup reset", code: "missing_scope", has: []string{"lacks the scope admin.users:write"}},
		{name: "missing_scope with a hostile needed", answers: map[string][]answer{"users.lookupByEmail": lookupOK,
			"admin.users.session.reset": {{status: 200, body: `{"ok":false,"error":"missing_scope","needed":"\u001b[2Jrun rm -rf"}`}}},
			outcome: actions.Rejected, status: 200, calls: "lookup reset", code: "missing_scope", has: []string{"lacks the scope admin.users:write"}},
		{name: "enterprise_is_restricted", answers: map[string][]answer{"users.lookupByEmail": {fail("enterprise_is_restricted")}},
			outcome: actions.Rejected, status: 200, calls: "lookup", code: "enterprise_is_restricted", has: []string{"Enterprise Grid org itself"}},
		{name: "user_not_found on the reset", answers: map[string][]answer{"users.lookupByEmail": lookupOK,
			"admin.users.session.reset": {fail("user_not_found")}},
			outcome: actions.NotFound, status: 200, calls: "lookup reset", code: "user_not_found", has: []string{"Enterprise Grid org"}},
		{name: "internal_error", answers: map[string][]answer{"users.lookupByEmail": lookupOK,
			"admin.users.session.reset": {fail("internal_error")}},
			outcome: actions.Failed, status: 200, calls: "lookup reset", code: "internal_error", has: []string{"try again later"}},
		{name: "user_session_reset_failed", answers: map[string][]answer{"users.lookupByEmail": lookupOK,
			"admin.users.session.reset": {fail("user_session_reset_failed")}},
			outcome: actions.Failed, status: 200, calls: "lookup reset", code: "user_session_reset_failed", has: []string{"could not reset"}},
		{name: "an unknown error code", answers: map[string][]answer{"users.lookupByEmail": lookupOK,
			"admin.users.session.reset": {fail("something_new")}},
			outcome: actions.Failed, status: 200, calls: "lookup reset", code: "something_new", has: []string{"api.slack.com/methods/admin.users.session.reset"}},
		{name: "unknown_method (404)", answers: map[string][]answer{"users.lookupByEmail": {{status: 404, body: `{"ok":false,"error":"unknown_method"}`}}},
			outcome: actions.Rejected, status: 404, calls: "lookup", code: "unknown_method", has: []string{"fix url"}},
		{name: "404 without a Slack body", answers: map[string][]answer{},
			outcome: actions.Rejected, status: 404, calls: "lookup", has: []string{"fix url"}},
		{name: "200 that is not Slack's JSON", answers: map[string][]answer{"users.lookupByEmail": {{status: 200,
			header: map[string]string{"Content-Type": "text/html"}, body: "<html>login</html>"}}},
			outcome: actions.Rejected, status: 200, calls: "lookup", has: []string{"not Slack's JSON", "check that url"}},
		{name: "ok without a user id", answers: map[string][]answer{"users.lookupByEmail": {{status: 200, body: `{"ok":true,"user":{}}`}}},
			outcome: actions.Failed, status: 200, calls: "lookup", has: []string{"without a valid user id"}},
		{name: "500 every time", answers: map[string][]answer{"users.lookupByEmail": lookupOK,
			"admin.users.session.reset": {{status: 500, body: "oops"}}},
			outcome: actions.Failed, status: 500, calls: "lookup reset reset reset", has: []string{"server error (500)", "after 3 attempts", "ulc resume"}},
		{name: "503 then ok", answers: map[string][]answer{"users.lookupByEmail": lookupOK,
			"admin.users.session.reset": {{status: 503}, {status: 200, body: okReset}}},
			outcome: actions.Revoked, status: 200, calls: "lookup reset reset"},
		{name: "401 without a body", answers: map[string][]answer{"users.lookupByEmail": {{status: 401}}},
			outcome: actions.Rejected, status: 401, calls: "lookup", has: []string{"token_env SLACK_T"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ss := newSlack(t, c.answers)
			o := run(t, load(t, envTarget("slack", ss.URL+"/api/")), "alice@example.com", secretEnv)
			o.check(t, c.outcome, c.status, c.calls, c.has...)
			if o.step.ErrorCode != c.code {
				t.Errorf("error code %q, want %q", o.step.ErrorCode, c.code)
			}
			if strings.ContainsAny(o.step.Error, "\x1b\n") {
				t.Errorf("error %q carries control characters", o.step.Error)
			}
			if strings.Contains(o.all, secret) {
				t.Error("the token appears in the events or the state")
			}
			ss.mu.Lock()
			defer ss.mu.Unlock()
			for _, a := range ss.auths {
				if a != "Bearer "+secret {
					t.Errorf("Authorization %q, want the bearer token", a)
				}
			}
		})
	}
}

// TestTokenGoesNowhereElse: a redirect to another host is not followed, so
// the token never reaches it, and it appears in no output.
func TestTokenGoesNowhereElse(t *testing.T) {
	other := newSlack(t, map[string][]answer{"users.lookupByEmail": {{status: 200, body: okUser}}, "admin.users.session.reset": {{status: 200, body: okReset}}})
	for _, code := range []int{301, 302, 307, 308} {
		redirector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, other.URL+r.URL.Path, code)
		}))
		o := run(t, load(t, envTarget("slack", redirector.URL+"/api/")), "alice@example.com", secretEnv)
		redirector.Close()
		o.check(t, actions.Rejected, code, "lookup", "not followed: fix url")
		if strings.Contains(o.all, secret) || strings.Contains(o.step.Error, secret) {
			t.Errorf("%d: the token appears in the events or the state", code)
		}
	}
	if n := other.hits.Load(); n != 0 {
		t.Errorf("the other host got %d requests", n)
	}

	// Two Slack targets with their own tokens: each token reaches only
	// its own host.
	s := startFake(t, slackfake.Options{Users: []string{"alice@example.com"}})
	f := load(t, envTarget("other", other.URL+"/api/"), func() string {
		b, err := s.TargetTOML("fake", t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		return b
	}())
	ctx := context.Background()
	p, err := actions.BuildPlan(ctx, actions.Request{Users: []string{"alice@example.com"}, Reason: "test", Operator: "tester",
		Targets: f.Targets, Defaults: f.Defaults, Getenv: secretEnv, Version: "test"}, actions.StaticDirectory{})
	if err != nil {
		t.Fatal(err)
	}
	j := &journaltest.Journal{}
	st, err := (&actions.Executor{Journal: j}).Execute(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	if !st.AllSucceeded() {
		t.Errorf("counts %v, want every step revoked", st.Counts())
	}
	other.mu.Lock()
	for _, a := range other.auths {
		if strings.Contains(a, s.Token()) {
			t.Error("the fake's token reached the other host")
		}
	}
	other.mu.Unlock()
	all, _ := json.Marshal(j.Events())
	if strings.Contains(string(all), s.Token()) || strings.Contains(string(all), secret) {
		t.Error("a token appears in the events")
	}
}

func TestPlanNeedsAnEmail(t *testing.T) {
	f := load(t, envTarget("slack", "https://slack.com/api/"))
	_, err := actions.BuildPlan(context.Background(), actions.Request{Users: []string{"00u1abcdefgh2345"}, Reason: "test",
		Targets: f.Targets, Defaults: f.Defaults, Getenv: secretEnv}, actions.StaticDirectory{})
	if err == nil || !strings.Contains(err.Error(), "by email") {
		t.Fatalf("plan for a user without an email: %v, want an error saying Slack needs the email", err)
	}
	if strings.Contains(err.Error(), secret) {
		t.Error("the error holds the token")
	}
}

func TestMissingTokenBlocksTheStep(t *testing.T) {
	f := load(t, envTarget("slack", "https://slack.com/api/"))
	o := run(t, f, "alice@example.com", func(string) string { return "" })
	if o.step.Outcome != actions.Failed || !strings.Contains(o.step.Error, "SLACK_T") || len(o.calls) != 0 {
		t.Errorf("got %s %q after %d calls, want failed naming SLACK_T and nothing sent", o.step.Outcome, o.step.Error, len(o.calls))
	}
}

// TestProbe: ulc targets check --live looks up a user that cannot exist,
// which proves the token and never resets anyone.
func TestProbe(t *testing.T) {
	s := startFake(t, slackfake.Options{Users: []string{"alice@example.com"}})
	f := load(t, envTarget("slack", s.URL()))
	tok := s.Token()
	env := func(k string) string {
		if k == "SLACK_T" {
			return tok
		}
		return ""
	}
	if res := actions.Probe(context.Background(), f.Targets[0], "", env); res.Outcome != actions.NotFound || !strings.Contains(res.Verdict, "credential accepted") {
		t.Errorf("probe: %s %q, want not_found and the credential accepted", res.Outcome, res.Verdict)
	}
	tok = "xoxp-not-this-orgs"
	res := actions.Probe(context.Background(), f.Targets[0], "", env)
	if res.Outcome != actions.Rejected || !strings.Contains(res.Verdict, "invalid_auth") || strings.Contains(res.Verdict, tok) {
		t.Errorf("probe with a wrong token: %s %q, want rejected naming invalid_auth without the token", res.Outcome, res.Verdict)
	}
	for _, r := range s.Requests() {
		if r.Method != "users.lookupByEmail" {
			t.Errorf("the probe called %s", r.Method)
		}
	}
	if n := s.SignedOut("alice@example.com"); n != 0 {
		t.Errorf("SignedOut = %d after probes, want 0", n)
	}
}

// BenchmarkSignOut is one user's whole Slack step (plan, lookup, reset,
// every event recorded in memory) against the fake on loopback.
func BenchmarkSignOut(b *testing.B) {
	s, err := slackfake.Start(slackfake.Options{Users: []string{"alice@example.com"}})
	if err != nil {
		b.Fatal(err)
	}
	defer func() { _ = s.Close() }()
	dir := b.TempDir()
	block, err := s.TargetTOML("slack", dir)
	if err != nil {
		b.Fatal(err)
	}
	path := filepath.Join(dir, "targets.toml")
	if err := os.WriteFile(path, []byte(block), 0o600); err != nil {
		b.Fatal(err)
	}
	f, err := config.Load(path)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	req := actions.Request{Users: []string{"alice@example.com"}, Reason: "bench", Operator: "bench",
		Targets: f.Targets, Defaults: f.Defaults, Version: "bench"}
	for b.Loop() {
		p, err := actions.BuildPlan(ctx, req, actions.StaticDirectory{})
		if err != nil {
			b.Fatal(err)
		}
		st, err := (&actions.Executor{Journal: &journaltest.Journal{}}).Execute(ctx, p)
		if err != nil || !st.AllSucceeded() {
			b.Fatalf("run: %v %v", err, st.Counts())
		}
	}
}
