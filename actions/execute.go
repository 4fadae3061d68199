package actions

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"ulc/config"
	"ulc/internal/safetext"
)

// Journal records events. The audit log implements it.
type Journal interface {
	// Record appends evs as one atomic batch. With wait it returns only once
	// they are durable; without, it queues them and a failure surfaces on a
	// later call. Batches are recorded in the order of the calls, and a
	// failed batch fails every later one: so a Record with wait that
	// returns nil has also made durable every batch recorded before it.
	Record(ctx context.Context, wait bool, evs ...Event) error
}

// OktaAnswer is what Okta answered to one Okta step.
type OktaAnswer struct {
	// HTTPStatus is Okta's status code; 0 when no answer came.
	HTTPStatus int
	// RequestID is X-Okta-Request-Id; ErrorCode and ErrorID come from
	// Okta's error body.
	RequestID, ErrorCode, ErrorID string
	// Err is nil on success, else a one-line explanation.
	Err error
	// Verified is the read-back after a successful step (the user's
	// status and last sign-in), nil when none was made; Evidence is what
	// was read.
	Verified *bool
	Evidence string
}

// Okta performs Okta steps. The Okta client implements it.
type Okta interface {
	Do(ctx context.Context, a Action, u User, forgetDevices bool) OktaAnswer
}

// ErrAudit wraps every failure to write the audit log: when the run's plan
// cannot be recorded nothing is sent, and when a later write fails the run
// stops sending.
var ErrAudit = errors.New("audit log unavailable")

// maxBody caps how much of an answer is read: the draft defines no body, and
// a hostile app must not fill memory.
const maxBody = 64 << 10

// Executor runs plans.
type Executor struct {
	// Journal records every event; required.
	Journal Journal
	// Okta performs Okta steps; nil fails them with a clear error.
	Okta Okta
	// Observe, when set, sees every event after it was handed to the
	// journal. It must not block for long.
	Observe func(Event)
	// OktaConcurrency bounds how many users' Okta steps run at once, to
	// stay inside Okta's rate limits in bulk runs (default 5).
	OktaConcurrency int
	// BackoffBase is the first retry's backoff before jitter (default 250ms).
	BackoffBase time.Duration
}

// run is the state of one execution.
type run struct {
	x      *Executor
	plan   *Plan
	ctx    context.Context // cancelled by the operator or by an audit failure
	cancel context.CancelFunc

	mu       sync.Mutex
	state    *RunState
	auditErr error
	// planned is how many steps of the plan are recorded; planFailed is
	// set if recording the rest failed. planCond signals both, under mu.
	planned    int
	planFailed bool
	planCond   *sync.Cond
	// attempting is closed when the first attempt is being recorded: the
	// plan's second chunk waits for it, so that first attempt is not
	// queued behind the chunk's transaction.
	attempting chan struct{}
	attemptOne sync.Once
	// firstChunk is the plan's first chunk (run_started and the first
	// steps) until it is handed to the journal, in one batch with the
	// run's first event (usually the first attempt), or alone once
	// attemptWait has passed; firstOut is set once it was. firstMu is
	// held while it is handed over, so that no event of the run is
	// recorded before it.
	firstMu    sync.Mutex
	firstChunk []Event
	firstOut   atomic.Bool
	// sent is set once an attempt is durable: from then on a request may
	// have left.
	sent atomic.Bool
}

// attemptWait bounds how long the plan's first chunk waits for the first
// attempt to be recorded with it, and the second chunk behind it (a run
// whose first steps cannot be sent has none). A variable so tests can
// take time out of the picture.
var attemptWait = 5 * time.Millisecond

// Plan chunks: the first holds only a few steps, so the first requests
// leave soon after the operator confirms; the others double in size up to
// planChunk, so a
// plan of 200,000 steps is never one transaction nor held as events all
// at once. Variables so tests can make chunks small.
var (
	firstChunk = 32
	planChunk  = 1000
)

