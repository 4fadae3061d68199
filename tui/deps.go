// Package tui is ulc's console: search the directory, look at a user, confirm
// a plan, watch the run live, review history and targets. It renders state
// and never does I/O itself: everything goes through the small interfaces in
// this file, called from tea.Cmd closures with cancellable contexts.
package tui

import (
	"context"
	"time"

	"ulc/actions"
	"ulc/config"
	"ulc/directory"
	"ulc/history"
)

// The directory's types, as the Okta client returns them: every string is
// already sanitised there.
type (
	// Person is a directory entry.
	Person = directory.Person
	// Page is one page of search results; Next is an opaque cursor.
	Page = directory.Page
	// Activity is one System Log event about a user.
	Activity = directory.Activity
	// Factor is one enrolled MFA factor.
	Factor = directory.Factor
)

// Directory is what the console needs of the identity provider.
type Directory interface {
	Search(ctx context.Context, query string, limit int, cursor string) (Page, error)
	Get(ctx context.Context, ref string) (Person, error)
	Activity(ctx context.Context, userID string, since time.Time, limit int) ([]Activity, error)
	Factors(ctx context.Context, userID string) ([]Factor, error)
}

// RunRequest is what the operator confirmed.
type RunRequest = actions.RunRequest

// Runner plans and executes runs; it records them in the audit log.
type Runner interface {
	// Plan builds the exact requests; nothing is recorded or sent.
	Plan(ctx context.Context, r RunRequest) (*actions.Plan, error)
	// Resume plans a new run, linked to run id, of every step that has
	// succeeded neither there nor in any run that already resumed it;
	// nothing is recorded or sent. It fails with an error wrapping
	// actions.ErrNothingToResume when nothing is left.
	Resume(ctx context.Context, id string, dryRun bool) (*actions.Plan, error)
	// Execute records the plan and performs it, calling observe for every
	// event; it returns when the run is over (also when ctx is cancelled).
	Execute(ctx context.Context, p *actions.Plan, observe func(actions.Event)) (*actions.RunState, error)
}

// History is the audit log as the console reads it.
type History interface {
	Runs(ctx context.Context, f history.RunFilter) ([]history.RunSummary, error)
	Run(ctx context.Context, id string) (*actions.RunState, []actions.Event, error)
	// State is the state of run id (or the only run whose id starts with
	// it) without its events, and perhaps without its steps' requests
	// (Detail nil; StepEvents has each step's planned request): a run's
	// view reads its timeline and its steps' events a page at a time, so a
	// run of any size opens at once.
	State(ctx context.Context, id string) (*actions.RunState, error)
	// Timeline is at most limit events of run id (its full id) after seq
	// after, in order.
	Timeline(ctx context.Context, id string, after int64, limit int) ([]actions.Event, error)
	// StepEvents are the events of step n of run id, whose user is user,
	// in order: every attempt, retry and the result.
	StepEvents(ctx context.Context, id string, n int, user string) ([]actions.Event, error)
	Verify(ctx context.Context, knownHead string) (history.VerifyResult, error)
	// TargetStats is each target's last n results of steps that were
	// sent (dry runs and blocked steps left out), oldest first.
	TargetStats(ctx context.Context, n int) (map[string][]history.TargetResult, error)
	// Head is the log's last event and hash: what a finished run shows,
	// for the operator to paste into the ticket.
	Head(ctx context.Context) (seq int64, hash string, err error)
}

// ProbeResult is what a target check found: the outcome, and one sentence,
// the Verdict, saying whether the target is reachable and accepts ulc's
// credential.
type ProbeResult = actions.ProbeResult

// Prober checks a target's reachability and credential with a request for
// a user that cannot exist.
type Prober interface {
	Probe(ctx context.Context, t config.Target) ProbeResult
}

// Deps is everything the console talks to.
type Deps struct {
	Directory Directory
	Runner    Runner
	History   History
	Prober    Prober
	// Watcher watches a run's users once the run is over; nil: no watch.
	Watcher Watcher
	// Watch is how long the board watches after a run (0: the default,
	// 15 minutes; below 0: no watch).
	Watch time.Duration
	// Targets is the registry, in file order.
	Targets []config.Target
	// Residual says, per target, what stays alive at the application
	// after its sign-out (Confirm shows it before sending).
	Residual map[string]string
	// Unusable says, per target, why its credential cannot be used (a
	// missing environment variable, an unreadable file): the Targets
	// screen flags it before any run.
	Unusable map[string]string
	// OrgURL and AuditPath are shown in the header.
	OrgURL    string
	AuditPath string
	// ReadOnly hides every action that changes anything.
	ReadOnly bool
	// Forwarding returns each SIEM destination's status, for the header
	// ("siem ✓" or "siem ✗ 120 behind"); nil shows nothing.
	Forwarding func() []history.ForwardStatus
	// Now is the clock (tests pin it).
	Now func() time.Time
}
