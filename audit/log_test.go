package audit

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/mattn/go-sqlite3"

	"ulc/actions"
)

func TestRecordFillsSeqAndTime(t *testing.T) {
	l := openLog(t, newPath(t))
	ctx := t.Context()

	est := time.FixedZone("EST", -5*3600)
	evs := []actions.Event{
		{RunID: "r1", Kind: actions.KindRunStarted, Seq: 99}, // Seq is ignored
		{RunID: "r1", Kind: actions.KindRunFinished, Time: time.Date(2025, 1, 2, 3, 4, 5, 6, est)},
	}
	before := time.Now()
	if err := l.Record(ctx, true, evs...); err != nil {
		t.Fatal(err)
	}
	if evs[0].Seq != 1 || evs[1].Seq != 2 {
		t.Errorf("seqs = %d, %d; want 1, 2", evs[0].Seq, evs[1].Seq)
	}
	if evs[0].Time.Before(before.Add(-time.Second)) || evs[0].Time.Location() != time.UTC {
		t.Errorf("zero time became %v; want now, in UTC", evs[0].Time)
	}
	if want := time.Date(2025, 1, 2, 8, 4, 5, 6, time.UTC); !evs[1].Time.Equal(want) || evs[1].Time.Location() != time.UTC {
		t.Errorf("time = %v; want %v in UTC", evs[1].Time, want)
	}

	// What is read back is exactly what was recorded, to the nanosecond.
	var got []actions.Event
	if err := l.Events(ctx, "", func(ev actions.Event) error { got = append(got, ev); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || !got[1].Time.Equal(evs[1].Time) || got[0].Seq != 1 {
		t.Fatalf("read back %+v", got)
	}

	seq, hash, err := l.Head(ctx)
	if err != nil || seq != 2 || len(hash) != 64 {
		t.Errorf("Head = %d, %q, %v; want 2 and a SHA-256 hex hash", seq, hash, err)
	}
}

func TestHeadOfEmptyLog(t *testing.T) {
	l := openLog(t, newPath(t))
	seq, hash, err := l.Head(t.Context())
	if seq != 0 || hash != "" || err != nil {
		t.Errorf("Head = %d, %q, %v; want 0, \"\", nil", seq, hash, err)
	}
}

func TestRecordRejectsUnstorableEvents(t *testing.T) {
	l := openLog(t, newPath(t))
	for name, ev := range map[string]actions.Event{
		"no run id":    {Kind: actions.KindRunStarted},
		"no kind":      {RunID: "r"},
		"invalid JSON": {RunID: "r", Kind: actions.KindPlanned, Detail: []byte(`{"a":`)},
		"year 10000":   {RunID: "r", Kind: actions.KindPlanned, Time: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)},
	} {
		ok := actions.Event{RunID: "r", Kind: actions.KindRunStarted}
		err := l.Record(t.Context(), true, ok, ev)
		if err == nil || errors.Is(err, ErrUnavailable) {
			t.Errorf("%s: Record = %v; want a validation error", name, err)
		}
	}
	// Nothing of a rejected batch was written, not even its valid events.
	if seq, _, _ := l.Head(t.Context()); seq != 0 {
		t.Errorf("head = %d after rejected batches; want 0", seq)
	}
}

func TestGroupCommitSharesTransactions(t *testing.T) {
	l := openLog(t, newPath(t))
	const n = 200
	start := make(chan struct{})
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Go(func() {
			<-start
			errs <- l.Record(context.Background(), true, actions.Event{RunID: "r", Kind: actions.KindAttempt, Step: i + 1})
		})
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	// Each waiter is answered only after its commit, so n durable writes
	// that took far fewer than n transactions were grouped.
	if c := l.commits.Load(); c > n/2 {
		t.Errorf("%d waited-for events took %d transactions; want them grouped (at most %d)", n, c, n/2)
	}
	if seq, _, _ := l.Head(t.Context()); seq != n {
		t.Errorf("head = %d; want %d", seq, n)
	}
}

func TestAtomicBatchIsNeverSplit(t *testing.T) {
	old := maxBatchEvents
	maxBatchEvents = 8
	t.Cleanup(func() { maxBatchEvents = old })
	l := openLog(t, newPath(t))

	var wg sync.WaitGroup
	batches := make([][]actions.Event, 6)
	for b := range batches {
		batches[b] = make([]actions.Event, 5+b*7) // up to 40 > maxBatchEvents
		for i := range batches[b] {
			batches[b][i] = actions.Event{RunID: fmt.Sprint("batch", b), Kind: actions.KindPlanned, Step: i + 1}
		}
		wg.Go(func() {
			if err := l.Record(context.Background(), true, batches[b]...); err != nil {
				t.Error(err)
			}
		})
		for range 5 { // singles interleaved with the batches
			wg.Go(func() {
				if err := l.Record(context.Background(), b%2 == 0, actions.Event{RunID: "single", Kind: actions.KindAttempt}); err != nil {
					t.Error(err)
				}
			})
		}
	}
	wg.Wait()
	if err := l.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
	for b, evs := range batches {
		for i := range evs {
			if evs[i].Seq != evs[0].Seq+int64(i) {
				t.Fatalf("batch %d was split: seqs %d then %d at index %d", b, evs[0].Seq, evs[i].Seq, i)
			}
		}
	}
	if res, err := l.Verify(t.Context(), ""); err != nil || !res.OK || res.Events != 6*5+5+12+19+26+33+40 {
		t.Errorf("Verify = %+v, %v", res, err)
	}
}

// Two ulc processes appending to one file must still produce one chain:
// the seq and previous hash are read under the write lock (BEGIN
// IMMEDIATE). Two handles have separate connection pools and writers,
// which is what two processes would have.
func TestConcurrentWritersKeepOneChain(t *testing.T) {
	path := newPath(t)
	logs := []*Log{openLog(t, path), openLog(t, path)}
	const goroutines, perG = 4, 30
	var wg sync.WaitGroup
	for h, l := range logs {
		for g := range goroutines {
			wg.Go(func() {
				run := fmt.Sprintf("h%d-g%d", h, g)
				for i := range perG {
					evs := []actions.Event{{RunID: run, Kind: actions.KindAttempt, Step: i + 1}}
					if i%5 == 0 { // some multi-event batches
						evs = append(evs, actions.Event{RunID: run, Kind: actions.KindResult, Step: i + 1, Outcome: actions.Revoked})
					}
					if err := l.Record(context.Background(), i%3 != 0, evs...); err != nil {
						t.Error(err)
						return
					}
				}
			})
		}
	}
	wg.Wait()
	for _, l := range logs {
		if err := l.Flush(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
	want := int64(len(logs) * goroutines * (perG + perG/5))
	res, err := logs[0].Verify(t.Context(), "")
	if err != nil || !res.OK || res.Events != want || res.HeadSeq != want {
		t.Fatalf("Verify = %+v, %v; want OK with %d events", res, err, want)
	}
	// Each handle's Head sees the other's writes: it is the file's head.
	for i, l := range logs {
		if seq, hash, _ := l.Head(t.Context()); seq != want || hash != res.Head {
			t.Errorf("handle %d: Head = %d %s; want %d %s", i, seq, hash, want, res.Head)
		}
	}
}

func TestCloseFlushesAndRefuses(t *testing.T) {
	path := newPath(t)
	l, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 50 {
		if err := l.Record(t.Context(), false, actions.Event{RunID: "r", Kind: actions.KindAttempt, Step: i + 1}); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Errorf("second Close = %v; want nil", err)
	}
	err = l.Record(t.Context(), true, actions.Event{RunID: "r", Kind: actions.KindAttempt})
	if !errors.Is(err, ErrClosed) || !errors.Is(err, ErrUnavailable) {
		t.Errorf("Record after Close = %v; want ErrClosed", err)
	}
	if _, _, err := l.Head(t.Context()); !errors.Is(err, ErrClosed) {
		t.Errorf("Head after Close = %v; want ErrClosed", err)
	}

	// Everything queued without waiting was committed by Close.
	l2 := openLog(t, path)
	if seq, _, _ := l2.Head(t.Context()); seq != 50 {
		t.Errorf("after reopen head = %d; want 50", seq)
	}
}

func TestStorageSettings(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state", "ulc")
	path := filepath.Join(dir, "audit.db")
	l := openLog(t, path)
	if l.Path() != path {
		t.Errorf("Path() = %q; want %q", l.Path(), path)
	}
	record(t, l, actions.Event{RunID: "r", Kind: actions.KindRunStarted})

	// The audit trail names users and targets: only its owner reads it.
	for p, want := range map[string]os.FileMode{
		dir: 0o700, path: 0o600, path + "-wal": 0o600, path + "-shm": 0o600,
	} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if got := fi.Mode().Perm(); got != want {
			t.Errorf("mode of %s = %o; want %o", filepath.Base(p), got, want)
		}
	}

	for pragma, want := range map[string]string{
		"journal_mode": "wal",
		"synchronous":  "2", // FULL: a commit is durable when Record returns
		"foreign_keys": "1",
		"busy_timeout": "10000",
	} {
		var got string
		if err := l.db.QueryRowContext(context.Background(), `PRAGMA `+pragma).Scan(&got); err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Errorf("PRAGMA %s = %s; want %s", pragma, got, want)
		}
	}
}

func TestMigrationsAreRecordedOnce(t *testing.T) {
	path := newPath(t)
	l := openLog(t, path)
	_ = l.Close()
	l = openLog(t, path) // a second Open applies nothing again
	_ = l.Close()

	db := rawDB(t, path)
	rows, err := db.QueryContext(context.Background(), `SELECT version, name FROM schema_migrations ORDER BY version`)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = rows.Close() }()
	var got []string
	for rows.Next() {
		var v int
		var name string
		if err := rows.Scan(&v, &name); err != nil {
			t.Fatal(err)
		}
		got = append(got, fmt.Sprint(v, " ", name))
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if strings.Join(got, ";") != "1 0001_events.sql;2 0002_forward_cursor.sql" {
		t.Errorf("schema_migrations = %q; want one row for each migration, applied once", got)
	}
	var app int64
	if err := db.QueryRowContext(context.Background(), `PRAGMA application_id`).Scan(&app); err != nil {
		t.Fatal(err)
	}
	if app != applicationID {
		t.Errorf("application_id = %#x; want %#x", app, applicationID)
	}
}

func TestOpenErrorsAreOneClearSentence(t *testing.T) {
	withBusyTimeout(t, 200*time.Millisecond)
	cases := []struct {
		name  string
		setup func(t *testing.T, path string)
		want  string
	}{{
		name: "not a database",
		setup: func(t *testing.T, path string) {
			if err := os.WriteFile(path, []byte(strings.Repeat("incident notes, not a database\n", 40)), 0o600); err != nil {
				t.Fatal(err)
			}
		},
		want: "is not a ulc audit log (file is not a database)",
	}, {
		name: "another application's database",
		setup: func(t *testing.T, path string) {
			mustExec(t, rawDB(t, path), `CREATE TABLE contacts (name TEXT)`)
		},
		want: "is not a ulc audit log (it is a SQLite database of another application)",
	}, {
		name: "written by a newer ulc",
		setup: func(t *testing.T, path string) {
			l, err := Open(path)
			if err != nil {
				t.Fatal(err)
			}
			_ = l.Close()
			mustExec(t, rawDB(t, path), `INSERT INTO schema_migrations VALUES (7, '0007_future.sql', '')`)
		},
		want: "was written by a newer version of ulc (schema version 7; this one knows up to 2)",
	}, {
		name: "read-only file",
		setup: func(t *testing.T, path string) {
			l, err := Open(path)
			if err != nil {
				t.Fatal(err)
			}
			_ = l.Close()
			makeReadOnly(t, path)
		},
		want: "cannot open: ", // permission denied; operation not permitted as root
	}, {
		name: "a directory",
		setup: func(t *testing.T, path string) {
			if err := os.Mkdir(path, 0o700); err != nil {
				t.Fatal(err)
			}
		},
		want: "cannot open: is a directory",
	}, {
		name: "locked by another process",
		setup: func(t *testing.T, path string) {
			db := rawDB(t, path)
			mustExec(t, db, `PRAGMA journal_mode=WAL`)
			conn, err := db.Conn(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = conn.Close() })
			if _, err := conn.ExecContext(context.Background(), `BEGIN EXCLUSIVE`); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _, _ = conn.ExecContext(context.Background(), `ROLLBACK`) })
		},
		want: "database is locked by another process",
	}}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := newPath(t)
			c.setup(t, path)
			l, err := Open(path)
			if err == nil {
				_ = l.Close()
				t.Fatalf("Open succeeded; want %q", c.want)
			}
			t.Log(err)
			prefix := "audit log " + path + ": "
			if msg := err.Error(); !strings.HasPrefix(msg, prefix+c.want) || strings.Contains(msg, "\n") {
				t.Errorf("Open error = %q; want %q", msg, prefix+c.want+"...")
			}
			if !errors.Is(err, ErrUnavailable) {
				t.Errorf("errors.Is(%v, ErrUnavailable) = false", err)
			}
		})
	}
}

