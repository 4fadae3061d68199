package tui

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/charmbracelet/x/exp/golden"

	"ulc/actions"
)

// fakeWatcher is a watch whose updates the test sends; like the backend's,
// it ends with a last update saying why (its context's cause) and records
// every watch it was asked for.
type fakeWatcher struct {
	mu    sync.Mutex
	runs  []string
	fors  []time.Duration
	ended []string
	exts  []time.Duration
	feed  chan actions.WatchUpdate
	err   error
}

func newFakeWatcher() *fakeWatcher { return &fakeWatcher{feed: make(chan actions.WatchUpdate, 16)} }

func (w *fakeWatcher) Watch(ctx context.Context, id string, o actions.WatchOptions) (<-chan actions.WatchUpdate, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.err != nil {
		return nil, w.err
	}
	w.runs, w.fors = append(w.runs, id), append(w.fors, o.For)
	out := make(chan actions.WatchUpdate, 16)
	until := testNow.Add(o.For)
	out <- actions.WatchUpdate{Until: until}
	go func() {
		defer close(out)
		var t actions.WatchTally
		for {
			select {
			case d := <-o.Extend:
				w.mu.Lock()
				w.exts = append(w.exts, d)
				w.mu.Unlock()
				until = until.Add(d)
				out <- actions.WatchUpdate{Until: until}
			case u := <-w.feed:
				if u.Sign != nil {
					t.Count(*u.Sign)
				}
				if u.Done {
					u.Tally.Alarms, u.Tally.Attempts = t.Alarms, t.Attempts
				}
				out <- u
				if u.Done {
					return
				}
			case <-ctx.Done():
				t.Reason = "cancelled"
				var why actions.WatchStop
				if errors.As(context.Cause(ctx), &why) {
					t.Reason = string(why)
				}
				w.mu.Lock()
				w.ended = append(w.ended, t.Reason)
				w.mu.Unlock()
				out <- actions.WatchUpdate{Done: true, Tally: t}
				return
			}
		}
	}()
	return out, nil
}

func (w *fakeWatcher) endings() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Clone(w.ended)
}

func (w *fakeWatcher) extensions() []time.Duration {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Clone(w.exts)
}

func (w *fakeWatcher) watched() ([]string, []time.Duration) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Clone(w.runs), slices.Clone(w.fors)
}

// The attacker's return as the watch reports it: denied from Amsterdam 8 s
// after the run, then a token granted to Dock Control 20 s after.
func attackerSigns() (actions.Sign, actions.Sign) {
	end := testNow
	denied := actions.LogEvent{UUID: "e1", EventType: "user.session.start", Result: "FAILURE", Reason: "VERIFICATION_ERROR",
		Published: end.Add(8 * time.Second), ActorID: cast[0].ID, ActorType: "User",
		IP: "203.0.113.66", City: "Amsterdam", Country: "Netherlands", Client: "CHROME on Windows 10"}
	grant := actions.LogEvent{UUID: "e2", EventType: "app.oauth2.token.grant.refresh_token", Result: "SUCCESS",
		Published: end.Add(20 * time.Second), ActorID: "0oaDOCK", ActorType: "PublicClientApp", ActorName: "Dock Control",
		Targets: []actions.LogTarget{{ID: cast[0].ID, Type: "User"}}, IP: "203.0.113.66", City: "Amsterdam", Country: "Netherlands"}
	a, _ := actions.ClassifySign(denied, runID, trinity, cast[0].ID, end)
	b, _ := actions.ClassifySign(grant, runID, trinity, cast[0].ID, end)
	return a, b
}

// watchedBoard is a finished board of trinity's run, watching, at w×h.
func watchedBoard(t *testing.T, w, h int) (*driver, *fakeWatcher, *fakeRunner) {
	t.Helper()
	deps, _ := demoSizedDeps()
	deps.Now = func() time.Time { return testNow.Add(30 * time.Second) }
	fw := newFakeWatcher()
	deps.Watcher = fw
	d := newDriver(t, deps, w, h)
	d.startRun()
	d.waitFor("watching the System Log")
	return d, fw, deps.Runner.(*fakeRunner)
}

