package actions

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http"
	"os"
	"strings"
	"time"

	"ulc/config"
)

// ProbeResult is what a target check found.
type ProbeResult struct {
	Outcome    Outcome
	HTTPStatus int
	LatencyMS  int64
	// Verdict is one sentence for the operator.
	Verdict string
	// Warning, when set, says what the credential lacks for the sign-out
	// itself although the target accepted it: the target cannot be used
	// as it is.
	Warning string
}

// probeNonce is what makes a probe's subject one that cannot exist: 12
// hexadecimal digits, which every kind's rules for a name accept (a GitHub
// login takes letters, digits and single hyphens only: no "_", no "--").
func probeNonce() string {
	var b [6]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	return hex.EncodeToString(b[:])
}

// Probe checks a target's reachability and credential by sending what a
// run would send, for a user that cannot exist; a healthy target answers
// that it has no such user. Nothing is recorded: a probe revokes nobody.
// issuer is used for iss_sub targets without subject_iss.
//
// The user's email is under the reserved top-level domain .invalid (RFC
// 6761 §6.4: no mailbox can ever have it) and their id and logins start
// with ulc-check, so even a target that acts on what it is sent (a CAEP
// receiver takes any session-revoked event and answers 202) is told about
// a subject that cannot exist: the run id (a SET's txn) is "ulc-check-"
// and a nonce, and the reason (a SET's reason_admin) says it is a check.
//
// A target that throttles the probe (429, or 503 with Retry-After, or what
// its connector documents as a rate limit) is asked again after the wait
// it named, at most probeRetries times (fewer when the target's retries
// say so) and never after a wait past probeMaxWait or its max_retry_wait:
// a throttled but healthy target reads ok, and one that stays throttled
// says so.
func Probe(ctx context.Context, t config.Target, issuer string, getenv func(string) string) ProbeResult {
	if getenv == nil {
		getenv = os.Getenv
	}
	nonce := probeNonce()
	env := ConnEnv{Getenv: getenv, Issuer: probeIssuer(t, issuer), Version: "check", RunID: "ulc-check-" + nonce, Reason: ProbeReason}
	rt, err := newRunTarget(ctx, t, env, sharedClient())
	if err != nil {
		return ProbeResult{Outcome: Rejected, Verdict: err.Error()}
	}
	u := User{ID: "ulccheck" + nonce, Email: "no-such-user-" + nonce + "@ulc-check.invalid"}
	u.Login = u.Email
	if t.LoginAttribute != "" {
		// A kind that names users by a profile attribute (a GitHub login)
		// gets one that cannot exist either.
		u.Profile = NewProfile(map[string]string{t.LoginAttribute: "ulc-check-" + nonce})
	}
	detail, err := rt.conn.Plan(u)
	if err != nil {
		return ProbeResult{Outcome: Rejected, Verdict: err.Error()}
	}
	r := &run{x: &Executor{}, plan: &Plan{Info: RunInfo{Version: "check"}}, ctx: ctx}
	pc := &probeCaller{r: r, t: rt}
	res := rt.conn.Revoke(ctx, Step{User: &u, Action: ActionOf(t), Target: t.Name, Detail: detail}, pc)
	out := ProbeResult{Outcome: res.Outcome, HTTPStatus: res.HTTPStatus, LatencyMS: pc.latency.Milliseconds()}
	switch {
	case pc.throttled != "" && res.Outcome != NotFound && res.Outcome != Revoked:
		// The connector words a throttled step for a run ("resume the
		// run"); a check is repeated, not resumed.
		out.Outcome = Failed
		out.Verdict = pc.throttled
	case res.Outcome == NotFound:
		out.Verdict = fmt.Sprintf("reachable, credential accepted (%s for a user that cannot exist, %d ms)", statusWord(res.HTTPStatus), out.LatencyMS)
	case res.Outcome == Revoked:
		out.Outcome = NotFound
		out.Verdict = fmt.Sprintf("reachable, credential accepted; it answered %d even for a user that cannot exist", res.HTTPStatus)
	default:
		out.Verdict = res.Error
	}
	if res.Outcome == NotFound && res.Warning != "" {
		// The lookup worked, but the sign-out itself would be refused:
		// the point of the check.
		out.Warning = res.Warning
		out.Verdict = fmt.Sprintf("reachable, but the credential cannot sign users out: %s", res.Warning)
	}
	return out
}

// ProbeReason is the reason a probe's requests carry where a run's carry
// the operator's (a CAEP SET's reason_admin).
const ProbeReason = "Connectivity check by ulc targets check --live: this subject cannot exist, and nobody is to be signed out"

// probeRetries is how often a probe asks a throttling target again.
const probeRetries = 2

// probeMaxWait bounds one wait of a probe for a throttling target: a check
// answers within seconds, and a target that wants longer is reported as
// throttled.
const probeMaxWait = 5 * time.Second

