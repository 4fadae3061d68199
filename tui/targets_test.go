package tui

import (
	"slices"
	"strings"
	"testing"

	"ulc/actions"
	"ulc/config"
)

func TestTargetsShowTheRecentRecord(t *testing.T) {
	deps, _, _, _ := testDeps()
	deps.Prober = &fakeProber{}
	d := newDriver(t, deps, 100, 30)
	d.key("tab")
	d.key("tab")
	d.sees("3 targets registered", "c check", "C check all")
	rows := rowsBelow(d.frame(), "TARGET")
	if len(rows) < 3 {
		t.Fatalf("rows:\n%s", d.frame())
	}
	for i, want := range [][]string{
		{"chat", "on", "email", "bearer", "✓∅", "100%", "1.0", "50ms", "https://chat.example/gtr"},
		// Three tries a step and the whole step's time, waits included:
		// not the 80 ms its last request took.
		{"wiki", "on", "opaque", "jwt", "✗✓", "50%", "3.0", "3.6s"},
		{"legacy", "off", "-"},
	} {
		for _, w := range want {
			if !strings.Contains(rows[i], w) {
				t.Errorf("row %d %q lacks %q", i, rows[i], w)
			}
		}
	}
}

func TestTargetsCheckCallsTheProber(t *testing.T) {
	deps, _, _, _ := testDeps()
	prober := &fakeProber{res: ProbeResult{Outcome: actions.NotFound, HTTPStatus: 404, LatencyMS: 12,
		Verdict: "reachable, credential accepted (404 for a user that cannot exist, 12 ms)"}}
	deps.Prober = prober
	d := newDriver(t, deps, 120, 30)
	d.key("tab")
	d.key("tab")
	d.key("down")
	d.key("c")
	if got := prober.checked(); len(got) != 1 || got[0] != "wiki" {
		t.Fatalf("checked %v, want the selected target wiki", got)
	}
	d.sees("wiki: reachable, credential accepted (404 for a user that cannot exist, 12 ms)")
	rows := rowsBelow(d.frame(), "TARGET")
	if !strings.Contains(rows[1], "∅ reachable, credential accepted") {
		t.Fatalf("wiki's row does not show the verdict: %q", rows[1])
	}
	if strings.Contains(rows[0], "reachable") {
		t.Fatalf("chat's row shows a verdict it never got: %q", rows[0])
	}

	prober.res = ProbeResult{Outcome: actions.Rejected, HTTPStatus: 401, Verdict: "credential rejected (401): the token"}
	d.key("up")
	d.key("c")
	d.sees("chat: credential rejected (401): the token")
	if !strings.Contains(rowsBelow(d.frame(), "TARGET")[0], "✗ credential rejected") {
		t.Fatalf("chat's row: %q", rowsBelow(d.frame(), "TARGET")[0])
	}
}

func TestTargetsWithoutAProberOfferNoCheck(t *testing.T) {
	deps, _, _, _ := testDeps()
	deps.Prober = nil
	d := newDriver(t, deps, 100, 30)
	d.key("shift+tab")
	d.sees("3 targets registered")
	d.notSees("c check")
	d.key("c")
	d.notSees("checking")
}

// A registry that mixes kinds shows each target's kind, and for the API
// kinds how they authenticate instead of a subject format they do not have.
func TestTargetsShowEachKind(t *testing.T) {
	deps, _, _, _ := testDeps()
	deps.Targets = append(deps.Targets,
		config.Target{Name: "google", Kind: config.KindGoogle, URL: "https://admin.googleapis.com/", Enabled: true},
		config.Target{Name: "m365", Kind: config.KindMicrosoft, URL: "https://graph.microsoft.com/", Enabled: true})
	d := newDriver(t, deps, 100, 30)
	d.key("tab")
	d.key("tab")
	rows := rowsBelow(d.frame(), "KIND")
	if len(rows) < 5 {
		t.Fatalf("no KIND column or too few rows:\n%s", d.frame())
	}
	for i, want := range [][]string{
		{"chat", "gtr", "email", "bearer"},
		{"wiki", "gtr", "opaque", "jwt"},
		{"legacy", "gtr"},
		{"google", "google", "SA key"},
		{"m365", "microsoft", "secret"},
	} {
		for _, w := range want {
			if !strings.Contains(rows[i], w) {
				t.Errorf("row %d %q lacks %q", i, rows[i], w)
			}
		}
	}
}

