package audit

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"syscall"
	"time"

	"ulc/actions"
	"ulc/history"
)

// The history's plain types, shared with the console.
type (
	// RunFilter selects runs for Runs.
	RunFilter = history.RunFilter
	// RunSummary is one run as the history list shows it.
	RunSummary = history.RunSummary
	// VerifyResult is what Verify found.
	VerifyResult = history.VerifyResult
)

// Runs lists runs newest first (by their first event's position in the
// log), keeping those that match f.
func (l *Log) Runs(ctx context.Context, f RunFilter) ([]RunSummary, error) {
	if err := l.usable(); err != nil {
		return nil, err
	}
	// Run ids first, newest first, then each run folded on its own: with a
	// Limit, only as many runs are read as are needed.
	ids, err := l.runIDs(ctx)
	if err != nil {
		return nil, err
	}

	var out []RunSummary
	for _, id := range ids {
		if f.Limit > 0 && len(out) >= f.Limit {
			break
		}
		st, evs, err := l.fold(ctx, id)
		if err != nil {
			return nil, err
		}
		s := summarize(st, evs)
		if matches(&s, f, st) {
			out = append(out, s)
		}
	}
	return out, nil
}

// runIDs returns the ids of all runs, newest first.
func (l *Log) runIDs(ctx context.Context) ([]string, error) {
	rows, err := l.db.QueryContext(ctx,
		`SELECT run_id FROM events GROUP BY run_id ORDER BY min(seq) DESC`)
	if err != nil {
		return nil, l.wrap(err)
	}
	defer rows.Close()
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, l.wrap(err)
		}
		ids = append(ids, id)
	}
	if err := rows.Err(); err != nil {
		return nil, l.wrap(err)
	}
	return ids, nil
}

// summarize builds the summary of a folded (and settled) run.
func summarize(st *actions.RunState, evs []actions.Event) RunSummary {
	s := RunSummary{
		RunID:       st.RunID,
		Started:     st.Started,
		Finished:    st.Finished,
		Info:        st.Info,
		Counts:      st.Counts(),
		Steps:       len(st.Steps),
		Done:        st.Done,
		Interrupted: !st.Done && !running(st.Info),
		InProgress:  !st.Done && running(st.Info),
	}
	if s.Started.IsZero() && len(evs) > 0 {
		s.Started = evs[0].Time
	}
	return s
}

// matches reports whether the run passes f.
func matches(s *RunSummary, f RunFilter, st *actions.RunState) bool {
	if !f.Since.IsZero() && s.Started.Before(f.Since) {
		return false
	}
	if f.Outcome != "" && s.Counts[f.Outcome] == 0 {
		return false
	}
	if f.User != "" && !hasUser(st, f.User) {
		return false
	}
	return true
}

// hasUser reports whether the run acts on the user named u, by any of the
// names the run recorded for its users or its steps.
func hasUser(st *actions.RunState, u string) bool {
	for _, x := range st.Info.Users {
		for _, name := range []string{x.Key(), x.Login, x.Email, x.ID} {
			if name != "" && strings.EqualFold(name, u) {
				return true
			}
		}
	}
	for _, step := range st.Steps {
		if strings.EqualFold(step.User, u) {
			return true
		}
	}
	return false
}

// Run returns the state of the run with this id, or the only run whose id
// starts with it, and its events in order. The state is settled (see
// actions.RunState.Settle) when the run has no run_finished event.
func (l *Log) Run(ctx context.Context, id string) (*actions.RunState, []actions.Event, error) {
	if err := l.usable(); err != nil {
		return nil, nil, err
	}
	full, err := l.resolve(ctx, id)
	if err != nil {
		return nil, nil, err
	}
	return l.fold(ctx, full)
}

