package okta

import (
	"context"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"ulc/actions"
	"ulc/sandbox/oktafake"
)

// testClock is a clock the test moves.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *testClock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func newClock() *testClock { return &testClock{t: time.Now().UTC().Truncate(time.Second)} }

func TestPollLogsPagesThenFollowsTheCursor(t *testing.T) {
	clock := newClock()
	fx := newFixture(t, oktafake.Options{Now: clock.now})
	c := fx.connect(t)
	trinity := fx.byLogin(t, "trinity@whiterabbit.fake")
	neo := fx.byLogin(t, "neo@whiterabbit.fake")
	start := clock.now()
	clock.add(time.Second)
	for i := range 250 {
		fx.fake.LogSignIn(trinity.ID, i%2 == 0)
	}
	fx.fake.LogSignIn(neo.ID, true) // someone else's: not in trinity's watch
	cur, err := NewLogCursor(trinity.ID, start)
	if err != nil {
		t.Fatal(err)
	}
	evs, n, err := c.PollLogs(context.Background(), cur)
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 250 || n != 3 {
		t.Fatalf("first poll: %d events in %d requests, want 250 in 3 pages", len(evs), n)
	}
	seen := map[string]bool{}
	for _, e := range evs {
		if seen[e.UUID] || e.ActorID != trinity.ID || e.EventType != "user.session.start" || e.City != "Amsterdam" {
			t.Fatalf("event %+v: repeated, or not trinity's sign-in", e)
		}
		seen[e.UUID] = true
	}
	lines := fx.requests()
	if len(lines) != 3 {
		t.Fatalf("requests %q", lines)
	}
	first := paramsOf(t, lines[0])
	if first.Get("since") == "" || first.Get("until") != "" || first.Get("sortOrder") != "ASCENDING" ||
		first.Get("filter") != `actor.id eq "`+trinity.ID+`" or target.id eq "`+trinity.ID+`"` {
		t.Errorf("the first request is not a polling request for trinity: %s", lines[0])
	}
	for _, l := range lines[1:] {
		if q := paramsOf(t, l); q.Get("after") == "" || q.Get("since") != "" || q.Get("filter") != first.Get("filter") {
			t.Errorf("a later page does not follow Okta's cursor alone: %s", l)
		}
	}

	// Caught up: the next poll is one request from the cursor, and empty.
	evs, n, err = c.PollLogs(context.Background(), cur)
	if err != nil || len(evs) != 0 || n != 1 {
		t.Fatalf("caught-up poll: %d events, %d requests, %v", len(evs), n, err)
	}
	if l := fx.requests(); len(l) != 1 || paramsOf(t, l[0]).Get("after") == "" {
		t.Fatalf("caught-up poll requests %q", l)
	}
	clock.add(time.Second)
	fx.fake.LogSignIn(trinity.ID, false)
	evs, _, err = c.PollLogs(context.Background(), cur)
	if err != nil || len(evs) != 1 || evs[0].Result != "FAILURE" || evs[0].Reason != "INVALID_CREDENTIALS" {
		t.Fatalf("new event: %+v, %v", evs, err)
	}
}

func paramsOf(t *testing.T, line string) url.Values {
	t.Helper()
	_, uri, _ := strings.Cut(line, " ")
	u, err := url.Parse(uri)
	if err != nil {
		t.Fatal(err)
	}
	return u.Query()
}

func TestPollLogsNeedsTheLogsScope(t *testing.T) {
	fx := newFixture(t, oktafake.Options{})
	c := fx.connect(t, oktafake.PermManage)
	trinity := fx.byLogin(t, "trinity@whiterabbit.fake")
	cur, _ := NewLogCursor(trinity.ID, time.Now().Add(-time.Hour))
	_, _, err := c.PollLogs(context.Background(), cur)
	if err == nil || !strings.Contains(err.Error(), "403 E0000006") || !strings.HasPrefix(err.Error(), "reading the System Log") {
		t.Fatalf("err %v, want the 403 in a sentence", err)
	}
	noSecret(t, err.Error())
	if _, err := NewLogCursor("00u/../x", time.Now()); err == nil {
		t.Fatal("a cursor for a bad id")
	}
}

