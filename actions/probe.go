package actions

import (
	"context"
	"fmt"
	"os"
	"strings"

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
}

// Probe checks a target's reachability and credential by sending one GTR
// request, exactly as a run would, for a user that cannot exist; a healthy
// target answers 404. Nothing is retried and nothing is recorded: a probe
// revokes nobody. issuer is used for iss_sub targets without subject_iss.
func Probe(ctx context.Context, t config.Target, issuer string, getenv func(string) string) ProbeResult {
	if getenv == nil {
		getenv = os.Getenv
	}
	rt, err := newRunTarget(ctx, t, getenv, sharedClient())
	if err != nil {
		return ProbeResult{Outcome: Rejected, Verdict: err.Error()}
	}
	nonce := strings.ToLower(gtr.NewJTI()[:12])
	iss := t.SubjectIss
	if iss == "" {
		iss = issuer
	}
	if iss == "" {
		iss = "https://ulc-check.invalid"
	}
	subj, err := gtr.NewSubject(t.Subject, gtr.Identity{
		ID: "ulccheck" + nonce, Email: "no-such-user-" + nonce + "@ulc-check.invalid", Issuer: iss,
	})
	if err != nil {
		return ProbeResult{Outcome: Rejected, Verdict: err.Error()}
	}
	body, err := gtr.Body(t.BodyKey, subj)
	if err != nil {
		return ProbeResult{Outcome: Rejected, Verdict: err.Error()}
	}
	r := &run{x: &Executor{}, plan: &Plan{Info: RunInfo{Version: "check"}}, ctx: ctx}
	req, _, err := r.buildRequest(rt, Step{Detail: StepDetail{Body: string(body)}})
	if err != nil {
		return ProbeResult{Outcome: Failed, Verdict: err.Error()}
	}
	a := r.send(rt, req)
	o, _ := Classify(a.status, a.err)
	res := ProbeResult{Outcome: o, HTTPStatus: a.status, LatencyMS: a.latency.Milliseconds()}
	switch o {
	case NotFound:
		res.Verdict = fmt.Sprintf("reachable, credential accepted (404 for a user that cannot exist, %d ms)", res.LatencyMS)
	case Revoked:
		res.Outcome = NotFound
		res.Verdict = fmt.Sprintf("reachable, credential accepted; it answered %d even for a user that cannot exist", a.status)
	default:
		res.Verdict = explain(t, a, o)
	}
	return res
}
