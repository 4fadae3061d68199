// Package actions is the engine of ulc: it turns an operator's request into
// an exact plan, executes it against Okta and every target application, and
// reports each step as a stream of events. The same events feed the audit
// log, the console and the headless JSON output, so the three never disagree.
package actions

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"ulc/internal/safetext"
)

// Outcome is the one vocabulary every step's answer is classified into.
type Outcome string

// The outcomes, as documented in DESIGN.md.
const (
	// Revoked: the target answered 2xx (204 per the draft; some send 200).
	Revoked Outcome = "revoked"
	// Done: an Okta step (clear sessions, suspend, ...) succeeded.
	Done Outcome = "done"
	// NotFound: 404, the user does not exist at that application.
	NotFound Outcome = "not_found"
	// Rejected: 400, 401, 403 or 3xx; our request or credential is wrong.
	Rejected Outcome = "rejected"
	// Failed: 422, or 429/5xx/timeout/network error after the retries ran out.
	Failed Outcome = "failed"
	// Cancelled: the operator stopped the run before an answer came.
	Cancelled Outcome = "cancelled"
	// Planned: dry run; the exact request was built and recorded, nothing sent.
	Planned Outcome = "planned"
	// Unknown: the process died after the request left; no answer recorded.
	Unknown Outcome = "unknown"
	// NotSent: the process died before this step's request left.
	NotSent Outcome = "not_sent"
)

// Outcomes lists every outcome in the order summaries show them.
var Outcomes = []Outcome{Revoked, Done, NotFound, Rejected, Failed, Cancelled, Unknown, NotSent, Planned}

// Success reports whether the outcome needs no further action: the user's
// tokens are revoked, the Okta step is done, or the user is not at the app.
func (o Outcome) Success() bool {
	return o == Revoked || o == Done || o == NotFound
}

// Final reports whether o is the end of a step (as opposed to no answer yet).
func (o Outcome) Final() bool { return o != "" }

// Retryable reports whether a step with this outcome is sent again by a
// resume or a retry: everything that did not end in success or a dry run.
func (o Outcome) Retryable() bool {
	switch o {
	case Revoked, Done, NotFound, Planned:
		return false
	}
	return true
}

// EventKind says what happened in an event.
type EventKind string

// The event kinds of a run, in the order they occur.
const (
	// KindRunStarted opens a run; Detail holds RunInfo.
	KindRunStarted EventKind = "run_started"
	// KindPlanned records one planned step; Detail holds StepDetail.
	KindPlanned EventKind = "planned"
	// KindAttempt is written, durably, just before a request leaves.
	KindAttempt EventKind = "attempt"
	// KindRetry records an attempt that ended in a retryable failure.
	KindRetry EventKind = "retry"
	// KindResult records the final outcome of a step.
	KindResult EventKind = "result"
	// KindRunFinished closes a run; Detail holds the outcome counts.
	KindRunFinished EventKind = "run_finished"
)

// Action names what a step does.
type Action string

// The actions a run can contain. A user's Okta steps run first, in the
// order of OktaActions, then the Global Token Revocation fan-out.
const (
	ActionSuspend       Action = "okta.suspend"
	ActionClearSessions Action = "okta.clear_sessions"
	ActionRevokeGrants  Action = "okta.revoke_grants"
	// ActionUniversalLogout asks Okta's own GTR receiver to revoke all the
	// user's tokens and sessions and to log them out of every app that
	// trusts Okta's Universal Logout (needs Identity Threat Protection):
	// the only way to reach apps that verify with Okta's keys, not ours.
	ActionUniversalLogout Action = "okta.universal_logout"
	ActionDeactivate      Action = "okta.deactivate"
	ActionGTR             Action = "gtr"
)

// OktaActions lists the Okta steps in the order a run performs them:
// suspend first so no new sign-in slips in while sessions are cleared, and
// deactivate last because Okta refuses most changes to a deactivated user.
var OktaActions = []Action{ActionSuspend, ActionClearSessions, ActionRevokeGrants, ActionUniversalLogout, ActionDeactivate}

// OktaTarget is the target name Okta steps carry.
const OktaTarget = "okta"

// Event is the one currency of a run: everything the engine does is
// reported as events, and a run's state is derived from them alone.
type Event struct {
	// Seq is the event's position in the audit log; 0 until recorded.
	Seq int64 `json:"seq,omitempty"`
	// RunID identifies the run the event belongs to.
	RunID string `json:"run_id"`
	// Time is when the event happened, in UTC.
	Time time.Time `json:"time"`
	// Kind says what happened.
	Kind EventKind `json:"kind"`
	// Step is the 1-based step number within the run; 0 for run events.
	Step int `json:"step,omitempty"`
	// User is the user's display key (login, else email, else Okta id).
	User string `json:"user,omitempty"`
	// Target is the target name, or "okta" for Okta steps.
	Target string `json:"target,omitempty"`
	// Action is what the step does.
	Action Action `json:"action,omitempty"`
	// Attempt is the 1-based attempt number of an attempt, retry or result.
	Attempt int `json:"attempt,omitempty"`
	// HTTPStatus is the status code of the answer, 0 when there was none.
	HTTPStatus int `json:"http_status,omitempty"`
	// Outcome is set on result events.
	Outcome Outcome `json:"outcome,omitempty"`
	// LatencyMS is the duration of the attempt in milliseconds; on a
	// result, of the step's requests together (the whole step, waits
	// included, is the result detail's step_ms: StepMillis).
	LatencyMS int64 `json:"latency_ms,omitempty"`
	// Error is a one-line, sanitised explanation of a failure.
	Error string `json:"error,omitempty"`
	// RequestID is the JWT jti of an attempt, or the answer's request id
	// (X-Okta-Request-Id, X-Request-Id) on a result.
	RequestID string `json:"request_id,omitempty"`
	// ErrorCode is Okta's errorCode (E0000007, ...) when Okta answered.
	ErrorCode string `json:"error_code,omitempty"`
	// ErrorID is Okta's errorId, for Okta support.
	ErrorID string `json:"error_id,omitempty"`
	// Detail carries kind-specific data: RunInfo, StepDetail, or counts.
	Detail json.RawMessage `json:"detail,omitempty"`
}