// Execute records the plan, then performs it: each user's Okta steps in
// order, then the GTR fan-out with bounded concurrency across targets and a
// small limit per target. It returns the run's final state. The error is
// non-nil (wrapping ErrAudit) only when the audit log failed; in that case
// nothing more was sent after the failure, and nothing at all if the plan's
// first chunk could not be recorded. Cancelling ctx turns unanswered steps
// into Cancelled. A blocked step (Step.Blocked) is recorded as planned like
// every step, then as Failed with its reason; it is never sent or retried.
//
// The plan is recorded in chunks: run_started (which says how many steps
// the plan holds) with the first few steps, then the rest while the first
// requests are out. No step is sent before its planned event is durable,
// so a crash leaves every sent step planned, and steps missing from the
// log were never sent. The first chunk goes to the journal in one batch
// with the first attempt, so the first request waits for one commit
// after the operator confirms, not two.
func (x *Executor) Execute(ctx context.Context, p *Plan) (*RunState, error) {
	r := &run{x: x, plan: p, state: NewRunState(p.RunID), attempting: make(chan struct{})}
	r.planCond = sync.NewCond(&r.mu)
	r.ctx, r.cancel = context.WithCancel(ctx)
	defer r.cancel()
	// Fail closed: the run and its first steps are recorded in the same
	// atomic batch as the first attempt, or before it, so they are durable
	// before the first request leaves.
	first := min(firstChunk, len(p.Steps))
	r.firstChunk = append([]Event{p.StartEvent()}, p.PlanEvents(0, first)...)
	r.letGo(0, first, r.firstChunk)
	recorded := make(chan struct{})
	go func() {
		defer close(recorded)
		// Chunks grow from the first's size to planChunk: the first
		// attempts, which wait for the log behind the next chunk, are
		// not held up by a large one.
		size := first
		if first > 0 && !p.Info.DryRun {
			timer := time.NewTimer(attemptWait)
			select {
			case <-r.attempting:
			case <-timer.C:
			case <-r.ctx.Done():
			}
			timer.Stop()
		}
		if err := r.record(true, Event{}); err != nil {
			r.planFailure(err)
			return
		}
		for from := first; from < len(p.Steps); from += size {
			size = min(2*size, planChunk)
			if err := r.recordPlan(from, min(from+size, len(p.Steps))); err != nil {
				r.planFailure(err)
				return
			}
		}
	}()

	if !p.Info.DryRun {
		r.perform()
	}
	<-recorded

	counts, _ := json.Marshal(r.countsSnapshot())
	r.emit(true, Event{Kind: KindRunFinished, Detail: counts}, Step{})
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.auditErr != nil {
		if !r.sent.Load() {
			return r.state, fmt.Errorf("%w: %v (nothing was sent)", ErrAudit, r.auditErr)
		}
		return r.state, fmt.Errorf("%w: %v", ErrAudit, r.auditErr)
	}
	return r.state, nil
}

// planFailure stops the run after recording a chunk of its plan failed:
// the steps not recorded are never sent.
func (r *run) planFailure(err error) {
	r.mu.Lock()
	if r.auditErr == nil {
		r.auditErr = err
		r.cancel()
	}
	r.planFailed = true
	r.planCond.Broadcast()
	r.mu.Unlock()
}

// recordPlan records the planned events of steps [from, to) as one
// durable batch, then lets the steps go (letGo).
func (r *run) recordPlan(from, to int) error {
	evs := r.plan.PlanEvents(from, to)
	if err := r.x.Journal.Record(context.WithoutCancel(r.ctx), true, evs...); err != nil {
		return err
	}
	r.letGo(from, to, evs)
	return nil
}