// A write the engine waits for must fail when the file can no longer be
// written, so that nothing is sent unrecorded.
func TestRecordFailsClosedWhenFileBecomesReadOnly(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: only the immutable attribute refuses writes through descriptors sqlite already holds (chmod does not)")
	}
	path := newPath(t)
	l := openLog(t, path)
	s := step{user: "alice", target: "app1", action: actions.ActionGTR}
	record(t, l, planEvents(t, "r1", base, nil, []step{s})...)
	seq, head, _ := l.Head(t.Context())

	makeReadOnly(t, path, path+"-wal")
	err := l.Record(t.Context(), true, planEvents(t, "r2", base, nil, []step{s})...)
	if err == nil {
		t.Fatal("Record to a read-only log succeeded")
	}
	t.Log(err)
	if !errors.Is(err, ErrUnavailable) || !strings.HasPrefix(err.Error(), "audit log "+path+": file is read-only") {
		t.Errorf("Record error = %q; want %q and ErrUnavailable", err, "audit log "+path+": file is read-only ...")
	}
	if s2, h2, _ := l.Head(t.Context()); s2 != seq || h2 != head {
		t.Errorf("head moved to %d %s after a failed write", s2, h2)
	}
}

func TestLockedWriteFailsAndQueuedFailureSticks(t *testing.T) {
	withBusyTimeout(t, 200*time.Millisecond)
	path := newPath(t)
	l := openLog(t, path)
	ev := actions.Event{RunID: "r", Kind: actions.KindAttempt}
	record(t, l, ev)

	conn, err := rawDB(t, path).Conn(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = conn.Close() }()
	lock := func() {
		if _, err := conn.ExecContext(t.Context(), `BEGIN EXCLUSIVE`); err != nil {
			t.Fatal(err)
		}
	}
	unlock := func() {
		if _, err := conn.ExecContext(t.Context(), `ROLLBACK`); err != nil {
			t.Fatal(err)
		}
	}
	want := "audit log " + path + ": database is locked by another process"

	// A waited-for write fails, and the caller knows: not sticky.
	lock()
	if err := l.Record(t.Context(), true, ev); err == nil || err.Error() != want || !errors.Is(err, ErrUnavailable) {
		t.Errorf("Record while locked = %v; want %q", err, want)
	}
	unlock()
	record(t, l, ev)

	// A queued write fails with nobody waiting: the failure sticks, so the
	// caller learns at the next call and the log does not go on with a
	// hole in the story.
	lock()
	if err := l.Record(t.Context(), false, ev); err != nil {
		t.Fatalf("queued Record = %v; want nil (it fails later)", err)
	}
	if err := l.Flush(t.Context()); err == nil || err.Error() != want {
		t.Errorf("Flush = %v; want %q", err, want)
	}
	unlock()
	if err := l.Record(t.Context(), true, ev); err == nil || err.Error() != want {
		t.Errorf("Record after a queued failure = %v; want the sticky %q", err, want)
	}
	if err := l.Close(); err == nil || err.Error() != want {
		t.Errorf("Close = %v; want the sticky %q", err, want)
	}
	if n := count(t, rawDB(t, path)); n != 2 {
		t.Errorf("%d events in the file; want 2", n)
	}
}

