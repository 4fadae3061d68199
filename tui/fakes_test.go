package tui

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"ulc/actions"
	"ulc/config"
	"ulc/history"
)

// testNow pins the clock so frames are stable.
var testNow = time.Date(2026, 11, 21, 14, 30, 0, 0, time.UTC)

var cast = []Person{
	{User: actions.User{ID: "00u1trinity000000a", Login: "trinity@whiterabbit.fake", Email: "trinity@whiterabbit.fake", Status: "ACTIVE"},
		FirstName: "Trinity", LastName: "Moss", Department: "Security", Title: "Incident lead", City: "Chicago", Country: "US",
		LastLogin: testNow.Add(-20 * time.Minute), StatusChanged: testNow.AddDate(0, -3, 0)},
	{User: actions.User{ID: "00u1neo00000000000b", Login: "neo@whiterabbit.fake", Email: "neo@whiterabbit.fake", Status: "ACTIVE"},
		FirstName: "Thomas", LastName: "Anderson", Department: "Engineering", Title: "Programmer",
		LastLogin: testNow.Add(-5 * time.Hour)},
	{User: actions.User{ID: "00u1smith0000000000c", Login: "smith@whiterabbit.fake", Email: "smith@whiterabbit.fake", Status: "SUSPENDED"},
		FirstName: "Agent", LastName: "Smith", Department: "Operations", LastLogin: testNow.AddDate(0, 0, -9)},
}

// fakeDir is a directory over the cast.
type fakeDir struct {
	mu      sync.Mutex
	queries []string
	err     error
	// gate holds back the answer to a query until the channel is closed,
	// like a slow server that does not notice the request was abandoned.
	gate map[string]chan struct{}
	// people replaces the cast when set; activity replaces the events.
	people   []Person
	activity []Activity
	actErr   error // the System Log's answer, when set
	// pageSize, when set, cuts answers into pages of that many people.
	pageSize int
}

func (d *fakeDir) Search(_ context.Context, q string, limit int, cursor string) (Page, error) {
	d.mu.Lock()
	d.queries = append(d.queries, q)
	err, gate, people, size := d.err, d.gate[q], d.people, d.pageSize
	d.mu.Unlock()
	if gate != nil {
		<-gate
	}
	if err != nil {
		return Page{}, err
	}
	if people == nil {
		people = cast
	}
	var out []Person
	for _, p := range people {
		if strings.HasPrefix(strings.ToLower(p.FirstName), strings.ToLower(q)) ||
			strings.HasPrefix(strings.ToLower(p.LastName), strings.ToLower(q)) ||
			strings.HasPrefix(p.Email, strings.ToLower(q)) {
			out = append(out, p)
		}
	}
	total := len(out)
	if size > 0 {
		from := 0
		if cursor != "" {
			if _, err := fmt.Sscan(cursor, &from); err != nil {
				return Page{}, fmt.Errorf("cursor %q: %w", cursor, err)
			}
		}
		out = out[min(from, len(out)):min(from+size, len(out))]
		if from+size < total {
			return Page{People: out, Total: total, Next: fmt.Sprint(from + size)}, nil
		}
	}
	return Page{People: out, Total: total}, nil
}

// searched reports whether the directory was asked q.
func (d *fakeDir) searched(q string) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, x := range d.queries {
		if x == q {
			return true
		}
	}
	return false
}

func (d *fakeDir) Get(_ context.Context, ref string) (Person, error) {
	d.mu.Lock()
	people := d.people
	d.mu.Unlock()
	if people == nil {
		people = cast
	}
	for _, p := range people {
		if p.ID == ref || p.Login == ref {
			return p, nil
		}
	}
	return Person{}, errors.New("not found")
}

func (d *fakeDir) Activity(context.Context, string, time.Time, int) ([]Activity, error) {
	d.mu.Lock()
	acts, err := d.activity, d.actErr
	d.mu.Unlock()
	if err != nil {
		return nil, err
	}
	if acts != nil {
		return acts, nil
	}
	return trinityActivity(), nil
}

