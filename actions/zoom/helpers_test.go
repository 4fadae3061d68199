package zoom_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"ulc/actions"
	"ulc/actions/zoom"
	"ulc/config"
	"ulc/sandbox/zoomfake"
)

// The connector is held to CONNECTORS.md section 6 and Zoom's documented
// answers, against the sandbox's fake and httptest servers: there is no
// trimmed OpenAPI spec of Zoom to run Prism with, so this kind has no
// contract test.

func init() { actions.Register(config.KindZoom, zoom.Connector{}) }

// journal keeps a run's events in memory.
type journal struct {
	mu  sync.Mutex
	evs []actions.Event
}

func (j *journal) Record(_ context.Context, _ bool, evs ...actions.Event) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.evs = append(j.evs, evs...)
	return nil
}

func (j *journal) events() []actions.Event {
	j.mu.Lock()
	defer j.mu.Unlock()
	return append([]actions.Event(nil), j.evs...)
}

// load writes targets.toml with blocks and parses it with the config
// package.
func load(t *testing.T, dir string, blocks ...string) *config.File {
	t.Helper()
	src := "[defaults]\ntimeout = \"10s\"\nretries = 2\nmax_retry_wait = \"3s\"\nconcurrency = 1\n\n" + strings.Join(blocks, "\n")
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

// fakeTarget starts a fake Zoom account and returns it with its parsed
// target; edit may change the block.
func fakeTarget(t *testing.T, o zoomfake.Options, edit func(block, dir string) string) (*zoomfake.Server, *config.File) {
	t.Helper()
	s, err := zoomfake.Start(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	dir := t.TempDir()
	block, err := s.TargetTOML("zoom", dir)
	if err != nil {
		t.Fatal(err)
	}
	if edit != nil {
		block = edit(block, dir)
	}
	return s, load(t, dir, block)
}

// outcome is one user's step as the engine recorded it.
type outcome struct {
	res   actions.Event
	calls []string
	retry []actions.Event
}

// run plans and executes a run for users against f through the engine,
// and returns each user's step and every event.
func run(t *testing.T, f *config.File, users ...string) (map[string]outcome, []actions.Event) {
	t.Helper()
	ctx := context.Background()
	p, err := actions.BuildPlan(ctx, actions.Request{
		Users: users, Reason: "test", Operator: "tester",
		Targets: f.Targets, Defaults: f.Defaults, Getenv: func(string) string { return "" }, Version: "test",
	}, actions.StaticDirectory{})
	if err != nil {
		t.Fatalf("plan: %v", err)
	}
	j := &journal{}
	if _, err := (&actions.Executor{Journal: j, BackoffBase: 5 * time.Millisecond}).Execute(ctx, p); err != nil {
		t.Fatalf("execute: %v", err)
	}
	evs := j.events()
	out := map[string]outcome{}
	for _, ev := range evs {
		if ev.Step == 0 {
			continue
		}
		o := out[ev.User]
		switch ev.Kind {
		case actions.KindAttempt:
			var d struct{ Call string }
			if err := json.Unmarshal(ev.Detail, &d); err != nil {
				t.Fatalf("attempt detail %s: %v", ev.Detail, err)
			}
			o.calls = append(o.calls, d.Call)
		case actions.KindRetry:
			o.retry = append(o.retry, ev)
		case actions.KindResult:
			o.res = ev
		}
		out[ev.User] = o
	}
	return out, evs
}

// expect checks a step's outcome, its calls in order, and its sentence.
func expect(t *testing.T, o outcome, want actions.Outcome, calls string, errRE string) {
	t.Helper()
	if o.res.Outcome != want {
		t.Errorf("outcome %q (%s), want %q", o.res.Outcome, o.res.Error, want)
	}
	if got := strings.Join(o.calls, ","); got != calls {
		t.Errorf("calls %s, want %s", got, calls)
	}
	if o.res.Attempt != len(o.calls) {
		t.Errorf("result says %d attempts, %d were recorded", o.res.Attempt, len(o.calls))
	}
	// The engine cuts a sentence at 300 characters: what to do must fit.
	if strings.HasSuffix(o.res.Error, "…") || len(o.res.Error) >= 300 {
		t.Errorf("the sentence is cut short: %q", o.res.Error)
	}
	if !regexp.MustCompile(errRE).MatchString(o.res.Error) {
		t.Errorf("error %q does not match %q", o.res.Error, errRE)
	}
}

// jsonLines is evs as the journal stores them.
func jsonLines(evs []actions.Event) string {
	var b strings.Builder
	for _, ev := range evs {
		data, _ := json.Marshal(ev)
		b.Write(data)
		b.WriteByte('\n')
	}
	return b.String()
}

func errorsIs(err, target error) bool { return errors.Is(err, target) }