// resolve turns a run id or a unique prefix of one into the full id.
func (l *Log) resolve(ctx context.Context, id string) (string, error) {
	if id == "" {
		return "", fmt.Errorf("audit: no run id given")
	}
	// Ids starting with id sort in [id, id+"\xff"): no UTF-8 text contains
	// the byte 0xff, and sqlite compares text bytewise, so this range uses
	// the run_id index. An exact match sorts first.
	rows, err := l.db.QueryContext(ctx,
		`SELECT DISTINCT run_id FROM events WHERE run_id >= ? AND run_id < ? ORDER BY run_id LIMIT 4`,
		id, id+"\xff")
	if err != nil {
		return "", l.wrap(err)
	}
	defer rows.Close()
	var ids []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return "", l.wrap(err)
		}
		ids = append(ids, s)
	}
	if err := rows.Err(); err != nil {
		return "", l.wrap(err)
	}
	switch {
	case len(ids) == 0:
		return "", fmt.Errorf("audit: no run %q in %s", id, l.path)
	case ids[0] == id || len(ids) == 1:
		return ids[0], nil
	case len(ids) > 3:
		return "", fmt.Errorf("audit: run id %q is ambiguous: it matches %s and more; give more characters", id, strings.Join(ids[:3], ", "))
	}
	return "", fmt.Errorf("audit: run id %q is ambiguous: it matches %s; give more characters", id, strings.Join(ids, ", "))
}

