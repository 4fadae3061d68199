package tui

import (
	"errors"
	"regexp"
	"strings"
	"testing"
	"unicode"

	"ulc/actions"
	"ulc/history"
)

// sgr matches the styling the console itself writes: Select Graphic
// Rendition, nothing else (no cursor moves, no titles, no hyperlinks).
var sgr = regexp.MustCompile(`\x1b\[[0-9;:]*m`)

// harmless fails if content, less the console's own styling, holds an
// escape or control character, or a bidi or zero-width formatting rune.
func harmless(t *testing.T, what, content string) {
	t.Helper()
	rest := sgr.ReplaceAllString(content, "")
	for i, r := range rest {
		bad := r != '\n' && (unicode.IsControl(r) ||
			(r >= 0x202a && r <= 0x202e) || (r >= 0x2066 && r <= 0x2069) || r == 0x200e || r == 0x200f ||
			(r >= 0x200b && r <= 0x200d) || r == 0xfeff)
		if bad {
			lo, hi := max(i-30, 0), min(i+30, len(rest))
			t.Fatalf("%s: %U at byte %d in the frame: %q", what, r, i, rest[lo:hi])
		}
	}
}

// Text from outside, each with something a terminal would act on.
var (
	hostile = Person{
		User: actions.User{ID: "00u1mallory00000000", Login: "mallory@evil.fake\x1b[8m", Email: "mallory@evil.fake",
			Status: "ACTIVE"},
		FirstName: "Mal\x1b[31mlory", LastName: "\x1b]0;pwned\x07Evil", Department: "Ops\u202etxt.exe",
		Title: "Intern\x1b[2J\x1b[H", City: "Oslo\x00\x07", Country: "N\u200bO",
		LastLogin: testNow.Add(-time1h),
	}
	hostileActivity = []Activity{{Time: testNow.Add(-time1h), EventType: "user.session.start",
		Message: "login \x1b]8;;https://evil.example\x07click\x1b]8;;\x07 here", Outcome: "FAILURE\x1b[0m",
		IP: "10.0.0.1\u202e", City: "\u009b31mBerlin", Country: "DE", Client: "curl\r\nX-Injected: 1"}}
	hostileError   = "connection \u202erefused\u202c by \u2066peer\u2069 \x1b[41mALERT\x1b[0m"
	hostileVerdict = "\x1b[2J\x1b]0;owned\x07reachable \u202ekcabllac"
)

const time1h = 60 * 60 * 1e9

func TestOutsideTextCannotReachTheTerminal(t *testing.T) {
	deps, dir, run, hist := testDeps()
	dir.people = []Person{hostile}
	dir.activity = hostileActivity
	run.errors = map[string]string{"wiki": hostileError}
	hist.runs = append(hist.runs, history.RunSummary{RunID: "20261121-110000-ccc333", Started: testNow.Add(-3 * time1h),
		Info: actions.RunInfo{Reason: "\x1b[31mred\x1b[0m reason\u202e", Ticket: "INC\x07-1", Operator: "op\x1b]0;x\x07",
			Users: []actions.User{hostile.User}},
		Counts: map[actions.Outcome]int{actions.Revoked: 1}, Steps: 1})
	deps.Prober = &fakeProber{res: ProbeResult{Outcome: actions.Failed, Verdict: hostileVerdict}}

	d := newDriver(t, deps, 120, 40)
	check := func(what string, visible ...string) {
		t.Helper()
		v := d.m.View().Content
		harmless(t, what, v)
		// What is left of each text is its printable part, whole and
		// unstyled by the text itself: no fragment of a sequence ("[31m",
		// "]0;") shows, and no sequence sits inside it.
		f := d.frame()
		for _, s := range visible {
			if !strings.Contains(v, s) {
				t.Fatalf("%s: the frame does not hold %q in one piece:\n%q", what, s, v)
			}
		}
		for _, seq := range []string{"\x1b[8m", "\x1b[41m", "\x1b[0m", "\x1b[2J", "\x1b[H"} {
			if strings.Contains(v, seq) {
				t.Fatalf("%s: the frame holds %q from outside", what, seq)
			}
		}
		for _, frag := range []string{"[31m", "]0;", "[2J", "]8;", "[8m", "[41m"} {
			if strings.Contains(f, frag) {
				t.Fatalf("%s: a piece of an escape sequence shows: %q\n%s", what, frag, f)
			}
		}
	}

	d.search("mal")
	check("search results", "Mallory Evil", "mallory@evil.fake", "Opstxt.exe")
	d.key("enter")
	d.key("enter")
	d.sees("Recent activity")
	check("user", "Mallory Evil", "Intern", "Oslo", "login click here", "Berlin", "curl X-Injected: 1")
	d.key("r")
	check("confirm", "Log out mallory@evil.fake (Mallory Evil, active)")
	d.sees("Confirm › type mallory@evil.fake ") // (the cursor styles its first letter)

	// The operator types what the screen asks for, and it is accepted.
	d.fill("phished", "mallory@evil.fake")
	d.key("enter")
	d.sees("finished")
	check("board", "connection refused by peer ALERT")
	d.key("enter")
	check("board detail", "connection refused by peer ALERT")
	d.key("esc")

	run.planErr = errors.New("okta said \x1b]0;gotcha\x07no \u202eway")
	d.key("R")
	d.key("y")
	check("board after a failed retry", "retry: okta said no way")

	d.key("2")
	check("history", "red reason", "mallory@evil.fake")
	d.key("/")
	d.typeText("red")
	d.key("enter")
	d.key("enter")
	check("run detail")
	d.key("3")
	d.key("c")
	check("targets", "chat: reachable kcabllac")
	if !strings.Contains(rowsBelow(d.frame(), "TARGET")[0], "✗ reachable kcabllac") {
		t.Fatalf("the check's verdict is not in chat's row:\n%s", d.frame())
	}
}