// record hands ev to the journal, after the plan's first chunk when that
// has not gone yet (in the same batch): no event of the run is recorded
// before the run and its first steps. A zero ev hands over only the chunk.
func (r *run) record(wait bool, ev Event) error {
	if r.firstOut.Load() {
		if ev.Kind == "" {
			return nil
		}
		if ev.Kind == KindAttempt {
			r.attemptOne.Do(func() { close(r.attempting) })
		}
		return r.x.Journal.Record(context.WithoutCancel(r.ctx), wait, ev)
	}
	r.firstMu.Lock()
	defer r.firstMu.Unlock()
	if ev.Kind == KindAttempt {
		// Under the lock: the plan's second chunk, which waits for this,
		// then finds the first chunk handed over.
		r.attemptOne.Do(func() { close(r.attempting) })
	}
	evs := r.firstChunk
	r.firstChunk = nil
	if ev.Kind != "" {
		evs = append(evs, ev)
	}
	if len(evs) == 0 {
		return nil
	}
	err := r.x.Journal.Record(context.WithoutCancel(r.ctx), wait, evs...)
	r.firstOut.Store(true)
	return err
}

// letGo folds the recorded (or, for the first chunk, about to be
// recorded) events evs, the planned events of steps [from, to), into the
// state and lets those steps go. A blocked step fails at once, with the
// reason and what to do; a dry run records each step's result as planned
// ("planned" would otherwise promise a request that cannot leave).
func (r *run) letGo(from, to int, evs []Event) {
	p := r.plan
	r.mu.Lock()
	for _, ev := range evs {
		if ev.Kind == KindPlanned {
			r.state.applyPlanned(ev, &p.Steps[ev.Step-1].Detail)
		} else {
			r.state.Apply(ev)
		}
	}
	r.planned = to
	r.planCond.Broadcast()
	r.mu.Unlock()
	for _, ev := range evs {
		r.observe(ev)
	}
	for _, s := range p.Steps[from:to] {
		switch {
		case s.Blocked != "":
			r.emit(false, Event{Kind: KindResult, Step: s.N, Outcome: Failed, Error: s.Blocked}, s)
		case p.Info.DryRun:
			r.emit(false, Event{Kind: KindResult, Step: s.N, Outcome: Planned}, s)
		}
	}
}

// waitPlanned waits until the first n steps of the plan are recorded, and
// reports false if the plan's recording failed first.
func (r *run) waitPlanned(n int) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	for r.planned < n && !r.planFailed {
		r.planCond.Wait()
	}
	return r.planned >= n
}

func (r *run) countsSnapshot() map[Outcome]int {
	r.mu.Lock()
	defer r.mu.Unlock()
	c := r.state.Counts()
	delete(c, "")
	return c
}

func (r *run) observe(ev Event) {
	if r.x.Observe != nil {
		r.x.Observe(ev)
	}
}

// emit stamps ev with the run and step, records it (durably when wait), folds
// it into the state and shows it. It reports whether the journal took it; on
// failure the run is cancelled so nothing more is sent.
func (r *run) emit(wait bool, ev Event, s Step) bool {
	ev.RunID = r.plan.RunID
	ev.Time = time.Now().UTC()
	if s.N != 0 {
		ev.Step, ev.User, ev.Target, ev.Action = s.N, s.User.Key(), s.Target, s.Action
	}
	err := r.record(wait, ev)
	if err == nil && wait && ev.Kind == KindAttempt {
		r.sent.Store(true)
	}
	r.mu.Lock()
	if err != nil && r.auditErr == nil {
		r.auditErr = err
		r.cancel()
	}
	r.state.Apply(ev)
	r.mu.Unlock()
	r.observe(ev)
	return err == nil
}

