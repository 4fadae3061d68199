package audit

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
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
//
// A run's summary is read on its own, with SQLite doing the tallying, so
// listing the last runs of a large log reads only those runs: the window of
// the log they were recorded in, found through the run_started events, and
// each run's rows through the run's index. No event is decoded in Go but
// the run's run_started and run_finished.
func (l *Log) Runs(ctx context.Context, f RunFilter) ([]RunSummary, error) {
	if err := l.usable(); err != nil {
		return nil, err
	}
	q, err := l.summaries(ctx)
	if err != nil {
		return nil, err
	}
	defer q.close()
	var out []RunSummary
	err = l.newestRuns(ctx, f.Limit, func(batch []runStart) (bool, error) {
		sums, err := q.all(ctx, batch)
		if err != nil {
			return false, err
		}
		for i := range sums {
			ok, err := l.matches(ctx, &sums[i], f)
			if err != nil {
				return false, err
			}
			if ok {
				out = append(out, sums[i])
			}
			if f.Limit > 0 && len(out) >= f.Limit {
				return false, nil
			}
		}
		return true, nil
	})
	if err != nil {
		return nil, err
	}
	return out, l.settled(nil)
}

// notStepKinds are the event kinds that belong to no step: RunState.Apply
// makes a step of every other kind.
const notStepKinds = `('run_started', 'run_finished', 'watch_started', 'watch_sign', 'watch_extended', 'watch_ended')`

// runStart is a run and the seq of its first event.
type runStart struct {
	id    string
	first int64
}

// newestRuns calls fn with every run and the seq of its first event,
// newest first (by that seq), in batches, until fn returns false. want is how many runs fn is
// expected to ask for (0: all); it sizes the first window of the log read.
//
// The window (lo, hi] is chosen to start just before the want-th newest
// run_started event, so that it usually holds exactly the runs wanted. Every
// run with an event in the window is found, whatever its events (a run need
// not start with run_started); a run whose first event lies below lo waits
// until a later, lower window reaches it, so the order is exact.
func (l *Log) newestRuns(ctx context.Context, want int, fn func([]runStart) (bool, error)) error {
	var hi sql.NullInt64
	if err := l.db.QueryRowContext(ctx, `SELECT max(seq) FROM events`).Scan(&hi); err != nil {
		return l.wrap(err)
	}
	var pending []runStart    // found, first seq not yet above a window's floor
	seen := map[string]bool{} // every run found so far
	for top := hi.Int64; top > 0; want *= 2 {
		lo := int64(0)
		if want > 0 {
			var s int64
			err := l.db.QueryRowContext(ctx, `SELECT seq FROM events INDEXED BY events_kind
				WHERE kind = 'run_started' AND seq <= ? ORDER BY seq DESC LIMIT 1 OFFSET ?`, top, want-1).Scan(&s)
			switch {
			case err == nil:
				lo = s - 1
			case !errors.Is(err, sql.ErrNoRows):
				return l.wrap(err)
			}
		}
		ids, err := l.strings(ctx, `SELECT DISTINCT run_id FROM events WHERE seq > ? AND seq <= ?`, lo, top)
		if err != nil {
			return err
		}
		for _, id := range ids {
			if seen[id] {
				continue
			}
			seen[id] = true
			var first int64
			if err := l.db.QueryRowContext(ctx, `SELECT seq FROM events INDEXED BY events_run_id
				WHERE run_id = ? ORDER BY seq LIMIT 1`, id).Scan(&first); err != nil {
				return l.wrap(err)
			}
			pending = append(pending, runStart{id, first})
		}
		// Every run whose first event is above lo has been found: emit
		// those, newest first.
		slices.SortFunc(pending, func(a, b runStart) int { return cmp.Compare(b.first, a.first) })
		n := 0
		for n < len(pending) && pending[n].first > lo {
			n++
		}
		if n > 0 {
			if more, err := fn(pending[:n:n]); err != nil || !more {
				return err
			}
		}
		pending = pending[n:]
		top = lo
	}
	return nil
}

// strings returns the first column of every row of query, as text.
func (l *Log) strings(ctx context.Context, query string, args ...any) ([]string, error) {
	rows, err := l.db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, l.wrap(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return nil, l.wrap(err)
		}
		out = append(out, s)
	}
	return out, l.wrap(rows.Err())
}