// The sandbox's story: after Trinity's sessions are cleared, her attacker
// is denied once, then gets a token from an app no target covers, each at
// its time on the fake's clock.
func TestPollLogsSeesTheAttackerReturn(t *testing.T) {
	clock := newClock()
	fx := newFixture(t, oktafake.Options{Now: clock.now})
	c := fx.connect(t)
	trinity := fx.byLogin(t, "trinity@whiterabbit.fake")
	u := actions.User{ID: trinity.ID, Login: trinity.Login}
	start := clock.now()
	if ans := c.Do(context.Background(), actions.ActionClearSessions, u, false); ans.Err != nil {
		t.Fatal(ans.Err)
	}
	revoked := clock.now()
	cur, _ := NewLogCursor(trinity.ID, start)
	signs := func() []actions.Sign {
		t.Helper()
		evs, _, err := c.PollLogs(context.Background(), cur)
		if err != nil {
			t.Fatal(err)
		}
		var out []actions.Sign
		for _, e := range evs {
			if s, ok := actions.ClassifySign(e, "run1", u.Login, u.ID, revoked); ok {
				out = append(out, s)
			}
		}
		return out
	}
	if s := signs(); len(s) != 0 {
		t.Fatalf("signs before the attacker is back: %+v", s)
	}
	clock.add(oktafake.AttackerDeniedAfter)
	s := signs()
	if len(s) != 1 || s[0].Level != actions.SignAttempt || s[0].City != "Amsterdam" || s[0].AfterS != 8 {
		t.Fatalf("after %s: %+v, want one denied attempt from Amsterdam 8 s after", oktafake.AttackerDeniedAfter, s)
	}
	clock.add(oktafake.AttackerGrantAfter - oktafake.AttackerDeniedAfter)
	s = signs()
	if len(s) != 1 || s[0].Level != actions.SignAlarm || s[0].App != "Dock Control" || !strings.HasPrefix(s[0].EventType, "app.oauth2.token.grant") {
		t.Fatalf("after %s: %+v, want the alarm of a token grant to Dock Control", oktafake.AttackerGrantAfter, s)
	}
	if !strings.Contains(s[0].Advice, "Dock Control") || !strings.Contains(s[0].Line(), "⚠") {
		t.Errorf("the alarm says %q / %q", s[0].Advice, s[0].Line())
	}
	// The story is told once.
	c.Do(context.Background(), actions.ActionSuspend, u, false)
	clock.add(time.Minute)
	if s := signs(); len(s) != 0 {
		t.Fatalf("the attacker came back twice: %+v", s)
	}
}

func TestWatchIntervalFollowsTheBudget(t *testing.T) {
	fx := newFixture(t, oktafake.Options{})
	fx.fake.SetRateLimit(8, time.Minute)
	c := fx.connect(t)
	trinity := fx.byLogin(t, "trinity@whiterabbit.fake")
	cur, _ := NewLogCursor(trinity.ID, time.Now().Add(-time.Minute))
	if d := c.WatchInterval(1, time.Second); d != time.Second {
		t.Fatalf("before any answer: %s, want the base", d)
	}
	if _, _, err := c.PollLogs(context.Background(), cur); err != nil {
		t.Fatal(err)
	}
	if b := c.LogBudget(); b.Limit != 8 || b.Remaining != 7 {
		t.Fatalf("budget %+v, want Okta's 8 with 7 left", b)
	}
	// A quarter of 8 a minute is 2: one user every 30 s, two every minute.
	if d := c.WatchInterval(1, time.Second); d != 30*time.Second {
		t.Errorf("one user: %s, want 30s", d)
	}
	if d := c.WatchInterval(2, time.Second); d != time.Minute {
		t.Errorf("two users: %s, want 1m", d)
	}
	for range 3 {
		if _, _, err := c.PollLogs(context.Background(), cur); err != nil {
			t.Fatal(err)
		}
	}
	// Half the window's budget is spent: wait for the reset.
	b := c.LogBudget()
	if d := c.WatchInterval(1, time.Second); b.Remaining != 4 || d < time.Until(b.Reset)-time.Second || d < 30*time.Second {
		t.Errorf("half spent (%+v): %s, want until the reset", b, d)
	}
}