func TestRecordHonoursContext(t *testing.T) {
	l := openLog(t, newPath(t))
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	// Either it was queued before the context was looked at, or not; what
	// matters is that a cancelled caller is not kept waiting.
	err := l.Record(ctx, true, actions.Event{RunID: "r", Kind: actions.KindAttempt})
	if err != nil && !errors.Is(err, context.Canceled) {
		t.Errorf("Record with cancelled context = %v", err)
	}
	if err := l.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
}

// Every storage failure an operator can meet reads as one sentence about
// the file, and is recognisable as ErrUnavailable (exit status 3).
func TestStorageErrorSentences(t *testing.T) {
	cases := []struct {
		err  error
		want string
	}{
		{sqlite3.Error{Code: sqlite3.ErrFull}, "disk is full"},
		{sqlite3.Error{Code: sqlite3.ErrIoErr, SystemErrno: syscall.ENOSPC}, "disk is full"},
		{sqlite3.Error{Code: sqlite3.ErrReadonly}, "file is read-only"},
		{sqlite3.Error{Code: sqlite3.ErrIoErr, SystemErrno: syscall.EROFS}, "file is read-only (read-only file system)"},
		{sqlite3.Error{Code: sqlite3.ErrBusy}, "database is locked by another process"},
		{sqlite3.Error{Code: sqlite3.ErrNotADB}, "is not a ulc audit log (file is not a database)"},
		{sqlite3.Error{Code: sqlite3.ErrCorrupt}, "database file is corrupt: " + corruptAdvice},
		{sqlite3.Error{Code: sqlite3.ErrCantOpen, SystemErrno: syscall.EACCES}, "cannot open: permission denied"},
		{sqlite3.Error{Code: sqlite3.ErrIoErr, SystemErrno: syscall.EIO}, "disk I/O error (input/output error)"},
		{&os.PathError{Op: "open", Path: "/x", Err: syscall.EACCES}, "cannot open: permission denied"},
		{fmt.Errorf("migration 0002_x.sql: %w", sqlite3.Error{Code: sqlite3.ErrFull}), "disk is full"},
	}
	for _, c := range cases {
		err := unavailable("/var/lib/ulc/audit.db", c.err)
		if want := "audit log /var/lib/ulc/audit.db: " + c.want; err.Error() != want {
			t.Errorf("%v: %q; want %q", c.err, err, want)
		}
		if !errors.Is(err, ErrUnavailable) {
			t.Errorf("%v: not ErrUnavailable", c.err)
		}
		var se sqlite3.Error
		if _, isSQLite := c.err.(sqlite3.Error); isSQLite && !errors.As(err, &se) {
			t.Errorf("%v: the sqlite3.Error is not reachable with errors.As", c.err)
		}
	}
}