// perform runs the Okta steps per user (a few users at a time) and feeds
// each user's GTR steps to the fan-out workers as soon as that user's Okta
// steps are done.
func (r *run) perform() {
	// Each user's steps, as positions in the plan: a copy of every step
	// would double the plan's memory on a run of 200,000 steps.
	byUser := map[string][]int32{}
	var order []string
	for i := range r.plan.Steps {
		s := &r.plan.Steps[i]
		if s.Blocked != "" {
			continue // already failed: it cannot be sent
		}
		k := s.User.Key()
		if _, ok := byUser[k]; !ok {
			order = append(order, k)
		}
		byUser[k] = append(byUser[k], int32(i))
	}

	work := make(chan Step, 1024)
	var workers sync.WaitGroup
	for range min(r.plan.concurrency, max(len(r.plan.Steps), 1)) {
		workers.Add(1)
		go func() {
			defer workers.Done()
			for s := range work {
				r.targetStep(s)
			}
		}()
	}

	// A few users at a time go through their Okta steps (a bulk run must
	// not flood Okta); each then hands its GTR steps to the fan-out.
	n := r.x.OktaConcurrency
	if n <= 0 {
		n = 5
	}
	next := make(chan []int32)
	var users sync.WaitGroup
	for range min(n, len(order)) {
		users.Add(1)
		go func() {
			defer users.Done()
			for steps := range next {
				// No step leaves before its planned event is durable; when
				// recording the plan failed, nothing more leaves.
				for _, i := range steps {
					if s := r.plan.Steps[i]; s.Action.Okta() && r.waitPlanned(s.N) {
						r.oktaStep(s)
					}
				}
				for _, i := range steps {
					if s := r.plan.Steps[i]; !s.Action.Okta() && r.waitPlanned(s.N) {
						work <- s
					}
				}
			}
		}()
	}
	for _, k := range order {
		next <- byUser[k]
	}
	close(next)
	users.Wait()
	close(work)
	workers.Wait()
}

// oktaStep performs one Okta step. The SDK paces itself on 429s, so the
// engine does not retry Okta steps.
func (r *run) oktaStep(s Step) {
	if r.ctx.Err() != nil {
		r.emit(false, Event{Kind: KindResult, Step: s.N, Outcome: Cancelled, Error: "cancelled before it was sent: " + retryHint}, s)
		return
	}
	if r.x.Okta == nil {
		r.emit(false, Event{Kind: KindResult, Step: s.N, Outcome: Failed,
			Error: "no Okta connection configured: set OKTA_CLIENT_ORGURL and OKTA_CLIENT_TOKEN (or [okta] in targets.toml), then ulc resume RUN"}, s)
		return
	}
	if !r.emit(true, Event{Kind: KindAttempt, Step: s.N, Attempt: 1}, s) {
		r.emit(false, Event{Kind: KindResult, Step: s.N, Attempt: 1, Outcome: Cancelled, Error: "not sent: the audit log failed: check the audit log's disk, then R to retry"}, s)
		return
	}
	start := time.Now()
	ans := r.x.Okta.Do(r.ctx, s.Action, *s.User, r.plan.Info.ForgetDevices)
	ev := Event{
		Kind: KindResult, Step: s.N, Attempt: 1, HTTPStatus: ans.HTTPStatus,
		LatencyMS: time.Since(start).Milliseconds(), RequestID: ans.RequestID,
		ErrorCode: ans.ErrorCode, ErrorID: ans.ErrorID,
	}
	switch {
	case ans.Err == nil:
		ev.Outcome = Done
		ev.Detail = resultDetail(ans.Verified, ans.Evidence, 0)
	case r.ctx.Err() != nil && ans.HTTPStatus == 0:
		ev.Outcome, ev.Error = Cancelled, "cancelled before Okta answered: "+retryHint
	default:
		ev.Outcome, _ = Classify(ans.HTTPStatus, transportOrNil(ans))
		if ev.Outcome == Revoked {
			ev.Outcome = Done
		}
		ev.Error = safetext.Line(ans.Err.Error(), 300)
	}
	r.emit(false, ev, s)
}

func transportOrNil(a OktaAnswer) error {
	if a.HTTPStatus == 0 {
		return a.Err
	}
	return nil
}