// A target whose credential cannot be loaded is flagged before any run:
// in the header, on its row, and in full when selected.
func TestTargetsFlagUnusableCredentialsBeforeAnyRun(t *testing.T) {
	deps, _, _, _ := testDeps()
	deps.Unusable = map[string]string{"wiki": `targets.toml:9: target "wiki": jwt_key_file /etc/ulc/wiki.pem: no such file`}
	d := newDriver(t, deps, 80, 24)
	d.key("shift+tab")
	d.sees("1 cannot be used: their credential (✗ rows)")
	rows := rowsBelow(d.frame(), "TARGET")
	if !strings.Contains(rows[1], "✗ jwt_key_file /etc/ulc/") {
		t.Errorf("wiki's row does not say its credential is unusable: %q", rows[1])
	}
	if strings.Contains(rows[0], "✗") {
		t.Errorf("chat's row is flagged: %q", rows[0])
	}
	d.key("down")
	if f := strings.Join(strings.Fields(d.frame()), " "); !strings.Contains(f, "cannot be used: targets.toml:9: target \"wiki\": jwt_key_file /etc/ulc/wiki.pem: no such file") {
		t.Fatalf("the selected target's detail does not give the whole reason:\n%s", d.frame())
	}
}

// C checks every target, shows each verdict on its row, and sums up.
func TestTargetsCheckAll(t *testing.T) {
	deps, _, _, _ := testDeps()
	prober := &fakeProber{res: ProbeResult{Outcome: actions.NotFound, HTTPStatus: 404, Verdict: "reachable, credential accepted"}}
	deps.Prober = prober
	d := newDriver(t, deps, 120, 30)
	d.key("shift+tab")
	d.key("C")
	d.settle()
	got := prober.checked()
	slices.Sort(got)
	if !slices.Equal(got, []string{"chat", "legacy", "wiki"}) {
		t.Fatalf("checked %v, want every target once", got)
	}
	d.sees("checked 3 targets: every one reachable, credential accepted")
	for i, r := range rowsBelow(d.frame(), "TARGET")[:3] {
		if !strings.Contains(r, "∅ reachable, credential accepted") {
			t.Errorf("row %d does not show its verdict: %q", i, r)
		}
	}

	prober.res = ProbeResult{Outcome: actions.Rejected, HTTPStatus: 401, Verdict: "credential rejected (401)"}
	d.key("C")
	d.settle()
	d.sees("checked 3 targets: 0 reachable with a credential accepted, 3 not")
}

// Read-only, nothing is sent: neither c nor C checks.
func TestTargetsReadOnlyChecksNothing(t *testing.T) {
	deps, _, _, _ := testDeps()
	prober := &fakeProber{}
	deps.Prober, deps.ReadOnly = prober, true
	d := newDriver(t, deps, 100, 30)
	d.key("shift+tab")
	d.key("C")
	d.key("c")
	d.settle()
	if got := prober.checked(); len(got) != 0 {
		t.Fatalf("read-only console checked %v", got)
	}
	d.notSees("C check all")
}

// At 80×24 a check's verdict, what to act on, is whole in the selected
// target's detail even when its URL and record fill the lines.
func TestTargetsVerdictIsWholeAt80x24(t *testing.T) {
	deps, _, _, _ := testDeps()
	deps.Targets[1].URL = "https://wiki.internal.example.com:8443/api/v2/global-token-revocation"
	verdict := "connection refused: is the app up at https://wiki.internal.example.com:8443? Then c to check"
	deps.Prober = &fakeProber{res: ProbeResult{Outcome: actions.Failed, Verdict: verdict}}
	d := newDriver(t, deps, 80, 24)
	d.key("shift+tab") // Targets
	d.key("down")      // wiki, with a record of two sends
	d.key("c")
	d.sees("wiki (gtr")
	if f := strings.Join(strings.Fields(d.frame()), " "); !strings.Contains(f, "check: "+verdict) {
		t.Fatalf("the verdict is not whole in the detail:\n%s", d.frame())
	}
	fits(t, "targets", d.m.View().Content, 80, 24)
}

// / filters the targets by name, kind, URL or verdict; c checks the target
// selected among those shown; a filter that matches nothing says so, and
// esc clears it.
func TestTargetsFilter(t *testing.T) {
	deps, _, _, _ := testDeps()
	prober := &fakeProber{res: ProbeResult{Outcome: actions.NotFound, HTTPStatus: 404, Verdict: "reachable, credential accepted"}}
	deps.Prober = prober
	d := newDriver(t, deps, 80, 24)
	d.key("tab")
	d.key("tab")
	d.sees("3 targets registered")
	d.key("/")
	d.typeText("legacy.example")
	d.sees("filter › legacy.example", "1 of 3 targets")
	if rows := rowsBelow(d.frame(), "TARGET"); len(rows) == 0 || !strings.Contains(rows[0], "legacy") || strings.Contains(d.frame(), "chat.example") {
		t.Fatalf("the filter shows %q:\n%s", rows, d.frame())
	}
	d.key("enter") // keep it
	d.key("c")
	if got := prober.checked(); len(got) != 1 || got[0] != "legacy" {
		t.Fatalf("c checked %v, want legacy, the one shown", got)
	}
	d.key("/")
	d.typeText("q?")
	if d.quit || d.m.full {
		t.Fatal("q or ? typed into the filter acted")
	}
	d.sees("0 of 3 targets · none matches; esc clears it")
	d.key("esc")
	d.notSees("filter ›")
	d.sees("chat", "wiki", "legacy")
	fits(t, "targets", d.m.View().Content, 80, 24)
}
