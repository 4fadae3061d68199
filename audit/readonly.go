package audit

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/mattn/go-sqlite3"
)

// OpenReadOnly opens the audit log at path for reading only, the way an
// auditor opens the copy of a log handed over as evidence: it never creates,
// migrates or writes the file, starts no writer, and works when neither the
// file nor its folder is writable by the caller. Every read method (Runs,
// Run, Events, Verify, TargetStats, Head, Export, CheckIntegrity) works;
// Record and Flush return an error matching ErrReadOnly.
//
// How the file is read depends on what the folder allows, because a log in
// WAL mode is normally read through its -wal and -shm files:
//
//   - It is opened with SQLite's mode=ro. That reads the -wal (committed
//     events not yet copied into the main file) and takes the usual locks,
//     so a log another ulc is writing at the same moment reads correctly.
//     In a writable folder SQLite may create empty -wal and -shm files
//     beside it; the log file itself is never written (its descriptor is
//     read-only).
//   - If that fails because the folder is not writable and there is no -wal
//     (or an empty one), nothing committed lives outside the main file, and
//     no SQLite connection has it open (the last one to close removes the
//     -wal). Only then is it opened immutable=1, without locks or -shm. As
//     that means nothing would notice another process starting to write it,
//     every read re-checks the file's size, time and inode and the absence
//     of -wal and -journal files, and fails instead of returning what may be
//     a torn read if any of them changed.
//   - A -wal that holds events but has no -shm beside it, in a folder that
//     is not writable, cannot be read in place (immutable=1 would silently
//     leave those events out): that is an error saying to copy both files
//     into a writable folder.
//
// The schema is checked but never migrated: a log written by an older or a
// newer ulc, or a SQLite file of another application, is an error. Errors
// are one sentence naming the file and match ErrUnavailable.
func OpenReadOnly(path string) (*Log, error) {
	if path == "" {
		return nil, &Error{Path: `""`, Reason: "no file name given"}
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, unavailable(path, err)
	}
	fi, err := os.Stat(abs)
	switch {
	case err != nil:
		return nil, unavailable(path, err)
	case fi.IsDir():
		return nil, &Error{Path: path, Reason: "cannot open: is a directory"}
	case !fi.Mode().IsRegular():
		return nil, &Error{Path: path, Reason: "cannot open: is not a regular file"}
	}
	l := &Log{path: path, abs: abs, readOnly: true, done: closedChan}
	db, err := openReader(abs, false)
	if err != nil && canRetryImmutable(abs, err) {
		db, err = openImmutable(abs, l)
	}
	if err != nil {
		return nil, readOnlyOpenError(path, abs, err)
	}
	l.db = db
	return l, nil
}

// closedChan is the done channel of a Log without a writer.
var closedChan = func() chan struct{} { c := make(chan struct{}); close(c); return c }()

// openReader opens abs read-only (immutable when asked) and checks that it
// is a ulc audit log of the schema this ulc reads. The first query is what
// makes SQLite really open the file (and its -wal), so its errors are the
// open's errors.
func openReader(abs string, immutable bool) (*sql.DB, error) {
	db, err := sql.Open("sqlite3", readOnlyDSN(abs, immutable))
	if err != nil {
		return nil, err
	}
	if err := checkSchema(context.Background(), db); err != nil {
		_ = db.Close() // the error being returned is the one that matters
		return nil, err
	}
	return db, nil
}

// readOnlyDSN is the data source of a read-only connection to abs: mode=ro
// (and immutable=1 when asked), query_only as a second guard, and no
// journal mode (setting one would write).
func readOnlyDSN(abs string, immutable bool) string {
	q := url.Values{}
	q.Set("mode", "ro")
	if immutable {
		q.Set("immutable", "1")
	}
	q.Set("_query_only", "1")
	q.Set("_busy_timeout", strconv.FormatInt(busyTimeout.Milliseconds(), 10))
	u := url.URL{Scheme: "file", Path: filepath.ToSlash(abs), RawQuery: q.Encode()}
	return u.String()
}

// canRetryImmutable reports whether a failed mode=ro open of abs may be
// retried immutable: SQLite could not create the -wal or -shm (the folder
// is not writable), and no -wal with content or -journal exists, so the
// main file holds every committed event.
func canRetryImmutable(abs string, err error) bool {
	var se sqlite3.Error
	if !errors.As(err, &se) || (se.Code != sqlite3.ErrReadonly && se.Code != sqlite3.ErrCantOpen) {
		return false
	}
	if syscall.Access(filepath.Dir(abs), 2 /* W_OK */) == nil {
		return false // the folder is writable: the failure is something else
	}
	return sideFilesEmpty(abs)
}

// sideFilesEmpty reports whether abs has no -wal with content and no
// -journal beside it.
func sideFilesEmpty(abs string) bool {
	if fi, err := os.Lstat(abs + "-wal"); err == nil && fi.Size() > 0 || err != nil && !errors.Is(err, os.ErrNotExist) {
		return false
	}
	if _, err := os.Lstat(abs + "-journal"); !errors.Is(err, os.ErrNotExist) {
		return false
	}
	return true
}