// runTally tallies the steps of one run in SQLite, reading the stretch of
// the table from its first event ?1 to its run_finished (or last event) ?2
// in seq order: one row per outcome, with whether a request of those steps left,
// and how many steps. As RunState.Apply folds them: a step's outcome is
// that of its last result event (the bare column outcome comes from the
// row max chose; a step without a result has none), and a request left
// when an attempt or a result carries an attempt number.
const runTally = `SELECT o, sent, count(*) FROM (
	SELECT CASE WHEN max(CASE WHEN kind = 'result' THEN seq END) IS NULL THEN '' ELSE outcome END AS o,
		total(attempt > 0 AND kind IN ('attempt', 'result')) > 0 AS sent
	FROM events NOT INDEXED
	WHERE seq BETWEEN ?1 AND ?2 AND run_id = ?3 AND kind NOT IN ` + notStepKinds + ` GROUP BY step)
GROUP BY 1, 2`

// runMarks finds the seq of the last run_started and run_finished event of
// a run (0 for none) among its events from seq ?1 to ?2, through the kinds'
// index: a run has one of each (the engine records them), so this looks at
// a few rows, not all the run's. Then whether a watch of the run started,
// and how many of its signs were alarms, also through the kinds' index.
const runMarks = `SELECT
	coalesce((SELECT max(seq) FROM events INDEXED BY events_kind WHERE kind = 'run_started' AND seq BETWEEN ?1 AND ?2 AND run_id = ?3), 0),
	coalesce((SELECT max(seq) FROM events INDEXED BY events_kind WHERE kind = 'run_finished' AND seq BETWEEN ?1 AND ?2 AND run_id = ?3), 0),
	EXISTS (SELECT 1 FROM events INDEXED BY events_kind WHERE kind = 'watch_started' AND seq BETWEEN ?1 AND ?2 AND run_id = ?3),
	(SELECT count(*) FROM events INDEXED BY events_kind WHERE kind = 'watch_sign' AND seq BETWEEN ?1 AND ?2 AND run_id = ?3
		AND json_extract(detail, '$.level') = 'alarm')`

// runLast finds the seq of a run's last event.
const runLast = `SELECT seq FROM events INDEXED BY events_run_id WHERE run_id = ? ORDER BY seq DESC LIMIT 1`

// summaries reads run summaries with statements prepared once; close
// releases them.
type summaries struct {
	l                  *Log
	tally, marks, last *sql.Stmt
}

func (l *Log) summaries(ctx context.Context) (*summaries, error) {
	q := &summaries{l: l}
	var err error
	if q.tally, err = l.db.PrepareContext(ctx, runTally); err == nil {
		if q.marks, err = l.db.PrepareContext(ctx, runMarks); err == nil {
			q.last, err = l.db.PrepareContext(ctx, runLast)
		}
	}
	if err != nil {
		q.close()
		return nil, l.wrap(err)
	}
	return q, nil
}

func (q *summaries) close() {
	for _, s := range []*sql.Stmt{q.tally, q.marks, q.last} {
		if s != nil {
			_ = s.Close()
		}
	}
}

