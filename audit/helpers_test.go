package audit

import (
	"context"
	"database/sql"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"ulc/actions"
)

// base is the time the test runs start at, so filters are deterministic.
var base = time.Date(2025, 3, 14, 9, 26, 53, 589793238, time.UTC)

// newPath returns a fresh audit log file name in a temporary directory.
func newPath(t testing.TB) string {
	t.Helper()
	return filepath.Join(t.TempDir(), "audit.db")
}

// openLog opens the log at path and closes it when the test ends.
func openLog(t testing.TB, path string) *Log {
	t.Helper()
	l, err := Open(path)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { _ = l.Close() })
	return l
}

// rawDB opens path with a plain database/sql sqlite3 connection: what an
// attacker with file access (or a curious admin) would use.
func rawDB(t testing.TB, path string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite3", path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}

// dropTriggers removes the append-only triggers, as a tamperer would.
func dropTriggers(t testing.TB, db *sql.DB) {
	t.Helper()
	for _, tr := range []string{"events_no_update", "events_no_delete"} {
		if _, err := db.ExecContext(context.Background(), `DROP TRIGGER `+tr); err != nil {
			t.Fatalf("drop trigger %s: %v", tr, err)
		}
	}
}

func mustExec(t testing.TB, db *sql.DB, q string, args ...any) {
	t.Helper()
	if _, err := db.ExecContext(context.Background(), q, args...); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

func mustJSON(t testing.TB, v any) json.RawMessage {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// step describes one planned step of a test run.
type step struct {
	user   string
	target string
	action actions.Action
}

// planEvents returns the run_started and planned events of a run, the
// batch the engine records before anything is sent.
func planEvents(t testing.TB, runID string, at time.Time, users []actions.User, steps []step) []actions.Event {
	t.Helper()
	info := actions.RunInfo{
		Reason: "compromised laptop", Ticket: "SEC-1234", Operator: "soc-analyst",
		Host: "soc-01", Version: "test", Users: users,
	}
	for _, s := range steps {
		if s.target != actions.OktaTarget {
			info.Targets = append(info.Targets, s.target)
		}
	}
	evs := []actions.Event{{RunID: runID, Time: at, Kind: actions.KindRunStarted, Detail: mustJSON(t, info)}}
	for i, s := range steps {
		d := actions.StepDetail{Method: "POST", URL: "https://" + s.target + ".example/gtr", Body: `{"sub_id":{}}`}
		evs = append(evs, actions.Event{
			RunID: runID, Time: at, Kind: actions.KindPlanned, Step: i + 1,
			User: s.user, Target: s.target, Action: s.action, Detail: mustJSON(t, d),
		})
	}
	return evs
}

// result returns the result event of step n.
func result(runID string, at time.Time, n int, s step, attempt, status int, o actions.Outcome) actions.Event {
	return actions.Event{
		RunID: runID, Time: at, Kind: actions.KindResult, Step: n, User: s.user, Target: s.target,
		Action: s.action, Attempt: attempt, HTTPStatus: status, Outcome: o, LatencyMS: 42,
	}
}

// attempt returns the attempt event of step n.
func attempt(runID string, at time.Time, n int, s step, a int) actions.Event {
	return actions.Event{
		RunID: runID, Time: at, Kind: actions.KindAttempt, Step: n, User: s.user, Target: s.target,
		Action: s.action, Attempt: a, RequestID: "jti-" + runID,
	}
}

// record records evs and waits, failing the test on error.
func record(t testing.TB, l *Log, evs ...actions.Event) {
	t.Helper()
	if err := l.Record(context.Background(), true, evs...); err != nil {
		t.Fatalf("Record: %v", err)
	}
}

// makeReadOnly makes files read-only for this process. File modes do not
// bind root, so as root it sets the immutable attribute instead (which also
// refuses writes through descriptors already open); the test is skipped if
// the file system does not support it.
func makeReadOnly(t testing.TB, paths ...string) {
	t.Helper()
	for _, p := range paths {
		if os.Geteuid() != 0 {
			if err := os.Chmod(p, 0o400); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = os.Chmod(p, 0o600) })
			continue
		}
		if out, err := exec.CommandContext(context.Background(), "chattr", "+i", p).CombinedOutput(); err != nil {
			t.Skipf("running as root and cannot make %s immutable (chattr +i: %v %s)", p, err, out)
		}
		t.Cleanup(func() { _ = exec.CommandContext(context.Background(), "chattr", "-i", p).Run() })
	}
}

// withBusyTimeout shortens the lock wait of logs opened during the test.
func withBusyTimeout(t testing.TB, d time.Duration) {
	old := busyTimeout
	busyTimeout = d
	t.Cleanup(func() { busyTimeout = old })
}

// count returns the number of rows in the events table.
func count(t testing.TB, db *sql.DB) int64 {
	t.Helper()
	var n int64
	if err := db.QueryRowContext(context.Background(), `SELECT count(*) FROM events`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}
