package backend

import (
	"context"
	"errors"
	"io"

	"ulc/actions"
	"ulc/history"
)

// The history's plain types.
type (
	// RunFilter selects runs for Runs.
	RunFilter = history.RunFilter
	// RunSummary is one run as the history list shows it.
	RunSummary = history.RunSummary
	// VerifyResult is what Verify found.
	VerifyResult = history.VerifyResult
)

var errNoLog = &Error{Class: ClassAudit, Err: errors.New("no audit log is open")}

// Runs lists runs newest first, keeping those that match f.
func (b *Backend) Runs(ctx context.Context, f RunFilter) ([]RunSummary, error) {
	if b.log == nil {
		return nil, errNoLog
	}
	return b.log.Runs(ctx, f)
}

// Run returns the state of run id (or the only run whose id starts with
// it) and its events in order.
func (b *Backend) Run(ctx context.Context, id string) (*actions.RunState, []actions.Event, error) {
	if b.log == nil {
		return nil, nil, errNoLog
	}
	return b.log.Run(ctx, id)
}

// Verify re-computes the hash chain; knownHead, if not "", must still be
// in it.
func (b *Backend) Verify(ctx context.Context, knownHead string) (VerifyResult, error) {
	if b.log == nil {
		return VerifyResult{}, errNoLog
	}
	return b.log.Verify(ctx, knownHead)
}

// TargetStats returns each target's last n results of steps that were
// sent, oldest first.
func (b *Backend) TargetStats(ctx context.Context, n int) (map[string][]history.TargetResult, error) {
	if b.log == nil {
		return nil, errNoLog
	}
	return b.log.TargetStats(ctx, n)
}

// Head returns the log's last event's seq and hash.
func (b *Backend) Head(ctx context.Context) (int64, string, error) {
	if b.log == nil {
		return 0, "", errNoLog
	}
	return b.log.Head(ctx)
}

// Export writes events as "jsonl" or "csv"; runID "" exports every run.
func (b *Backend) Export(ctx context.Context, w io.Writer, format, runID string) error {
	if b.log == nil {
		return errNoLog
	}
	return b.log.Export(ctx, w, format, runID)
}

// State returns the state of run id (or the only run whose id starts with
// it) without its events, and without its steps' requests (each
// StepState.Detail is nil): a step's request is in its planned event,
// among StepEvents, and a run of 200,000 steps opens without decoding
// 200,000 of them.
func (b *Backend) State(ctx context.Context, id string) (*actions.RunState, error) {
	if b.log == nil {
		return nil, errNoLog
	}
	return b.log.Outcomes(ctx, id)
}

// Timeline returns at most limit events of run id after seq after.
func (b *Backend) Timeline(ctx context.Context, id string, after int64, limit int) ([]actions.Event, error) {
	if b.log == nil {
		return nil, errNoLog
	}
	return b.log.Timeline(ctx, id, after, limit)
}

// StepEvents returns the events of step n (of user) of run id, in order.
func (b *Backend) StepEvents(ctx context.Context, id string, n int, user string) ([]actions.Event, error) {
	if b.log == nil {
		return nil, errNoLog
	}
	return b.log.StepEvents(ctx, id, n, user)
}
