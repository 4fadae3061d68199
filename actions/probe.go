package actions

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	"ulc/actions/gtr"
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

// Probe checks a target's reachability and credential by sending one GTR
// request, exactly as a run would, for a user that cannot exist; a healthy
// target answers 404. Nothing is retried and nothing is recorded: a probe
// revokes nobody. issuer is used for iss_sub targets without subject_iss.
func Probe(ctx context.Context, t config.Target, issuer string, getenv func(string) string) ProbeResult {
	if getenv == nil {
		getenv = os.Getenv
	}
	rt, err := newRunTarget(ctx, t, ConnEnv{Getenv: getenv, Issuer: probeIssuer(t, issuer), Version: "check"}, sharedClient())
	if err != nil {
		return ProbeResult{Outcome: Rejected, Verdict: err.Error()}
	}
	nonce := strings.ToLower(gtr.NewJTI()[:12])
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
	switch res.Outcome {
	case NotFound:
		out.Verdict = fmt.Sprintf("reachable, credential accepted (%s for a user that cannot exist, %d ms)", statusWord(res.HTTPStatus), out.LatencyMS)
	case Revoked:
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

// probeCaller sends each call once and records nothing: a probe revokes
// nobody.
type probeCaller struct {
	r       *run
	t       *runTarget
	latency time.Duration
}

// Do implements Caller.
func (c *probeCaller) Do(call Call) Answer {
	req, _, err := call.Build(c.r.ctx)
	if err != nil {
		return Answer{Outcome: Failed, Reason: err.Error()}
	}
	a := c.r.send(c.t, req, call.ReadBody)
	c.latency += a.latency
	o, _ := Classify(a.status, a.err)
	what, next := explain(c.t.cfg, a, o)
	// A check is repeated with c on the Targets screen, not R.
	next = strings.ReplaceAll(next, retryHint, "c to check again")
	return Answer{Status: a.status, Header: a.header, Body: a.body, Err: a.err, Outcome: o,
		RequestID: a.requestID, Latency: a.latency, Reason: what, Next: next}
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
