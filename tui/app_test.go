package tui

import (
	"errors"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"

	"ulc/actions"
	"ulc/directory"
)

// activeTab is the tab bar's highlighted tab, read from the model (the
// highlight is reverse video, gone from a plain frame).
func (d *driver) activeTab() string { return d.m.tabs[d.m.tab].title() }

func TestTabsAndNumberKeysMoveBetweenScreens(t *testing.T) {
	deps, _, _, _ := testDeps()
	d := newDriver(t, deps, 80, 24)
	if d.activeTab() != "Search" {
		t.Fatalf("the console opens on %s", d.activeTab())
	}
	steps := []struct {
		key, tab, shows string
	}{
		{"tab", "History", "1 run in /var/lib/ulc/audit.db"},
		{"tab", "Targets", "3 targets registered"},
		{"tab", "Search", "results appear as you type"},
		{"shift+tab", "Targets", "3 targets registered"},
		{"1", "Search", "search › "},
		{"tab", "History", "phished"},
		{"3", "Targets", "legacy"},
		{"2", "History", "INTERRUPTED"},
		{"1", "Search", "results appear as you type"},
	}
	for _, s := range steps {
		d.key(s.key)
		if d.activeTab() != s.tab {
			t.Fatalf("%s: on %s, want %s", s.key, d.activeTab(), s.tab)
		}
		d.sees(s.shows)
	}
}

func TestDigitsAreTextInTheSearchBox(t *testing.T) {
	deps, dir, _, _ := testDeps()
	d := newDriver(t, deps, 80, 24)
	d.typeText("00u1")
	d.sees("search › 00u1")
	if d.activeTab() != "Search" {
		t.Fatalf("typing digits switched to %s", d.activeTab())
	}
	if !dir.searched("00u1") {
		t.Fatalf("the directory was asked %q", dir.queries)
	}
	// q and ? are text too.
	d.typeText("q?")
	d.sees("search › 00u1q?")
	if d.quit || d.m.full {
		t.Fatal("q or ? acted as a command in the search box")
	}
}

func TestNumberKeysLeaveAnOpenedScreen(t *testing.T) {
	deps, _, _, _ := testDeps()
	d := newDriver(t, deps, 80, 24)
	d.openUser("tri")
	d.key("2")
	d.sees("1 run in")
	d.notSees(trinity+" ›", "Recent activity")
	d.key("1") // Search kept its query and results
	d.sees("search › tri", "Trinity Moss")
}

func TestHelpToggles(t *testing.T) {
	deps, _, _, _ := testDeps()
	d := newDriver(t, deps, 80, 24)
	d.key("tab") // History (in the search box, 2 is text)
	// At 80 columns tab gives way (the tab bar names the screens), and
	// ? says that it lists every key.
	short := d.helpLine()
	if want := "↑↓ g/G move • enter open • / filter • R resume • v verify • ? all keys • q quit"; strings.TrimSpace(short) != want {
		t.Fatalf("the short help is %q, want %q", short, want)
	}
	d.key("?")
	if !d.m.full {
		t.Fatal("? did not open the full help")
	}
	// The full help lists each key on its own line.
	f := d.frame()
	for _, want := range []string{"enter   open", "/       filter", "R       resume", "v       verify", "tab screens", "q quit"} {
		if !strings.Contains(strings.Join(strings.Fields(f), " "), strings.Join(strings.Fields(want), " ")) {
			t.Fatalf("the full help lacks %q:\n%s", want, f)
		}
	}
	if n := strings.Count(f, "\n") + 1; n != 24 {
		t.Fatalf("with the full help the frame has %d lines, want 24", n)
	}
	d.key("?")
	if d.m.full || d.helpLine() != short {
		t.Fatalf("? did not close the full help: %q", d.helpLine())
	}
}

func TestQuitWithoutARun(t *testing.T) {
	for _, k := range []string{"q", "ctrl+c"} {
		deps, _, _, _ := testDeps()
		d := newDriver(t, deps, 80, 24)
		d.key("tab") // History: q in the search box is text
		d.key(k)
		if !d.quit || !d.m.Done() {
			t.Fatalf("%s did not quit", k)
		}
	}
	// ctrl+c quits from the search box too.
	deps, _, _, _ := testDeps()
	d := newDriver(t, deps, 80, 24)
	d.key("ctrl+c")
	if !d.quit {
		t.Fatal("ctrl+c in the search box did not quit")
	}
}

