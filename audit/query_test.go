package audit

import (
	"context"
	"errors"
	"maps"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"ulc/actions"
)

var (
	alice = actions.User{ID: "00u1alice", Login: "alice@corp.example", Email: "alice.w@corp.example"}
	bob   = actions.User{ID: "00u2bob", Login: "bob@corp.example", Email: "bob@corp.example"}
)

// A plan batch, then attempts, a retry and results, read back through Run
// as the history view shows them.
func TestRecordAndReadBackARun(t *testing.T) {
	l := openLog(t, newPath(t))
	ctx := t.Context()
	const id = "20250314-092653-4f2a"
	steps := []step{
		{alice.Key(), actions.OktaTarget, actions.ActionClearSessions},
		{alice.Key(), "slack", actions.ActionGTR},
		{alice.Key(), "zoom", actions.ActionGTR},
		{alice.Key(), "github", actions.ActionGTR},
	}
	// The plan is durable before anything is sent.
	record(t, l, planEvents(t, id, base, []actions.User{alice}, steps)...)
	at := func(s int) time.Time { return base.Add(time.Duration(s) * time.Second) }
	for i, s := range steps {
		record(t, l, attempt(id, at(1), i+1, s, 1))
	}
	// Results and the retry are queued without waiting, as the engine does.
	queued := []actions.Event{
		result(id, at(2), 1, steps[0], 1, 200, actions.Done),
		result(id, at(2), 2, steps[1], 1, 204, actions.Revoked),
		{RunID: id, Time: at(2), Kind: actions.KindRetry, Step: 3, User: alice.Key(), Target: "zoom", Attempt: 1, HTTPStatus: 503, Error: "503 Service Unavailable"},
		attempt(id, at(3), 3, steps[2], 2),
		result(id, at(4), 3, steps[2], 2, 204, actions.Revoked),
		result(id, at(2), 4, steps[3], 1, 401, actions.Rejected),
	}
	queued[5].Error, queued[5].ErrorCode = "invalid_client", "E0000011"
	for _, ev := range queued {
		if err := l.Record(ctx, false, ev); err != nil {
			t.Fatal(err)
		}
	}
	record(t, l, actions.Event{RunID: id, Time: at(5), Kind: actions.KindRunFinished, Detail: []byte(`{"revoked":2}`)})

	st, evs, err := l.Run(ctx, "20250314-0926") // a unique prefix
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 1+4+4+6+1 || evs[0].Seq != 1 || evs[len(evs)-1].Kind != actions.KindRunFinished {
		t.Errorf("got %d events, first seq %d; want 16 in order", len(evs), evs[0].Seq)
	}
	if st.RunID != id || !st.Done || !st.Started.Equal(base) || !st.Finished.Equal(at(5)) {
		t.Errorf("run %s done=%v started %v finished %v", st.RunID, st.Done, st.Started, st.Finished)
	}
	if st.Info.Reason != "compromised laptop" || st.Info.Ticket != "SEC-1234" || len(st.Info.Users) != 1 || st.Info.Users[0] != alice {
		t.Errorf("info = %+v", st.Info)
	}
	type want struct {
		target   string
		outcome  actions.Outcome
		attempts int
		status   int
	}
	wants := []want{
		{actions.OktaTarget, actions.Done, 1, 200},
		{"slack", actions.Revoked, 1, 204},
		{"zoom", actions.Revoked, 2, 204},
		{"github", actions.Rejected, 1, 401},
	}
	if len(st.Steps) != len(wants) {
		t.Fatalf("%d steps; want %d", len(st.Steps), len(wants))
	}
	for i, w := range wants {
		s := st.Steps[i]
		if s.Target != w.target || s.Outcome != w.outcome || s.Attempts != w.attempts || s.HTTPStatus != w.status {
			t.Errorf("step %d = %s %s attempts=%d status=%d; want %+v", i+1, s.Target, s.Outcome, s.Attempts, s.HTTPStatus, w)
		}
	}
	if s := st.Step(4); s.ErrorCode != "E0000011" || s.Error != "invalid_client" {
		t.Errorf("step 4 error = %q %q", s.Error, s.ErrorCode)
	}
	if d := st.Step(2).Detail; d.Method != "POST" || d.URL != "https://slack.example/gtr" {
		t.Errorf("planned request of step 2 = %+v", d)
	}
}

