package audit

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"
	"time"

	"ulc/actions"
	"ulc/history"
)

// fileState is what an auditor's read must leave unchanged.
type fileState struct {
	sum     string
	modTime time.Time
}

func stateOf(t testing.TB, path string) fileState {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fileState{sum: string(b), modTime: fi.ModTime()}
}

// reads is everything a read-only Log answers, gathered with every read
// method, so two opens of the same log can be compared.
type reads struct {
	Runs    []RunSummary
	Run     *actions.RunState
	Events  int
	Verify  VerifyResult
	Stats   map[string][]history.TargetResult
	HeadSeq int64
	Head    string
	JSONL   string
	CSV     string
}

// readAll calls every read method of l (and CheckIntegrity), failing the
// test on any error, and checks that every write method is refused.
func readAll(t testing.TB, l *Log, runID string) reads {
	t.Helper()
	ctx := t.Context()
	var r reads
	var err error
	if r.Runs, err = l.Runs(ctx, RunFilter{}); err != nil {
		t.Errorf("Runs: %v", err)
	}
	if r.Run, _, err = l.Run(ctx, runID); err != nil {
		t.Errorf("Run: %v", err)
	}
	if err := l.Events(ctx, "", func(actions.Event) error { r.Events++; return nil }); err != nil {
		t.Errorf("Events: %v", err)
	}
	if r.Verify, err = l.Verify(ctx, ""); err != nil {
		t.Errorf("Verify: %v", err)
	}
	if r.Stats, err = l.TargetStats(ctx, 5); err != nil {
		t.Errorf("TargetStats: %v", err)
	}
	if r.HeadSeq, r.Head, err = l.Head(ctx); err != nil {
		t.Errorf("Head: %v", err)
	}
	var buf bytes.Buffer
	if err := l.Export(ctx, &buf, "jsonl", ""); err != nil {
		t.Errorf("Export jsonl: %v", err)
	}
	r.JSONL = buf.String()
	buf.Reset()
	if err := l.Export(ctx, &buf, "csv", ""); err != nil {
		t.Errorf("Export csv: %v", err)
	}
	r.CSV = buf.String()
	if err := l.CheckIntegrity(ctx); err != nil {
		t.Errorf("CheckIntegrity: %v", err)
	}
	if l.readOnly {
		checkWritesRefused(t, l)
	}
	return r
}

// checkWritesRefused checks that Record and Flush fail, saying why.
func checkWritesRefused(t testing.TB, l *Log) {
	t.Helper()
	ev := actions.Event{RunID: "r-new", Kind: actions.KindRunStarted}
	for name, err := range map[string]error{
		"Record(wait)":    l.Record(t.Context(), true, ev),
		"Record(no wait)": l.Record(t.Context(), false, ev),
		"Flush":           l.Flush(t.Context()),
	} {
		if !errors.Is(err, ErrReadOnly) || !errors.Is(err, ErrUnavailable) ||
			!strings.Contains(fmtErr(err), "the audit log was opened read-only") {
			t.Errorf("%s on a read-only log = %v; want ErrReadOnly saying %q", name, err, "the audit log was opened read-only")
		}
	}
}

func fmtErr(err error) string {
	if err == nil {
		return "<nil>"
	}
	return err.Error()
}

