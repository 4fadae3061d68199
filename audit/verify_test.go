package audit

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"os"
	"strings"
	"testing"

	"ulc/actions"
)

// tenEvents records a finished run of ten events (seq 1..10): run_started,
// three planned steps, three attempts, two results (steps 1 and 2; step 3
// failed) ... and returns the log's path and head.
func tenEvents(t testing.TB) (path, head string) {
	t.Helper()
	path = newPath(t)
	l, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = l.Close() }()
	steps := []step{
		{"alice@example.com", actions.OktaTarget, actions.ActionClearSessions},
		{"alice@example.com", "app1", actions.ActionGTR},
		{"alice@example.com", "app2", actions.ActionGTR},
	}
	record(t, l, planEvents(t, "run-1", base, []actions.User{{ID: "00u1", Login: "alice@example.com"}}, steps)...) // 1-4
	for i, s := range steps {
		record(t, l, attempt("run-1", base, i+1, s, 1)) // 5-7
	}
	record(t, l, result("run-1", base, 1, steps[0], 1, 200, actions.Done))    // 8
	record(t, l, result("run-1", base, 2, steps[1], 1, 204, actions.Revoked)) // 9
	record(t, l, result("run-1", base, 3, steps[2], 1, 503, actions.Failed))  // 10
	_, head, err = l.Head(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return path, head
}

// verify opens path and verifies it against knownHead.
func verify(t testing.TB, path, knownHead string) VerifyResult {
	t.Helper()
	l := openLog(t, path)
	res, err := l.Verify(t.Context(), knownHead)
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	return res
}

func TestVerifyIntactLog(t *testing.T) {
	path, head := tenEvents(t)
	want := VerifyResult{OK: true, Events: 10, HeadSeq: 10, Head: head}
	for _, known := range []string{"", head, strings.ToUpper(head), " " + head + "\n"} {
		if got := verify(t, path, known); got != want {
			t.Errorf("Verify(%q) = %+v; want %+v", known, got, want)
		}
	}
	// The fast check is what vouched, with the same figures.
	l := openLog(t, path)
	fast, ok, err := l.verifyFast(t.Context(), head)
	if err != nil || !ok || fast != (fastResult{events: 10, lastSeq: 10, lastHash: head, foundHead: true}) {
		t.Errorf("the fast check of an intact log: %+v, ok %v, %v", fast, ok, err)
	}
	// Read in several ranges, the log is just as intact.
	minFastRange = 3
	fast, ok, err = l.verifyFast(t.Context(), head)
	minFastRange = 20_000
	if err != nil || !ok || fast != (fastResult{events: 10, lastSeq: 10, lastHash: head, foundHead: true}) {
		t.Errorf("the fast check of an intact log in ranges: %+v, ok %v, %v", fast, ok, err)
	}
	// An earlier head printed in a ticket is still in a longer chain.
	var first string
	if err := l.db.QueryRowContext(context.Background(), `SELECT hash FROM events WHERE seq = 4`).Scan(&first); err != nil {
		t.Fatal(err)
	}
	if got := verify(t, path, first); !got.OK {
		t.Errorf("Verify(head of seq 4) = %+v; want OK", got)
	}

	if _, err := l.Verify(t.Context(), "not-a-hash"); err == nil {
		t.Error("Verify with a malformed head succeeded; want an error")
	}
}

func TestVerifyEmptyLog(t *testing.T) {
	path := newPath(t)
	if got := verify(t, path, ""); got != (VerifyResult{OK: true}) {
		t.Errorf("Verify of an empty log = %+v; want OK with no events", got)
	}
	if got := verify(t, path, strings.Repeat("ab", 32)); got.OK || got.BrokenSeq != 1 {
		t.Errorf("Verify of an empty log against a head = %+v; want not found", got)
	}
}

// The hash is documented well enough to recompute it without this package:
// SHA-256 over prev_hash then each column but hash as a big-endian uint64
// length and its text.
func TestHashMatchesDocumentedFormat(t *testing.T) {
	path, _ := tenEvents(t)
	db := rawDB(t, path)
	rows, err := db.QueryContext(context.Background(), `SELECT `+columnList+` FROM events ORDER BY seq`)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = rows.Close() }()
	prev := strings.Repeat("0", 64)
	for rows.Next() {
		vals := make([]sql.NullString, len(columns))
		ptrs := make([]any, len(vals))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		h := sha256.New()
		h.Write([]byte(vals[17].String))
		for _, v := range vals[:18] {
			h.Write(binary.BigEndian.AppendUint64(nil, uint64(len(v.String))))
			h.Write([]byte(v.String))
		}
		if got := hex.EncodeToString(h.Sum(nil)); got != vals[18].String || vals[17].String != prev {
			t.Fatalf("seq %s: documented hash %s, stored %s (prev %s, want %s)", vals[0].String, got, vals[18].String, vals[17].String, prev)
		}
		prev = vals[18].String
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
}

