package audit

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"unicode"

	"ulc/actions"
	"ulc/internal/safetext"
)

// hostile returns events whose strings came from outside (a target's error
// text, a user's display data) and try to become spreadsheet formulas or
// break the formats.
func hostile(t *testing.T, l *Log) []actions.Event {
	t.Helper()
	evs := []actions.Event{
		{RunID: "r1", Time: base, Kind: actions.KindRunStarted, Detail: mustJSON(t, actions.RunInfo{Reason: "=HYPERLINK(\"http://evil\",\"x\")", Users: []actions.User{alice}})},
		{RunID: "r1", Time: base, Kind: actions.KindResult, Step: 1, User: "=cmd|' /C calc'!A0", Target: "+app", Action: actions.ActionGTR,
			Attempt: 3, HTTPStatus: 500, Outcome: actions.Failed, LatencyMS: 1234,
			Error: "-2+3, \"quoted\"\nsecond line <b>&amp;</b>", RequestID: "@SUM(A1)", ErrorCode: "'already quoted", ErrorID: "\tTAB"},
		{RunID: "r2", Time: base, Kind: actions.KindRunStarted},
	}
	record(t, l, evs...)
	return evs
}

func TestExportJSONLRoundTrip(t *testing.T) {
	l := openLog(t, newPath(t))
	want := hostile(t, l)
	var buf bytes.Buffer
	if err := l.Export(t.Context(), &buf, "jsonl", ""); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), "<b>&amp;</b>") {
		t.Error("strings were HTML-escaped; want them as-is")
	}
	sc := bufio.NewScanner(&buf)
	prev := GenesisHash
	var i int
	for ; sc.Scan(); i++ {
		var rec ExportRecord
		if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
			t.Fatalf("line %d: %v", i+1, err)
		}
		if !reflect.DeepEqual(rec.Event, want[i]) {
			t.Errorf("line %d = %+v\nwant %+v", i+1, rec.Event, want[i])
		}
		// The export alone is enough to re-verify the chain.
		if rec.PrevHash != prev || newRow(&rec.Event, rec.PrevHash)[colHash] != rec.Hash {
			t.Errorf("line %d does not re-verify", i+1)
		}
		prev = rec.Hash
	}
	if i != len(want) {
		t.Errorf("%d lines; want %d", i, len(want))
	}

	buf.Reset()
	if err := l.Export(t.Context(), &buf, "jsonl", "r2"); err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(buf.String(), "\n"); n != 1 || !strings.Contains(buf.String(), `"run_id":"r2"`) {
		t.Errorf("export of run r2 = %q", buf.String())
	}
}

func TestExportCSVRoundTripAndFormulaInjection(t *testing.T) {
	l := openLog(t, newPath(t))
	want := hostile(t, l)
	var buf bytes.Buffer
	if err := l.Export(t.Context(), &buf, "csv", ""); err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(&buf).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(recs[0], CSVHeader) || len(recs) != 1+len(want) {
		t.Fatalf("header %v and %d rows", recs[0], len(recs)-1)
	}
	// No cell may start a formula.
	for _, r := range recs[1:] {
		for j, c := range r {
			if c != "" && strings.ContainsRune("=+-@\t\r", rune(c[0])) {
				t.Errorf("column %s cell %q starts a formula", CSVHeader[j], c)
			}
		}
	}
	cell := func(row int, col string) string { return recs[row][slices.Index(CSVHeader, col)] }
	for col, v := range map[string]string{
		"user": "'=cmd|' /C calc'!A0", "target": "'+app", "request_id": "'@SUM(A1)",
		"error": "'-2+3, \"quoted\" second line <b>&amp;</b>", "error_code": "''already quoted", "error_id": " TAB",
	} {
		if got := cell(2, col); got != v {
			t.Errorf("%s = %q; want %q", col, got, v)
		}
	}
	if got := cell(1, "detail"); got != string(want[0].Detail) {
		t.Errorf("detail = %q; want the JSON text %q", got, want[0].Detail)
	}

	// Stripping one leading quote gives back what was recorded, cleaned
	// for display (here: the line break and the tab became spaces).
	for i, r := range recs[1:] {
		for j := range r {
			r[j] = strings.TrimPrefix(r[j], "'")
		}
		ev := want[i] // Seq filled in by Record
		row := newRow(&ev, r[colPrevHash])
		for j := range row {
			row[j] = safetext.Clean(row[j])
		}
		if !slices.Equal(r, row[:]) {
			t.Errorf("row %d = %q\nwant %q", i+1, r, row[:])
		}
		if seq, _ := strconv.Atoi(r[0]); seq != i+1 {
			t.Errorf("row %d has seq %d", i+1, seq)
		}
	}
}

