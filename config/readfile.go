package config

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"runtime"
)

// ErrCredential marks an error that means one target's (or the Okta
// connection's) credential is missing or unusable: an environment variable
// not set, a token or key file missing, unreadable, open to other users, not
// a regular file, or holding something that is not a usable token or key.
// Such an error concerns that credential only, and its text is one sentence
// that names the variable or file (never its content) and says what to do,
// so a run can record the target as not sendable and go on with the others.
// Match it with errors.Is. Errors of a malformed targets file, and of a
// Target that Parse would not have produced, do not carry it.
var ErrCredential = errors.New("credential missing or unusable")

// maxTargetsFile bounds targets.toml: a registry of thousands of targets is
// a few hundred kilobytes, and the TOML decoder's cost on a hostile file
// grows faster than its size.
const maxTargetsFile = 1 << 20

// maxCAFile bounds a ca_file: a bundle of every public root is about 200 KiB.
const maxCAFile = 1 << 20

// notRegular is the problem of a path that is something other than a
// regular file; kind says what it is, such as "a named pipe".
type notRegular struct{ kind string }

func (e *notRegular) Error() string { return "it is " + e.kind + ", not a regular file" }

// tooLarge is the problem of a file larger than the cap it is read through.
type tooLarge struct{ limit int64 }

func (e *tooLarge) Error() string { return "it is larger than " + sizeString(e.limit) }

// readRegular reads the file at path, at most limit bytes, refusing anything
// that is not a regular file. The open cannot block: O_NONBLOCK keeps a named
// pipe without a writer from hanging it, and the type is checked on the
// opened descriptor, so the file cannot be swapped between the check and the
// read. check, when not nil, vets the file's metadata before anything is
// read (the permission check of secret files). The file may grow after the
// check, so the read itself stops one byte past limit.
func readRegular(path string, limit int64, check func(fs.FileInfo) error) ([]byte, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|openFlags, 0)
	if err != nil {
		return nil, err
	}
	defer func() { _ = f.Close() }()
	info, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !info.Mode().IsRegular() {
		return nil, &notRegular{kind: fileKind(info.Mode())}
	}
	if check != nil {
		if err := check(info); err != nil {
			return nil, err
		}
	}
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > limit {
		return nil, &tooLarge{limit: limit}
	}
	return data, nil
}

// fileKind names what a non-regular file is, for messages.
func fileKind(m fs.FileMode) string {
	switch {
	case m&fs.ModeDir != 0:
		return "a directory"
	case m&fs.ModeNamedPipe != 0:
		return "a named pipe"
	case m&fs.ModeSocket != 0:
		return "a socket"
	case m&fs.ModeCharDevice != 0:
		return "a character device"
	case m&fs.ModeDevice != 0:
		return "a device"
	case m&fs.ModeSymlink != 0:
		return "a symbolic link"
	}
	return "a special file"
}

// secretPerm refuses a token or key file that other users can read or
// write: a credential that has leaked to every account on the host is not
// one to keep using quietly. Permission bits mean little on Windows;
// everywhere else they are the only thing keeping the secret private.
func secretPerm(info fs.FileInfo) error {
	if runtime.GOOS == "windows" {
		return nil
	}
	perm := info.Mode().Perm()
	switch {
	case perm&0o044 != 0:
		return &openToOthers{what: "readable", perm: perm}
	case perm&0o022 != 0:
		return &openToOthers{what: "writable", perm: perm}
	}
	return nil
}

// openToOthers is the problem of a secret file with group or other bits.
type openToOthers struct {
	what string // "readable" or "writable"
	perm fs.FileMode
}

func (e *openToOthers) Error() string {
	return fmt.Sprintf("it is %s by other users (mode %04o)", e.what, e.perm)
}

// sizeString formats a byte count that is a whole number of KiB or MiB.
func sizeString(n int64) string {
	if n >= 1<<20 && n%(1<<20) == 0 {
		return fmt.Sprintf("%d MiB", n>>20)
	}
	return fmt.Sprintf("%d KiB", n>>10)
}

// systemReason keeps only the system's reason of a file error: the
// *PathError would repeat the path, which the message names already.
func systemReason(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// await runs fn on its own goroutine and returns its result, or ctx's error
// as soon as ctx is done. What fn does is bounded (capped sizes, no blocking
// opens), so a result dropped after a cancellation costs little.
func await[T any](ctx context.Context, fn func() (T, error)) (T, error) {
	var zero T
	if err := ctx.Err(); err != nil {
		return zero, err
	}
	type result struct {
		v   T
		err error
	}
	ch := make(chan result, 1)
	go func() {
		v, err := fn()
		ch <- result{v, err}
	}()
	select {
	case r := <-ch:
		return r.v, r.err
	case <-ctx.Done():
		return zero, ctx.Err()
	}
}
