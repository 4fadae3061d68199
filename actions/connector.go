package actions

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"

	"ulc/config"
	"ulc/internal/safetext"
)

// A Connector signs users out of one kind of target: Global Token
// Revocation, a vendor's own sign-out API, a CAEP push. The engine does not
// change its nature with the kind: one step per user × target, the same
// outcomes, events, audit log, retries, per-target concurrency, no
// redirects and bodies read to a cap. A connector only says which calls a
// step makes and what their answers mean.
type Connector interface {
	// Open prepares target t for one run (or one probe): it loads t's
	// credentials. An error wrapping config.ErrCredential means the
	// credential is missing or unusable: t's steps are then recorded as
	// failed with that sentence and the rest of the run goes ahead; any
	// other error refuses the plan.
	Open(ctx context.Context, t config.Target, env ConnEnv) (Conn, error)
}

// ConnEnv is what a connector may use to open a target.
type ConnEnv struct {
	// Getenv reads credentials named by *_env keys.
	Getenv func(string) string
	// Client is the HTTP client every call to t must go through: TLS
	// verification always on (with t's ca_file), redirects never followed.
	// Connectors that use a vendor library hand it this client.
	Client *http.Client
	// Issuer is the IdP issuer, for subjects that name one.
	Issuer string
	// Version is ulc's version, for User-Agent headers.
	Version string
	// RunID and Reason are the run's id and the operator's reason, for
	// connectors whose requests carry them (a CAEP SET's txn and
	// reason_admin).
	RunID, Reason string
}

// Conn is a target opened for one run.
type Conn interface {
	// Plan describes the step for user u as the audit log records it: the
	// calls it will make, with no secret. An error is a problem of the
	// plan (this kind needs the user's email and there is none, ...).
	Plan(u User) (StepDetail, error)
	// Revoke performs one step. Every HTTP request goes through c, which
	// records each attempt durably before it leaves and applies the
	// target's timeout, retries and body cap.
	Revoke(ctx context.Context, s Step, c Caller) Result
	// Residual says what stays alive at the application after the step
	// succeeds (tokens that live to expiry, grants, app passwords), shown
	// before sending and with the result; "" when nothing is known to.
	Residual() string
}

// Call is one HTTP call of a step.
type Call struct {
	// Name says what the call is for ("token", "lookup", "revoke"); it is
	// recorded with each attempt.
	Name string
	// Build returns the request of one attempt (built afresh each time,
	// so a signed JWT gets a new jti) and an id to record with the attempt
	// (that jti), or "".
	Build func(ctx context.Context) (*http.Request, string, error)
	// ReadBody reads the body of a 2xx answer too (to the cap, within the
	// timeout): for APIs whose success body carries the answer.
	ReadBody bool
	// Retry, when set, classifies a 2xx or 4xx answer the engine would
	// take as final: it returns true when the answer means "rate limited,
	// try again" (a vendor that says so in its body or its headers), with
	// the wait it asked for (0 for the engine's backoff). For a 429
	// without Retry-After, which the engine retries anyway, a wait it
	// returns replaces the engine's backoff.
	Retry func(a Answer) (bool, time.Duration)
}

// Answer is the last answer to a call, after the retries the engine's rules
// allow.
type Answer struct {
	// Status is the HTTP status; 0 when no answer came.
	Status int
	// Header and Body are the answer's; Body is read to a cap (64 KiB).
	Header http.Header
	Body   []byte
	// Err is the transport error, when no answer came.
	Err error
	// Outcome is the engine's classification of the last answer (2xx
	// revoked, 404 not found, ...), Cancelled when the run was stopped;
	// Reason is the engine's sentence for it (for a transport error, a
	// timeout, a generic status). Connectors refine both from the body.
	Outcome Outcome
	Reason  string
	// Next is what the operator can do about a failure the engine
	// explained (raise the timeout, check the app is up, retry); ""
	// when there is nothing to add. Connectors that word their own
	// advice use Reason alone.
	Next string
	// RequestID is the answer's request id header, if any.
	RequestID string
	// Latency is the last attempt's time.
	Latency time.Duration
}

// Caller performs the HTTP calls of one step.
type Caller interface {
	// Do sends call, retrying network errors, timeouts, 429 and 5xx (and
	// what call.Retry says) with backoff and Retry-After, and returns the
	// last answer. Each attempt is an attempt event in the audit log.
	Do(call Call) Answer
}

// Result is what a step came to.
type Result struct {
	Outcome    Outcome
	HTTPStatus int
	// Error is the one-line reason an operator reads: what happened and
	// what to do; "" for a plain success.
	Error string
	// RequestID, ErrorCode and ErrorID identify the answer at the
	// application, for its support.
	RequestID, ErrorCode, ErrorID string
	// Warning, on a not_found, says that the credential could not have
	// signed the user out had they existed (a scope it lacks), with what
	// to fix: ulc targets check --live reports it as a warning, not ok.
	Warning string
	// Verified is the read-back of a system that can be asked whether the
	// sign-out took effect (true, false), nil when it cannot; Evidence is
	// what was read, in one line.
	Verified *bool
	Evidence string
}

// ResultDetail is the Detail of a result event whose step was read back or
// took more than one request.
type ResultDetail struct {
	Verified *bool  `json:"verified"`
	Evidence string `json:"evidence,omitempty"`
	// StepMS is the whole step, from its first request leaving to its
	// result, the waits between retries included; recorded when the step
	// sent more than one request (for one, it is the result's latency).
	StepMS int64 `json:"step_ms,omitempty"`
}

// resultDetail encodes the read-back and whole time of a result, nil when
// there was no read-back and one request (stepMS 0).
func resultDetail(v *bool, evidence string, stepMS int64) json.RawMessage {
	if v == nil && stepMS == 0 {
		return nil
	}
	b, err := json.Marshal(ResultDetail{Verified: v, Evidence: safetext.Line(evidence, 300), StepMS: stepMS})
	if err != nil {
		return nil
	}
	return b
}

// Result returns the step's result when a's outcome is final as the engine
// classified it.
func (a Answer) Result() Result {
	return Result{Outcome: a.Outcome, HTTPStatus: a.Status, Error: a.Sentence(), RequestID: a.RequestID}
}

// Sentence is the engine's whole reason: what happened, then what to do.
func (a Answer) Sentence() string {
	if a.Next == "" || a.Reason == "" {
		return a.Reason
	}
	return a.Reason + ": " + a.Next
}

var connectors = struct {
	sync.RWMutex
	m map[string]Connector
}{m: map[string]Connector{config.KindGTR: gtrConnector{}}}

// Register makes c the connector of targets of kind. The backend registers
// every kind ulc knows; GTR is built in.
func Register(kind string, c Connector) {
	connectors.Lock()
	defer connectors.Unlock()
	connectors.m[kind] = c
}

// connectorFor returns the connector of t's kind.
func connectorFor(t config.Target) (Connector, error) {
	kind := t.EffectiveKind()
	connectors.RLock()
	defer connectors.RUnlock()
	c, ok := connectors.m[kind]
	if !ok {
		var kinds []string
		for k := range connectors.m {
			kinds = append(kinds, k)
		}
		sort.Strings(kinds)
		return nil, fmt.Errorf("%s: this ulc has no connector for kind %q (it has %s)", t.Where(), kind, strings.Join(kinds, ", "))
	}
	return c, nil
}

// ActionOf is the action of a step to target t: its kind.
func ActionOf(t config.Target) Action {
	return Action(t.EffectiveKind())
}

// Okta reports whether a is an Okta step rather than a step to a target.
func (a Action) Okta() bool { return strings.HasPrefix(string(a), "okta.") }