// The path reaches sqlite as an escaped file: URI, so no character in it
// is taken for a URI parameter.
func TestOpenPathWithURICharacters(t *testing.T) {
	path := filepath.Join(t.TempDir(), "inc 42?mode=ro#x%20", "audit.db")
	l := openLog(t, path)
	record(t, l, actions.Event{RunID: "r", Kind: actions.KindRunStarted})
	for _, p := range []string{path, path + "-wal"} {
		if _, err := os.Stat(p); err != nil {
			t.Fatalf("the log is not at %q: %v", path, err)
		}
	}
	if res, err := l.Verify(t.Context(), ""); err != nil || !res.OK || res.Events != 1 {
		t.Errorf("Verify = %+v, %v", res, err)
	}
}

// TestConcurrentOpenOfAFreshFile: several ulc processes starting at once on
// a log that does not exist yet all open it; none mistakes the half-made
// file for another application's database or gives up on the lock.
func TestConcurrentOpenOfAFreshFile(t *testing.T) {
	for i := range 30 {
		p := filepath.Join(t.TempDir(), "audit.db")
		var wg sync.WaitGroup
		errs := make([]error, 4)
		for j := range errs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				l, err := Open(p)
				errs[j] = err
				if err == nil {
					errs[j] = l.Close()
				}
			}()
		}
		wg.Wait()
		for _, err := range errs {
			if err != nil {
				t.Fatalf("round %d: %v", i, err)
			}
		}
	}
}