// openImmutable opens abs immutable and records the state of its files,
// which every later read of l compares against (see frozenFile).
func openImmutable(abs string, l *Log) (*sql.DB, error) {
	before, err := statFrozen(abs)
	if err != nil {
		return nil, err
	}
	db, err := openReader(abs, true)
	if err != nil {
		return nil, err
	}
	l.frozen = &before
	if err := l.unchanged(); err != nil {
		_ = db.Close() // the error being returned is the one that matters
		return nil, err
	}
	return db, nil
}

// frozenFile is what an immutable open relies on not to change: the log
// file's identity, size and modification time, and that it has no -wal or
// -journal with content.
type frozenFile struct {
	abs     string
	dev     uint64
	ino     uint64
	size    int64
	modTime time.Time
}

// statFrozen records the current state of abs for an immutable open.
func statFrozen(abs string) (frozenFile, error) {
	fi, err := os.Stat(abs)
	if err != nil {
		return frozenFile{}, err
	}
	f := frozenFile{abs: abs, size: fi.Size(), modTime: fi.ModTime()}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		f.dev, f.ino = uint64(st.Dev), st.Ino //nolint:unconvert // Dev is int32 or uint64 by platform
	}
	return f, nil
}

// same reports whether f and g describe the same unchanged file.
func (f frozenFile) same(g frozenFile) bool {
	return f.abs == g.abs && f.dev == g.dev && f.ino == g.ino && f.size == g.size && f.modTime.Equal(g.modTime)
}

// unchanged returns an error if l was opened immutable and its file has
// changed since, or a -wal or -journal has appeared: what was read may then
// mix two states of the file, so it must not be reported.
func (l *Log) unchanged() error {
	if l.frozen == nil {
		return nil
	}
	now, err := statFrozen(l.frozen.abs)
	if err == nil && now.same(*l.frozen) && sideFilesEmpty(l.frozen.abs) {
		return nil
	}
	return &Error{Path: l.path, Reason: "changed while it was being read (another process is writing it): read a copy, or open it where ulc can write beside it", Err: ErrChanged}
}

// ErrChanged is matched (errors.Is) by the error of a read of a log opened
// read-only and immutable (see OpenReadOnly) whose file was changed by
// another process meanwhile. It also matches ErrUnavailable.
var ErrChanged = errors.New("audit log changed while it was being read")

// settled is how every read method of l returns: its error, or, if that is
// nil and the file changed under an immutable open, that error.
func (l *Log) settled(err error) error {
	if err != nil {
		return err
	}
	return l.unchanged()
}

// readOnlyOpenError phrases a failed read-only open of abs.
func readOnlyOpenError(path, abs string, err error) error {
	var se sqlite3.Error
	if errors.As(err, &se) && (se.Code == sqlite3.ErrCantOpen || se.Code == sqlite3.ErrReadonly) &&
		syscall.Access(filepath.Dir(abs), 2 /* W_OK */) != nil {
		if !sideFilesEmpty(abs) {
			base := filepath.Base(abs)
			return &Error{Path: path, Reason: fmt.Sprintf(
				"cannot be read in place: it has a write-ahead log (%s-wal) but no %s-shm, and its folder is not writable; copy %s and %s-wal into a folder you can write and read the copy",
				base, base, base, base), Err: err}
		}
	}
	return unavailable(path, err)
}

// checkSchema refuses a file that is not a ulc audit log of the schema
// this ulc reads, without changing anything.
func checkSchema(ctx context.Context, db *sql.DB) error {
	ms, err := migrations()
	if err != nil {
		return err
	}
	latest := ms[len(ms)-1].version
	var appID, tables int64
	if err := db.QueryRowContext(ctx, `PRAGMA application_id`).Scan(&appID); err != nil {
		return err
	}
	if err := db.QueryRowContext(ctx, `SELECT count(*) FROM sqlite_schema`).Scan(&tables); err != nil {
		return err
	}
	switch {
	case appID != applicationID && tables > 0:
		return errForeign
	case appID != applicationID:
		return errEmpty
	}
	var have int
	if err := db.QueryRowContext(ctx, `SELECT coalesce(max(version), 0) FROM schema_migrations`).Scan(&have); err != nil {
		return err
	}
	switch {
	case have > latest:
		return errNewer{have: have, know: latest}
	}
	for v := have + 1; v <= latest; v++ {
		if !readCompatible[v] {
			return errOlder{have: have, know: latest}
		}
	}
	return nil
}

// readCompatible are the migrations a read-only open can do without: they
// add bookkeeping beside the events (the forwarding cursors) and change
// nothing a reader reads or verifies.
var readCompatible = map[int]bool{2: true}

// errEmpty is an empty SQLite file: nothing was ever recorded in it.
var errEmpty = fmt.Errorf("is not a ulc audit log (it is empty)")

// errOlder is a log of an older schema, which a read-only open does not
// migrate.
type errOlder struct{ have, know int }

func (e errOlder) Error() string {
	return fmt.Sprintf("was written by an older version of ulc (schema version %d; this one reads version %d): open a copy of it read-write once to upgrade the copy", e.have, e.know)
}

// readOnlyErr is the error of a write on a read-only Log.
func (l *Log) readOnlyErr() error {
	return &Error{Path: l.path, Reason: "cannot be written: the audit log was opened read-only", Err: ErrReadOnly}
}
