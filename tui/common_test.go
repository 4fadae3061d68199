package tui

import (
	"fmt"
	"strings"
	"testing"

	"github.com/charmbracelet/x/ansi"
)

// TestTableSaysWhereTheWindowIs: a list longer than its space shows where
// the window is and how many rows lie beyond it, and every row, the last
// included, can be scrolled to.
func TestTableSaysWhereTheWindowIs(t *testing.T) {
	c := &common{width: 60, height: 24, st: newStyles(), keys: newKeyMap()}
	rows := make([][]string, 14)
	for i := range rows {
		rows[i] = []string{fmt.Sprintf("row-%02d", i+1)}
	}
	cols := []column{{"NAME", 0}}
	render := func(cursor, offset, height int) []string {
		return strings.Split(ansi.Strip(c.table(cols, rows, cursor, offset, height)), "\n")
	}

	// Everything fits: no position line.
	if got := render(0, 0, 14); len(got) != 15 || strings.Contains(got[14], "of 14") {
		t.Fatalf("14 rows in 14 lines:\n%s", strings.Join(got, "\n"))
	}

	// One too many: 13 rows and the position, within the same 14 lines.
	got := render(0, 0, 13)
	if len(got) != 14 || strings.TrimSpace(got[13]) != "1–12 of 14 · ↓ 2 more" {
		t.Fatalf("top of the list:\n%s", strings.Join(got, "\n"))
	}

	// The cursor on the last row: the window follows it.
	offset := scroll(13, 0, 13, 14)
	got = render(13, offset, 13)
	if !strings.Contains(got[len(got)-2], "row-14") || strings.TrimSpace(got[len(got)-1]) != "↑ 2 more · 3–14 of 14" {
		t.Fatalf("bottom of the list (offset %d):\n%s", offset, strings.Join(got, "\n"))
	}

	// In the middle, both directions are counted.
	got = render(6, scroll(6, 5, 5, 14), 5)
	if last := strings.TrimSpace(got[len(got)-1]); last != "↑ 5 more · 6–9 of 14 · ↓ 5 more" {
		t.Fatalf("middle of the list: %q", last)
	}

	// A list without a cursor scrolled by offset alone reaches its end.
	got = render(-1, 99, 5)
	if !strings.Contains(got[len(got)-2], "row-14") {
		t.Fatalf("offset past the end:\n%s", strings.Join(got, "\n"))
	}
}

// A path too long for its line loses its middle, never its file name; one
// that leaves too little room goes on a line of its own.
func TestWithPathKeepsTheFileName(t *testing.T) {
	for _, tc := range []struct {
		text, path string
		width      int
		want       string
	}{
		{"done", "/var/lib/ulc/audit.db", 40, "done · /var/lib/ulc/audit.db"},
		{"done", "/tmp/a-very-long-folder-name-indeed/audit.db", 30, "done · /tmp/a-very-l…/audit.db"},
		{"a sentence that leaves little room", "/tmp/somewhere/far/away/audit.db", 40,
			"a sentence that leaves little room\n/tmp/somewhere/far/away/audit.db"},
		{"x", "/tmp/" + strings.Repeat("n", 40) + ".db", 20, "x\n…" + strings.Repeat("n", 16) + ".db"},
	} {
		got := withPath(tc.text, " · ", tc.path, tc.width)
		if got != tc.want {
			t.Errorf("withPath(%q, %q, %d) = %q, want %q", tc.text, tc.path, tc.width, got, tc.want)
		}
		for _, l := range strings.Split(got, "\n") {
			if ansi.StringWidth(l) > tc.width {
				t.Errorf("%q is wider than %d", l, tc.width)
			}
		}
	}
}