// terminalAttack returns events whose stored text tries to act on the
// terminal of an auditor who prints an export: OSC 52 (write the
// clipboard), a title change, colour, bidi overrides, invisible and C1
// characters, in every kind of column, detail included.
func terminalAttack(t *testing.T, l *Log) []actions.Event {
	t.Helper()
	evs := []actions.Event{
		{RunID: "r1", Time: base, Kind: actions.KindRunStarted,
			Detail: json.RawMessage("{\"reason\":\"lost laptop \\u001b]52;c;ZXZpbA==\\u0007\",\"operator\":\"soc\u202eexe.gpj\",\"users\":[]}")},
		{RunID: "r1", Time: base, Kind: actions.KindResult, Step: 1,
			User: "\ufeffneo\u200b@corp.example", Target: "app\u202e1", Action: actions.ActionGTR,
			Attempt: 1, HTTPStatus: 500, Outcome: actions.Failed,
			Error:     "upstream said \x1b]52;c;cm0gLXJmIH4=\x07 and \x1b]0;pwned\x07\x1b[2J",
			RequestID: "req\u009b31m", ErrorCode: "E\u2066x\u2069", ErrorID: "id\u00ad\u2060"},
	}
	record(t, l, evs...)
	return evs
}

func TestExportCSVIsSafeToDisplay(t *testing.T) {
	l := openLog(t, newPath(t))
	want := terminalAttack(t, l)
	var buf bytes.Buffer
	if err := l.Export(t.Context(), &buf, "csv", ""); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, r := range out {
		if r != '\n' && (!safetext.Printable(r) || r != ' ' && unicode.IsSpace(r)) {
			t.Errorf("the CSV export carries %U", r)
		}
	}
	if strings.Contains(out, "52;c;") && strings.Contains(out, "\x1b") {
		t.Error("an OSC 52 sequence survived")
	}
	// Every row is one line: nothing stored can fake another row.
	if n := strings.Count(out, "\n"); n != 1+len(want) {
		t.Errorf("%d lines; want %d", n, 1+len(want))
	}
	recs, err := csv.NewReader(strings.NewReader(out)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	cell := func(col string) string { return recs[2][slices.Index(CSVHeader, col)] }
	for col, v := range map[string]string{
		"user": "neo@corp.example", "target": "app1", "error": "upstream said  and ",
		"request_id": "req31m", "error_code": "Ex", "error_id": "id",
	} {
		if got := cell(col); got != v {
			t.Errorf("%s = %q; want %q", col, got, v)
		}
	}
}

// The JSONL export is the verifiable form: it stays exact, and is still
// safe to print because encoding/json escapes every control character (see
// Export for the decision about format characters such as U+202E).
func TestExportJSONLIsExactAndHasNoControls(t *testing.T) {
	l := openLog(t, newPath(t))
	want := terminalAttack(t, l)
	var buf bytes.Buffer
	if err := l.Export(t.Context(), &buf, "jsonl", ""); err != nil {
		t.Fatal(err)
	}
	for i, b := range buf.Bytes() {
		if b < 0x20 && b != '\n' || b == 0x7f {
			t.Fatalf("byte %d of the JSONL export is the control %#x", i, b)
		}
	}
	dec := json.NewDecoder(&buf)
	prev := GenesisHash
	for i := range want {
		var rec ExportRecord
		if err := dec.Decode(&rec); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(rec.Event, want[i]) {
			t.Errorf("record %d = %+v\nwant %+v", i+1, rec.Event, want[i])
		}
		if rec.PrevHash != prev || newRow(&rec.Event, rec.PrevHash)[colHash] != rec.Hash {
			t.Errorf("record %d does not re-verify", i+1)
		}
		prev = rec.Hash
	}
}

func TestExportRejectsUnknownFormat(t *testing.T) {
	l := openLog(t, newPath(t))
	err := l.Export(t.Context(), &bytes.Buffer{}, "xlsx", "")
	if err == nil || !strings.Contains(err.Error(), `unknown export format "xlsx" (want jsonl or csv)`) {
		t.Errorf("Export(xlsx) = %v", err)
	}
}
