//go:build unix

package config

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// mkfifo makes a named pipe.
func mkfifo(t *testing.T, path string) {
	t.Helper()
	if err := syscall.Mkfifo(path, 0o600); err != nil {
		t.Fatalf("mkfifo: %v", err)
	}
}

// within runs fn on another goroutine and returns its error, or fails the
// test (from the test's goroutine) when fn has not returned in time: what
// is tested here is that nothing waits, so a hang must fail, not stall.
func within(t *testing.T, fn func() error) error {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- fn() }()
	select {
	case err := <-done:
		return err
	case <-time.After(10 * time.Second):
		t.Fatal("still blocked after 10s")
		return nil
	}
}

// TestNamedPipesRefused: a token_file, a key file, a ca_file or a targets
// file that is a named pipe is refused at once, with the key and path; the
// credential errors are ErrCredential.
func TestNamedPipesRefused(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "chat.token")
	mkfifo(t, fifo)

	err := within(t, func() error { _, err := bearerTarget("", fifo).LoadCredential(nil); return err })
	want := `targets.toml:14: target "todo": token_file ` + fifo + ` is a named pipe, not a regular file; put the token in a regular file`
	if err == nil || err.Error() != want || !errors.Is(err, ErrCredential) {
		t.Errorf("token_file:\n got: %v\nwant: %s (ErrCredential: %v)", err, want, errors.Is(err, ErrCredential))
	}

	err = within(t, func() error { _, err := jwtTarget(fifo).LoadCredential(nil); return err })
	want = `targets.toml:9: target "ledger": jwt_key_file ` + fifo + ` is a named pipe, not a regular file; put the private key in a regular file`
	if err == nil || err.Error() != want || !errors.Is(err, ErrCredential) {
		t.Errorf("jwt_key_file:\n got: %v\nwant: %s", err, want)
	}

	okta := Okta{TokenFile: fifo, PrivateKeyFile: fifo, Line: 20, File: "targets.toml"}
	err = within(t, func() error { _, err := okta.LoadToken(nil); return err })
	want = `targets.toml:20: [okta]: token_file ` + fifo + ` is a named pipe, not a regular file; put the token in a regular file`
	if err == nil || err.Error() != want || !errors.Is(err, ErrCredential) {
		t.Errorf("[okta] token_file:\n got: %v\nwant: %s", err, want)
	}
	err = within(t, func() error { _, err := okta.ReadPrivateKey(context.Background()); return err })
	want = `targets.toml:20: [okta]: private_key_file ` + fifo + ` is a named pipe, not a regular file; put the private key in a regular file`
	if err == nil || err.Error() != want || !errors.Is(err, ErrCredential) {
		t.Errorf("[okta] private_key_file:\n got: %v\nwant: %s", err, want)
	}

	ca := Target{Name: "todo", CAFile: fifo, Line: 14, File: "targets.toml"}
	err = within(t, func() error { _, err := ca.LoadCA(context.Background()); return err })
	want = `targets.toml:14: target "todo": ca_file ` + fifo + ` is a named pipe, not a regular file; put the CA certificates in a regular file`
	if err == nil || err.Error() != want || !errors.Is(err, ErrCredential) {
		t.Errorf("ca_file:\n got: %v\nwant: %s", err, want)
	}

	conf := filepath.Join(dir, "targets.toml")
	mkfifo(t, conf)
	err = within(t, func() error { _, err := Load(conf); return err })
	want = conf + ": cannot read the file: it is a named pipe, not a regular file"
	if err == nil || err.Error() != want || errors.Is(err, ErrCredential) {
		t.Errorf("targets file:\n got: %v\nwant: %s", err, want)
	}
	if err := within(t, func() error { _, err := Load(dir); return err }); err == nil || err.Error() != dir+": cannot read the file: it is a directory, not a regular file" {
		t.Errorf("Load(dir) = %v", err)
	}
}

// TestDevicesRefused: a character device (one that never ends, here) is
// not read as a token.
func TestDevicesRefused(t *testing.T) {
	if _, err := os.Stat("/dev/zero"); err != nil {
		t.Fatalf("no /dev/zero: %v", err)
	}
	err := within(t, func() error { _, err := bearerTarget("", "/dev/zero").LoadCredential(nil); return err })
	want := `targets.toml:14: target "todo": token_file /dev/zero is a character device, not a regular file; put the token in a regular file`
	if err == nil || err.Error() != want || !errors.Is(err, ErrCredential) {
		t.Errorf("\n got: %v\nwant: %s", err, want)
	}
}