// sampleLog records two runs, one of them with targets' answers, closes
// it (so everything is in the main file) and returns its path.
func sampleLog(t testing.TB) string {
	t.Helper()
	path, _ := tenEvents(t)
	l := openLog(t, path)
	s := step{"bob@example.com", "app1", actions.ActionGTR}
	record(t, l, planEvents(t, "run-2", base.Add(time.Hour), []actions.User{{Login: "bob@example.com"}}, []step{s})...)
	record(t, l, result("run-2", base.Add(time.Hour), 1, s, 1, 404, actions.NotFound))
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

// A read-only open answers every read exactly as a read-write open does,
// refuses every write, and leaves the file's bytes and time unchanged.
func TestOpenReadOnlyReadsEverythingAndWritesNothing(t *testing.T) {
	path := sampleLog(t)
	before := stateOf(t, path)
	time.Sleep(10 * time.Millisecond) // a write now would move the mtime visibly

	ro, err := OpenReadOnly(path)
	if err != nil {
		t.Fatal(err)
	}
	got := readAll(t, ro, "run-1")
	if err := ro.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	if err := ro.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if after := stateOf(t, path); after.sum != before.sum || !after.modTime.Equal(before.modTime) {
		t.Errorf("the log file changed under a read-only open (mtime %v -> %v)", before.modTime, after.modTime)
	}
	if got.Events != 13 || !got.Verify.OK || got.HeadSeq != 13 || len(got.Runs) != 2 || len(got.Stats["app1"]) != 2 {
		t.Errorf("read-only reads: %d events, verify %+v, head %d, %d runs, app1 stats %v",
			got.Events, got.Verify, got.HeadSeq, len(got.Runs), got.Stats["app1"])
	}

	rw := openLog(t, path)
	want := readAll(t, rw, "run-1")
	if !reflect.DeepEqual(got, want) {
		gj, _ := json.Marshal(got)
		wj, _ := json.Marshal(want)
		t.Errorf("read-only answers differ from read-write ones:\n%s\n%s", gj, wj)
	}
}

// A read-only Log sees what a writer commits while it is open.
func TestOpenReadOnlySeesALiveWriter(t *testing.T) {
	path := newPath(t)
	w := openLog(t, path)
	record(t, w, actions.Event{RunID: "r", Kind: actions.KindRunStarted})
	ro, err := OpenReadOnly(path)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = ro.Close() }()
	record(t, w, actions.Event{RunID: "r", Kind: actions.KindRunFinished})
	if seq, _, err := ro.Head(t.Context()); err != nil || seq != 2 {
		t.Errorf("Head = %d, %v; want 2, the writer's new head", seq, err)
	}
	if res, err := ro.Verify(t.Context(), ""); err != nil || !res.OK || res.Events != 2 {
		t.Errorf("Verify = %+v, %v", res, err)
	}
}

func TestOpenReadOnlyRefusals(t *testing.T) {
	cases := []struct {
		name  string
		setup func(t *testing.T, path string)
		want  string
	}{{
		name:  "missing file",
		setup: func(t *testing.T, path string) {},
		want:  "cannot open: no such file or directory",
	}, {
		name: "a directory",
		setup: func(t *testing.T, path string) {
			if err := os.Mkdir(path, 0o700); err != nil {
				t.Fatal(err)
			}
		},
		want: "cannot open: is a directory",
	}, {
		name: "empty file",
		setup: func(t *testing.T, path string) {
			if err := os.WriteFile(path, nil, 0o600); err != nil {
				t.Fatal(err)
			}
		},
		want: "is not a ulc audit log (it is empty)",
	}, {
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
			if err := openLog(t, path).Close(); err != nil {
				t.Fatal(err)
			}
			mustExec(t, rawDB(t, path), `INSERT INTO schema_migrations VALUES (7, '0007_future.sql', '')`)
		},
		want: "was written by a newer version of ulc (schema version 7; this one knows up to 2)",
	}, {
		name: "written by an older ulc",
		setup: func(t *testing.T, path string) {
			if err := openLog(t, path).Close(); err != nil {
				t.Fatal(err)
			}
			db := rawDB(t, path)
			mustExec(t, db, `DROP TRIGGER schema_migrations_no_delete`)
			mustExec(t, db, `DELETE FROM schema_migrations`)
		},
		want: "was written by an older version of ulc (schema version 0; this one reads version 2): open a copy of it read-write once to upgrade the copy",
	}}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := newPath(t)
			c.setup(t, path)
			before, statErr := os.Stat(path)
			l, err := OpenReadOnly(path)
			if err == nil {
				_ = l.Close()
				t.Fatalf("OpenReadOnly succeeded; want %q", c.want)
			}
			t.Log(err)
			if msg, want := err.Error(), "audit log "+path+": "+c.want; msg != want {
				t.Errorf("OpenReadOnly error = %q\nwant %q", msg, want)
			}
			if !errors.Is(err, ErrUnavailable) {
				t.Errorf("errors.Is(%v, ErrUnavailable) = false", err)
			}
			// Nothing was created or migrated.
			after, err := os.Stat(path)
			switch {
			case statErr != nil && err == nil:
				t.Errorf("OpenReadOnly created %s", path)
			case statErr == nil && (after.Size() != before.Size() || !after.ModTime().Equal(before.ModTime())):
				t.Errorf("OpenReadOnly changed %s", path)
			}
		})
	}
}