// trinityActivity is the MFA-fatigue story, newest first: her usual
// sign-ins from Chicago, then someone in Amsterdam with her password
// pushing Okta Verify until she approved, and enrolling a factor of their
// own.
func trinityActivity() []Activity {
	chicago := func(ago time.Duration, typ, msg string) Activity {
		return Activity{Time: testNow.Add(-ago), EventType: typ, Message: msg, Outcome: "SUCCESS",
			IP: "198.51.100.23", City: "Chicago", Country: "United States", Client: "CHROME on Mac OS X", Device: "Computer"}
	}
	bad := func(ago time.Duration, typ, msg, outcome string) Activity {
		return Activity{Time: testNow.Add(-ago), EventType: typ, Message: msg, Outcome: outcome,
			IP: "203.0.113.66", City: "Amsterdam", Country: "Netherlands", Client: "CHROME on Windows", Device: "Computer"}
	}
	const rejected = "FAILURE: User rejected Okta push verify"
	return []Activity{
		bad(15*time.Minute, "user.mfa.factor.activate", "Activate factor or authenticator", "SUCCESS"),
		bad(28*time.Minute, "user.session.start", "User login to Okta", "SUCCESS"),
		bad(29*time.Minute, "user.authentication.auth_via_mfa", "Authentication of user via MFA", "SUCCESS"),
		bad(31*time.Minute, "user.mfa.okta_verify.deny_push", "User rejected Okta push verify", rejected),
		bad(32*time.Minute, "user.mfa.okta_verify.deny_push", "User rejected Okta push verify", rejected),
		bad(33*time.Minute, "user.mfa.okta_verify.deny_push", "User rejected Okta push verify", rejected),
		bad(34*time.Minute, "policy.evaluate_sign_on", "Evaluation of sign-on policy", "CHALLENGE: Sign-on policy evaluation resulted in CHALLENGE"),
		chicago(5*time.Hour, "user.session.start", "User login to Okta"),
		chicago(29*time.Hour, "user.session.start", "User login to Okta"),
		chicago(53*time.Hour, "user.session.start", "User login to Okta"),
	}
}

func (d *fakeDir) Factors(context.Context, string) ([]Factor, error) {
	return []Factor{{Type: "push", Provider: "OKTA", Status: "ACTIVE"}, {Type: "token:software:totp", Provider: "GOOGLE", Status: "ACTIVE"}}, nil
}

// fakeRunner plans one step per user × target and answers from script.
type fakeRunner struct {
	mu     sync.Mutex
	script map[string]actions.Outcome // target → outcome
	block  chan struct{}              // when set, Execute waits on it (or ctx)
	// drain, when set, holds Execute after a cancellation until it is
	// closed: the engine recording what was answered.
	drain  chan struct{}
	errors map[string]string // target → error text, replacing the scripted one
	// readBacks are the read-backs of the steps that succeeded, by target
	// (or, for an Okta step, by action), as the engine records them.
	readBacks map[string]actions.ResultDetail
	// sawCancel is set once Execute has seen its context cancelled.
	sawCancel atomic.Bool
	planned   []RunRequest
	runs      int
	planErr   error // when set, Plan fails with it (and records nothing)
	// states are the runs Execute finished, by id; hist serves the others
	// to Resume.
	states  map[string]*actions.RunState
	hist    *fakeHistory
	resumed []string // the run ids Resume was asked for
}

// Resume plans what is left of run id, as the backend does for a run that
// was resumed by no other: the chain of resumes is the backend's to follow.
func (r *fakeRunner) Resume(ctx context.Context, id string, dryRun bool) (*actions.Plan, error) {
	r.mu.Lock()
	r.resumed = append(r.resumed, id)
	st := r.states[id]
	r.mu.Unlock()
	if st == nil {
		var err error
		if st, _, err = r.hist.Run(ctx, id); err != nil {
			return nil, err
		}
	}
	res := actions.ResumeOf(st)
	if res.Steps == 0 {
		return nil, fmt.Errorf("run %s: %w", id, actions.ErrNothingToResume)
	}
	req := res.Request(st)
	req.DryRun = dryRun
	return r.Plan(ctx, req)
}

