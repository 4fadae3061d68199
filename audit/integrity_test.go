package audit

import (
	"context"
	"encoding/binary"
	"errors"
	"io"
	"math/rand/v2"
	"os"
	"strings"
	"testing"

	"ulc/actions"
)

// corruptibleLog returns a closed log of n events (no -wal: everything is in
// the main file) and its page size and page count.
func corruptibleLog(t *testing.T, n int64) (path string, pageSize, pages int64) {
	t.Helper()
	path = newPath(t)
	l := openLog(t, path)
	if err := fillLog(l, n); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	pageSize = int64(binary.BigEndian.Uint16(b[16:18]))
	if pageSize == 1 {
		pageSize = 65536
	}
	if free := binary.BigEndian.Uint32(b[36:40]); free != 0 {
		t.Fatalf("the log has %d free pages; an append-only log should have none", free)
	}
	return path, pageSize, int64(len(b)) / pageSize
}

// copyFile copies src to a fresh file and returns its path.
func copyFile(t *testing.T, src string) string {
	t.Helper()
	dst := newPath(t)
	in, err := os.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = in.Close() }()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
	return dst
}

// overwrite writes b at offset off of the file at path.
func overwrite(t *testing.T, path string, off int64, b []byte) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt(b, off); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// rootPages returns the root page of every index, by name.
func rootPages(t *testing.T, path string) map[string]int64 {
	t.Helper()
	rows, err := rawDB(t, path).QueryContext(context.Background(), `SELECT name, rootpage FROM sqlite_schema WHERE type = 'index'`)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = rows.Close() }()
	roots := map[string]int64{}
	for rows.Next() {
		var name string
		var root int64
		if err := rows.Scan(&name, &root); err != nil {
			t.Fatal(err)
		}
		roots[name] = root
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if len(roots) != 4 {
		t.Fatalf("indexes %v; want the four of the schema (three on events, the cursors' primary key)", roots)
	}
	return roots
}

// A log whose old pages are damaged is refused by Open, before a run could
// send anything, with ErrCorrupt and a sentence saying what to do. Without
// the check, the same file opens and takes a new run's plan (appends touch
// none of the damaged pages), and only a later verify would fail.
func TestOpenFindsCorruptOldPages(t *testing.T) {
	src, pageSize, pages := corruptibleLog(t, 6000)
	rng := rand.New(rand.NewPCG(8, 3))
	garbage := func(n int64) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(rng.Uint32())
		}
		return b
	}
	type damage struct {
		name string
		off  int64
		b    []byte
	}
	page := func(n int64) int64 { return (n - 1) * pageSize }
	cases := []damage{
		{"a page a quarter into the file", page(pages / 4), garbage(pageSize)},
		{"a page in the middle", page(pages / 2), garbage(pageSize)},
		{"a page three quarters in", page(pages * 3 / 4), garbage(pageSize)},
		{"a zeroed page", page(pages/2 + 7), make([]byte, pageSize)},
		{"a page's header and cell pointers", page(pages/3) + 0, garbage(40)},
	}
	for name, root := range rootPages(t, src) {
		cases = append(cases, damage{"the root page of index " + name, page(root), garbage(pageSize)})
	}
	ev := planEvents(t, "after-the-damage", base, nil, []step{{"alice@example.com", "app1", actions.ActionGTR}})
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := copyFile(t, src)
			overwrite(t, path, c.off, c.b)

			l, err := Open(path)
			if err == nil {
				_ = l.Close()
				t.Fatal("Open of a damaged log succeeded")
			}
			t.Log(err)
			if !errors.Is(err, ErrCorrupt) || !errors.Is(err, ErrUnavailable) {
				t.Errorf("Open error %v does not match ErrCorrupt and ErrUnavailable", err)
			}
			msg := err.Error()
			for _, want := range []string{"audit log " + path + ": database file is corrupt", "keep this file as evidence", "--audit-db", "ulc audit verify"} {
				if !strings.Contains(msg, want) {
					t.Errorf("Open error %q does not say %q", msg, want)
				}
			}
			if strings.Contains(msg, "\n") {
				t.Errorf("Open error %q is not one line", msg)
			}

			// An auditor can still open it read-only, and is told the same.
			ro, err := OpenReadOnly(path)
			if err != nil {
				t.Fatalf("OpenReadOnly of a damaged log: %v", err)
			}
			defer func() { _ = ro.Close() }()
			if err := ro.CheckIntegrity(t.Context()); !errors.Is(err, ErrCorrupt) {
				t.Errorf("CheckIntegrity = %v; want ErrCorrupt", err)
			}

			// What the check prevents: without it, a run's plan is recorded.
			unchecked, err := open(path, false)
			if err != nil {
				t.Logf("note: this damage is found even without the check: %v", err)
				return
			}
			defer func() { _ = unchecked.Close() }()
			if err := unchecked.Record(t.Context(), true, ev...); err != nil {
				t.Logf("note: without the check the run's first write fails: %v", err)
			}
		})
	}

	// The undamaged original opens, and checks clean.
	l := openLog(t, src)
	if err := l.CheckIntegrity(t.Context()); err != nil {
		t.Errorf("CheckIntegrity of an intact log = %v", err)
	}
}

// A damaged page holding only the text of old events is still found by
// Verify, which the check does not replace.
func TestCheckIntegrityLeavesContentToVerify(t *testing.T) {
	path, head := tenEvents(t)
	db := rawDB(t, path)
	dropTriggers(t, db)
	mustExec(t, db, `UPDATE events SET target = 'app9' WHERE seq = 3`)
	_ = db.Close()
	l := openLog(t, path) // structurally sound: Open accepts it
	res, err := l.Verify(t.Context(), head)
	if err != nil || res.OK || res.BrokenSeq != 3 {
		t.Errorf("Verify = %+v, %v; want the chain broken at event 3", res, err)
	}
}

func TestCheckIntegrityHonoursContext(t *testing.T) {
	path, _, _ := corruptibleLog(t, 3000)
	l := openLog(t, path)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	err := l.CheckIntegrity(ctx)
	if !errors.Is(err, context.Canceled) || errors.Is(err, ErrCorrupt) {
		t.Errorf("CheckIntegrity with a cancelled context = %v; want context.Canceled, not ErrCorrupt", err)
	}
}