// An immutable open (used only where SQLite cannot create the -shm) trusts
// that nothing writes the file; every read checks that, and fails rather
// than report what may be a torn read.
func TestImmutableOpenNoticesAWriter(t *testing.T) {
	for name, change := range map[string]func(t *testing.T, path string){
		"file touched": func(t *testing.T, path string) {
			future := time.Now().Add(time.Hour)
			if err := os.Chtimes(path, future, future); err != nil {
				t.Fatal(err)
			}
		},
		"a -wal appeared": func(t *testing.T, path string) {
			if err := os.WriteFile(path+"-wal", []byte("a writer's frames"), 0o600); err != nil {
				t.Fatal(err)
			}
		},
		"file replaced": func(t *testing.T, path string) {
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			tmp := filepath.Join(filepath.Dir(path), "new.db")
			if err := os.WriteFile(tmp, b, 0o600); err != nil {
				t.Fatal(err)
			}
			if err := os.Rename(tmp, path); err != nil {
				t.Fatal(err)
			}
		},
	} {
		t.Run(name, func(t *testing.T) {
			path := sampleLog(t)
			abs, _ := filepath.Abs(path)
			l := &Log{path: path, abs: abs, readOnly: true, done: closedChan}
			db, err := openImmutable(abs, l)
			if err != nil {
				t.Fatal(err)
			}
			l.db = db
			defer func() { _ = l.Close() }()
			if seq, _, err := l.Head(t.Context()); err != nil || seq != 13 {
				t.Fatalf("Head of an unchanged file = %d, %v", seq, err)
			}
			change(t, path)
			if _, _, err := l.Head(t.Context()); !errors.Is(err, ErrChanged) || !errors.Is(err, ErrUnavailable) {
				t.Errorf("Head after a change = %v; want ErrChanged", err)
			}
			if _, err := l.Verify(t.Context(), ""); !errors.Is(err, ErrChanged) {
				t.Errorf("Verify after a change = %v; want ErrChanged", err)
			}
			if err := l.Export(t.Context(), &bytes.Buffer{}, "jsonl", ""); !errors.Is(err, ErrChanged) {
				t.Errorf("Export after a change = %v; want ErrChanged", err)
			}
		})
	}
}

// auditorEnv carries, to the copy of the test binary that runs as an
// unprivileged user, the case it checks (see TestAuditorWithoutWriteAccess).
const auditorEnv = "ULC_AUDIT_AUDITOR_CASE"

// auditorCase is one log copy handed to an auditor, and what reading it
// must give.
type auditorCase struct {
	Name           string
	Dir            string   // the folder, 0555 root-owned or the auditor's own
	Files          []string // the files copied into Dir (audit.db first)
	FolderWritable bool
	Events         int64  // the events every read must see, or
	Error          string // the error OpenReadOnly must give instead
}