func (r *fakeRunner) Plan(_ context.Context, rr RunRequest) (*actions.Plan, error) {
	r.mu.Lock()
	if r.planErr != nil {
		r.mu.Unlock()
		return nil, r.planErr
	}
	r.planned = append(r.planned, rr)
	r.mu.Unlock()
	p := &actions.Plan{RunID: "20261121-143000-abc123", Created: testNow, Info: actions.RunInfo{
		Reason: rr.Reason, Ticket: rr.Ticket, Operator: "analyst", DryRun: rr.DryRun, Users: rr.Users, Targets: rr.Targets, ResumeOf: rr.ResumeOf,
	}}
	for _, u := range rr.Users {
		for _, a := range rr.OktaSteps {
			p.Steps = append(p.Steps, actions.Step{N: len(p.Steps) + 1, User: &u, Action: a, Target: actions.OktaTarget})
		}
		for _, t := range rr.Targets {
			if rr.Skip != nil && rr.Skip(u, actions.ActionGTR, t) {
				continue
			}
			p.Steps = append(p.Steps, actions.Step{N: len(p.Steps) + 1, User: &u, Action: actions.ActionGTR, Target: t,
				Detail: actions.StepDetail{Method: "POST", URL: "https://" + t + ".example/gtr", SubjectFormat: "email", Auth: "bearer"}})
		}
	}
	return p, nil
}

func (r *fakeRunner) Execute(ctx context.Context, p *actions.Plan, observe func(actions.Event)) (*actions.RunState, error) {
	r.mu.Lock()
	r.runs++
	r.mu.Unlock()
	st := actions.NewRunState(p.RunID)
	emit := func(ev actions.Event) {
		ev.RunID = p.RunID
		if ev.Time.IsZero() {
			ev.Time = testNow
		}
		if ev.Kind == actions.KindRunFinished {
			ev.Time = testNow.Add(2100 * time.Millisecond) // a run takes a while
		}
		st.Apply(ev)
		observe(ev)
	}
	for _, ev := range p.Events() {
		emit(ev)
	}
	for _, s := range p.Steps {
		if p.Info.DryRun {
			break // a dry run sends nothing
		}
		emit(actions.Event{Kind: actions.KindAttempt, Step: s.N, User: s.User.Key(), Target: s.Target, Action: s.Action, Attempt: 1})
	}
	r.mu.Lock()
	block := r.block
	r.mu.Unlock()
	if block != nil {
		select {
		case <-block:
		case <-ctx.Done():
		}
	}
	if ctx.Err() != nil {
		r.sawCancel.Store(true)
		if r.drain != nil {
			<-r.drain
		}
	}
	for _, s := range p.Steps {
		o := r.script[s.Target]
		switch {
		case ctx.Err() != nil:
			o = actions.Cancelled
		case p.Info.DryRun:
			o = actions.Planned
		case s.Action != actions.ActionGTR:
			o = actions.Done
		case o == "":
			o = actions.Revoked
		}
		ev := actions.Event{Kind: actions.KindResult, Step: s.N, User: s.User.Key(), Target: s.Target, Action: s.Action, Attempt: 1, Outcome: o, LatencyMS: 42}
		if o == actions.Planned {
			ev.Attempt, ev.LatencyMS = 0, 0
		}
		switch o {
		case actions.Revoked:
			ev.HTTPStatus = 204
		case actions.Rejected:
			ev.HTTPStatus, ev.Error = 401, "credential rejected (401): the token: check token_env CHAT_TOKEN"
		case actions.Failed:
			// Refused three times, as the engine retries: two retries,
			// then the result. The result's latency is its requests'
			// together; the whole step, from 14:30:00.290 to the result,
			// is in its detail, as the engine records it.
			for n := 1; n <= 2; n++ {
				emit(actions.Event{Kind: actions.KindRetry, Step: s.N, User: s.User.Key(), Target: s.Target, Action: s.Action,
					Time: testNow.Add(time.Duration(300*n) * time.Millisecond), Attempt: n, LatencyMS: int64(10 * n),
					Error: fmt.Sprintf("connection refused; retrying in %dms", 250*n)})
				emit(actions.Event{Kind: actions.KindAttempt, Step: s.N, User: s.User.Key(), Target: s.Target, Action: s.Action, Attempt: n + 1})
			}
			ev.Attempt, ev.Time = 3, testNow.Add(time.Second)
			ev.Detail = json.RawMessage(`{"verified":null,"step_ms":710}`)
			ev.Error = "connection refused (after 3 attempts): is the app up at https://" + s.Target + ".example? Then R to retry"
		case actions.NotFound:
			ev.HTTPStatus, ev.Error = 404, "the app has no such user"
		}
		if e, ok := r.errors[s.Target]; ok {
			ev.Error = e
		}
		rb, ok := r.readBacks[s.Target]
		if s.Action.Okta() {
			rb, ok = r.readBacks[string(s.Action)]
		}
		if ok && (o == actions.Revoked || o == actions.Done) {
			ev.Detail, _ = json.Marshal(rb)
		}
		emit(ev)
	}
	counts, _ := json.Marshal(st.Counts())
	emit(actions.Event{Kind: actions.KindRunFinished, Detail: counts})
	r.mu.Lock()
	if r.states == nil {
		r.states = map[string]*actions.RunState{}
	}
	r.states[p.RunID] = st
	r.mu.Unlock()
	return st, nil
}