// After the run the board watches its users for 15 minutes, shows the
// time left and each sign on a line: the denied sign-in as an attempt,
// the token grant as an alarm with what to do and the keys to act on it;
// the table keeps its position line, and the frame fits 80×24.
func TestBoardWatchesAfterTheRun(t *testing.T) {
	d, fw, _ := watchedBoard(t, 80, 24)
	if runs, fors := fw.watched(); len(runs) != 1 || runs[0] != runID || fors[0] != 15*time.Minute {
		t.Fatalf("watched %v for %v, want run %s for 15m", runs, fors, runID)
	}
	d.waitFor("watching the System Log: 14:30 left · 0 alarms · 0 attempts")
	d.sees("w stop • + 15m more")
	denied, grant := attackerSigns()
	fw.feed <- actions.WatchUpdate{Sign: &denied, Polls: 2}
	d.waitFor("1 attempt")
	d.sees("✓ 14:30:08 user.session.start denied from 203.0.113.66 Amsterdam — 8 s after")
	if strings.Contains(d.frame(), "ALARM") {
		t.Fatalf("an alarm for a denied attempt:\n%s", d.frame())
	}
	fw.feed <- actions.WatchUpdate{Sign: &grant, Polls: 4}
	d.waitFor("1 alarm")
	d.sees("⚠ 14:30:20 app.oauth2.token.grant.refresh_token to Dock Control — 20 s after", "⚠ ALARM: someone got in after the run (1 success). A token was granted", "R contain again", "4 polls")
	// Every watch key stays on the help line beside R.
	if h := d.helpLine(); !strings.Contains(h, "R contain again • w stop • + 15m more") {
		t.Errorf("the help line during an alarm does not offer R, w and +: %q", h)
	}
	fits(t, "watching board", d.m.View().Content, 80, 24)
	d.sees("of 19 · ↓") // the table's position line
	// The alarm is read to its end, not cut.
	d.sees("and add Dock Control to targets.toml if it can sign users out")
	golden.RequireEqual(t, []byte(d.frame()))
}

// The board's audit head follows the watch: each recorded watch event
// moves the log's head past the run's, and the board shows the newest, so
// that it is the one ulc audit verify --head takes.
func TestBoardAuditHeadFollowsTheWatch(t *testing.T) {
	d, fw, _ := watchedBoard(t, 80, 24)
	runHead := strings.Repeat("c0ffee", 10) + "beef"
	d.sees("audit head " + runHead)
	_, grant := attackerSigns()
	after := strings.Repeat("5a", 32)
	fw.feed <- actions.WatchUpdate{Sign: &grant, Head: after}
	d.waitFor("audit head " + after)
	d.notSees(runHead)
	ended := strings.Repeat("e7", 32)
	fw.feed <- actions.WatchUpdate{Done: true, Head: ended}
	d.waitFor("audit head " + ended)
}

// More signs than fit: the lines that do not say how many more, and the
// table's position line stays.
func TestBoardWatchSaysHowManyMore(t *testing.T) {
	d, fw, _ := watchedBoard(t, 80, 24)
	denied, grant := attackerSigns()
	for range 9 {
		fw.feed <- actions.WatchUpdate{Sign: &denied}
	}
	fw.feed <- actions.WatchUpdate{Sign: &grant}
	d.waitFor("9 attempts")
	fits(t, "board with many signs", d.m.View().Content, 80, 24)
	d.sees("of 19 · ↓", "more (ulc audit show "+runID, "⚠ ALARM")
	frame := d.frame()
	if i, j := strings.Index(frame, "to Dock Control"), strings.Index(frame, "✓ 14:30:08 user.session.start denied"); i < 0 || j >= 0 && j < i {
		t.Errorf("the alarm is not the first sign shown:\n%s", frame)
	}
}

// w stops the watch (recorded as stopped), the status says when it has,
// and the help line then offers to watch again, which watches again.
func TestBoardWatchStopsAndStartsAgain(t *testing.T) {
	d, fw, _ := watchedBoard(t, 80, 24)
	d.press("w")
	d.waitFor("watch ended (stopped)")
	if got := fw.endings(); !slices.Equal(got, []string{"stopped"}) {
		t.Fatalf("watch ended %v, want stopped", got)
	}
	// The status that said "stopping" says it has stopped.
	d.waitFor("the watch stopped; what it saw is in the audit log (w watches again)")
	d.sees("w watch 15m more")
	if strings.Contains(d.helpLine(), "w stop") {
		t.Fatalf("the help line still offers to stop:\n%s", d.frame())
	}
	d.press("w")
	d.waitFor("watching the System Log")
	if runs, _ := fw.watched(); len(runs) != 2 {
		t.Fatalf("%d watches, want a second after w", len(runs))
	}
	d.sees("w stop • + 15m more")
}

