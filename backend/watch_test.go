package backend

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"ulc/actions"
	"ulc/history"
	"ulc/sandbox/oktafake"
)

// openOkta opens a backend on the Okta stand-in, with one GTR target that
// answers 204, and a fresh audit log.
func openOkta(t *testing.T, perms ...oktafake.Permission) (*Backend, *oktafake.Server, string) {
	t.Helper()
	for _, k := range []string{"OKTA_CLIENT_ORGURL", "OKTA_CLIENT_TOKEN", "OKTA_CLIENT_AUTHORIZATIONMODE"} {
		t.Setenv(k, "")
	}
	fake := oktafake.New(oktafake.Options{})
	const token = "watch-test-okta-token-77f1"
	fake.AddToken(token, perms...)
	okta := httptest.NewServer(fake)
	t.Cleanup(okta.Close)
	gtr := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer "+testToken {
			w.WriteHeader(401)
			return
		}
		w.WriteHeader(204)
	}))
	t.Cleanup(gtr.Close)
	dir := t.TempDir()
	cfg := fmt.Sprintf("[okta]\norg_url = %q\ntoken_env = \"OKTA_TEST_TOKEN\"\n\n[[target]]\nname = \"chat\"\nurl = %q\ntoken_env = \"TEST_TOKEN\"\n",
		okta.URL, gtr.URL+"/gtr")
	path := filepath.Join(dir, "targets.toml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"TEST_TOKEN": testToken, "OKTA_TEST_TOKEN": token}
	db := filepath.Join(dir, "audit.db")
	b, err := Open(context.Background(), Options{
		ConfigPath: path, Okta: OktaRequired, Audit: AuditWrite, AuditPath: db,
		Getenv: func(k string) string { return env[k] }, Operator: "analyst", Host: "test", Version: "test",
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := b.Close(); err != nil {
			t.Errorf("closing the backend: %v", err)
		}
	})
	return b, fake, db
}

// contain runs the containment of user (clear sessions, chat) and returns
// the run's id.
func contain(t *testing.T, b *Backend, user string) string {
	t.Helper()
	p, err := b.Plan(context.Background(), actions.RunRequest{Refs: []string{user}, Reason: "phished",
		OktaSteps: []actions.Action{actions.ActionClearSessions}, Targets: []string{"chat"}})
	if err != nil {
		t.Fatal(err)
	}
	if st := run(t, b, p); !st.AllSucceeded() {
		t.Fatalf("the containment did not succeed: %+v", st.Counts())
	}
	return p.RunID
}

// drain reads a watch's updates until its last one.
func drain(t *testing.T, ch <-chan actions.WatchUpdate) ([]actions.Sign, actions.WatchUpdate) {
	t.Helper()
	var signs []actions.Sign
	timeout := time.After(time.Minute)
	for {
		select {
		case u, ok := <-ch:
			if !ok {
				t.Fatal("the updates ended without a last one")
			}
			if u.Sign != nil {
				signs = append(signs, *u.Sign)
			}
			if u.Done {
				if _, open := <-ch; open {
					t.Error("updates after the last one")
				}
				return signs, u
			}
		case <-timeout:
			t.Fatal("the watch did not end")
		}
	}
}