// plannedRequests returns a copy of what was planned so far.
func (r *fakeRunner) plannedRequests() []RunRequest {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]RunRequest(nil), r.planned...)
}

// executed returns how many runs were executed.
func (r *fakeRunner) executed() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.runs
}

// fakeProber answers every check with res and counts the checks.
type fakeProber struct {
	mu     sync.Mutex
	res    ProbeResult
	probed []string
}

func (p *fakeProber) Probe(_ context.Context, t config.Target) ProbeResult {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.probed = append(p.probed, t.Name)
	return p.res
}

func (p *fakeProber) checked() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.probed...)
}

// fakeHistory serves fixed runs.
type fakeHistory struct {
	runs     []history.RunSummary
	verified int
	// events, when set, are every run's events instead of the fixed ones.
	events func(id string) []actions.Event
}

func (h *fakeHistory) Runs(context.Context, history.RunFilter) ([]history.RunSummary, error) {
	return h.runs, nil
}
func (h *fakeHistory) Run(_ context.Context, id string) (*actions.RunState, []actions.Event, error) {
	st := actions.NewRunState(id)
	info, _ := json.Marshal(actions.RunInfo{Reason: "phished", Ticket: "INC-7", Operator: "analyst",
		Users: []actions.User{cast[0].User}, Targets: []string{"chat", "wiki"}})
	evs := []actions.Event{
		{Seq: 1, RunID: id, Time: testNow, Kind: actions.KindRunStarted, Detail: info},
		{Seq: 2, RunID: id, Time: testNow, Kind: actions.KindPlanned, Step: 1, User: cast[0].Login, Target: "chat", Action: actions.ActionGTR,
			Detail: json.RawMessage(`{"method":"POST","url":"https://chat.example/gtr","subject_format":"email","auth":"bearer","credential":"sha256:3f2a9c1d"}`)},
		{Seq: 3, RunID: id, Time: testNow, Kind: actions.KindPlanned, Step: 2, User: cast[0].Login, Target: "wiki", Action: actions.ActionGTR},
		{Seq: 4, RunID: id, Time: testNow, Kind: actions.KindAttempt, Step: 1, User: cast[0].Login, Target: "chat", Action: actions.ActionGTR, Attempt: 1},
		{Seq: 5, RunID: id, Time: testNow.Add(12 * time.Millisecond), Kind: actions.KindRetry, Step: 1, User: cast[0].Login, Target: "chat", Action: actions.ActionGTR,
			Attempt: 1, HTTPStatus: 503, LatencyMS: 12, Error: "the app is unavailable (503): it is down or overloaded; retrying in 200ms"},
		{Seq: 6, RunID: id, Time: testNow.Add(212 * time.Millisecond), Kind: actions.KindAttempt, Step: 1, User: cast[0].Login, Target: "chat", Action: actions.ActionGTR, Attempt: 2},
		{Seq: 7, RunID: id, Time: testNow.Add(243 * time.Millisecond), Kind: actions.KindResult, Step: 1, User: cast[0].Login, Target: "chat", Action: actions.ActionGTR, Attempt: 2, HTTPStatus: 204, Outcome: actions.Revoked, LatencyMS: 43, Detail: json.RawMessage(`{"verified":null,"step_ms":243}`)},
		{Seq: 8, RunID: id, Time: testNow.Add(time.Second), Kind: actions.KindAttempt, Step: 2, User: cast[0].Login, Target: "wiki", Action: actions.ActionGTR, Attempt: 1},
	}
	if h.events != nil {
		evs = h.events(id)
	}
	for _, ev := range evs {
		st.Apply(ev)
	}
	st.Settle()
	return st, evs, nil
}