// + extends the watch in flight by the board's window: the watch is told
// (the backend records the new end), and the time left says so.
func TestBoardWatchExtends(t *testing.T) {
	d, fw, _ := watchedBoard(t, 80, 24)
	d.waitFor("14:30 left")
	if h := d.helpLine(); !strings.Contains(h, "w stop •") || !strings.Contains(h, "+ 15m more") {
		t.Fatalf("the help line does not offer both stop and extend: %q", h)
	}
	d.press("+")
	d.waitFor("29:30 left")
	if got := fw.extensions(); !slices.Equal(got, []time.Duration{15 * time.Minute}) {
		t.Fatalf("the watch was extended by %v, want 15m once", got)
	}
	d.press("w")
	d.waitFor("watch ended (stopped)")
	if strings.Contains(d.helpLine(), "+ 15m more") {
		t.Errorf("the help line offers to extend an ended watch: %q", d.helpLine())
	}
	d.press("+")
	d.settle()
	if got := fw.extensions(); len(got) != 1 {
		t.Errorf("+ on an ended watch extended it: %v", got)
	}
}

// R after an alarm asks, then runs the containment again: the same users
// and targets, suspend, clear sessions and revoke grants, as a new run
// linked to this one; the old watch ends.
func TestBoardContainsAgainAfterAnAlarm(t *testing.T) {
	d, fw, run := watchedBoard(t, 80, 24)
	_, grant := attackerSigns()
	fw.feed <- actions.WatchUpdate{Sign: &grant}
	d.waitFor("⚠ ALARM")
	before := len(run.plannedRequests())
	d.press("R")
	d.waitFor("Run the containment again for " + trinity)
	d.sees("y contain again")
	if len(run.plannedRequests()) != before {
		t.Fatal("R planned before the answer")
	}
	d.press("n")
	d.waitFor("nothing sent")
	d.press("R")
	d.press("y")
	d.until("the new run", func() bool { return len(run.plannedRequests()) > before })
	req := run.plannedRequests()[before]
	want := []actions.Action{actions.ActionSuspend, actions.ActionClearSessions, actions.ActionRevokeGrants}
	if req.ResumeOf != runID || len(req.Users) != 1 || req.Users[0].Login != trinity || len(req.Targets) != 18 ||
		!slices.Equal(req.OktaSteps, want) || !strings.Contains(req.Reason, "watch of run "+runID) {
		t.Fatalf("contain again planned %+v", req)
	}
	d.until("the old watch to end", func() bool { return slices.Contains(fw.endings(), "stopped") })
}

// A watch that cannot start says why; a dry run is not watched.
func TestBoardWatchRefusals(t *testing.T) {
	deps, _ := demoSizedDeps()
	fw := newFakeWatcher()
	fw.err = errors.New("run has no user known to Okta")
	deps.Watcher = fw
	d := newDriver(t, deps, 80, 24)
	d.startRun()
	d.waitFor("no watch: run has no user known to Okta")
}

// Leaving a board that watches keeps the watch: the tab bar says so, and
// b brings the board back with what came meanwhile.
func TestBoardWatchGoesOnWhileBrowsing(t *testing.T) {
	d, fw, _ := watchedBoard(t, 80, 24)
	d.press("2")
	d.waitFor("● watching (b)")
	_, grant := attackerSigns()
	fw.feed <- actions.WatchUpdate{Sign: &grant}
	d.waitFor("⚠ alarm (b)")
	d.press("b")
	d.waitFor("⚠ ALARM")
	d.sees("to Dock Control")
}

// A run's timeline in History says what its watch saw.
func TestRunTimelineShowsTheWatch(t *testing.T) {
	deps, _, _, hist := testDeps()
	_, grant := attackerSigns()
	sign, _ := json.Marshal(grant)
	tally, _ := json.Marshal(actions.WatchTally{Alarms: 1, Polls: 6, Reason: "stopped"})
	info, _ := json.Marshal(actions.RunInfo{Reason: "phished", Users: []actions.User{cast[0].User}, Targets: []string{"chat"}})
	hist.events = func(id string) []actions.Event {
		return []actions.Event{
			{Seq: 1, RunID: id, Time: testNow, Kind: actions.KindRunStarted, Detail: info},
			{Seq: 2, RunID: id, Time: testNow, Kind: actions.KindRunFinished},
			{Seq: 3, RunID: id, Time: testNow.Add(30 * time.Second), Kind: actions.KindWatchSign, User: trinity, Detail: sign},
			{Seq: 4, RunID: id, Time: testNow.Add(time.Minute), Kind: actions.KindWatchEnded, Detail: tally},
		}
	}
	d := newDriver(t, deps, 100, 30)
	d.key("tab")
	d.key("enter")
	d.key("t")
	d.sees("Timeline of run", "watch_sign alarm trinity@whiterabbit.fake: ⚠", "Dock Control — 20 s after revocation", "watch_ended (stopped): 1 alarm, 0 attempts")
}

