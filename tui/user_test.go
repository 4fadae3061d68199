package tui

import (
	"strings"
	"testing"
	"time"
)

// At 80×24 the MFA-fatigue story can be read: which events failed, when
// (with the zone), each event's whole name, and that Amsterdam and its
// address are new while Chicago is where she always was.
func TestUserEvidenceIsReadableAt80x24(t *testing.T) {
	deps, _, _, _ := testDeps()
	d := newDriver(t, deps, 80, 24)
	d.openUser("tri")
	d.sees("TIME UTC", "OUTCOME", "3 failures", "new: Amsterdam, Netherlands")
	rows := rowsBelow(d.frame(), "OUTCOME")
	var rejected, chicago int
	for _, r := range rows {
		if !strings.HasPrefix(r, "11-") {
			continue // the selected event's detail
		}
		switch {
		case strings.Contains(r, "User rejected"):
			rejected++
			if !strings.Contains(r, "✗ failure") || !strings.Contains(r, "*203.0.113.66") || !strings.Contains(r, "*Amsterdam") {
				t.Errorf("a rejected push does not read as a failure from a new place: %q", r)
			}
		case strings.Contains(r, "Chicago"):
			chicago++
			if strings.Contains(r, "*") || !strings.Contains(r, "✓ success") {
				t.Errorf("a sign-in from her usual place is marked new, or not a success: %q", r)
			}
		}
		if strings.Contains(r, "11-21 13:56") && !strings.Contains(r, "? challenge") {
			t.Errorf("the sign-on policy's challenge is not shown as one: %q", r)
		}
	}
	if rejected != 3 || chicago == 0 {
		t.Fatalf("rows: %d rejected pushes, %d from Chicago:\n%s", rejected, chicago, d.frame())
	}

	// The selected event in full, under the table.
	for range 4 {
		d.key("down")
	}
	want := "5/10 User rejected Okta push verify (user.mfa.okta_verify.deny_push) · FAILURE · " +
		"CHROME on Windows, Computer from 203.0.113.66 Amsterdam, Netherlands · place and address first seen 11-21 13:56 UTC"
	if got := eventDetail(d.frame()); got != want {
		t.Fatalf("the selected event reads\n%q, want\n%q", got, want)
	}
	d.key("G")
	if got := eventDetail(d.frame()); got != "10/10 User login to Okta (user.session.start) · SUCCESS · CHROME on Mac OS X, Computer from 198.51.100.23 Chicago, United States" {
		t.Fatalf("the oldest event, the baseline, reads %q", got)
	}
	d.key("g")
	if got := eventDetail(d.frame()); !strings.HasPrefix(got, "1/10 Activate factor or authenticator") {
		t.Fatalf("g does not select the newest event: %q", got)
	}
}

// eventDetail is the User screen's detail of the selected event, its
// wrapped lines joined again.
func eventDetail(frame string) string {
	var out []string
	in := false
	for _, l := range strings.Split(frame, "\n") {
		switch {
		case strings.HasPrefix(l, newMark+"not seen before"):
			return strings.Join(out, " ")
		case in || len(l) > 2 && strings.Contains(l[:6], "/"):
			if !in && !strings.Contains(l, "/10 ") {
				continue
			}
			in = true
			out = append(out, strings.TrimSpace(l))
		}
	}
	return strings.Join(out, " ")
}

// An address first seen after the window's start is new on every event
// from it; the oldest event's place and address are the baseline.
func TestReadEvidenceMarksWhatWasNotSeenBefore(t *testing.T) {
	at := func(h int) time.Time { return testNow.Add(-time.Duration(h) * time.Hour) }
	acts := []Activity{ // newest first
		{Time: at(1), IP: "10.0.0.9", City: "Chicago", Country: "US", Outcome: "SUCCESS"},
		{Time: at(2), IP: "192.0.2.1", City: "Lagos", Country: "NG", Outcome: "FAILURE: bad password"},
		{Time: at(3), IP: "192.0.2.1", City: "Lagos", Country: "NG", Outcome: "DENY"},
		{Time: at(9), IP: "10.0.0.8", City: "Chicago", Country: "US", Outcome: "SUCCESS"},
	}
	ev := readEvidence(acts)
	if want := []bool{true, true, true, false}; !equalBools(ev.newIP, want) {
		t.Errorf("new addresses %v, want %v", ev.newIP, want)
	}
	if want := []bool{false, true, true, false}; !equalBools(ev.newPlace, want) {
		t.Errorf("new places %v, want %v", ev.newPlace, want)
	}
	if !ev.firstPlace["Lagos, NG"].Equal(at(3)) || !ev.firstIP["10.0.0.9"].Equal(at(1)) {
		t.Errorf("first seen %v %v", ev.firstPlace, ev.firstIP)
	}
	if ev.summary != "· 2 failures · new: Lagos, NG" {
		t.Errorf("summary %q", ev.summary)
	}
	if ev.zone != "UTC" {
		t.Errorf("zone %q, want the local zone UTC in the header", ev.zone)
	}
}

func equalBools(a, b []bool) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// The User screen shows times in the operator's own zone, and says which:
// at UTC+1 her rejected pushes from Amsterdam read an hour later than in
// UTC, under a header naming the zone.
func TestUserEvidenceIsInTheLocalZone(t *testing.T) {
	saved := time.Local
	time.Local = time.FixedZone("CET", 3600)
	t.Cleanup(func() { time.Local = saved })
	deps, _, _, _ := testDeps()
	d := newDriver(t, deps, 80, 24)
	d.openUser("tri")
	d.sees("TIME CET")
	d.notSees("TIME UTC")
	for range 4 {
		d.key("down")
	}
	if got := eventDetail(d.frame()); !strings.HasSuffix(got, "place and address first seen 11-21 14:56 CET") {
		t.Fatalf("the selected event reads %q, want it first seen at 14:56 CET (13:56 UTC)", got)
	}
	var rows []string
	for _, r := range rowsBelow(d.frame(), "OUTCOME") {
		if strings.HasPrefix(r, "11-21 14:56") {
			rows = append(rows, r)
		}
	}
	if len(rows) == 0 {
		t.Fatalf("no event at 11-21 14:56 local, the sign-on challenge of 13:56 UTC:\n%s", d.frame())
	}
}

// / filters the sign-in evidence: the MFA-fatigue pushes the user
// rejected, out of every event; r typed into the filter is text, not a
// revoke, and esc clears the filter before it leaves the user.
func TestUserEventsFilter(t *testing.T) {
	deps, _, _, _ := testDeps()
	d := newDriver(t, deps, 80, 24)
	d.openUser("tri")
	d.key("/")
	d.typeText("rejected")
	d.sees("filter › rejected", "3 of 10 events")
	d.notSees("Log out ") // r was text, not a revoke
	rows := rowsBelow(d.frame(), "OUTCOME")
	n := 0
	for _, r := range rows {
		if strings.Contains(r, "✗ failure   ") {
			n++
			if !strings.Contains(r, "User rejected") {
				t.Errorf("the filter for rejected shows %q", r)
			}
		}
	}
	if n == 0 {
		t.Fatalf("no rejected push shows:\n%s", d.frame())
	}
	d.key("enter")
	d.sees("1/")
	d.key("esc") // clears the filter
	d.notSees("filter ›")
	d.sees("Recent activity")
	d.key("esc") // leaves the user
	d.notSees("Recent activity")
}
