package audit

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"testing"
	"time"

	"ulc/actions"
)

// slowState is a run's state folded from its events read row by row: what
// State must give, however it reads them.
func slowState(t *testing.T, l *Log, id string) *actions.RunState {
	t.Helper()
	st := actions.NewRunState(id)
	if err := l.scanQuery(context.Background(), ` WHERE run_id = ? ORDER BY seq`, []any{id}, func(ev actions.Event, _, _ string) error {
		st.Apply(ev)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if !st.Done && !running(st.Info) {
		st.Settle()
	}
	return st
}

// A run's state read in windows of the table is the state folded row by
// row: every kind of event, times with and without a fraction, details,
// reasons, another run's events in between, windows that split the run,
// and a row the fast read cannot split (a tampered reason holding its
// separators), which it reads row by row.
func TestStateReadsEveryEventAsRowByRow(t *testing.T) {
	old := stateWindow
	stateWindow = 7
	t.Cleanup(func() { stateWindow = old })
	l := openLog(t, newPath(t))
	at := time.Date(2026, 12, 3, 9, 0, 0, 0, time.UTC) // on the second: no fraction
	users := []actions.User{{Login: "trinity@whiterabbit.fake"}, {Login: "neo@whiterabbit.fake"}}
	chat := step{user: users[0].Login, target: "chat", action: actions.ActionGTR}
	wiki := step{user: users[1].Login, target: "wiki", action: actions.ActionGTR}
	okta := step{user: users[0].Login, target: actions.OktaTarget, action: actions.ActionClearSessions}
	run := planEvents(t, "run-a", at, users, []step{okta, chat, wiki})
	other := planEvents(t, "run-b", at, users[:1], []step{chat})
	retry := actions.Event{RunID: "run-a", Time: at.Add(310 * time.Millisecond), Kind: actions.KindRetry, Step: 3, User: wiki.user, Target: "wiki",
		Action: actions.ActionGTR, Attempt: 1, HTTPStatus: 503, LatencyMS: 12, Error: "the app is unavailable (503); retrying in 200ms"}
	verified := result("run-a", at.Add(time.Second), 1, okta, 1, 200, actions.Done)
	verified.Detail = json.RawMessage(`{"verified":true,"evidence":"lastLogin 2026-12-03T08:59:00Z"}`)
	verified.RequestID, verified.ErrorCode = "req-okta-1", ""
	failed := result("run-a", at.Add(1500*time.Millisecond), 3, wiki, 2, 500, actions.Failed)
	failed.Error, failed.ErrorCode, failed.ErrorID = "the app failed (500): look at its logs, then R to retry", "E0000009", "oae-1"
	failed.Detail = json.RawMessage(`{"verified":null,"step_ms":1190}`)
	events := append(run, other...)
	events = append(events,
		attempt("run-a", at.Add(time.Millisecond), 1, okta, 1), attempt("run-b", at.Add(2*time.Millisecond), 1, chat, 1),
		attempt("run-a", at.Add(3*time.Millisecond), 2, chat, 1), attempt("run-a", at.Add(4*time.Millisecond), 3, wiki, 1),
		retry, result("run-b", at.Add(40*time.Millisecond), 1, chat, 1, 204, actions.Revoked),
		attempt("run-a", at.Add(520*time.Millisecond), 3, wiki, 2), verified, failed,
		actions.Event{RunID: "run-a", Time: at.Add(2 * time.Second), Kind: actions.KindRunFinished, Detail: json.RawMessage(`{"done":1,"failed":1}`)},
		actions.Event{RunID: "run-a", Time: at.Add(3 * time.Second), Kind: actions.KindWatchStarted, Detail: json.RawMessage(`{"for_ms":900000}`)},
	)
	record(t, l, events...)
	// run-a's chat step has no result: still under way when the log ends.
	for _, id := range []string{"run-a", "run-b"} {
		got, err := l.State(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		if want := slowState(t, l, id); !reflect.DeepEqual(got, want) {
			t.Errorf("%s read in windows:\n%s\nrow by row:\n%s", id, dump(got), dump(want))
		}
	}

	// A reason holding both separators cannot be split: its window is read
	// row by row, and the state is still the same.
	db := rawDB(t, l.Path())
	dropTriggers(t, db)
	mustExec(t, db, `UPDATE events SET "error" = 'x' || char(31) || char(30) || 'y' WHERE kind = 'retry'`)
	got, err := l.State(context.Background(), "run-a")
	if err != nil {
		t.Fatal(err)
	}
	if want := slowState(t, l, "run-a"); !reflect.DeepEqual(got, want) || want.Step(3) == nil {
		t.Errorf("with a separator in a reason, read in windows:\n%s\nrow by row:\n%s", dump(got), dump(want))
	}
}

// dump is a state in a form a failure can show.
func dump(st *actions.RunState) string {
	s := fmt.Sprintf("%+v\n", *st)
	for _, step := range st.Steps {
		s += fmt.Sprintf("  %+v %+v\n", *step, step.Detail)
	}
	return s
}

// parseTime reads what formatTime writes, and nothing time.Parse refuses.
func TestParseTimeIsFormatTimesInverse(t *testing.T) {
	for _, tm := range []time.Time{base, base.Truncate(time.Second), base.Truncate(time.Millisecond), time.Date(2028, 2, 29, 23, 59, 59, 100, time.UTC)} {
		s := formatTime(tm)
		got, ok := parseTime([]byte(s))
		if !ok || !got.Equal(tm) || got.Location() != time.UTC {
			t.Errorf("parseTime(%q) = %v, %v; want %v", s, got, ok, tm)
		}
	}
	for _, s := range []string{"", "2026-02-30T10:00:00Z", "2026-12-03T24:00:00Z", "2026-12-03T10:00:00", "2026-12-03T10:00:00.Z",
		"2026-12-03T10:00:00.1234567890Z", "2026-12-03 10:00:00Z", "2026-12-03T10:00:00+01:00", "+026-12-03T10:00:00Z"} {
		if got, ok := parseTime([]byte(s)); ok {
			t.Errorf("parseTime(%q) = %v, want refused", s, got)
		}
	}
}