// A run the operator cancelled is not watched by itself (quitting
// cancels the run too); w watches it on request.
func TestBoardDoesNotWatchACancelledRunUnasked(t *testing.T) {
	deps, _, run, _ := testDeps()
	run.block = make(chan struct{})
	run.drain = make(chan struct{})
	fw := newFakeWatcher()
	deps.Watcher = fw
	d := newDriver(t, deps, 80, 24)
	d.startRun()
	d.waitFor("sending")
	if strings.Contains(d.helpLine(), "w watch") {
		t.Errorf("the help line offers a watch while the run is in flight: %q", d.helpLine())
	}
	d.press("x")
	d.press("y")
	close(run.drain)
	d.settle()
	d.sees("3/3 cancelled", "w watch 15m")
	d.notSees("watching the System Log")
	if runs, _ := fw.watched(); len(runs) != 0 {
		t.Fatalf("a cancelled run was watched unasked: %v", runs)
	}
	d.press("w")
	d.waitFor("watching the System Log")
	if runs, _ := fw.watched(); len(runs) != 1 || runs[0] != runID {
		t.Fatalf("w watched %v", runs)
	}
}

// History shows what a run's watch saw: the list marks a run whose watch
// saw a success after it, and the run's view has the watch's counts, how
// it ended and its signs, alarms first, from the audit events.
func TestHistoryShowsTheWatchFindings(t *testing.T) {
	deps, _, _, hist := testDeps()
	denied, grant := attackerSigns()
	started, _ := json.Marshal(actions.WatchInfo{Users: []string{trinity}, Until: testNow.Add(15 * time.Minute)})
	signA, _ := json.Marshal(denied)
	signB, _ := json.Marshal(grant)
	tally, _ := json.Marshal(actions.WatchTally{Alarms: 1, Attempts: 1, Polls: 6, Reason: "stopped"})
	info, _ := json.Marshal(actions.RunInfo{Reason: "phished", Users: []actions.User{cast[0].User}, Targets: []string{"chat"}})
	hist.events = func(id string) []actions.Event {
		return []actions.Event{
			{Seq: 1, RunID: id, Time: testNow, Kind: actions.KindRunStarted, Detail: info},
			{Seq: 2, RunID: id, Time: testNow, Kind: actions.KindRunFinished},
			{Seq: 3, RunID: id, Time: testNow, Kind: actions.KindWatchStarted, Detail: started},
			{Seq: 4, RunID: id, Time: testNow.Add(8 * time.Second), Kind: actions.KindWatchSign, User: trinity, Detail: signA},
			{Seq: 5, RunID: id, Time: testNow.Add(20 * time.Second), Kind: actions.KindWatchSign, User: trinity, Detail: signB},
			{Seq: 6, RunID: id, Time: testNow.Add(time.Minute), Kind: actions.KindWatchEnded, Detail: tally},
		}
	}
	hist.runs[0].Watched, hist.runs[0].WatchAlarms = true, 1
	d := newDriver(t, deps, 80, 24)
	d.key("tab")
	d.waitFor("2 steps: 1 revoked, 1 unknown · ⚠ 1 alarm · enter opens it")
	var row string
	for _, l := range strings.Split(d.frame(), "\n") {
		if strings.Contains(l, "phished") && strings.Contains(l, "INTERRUPTED") {
			row = l
		}
	}
	if !strings.Contains(row, "⚠ ✓1") {
		t.Errorf("the list does not mark the run whose watch saw an alarm: %q\n%s", row, d.frame())
	}
	d.key("enter")
	d.waitFor("⚠ 1 alarm · 1 attempt · ended: stopped · 6 polls")
	d.sees("Watch ")
	frame := d.frame()
	i := strings.Index(frame, "⚠ 14:30:20 app.oauth2.token.grant.refresh_token to Dock Control")
	j := strings.Index(frame, "✓ 14:30:08 user.session.start denied")
	if i < 0 || j < 0 || j < i {
		t.Errorf("the run's view does not list the signs, the alarm first:\n%s", frame)
	}
	fits(t, "run view of a watched run", d.m.View().Content, 80, 24)
}