// State folds Run, as the audit log does without keeping the events.
func (h *fakeHistory) State(ctx context.Context, id string) (*actions.RunState, error) {
	st, _, err := h.Run(ctx, id)
	if err != nil {
		return nil, err
	}
	// As the backend's: without the steps' requests, which are in their
	// planned events.
	lean := *st
	lean.Steps = nil
	for _, s := range st.Steps {
		c := *s
		c.Detail = nil
		lean.Steps = append(lean.Steps, &c)
	}
	return &lean, nil
}

// Timeline pages Run's events by seq.
func (h *fakeHistory) Timeline(ctx context.Context, id string, after int64, limit int) ([]actions.Event, error) {
	_, evs, err := h.Run(ctx, id)
	var out []actions.Event
	for _, ev := range evs {
		if ev.Seq > after && len(out) < limit {
			out = append(out, ev)
		}
	}
	return out, err
}

// StepEvents picks one step's events out of Run's.
func (h *fakeHistory) StepEvents(ctx context.Context, id string, n int, user string) ([]actions.Event, error) {
	_, evs, err := h.Run(ctx, id)
	var out []actions.Event
	for _, ev := range evs {
		if ev.Step == n && ev.User == user {
			out = append(out, ev)
		}
	}
	return out, err
}

func (h *fakeHistory) Head(context.Context) (int64, string, error) {
	return 42, strings.Repeat("c0ffee", 10) + "beef", nil
}

func (h *fakeHistory) Verify(context.Context, string) (history.VerifyResult, error) {
	h.verified++
	return history.VerifyResult{OK: true, Events: 6, HeadSeq: 6, Head: strings.Repeat("ab", 32)}, nil
}
func (h *fakeHistory) TargetStats(context.Context, int) (map[string][]history.TargetResult, error) {
	return map[string][]history.TargetResult{
		"chat": {{Outcome: actions.Revoked, HTTPStatus: 204, Attempts: 1, LatencyMS: 30, StepMS: 30},
			{Outcome: actions.NotFound, HTTPStatus: 404, Attempts: 1, LatencyMS: 50, StepMS: 50}},
		"wiki": {{Outcome: actions.Failed, Attempts: 3, LatencyMS: 3000, StepMS: 3600},
			{Outcome: actions.Revoked, HTTPStatus: 204, Attempts: 3, LatencyMS: 80, StepMS: 1480}},
	}, nil
}

var testTargets = []config.Target{
	{Name: "chat", URL: "https://chat.example/gtr", Subject: "email", BodyKey: "sub_id", Auth: "bearer", Enabled: true},
	{Name: "wiki", URL: "https://wiki.example/gtr", Subject: "opaque", BodyKey: "sub_id", Auth: "jwt", Enabled: true},
	{Name: "legacy", URL: "https://legacy.example/gtr", Subject: "email", BodyKey: "subject", Auth: "bearer", Enabled: false},
}

func testDeps() (Deps, *fakeDir, *fakeRunner, *fakeHistory) {
	dir := &fakeDir{}
	run := &fakeRunner{script: map[string]actions.Outcome{"wiki": actions.Failed}}
	hist := &fakeHistory{runs: []history.RunSummary{{
		RunID: "20261121-120000-def456", Started: testNow.Add(-2 * time.Hour),
		Info:   actions.RunInfo{Reason: "phished", Ticket: "INC-7", Operator: "analyst", Users: []actions.User{cast[0].User}},
		Counts: map[actions.Outcome]int{actions.Revoked: 1, actions.Unknown: 1}, Steps: 2, Interrupted: true,
	}}}
	run.hist = hist
	return Deps{Directory: dir, Runner: run, History: hist, Targets: testTargets,
		OrgURL: "https://whiterabbit.okta.com", AuditPath: "/var/lib/ulc/audit.db", Now: func() time.Time { return testNow }}, dir, run, hist
}