// targetStep performs one step to a target through its kind's connector,
// within the target's concurrency limit.
func (r *run) targetStep(s Step) {
	t := r.plan.targets[s.Target]
	select {
	case t.sem <- struct{}{}:
		defer func() { <-t.sem }()
	case <-r.ctx.Done():
		r.emit(false, Event{Kind: KindResult, Step: s.N, Outcome: Cancelled, Error: "cancelled before it was sent: " + retryHint}, s)
		return
	}
	c := &stepCaller{r: r, t: t, s: s}
	res := t.conn.Revoke(r.ctx, s, c)
	if c.auditFailed {
		res = Result{Outcome: Cancelled, Error: "not sent: the audit log failed: check the audit log's disk, then R to retry"}
	} else if r.ctx.Err() != nil && res.Outcome != Cancelled && !res.Outcome.Success() && res.HTTPStatus == 0 {
		res = Result{Outcome: Cancelled, Error: "cancelled before an answer came: " + retryHint}
	}
	if res.Outcome == "" {
		res.Outcome, res.Error = Failed, "the connector gave no outcome: "+res.Error
	}
	r.emit(false, Event{
		Kind: KindResult, Step: s.N, Attempt: c.n, HTTPStatus: res.HTTPStatus, Outcome: res.Outcome,
		LatencyMS: c.latency.Milliseconds(), RequestID: res.RequestID, ErrorCode: res.ErrorCode, ErrorID: res.ErrorID,
		Error: safetext.Line(res.Error, 300), Detail: resultDetail(res.Verified, res.Evidence, c.stepMS()),
	}, s)
}

// stepCaller is the Caller of one step: it numbers the attempts of every
// call of the step, records each durably before its request leaves, and
// retries what may be retried.
type stepCaller struct {
	r *run
	t *runTarget
	s Step
	// n is the number of attempts so far, across the step's calls;
	// latency is their total time; first is when the first request left.
	n           int
	latency     time.Duration
	first       time.Time
	auditFailed bool
}

// stepMS is the whole step so far in milliseconds, from the first request
// leaving, when the step sent more than one request; 0 for one request,
// whose whole time is its latency.
func (c *stepCaller) stepMS() int64 {
	if c.n < 2 || c.first.IsZero() {
		return 0
	}
	return max(time.Since(c.first).Milliseconds(), c.latency.Milliseconds())
}

// callDetail is recorded with each attempt: which call, to where.
type callDetail struct {
	Call   string `json:"call"`
	Method string `json:"method"`
	URL    string `json:"url"`
}

// Do implements Caller.
func (c *stepCaller) Do(call Call) Answer {
	r, t, s := c.r, c.t, c.s
	attempts := 1 + max(t.cfg.Retries, 0)
	for n := 1; ; n++ {
		if r.ctx.Err() != nil || c.auditFailed {
			return Answer{Outcome: Cancelled, Reason: "cancelled before it was sent", Next: retryHint}
		}
		req, id, err := call.Build(r.ctx)
		if err != nil {
			return Answer{Outcome: Failed, Reason: err.Error()}
		}
		c.n++
		detail := t.callDetail(call.Name, req)
		// The attempt is durable before the request leaves, so a crash
		// leaves "unknown", never a false "not sent".
		if !r.emit(true, Event{Kind: KindAttempt, Step: s.N, Attempt: c.n, RequestID: id, Detail: detail}, s) {
			c.auditFailed = true
			return Answer{Outcome: Cancelled, Reason: "not sent: the audit log failed", Next: "check the audit log's disk, then R to retry"}
		}
		if c.first.IsZero() {
			c.first = time.Now()
		}
		a := r.send(t, req, call.ReadBody)
		c.latency += a.latency
		outcome, retryable := Classify(a.status, a.err)
		if a.err != nil && r.ctx.Err() != nil {
			outcome, retryable = Cancelled, false
		}
		what, next := explain(t.cfg, a, outcome)
		ans := Answer{Status: a.status, Header: a.header, Body: a.body, Err: a.err, Outcome: outcome,
			RequestID: a.requestID, Latency: a.latency, Reason: what}
		limited, asked := vendorThrottle(call, a, ans, retryable)
		if limited && !retryable {
			retryable = true
			ans.Outcome, ans.Reason, next = Failed, "rate limited", throttledHint
		}
		if retryable && n < attempts {
			wait, ok := r.backoff(t.cfg, n, a)
			if asked > 0 {
				wait, ok = asked, asked <= t.cfg.MaxRetryWait
			}
			if ok {
				ev := Event{Kind: KindRetry, Step: s.N, Attempt: c.n, HTTPStatus: a.status,
					LatencyMS: a.latency.Milliseconds(), RequestID: a.requestID,
					Error: ans.Reason + fmt.Sprintf("; retrying in %s", wait.Round(10*time.Millisecond))}
				r.emit(false, ev, s)
				select {
				case <-time.After(wait):
					continue
				case <-r.ctx.Done():
					return Answer{Status: a.status, Outcome: Cancelled, Reason: "cancelled while waiting to retry", Next: retryHint}
				}
			}
			ans.Reason += fmt.Sprintf("; asked to wait %s, longer than max_retry_wait %s", wait.Round(time.Second), t.cfg.MaxRetryWait)
		} else if retryable && attempts > 1 {
			ans.Reason += fmt.Sprintf(" (after %d attempts)", n)
		}
		ans.Next = next
		return ans
	}
}

