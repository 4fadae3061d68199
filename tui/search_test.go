package tui

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

func TestSearchAsYouTypeFindsTrinity(t *testing.T) {
	deps, _, _, _ := testDeps()
	d := newDriver(t, deps, 80, 24)
	d.sees("results appear as you type")

	d.typeText("tri")
	d.sees("1 person", "Trinity Moss", trinity, "active", "20m ago", "Security")
	d.notSees("Anderson", "Smith")

	d.key("backspace")
	d.key("backspace")
	d.sees("2 people", "Trinity Moss", "Thomas Anderson")
}

func TestSearchAsksOnceForQuickTyping(t *testing.T) {
	deps, dir, _, _ := testDeps()
	d := newDriver(t, deps, 80, 24)
	// Three keys before any pause: the debounce lets only the last query
	// through.
	d.press("t")
	d.press("r")
	d.press("i")
	d.settle()
	d.sees("Trinity Moss")
	if !slices.Equal(dir.queries, []string{"tri"}) {
		t.Fatalf("the directory was asked %q, want only the whole query", dir.queries)
	}
}

func TestSearchNewerQueryWinsOverALateAnswer(t *testing.T) {
	deps, dir, _, _ := testDeps()
	slow := make(chan struct{})
	dir.gate = map[string]chan struct{}{"t": slow}
	d := newDriver(t, deps, 80, 24)

	d.press("t")
	d.until(`the directory asked "t"`, func() bool { return dir.searched("t") })
	d.press("r")
	d.press("i")
	d.waitFor("Trinity Moss")
	// The answer to "t" (Trinity and Thomas) arrives late.
	close(slow)
	d.settle()
	d.sees("1 person", "Trinity Moss")
	d.notSees("Thomas Anderson", "2 people")
}

func TestSearchDropsAnAnswerToAnOlderQuery(t *testing.T) {
	deps, _, _, _ := testDeps()
	d := newDriver(t, deps, 80, 24)
	d.search("tri")
	s := d.m.tabs[0].(*searchScreen)
	// An answer carrying an older query's number, e.g. one that was
	// already on its way when the operator typed on.
	d.send(searchResultMsg{seq: s.seq - 1, page: Page{People: cast[1:]}, query: "t"})
	d.settle()
	d.sees("1 person", "Trinity Moss")
	d.notSees("Anderson")
	// The current query's answer is taken.
	d.send(searchResultMsg{seq: s.seq, page: Page{People: cast[1:2]}, query: "tri"})
	d.settle()
	d.sees("Thomas Anderson")
}

func TestSearchShowsFailuresAndEmptyAnswers(t *testing.T) {
	deps, dir, _, _ := testDeps()
	d := newDriver(t, deps, 80, 24)
	d.search("zz")
	d.sees("nobody matches")

	dir.mu.Lock()
	dir.err = errors.New("okta: 429 rate limited")
	dir.mu.Unlock()
	d.key("backspace")
	d.sees("search failed: okta: 429 rate limited")

	d.key("esc") // clears the query
	d.sees("results appear as you type")
	d.notSees("search failed")
}

func TestSearchMarksSeveralUsersForOneConfirm(t *testing.T) {
	deps, _, run, _ := testDeps()
	d := newDriver(t, deps, 80, 24)
	d.search("t")
	d.sees("2 people", "Trinity Moss", "Thomas Anderson")
	d.key("enter") // to the results
	d.key("space") // marks Trinity, moves to Thomas
	d.key("space") // marks Thomas
	d.sees("2 marked")
	marked := 0
	for _, r := range rowsBelow(d.frame(), "NAME") {
		if len(r) > 0 && r[:len("●")] == "●" {
			marked++
		}
	}
	if marked != 2 {
		t.Fatalf("%d rows carry a mark, want 2:\n%s", marked, d.frame())
	}

	d.key("r")
	d.sees("Log out 2 users", trinity+", neo@whiterabbit.fake", "Confirm › type 2")
	// Typing one login is not the confirmation for two people.
	d.fill("credential stuffing wave", trinity)
	d.key("enter")
	d.sees(`type "2" in Confirm`)
	if n := len(run.plannedRequests()); n != 0 {
		t.Fatalf("%d plans made with the wrong confirmation", n)
	}
	for range len(trinity) {
		d.key("backspace")
	}
	d.typeText("2")
	d.key("enter")
	d.sees("finished")
	p := run.plannedRequests()
	if len(p) != 1 {
		t.Fatalf("%d plans, want 1", len(p))
	}
	var logins []string
	for _, u := range p[0].Users {
		logins = append(logins, u.Login)
	}
	if !slices.Equal(logins, []string{trinity, "neo@whiterabbit.fake"}) {
		t.Fatalf("the run is for %q", logins)
	}
	d.sees("USER") // a bulk board names the user on every row
}

