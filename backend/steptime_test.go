package backend

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"

	"ulc/actions"
)

// A step that is retried takes its whole time, the wait between its
// attempts included, and the board (the run's state), History's run view
// and the Targets screen's record all read that one figure.
func TestAStepsTimeIsTheWholeStepEverywhere(t *testing.T) {
	var hits atomic.Int32
	flaky := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if req.Header.Get("Authorization") != "Bearer "+testToken {
			w.WriteHeader(401)
			return
		}
		if hits.Add(1) == 1 {
			w.Header().Set("Retry-After", "1")
			w.WriteHeader(503)
			return
		}
		w.WriteHeader(204)
	}))
	t.Cleanup(flaky.Close)
	steady := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		w.WriteHeader(204)
	}))
	t.Cleanup(steady.Close)
	b := openWith(t, t.TempDir(), fmt.Sprintf("[defaults]\ntimeout = \"5s\"\nretries = 2\n"+
		"\n[[target]]\nname = \"flaky\"\nurl = %q\ntoken_env = \"TEST_TOKEN\"\n"+
		"\n[[target]]\nname = \"steady\"\nurl = %q\ntoken_env = \"TEST_TOKEN\"\n", flaky.URL+"/gtr", steady.URL+"/gtr"))
	ctx := context.Background()
	p, err := b.Plan(ctx, actions.RunRequest{Refs: []string{"neo@example.com"}, Reason: "phished", Targets: []string{"flaky", "steady"}})
	if err != nil {
		t.Fatal(err)
	}
	var (
		mu      sync.Mutex // the engine reports from every worker
		results []actions.Event
	)
	live, err := b.Execute(ctx, p, func(ev actions.Event) {
		if ev.Kind == actions.KindResult {
			mu.Lock()
			results = append(results, ev)
			mu.Unlock()
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	stepOf := func(st *actions.RunState, target string) *actions.StepState {
		for _, s := range st.Steps {
			if s.Target == target {
				return s
			}
		}
		t.Fatalf("no %s step in %s", target, st.RunID)
		return nil
	}
	f := stepOf(live, "flaky")
	if f.Outcome != actions.Revoked || f.Attempts != 2 {
		t.Fatalf("flaky: %s after %d attempts, want revoked after 2", f.Outcome, f.Attempts)
	}
	// The wait the app asked for is part of the step; the requests' own
	// time is not the step's.
	if f.StepMS < 1000 || f.StepMS < f.LatencyMS {
		t.Errorf("flaky's whole step is %d ms (its requests %d ms), want at least the 1 s it was asked to wait", f.StepMS, f.LatencyMS)
	}
	if f.LatencyMS >= 1000 {
		t.Errorf("flaky's requests took %d ms together: the wait is counted as a request's time", f.LatencyMS)
	}
	mu.Lock()
	defer mu.Unlock()
	for _, ev := range results {
		if ev.Target == "flaky" && ev.StepMillis() != f.StepMS {
			t.Errorf("the result event says %d ms, the board's state %d ms", ev.StepMillis(), f.StepMS)
		}
	}
	s := stepOf(live, "steady")
	if s.Attempts != 1 || s.StepMS != s.LatencyMS {
		t.Errorf("steady: %d attempts, step %d ms, requests %d ms: one request's step is its latency", s.Attempts, s.StepMS, s.LatencyMS)
	}

	// History's run view, folded from the log, and the Targets record.
	stored, _, err := b.Run(ctx, p.RunID)
	if err != nil {
		t.Fatal(err)
	}
	if got := stepOf(stored, "flaky").StepMS; got != f.StepMS {
		t.Errorf("History's run view says %d ms for flaky, the board %d ms", got, f.StepMS)
	}
	stats, err := b.TargetStats(ctx, 10)
	if err != nil {
		t.Fatal(err)
	}
	for target, want := range map[string]int64{"flaky": f.StepMS, "steady": s.StepMS} {
		if got := stats[target]; len(got) != 1 || got[0].StepMS != want {
			t.Errorf("the Targets record of %s is %+v, want one step of %d ms as on the board", target, got, want)
		}
	}
}
