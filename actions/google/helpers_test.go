package google_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"ulc/actions"
	"ulc/actions/google"
	"ulc/config"
	"ulc/internal/journaltest"
	"ulc/sandbox/googlefake"
)

func init() { actions.Register(config.KindGoogle, google.Connector{}) }

// loadTargets writes a targets.toml of the given blocks into dir and
// loads it with the real config package.
func loadTargets(t *testing.T, dir string, blocks ...string) *config.File {
	t.Helper()
	src := "[defaults]\ntimeout = \"10s\"\nretries = 2\nmax_retry_wait = \"2s\"\nconcurrency = 8\n\n" + strings.Join(blocks, "\n")
	path := filepath.Join(dir, "targets.toml")
	if err := os.WriteFile(path, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := config.Load(path)
	if err != nil {
		t.Fatalf("config: %v\n%s", err, src)
	}
	return f
}

// fakeTarget starts a fake with o and returns it with its target block
// (edited by edit, when given) loaded.
func fakeTarget(t *testing.T, o googlefake.Options, edit func(string) string) (*googlefake.Server, *config.File) {
	t.Helper()
	fake, err := googlefake.Start(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := fake.Close(); err != nil {
			t.Errorf("closing the fake: %v", err)
		}
	})
	dir := t.TempDir()
	block, err := fake.TargetTOML("google", dir)
	if err != nil {
		t.Fatal(err)
	}
	if edit != nil {
		block = edit(block)
	}
	return fake, loadTargets(t, dir, block+"concurrency = 8\n")
}

// run plans and executes one run for users against f's targets.
func run(t *testing.T, f *config.File, users ...string) (*actions.Plan, *actions.RunState, *journaltest.Journal) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	return journaltest.Run(ctx, t, actions.Request{
		Users: users, Reason: "test", Operator: "tester", Targets: f.Targets, Defaults: f.Defaults,
		Getenv: func(k string) string {
			if k == "OTHER_TOKEN" {
				return otherToken
			}
			return ""
		},
		Version: "test",
	})
}

// otherToken is the bearer token of a second, unrelated target.
const otherToken = "other-app-token-5e1d9c"

// step returns the state of the step of user at target.
func step(t *testing.T, st *actions.RunState, user, target string) *actions.StepState {
	t.Helper()
	for _, s := range st.Steps {
		if s.User == user && s.Target == target {
			return s
		}
	}
	t.Fatalf("no step for %s at %s", user, target)
	return nil
}

// expect checks a step's outcome, attempts and that its sentence holds
// every part of want.
func expect(t *testing.T, s *actions.StepState, outcome actions.Outcome, attempts int, want ...string) {
	t.Helper()
	if s.Outcome != outcome || s.Attempts != attempts {
		t.Errorf("%s: outcome %s after %d attempts, want %s after %d (error %q)", s.User, s.Outcome, s.Attempts, outcome, attempts, s.Error)
	}
	for _, w := range want {
		if !strings.Contains(s.Error, w) {
			t.Errorf("%s: sentence %q does not say %q", s.User, s.Error, w)
		}
	}
}

// countPath counts the fake's requests of method to path.
func countPath(fake *googlefake.Server, method, path string) int {
	n := 0
	for _, r := range fake.Requests() {
		if r.Method == method && r.Path == path {
			n++
		}
	}
	return n
}