func TestCanonicalEncodingIsUnambiguous(t *testing.T) {
	ev := func(user, target, errText string) row {
		e := actions.Event{Seq: 1, RunID: "r", Time: base, Kind: actions.KindResult, User: user, Target: target, Error: errText}
		return newRow(&e, GenesisHash)
	}
	// The same characters split differently between columns must never
	// collide: a tamperer could otherwise move text from one to the other.
	pairs := [][2]row{
		{ev("ab", "c", ""), ev("a", "bc", "")},
		{ev("a", "", "b"), ev("", "a", "b")},
		{ev("", "", ""), ev("", "", "\x00")},
		{ev("a\x00\x00\x00\x00\x00\x00\x00\x01b", "", ""), ev("a", "b", "")},
	}
	for _, p := range pairs {
		if string(p[0].canonical()) == string(p[1].canonical()) || p[0][colHash] == p[1][colHash] {
			t.Errorf("rows %q and %q share an encoding", p[0][:colHash], p[1][:colHash])
		}
	}
}

func TestAppendOnlyTriggersRefuseEdits(t *testing.T) {
	path, head := tenEvents(t)
	db := rawDB(t, path)
	for _, q := range []string{
		`UPDATE events SET outcome = 'revoked' WHERE seq = 10`,
		`DELETE FROM events WHERE seq = 5`,
		`DELETE FROM events`,
		`UPDATE schema_migrations SET version = 2`,
	} {
		_, err := db.ExecContext(context.Background(), q)
		if err == nil || !strings.Contains(err.Error(), "audit log is append-only") {
			t.Errorf("%s: err = %v; want the append-only refusal", q, err)
		}
	}
	if got := verify(t, path, head); !got.OK || got.Events != 10 {
		t.Errorf("Verify after refused edits = %+v; want OK", got)
	}
}

func TestVerifyFindsTampering(t *testing.T) {
	cases := []struct {
		name   string
		tamper func(t *testing.T, db *sql.DB)
		known  bool // pass the original head
		seq    int64
		want   string
	}{{
		name: "an outcome changed",
		tamper: func(t *testing.T, db *sql.DB) {
			mustExec(t, db, `UPDATE events SET outcome = 'revoked' WHERE seq = 10`)
		},
		seq:  10,
		want: "event 10 was changed (its hash does not match its content)",
	}, {
		// The fast check reads a row as its columns joined by a byte ulc
		// never writes; a tamperer's separator inside a column, or a NULL
		// that joining would leave out, must not pass for the original.
		name: "separators written into a column",
		tamper: func(t *testing.T, db *sql.DB) {
			mustExec(t, db, `UPDATE events SET "error" = char(31) || char(30) || "error" WHERE seq = 5`)
		},
		seq:  5,
		want: "event 5 was changed (its hash does not match its content)",
	}, {
		name: "a column moved into the one before, leaving a NULL",
		tamper: func(t *testing.T, db *sql.DB) {
			// A table rebuilt STRICT but without NOT NULL takes the NULL.
			var cols []string
			for i, c := range columns {
				typ := "TEXT"
				if isIntColumn(i) {
					typ = "INTEGER"
				}
				if c == "seq" {
					typ += " PRIMARY KEY"
				}
				cols = append(cols, `"`+c+`" `+typ)
			}
			mustExec(t, db, `CREATE TABLE loose (`+strings.Join(cols, ", ")+`) STRICT`)
			mustExec(t, db, `INSERT INTO loose SELECT `+columnList+` FROM events`)
			mustExec(t, db, `DROP TABLE events`)
			mustExec(t, db, `ALTER TABLE loose RENAME TO events`)
			mustExec(t, db, `UPDATE events SET target = target || char(31) || "action", "action" = NULL WHERE seq = 5`)
		},
		seq:  5,
		want: "event 5 was changed (its hash does not match its content)",
	}, {
		name: "a middle row deleted",
		tamper: func(t *testing.T, db *sql.DB) {
			mustExec(t, db, `DELETE FROM events WHERE seq = 5`)
		},
		seq:  5,
		want: "event 5 is missing (sequence jumps from 4 to 6)",
	}, {
		name: "two rows swapped",
		tamper: func(t *testing.T, db *sql.DB) {
			swapRows(t, db, 3, 6)
		},
		seq:  3,
		want: "event 3 was changed or moved (its hash does not match its content, and it does not follow event 2): rows changed or reordered",
	}, {
		name: "the last rows deleted",
		tamper: func(t *testing.T, db *sql.DB) {
			mustExec(t, db, `DELETE FROM events WHERE seq > 8`)
		},
		known: true,
		seq:   9,
		want:  "the head hash %s given was not found: the log was truncated or replaced (it now ends at event 8)",
	}, {
		name: "a row removed and the rest renumbered and re-hashed",
		tamper: func(t *testing.T, db *sql.DB) {
			mustExec(t, db, `DELETE FROM events WHERE seq = 5`)
			for seq := int64(6); seq <= 10; seq++ {
				r := readRow(t, db, seq)
				r[colSeq] = fmt.Sprint(seq - 1)
				r[colHash] = r.computeHash()
				mustExec(t, db, `UPDATE events SET seq = ?, hash = ? WHERE seq = ?`, seq-1, r[colHash], seq)
			}
		},
		seq:  5,
		want: "event 5 does not follow event 4 (prev_hash mismatch): rows removed or reordered",
	}, {
		name: "a row removed and the whole chain forged",
		tamper: func(t *testing.T, db *sql.DB) {
			mustExec(t, db, `DELETE FROM events WHERE seq = 5`)
			prev := readRow(t, db, 4)[colHash]
			for seq := int64(6); seq <= 10; seq++ {
				r := readRow(t, db, seq)
				r[colSeq], r[colPrevHash] = fmt.Sprint(seq-1), prev
				r[colHash] = r.computeHash()
				mustExec(t, db, `UPDATE events SET seq = ?, prev_hash = ?, hash = ? WHERE seq = ?`, seq-1, prev, r[colHash], seq)
				prev = r[colHash]
			}
		},
		// A perfect forgery is a valid chain: only the head printed
		// earlier (in the ticket) exposes it.
		known: true,
		seq:   10,
		want:  "the head hash %s given was not found: the log was truncated or replaced (it now ends at event 9)",
	}}
	for _, c := range cases {
		for _, split := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/split=%v", c.name, split), func(t *testing.T) {
				tamperCase(t, c.tamper, c.known, c.seq, c.want, split)
			})
		}
	}
}

