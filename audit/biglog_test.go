package audit

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"ulc/actions"
)

// bigLog returns the path of an audit log of exactly n events shaped like
// real runs (run_started, then per user and target a planned step with its
// request, an attempt and a result, then run_finished): about 470 bytes an
// event on disk. Building one of a million events takes minutes, so it is
// kept in the directory named by ULC_AUDIT_BENCH_DIR (default: the system
// temporary directory) and reused while its head says it holds n events.
// Callers must not write to it; copy it first.
func bigLog(tb testing.TB, n int64) string {
	tb.Helper()
	dir := os.Getenv("ULC_AUDIT_BENCH_DIR")
	if dir == "" {
		dir = os.TempDir()
	}
	path := filepath.Join(dir, fmt.Sprintf("ulc-audit-bench-%d.db", n))
	if l, err := OpenReadOnly(path); err == nil {
		seq, _, herr := l.Head(context.Background())
		_ = l.Close()
		if herr == nil && seq == n {
			return path
		}
	}
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		_ = os.Remove(p)
	}
	tb.Logf("building %s (%d events), reused by later runs", path, n)
	l, err := Open(path)
	if err != nil {
		tb.Fatal(err)
	}
	if err := fillLog(l, n); err != nil {
		_ = l.Close()
		_ = os.Remove(path)
		tb.Fatal(err)
	}
	if err := l.Close(); err != nil {
		tb.Fatal(err)
	}
	return path
}

// fillLog appends n events, in batches of at most a thousand, as runs of
// 20 users times 10 targets.
func fillLog(l *Log, n int64) error {
	ctx := context.Background()
	at := base
	var batch []actions.Event
	flush := func() error {
		err := l.Record(ctx, false, batch...)
		batch = batch[:0]
		return err
	}
	add := func(ev actions.Event) error {
		if n <= 0 {
			return nil
		}
		n--
		at = at.Add(time.Millisecond)
		ev.Time = at
		batch = append(batch, ev)
		if len(batch) >= 1000 {
			return flush()
		}
		return nil
	}
	for run := 0; n > 0; run++ {
		id := fmt.Sprintf("%08x-6f1c-4d2a-9b7e-%012x", run, run*7919)
		var users []actions.User
		for u := range 20 {
			users = append(users, actions.User{ID: fmt.Sprintf("00u%017d", run*20+u), Login: fmt.Sprintf("user%d@corp.example", run*20+u)})
		}
		targets := []string{"slack", "zoom", "github", "jira", "confluence", "salesforce", "workday", "box", "dropbox", "notion"}
		info, _ := json.Marshal(actions.RunInfo{Reason: "offboarding batch", Ticket: fmt.Sprintf("HR-%d", run), Operator: "it-ops",
			Host: "ops-01", Version: "bench", Users: users, Targets: targets})
		if err := add(actions.Event{RunID: id, Kind: actions.KindRunStarted, Detail: info}); err != nil {
			return err
		}
		step := 0
		for _, u := range users {
			for _, tg := range targets {
				step++
				d, _ := json.Marshal(actions.StepDetail{Method: "POST", URL: "https://" + tg + ".corp.example/api/v1/global-token-revocation",
					Body: `{"sub_id":{"format":"email","email":"` + u.Login + `"}}`, SubjectFormat: "email", Auth: "bearer", Credential: "sha256:3f2a9c1d", TimeoutMS: 10000, Retries: 3})
				base := actions.Event{RunID: id, Step: step, User: u.Login, Target: tg, Action: actions.ActionGTR}
				planned, attempt, result := base, base, base
				planned.Kind, planned.Detail = actions.KindPlanned, d
				attempt.Kind, attempt.Attempt, attempt.RequestID = actions.KindAttempt, 1, fmt.Sprintf("jti-%s-%d", id[:8], step)
				result.Kind, result.Attempt, result.HTTPStatus, result.Outcome, result.LatencyMS = actions.KindResult, 1, 204, actions.Revoked, int64(20+step%80)
				for _, ev := range []actions.Event{planned, attempt, result} {
					if err := add(ev); err != nil {
						return err
					}
				}
			}
		}
		if err := add(actions.Event{RunID: id, Kind: actions.KindRunFinished, Detail: json.RawMessage(`{"revoked":200}`)}); err != nil {
			return err
		}
	}
	if len(batch) > 0 {
		if err := flush(); err != nil {
			return err
		}
	}
	return l.Flush(ctx)
}

