package audit

import (
	"errors"
	"io/fs"
	"syscall"

	"github.com/mattn/go-sqlite3"
)

// ErrUnavailable is matched (errors.Is) by every error that means the audit
// log cannot be opened, read or written: the file is missing, read-only,
// locked, full, corrupt or not an audit log. The CLI maps it to exit status
// 3, and the engine treats it as "send nothing": ulc fails closed.
var ErrUnavailable = errors.New("audit log unavailable")

// ErrClosed is matched (errors.Is) by the error of a call on a closed Log.
// It also matches ErrUnavailable.
var ErrClosed = errors.New("audit log is closed")

// ErrCorrupt is matched (errors.Is) by the error of an audit log whose
// file is damaged: SQLite found pages or records it cannot read. Open checks
// for it before returning, so that a run never sends requests whose evidence
// would land in a log nobody can prove. It also matches ErrUnavailable.
var ErrCorrupt = errors.New("audit log file is corrupt")

// ErrReadOnly is matched (errors.Is) by the error of a write (Record,
// Flush) on a Log opened with OpenReadOnly. It also matches ErrUnavailable,
// so an engine handed a read-only log sends nothing.
var ErrReadOnly = errors.New("the audit log was opened read-only")

// corruptAdvice is what an operator should do with a corrupt log, said once
// for every error that reports one.
const corruptAdvice = "keep this file as evidence, start a new log with --audit-db NEWFILE, and run ulc audit verify on this one"

// Error is a storage failure of the audit log, phrased as one sentence that
// names the file, e.g. "audit log /var/lib/ulc/audit.db: disk is full".
// It matches ErrUnavailable and wraps the underlying error (a
// sqlite3.Error, an *fs.PathError, ...) for errors.As.
type Error struct {
	// Path is the audit log file.
	Path string
	// Reason says what is wrong, without the path.
	Reason string
	// Err is the underlying error, if any.
	Err error
}

// Error returns "audit log PATH: REASON".
func (e *Error) Error() string { return "audit log " + e.Path + ": " + e.Reason }

// Unwrap returns ErrUnavailable and the underlying error, so that both
// errors.Is(err, ErrUnavailable) and errors.As(err, &sqlite3.Error{}) work.
func (e *Error) Unwrap() []error {
	if e.Err == nil {
		return []error{ErrUnavailable}
	}
	return []error{ErrUnavailable, e.Err}
}

// unavailable wraps err into an *Error for the file at path. An error that
// already is one is returned unchanged, so wrapping twice is harmless.
func unavailable(path string, err error) error {
	if err == nil {
		return nil
	}
	var ae *Error
	if errors.As(err, &ae) {
		return err
	}
	if isCorrupt(err) {
		return corrupt(path, "", err)
	}
	return &Error{Path: path, Reason: reason(err), Err: err}
}

// corrupt is the error of a damaged log file: it matches ErrCorrupt and
// ErrUnavailable, says what SQLite found (problem, if not "") and what to
// do, and wraps cause (if not nil) for errors.As.
func corrupt(path, problem string, cause error) error {
	r := "database file is corrupt"
	if problem != "" {
		r += " (" + problem + ")"
	}
	e := ErrCorrupt
	if cause != nil {
		e = errors.Join(ErrCorrupt, cause)
	}
	return &Error{Path: path, Reason: r + ": " + corruptAdvice, Err: e}
}

// isCorrupt reports whether err is SQLite's report of a damaged file.
func isCorrupt(err error) bool {
	var se sqlite3.Error
	return errors.As(err, &se) && se.Code == sqlite3.ErrCorrupt
}

// reason turns a sqlite or file-system error into the few words an operator
// needs mid-incident: what is wrong with the file, not which C call failed.
func reason(err error) string {
	var se sqlite3.Error
	if errors.As(err, &se) {
		switch se.Code {
		case sqlite3.ErrFull:
			return "disk is full"
		case sqlite3.ErrReadonly:
			return "file is read-only"
		case sqlite3.ErrBusy, sqlite3.ErrLocked:
			return "database is locked by another process"
		case sqlite3.ErrNotADB:
			return "is not a ulc audit log (file is not a database)"
		case sqlite3.ErrCorrupt:
			return "database file is corrupt"
		case sqlite3.ErrPerm, sqlite3.ErrAuth:
			return "permission denied"
		case sqlite3.ErrCantOpen:
			if se.SystemErrno != 0 {
				return "cannot open: " + se.SystemErrno.Error()
			}
			return "cannot open: unable to open database file"
		case sqlite3.ErrIoErr:
			// sqlite reports a failed write(2) as a generic I/O error; the
			// errno says what the operator has to fix.
			switch se.SystemErrno {
			case 0:
				return "disk I/O error"
			case syscall.ENOSPC, syscall.EDQUOT:
				return "disk is full"
			case syscall.EROFS, syscall.EACCES, syscall.EPERM:
				return "file is read-only (" + se.SystemErrno.Error() + ")"
			}
			return "disk I/O error (" + se.SystemErrno.Error() + ")"
		}
		return se.Error()
	}
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return "cannot open: " + pe.Err.Error()
	}
	return err.Error()
}