// all returns the summaries of runs, in order, reading several at once:
// each is a few queries that keep SQLite busy, and connections read in
// parallel.
func (q *summaries) all(ctx context.Context, runs []runStart) ([]RunSummary, error) {
	out := make([]RunSummary, len(runs))
	errs := make([]error, len(runs))
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(runtime.GOMAXPROCS(0), len(runs), 4) {
		wg.Go(func() {
			for i := int(next.Add(1) - 1); i < len(runs); i = int(next.Add(1) - 1) {
				out[i], errs[i] = q.summary(ctx, runs[i].id, runs[i].first)
				if errs[i] != nil {
					return
				}
			}
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// summary returns the summary of run id, whose first event is at seq
// first: what folding all its events and settling it would give.
func (q *summaries) summary(ctx context.Context, id string, first int64) (RunSummary, error) {
	l := q.l
	var last, started, finished int64
	var watched bool
	var alarms int
	if err := q.last.QueryRowContext(ctx, id).Scan(&last); err != nil {
		return RunSummary{}, l.wrap(err)
	}
	if err := q.marks.QueryRowContext(ctx, first, last, id).Scan(&started, &finished, &watched, &alarms); err != nil {
		return RunSummary{}, l.wrap(err)
	}
	// Every step's events lie between the run's first event and its
	// run_finished (the engine records that last): the tally reads that
	// stretch of the table in seq order, not each row through the index.
	end := last
	if finished > 0 {
		end = finished
	}
	rows, err := q.tally.QueryContext(ctx, first, end, id)
	if err != nil {
		return RunSummary{}, l.wrap(err)
	}
	defer rows.Close()
	type tally struct {
		outcome actions.Outcome
		sent    bool
		n       int
	}
	var steps []tally
	for rows.Next() {
		var (
			o string
			t tally
		)
		if err := rows.Scan(&o, &t.sent, &t.n); err != nil {
			return RunSummary{}, l.wrap(err)
		}
		t.outcome = actions.Outcome(o)
		steps = append(steps, t)
	}
	if err := rows.Err(); err != nil {
		return RunSummary{}, l.wrap(err)
	}
	marks := []any{first, started, finished}
	st := actions.NewRunState(id)
	var firstTime time.Time
	err = l.scanRows(ctx, ` WHERE seq IN (`+strings.Repeat("?, ", len(marks)-1)+`?) ORDER BY seq`, marks,
		func(ev actions.Event, _, _ string) error {
			if ev.Seq == first {
				firstTime = ev.Time
			}
			if ev.Kind == actions.KindRunStarted || ev.Kind == actions.KindRunFinished {
				st.Apply(ev)
			}
			return nil
		})
	if err != nil {
		return RunSummary{}, err
	}
	s := summarize(st, nil)
	if s.Started.IsZero() {
		s.Started = firstTime
	}
	s.Watched, s.WatchAlarms = watched, alarms
	settle := !st.Done && !running(st.Info)
	s.Counts = map[actions.Outcome]int{}
	for _, t := range steps {
		switch {
		case t.outcome != "" || !settle:
		case t.sent:
			t.outcome = actions.Unknown
		default:
			t.outcome = actions.NotSent
		}
		s.Counts[t.outcome] += t.n
		s.Steps += t.n
	}
	return s, nil
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
	if w := st.Watch; w != nil {
		s.Watched, s.WatchAlarms = w.Watches > 0, w.Alarms
	}
	if s.Started.IsZero() && len(evs) > 0 {
		s.Started = evs[0].Time
	}
	return s
}

// matches reports whether the run summarised by s passes f.
func (l *Log) matches(ctx context.Context, s *RunSummary, f RunFilter) (bool, error) {
	if !f.Since.IsZero() && s.Started.Before(f.Since) {
		return false, nil
	}
	if f.Outcome != "" && s.Counts[f.Outcome] == 0 {
		return false, nil
	}
	if f.User == "" || hasUser(s.Info, nil, f.User) {
		return true, nil
	}
	// The user of each step is that of its first event.
	users, err := l.strings(ctx, `SELECT DISTINCT e."user" FROM
		(SELECT min(seq) AS first FROM events INDEXED BY events_run_id WHERE run_id = ? AND kind NOT IN `+notStepKinds+` GROUP BY step)
		JOIN events e ON e.seq = first`, s.RunID)
	if err != nil {
		return false, err
	}
	return hasUser(actions.RunInfo{}, users, f.User), nil
}

// hasUser reports whether a run whose steps act on users acts on the user
// named u, by any of the names info recorded for its users or the steps'.
func hasUser(info actions.RunInfo, users []string, u string) bool {
	for _, x := range info.Users {
		for _, name := range []string{x.Key(), x.Login, x.Email, x.ID} {
			if name != "" && strings.EqualFold(name, u) {
				return true
			}
		}
	}
	for _, name := range users {
		if strings.EqualFold(name, u) {
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
	return l.settled(l.scanRows(ctx, tail, args, fn))
}

// scanRows is scanQuery without its final check that a frozen file is
// unchanged, for reads that are part of a larger one.
func (l *Log) scanRows(ctx context.Context, tail string, args []any, fn func(ev actions.Event, prevHash, hash string) error) error {
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
	return l.wrap(rows.Err())
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
	out := map[string][]history.TargetResult{}
	for _, f := range kept {
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
	rows, err := l.db.QueryContext(ctx, `SELECT seq, run_id, step, "time", target, "user", outcome, http_status, attempt, latency_ms, "error", detail
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
		var tm, outcome, detail string
		if err := rows.Scan(&f.seq, &f.r.RunID, &f.r.Step, &tm, &f.target, &f.r.User, &outcome, &f.r.HTTPStatus,
			&f.r.Attempts, &f.r.LatencyMS, &f.r.Error, &detail); err != nil {
			return nil, l.wrap(err)
		}
		if per[f.target] >= n {
			continue
		}
		per[f.target]++
		f.r.Outcome = actions.Outcome(outcome)
		// The whole step is the engine's own measure, the board's TIME.
		ev := actions.Event{Kind: actions.KindResult, Attempt: f.r.Attempts, LatencyMS: f.r.LatencyMS}
		if detail != "" {
			ev.Detail = json.RawMessage(detail)
		}
		f.r.StepMS = ev.StepMillis()
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