func TestReadOnlyHidesEveryChange(t *testing.T) {
	deps, _, run, hist := testDeps()
	prober := &fakeProber{res: ProbeResult{Outcome: actions.NotFound, Verdict: "reachable"}}
	deps.Prober = prober
	deps.ReadOnly = true
	d := newDriver(t, deps, 100, 30)
	d.sees("READ-ONLY")

	d.search("tri")
	d.key("enter")
	d.notSees("r revoke")
	d.key("r")
	d.notSees("Confirm", "Log out")
	d.key("enter")
	d.sees("Recent activity")
	d.notSees("r revoke")
	d.key("r")
	d.notSees("Log out")

	d.key("2")
	d.sees("v verify")
	d.notSees("R resume")
	d.key("R")
	d.notSees("Resume run")

	d.key("3")
	d.sees("3 targets registered")
	d.notSees("c check")
	d.key("c")
	d.notSees("checking")

	if len(run.plannedRequests()) != 0 || len(prober.checked()) != 0 {
		t.Fatalf("read-only planned %d runs and checked %v", len(run.plannedRequests()), prober.checked())
	}
	// Reviewing still works.
	d.key("2")
	d.key("v")
	d.sees("chain intact")
	if hist.verified != 1 {
		t.Fatal("v did not verify in read-only")
	}
}

func TestReadOnlyBoardOffersNoRetry(t *testing.T) {
	// No board opens in read-only; should one be on screen when the flag
	// is set, its own guard still keeps R from sending.
	deps, _, _, _ := testDeps()
	d := newDriver(t, deps, 80, 24)
	d.startRun()
	d.settle()
	d.sees("R retry")
	d.m.c.deps.ReadOnly = true
	d.notSees("R retry")
	d.key("R")
	d.key("y")
	if n := len(d.m.c.deps.Runner.(*fakeRunner).plannedRequests()); n != 1 {
		t.Fatalf("R planned a retry in read-only")
	}
}

// tour visits every screen and calls look on each, at the driver's size.
func tour(t *testing.T, d *driver, run *fakeRunner, look func(name string)) {
	t.Helper()
	look("search empty")
	d.search("t")
	look("search results")
	d.key("enter")
	d.key("space")
	look("search marked")
	d.key("space")
	d.key("r")
	look("confirm bulk")
	d.key("esc")
	d.key("up")
	d.key("enter")
	d.sees("Recent activity")
	look("user")
	d.key("r")
	look("confirm single")
	d.fill(strings.Repeat("a long reason that goes on ", 8), trinity)
	look("confirm filled")
	d.press("enter")
	d.waitFor("sending")
	look("board running")
	close(run.block)
	d.settle()
	look("board finished")
	d.key("enter")
	look("board detail")
	d.key("esc")
	d.key("?")
	look("board full help")
	d.key("?")
	d.key("2")
	look("history")
	d.key("/")
	d.typeText("phish")
	look("history filter")
	d.key("enter")
	d.key("enter")
	d.sees("OUTCOME")
	look("run detail")
	d.key("enter")
	d.sees("Step   ") // the step's detail (its attempts may lie below, on a small terminal)
	look("step detail")
	d.key("esc")
	d.key("t")
	d.sees("Timeline of run")
	look("run timeline")
	d.key("3")
	look("targets")
	d.key("c")
	look("targets checked")
}

func TestFramesFitTheTerminal(t *testing.T) {
	for _, size := range [][2]int{{80, 24}, {120, 40}, {60, 20}, {100, 30}, {40, 12}} {
		w, h := size[0], size[1]
		deps, _, run, _ := testDeps()
		deps.Prober = &fakeProber{res: ProbeResult{Outcome: actions.Failed,
			Verdict: "connection refused: is the app up at this address? " + strings.Repeat("and more ", 20)}}
		run.block = make(chan struct{})
		d := newDriver(t, deps, w, h)
		looked := 0
		tour(t, d, run, func(name string) {
			looked++
			v := d.m.View()
			fits(t, name, v.Content, w, h)
			if n := strings.Count(v.Content, "\n") + 1; n != h {
				t.Errorf("%s at %dx%d: %d lines, want the whole terminal (%d)", name, w, h, n, h)
			}
		})
		if looked < 15 {
			t.Fatalf("the tour saw %d screens", looked)
		}
	}
}

