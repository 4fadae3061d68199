package main

import (
	"bufio"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// startConsole starts the real ulc demo with its input and output on
// pipes and returns once the console has taken over the terminal (its
// output switched to the alternate screen).
func startConsole(t *testing.T, env ...string) (*exec.Cmd, chan error, *strings.Builder) {
	t.Helper()
	cmd := exec.CommandContext(t.Context(), ulcBinary(t), "demo")
	cmd.Env = cleanEnv(t, env...)
	in, err := cmd.StdinPipe() // held open: the console waits for keys
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = in.Close() })
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	drawn := make(chan struct{})
	go func(drawn chan struct{}) {
		r := bufio.NewReader(out)
		buf := make([]byte, 4096)
		var seen strings.Builder
		for {
			n, err := r.Read(buf)
			seen.Write(buf[:n])
			if drawn != nil && strings.Contains(seen.String(), "\x1b[?1049h") {
				close(drawn)
				drawn = nil
			}
			if err != nil {
				return
			}
			if seen.Len() > 1<<16 {
				seen.Reset()
			}
		}
	}(drawn)
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	select {
	case <-drawn:
	case err := <-exited:
		t.Fatalf("ulc demo ended before the console started: %v\n%s", err, stderr.String())
	case <-time.After(60 * time.Second):
		_ = cmd.Process.Kill()
		t.Fatalf("the console did not start in a minute\n%s", stderr.String())
	}
	return cmd, exited, &stderr
}

// waitExit waits for the process to end; a process that ignores the signal
// for a minute fails the test (and is killed).
func waitExit(t *testing.T, cmd *exec.Cmd, exited chan error, what string) error {
	t.Helper()
	select {
	case err := <-exited:
		return err
	case <-time.After(60 * time.Second):
		_ = cmd.Process.Kill()
		if err := <-exited; err == nil {
			t.Logf("%s: ulc demo ended just as it was killed", what)
		}
		t.Fatalf("%s: ulc demo did not end", what)
		return nil
	}
}

// A SIGTERM to an idle console ends it, every time: the signal is
// registered once, so it cannot be swallowed by a second handler.
func TestSignalEndsIdleConsole(t *testing.T) {
	for i := range 8 {
		cmd, exited, _ := startConsole(t)
		if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		if err := waitExit(t, cmd, exited, "SIGTERM"); err != nil {
			t.Fatalf("try %d: SIGTERM to an idle console: %v, want exit status 0", i+1, err)
		}
	}
}

// SIGINT and SIGHUP end the console the same way (a closed terminal sends
// SIGHUP).
func TestInterruptAndHangupEndIdleConsole(t *testing.T) {
	for _, sig := range []os.Signal{syscall.SIGINT, syscall.SIGHUP} {
		cmd, exited, _ := startConsole(t)
		if err := cmd.Process.Signal(sig); err != nil {
			t.Fatal(err)
		}
		if err := waitExit(t, cmd, exited, sig.String()); err != nil {
			t.Errorf("%v to an idle console: %v, want exit status 0", sig, err)
		}
	}
}

// A headless command that runs until stopped ends on the first signal.
func TestSignalEndsHeadlessCommand(t *testing.T) {
	tmp := t.TempDir()
	cmd := exec.CommandContext(t.Context(), ulcBinary(t), "sandbox")
	cmd.Env = cleanEnv(t, "TMPDIR="+tmp)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	ready := make(chan error, 1)
	go func() {
		r := bufio.NewReader(out)
		for {
			line, err := r.ReadString('\n')
			if strings.Contains(line, "is running") {
				ready <- nil
				_, _ = io.Copy(io.Discard, r)
				return
			}
			if err != nil {
				ready <- err
				return
			}
		}
	}()
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	if err := <-ready; err != nil {
		t.Fatalf("ulc sandbox did not start: %v", err)
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	err = waitExit(t, cmd, exited, "SIGTERM")
	var xe *exec.ExitError
	if err != nil && !errors.As(err, &xe) {
		t.Fatal(err)
	}
	if err != nil {
		t.Errorf("SIGTERM to ulc sandbox: %v, want exit status 0", err)
	}
	// The folder it made for itself held tokens and keys: it is gone.
	if left, _ := filepath.Glob(filepath.Join(tmp, "ulc-sandbox-*")); len(left) != 0 {
		t.Errorf("ulc sandbox left %v behind", left)
	}
}

// The demo removes its files, its audit log included, and says so, rather
// than print the path of a log it is about to delete.
func TestDemoSaysItsFilesAreRemoved(t *testing.T) {
	tmp := t.TempDir()
	cmd, exited, stderr := startConsole(t, "TMPDIR="+tmp)
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := waitExit(t, cmd, exited, "SIGTERM"); err != nil {
		t.Fatalf("ulc demo: %v", err)
	}
	if left, _ := filepath.Glob(filepath.Join(tmp, "ulc-demo-*")); len(left) != 0 {
		t.Errorf("ulc demo left %v behind", left)
	}
	if !strings.Contains(stderr.String(), "were removed") || !strings.Contains(stderr.String(), "ulc demo --keep keeps them") {
		t.Errorf("ulc demo does not say its files are removed and how to keep them:\n%s", stderr.String())
	}
	if strings.Contains(stderr.String(), filepath.Join(tmp, "ulc-demo-")) {
		t.Errorf("ulc demo names a path it has removed:\n%s", stderr.String())
	}
}
