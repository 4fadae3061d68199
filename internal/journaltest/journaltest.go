// Package journaltest is an in-memory audit journal for the connectors'
// tests, and the helpers they use to run a plan through the real engine
// (actions.Executor) and read what it recorded.
package journaltest

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"ulc/actions"
)

// BackoffBase is the engine's first retry wait in Run: short, so a test
// that retries does not wait long.
const BackoffBase = 5 * time.Millisecond

// Journal is an actions.Journal that keeps every event in memory; safe for
// concurrent use. The zero value is ready.
type Journal struct {
	mu  sync.Mutex
	evs []actions.Event
}

var _ actions.Journal = (*Journal)(nil)

// Record appends evs; it never fails.
func (j *Journal) Record(_ context.Context, _ bool, evs ...actions.Event) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.evs = append(j.evs, evs...)
	return nil
}

// Events returns a copy of every event recorded so far, in order.
func (j *Journal) Events() []actions.Event {
	j.mu.Lock()
	defer j.mu.Unlock()
	return append([]actions.Event(nil), j.evs...)
}

// Calls returns the call names of step n's attempts, in order.
func (j *Journal) Calls(t testing.TB, n int) []string {
	t.Helper()
	var evs []actions.Event
	for _, ev := range j.Events() {
		if ev.Step == n {
			evs = append(evs, ev)
		}
	}
	return Calls(t, evs)
}

// Calls returns the call names of the attempt events among evs, in order;
// an attempt whose detail is not JSON fails the test.
func Calls(t testing.TB, evs []actions.Event) []string {
	t.Helper()
	var out []string
	for _, ev := range evs {
		if ev.Kind != actions.KindAttempt {
			continue
		}
		var d struct{ Call string }
		if err := json.Unmarshal(ev.Detail, &d); err != nil {
			t.Fatalf("attempt detail %s: %v", ev.Detail, err)
		}
		out = append(out, d.Call)
	}
	return out
}

// Of returns the events of kind k among evs, in order.
func Of(evs []actions.Event, k actions.EventKind) []actions.Event {
	var out []actions.Event
	for _, ev := range evs {
		if ev.Kind == k {
			out = append(out, ev)
		}
	}
	return out
}

// Result returns the result event of step n among evs; without one it
// fails the test, listing the events.
func Result(t testing.TB, evs []actions.Event, n int) actions.Event {
	t.Helper()
	for _, ev := range evs {
		if ev.Kind == actions.KindResult && ev.Step == n {
			return ev
		}
	}
	t.Fatalf("no result for step %d; events:\n%s", n, Describe(evs))
	return actions.Event{}
}

// Describe is evs in words, one indented line each, for failure messages.
func Describe(evs []actions.Event) string {
	var b strings.Builder
	for _, ev := range evs {
		b.WriteString("  " + ev.Describe() + "\n")
	}
	return b.String()
}

// JSONLines is evs as JSON, one line each, as the journal stores them.
func JSONLines(evs []actions.Event) string {
	var b strings.Builder
	for _, ev := range evs {
		j, _ := json.Marshal(ev)
		b.Write(j)
		b.WriteByte('\n')
	}
	return b.String()
}

// Run plans req against a StaticDirectory and executes the plan through
// actions.Executor, with a Journal and BackoffBase; a failure to plan or
// to execute fails the test. It returns the plan, the run's state and the
// journal.
func Run(ctx context.Context, t testing.TB, req actions.Request) (*actions.Plan, *actions.RunState, *Journal) {
	t.Helper()
	p, err := actions.BuildPlan(ctx, req, actions.StaticDirectory{})
	if err != nil {
		t.Fatalf("plan: %v", err)
	}
	j := &Journal{}
	x := &actions.Executor{Journal: j, BackoffBase: BackoffBase}
	st, err := x.Execute(ctx, p)
	if err != nil {
		t.Fatalf("execute: %v", err)
	}
	return p, st, j
}