func TestSearchMarksSurviveANewQuery(t *testing.T) {
	deps, _, run, _ := testDeps()
	d := newDriver(t, deps, 80, 24)
	d.search("tri")
	d.key("enter")
	d.key("space") // Trinity
	d.key("/")     // back to the query
	for range 3 {
		d.key("backspace")
	}
	d.search("agent")
	d.sees("Agent Smith", "1 marked")
	d.key("enter")
	d.key("space") // Smith
	d.sees("2 marked")
	d.key("r")
	d.sees("Log out 2 users", "smith@whiterabbit.fake, "+trinity)
	d.fill("both compromised", "2")
	d.key("enter")
	d.sees("finished")
	if p := run.plannedRequests(); len(p) != 1 || len(p[0].Users) != 2 {
		t.Fatalf("planned %+v, want one run for two users", p)
	}
}

func TestSearchOpensTheSelectedPerson(t *testing.T) {
	deps, _, _, _ := testDeps()
	d := newDriver(t, deps, 80, 24)
	d.search("t")
	d.key("enter")
	d.key("down")
	d.key("enter")
	d.sees("Thomas Anderson", "neo@whiterabbit.fake", "Programmer, Engineering", "push (active)",
		"203.0.113.66", "Amsterdam")
	d.key("esc")
	d.sees("2 people")
	d.notSees("Recent activity")
}

func TestSearchPagesThroughALongAnswer(t *testing.T) {
	deps, dir, _, _ := testDeps()
	dir.pageSize = 1
	d := newDriver(t, deps, 80, 24)
	d.search("t")
	d.sees("1 person (more: n)", "Trinity Moss")
	d.notSees("Thomas")
	d.key("enter")
	if h := d.helpLine(); !strings.Contains(h, "n more") {
		t.Errorf("the help line does not offer the next page: %q", h)
	}
	d.key("n") // the next page is added below
	d.sees("2 people", "Trinity Moss", "Thomas Anderson")
	d.notSees("(more: n)")
	if h := d.helpLine(); strings.Contains(h, "n more") {
		t.Errorf("the help line offers a next page there is not: %q", h)
	}

	// ↓ on the last row asks for the next page too.
	d.key("esc")       // back to the query
	d.key("backspace") // and a new one
	d.search("a")      // Anderson, Agent Smith
	d.sees("1 person (more: n)")
	d.key("enter")
	d.key("down")
	d.sees("2 people", "Agent Smith")
}

// TestSearchShowsOktasWholeRefusal: a search expression Okta refuses gets
// Okta's whole message, wrapped at 80 columns, not cut at the edge.
func TestSearchShowsOktasWholeRefusal(t *testing.T) {
	deps, dir, _, _ := testDeps()
	msg := `Okta refused (400 E0000031): Invalid search criteria.; Invalid search criteria: the attribute profile.departmnt is not defined in the user profile schema; check the attribute name`
	dir.mu.Lock()
	dir.err = errors.New(msg)
	dir.mu.Unlock()
	d := newDriver(t, deps, 80, 24)
	d.search(`profile.departmnt eq "Finance"`)
	f := d.frame()
	i := strings.Index(f, "search failed: ")
	if i < 0 {
		t.Fatalf("no failure shown:\n%s", f)
	}
	if got := strings.Join(strings.Fields(f[i:]), " "); !strings.HasPrefix(got, "search failed: "+msg) {
		t.Fatalf("Okta's message is not whole:\n%s", f)
	}
	fits(t, "search", d.m.View().Content, 80, 24)
}
