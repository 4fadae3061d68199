package audit

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"ulc/actions"
)

// oneBigRun returns the path of an audit log holding, after a few small
// runs, one run of steps steps (users × 20 targets, planned, attempt,
// result): the log a 10,000-user run leaves, for the run's view. It is
// kept in ULC_AUDIT_BENCH_DIR (default: the temporary directory) and
// reused.
func oneBigRun(tb testing.TB, steps int) (path, id string) {
	tb.Helper()
	dir := os.Getenv("ULC_AUDIT_BENCH_DIR")
	if dir == "" {
		dir = os.TempDir()
	}
	path = filepath.Join(dir, fmt.Sprintf("ulc-audit-bigrun-%d.db", steps))
	id = "20261202-080000-b16b16"
	want := int64(3*steps + 2 + 3*(3*200+2))
	if l, err := OpenReadOnly(path); err == nil {
		seq, _, herr := l.Head(context.Background())
		_ = l.Close()
		if herr == nil && seq == want {
			return path, id
		}
	}
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		_ = os.Remove(p)
	}
	tb.Logf("building %s (one run of %d steps), reused by later runs", path, steps)
	l, err := Open(path)
	if err != nil {
		tb.Fatal(err)
	}
	defer func() { _ = l.Close() }()
	ctx := context.Background()
	at := base
	var batch []actions.Event
	add := func(ev actions.Event) {
		at = at.Add(time.Millisecond)
		ev.Time = at
		batch = append(batch, ev)
		if len(batch) >= 1000 {
			if err := l.Record(ctx, false, batch...); err != nil {
				tb.Fatal(err)
			}
			batch = batch[:0]
		}
	}
	targets := make([]string, 20)
	for i := range targets {
		targets[i] = fmt.Sprintf("app%02d", i)
	}
	run := func(id string, users int) {
		var us []actions.User
		for u := range users {
			us = append(us, actions.User{Login: fmt.Sprintf("user%d@corp.example", u)})
		}
		info, _ := json.Marshal(actions.RunInfo{Reason: "bench", Operator: "it-ops", Host: "ops-01", Users: us, Targets: targets})
		add(actions.Event{RunID: id, Kind: actions.KindRunStarted, Detail: info})
		step := 0
		for _, u := range us {
			for _, tg := range targets {
				step++
				b := actions.Event{RunID: id, Step: step, User: u.Login, Target: tg, Action: actions.ActionGTR}
				p, a, r := b, b, b
				p.Kind, p.Detail = actions.KindPlanned, json.RawMessage(`{"method":"POST","url":"https://`+tg+`.corp.example/gtr"}`)
				a.Kind, a.Attempt = actions.KindAttempt, 1
				r.Kind, r.Attempt, r.HTTPStatus, r.Outcome, r.LatencyMS = actions.KindResult, 1, 204, actions.Revoked, 30
				add(p)
				add(a)
				add(r)
			}
		}
		add(actions.Event{RunID: id, Kind: actions.KindRunFinished})
	}
	for i := range 3 {
		run(fmt.Sprintf("20261201-0%d0000-aaaaaa", i), 10)
	}
	run(id, steps/len(targets))
	if len(batch) > 0 {
		if err := l.Record(ctx, false, batch...); err != nil {
			tb.Fatal(err)
		}
	}
	if err := l.Flush(ctx); err != nil {
		tb.Fatal(err)
	}
	return path, id
}

// BenchmarkRunView times what History's run view reads of one large run
// (ULC_RUNVIEW_STEPS steps, default 20,000; the performance target is
// 200,000): a page of its timeline from the start and from the middle,
// one step's events, the Targets screen's record, the run's state and its
// outcomes (the state without the requests, what History reads),
// beside Run (the state with every event), the whole-run read they
// replace, in the same run.
func BenchmarkRunView(b *testing.B) {
	steps := 20000
	if s, err := strconv.Atoi(os.Getenv("ULC_RUNVIEW_STEPS")); err == nil && s > 0 {
		steps = s
	}
	path, id := oneBigRun(b, steps)
	l, err := OpenReadOnly(path)
	if err != nil {
		b.Fatal(err)
	}
	defer func() { _ = l.Close() }()
	ctx := context.Background()
	var mid int64
	if evs, err := l.Timeline(ctx, id, 0, 1); err == nil && len(evs) == 1 {
		mid = evs[0].Seq + int64(3*steps/2)
	}
	middleUser := fmt.Sprintf("user%d@corp.example", steps/40)
	middleStep := (steps/40)*20 + 1
	cases := []struct {
		name string
		fn   func() error
	}{
		{"timeline_first_page", func() error { _, err := l.Timeline(ctx, id, 0, 500); return err }},
		{"timeline_middle_page", func() error { _, err := l.Timeline(ctx, id, mid, 500); return err }},
		{"step_events", func() error {
			evs, err := l.StepEvents(ctx, id, middleStep, middleUser)
			if err == nil && len(evs) != 3 {
				err = fmt.Errorf("step %d of %s: %d events", middleStep, middleUser, len(evs))
			}
			return err
		}},
		{"target_stats", func() error { _, err := l.TargetStats(ctx, 10); return err }},
		{"state", func() error { _, err := l.State(ctx, id); return err }},
		{"outcomes", func() error { _, err := l.Outcomes(ctx, id); return err }}, // History's: without the requests
		{"reference_run_with_events", func() error { _, _, err := l.Run(ctx, id); return err }},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				if err := c.fn(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
