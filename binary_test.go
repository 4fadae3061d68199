package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
)

// The ulc binary, built once per test process for the tests that need a
// real process: to kill it, to run two at once, to drive it in tmux.
var (
	binOnce sync.Once
	binPath string
	binErr  error
	binOut  []byte
)

// ulcBinary builds ulc into a temporary directory and returns its path.
func ulcBinary(t *testing.T) string {
	t.Helper()
	binOnce.Do(func() {
		dir, err := os.MkdirTemp("", "ulc-test-bin-")
		if err != nil {
			binErr = err
			return
		}
		binPath = filepath.Join(dir, "ulc")
		cmd := exec.Command("go", "build", "-o", binPath, ".")
		binOut, binErr = cmd.CombinedOutput()
	})
	if binErr != nil {
		t.Fatalf("go build: %v\n%s", binErr, binOut)
	}
	return binPath
}

// runBinary runs the built ulc with args and returns its exit status and
// output.
func runBinary(t *testing.T, env []string, args ...string) (int, string, string) {
	t.Helper()
	return runCommand(t, env, false, args...)
}

// runCommand runs the built ulc, or with viaShell bash with args (which
// then name the binary themselves).
func runCommand(t *testing.T, env []string, viaShell bool, args ...string) (int, string, string) {
	t.Helper()
	cmd := exec.Command(ulcBinary(t), args...)
	if viaShell {
		cmd = exec.Command("bash", args...)
	}
	cmd.Env = env
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("running ulc: %v", err)
	}
	return code, out.String(), errb.String()
}

// TestMain removes the shared binary after the tests.
func TestMain(m *testing.M) {
	code := m.Run()
	if binPath != "" {
		os.RemoveAll(filepath.Dir(binPath))
	}
	os.Exit(code)
}