// BenchmarkOpen measures what the integrity check adds to Open, the
// read-write open a run starts with, on logs of 60 thousand and one million
// events (the latter about 480 MB, built once, see bigLog). check=false is
// Open without it. The page cache is warm after the first iteration; to
// time a cold start, evict the file first (dd if=FILE iflag=nocache
// count=0) and run with -benchtime=1x.
func BenchmarkOpen(b *testing.B) {
	for _, n := range []int64{60_000, 1_000_000} {
		for _, check := range []bool{false, true} {
			b.Run(fmt.Sprintf("events=%d/check=%v", n, check), func(b *testing.B) {
				path := bigLog(b, n)
				for b.Loop() {
					l, err := open(path, check)
					if err != nil {
						b.Fatal(err)
					}
					if err := l.Close(); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// BenchmarkOpenWithoutReadAhead is BenchmarkOpen's check=true without
// asking the kernel to read the file ahead: the same on a warm cache, and
// several times slower on a cold one (evict the file first, as above).
func BenchmarkOpenWithoutReadAhead(b *testing.B) {
	noReadAhead = true
	b.Cleanup(func() { noReadAhead = false })
	for _, n := range []int64{60_000, 1_000_000} {
		b.Run(fmt.Sprintf("events=%d", n), func(b *testing.B) {
			path := bigLog(b, n)
			for b.Loop() {
				l, err := open(path, true)
				if err != nil {
					b.Fatal(err)
				}
				if err := l.Close(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkQuickCheck is SQLite's PRAGMA quick_check on the same logs, the
// check CheckIntegrity is measured against.
func BenchmarkQuickCheck(b *testing.B) {
	for _, n := range []int64{60_000, 1_000_000} {
		b.Run(fmt.Sprintf("events=%d", n), func(b *testing.B) {
			l, err := OpenReadOnly(bigLog(b, n))
			if err != nil {
				b.Fatal(err)
			}
			defer func() { _ = l.Close() }()
			for b.Loop() {
				var res string
				if err := l.db.QueryRowContext(context.Background(), `PRAGMA quick_check`).Scan(&res); err != nil || res != "ok" {
					b.Fatal(res, err)
				}
			}
		})
	}
}

// BenchmarkVerify is audit verify on logs of 60 thousand and one million
// events (see bigLog), warm cache. In each iteration SQLite alone first
// reads every row's record to its last column (SELECT max(hash)): the
// reference, the least any check of every row's content must do. Metrics:
// events/s of Verify, ref-events/s of that read, x-ref their time ratio.
func BenchmarkVerify(b *testing.B) {
	for _, n := range []int64{60_000, 1_000_000} {
		b.Run(fmt.Sprintf("events=%d", n), func(b *testing.B) {
			l, err := OpenReadOnly(bigLog(b, n))
			if err != nil {
				b.Fatal(err)
			}
			defer func() { _ = l.Close() }()
			ctx := context.Background()
			var verify, ref time.Duration
			for b.Loop() {
				start := time.Now()
				var x any
				if err := l.db.QueryRowContext(ctx, `SELECT max(hash) FROM events`).Scan(&x); err != nil {
					b.Fatal(err)
				}
				ref += time.Since(start)
				start = time.Now()
				res, err := l.Verify(ctx, "")
				if err != nil || !res.OK || res.Events != n {
					b.Fatalf("Verify = %+v, %v", res, err)
				}
				verify += time.Since(start)
			}
			b.ReportMetric(float64(n)*float64(b.N)/verify.Seconds(), "events/s")
			b.ReportMetric(float64(n)*float64(b.N)/ref.Seconds(), "ref-events/s")
			b.ReportMetric(float64(verify)/float64(ref), "x-ref")
			b.ReportMetric(0, "ns/op")
		})
	}
}

// BenchmarkList is audit list: the last 50 runs of the million-event log
// (5,000 runs of 200 steps), warm cache. The goal is 50 ms. Metrics:
// ms/list, the wall time, and cpu-ms/list, the process's CPU time (user
// and system, all threads) per list: on a loaded machine the wall time
// grows with the wait for a core, the CPU time much less.
func BenchmarkList(b *testing.B) {
	l, err := OpenReadOnly(bigLog(b, 1_000_000))
	if err != nil {
		b.Fatal(err)
	}
	defer func() { _ = l.Close() }()
	cpu0 := cpuTime(b)
	for b.Loop() {
		runs, err := l.Runs(context.Background(), RunFilter{Limit: 50})
		if err != nil || len(runs) != 50 {
			b.Fatalf("Runs = %d runs, %v", len(runs), err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/1000/float64(b.N), "ms/list")
	b.ReportMetric(float64((cpuTime(b)-cpu0).Microseconds())/1000/float64(b.N), "cpu-ms/list")
}

// cpuTime returns the CPU time the process has used so far.
func cpuTime(tb testing.TB) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		tb.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
