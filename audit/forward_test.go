package audit

import (
	"context"
	"testing"
	"time"

	"ulc/actions"
)

// TestCursorsAndEventsAfter: a destination's cursor starts at nothing,
// moves forward only, and EventsAfter hands out the events past it with
// the hashes Verify checks.
func TestCursorsAndEventsAfter(t *testing.T) {
	ctx := context.Background()
	l := openLog(t, newPath(t))
	for i := range 5 {
		record(t, l, actions.Event{RunID: "r1", Kind: actions.KindAttempt, Step: i + 1, Target: "slack", Attempt: 1})
	}
	c, err := l.Cursor(ctx, "siem")
	if err != nil || c.Seq != 0 || c.Hash != "" {
		t.Fatalf("fresh cursor = %+v, %v", c, err)
	}
	evs, err := l.EventsAfter(ctx, 0, 3)
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 3 || evs[0].Seq != 1 || evs[2].Seq != 3 {
		t.Fatalf("EventsAfter(0, 3) = %d events, seqs %d..%d", len(evs), evs[0].Seq, evs[len(evs)-1].Seq)
	}
	if evs[0].PrevHash != GenesisHash || evs[1].PrevHash != evs[0].Hash {
		t.Errorf("hashes do not chain: %q then prev %q", evs[0].Hash, evs[1].PrevHash)
	}
	if err := l.SetCursor(ctx, "siem", 3, evs[2].Hash); err != nil {
		t.Fatal(err)
	}
	if err := l.SetCursor(ctx, "siem", 2, evs[1].Hash); err != nil {
		t.Fatal(err)
	}
	c, err = l.Cursor(ctx, "siem")
	if err != nil || c.Seq != 3 || c.Hash != evs[2].Hash || time.Since(c.Updated) > time.Minute {
		t.Errorf("after 3 then 2: cursor = %+v, %v; want seq 3 (never back)", c, err)
	}
	rest, err := l.EventsAfter(ctx, c.Seq, 100)
	if err != nil || len(rest) != 2 || rest[0].Seq != 4 {
		t.Errorf("EventsAfter(3) = %d events, %v; want seqs 4 and 5", len(rest), err)
	}
	// The cursor table is outside the chain: the log still verifies.
	res, err := l.Verify(ctx, "")
	if err != nil || !res.OK {
		t.Errorf("Verify after moving cursors = %+v, %v", res, err)
	}
}

// TestSubscribeSignalsCommits: a subscriber hears of a commit, and one that
// never reads does not hold the writer up.
func TestSubscribeSignalsCommits(t *testing.T) {
	l := openLog(t, newPath(t))
	ch, stop := l.Subscribe()
	defer stop()
	_, stopIdle := l.Subscribe() // never read
	defer stopIdle()
	for range 50 {
		record(t, l, actions.Event{RunID: "r", Kind: actions.KindRunStarted})
	}
	select {
	case <-ch:
	case <-time.After(5 * time.Second):
		t.Fatal("no signal after 50 commits")
	}
}

// TestReadOnlyOlderSchemaWithoutCursors: a log from before forwarding opens
// read-only, and reports no cursors, rather than asking for an upgrade.
func TestReadOnlyOlderSchemaWithoutCursors(t *testing.T) {
	path := newPath(t)
	l := openLog(t, path)
	record(t, l, actions.Event{RunID: "r", Kind: actions.KindRunStarted})
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	db := rawDB(t, path)
	mustExec(t, db, `DROP TABLE forward_cursor`)
	mustExec(t, db, `DROP TRIGGER schema_migrations_no_delete`)
	mustExec(t, db, `DELETE FROM schema_migrations WHERE version = 2`)
	_ = db.Close()
	ro, err := OpenReadOnly(path)
	if err != nil {
		t.Fatalf("OpenReadOnly of a version 1 log: %v", err)
	}
	defer func() { _ = ro.Close() }()
	cs, err := ro.Cursors(context.Background())
	if err != nil || len(cs) != 0 {
		t.Errorf("Cursors = %v, %v; want none", cs, err)
	}
	if err := ro.SetCursor(context.Background(), "siem", 1, "x"); err == nil {
		t.Error("SetCursor on a read-only log succeeded")
	}
}
