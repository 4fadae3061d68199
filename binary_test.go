package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"strings"
	"sync"
	"testing"
	"time"
)

// The ulc binary, for the tests that need a real process: to kill it, to
// run two at once, to drive it in tmux, to run it against Prism. It is
// built at most once per test process, into a directory TestMain creates
// and removes, and only when a test asks for it (in-process tests then
// pay nothing for it, e.g. with -run or -short).
var ulcBuild struct {
	dir  string // set by TestMain before any test runs
	once sync.Once
	path string
	err  error
}

// TestMain owns the directory the shared ulc binary is built into.
func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "ulc-test-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "a directory for the ulc binary:", err)
		os.Exit(1)
	}
	ulcBuild.dir = dir
	code := m.Run()
	if err := os.RemoveAll(dir); err != nil {
		fmt.Fprintln(os.Stderr, "removing the ulc binary:", err)
	}
	os.Exit(code)
}

// builtULC returns the path of the shared ulc binary, building it on the
// first call. It never fails the test itself, so it may be called from any
// goroutine; ulcBinary is the form for the test's own goroutine.
func builtULC() (string, error) {
	ulcBuild.once.Do(func() {
		ulcBuild.path, ulcBuild.err = buildULC(ulcBuild.dir)
	})
	return ulcBuild.path, ulcBuild.err
}

// ulcBinary returns the path of the shared ulc binary, failing the test if
// it cannot be built. Call it only from the test's goroutine.
func ulcBinary(t *testing.T) string {
	t.Helper()
	bin, err := builtULC()
	if err != nil {
		t.Fatal(err)
	}
	return bin
}

// raceEnabled reports whether this test binary was built with -race.
func raceEnabled() bool {
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key == "-race" && s.Value == "true" {
				return true
			}
		}
	}
	return false
}

// buildULC builds ulc from the package directory into dir. With -race when
// this test binary has it: the race detector then also watches the real
// processes these tests run (the fan-out, the audit writer, the console
// under tmux), and the race-instrumented packages are already in the build
// cache from building this test binary, so the build is mostly a link
// instead of a cold compile of the SQLite driver.
func buildULC(dir string) (string, error) {
	if dir == "" {
		return "", errors.New("no directory for the ulc binary (TestMain did not run)")
	}
	goTool, err := exec.LookPath("go")
	if err != nil {
		return "", fmt.Errorf("no go tool on PATH to build ulc: %w", err)
	}
	bin := filepath.Join(dir, "ulc")
	args := []string{"build", "-o", bin}
	if raceEnabled() {
		args = append(args, "-race")
	}
	// Bounded, so a stuck build fails the tests that need it instead of
	// hitting the package's 10-minute timeout; a cold build takes about
	// two minutes on a 2-core machine.
	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, goTool, append(args, ".")...)
	cmd.WaitDelay = 5 * time.Second
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go %s .: %w\n%s", strings.Join(args, " "), err, out)
	}
	return bin, nil
}

// runBinary runs the built ulc with args and returns its exit status and
// output. Call it only from the test's goroutine; execULC is the form for
// other goroutines.
func runBinary(t *testing.T, env []string, args ...string) (int, string, string) {
	t.Helper()
	return runCommand(t, env, false, args...)
}

// runCommand runs the built ulc, or with viaShell bash with args (which
// then name the binary themselves), failing the test if it cannot be
// started. Call it only from the test's goroutine.
func runCommand(t *testing.T, env []string, viaShell bool, args ...string) (int, string, string) {
	t.Helper()
	code, out, errOut, err := execULC(t.Context(), env, viaShell, args...)
	if err != nil {
		t.Fatal(err)
	}
	return code, out, errOut
}

// execULC is runCommand without a test: the exit status, stdout and
// stderr, or an error if ulc could not be built or run at all. The process
// is killed if ctx ends first.
func execULC(ctx context.Context, env []string, viaShell bool, args ...string) (int, string, string, error) {
	bin, err := builtULC()
	if err != nil {
		return 0, "", "", err
	}
	cmd := exec.CommandContext(ctx, bin, args...)
	if viaShell {
		cmd = exec.CommandContext(ctx, "bash", args...)
	}
	cmd.WaitDelay = 5 * time.Second
	cmd.Env = env
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err = cmd.Run()
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		return ee.ExitCode(), out.String(), errb.String(), nil
	case err != nil:
		return 0, out.String(), errb.String(), fmt.Errorf("running ulc: %w", err)
	}
	return 0, out.String(), errb.String(), nil
}