// hotLog returns the files of a log copied while ulc had it open: its
// first run is in the main file, its second only in the -wal (with the
// -shm beside it), as a copy taken mid-incident or left by a crash is.
func hotLog(t *testing.T) (db, wal, shm string) {
	t.Helper()
	path, _ := tenEvents(t) // closed: its 10 events are in the main file
	l := openLog(t, path)
	s := step{"bob@example.com", "app1", actions.ActionGTR}
	record(t, l, planEvents(t, "run-2", base.Add(time.Hour), []actions.User{{Login: "bob@example.com"}}, []step{s})...)
	record(t, l, result("run-2", base.Add(time.Hour), 1, s, 1, 404, actions.NotFound))
	dir := t.TempDir()
	for _, suffix := range []string{"", "-wal", "-shm"} {
		b, err := os.ReadFile(path + suffix)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "hot.db"+suffix), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if fi, err := os.Stat(path + "-wal"); err != nil || fi.Size() == 0 {
		t.Fatalf("the second run is not in the -wal: %v", err)
	}
	return filepath.Join(dir, "hot.db"), filepath.Join(dir, "hot.db-wal"), filepath.Join(dir, "hot.db-shm")
}

// An auditor who can write neither the log nor its folder verifies it.
// Tests run as root, whom file modes do not bind, so this test copies its
// own binary where anyone can run it and runs it again as uid/gid 65534
// (nobody) on copies of a real log: files 0444 owned by root, in a folder
// that is root's with mode 0555, or the auditor's own. The unprivileged run
// is this same test, told its case by auditorEnv.
func TestAuditorWithoutWriteAccess(t *testing.T) {
	if spec := os.Getenv(auditorEnv); spec != "" {
		auditorReads(t, spec)
		return
	}
	if os.Geteuid() != 0 {
		if os.Getenv("CI") == "true" {
			t.Fatal("this test runs as root, to switch to an unprivileged user (uid 65534)")
		}
		t.Skip("needs root to run a copy of itself as an unprivileged user (uid 65534)")
	}
	top, err := os.MkdirTemp("", "ulc-auditor-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(top) })
	if err := os.Chmod(top, 0o755); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(top, "audit.test")
	exe, err := os.ReadFile(os.Args[0])
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin, exe, 0o755); err != nil {
		t.Fatal(err)
	}

	clean := sampleLog(t)
	hotDB, hotWAL, hotSHM := hotLog(t)
	const nobody = 65534
	cases := []struct {
		auditorCase
		src []string
	}{
		{auditorCase{Name: "read-only folder, no -wal", Events: 13}, []string{clean}},
		{auditorCase{Name: "read-only folder, -wal and -shm", Events: 13}, []string{hotDB, hotWAL, hotSHM}},
		{auditorCase{Name: "read-only folder, -wal without -shm",
			Error: "cannot be read in place: it has a write-ahead log (audit.db-wal) but no audit.db-shm, and its folder is not writable; copy audit.db and audit.db-wal into a folder you can write and read the copy"},
			[]string{hotDB, hotWAL}},
		{auditorCase{Name: "writable folder, no -wal", FolderWritable: true, Events: 13}, []string{clean}},
		{auditorCase{Name: "writable folder, -wal without -shm", FolderWritable: true, Events: 13}, []string{hotDB, hotWAL}},
	}
	for i, c := range cases {
		t.Run(c.Name, func(t *testing.T) {
			c.Dir = filepath.Join(top, "case"+string(rune('a'+i)))
			if err := os.Mkdir(c.Dir, 0o755); err != nil {
				t.Fatal(err)
			}
			states := map[string]fileState{}
			for j, src := range c.src {
				dst := filepath.Join(c.Dir, "audit.db"+[]string{"", "-wal", "-shm"}[j])
				b, err := os.ReadFile(src)
				if err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(dst, b, 0o444); err != nil {
					t.Fatal(err)
				}
				c.Files = append(c.Files, dst)
				states[dst] = stateOf(t, dst)
			}
			mode, owner := os.FileMode(0o555), 0
			if c.FolderWritable {
				mode, owner = 0o755, nobody
			}
			if err := os.Chown(c.Dir, owner, owner); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(c.Dir, mode); err != nil {
				t.Fatal(err)
			}
			spec, err := json.Marshal(c.auditorCase)
			if err != nil {
				t.Fatal(err)
			}
			time.Sleep(10 * time.Millisecond) // a write would move an mtime visibly

			cmd := exec.CommandContext(context.Background(), bin, "-test.run=^TestAuditorWithoutWriteAccess$", "-test.count=1", "-test.v")
			cmd.Dir = "/"
			cmd.Env = append(os.Environ(), auditorEnv+"="+string(spec), "HOME=/", "TMPDIR="+os.TempDir())
			cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: nobody, Gid: nobody}}
			out, err := cmd.CombinedOutput()
			if err != nil || !bytes.Contains(out, []byte("--- PASS: TestAuditorWithoutWriteAccess")) {
				t.Errorf("the auditor's run (uid %d) failed: %v\n%s", nobody, err, out)
			} else {
				t.Logf("the auditor's run (uid %d):\n%s", nobody, out)
			}
			for p, before := range states {
				if after := stateOf(t, p); after.sum != before.sum || !after.modTime.Equal(before.modTime) {
					t.Errorf("%s changed while the auditor read it", filepath.Base(p))
				}
			}
		})
	}
}