// tamperCase tampers with a fresh ten-event log and checks what Verify
// says; with split, the fast check reads the log in several ranges.
func tamperCase(t *testing.T, tamper func(t *testing.T, db *sql.DB), known bool, seq int64, want string, split bool) {
	if split {
		old := minFastRange
		minFastRange = 3
		t.Cleanup(func() { minFastRange = old })
	}
	path, head := tenEvents(t)
	db := rawDB(t, path)
	dropTriggers(t, db)
	tamper(t, db)
	knownHead := ""
	if known {
		knownHead = head
	}
	l := openLog(t, path)
	if fast, ok, err := l.verifyFast(t.Context(), knownHead); err != nil || ok && fast.foundHead {
		t.Errorf("the fast check vouched for the tampered log (%+v, %v)", fast, err)
	}
	got := verify(t, path, knownHead)
	if strings.Contains(want, "%s") {
		want = fmt.Sprintf(want, head)
	}
	if got.OK || got.BrokenSeq != seq || got.Problem != want {
		t.Errorf("Verify = OK %v, broken at %d, %q\nwant broken at %d, %q", got.OK, got.BrokenSeq, got.Problem, seq, want)
	}
}

// readRow reads row seq as text, the way Verify does.
func readRow(t testing.TB, db *sql.DB, seq int64) row {
	t.Helper()
	vals := make([]any, len(columns))
	ptrs := make([]any, len(vals))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	if err := db.QueryRowContext(context.Background(), `SELECT `+columnList+` FROM events WHERE seq = ?`, seq).Scan(ptrs...); err != nil {
		t.Fatalf("read row %d: %v", seq, err)
	}
	r, _ := rowFromValues(vals)
	return r
}

// swapRows exchanges everything but seq between rows i and j.
func swapRows(t testing.TB, db *sql.DB, i, j int64) {
	t.Helper()
	read := func(seq int64) []any {
		vals := make([]any, len(columns))
		ptrs := make([]any, len(vals))
		for k := range vals {
			ptrs[k] = &vals[k]
		}
		if err := db.QueryRowContext(context.Background(), `SELECT `+columnList+` FROM events WHERE seq = ?`, seq).Scan(ptrs...); err != nil {
			t.Fatalf("read row %d: %v", seq, err)
		}
		return vals[1:]
	}
	var set []string
	for _, c := range columns[1:] {
		set = append(set, `"`+c+`" = ?`)
	}
	q := `UPDATE events SET ` + strings.Join(set, ", ") + ` WHERE seq = ?`
	ri, rj := read(i), read(j)
	mustExec(t, db, q, append(rj, i)...)
	mustExec(t, db, q, append(ri, j)...)
}

