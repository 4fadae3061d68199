package audit

import (
	"context"
	"testing"
	"time"

	"ulc/actions"
)

// A run's view reads its state, a page of its timeline after the last one
// shown, and one step's events, each on its own.
func TestRunViewReadsWhatIsShown(t *testing.T) {
	l := openLog(t, newPath(t))
	ctx := context.Background()
	users := []actions.User{{Login: "trinity@whiterabbit.fake"}, {Login: "neo@whiterabbit.fake"}}
	chatT := step{user: users[0].Login, target: "chat", action: actions.ActionGTR}
	chatN := step{user: users[1].Login, target: "chat", action: actions.ActionGTR}
	evs := planEvents(t, "r1", base, users, []step{chatT, chatN})
	evs = append(evs,
		attempt("r1", base, 1, chatT, 1), attempt("r1", base, 2, chatN, 1),
		actions.Event{RunID: "r1", Time: base.Add(time.Second), Kind: actions.KindRetry, Step: 1, User: chatT.user, Target: "chat",
			Action: actions.ActionGTR, Attempt: 1, HTTPStatus: 503, LatencyMS: 7, Error: "the app is unavailable (503); retrying in 1s"},
		result("r1", base.Add(time.Second), 2, chatN, 1, 204, actions.Revoked),
		attempt("r1", base.Add(2*time.Second), 1, chatT, 2),
		result("r1", base.Add(2*time.Second), 1, chatT, 2, 204, actions.Revoked))
	record(t, l, evs...)
	// Another run of the same user, which must not leak into r1's step.
	record(t, l, append(planEvents(t, "r2", base.Add(time.Hour), users[:1], []step{chatT}), attempt("r2", base.Add(time.Hour), 1, chatT, 1))...)

	st, err := l.State(ctx, "r1")
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Steps) != 2 || st.Step(1).Attempts != 2 || st.Step(1).Outcome != actions.Revoked {
		t.Fatalf("state %+v", st.Steps)
	}

	page, err := l.Timeline(ctx, "r1", 0, 4)
	if err != nil {
		t.Fatal(err)
	}
	if len(page) != 4 || page[0].Kind != actions.KindRunStarted {
		t.Fatalf("first page %+v", page)
	}
	rest, err := l.Timeline(ctx, "r1", page[3].Seq, 100)
	if err != nil {
		t.Fatal(err)
	}
	if len(page)+len(rest) != len(evs) || rest[0].Seq != page[3].Seq+1 || rest[len(rest)-1].Kind != actions.KindResult {
		t.Fatalf("the pages hold %d+%d events of %d", len(page), len(rest), len(evs))
	}

	one, err := l.StepEvents(ctx, "r1", 1, chatT.user)
	if err != nil {
		t.Fatal(err)
	}
	var kinds []actions.EventKind
	for _, ev := range one {
		if ev.RunID != "r1" || ev.Step != 1 {
			t.Fatalf("step 1 of r1 holds %+v", ev)
		}
		kinds = append(kinds, ev.Kind)
	}
	want := []actions.EventKind{actions.KindPlanned, actions.KindAttempt, actions.KindRetry, actions.KindAttempt, actions.KindResult}
	if len(kinds) != len(want) {
		t.Fatalf("step 1's events %v, want %v", kinds, want)
	}
	for i := range want {
		if kinds[i] != want[i] {
			t.Fatalf("step 1's events %v, want %v", kinds, want)
		}
	}
}

// What a resume reads of a run: every step where it ended, as the run's
// view sees it, without the requests it sent.
func TestOutcomesAreTheStateWithoutRequests(t *testing.T) {
	l := openLog(t, newPath(t))
	ctx := context.Background()
	users := []actions.User{{Login: "trinity@whiterabbit.fake"}, {Login: "neo@whiterabbit.fake"}}
	chatT := step{user: users[0].Login, target: "chat", action: actions.ActionGTR}
	chatN := step{user: users[1].Login, target: "chat", action: actions.ActionGTR}
	evs := planEvents(t, "r1", base, users, []step{chatT, chatN})
	evs = append(evs, attempt("r1", base, 1, chatT, 1), attempt("r1", base, 2, chatN, 1),
		result("r1", base.Add(time.Second), 2, chatN, 1, 503, actions.Failed))
	record(t, l, evs...)

	full, err := l.State(ctx, "r1")
	if err != nil {
		t.Fatal(err)
	}
	lean, err := l.Outcomes(ctx, "r1")
	if err != nil {
		t.Fatal(err)
	}
	if len(lean.Steps) != len(full.Steps) || len(lean.Steps) != 2 {
		t.Fatalf("outcomes hold %d steps, the state %d", len(lean.Steps), len(full.Steps))
	}
	for i, s := range lean.Steps {
		f := full.Steps[i]
		if s.Step != f.Step || s.User != f.User || s.Target != f.Target || s.Outcome != f.Outcome || s.Attempts != f.Attempts {
			t.Errorf("step %d: outcomes %+v, state %+v", f.Step, *s, *f)
		}
		if f.Detail == nil {
			t.Errorf("step %d: the run's view lost the request it sent", f.Step)
		}
		if s.Detail != nil {
			t.Errorf("step %d: outcomes kept the request %+v", s.Step, *s.Detail)
		}
	}
	if lean.Info.Reason != full.Info.Reason || lean.Done != full.Done {
		t.Errorf("outcomes info %+v done %v, state %+v done %v", lean.Info, lean.Done, full.Info, full.Done)
	}
}