// An interrupted run is shown honestly: a step whose request had left is
// Unknown, one that never left is NotSent.
func TestInterruptedRunIsSettled(t *testing.T) {
	l := openLog(t, newPath(t))
	steps := []step{{alice.Key(), "slack", actions.ActionGTR}, {alice.Key(), "zoom", actions.ActionGTR}}
	record(t, l, planEvents(t, "dead-run", base, []actions.User{alice}, steps)...)
	record(t, l, attempt("dead-run", base, 1, steps[0], 1))
	record(t, l, planEvents(t, "never-sent", base.Add(time.Minute), []actions.User{bob}, steps[:1])...)

	st, _, err := l.Run(t.Context(), "dead-run")
	if err != nil {
		t.Fatal(err)
	}
	if st.Done || st.Step(1).Outcome != actions.Unknown || st.Step(2).Outcome != actions.NotSent {
		t.Errorf("done=%v outcomes %s, %s; want not done, unknown, not_sent", st.Done, st.Step(1).Outcome, st.Step(2).Outcome)
	}

	runs, err := l.Runs(t.Context(), RunFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(runs) != 2 {
		t.Fatalf("%d runs; want 2", len(runs))
	}
	want := map[string]map[actions.Outcome]int{
		"never-sent": {actions.NotSent: 1},
		"dead-run":   {actions.Unknown: 1, actions.NotSent: 1},
	}
	for _, r := range runs {
		if !r.Interrupted || r.Done || !r.Finished.IsZero() || !maps.Equal(r.Counts, want[r.RunID]) {
			t.Errorf("%s: interrupted=%v done=%v counts=%v; want interrupted with %v", r.RunID, r.Interrupted, r.Done, r.Counts, want[r.RunID])
		}
	}
}

func TestRunsFilters(t *testing.T) {
	l := openLog(t, newPath(t))
	// Four runs, oldest first: who, when, and how their one step ended.
	runs := []struct {
		id      string
		user    actions.User
		start   time.Time
		outcome actions.Outcome
	}{
		{"run-a", alice, base, actions.Revoked},
		{"run-b", bob, base.Add(1 * time.Hour), actions.Failed},
		{"run-c", alice, base.Add(2 * time.Hour), actions.Failed},
		{"run-d", bob, base.Add(3 * time.Hour), ""}, // interrupted before sending
	}
	for _, r := range runs {
		s := step{r.user.Key(), "slack", actions.ActionGTR}
		record(t, l, planEvents(t, r.id, r.start, []actions.User{r.user}, []step{s})...)
		if r.outcome != "" {
			record(t, l, result(r.id, r.start, 1, s, 1, 204, r.outcome))
			record(t, l, actions.Event{RunID: r.id, Time: r.start.Add(time.Second), Kind: actions.KindRunFinished})
		}
	}
	cases := []struct {
		name string
		f    RunFilter
		want []string
	}{
		{"all, newest first", RunFilter{}, []string{"run-d", "run-c", "run-b", "run-a"}},
		{"by login", RunFilter{User: "alice@corp.example"}, []string{"run-c", "run-a"}},
		{"by email, any case", RunFilter{User: "ALICE.W@Corp.Example"}, []string{"run-c", "run-a"}},
		{"by Okta id", RunFilter{User: "00u2bob"}, []string{"run-d", "run-b"}},
		{"unknown user", RunFilter{User: "mallory"}, nil},
		{"since", RunFilter{Since: base.Add(90 * time.Minute)}, []string{"run-d", "run-c"}},
		{"since is inclusive", RunFilter{Since: base.Add(time.Hour)}, []string{"run-d", "run-c", "run-b"}},
		{"outcome", RunFilter{Outcome: actions.Failed}, []string{"run-c", "run-b"}},
		{"settled outcome", RunFilter{Outcome: actions.NotSent}, []string{"run-d"}},
		{"combined", RunFilter{User: "bob@corp.example", Outcome: actions.Failed}, []string{"run-b"}},
		{"limit", RunFilter{Limit: 2}, []string{"run-d", "run-c"}},
		{"limit after filter", RunFilter{User: "alice@corp.example", Limit: 1}, []string{"run-c"}},
	}
	for _, c := range cases {
		got, err := l.Runs(t.Context(), c.f)
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, r := range got {
			ids = append(ids, r.RunID)
		}
		if !slices.Equal(ids, c.want) {
			t.Errorf("%s: Runs(%+v) = %v; want %v", c.name, c.f, ids, c.want)
		}
	}

	got, _ := l.Runs(t.Context(), RunFilter{Limit: 1, Outcome: actions.Revoked})
	if len(got) != 1 {
		t.Fatalf("got %d runs", len(got))
	}
	if s := got[0]; s.RunID != "run-a" || !s.Done || s.Interrupted || s.Steps != 1 ||
		!s.Started.Equal(base) || !s.Finished.Equal(base.Add(time.Second)) || s.Info.Operator != "soc-analyst" {
		t.Errorf("summary = %+v", s)
	}
}

func TestRunIDPrefix(t *testing.T) {
	l := openLog(t, newPath(t))
	for _, id := range []string{"abc", "abcd-1", "abcd-2", "xyz"} {
		record(t, l, actions.Event{RunID: id, Kind: actions.KindRunStarted})
	}
	for prefix, want := range map[string]string{"abc": "abc", "x": "xyz", "abcd-2": "abcd-2"} {
		st, _, err := l.Run(t.Context(), prefix)
		if err != nil || st.RunID != want {
			t.Errorf("Run(%q) = %v, %v; want run %s", prefix, st, err, want)
		}
	}
	for prefix, want := range map[string]string{
		"abcd": `run id "abcd" is ambiguous: it matches abcd-1, abcd-2; give more characters`,
		"ab%":  `no run "ab%" in `,
		"q":    `no run "q" in `,
		"":     `no run id given`,
	} {
		_, _, err := l.Run(t.Context(), prefix)
		if err == nil || !strings.Contains(err.Error(), want) || errors.Is(err, ErrUnavailable) {
			t.Errorf("Run(%q) = %v; want %q", prefix, err, want)
		}
	}
}

func TestEventsStreamsInOrder(t *testing.T) {
	l := openLog(t, newPath(t))
	for i := range 6 {
		record(t, l, actions.Event{RunID: []string{"r1", "r2"}[i%2], Kind: actions.KindAttempt, Step: i})
	}
	var all, r2 []int64
	if err := l.Events(t.Context(), "", func(ev actions.Event) error { all = append(all, ev.Seq); return nil }); err != nil {
		t.Fatal(err)
	}
	if err := l.Events(t.Context(), "r2", func(ev actions.Event) error { r2 = append(r2, ev.Seq); return nil }); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(all, []int64{1, 2, 3, 4, 5, 6}) || !slices.Equal(r2, []int64{2, 4, 6}) {
		t.Errorf("all = %v, r2 = %v", all, r2)
	}
	stop := errors.New("enough")
	n := 0
	err := l.Events(t.Context(), "", func(actions.Event) error { n++; return stop })
	if err != stop || n != 1 {
		t.Errorf("Events returned %v after %d calls; want the callback's error after 1", err, n)
	}
}

// TestUnfinishedRunOfALiveProcessIsInProgress: a run without run_finished
// whose process still runs on this host is in progress, its unanswered
// steps pending; once that process is gone, the same run is interrupted.
func TestUnfinishedRunOfALiveProcessIsInProgress(t *testing.T) {
	host, err := os.Hostname()
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("no host name: %v", err)
		}
		t.Skip("no host name")
	}
	dead := exec.CommandContext(context.Background(), "true")
	if err := dead.Run(); err != nil {
		t.Fatal(err)
	}
	l := openLog(t, newPath(t))
	ctx := context.Background()
	for _, c := range []struct {
		id  string
		pid int
	}{{"20261121-100000-aaaaaa", os.Getpid()}, {"20261121-100000-bbbbbb", dead.Process.Pid}} {
		info := actions.RunInfo{Reason: "x", Operator: "o", Host: host, PID: c.pid,
			Users: []actions.User{{Login: "neo@example.com"}}, Targets: []string{"chat"}}
		evs := []actions.Event{
			{RunID: c.id, Kind: actions.KindRunStarted, Detail: mustJSON(t, info)},
			{RunID: c.id, Kind: actions.KindPlanned, Step: 1, User: "neo@example.com", Target: "chat", Action: actions.ActionGTR, Detail: mustJSON(t, actions.StepDetail{Method: "POST"})},
			{RunID: c.id, Kind: actions.KindAttempt, Step: 1, User: "neo@example.com", Target: "chat", Action: actions.ActionGTR, Attempt: 1},
		}
		if err := l.Record(ctx, true, evs...); err != nil {
			t.Fatal(err)
		}
	}
	runs, err := l.Runs(ctx, RunFilter{})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]RunSummary{}
	for _, r := range runs {
		got[r.RunID] = r
	}
	if r := got["20261121-100000-aaaaaa"]; !r.InProgress || r.Interrupted || r.Counts[""] != 1 {
		t.Errorf("the live run: in progress %v, interrupted %v, counts %v", r.InProgress, r.Interrupted, r.Counts)
	}
	if r := got["20261121-100000-bbbbbb"]; r.InProgress || !r.Interrupted || r.Counts[actions.Unknown] != 1 {
		t.Errorf("the dead run: in progress %v, interrupted %v, counts %v", r.InProgress, r.Interrupted, r.Counts)
	}
	st, _, err := l.Run(ctx, "20261121-100000-aaaaaa")
	if err != nil || st.Pending() != 1 {
		t.Fatalf("the live run's step was settled: %v %v", st.Steps[0].Outcome, err)
	}
}