// FuzzVerify applies one fuzzer-chosen edit to a valid log, with the
// triggers dropped: change a byte (or an integer) of one column of one row,
// delete a row, or swap two rows. Verify, given the head taken before the
// edit, must never panic or fail to read, and must report the log broken
// unless the edit changed nothing.
func FuzzVerify(f *testing.F) {
	template, head := tenEvents(f)
	image, err := os.ReadFile(template) // Close checkpointed the WAL into it
	if err != nil {
		f.Fatal(err)
	}
	f.Add(uint8(0), uint8(9), uint8(10), uint16(0), byte(1))    // outcome of seq 10
	f.Add(uint8(0), uint8(0), uint8(0), uint16(0), byte(1))     // seq of seq 1
	f.Add(uint8(0), uint8(3), uint8(16), uint16(7), byte(0x20)) // a byte of a detail
	f.Add(uint8(0), uint8(4), uint8(17), uint16(63), byte(2))   // prev_hash
	f.Add(uint8(0), uint8(9), uint8(18), uint16(5), byte(9))    // the head's hash
	f.Add(uint8(0), uint8(2), uint8(2), uint16(3), byte(0))     // a no-op
	f.Add(uint8(1), uint8(4), uint8(0), uint16(0), byte(0))     // delete seq 5
	f.Add(uint8(1), uint8(9), uint8(0), uint16(0), byte(0))     // delete the head
	f.Add(uint8(2), uint8(2), uint8(5), uint16(0), byte(0))     // swap 3 and 6
	f.Add(uint8(2), uint8(7), uint8(7), uint16(0), byte(0))     // swap a row with itself
	f.Fuzz(func(t *testing.T, op, a, b uint8, pos uint16, x byte) {
		path := newPath(t)
		if err := os.WriteFile(path, image, 0o600); err != nil {
			t.Fatal(err)
		}
		db := rawDB(t, path)
		dropTriggers(t, db)
		n := count(t, db)
		i, j := int64(a)%n+1, int64(b)%n+1
		changed := true
		switch op % 3 {
		case 0:
			changed = editColumn(t, db, i, int(b)%len(columns), int(pos), x)
		case 1:
			mustExec(t, db, `DELETE FROM events WHERE seq = ?`, i)
		case 2:
			if changed = i != j; changed {
				swapRows(t, db, i, j)
			}
		}
		_ = db.Close()
		// With the head printed earlier, even dropping the last row shows.
		got := verify(t, path, head)
		if got.OK == changed {
			t.Fatalf("edit op=%d row=%d col=%d pos=%d x=%#x (changed=%v): Verify = %+v", op%3, i, int(b)%len(columns), pos, x, changed, got)
		}
		if !got.OK && (got.BrokenSeq <= 0 || got.Problem == "") {
			t.Fatalf("a broken result must name the seq and the problem: %+v", got)
		}
	})
}

// editColumn flips bits x of byte pos of column col of row seq (for an
// integer column, of its value). It reports whether the row changed: a
// zero x, or an edit the table refuses (a duplicate seq), changes nothing.
func editColumn(t *testing.T, db *sql.DB, seq int64, col, pos int, x byte) bool {
	if x == 0 {
		return false
	}
	name := `"` + columns[col] + `"`
	var val any
	if isIntColumn(col) {
		var v int64
		if err := db.QueryRowContext(context.Background(), `SELECT `+name+` FROM events WHERE seq = ?`, seq).Scan(&v); err != nil {
			t.Fatal(err)
		}
		val = v ^ int64(x)<<(8*(pos%8))
	} else {
		var s string
		if err := db.QueryRowContext(context.Background(), `SELECT `+name+` FROM events WHERE seq = ?`, seq).Scan(&s); err != nil {
			t.Fatal(err)
		}
		b := []byte(s)
		if len(b) == 0 {
			b = []byte{x}
		} else {
			b[pos%len(b)] ^= x
		}
		val = string(b)
	}
	if _, err := db.ExecContext(context.Background(), `UPDATE events SET `+name+` = ? WHERE seq = ?`, val, seq); err != nil {
		if strings.Contains(err.Error(), "UNIQUE constraint failed") {
			return false
		}
		t.Fatal(err)
	}
	return true
}