// fold derives the state of run id from its events, settling it if it has
// no run_finished event.
func (l *Log) fold(ctx context.Context, id string) (*actions.RunState, []actions.Event, error) {
	st := actions.NewRunState(id)
	var evs []actions.Event
	err := l.scan(ctx, id, func(ev actions.Event, _, _ string) error {
		st.Apply(ev)
		evs = append(evs, ev)
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	if !st.Done && !running(st.Info) {
		st.Settle()
	}
	return st, evs, nil
}

// running reports whether the process that recorded a run is alive: it
// ran on this host and its pid still exists. A run without run_finished is
// either in progress there or was interrupted; only a dead process makes
// its unanswered steps unknown or not sent. (A reused pid can make a dead
// run look alive until that process ends; never the other way round.)
func running(info actions.RunInfo) bool {
	if info.PID <= 0 || info.Host == "" {
		return false
	}
	if h, err := os.Hostname(); err != nil || h != info.Host {
		return false
	}
	err := syscall.Kill(info.PID, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

// Events calls fn with every event of run runID ("" for all runs) in seq
// order, streaming: the log is not loaded into memory. An error from fn
// stops the iteration and is returned.
func (l *Log) Events(ctx context.Context, runID string, fn func(actions.Event) error) error {
	if err := l.usable(); err != nil {
		return err
	}
	return l.scan(ctx, runID, func(ev actions.Event, _, _ string) error { return fn(ev) })
}

// scan streams the events of runID ("" for all) with their prev_hash and
// hash. Errors of fn are returned unchanged; read errors are wrapped.
func (l *Log) scan(ctx context.Context, runID string, fn func(ev actions.Event, prevHash, hash string) error) error {
	if runID != "" {
		return l.scanQuery(ctx, ` WHERE run_id = ? ORDER BY seq`, []any{runID}, fn)
	}
	return l.scanQuery(ctx, ` ORDER BY seq`, nil, fn)
}

// scanQuery streams the events that SELECT ... FROM events tail (with
// args) returns, as scan does.
func (l *Log) scanQuery(ctx context.Context, tail string, args []any, fn func(ev actions.Event, prevHash, hash string) error) error {
	rows, err := l.db.QueryContext(ctx, `SELECT `+columnList+` FROM events`+tail, args...)
	if err != nil {
		return l.wrap(err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			ev                                actions.Event
			tm, kind, action, outcome, detail string
			prevHash, hash                    string
		)
		if err := rows.Scan(&ev.Seq, &ev.RunID, &tm, &kind, &ev.Step, &ev.User, &ev.Target,
			&action, &ev.Attempt, &ev.HTTPStatus, &outcome, &ev.LatencyMS, &ev.Error,
			&ev.RequestID, &ev.ErrorCode, &ev.ErrorID, &detail, &prevHash, &hash); err != nil {
			return l.wrap(fmt.Errorf("event %d cannot be read (run verify): %w", ev.Seq, err))
		}
		t, err := time.Parse(time.RFC3339Nano, tm)
		if err != nil {
			return l.wrap(fmt.Errorf("event %d has an invalid time %q (run verify)", ev.Seq, tm))
		}
		ev.Time = t
		ev.Kind, ev.Action, ev.Outcome = actions.EventKind(kind), actions.Action(action), actions.Outcome(outcome)
		if detail != "" {
			ev.Detail = json.RawMessage(detail)
		}
		if err := fn(ev, prevHash, hash); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return l.wrap(err)
	}
	return l.settled(nil)
}

// TargetStats returns, per target, the results of its last n steps (of
// every kind but Okta's) whose request was sent, oldest first: the Targets
// screen's record of each target. A dry run's steps and steps that were
// never sent (a missing credential, a cancellation before sending) are not
// the application's answers and are left out.
func (l *Log) TargetStats(ctx context.Context, n int) (map[string][]history.TargetResult, error) {
	if err := l.usable(); err != nil {
		return nil, err
	}
	kept, err := l.recentResults(ctx, n)
	if err != nil {
		return nil, err
	}
	// The whole step runs from its first request to its result. That
	// attempt is a little before the result in the log: read backwards
	// from the result by seq (the rowid), never through the run's index,
	// which would walk every event of a large run.
	out := map[string][]history.TargetResult{}
	for _, f := range kept {
		var first string
		err := l.db.QueryRowContext(ctx, `SELECT "time" FROM events NOT INDEXED
			WHERE seq < ? AND run_id = ? AND step = ? AND kind = ? AND attempt = 1 ORDER BY seq DESC LIMIT 1`,
			f.seq, f.r.RunID, f.r.Step, string(actions.KindAttempt)).Scan(&first)
		f.r.StepMS = f.r.LatencyMS
		switch {
		case errors.Is(err, sql.ErrNoRows):
		case err != nil:
			return nil, l.wrap(err)
		default:
			if t, err := time.Parse(time.RFC3339Nano, first); err == nil && !t.After(f.r.Time) {
				f.r.StepMS = max(f.r.Time.Sub(t).Milliseconds(), f.r.LatencyMS)
			}
		}
		out[f.target] = append(out[f.target], f.r)
	}
	for _, rs := range out {
		slices.Reverse(rs)
	}
	if err := l.settled(nil); err != nil {
		return nil, err
	}
	return out, nil
}

// sentResult is a result row of TargetStats, with its place in the log.
type sentResult struct {
	seq    int64
	target string
	r      history.TargetResult
}

// recentResults reads the last n results per target of sent steps, newest
// first, from a bounded window of the log: the record is about recent
// behaviour.
func (l *Log) recentResults(ctx context.Context, n int) ([]sentResult, error) {
	rows, err := l.db.QueryContext(ctx, `SELECT seq, run_id, step, "time", target, "user", outcome, http_status, attempt, latency_ms, "error"
		FROM events WHERE kind = ? AND attempt > 0 AND "action" NOT LIKE 'okta.%' ORDER BY seq DESC LIMIT 20000`,
		string(actions.KindResult))
	if err != nil {
		return nil, l.wrap(err)
	}
	defer rows.Close()
	var kept []sentResult
	per := map[string]int{}
	for rows.Next() {
		var f sentResult
		var tm, outcome string
		if err := rows.Scan(&f.seq, &f.r.RunID, &f.r.Step, &tm, &f.target, &f.r.User, &outcome, &f.r.HTTPStatus,
			&f.r.Attempts, &f.r.LatencyMS, &f.r.Error); err != nil {
			return nil, l.wrap(err)
		}
		if per[f.target] >= n {
			continue
		}
		per[f.target]++
		f.r.Outcome = actions.Outcome(outcome)
		if f.r.Time, err = time.Parse(time.RFC3339Nano, tm); err != nil {
			return nil, l.wrap(fmt.Errorf("event %d has an invalid time %q (run verify)", f.seq, tm))
		}
		kept = append(kept, f)
	}
	if err := rows.Err(); err != nil {
		return nil, l.wrap(err)
	}
	return kept, nil
}