// auditorReads is the unprivileged half of TestAuditorWithoutWriteAccess:
// it reads the log of the case in spec with every read method.
func auditorReads(t *testing.T, spec string) {
	var c auditorCase
	if err := json.Unmarshal([]byte(spec), &c); err != nil {
		t.Fatal(err)
	}
	t.Logf("case %q as uid %d", c.Name, os.Geteuid())
	if os.Geteuid() == 0 {
		t.Fatal("the auditor's run is root; it must be an unprivileged user")
	}
	path := c.Files[0]
	// The case is what it says: the file is not writable, nor the folder
	// unless the case says so.
	if f, err := os.OpenFile(path, os.O_RDWR, 0); err == nil {
		_ = f.Close()
		t.Fatalf("%s is writable by this user", path)
	}
	if writable := syscall.Access(c.Dir, 2 /* W_OK */) == nil; writable != c.FolderWritable {
		t.Fatalf("folder writable = %v; the case wants %v", writable, c.FolderWritable)
	}

	l, err := OpenReadOnly(path)
	if c.Error != "" {
		if err == nil {
			_ = l.Close()
			t.Fatalf("OpenReadOnly succeeded; want %q", c.Error)
		}
		if want := "audit log " + path + ": " + c.Error; err.Error() != want || !errors.Is(err, ErrUnavailable) {
			t.Fatalf("OpenReadOnly error = %q\nwant %q", err, want)
		}
		return
	}
	if err != nil {
		t.Fatalf("OpenReadOnly: %v", err)
	}
	defer func() { _ = l.Close() }()
	r := readAll(t, l, "run-2")
	if int64(r.Events) != c.Events || r.HeadSeq != c.Events || !r.Verify.OK || r.Verify.Events != c.Events {
		t.Errorf("read %d events, head %d, verify %+v; want %d events, verified", r.Events, r.HeadSeq, r.Verify, c.Events)
	}
	if len(r.Runs) != 2 || r.Run == nil || r.Run.RunID != "run-2" || strings.Count(r.JSONL, "\n") != int(c.Events) {
		t.Errorf("runs %d, run %v, %d JSONL lines", len(r.Runs), r.Run, strings.Count(r.JSONL, "\n"))
	}
	// A read-write open is refused, as it should be for this user.
	if rw, err := Open(path); err == nil {
		_ = rw.Close()
		t.Error("a read-write Open succeeded for a user who cannot write the file")
	}
	t.Logf("read %d events, head %s, integrity checked, writes refused", r.Events, r.Head)
}