// vendorThrottle asks call's Retry what the status alone does not say: a
// 2xx or a 4xx the engine takes as final, which the vendor may mean as
// "rate limited" (a 200 with ok:false, a 403 with x-ratelimit-remaining:
// 0), and, for a 429 without Retry-After, when to come back (the vendor
// may say so another way: x-ratelimit-reset). limited is the vendor's
// "rate limited"; asked is the wait it names, 0 when it names none.
func vendorThrottle(call Call, a answer, ans Answer, retryable bool) (limited bool, asked time.Duration) {
	switch {
	case call.Retry == nil || a.err != nil:
	case !retryable && a.status < 500:
		if again, wait := call.Retry(ans); again {
			return true, wait
		}
	case a.status == http.StatusTooManyRequests && a.retryAfter == "":
		if again, wait := call.Retry(ans); again && wait > 0 {
			return true, wait
		}
	}
	return false, 0
}

// callDetail is the recorded detail of an attempt of call at req: which
// call, to where. A target's calls mostly go to the same few URLs (a GTR
// target to one), so each is encoded once per run.
func (t *runTarget) callDetail(name string, req *http.Request) json.RawMessage {
	where := redactURL(req.URL.String())
	key := name + "\x00" + req.Method + "\x00" + where
	if d, ok := t.details.Load(key); ok {
		return d.(json.RawMessage)
	}
	d, _ := json.Marshal(callDetail{Call: name, Method: req.Method, URL: where})
	if n := t.detailCount.Add(1); n <= maxCachedDetails {
		t.details.Store(key, json.RawMessage(d))
	}
	return d
}

// maxCachedDetails bounds the encoded details kept per target: the URLs of
// some vendors' calls name the user, and a bulk run must not keep one per
// user.
const maxCachedDetails = 64

// redactURL drops a URL's query, where some APIs take tokens: the audit log
// records where a call went, never a credential.
func redactURL(u string) string {
	if i := strings.IndexAny(u, "?#"); i >= 0 {
		return u[:i]
	}
	return u
}

// answer is what one attempt got back.
type answer struct {
	status     int
	header     http.Header
	body       []byte
	err        error
	latency    time.Duration
	requestID  string
	retryAfter string
}

// send performs one attempt with the target's per-attempt timeout.
func (r *run) send(t *runTarget, req *http.Request, readBody bool) answer {
	ctx, cancel := context.WithTimeout(r.ctx, t.cfg.Timeout)
	defer cancel()
	start := time.Now()
	resp, err := t.client.Do(req.WithContext(ctx))
	a := answer{err: err}
	if err == nil {
		a.status, a.header = resp.StatusCode, resp.Header
		// For GTR the status is the answer; the body is read only to
		// explain a failure, and only up to a cap, so a success is never
		// held up by an app that trickles or floods its body. A call whose
		// success body carries the answer (a vendor's JSON) reads it, to
		// the same cap, within the same timeout.
		if readBody || resp.StatusCode < 200 || resp.StatusCode > 299 {
			a.body, _ = io.ReadAll(io.LimitReader(resp.Body, maxBody))
		}
		resp.Body.Close()
		a.requestID = firstHeader(resp.Header, "X-Request-Id", "X-Okta-Request-Id", "Request-Id")
		a.retryAfter = resp.Header.Get("Retry-After")
	}
	a.latency = time.Since(start)
	if err != nil && errors.Is(ctx.Err(), context.DeadlineExceeded) && r.ctx.Err() == nil {
		a.err = fmt.Errorf("%w: %v", context.DeadlineExceeded, err)
	}
	return a
}