func TestResizeRedrawsAtTheNewSize(t *testing.T) {
	deps, _, _, _ := testDeps()
	d := newDriver(t, deps, 80, 24)
	d.search("t")
	wide := strings.Repeat("x", 100)

	d.send(tea.WindowSizeMsg{Width: 120, Height: 40})
	d.settle()
	v := d.m.View().Content
	fits(t, "search", v, 120, 40)
	if n := strings.Count(v, "\n") + 1; n != 40 {
		t.Fatalf("after growing to 120x40 the frame has %d lines", n)
	}
	// The wider table gives the name and department more room.
	if w := maxWidth(d.frame()); w <= 80 {
		t.Fatalf("after growing to 120 columns the widest line is %d", w)
	}
	d.sees("DEPARTMENT")

	d.send(tea.WindowSizeMsg{Width: 60, Height: 16})
	d.settle()
	v = d.m.View().Content
	fits(t, "search", v, 60, 16)
	if n := strings.Count(v, "\n") + 1; n != 16 {
		t.Fatalf("after shrinking to 60x16 the frame has %d lines", n)
	}
	d.sees("Trinity", "ctrl+c quit")

	// Text fields follow the size: the end of a long entry stays in view,
	// in a field made at another size too.
	d.send(tea.WindowSizeMsg{Width: 120, Height: 40})
	d.key("enter")
	d.key("enter")
	d.key("r") // Confirm, made at 120 columns
	d.send(tea.WindowSizeMsg{Width: 60, Height: 20})
	d.typeText(wide[:70] + "END")
	d.sees("END")
	d.key("tab")
	d.typeText(wide[:70] + "TICKET")
	d.sees("TICKET")

	d.key("2") // History's filter was made before the first size arrived
	d.key("/")
	d.typeText(wide[:60] + "TAIL")
	d.sees("TAIL")
}

func maxWidth(frame string) int {
	n := 0
	for _, l := range strings.Split(frame, "\n") {
		n = max(n, len([]rune(l)))
	}
	return n
}

func TestUserShowsWhatCouldNotBeRead(t *testing.T) {
	deps, dir, _, _ := testDeps()
	dir.actErr = errors.New("okta: 403 the token lacks okta.logs.read")
	d := newDriver(t, deps, 100, 30)
	d.openUser("tri")
	d.sees("System Log unavailable: okta: 403 the token lacks okta.logs.read", "push (active)")
	d.notSees("no events")
}

// rateDir is a directory that reports Okta's rate-limit budget.
type rateDir struct {
	*fakeDir
	rs directory.RateStatus
}

func (r rateDir) RateLimit() directory.RateStatus { return r.rs }

func TestHeaderShowsOktaRateBudget(t *testing.T) {
	deps, dir, _, _ := testDeps()
	deps.Directory = rateDir{dir, directory.RateStatus{Limit: 600, Remaining: 598, Reset: testNow.Add(time.Minute)}}
	d := newDriver(t, deps, 120, 30)
	d.sees("okta 598/600")

	deps.Directory = rateDir{dir, directory.RateStatus{Limit: 600, Remaining: 12, Reset: testNow.Add(time.Minute)}}
	d = newDriver(t, deps, 120, 30)
	d.sees("okta 12/600 until " + testNow.Add(time.Minute).Format("15:04:05"))
}

// A terminal that reports no size (output to a pipe) or a tiny one must not
// crash the console: it lays out for 80×24, or its smallest layout.
func TestUnknownOrTinyTerminalSize(t *testing.T) {
	for _, size := range [][2]int{{0, 0}, {1, 1}, {5, 3}} {
		deps, _, _, _ := testDeps()
		var m tea.Model = New(deps)
		m, _ = m.Update(tea.WindowSizeMsg{Width: size[0], Height: size[1]})
		v := m.View()
		if !strings.Contains(v.Content, "Search") {
			t.Errorf("at %dx%d the console shows no Search tab:\n%s", size[0], size[1], v.Content)
		}
		m, _ = m.Update(tea.KeyPressMsg{Code: tea.KeyTab})
		_ = m.View()
	}
}