// The watch after Trinity's run reads her System Log, sees her attacker
// denied and then granted a token by an app no target covers, records
// both as events of the run, and records its end; the log still verifies.
func TestWatchSeesTheAttackerAndRecordsIt(t *testing.T) {
	b, fake, _ := openOkta(t)
	ctx := context.Background()
	id := contain(t, b, "trinity@whiterabbit.fake")
	fake.Advance(oktafake.AttackerGrantAfter + time.Second)
	ch, err := b.Watch(ctx, id[:8], actions.WatchOptions{For: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	signs, last := drain(t, ch)
	if len(signs) != 2 {
		t.Fatalf("signs %+v, want the denied sign-in and the token grant", signs)
	}
	if s := signs[0]; s.Level != actions.SignAttempt || s.EventType != "user.session.start" || s.City != "Amsterdam" || s.RunID != id {
		t.Errorf("first sign %+v, want the denied sign-in from Amsterdam", s)
	}
	if s := signs[1]; s.Level != actions.SignAlarm || s.App != "Dock Control" || s.User != "trinity@whiterabbit.fake" {
		t.Errorf("second sign %+v, want the alarm of Dock Control's grant", s)
	}
	tl := last.Tally
	if tl.Alarms != 1 || tl.Attempts != 1 || tl.Reason != "time" || tl.Polls < 2 || last.Err != "" {
		t.Errorf("tally %+v (err %q), want 1 alarm, 1 attempt, ended by time after at least two polls", tl, last.Err)
	}

	_, evs, err := b.Run(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	var kinds []string
	for _, ev := range evs {
		if actions.WatchKind(ev.Kind) {
			kinds = append(kinds, string(ev.Kind))
		}
	}
	if got := strings.Join(kinds, " "); got != "watch_started watch_sign watch_sign watch_ended" {
		t.Errorf("watch events %q", got)
	}
	for _, ev := range evs {
		if ev.Kind != actions.KindWatchEnded {
			continue
		}
		var got actions.WatchTally
		if err := json.Unmarshal(ev.Detail, &got); err != nil || got != last.Tally {
			t.Errorf("watch_ended records %+v (%v), want %+v", got, err, last.Tally)
		}
	}
	res, err := b.Verify(ctx, "")
	if err != nil || !res.OK {
		t.Fatalf("the log does not verify after the watch: %+v %v", res, err)
	}
	// History reads the findings back: the run's view, and its list.
	st, err := b.State(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if w := st.Watch; w == nil || w.Watches != 1 || w.Alarms != 1 || w.Attempts != 1 || w.Ended != "time" || len(w.Signs) != 2 || w.Polls != tl.Polls {
		t.Errorf("the run's view has the watch's findings %+v, want 1 alarm, 1 attempt, both signs, ended by time", w)
	}
	runs, err := b.Runs(ctx, history.RunFilter{})
	if err != nil || len(runs) != 1 || !runs[0].Watched || runs[0].WatchAlarms != 1 {
		t.Errorf("the history list has %+v (%v), want the run watched with 1 alarm", runs, err)
	}
}

// A watch stopped early, or cut short by closing the backend, records why.
func TestWatchRecordsWhyItEnded(t *testing.T) {
	b, _, _ := openOkta(t)
	id := contain(t, b, "neo@whiterabbit.fake")

	ctx, stop := context.WithCancelCause(context.Background())
	ch, err := b.Watch(ctx, id, actions.WatchOptions{For: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	stop(actions.WatchStopped)
	if signs, last := drain(t, ch); last.Tally.Reason != "stopped" || len(signs) != 0 {
		t.Errorf("stopped: %+v, signs %+v; want reason stopped and no sign (neo's attacker does not come back)", last.Tally, signs)
	}

	ch, err = b.Watch(context.Background(), id, actions.WatchOptions{For: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if _, last := drain(t, ch); last.Tally.Reason != "quit" || last.Err != "" {
		t.Errorf("closed: %+v %q, want reason quit, recorded", last.Tally, last.Err)
	}
}

// A run that cannot be watched is a usage error that says why.
func TestWatchRefusals(t *testing.T) {
	b, _, _ := openOkta(t)
	ctx := context.Background()
	p, err := b.Plan(ctx, actions.RunRequest{Refs: []string{"neo@whiterabbit.fake"}, Reason: "drill",
		OktaSteps: []actions.Action{actions.ActionClearSessions}, Targets: []string{"chat"}, DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	dry := run(t, b, p)
	for name, c := range map[string]struct {
		id   string
		d    time.Duration
		says string
	}{
		"no such run": {"nope", time.Minute, "no run"},
		"a dry run":   {dry.RunID, time.Minute, "dry run"},
		"no time":     {dry.RunID, 0, "above zero"},
	} {
		_, err := b.Watch(ctx, c.id, actions.WatchOptions{For: c.d})
		if err == nil || ClassOf(err) != ClassUsage || !strings.Contains(err.Error(), c.says) {
			t.Errorf("%s: %v, want a usage error saying %q", name, err, c.says)
		}
	}
}

// A credential Okta refuses the System Log ends the watch at once, with
// the refusal: every later poll would be refused the same way.
func TestWatchEndsWhenOktaRefusesTheLog(t *testing.T) {
	b, _, _ := openOkta(t, oktafake.PermManage)
	id := contain(t, b, "trinity@whiterabbit.fake")
	ch, err := b.Watch(context.Background(), id, actions.WatchOptions{For: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	var errs []string
	var last actions.WatchUpdate
	for u := range ch {
		if u.Err != "" && !u.Done {
			errs = append(errs, u.Err)
		}
		last = u
	}
	if last.Tally.Reason != "refused" || last.Tally.Polls != 1 || len(errs) != 1 || !strings.Contains(errs[0], "trinity@whiterabbit.fake: reading the System Log: Okta refused (403") {
		t.Fatalf("tally %+v, errors %q; want the watch refused after one poll, saying so", last.Tally, errs)
	}
}

// An extension moves the watch's end later: it is recorded as a
// watch_extended event of the run, with the new end and who extended it,
// the update reports that end, and the log still verifies.
func TestWatchExtends(t *testing.T) {
	b, _, _ := openOkta(t)
	id := contain(t, b, "neo@whiterabbit.fake")
	ctx, stop := context.WithCancelCause(context.Background())
	defer stop(nil)
	ext := make(chan time.Duration)
	ch, err := b.Watch(ctx, id, actions.WatchOptions{For: time.Hour, Extend: ext})
	if err != nil {
		t.Fatal(err)
	}
	u0 := <-ch
	first := u0.Until
	if first.IsZero() {
		t.Fatal("the first update has no end")
	}
	// The head the updates carry is the log's after the watch's latest
	// event: watch_started, then the extension, then watch_ended.
	if _, h, _ := b.Head(context.Background()); u0.Head != h {
		t.Errorf("the first update's head %q, want the log's after watch_started %q", u0.Head, h)
	}
	ext <- 30 * time.Minute // received only while the watch waits between rounds
	want := first.Add(30 * time.Minute)
	for u := range ch {
		if u.Until.Equal(want) {
			if u.Head == "" || u.Head == u0.Head {
				t.Errorf("the extension's update has head %q, want the log's after watch_extended", u.Head)
			}
			break
		}
		if !u.Until.Equal(first) {
			t.Fatalf("an update says the watch ends at %v, want %v or %v", u.Until, first, want)
		}
	}
	stop(actions.WatchStopped)
	_, last := drain(t, ch)
	if !last.Until.Equal(want) || last.Tally.Reason != "stopped" {
		t.Errorf("last update: until %v, reason %q; want %v, stopped", last.Until, last.Tally.Reason, want)
	}
	if _, h, _ := b.Head(context.Background()); last.Head != h {
		t.Errorf("the last update's head %q, want the log's after watch_ended %q", last.Head, h)
	}
	_, evs, err := b.Run(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	var kinds []string
	for _, ev := range evs {
		if !actions.WatchKind(ev.Kind) {
			continue
		}
		kinds = append(kinds, string(ev.Kind))
		if ev.Kind != actions.KindWatchExtended {
			continue
		}
		var x actions.WatchExtension
		if err := json.Unmarshal(ev.Detail, &x); err != nil || x.By != "30m0s" || !x.Until.Equal(want) || x.Operator != "analyst" {
			t.Errorf("watch_extended records %+v (%v), want by 30m0s until %v by analyst", x, err, want)
		}
		if line, _ := actions.DescribeWatch(ev); !strings.Contains(line, "watch_extended by 30m0s until ") || !strings.Contains(line, "by analyst@test") {
			t.Errorf("the timeline says %q", line)
		}
	}
	if got := strings.Join(kinds, " "); got != "watch_started watch_extended watch_ended" {
		t.Errorf("watch events %q", got)
	}
	res, err := b.Verify(context.Background(), "")
	if err != nil || !res.OK {
		t.Fatalf("the log does not verify after the extension: %+v %v", res, err)
	}
}

// An extension asked for while the last round polls still counts: the
// watch goes on to its new end instead of ending at the old one.
func TestWatchExtendedDuringItsLastRound(t *testing.T) {
	b, _, _ := openOkta(t)
	id := contain(t, b, "neo@whiterabbit.fake")
	ext := make(chan time.Duration, 1)
	ext <- 300 * time.Millisecond // waiting before the first round ends
	ch, err := b.Watch(context.Background(), id, actions.WatchOptions{For: time.Nanosecond, Extend: ext})
	if err != nil {
		t.Fatal(err)
	}
	first := (<-ch).Until
	_, last := drain(t, ch)
	if want := first.Add(300 * time.Millisecond); !last.Until.Equal(want) || last.Tally.Reason != "time" {
		t.Errorf("the watch ended due at %v (%s), want %v by time: the extension was lost", last.Until, last.Tally.Reason, want)
	}
}

// The watch spends a share of the System Log's budget, as Okta's
// rate-limit headers give it: on a small budget it polls once and then at
// its deadline, however short the least interval asked for; on a large one
// it polls at that interval.
func TestWatchPacesItsPollsByOktasBudget(t *testing.T) {
	for _, c := range []struct {
		name          string
		limit         int
		least, most   int
		budgetAllowed string
	}{
		{"budget of 8 a minute", 8, 1, 2, "2 a minute for the watch: one poll, then the last at the deadline"},
		{"budget of 6000 a minute", 6000, 8, 1000, "1,500 a minute for the watch: a poll every 50 ms"},
	} {
		t.Run(c.name, func(t *testing.T) {
			b, fake, _ := openOkta(t)
			id := contain(t, b, "neo@whiterabbit.fake")
			fake.SetRateLimit(c.limit, time.Minute)
			ch, err := b.Watch(context.Background(), id, actions.WatchOptions{For: 2 * time.Second, Every: 50 * time.Millisecond})
			if err != nil {
				t.Fatal(err)
			}
			_, last := drain(t, ch)
			if p := last.Tally.Polls; p < c.least || p > c.most {
				t.Errorf("%d polls in 2 s, want %d to %d (%s)", p, c.least, c.most, c.budgetAllowed)
			}
			if last.Tally.Reason != "time" || last.Err != "" {
				t.Errorf("the watch ended with %+v %q, want by time", last.Tally, last.Err)
			}
		})
	}
}
