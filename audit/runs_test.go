package audit

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"

	"ulc/actions"
)

// runsByFold is Runs as the definition says it: every run's events folded
// and settled, runs ordered newest first by their first event, filtered.
// The list Runs builds from SQL tallies must equal it on any log.
func runsByFold(t *testing.T, l *Log, f RunFilter) []RunSummary {
	t.Helper()
	ctx := context.Background()
	ids, err := l.strings(ctx, `SELECT run_id FROM events GROUP BY run_id ORDER BY min(seq) DESC`)
	if err != nil {
		t.Fatal(err)
	}
	var out []RunSummary
	for _, id := range ids {
		if f.Limit > 0 && len(out) >= f.Limit {
			break
		}
		st, evs, err := l.fold(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		s := summarize(st, evs)
		var users []string
		for _, step := range st.Steps {
			users = append(users, step.User)
		}
		switch {
		case !f.Since.IsZero() && s.Started.Before(f.Since):
		case f.Outcome != "" && s.Counts[f.Outcome] == 0:
		case f.User != "" && !hasUser(st.Info, users, f.User):
		default:
			out = append(out, s)
		}
	}
	return out
}

// TestRunsEqualsTheFoldOfEveryRun builds logs of runs that interleave,
// that lack run_started, that are resumed, retried, interrupted, watched
// long after they finished, and checks Runs against runsByFold under
// filters and limits, including limits larger than the first window.
func TestRunsEqualsTheFoldOfEveryRun(t *testing.T) {
	for seed := range uint64(4) {
		t.Run(fmt.Sprint("seed=", seed), func(t *testing.T) {
			l := openLog(t, newPath(t))
			r := rand.New(rand.NewPCG(seed, 13))
			users := []actions.User{alice, bob, {Login: "carol@corp.example"}, {ID: "00u4dave"}}
			outcomes := []actions.Outcome{actions.Revoked, actions.Failed, actions.NotFound, actions.Done, ""}
			type live struct {
				id    string
				steps []step
				next  int // events written so far, after the plan
			}
			var open []*live
			var later []actions.Event // watch events, recorded some runs later
			at := base
			for n := 0; n < 120 || len(open) > 0; n++ {
				at = at.Add(time.Minute)
				if len(later) > 0 && r.IntN(8) == 0 {
					record(t, l, later[0])
					later = later[1:]
				}
				if n < 120 && (len(open) == 0 || r.IntN(3) == 0) {
					// A new run: a plan of 1-4 steps for 1-2 users; one in
					// five has no run_started, as a damaged or foreign log may.
					id := fmt.Sprintf("run-%03d-%d", n, seed)
					u := []actions.User{users[r.IntN(len(users))]}
					if r.IntN(2) == 0 {
						u = append(u, users[r.IntN(len(users))])
					}
					var steps []step
					for i := range 1 + r.IntN(4) {
						steps = append(steps, step{u[i%len(u)].Key(), []string{"slack", "zoom", actions.OktaTarget}[r.IntN(3)], actions.ActionGTR})
					}
					evs := planEvents(t, id, at, u, steps)
					if r.IntN(5) == 0 {
						evs = evs[1:]
					}
					record(t, l, evs...)
					open = append(open, &live{id: id, steps: steps})
					continue
				}
				i := r.IntN(len(open))
				run := open[i]
				k := run.next % len(run.steps)
				s := run.steps[k]
				switch c := r.IntN(10); {
				case c < 3:
					record(t, l, attempt(run.id, at, k+1, s, 1+run.next/len(run.steps)))
				case c < 4:
					record(t, l, actions.Event{RunID: run.id, Time: at, Kind: actions.KindRetry, Step: k + 1, User: s.user, Target: s.target, Action: s.action, Attempt: 1, HTTPStatus: 503})
				case c < 8:
					record(t, l, result(run.id, at, k+1, s, 1+r.IntN(2), 204, outcomes[r.IntN(len(outcomes))]))
				case c < 9:
					// Ends: finished (and sometimes watched much later), or
					// left interrupted.
					if r.IntN(3) > 0 {
						record(t, l, actions.Event{RunID: run.id, Time: at, Kind: actions.KindRunFinished})
					}
					if r.IntN(2) == 0 {
						later = append(later, actions.Event{RunID: run.id, Time: at, Kind: actions.KindWatchStarted})
						// Its signs: some alarms, some denied attempts.
						for range r.IntN(4) {
							level := []actions.SignLevel{actions.SignAlarm, actions.SignAttempt}[r.IntN(2)]
							sign, _ := json.Marshal(actions.Sign{Level: level, EventType: "user.session.start"})
							later = append(later, actions.Event{RunID: run.id, Time: at, Kind: actions.KindWatchSign, Detail: sign})
						}
					}
					open = append(open[:i], open[i+1:]...)
					continue
				default:
					// A step-0 event of a kind Apply does not know.
					record(t, l, actions.Event{RunID: run.id, Time: at, Kind: "note", User: "zed@corp.example"})
				}
				run.next++
			}
			record(t, l, later...)
			check := func() {
				filters := []RunFilter{{}, {Limit: 1}, {Limit: 7}, {Limit: 50}, {Limit: 500},
					{User: "alice@corp.example"}, {User: "BOB@corp.example", Limit: 3}, {User: "zed@corp.example", Limit: 5}, {User: "00u4dave"},
					{Outcome: actions.Unknown}, {Outcome: actions.NotSent, Limit: 4}, {Outcome: actions.Revoked, Limit: 20},
					{Since: base.Add(200 * time.Minute)}, {Since: base.Add(100 * time.Minute), Limit: 10, Outcome: actions.Failed}}
				for _, f := range filters {
					got, err := l.Runs(t.Context(), f)
					if err != nil {
						t.Fatal(err)
					}
					if want := runsByFold(t, l, f); !reflect.DeepEqual(got, want) {
						t.Errorf("Runs(%+v): %d runs; the fold gives %d", f, len(got), len(want))
						for i := range min(len(got), len(want)) {
							if !reflect.DeepEqual(got[i], want[i]) {
								t.Errorf("first difference at %d:\n got %+v\nwant %+v", i, got[i], want[i])
								break
							}
						}
					}
				}
			}
			check()
		})
	}
}