// RunInfo is what a run records about itself when it starts.
type RunInfo struct {
	Reason        string   `json:"reason"`
	Ticket        string   `json:"ticket,omitempty"`
	Operator      string   `json:"operator"`
	Host          string   `json:"host"`
	PID           int      `json:"pid,omitempty"`
	Version       string   `json:"version"`
	ConfigPath    string   `json:"config_path,omitempty"`
	ConfigDigest  string   `json:"config_digest,omitempty"`
	OktaOrg       string   `json:"okta_org,omitempty"`
	DryRun        bool     `json:"dry_run,omitempty"`
	ResumeOf      string   `json:"resume_of,omitempty"`
	Users         []User   `json:"users"`
	Targets       []string `json:"targets"`
	OktaSteps     []Action `json:"okta_steps,omitempty"`
	ForgetDevices bool     `json:"forget_devices,omitempty"`
	// Steps is how many steps the plan holds. The plan is recorded a
	// chunk at a time after run_started, so a run that died while its plan
	// was being recorded holds fewer planned events: the missing steps
	// were never sent (see RunState.Unrecorded). 0 in logs written before
	// it was recorded.
	Steps int `json:"steps,omitempty"`
	// Residual is, per target, what stays alive there after its steps
	// succeed, in its connector's words (Plan.Residual): recorded with the
	// run, so a review reads what the operator was told without the
	// targets.toml or credentials of the day. Absent in logs written
	// before it was recorded.
	Residual map[string]string `json:"residual,omitempty"`
}

// StepDetail is the exact request a planned step will send. It never holds
// a credential: at most its short fingerprint.
type StepDetail struct {
	Method        string `json:"method"`
	URL           string `json:"url"`
	Body          string `json:"body,omitempty"`
	SubjectFormat string `json:"subject_format,omitempty"`
	BodyKey       string `json:"body_key,omitempty"`
	Auth          string `json:"auth,omitempty"`
	Credential    string `json:"credential,omitempty"`
	TimeoutMS     int64  `json:"timeout_ms,omitempty"`
	Retries       int    `json:"retries,omitempty"`
}

// User is a person a run acts on, as resolved from the directory.
type User struct {
	// ID is the Okta user id (00u...), empty when unknown.
	ID string `json:"id,omitempty"`
	// Login is the Okta login.
	Login string `json:"login,omitempty"`
	// Email is the primary email address.
	Email string `json:"email,omitempty"`
	// Name is the display name.
	Name string `json:"name,omitempty"`
	// Status is the Okta status (ACTIVE, SUSPENDED, ...).
	Status string `json:"status,omitempty"`
	// Profile holds the string attributes of the user's Okta profile,
	// already made safe to print, for connectors that name the user by one
	// of them (a GitHub login); nil when the user was not resolved through
	// Okta (ulc revoke --no-okta). It is kept in memory only: the audit log
	// records what each step sent, not the whole profile.
	Profile *Profile `json:"-"`
}

// Profile is a user's Okta profile attributes, by their variable names
// (githubUsername, department, ...). The zero value and nil hold none.
type Profile struct {
	attrs map[string]string
}

// NewProfile returns a profile of attrs, which it copies; the values must
// already be safe to print.
func NewProfile(attrs map[string]string) *Profile {
	p := &Profile{attrs: make(map[string]string, len(attrs))}
	for k, v := range attrs {
		p.attrs[k] = v
	}
	return p
}

// Only returns a profile of the attributes names alone, nil for a nil
// profile: a plan keeps of each user only what its targets name them by.
func (p *Profile) Only(names []string) *Profile {
	if p == nil {
		return nil
	}
	kept := &Profile{}
	for _, n := range names {
		if v, ok := p.attrs[n]; ok {
			if kept.attrs == nil {
				kept.attrs = make(map[string]string, len(names))
			}
			kept.attrs[n] = v
		}
	}
	return kept
}

// Attr returns the attribute name, and whether the profile has it with a
// value that is not blank.
func (p *Profile) Attr(name string) (string, bool) {
	if p == nil {
		return "", false
	}
	v, ok := p.attrs[name]
	return v, ok && strings.TrimSpace(v) != ""
}

// Key is how the user is named in events and on screen: the login, else the
// email, else the Okta id.
func (u User) Key() string {
	switch {
	case u.Login != "":
		return u.Login
	case u.Email != "":
		return u.Email
	}
	return u.ID
}

// Describe is one line about the event for people, as timelines show it:
// kind, step and target, attempt, status, outcome and the sanitised error.
func (ev Event) Describe() string {
	line := string(ev.Kind)
	if ev.Step != 0 {
		line += fmt.Sprintf(" step %d %s", ev.Step, ev.Target)
	}
	if ev.Attempt != 0 {
		line += fmt.Sprintf(" attempt %d", ev.Attempt)
	}
	if ev.HTTPStatus != 0 {
		line += fmt.Sprintf(" → %d", ev.HTTPStatus)
	}
	if ev.Outcome != "" {
		line += " " + string(ev.Outcome)
	}
	if ev.Error != "" {
		line += ": " + safetext.Line(ev.Error, 120)
	}
	return line
}