func firstHeader(h http.Header, names ...string) string {
	for _, n := range names {
		if v := h.Get(n); v != "" {
			return safetext.Line(v, 80)
		}
	}
	return ""
}

// backoff returns how long to wait before attempt n+1: the answer's
// Retry-After when it gave one, else exponential backoff with jitter. ok is
// false when the wait would exceed the target's max_retry_wait.
func (r *run) backoff(t config.Target, n int, a answer) (time.Duration, bool) {
	if d, ok := RetryAfter(a.retryAfter, time.Now()); ok {
		return d, d <= t.MaxRetryWait
	}
	base := r.x.BackoffBase
	if base <= 0 {
		base = 250 * time.Millisecond
	}
	d := base << (n - 1)
	d = d/2 + rand.N(d/2+1) // equal jitter: never zero, never in lockstep
	return min(d, t.MaxRetryWait), true
}

// explain returns the reason an operator reads on the board, in two
// parts: what happened, and what to do about it.
func explain(t config.Target, a answer, o Outcome) (what, next string) {
	if a.err != nil {
		if o == Cancelled {
			return "cancelled before an answer came", retryHint
		}
		return transportReason(a.err, t)
	}
	cred := "check the target's credential in targets.toml"
	switch {
	case t.Auth == config.AuthJWT:
		cred = "the signed JWT: check that the app trusts our key and jwt_iss/jwt_sub"
	case t.TokenEnv != "":
		cred = "the token: check token_env " + t.TokenEnv
	case t.TokenFile != "":
		cred = "the token: check token_file " + t.TokenFile
	}
	switch s := a.status; {
	case s >= 200 && s < 300:
		return "", "" // the common case: nothing to explain
	case s == 404:
		return "the app has no such user", "nothing to sign out there"
	case s >= 300 && s < 400:
		// Only where it points: a hostile app could put a token in the
		// rest of the Location, and the reason reaches the audit log.
		loc := safetext.Line(originOf(a.header.Get("Location")), 120)
		return fmt.Sprintf("redirected (%d) to %q, not followed", s, loc), "fix url"
	case s == 400:
		what = fmt.Sprintf("request refused (400): the app does not accept subject format %s with body key %s", t.Subject, t.BodyKey)
		next = "set the subject and body_key the app expects"
	case s == 401:
		what, next = "credential rejected (401)", cred
	case s == 403:
		what, next = "forbidden (403)", "the credential lacks the right to revoke; check its scope"
	case s == 422:
		what, next = "the app could not log the user out (422)", "R to retry later, or revoke at the app"
	case s == 429:
		what, next = "rate limited (429)", throttledHint
	case s >= 500:
		what, next = fmt.Sprintf("server error (%d)", s), "the app is failing; R to retry later, or sign the user out at the app"
	default:
		what, next = fmt.Sprintf("unexpected answer (%d)", s), "check that url is the app's revocation endpoint"
	}
	if snippet := safetext.Line(string(bytes.TrimSpace(a.body)), 120); snippet != "" {
		what += ": " + snippet
	}
	return what, next
}

// throttledHint is the next step after an app kept rate-limiting ulc.
const throttledHint = "the app is throttling ulc; R to retry later, or raise its max_retry_wait"

// originOf is the scheme and host of a URL, or "a relative location" for a
// URL without them; nothing of its path, query or user info.
func originOf(raw string) string {
	u, err := url.Parse(strings.TrimSpace(raw))
	switch {
	case err != nil:
		return "an unreadable location"
	case u.Host == "":
		return "a relative location"
	}
	return u.Scheme + "://" + u.Host
}