func TestWatchInterval(t *testing.T) {
	now := time.Now()
	cases := []struct {
		b     RateStatus
		users int
		want  time.Duration
	}{
		{RateStatus{}, 50, 10 * time.Second},
		{RateStatus{Limit: 1200, Remaining: 1100, Reset: now.Add(time.Minute)}, 1, 10 * time.Second},
		{RateStatus{Limit: 120, Remaining: 100, Reset: now.Add(time.Minute)}, 100, 100 * time.Minute / 30},
		{RateStatus{Limit: 120, Remaining: 60, Reset: now.Add(40 * time.Second)}, 1, 40 * time.Second},
		{RateStatus{Limit: 120, Remaining: 0, Reset: now.Add(-time.Second)}, 1, 10 * time.Second},
	}
	for _, c := range cases {
		if got := watchInterval(c.b, now, c.users, 10*time.Second); got != c.want {
			t.Errorf("%+v, %d users: %s, want %s", c.b, c.users, got, c.want)
		}
	}
}

// More events in one second than one poll reads (ten pages): the next
// poll goes on from Okta's cursor, and events that arrive in that same
// second while the watch is caught up are read on the poll after; every
// event is read once, none is skipped, and every page keeps the filter
// and the ascending order of a polling request.
func TestPollLogsManyInOneSecondAcrossPolls(t *testing.T) {
	clock := newClock()
	fx := newFixture(t, oktafake.Options{Now: clock.now})
	c := fx.connect(t)
	trinity := fx.byLogin(t, "trinity@whiterabbit.fake")
	start := clock.now()
	clock.add(time.Second)
	const burst = maxWatchPages*watchPageSize + 30
	for i := range burst {
		fx.fake.LogSignIn(trinity.ID, i%3 == 0)
	}
	cur, err := NewLogCursor(trinity.ID, start)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{}
	poll := func(wantEvents, wantRequests int) {
		t.Helper()
		evs, n, err := c.PollLogs(context.Background(), cur)
		if err != nil || len(evs) != wantEvents || n != wantRequests {
			t.Fatalf("poll: %d events in %d requests (%v), want %d in %d", len(evs), n, err, wantEvents, wantRequests)
		}
		for _, e := range evs {
			seen[e.UUID]++
		}
		for _, l := range fx.requests() {
			q := paramsOf(t, l)
			if q.Get("until") != "" || q.Get("sortOrder") != "ASCENDING" || !strings.Contains(q.Get("filter"), trinity.ID) {
				t.Errorf("not a polling request for trinity: %s", l)
			}
			if q.Get("after") != "" && q.Get("since") != "" {
				t.Errorf("a request combines after with since, which Okta refuses: %s", l)
			}
		}
	}
	poll(maxWatchPages*watchPageSize, maxWatchPages) // the cap: the rest waits
	poll(30, 1)                                      // the rest, from the cursor
	poll(0, 1)                                       // caught up
	// The same second again: the cursor is the last event's, not its
	// second, so these are neither skipped nor taken for old.
	for range 5 {
		fx.fake.LogSignIn(trinity.ID, false)
	}
	poll(5, 1)
	if len(seen) != burst+5 {
		t.Errorf("%d distinct events read, want %d", len(seen), burst+5)
	}
	for id, n := range seen {
		if n != 1 {
			t.Errorf("event %s read %d times", id, n)
		}
	}
}