// statusWord names an answer's status for a verdict.
func statusWord(status int) string {
	if status == 0 {
		return "no such user"
	}
	return fmt.Sprint(status)
}

// probeIssuer is the issuer a probe's subjects name.
func probeIssuer(t config.Target, issuer string) string {
	switch {
	case t.SubjectIss != "":
		return t.SubjectIss
	case issuer != "":
		return issuer
	}
	return "https://ulc-check.invalid"
}

// probeCaller sends each call and records nothing: a probe revokes
// nobody. It retries only a throttled answer (see Probe).
type probeCaller struct {
	r       *run
	t       *runTarget
	latency time.Duration
	// throttled is the verdict when the last call's last answer was
	// still throttled, else "".
	throttled string
}

// Do implements Caller.
func (c *probeCaller) Do(call Call) Answer {
	retries := min(max(c.t.cfg.Retries, 0), probeRetries)
	maxWait := min(c.t.cfg.MaxRetryWait, probeMaxWait)
	c.throttled = ""
	for n := 1; ; n++ {
		req, _, err := call.Build(c.r.ctx)
		if err != nil {
			return Answer{Outcome: Failed, Reason: err.Error()}
		}
		a := c.r.send(c.t, req, call.ReadBody)
		c.latency += a.latency
		o, _ := Classify(a.status, a.err)
		if a.err != nil && c.r.ctx.Err() != nil {
			o = Cancelled
		}
		what, next := explain(c.t.cfg, a, o)
		// A check is repeated with c on the Targets screen, not R.
		next = strings.ReplaceAll(next, retryHint, "c to check again")
		ans := Answer{Status: a.status, Header: a.header, Body: a.body, Err: a.err, Outcome: o,
			RequestID: a.requestID, Latency: a.latency, Reason: what, Next: next}
		wait, throttled := c.throttleWait(call, a, ans, n)
		if !throttled {
			return ans
		}
		if n > retries || wait > maxWait {
			c.throttled = throttledVerdict(a.status, n, wait, maxWait)
			return ans
		}
		select {
		case <-time.After(wait):
		case <-c.r.ctx.Done():
			return Answer{Status: a.status, Outcome: Cancelled, Reason: "cancelled while waiting to check again", Next: "c to check again"}
		}
	}
}

// throttleWait says whether attempt n's answer a (ans as classified) means
// "rate limited, come back later", and after how long: a 429, a 503 with
// Retry-After, or what the connector's Retry calls a rate limit (Slack's
// ok:false ratelimited), after the wait named (Retry-After, or the
// connector's) or else the engine's backoff. A 503 without Retry-After is
// an app that is failing, not a throttled one.
func (c *probeCaller) throttleWait(call Call, a answer, ans Answer, n int) (time.Duration, bool) {
	if a.err != nil {
		return 0, false
	}
	_, retryable := Classify(a.status, nil)
	limited, asked := vendorThrottle(call, a, ans, retryable)
	if _, ok := RetryAfter(a.retryAfter, time.Now()); ok && a.status == http.StatusServiceUnavailable {
		limited = true
	}
	switch {
	case !limited && a.status != http.StatusTooManyRequests:
		return 0, false
	case asked > 0:
		return asked, true
	}
	d, _ := c.r.backoff(c.t.cfg, n, a) // Retry-After when it gave one
	return d, true
}

// throttledVerdict is the one sentence of a probe whose target was still
// throttling it after n attempts, the last one asking to wait wait.
func throttledVerdict(status, n int, wait, maxWait time.Duration) string {
	what := fmt.Sprintf("rate limited (%d)", status)
	if status == http.StatusServiceUnavailable {
		what = "unavailable for now (503 with Retry-After)"
	}
	tries := "once"
	if n > 1 {
		tries = fmt.Sprintf("%d times", n)
	}
	if wait > maxWait {
		return fmt.Sprintf("reachable, but it answered %s and asked to wait %s, longer than a check waits (%s), so the credential is not proven yet: check again in a few minutes",
			what, wait.Round(time.Second), maxWait)
	}
	return fmt.Sprintf("reachable, but it answered %s %s, so the credential is not proven yet: check again in a few minutes, and if it persists, look for another client using up this credential's rate limit",
		what, tries)
}

// ResidualOf says what stays alive at t's application after a sign-out by
// its connector (its Conn's Residual), for the console to show before
// anything is sent. It opens t as a run would (loading its credential,
// sending nothing); "" when nothing is known to survive or t cannot be
// opened.
func ResidualOf(ctx context.Context, t config.Target, getenv func(string) string) string {
	if getenv == nil {
		getenv = os.Getenv
	}
	rt, err := newRunTarget(ctx, t, ConnEnv{Getenv: getenv, Version: "check"}, sharedClient())
	if err != nil {
		return ""
	}
	return rt.conn.Residual()
}
