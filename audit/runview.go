package audit

import (
	"context"

	"ulc/actions"
)

// State returns the state of the run with this id, or the only run whose
// id starts with it, without keeping its events: what a run's view needs
// of a run of any size. Like Run, it settles a run without run_finished
// whose process is gone.
func (l *Log) State(ctx context.Context, id string) (*actions.RunState, error) {
	return l.state(ctx, id, false)
}

// Outcomes is State without the steps' requests (each StepState.Detail is
// nil): where every step of a run ended, for a resume or a watch, which
// plan or read nothing of what was sent.
func (l *Log) Outcomes(ctx context.Context, id string) (*actions.RunState, error) {
	return l.state(ctx, id, true)
}

// state is State, leaving out the requests when lean is set.
func (l *Log) state(ctx context.Context, id string, lean bool) (*actions.RunState, error) {
	if err := l.usable(); err != nil {
		return nil, err
	}
	full, err := l.resolve(ctx, id)
	if err != nil {
		return nil, err
	}
	// A run's events lie between its first and last seq, mostly
	// contiguous: read that stretch of the table in order rather than
	// look each row up through the run's index.
	var first, last int64
	if err := l.db.QueryRowContext(ctx, `SELECT min(seq), max(seq) FROM events WHERE run_id = ?`, full).Scan(&first, &last); err != nil {
		return nil, l.wrap(err)
	}
	st := actions.NewRunState(full)
	st.NoRequests = lean
	if err := l.settled(l.scanRun(ctx, full, first, last, st.Apply)); err != nil {
		return nil, err
	}
	if !st.Done && !running(st.Info) {
		st.Settle()
	}
	return st, nil
}

// Timeline returns at most limit events of run id (the full id) after
// seq after, in order: one page of the run's timeline, read through the
// run's index from where the last page ended.
func (l *Log) Timeline(ctx context.Context, id string, after int64, limit int) ([]actions.Event, error) {
	if err := l.usable(); err != nil {
		return nil, err
	}
	var out []actions.Event
	err := l.scanQuery(ctx, ` WHERE run_id = ? AND seq > ? ORDER BY seq LIMIT ?`, []any{id, after, max(limit, 1)},
		func(ev actions.Event, _, _ string) error {
			out = append(out, ev)
			return nil
		})
	return out, err
}

// StepEvents returns the events of step n of run id (the full id), in
// order: its plan, every attempt, retry and its result. user is the step's
// user, whose index finds them without walking the whole run.
func (l *Log) StepEvents(ctx context.Context, id string, n int, user string) ([]actions.Event, error) {
	if err := l.usable(); err != nil {
		return nil, err
	}
	var out []actions.Event
	err := l.scanQuery(ctx, ` INDEXED BY events_user WHERE "user" = ? AND run_id = ? AND step = ? ORDER BY seq`, []any{user, id, n},
		func(ev actions.Event, _, _ string) error {
			out = append(out, ev)
			return nil
		})
	return out, err
}
