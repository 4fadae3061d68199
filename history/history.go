// Package history holds the plain types of the audit log as its readers see
// it: the filter of a run listing, a run's summary and what verification
// found. It needs neither cgo nor SQLite, so the console can depend on it
// alone.
package history

import (
	"time"

	"ulc/actions"
)

// RunFilter selects runs for Runs. Zero fields select everything.
type RunFilter struct {
	// User keeps runs acting on this user: any user's key, login, email or
	// Okta id, compared case-insensitively.
	User string
	// Since keeps runs started at or after this time.
	Since time.Time
	// Outcome keeps runs with at least one step of this outcome (after
	// unfinished steps of interrupted runs are settled).
	Outcome actions.Outcome
	// Limit is the maximum number of runs returned; 0 means no limit.
	Limit int
}

// RunSummary is one run as the history list shows it, derived from its
// events alone.
type RunSummary struct {
	RunID string `json:"run_id"`
	// Started is the run_started event's time (else the first event's);
	// Finished is the run_finished event's time, zero if there is none.
	Started  time.Time       `json:"started"`
	Finished time.Time       `json:"finished"`
	Info     actions.RunInfo `json:"info"`
	// Counts is how many steps ended in each outcome; steps of an
	// interrupted run are settled first (Unknown if a request had left,
	// NotSent if not).
	Counts map[actions.Outcome]int `json:"counts"`
	// Steps is the number of steps.
	Steps int `json:"steps"`
	// Done is true when the run_finished event was recorded. (It is named
	// after actions.RunState.Done: a bool cannot share the name Finished.)
	Done bool `json:"done"`
	// Interrupted is true when there is no run_finished event and the
	// process that ran it is gone.
	Interrupted bool `json:"interrupted"`
	// InProgress is true when there is no run_finished event yet but the
	// process that runs it is still alive on this host: another ulc, or
	// this one. Its steps without an answer are still pending.
	InProgress bool `json:"in_progress,omitempty"`
	// Watched is true when a containment watch of the run started;
	// WatchAlarms is how many successes after the run its watches saw.
	Watched     bool `json:"watched,omitempty"`
	WatchAlarms int  `json:"watch_alarms,omitempty"`
}

// VerifyResult is what Verify found.
type VerifyResult struct {
	// OK is true when every event follows from the one before it and, if a
	// known head was given, that head is in the chain.
	OK bool `json:"ok"`
	// Events is the number of events in the log.
	Events int64 `json:"events"`
	// HeadSeq and Head are the last event's seq and stored hash: the value
	// to paste into a ticket. Only meaningful when OK.
	HeadSeq int64  `json:"head_seq"`
	Head    string `json:"head"`
	// BrokenSeq is the first seq at which the chain breaks, 0 when OK. When
	// only the known head is missing, it is HeadSeq+1: the log now ends
	// before the point the known head was taken.
	BrokenSeq int64 `json:"broken_seq,omitempty"`
	// Problem is one sentence saying what is wrong, "" when OK.
	Problem string `json:"problem,omitempty"`
}

// TargetResult is one step's result at a target, as the Targets screen
// weighs the target's health: only steps whose request was sent (a dry
// run's or a blocked step's result is not the application's answer).
type TargetResult struct {
	RunID string    `json:"run_id"`
	Step  int       `json:"step"`
	User  string    `json:"user"`
	Time  time.Time `json:"time"`
	// Outcome is the step's outcome; HTTPStatus its last answer's status.
	Outcome    actions.Outcome `json:"outcome"`
	HTTPStatus int             `json:"http_status"`
	// Attempts is how many requests the step sent.
	Attempts int `json:"attempts"`
	// LatencyMS is the time of the step's requests together; StepMS is
	// the whole step, from its first request leaving to its result, the
	// waits between retries included (the board's TIME).
	LatencyMS int64 `json:"latency_ms"`
	StepMS    int64 `json:"step_ms"`
	// Error is the result's sanitised reason.
	Error string `json:"error,omitempty"`
}

// The words for what happened to a run, the same in the console, in
// `ulc audit list` and in `ulc audit show`.
const (
	StateInterrupted = "interrupted" // no run_finished, and its process is gone
	StateInProgress  = "in progress" // no run_finished yet; its process runs
	StateDryRun      = "dry run"     // nothing was sent
	StateCancelled   = "cancelled"   // the operator stopped it
	StateFailures    = "failures"    // it ran to its end; some step did not succeed
	StateFinished    = "finished"    // every step succeeded
)

// State names what happened to the run: one of the State words.
func (r RunSummary) State() string {
	switch {
	case r.Interrupted:
		return StateInterrupted
	case r.InProgress:
		return StateInProgress
	case r.Info.DryRun:
		return StateDryRun
	}
	return Ended(r.Counts)
}

// Ended names a run that ended, by its outcome counts: cancelled when the
// operator stopped it (some step was cancelled, whatever else failed:
// that is what happened to the run), failures when some step did not
// succeed, finished when every step did.
func Ended(counts map[actions.Outcome]int) string {
	switch {
	case counts[actions.Cancelled] > 0:
		return StateCancelled
	case counts[actions.Failed]+counts[actions.Rejected]+counts[actions.Unknown]+counts[actions.NotSent] > 0:
		return StateFailures
	}
	return StateFinished
}
