// Package audit is ulc's tamper-evident audit log: an append-only SQLite
// table of actions.Event rows, hash-chained so that an auditor can later
// prove that nothing was changed, removed or reordered.
//
// Writes go through one writer goroutine that groups whatever is queued
// into a single transaction (group commit), so a fan-out to a thousand
// targets costs a handful of fsyncs, not a thousand. A batch is assigned its
// sequence numbers and chained to the previous hash inside a BEGIN
// IMMEDIATE transaction, so several ulc processes appending to the same
// file still produce one valid chain.
//
// The log fails closed: every storage problem is an error matching
// ErrUnavailable, a batch the caller waited for is durable when Record
// returns, and a failure of a batch nobody waited for makes every later
// call fail, so events are never silently lost between recorded ones.
//
// The chain: each row's hash is hex(SHA-256(prev_hash ‖ canonical(row))),
// where canonical encodes every column except hash (seq and prev_hash
// included), in table order, each as its text (integers in decimal, time as
// stored) preceded by its byte length as a big-endian uint64. The first
// row's prev_hash is GenesisHash. This is enough to re-verify an export
// with any SHA-256 tool.
package audit

import (
	"bytes"
	"context"
	"database/sql"
	"database/sql/driver"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mattn/go-sqlite3" // also registers the "sqlite3" driver

	"ulc/actions"
)

// *Log is the engine's journal: every event of a run goes through Record.
var _ actions.Journal = (*Log)(nil)

// Tunables. Variables rather than constants so tests can shorten them.
var (
	// busyTimeout is how long a transaction waits for another process's
	// write lock before failing with "locked by another process".
	busyTimeout = 10 * time.Second
	// maxBatchEvents bounds how many events the writer gathers into one
	// transaction. A single Record call larger than this is still written
	// whole: an atomic batch is never split.
	maxBatchEvents = 1024
)

// queueLen is how many Record calls may wait for the writer before Record
// blocks (back-pressure rather than unbounded memory).
const queueLen = 4096

// Log is an open audit log. Its methods are safe for concurrent use.
type Log struct {
	path string // as given
	abs  string // absolute
	db   *sql.DB

	// readOnly is set by OpenReadOnly: there is no writer, and Record and
	// Flush fail. frozen is set when the file was opened immutable.
	readOnly bool
	frozen   *frozenFile

	// mu guards closed and, held for reading, the send on reqs, so Close
	// never closes the channel under a sender.
	mu     sync.RWMutex
	closed bool
	reqs   chan *request
	done   chan struct{} // closed when the writer has exited

	// failed holds the first failure of a batch nobody waited for; once
	// set, every later Record and Flush returns it (fail closed).
	failed atomic.Pointer[error]

	// commits counts committed transactions, for tests and benchmarks.
	commits atomic.Int64

	// subs are the channels Subscribe handed out, signalled (without
	// blocking) after every commit.
	subsMu sync.Mutex
	subs   []chan struct{}
}

// request is one Record (or Flush) call on its way to the writer. The
// writer owns evs, a copy of the caller's events, until it signals done.
type request struct {
	evs  []actions.Event
	wait bool
	done chan error // nil when nobody waits
}

// Open opens the audit log at path, creating it (mode 0600, and its
// directory with mode 0700 if missing) and migrating its schema, checks
// that the file is not damaged (see CheckIntegrity), and starts the writer.
// Errors are one sentence naming the file and match ErrUnavailable, e.g.
// "audit log /x/audit.db: cannot open: permission denied"; a damaged file's
// also matches ErrCorrupt and says what to do.
func Open(path string) (*Log, error) {
	return open(path, true)
}

// open is Open, with the integrity check optional for the benchmark that
// measures what it costs.
func open(path string, check bool) (*Log, error) {
	if path == "" {
		return nil, &Error{Path: `""`, Reason: "no file name given"}
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, unavailable(path, err)
	}
	if err := create(abs); err != nil {
		return nil, unavailable(path, err)
	}
	db, err := sql.Open("sqlite3", dsn(abs))
	if err != nil {
		return nil, unavailable(path, err)
	}
	// Open's context: a busy_timeout bounds the waits, not a deadline.
	ctx := context.Background()
	if err := migrateWhenFree(ctx, db); err != nil {
		_ = db.Close() // the error being returned is the one that matters
		return nil, unavailable(path, err)
	}
	l := &Log{
		path: path,
		abs:  abs,
		db:   db,
		reqs: make(chan *request, queueLen),
		done: make(chan struct{}),
	}
	if check {
		if err := l.CheckIntegrity(ctx); err != nil {
			_ = db.Close() // the error being returned is the one that matters
			return nil, err
		}
	}
	go l.writer()
	return l, nil
}

// migrateWhenFree migrates, retrying while another process holds the file.
// SQLite's busy handler covers ordinary waits, but not all of them: while a
// fresh file is switched to WAL, a second process can get "locked" at once
// (SQLite refuses to wait where waiting could deadlock). Retrying for as
// long as the busy timeout turns that race into a short wait.
func migrateWhenFree(ctx context.Context, db *sql.DB) error {
	deadline := time.Now().Add(busyTimeout)
	for pause := 5 * time.Millisecond; ; pause = min(pause*2, 200*time.Millisecond) {
		err := migrate(ctx, db)
		var se sqlite3.Error
		busy := errors.As(err, &se) && (se.Code == sqlite3.ErrBusy || se.Code == sqlite3.ErrLocked)
		if !busy || time.Now().After(deadline) {
			return err
		}
		time.Sleep(pause/2 + time.Duration(rand.Int64N(int64(pause/2))))
	}
}

// create makes sure the file exists with mode 0600 before sqlite opens it:
// sqlite gives the -wal and -shm files the database file's mode, so this
// keeps all three private. It also opens the file for writing once, which
// turns a read-only file into a clear "permission denied" now rather than a
// failed write later. An existing file's mode is left alone.
func create(path string) error {
	if _, err := os.Stat(filepath.Dir(path)); errors.Is(err, os.ErrNotExist) {
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return fmt.Errorf("cannot create its directory: %w", err)
		}
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return err
	}
	return f.Close()
}

// dsn is the go-sqlite3 data source for the file at abs. It is a file: URI
// so that any character in the path is escaped rather than parsed.
func dsn(abs string) string {
	q := url.Values{}
	q.Set("mode", "rw") // never create: create() did, with the right mode
	q.Set("_journal_mode", "WAL")
	// After _journal_mode: go-sqlite3 lowers synchronous to NORMAL for WAL
	// unless it is given; FULL makes every commit durable on return.
	q.Set("_synchronous", "FULL")
	q.Set("_busy_timeout", strconv.FormatInt(busyTimeout.Milliseconds(), 10))
	q.Set("_foreign_keys", "on")
	// BEGIN IMMEDIATE: take the write lock before reading the last seq and
	// hash, so a concurrent writer in another process cannot fork the chain.
	q.Set("_txlock", "immediate")
	u := url.URL{Scheme: "file", Path: filepath.ToSlash(abs), RawQuery: q.Encode()}
	return u.String()
}

// Path returns the file name the log was opened with.
func (l *Log) Path() string { return l.path }

// Record appends evs as one atomic batch: all are committed in the same
// transaction, with consecutive sequence numbers, or none is. A zero Time
// is set to now; times are stored in UTC; Seq is assigned by the log.
//
// With wait, Record returns once the batch is committed (durable), and
// fills in Seq and Time of evs. If ctx ends first, Record returns ctx.Err()
// and the batch may still be committed. Without wait, Record queues the
// batch and returns at once; if that write later fails, the failure is
// returned by every later Record and Flush, and by Close.
func (l *Log) Record(ctx context.Context, wait bool, evs ...actions.Event) error {
	if l.readOnly {
		return l.readOnlyErr()
	}
	if err := l.failure(); err != nil {
		return err
	}
	if len(evs) == 0 {
		if wait {
			return l.Flush(ctx)
		}
		return nil
	}
	req := &request{evs: make([]actions.Event, len(evs)), wait: wait}
	now := time.Now().UTC()
	for i, ev := range evs {
		if err := validate(i, &ev); err != nil {
			return err
		}
		ev.Seq = 0
		if ev.Time.IsZero() {
			ev.Time = now
		} else {
			ev.Time = ev.Time.UTC() // also drops the monotonic reading
		}
		// The writer may still read Detail after Record returned.
		ev.Detail = bytes.Clone(ev.Detail)
		req.evs[i] = ev
	}
	if wait {
		req.done = make(chan error, 1)
	}
	if err := l.enqueue(ctx, req); err != nil {
		return err
	}
	if !wait {
		return nil
	}
	select {
	case err := <-req.done:
		if err != nil {
			return err
		}
		for i := range evs {
			evs[i].Seq, evs[i].Time = req.evs[i].Seq, req.evs[i].Time
		}
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// validate rejects an event the log could not store faithfully. These are
// programming errors in the caller, not storage failures.
func validate(i int, ev *actions.Event) error {
	switch {
	case ev.RunID == "":
		return fmt.Errorf("audit: event %d of the batch has no run id", i+1)
	case ev.Kind == "":
		return fmt.Errorf("audit: event %d of the batch has no kind", i+1)
	case len(ev.Detail) > 0 && !json.Valid(ev.Detail):
		return fmt.Errorf("audit: event %d of the batch has a detail that is not valid JSON", i+1)
	case ev.Time.Year() < 0 || ev.Time.Year() > 9999:
		// RFC 3339 (and JSON export) cannot represent it.
		return fmt.Errorf("audit: event %d of the batch has a time outside years 0-9999", i+1)
	}
	return nil
}

// Flush waits until everything queued before it is committed, and returns
// the failure of any queued write.
func (l *Log) Flush(ctx context.Context) error {
	if l.readOnly {
		return l.readOnlyErr()
	}
	if err := l.failure(); err != nil {
		return err
	}
	req := &request{wait: true, done: make(chan error, 1)}
	if err := l.enqueue(ctx, req); err != nil {
		return err
	}
	select {
	case err := <-req.done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// enqueue hands req to the writer, waiting while the queue is full.
func (l *Log) enqueue(ctx context.Context, req *request) error {
	l.mu.RLock()
	defer l.mu.RUnlock()
	if l.closed {
		return l.closedErr()
	}
	select {
	case l.reqs <- req:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Head returns the seq and hash of the last committed event, (0, "") for
// an empty log. It includes events committed by other processes.
func (l *Log) Head(ctx context.Context) (seq int64, hash string, err error) {
	if err := l.usable(); err != nil {
		return 0, "", err
	}
	err = l.db.QueryRowContext(ctx, `SELECT seq, hash FROM events ORDER BY seq DESC LIMIT 1`).Scan(&seq, &hash)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, "", l.settled(nil)
	}
	if err != nil {
		return 0, "", l.wrap(err)
	}
	if err := l.settled(nil); err != nil {
		return 0, "", err
	}
	return seq, hash, nil
}

// Close commits everything queued, stops the writer and closes the file.
// It returns the failure of any queued write that could not be committed.
// Closing a closed Log does nothing.
func (l *Log) Close() error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil
	}
	l.closed = true
	if l.reqs != nil {
		close(l.reqs) // the writer drains what is queued, then exits
	}
	l.mu.Unlock()
	<-l.done
	err := l.failure()
	if cerr := l.db.Close(); cerr != nil && err == nil {
		err = unavailable(l.path, cerr)
	}
	return err
}

// writer is the only goroutine that writes. It takes the first queued
// request, drains whatever else is already queued (up to maxBatchEvents),
// commits them in one transaction and answers every waiter: under load,
// many Record calls share one fsync.
func (l *Log) writer() {
	defer close(l.done)
	var next *request // a request that did not fit in the previous batch
	for {
		first := next
		next = nil
		if first == nil {
			var ok bool
			if first, ok = <-l.reqs; !ok {
				return
			}
		}
		batch := []*request{first}
		n := len(first.evs)
	drain:
		for n < maxBatchEvents {
			select {
			case r, ok := <-l.reqs:
				if !ok {
					break drain
				}
				if n+len(r.evs) > maxBatchEvents {
					next = r
					break drain
				}
				batch = append(batch, r)
				n += len(r.evs)
			default:
				break drain
			}
		}
		err := l.failure()
		if err == nil {
			err = l.commit(batch, n)
		}
		for _, r := range batch {
			if err != nil && !r.wait {
				// Nobody will see this error unless it sticks.
				l.failed.CompareAndSwap(nil, &err)
			}
			if r.done != nil {
				r.done <- err
			}
		}
	}
}

// commit writes the n events of batch in one transaction, chained to the
// log's current head. The head is read inside the transaction, which holds
// the write lock from its start, so it is the head of the file, not of this
// process.
//
// It talks to the SQLite driver directly, on one connection of the pool,
// and inserts up to insertRows rows a statement: database/sql's work per
// row (locking, argument conversion, a result) and SQLite's per statement
// were most of what a fan-out's writer spent, and the writer's time is on
// the critical path of every request (each waits for its attempt to be
// durable).
func (l *Log) commit(batch []*request, n int) error {
	if n == 0 {
		return nil // only Flush requests
	}
	ctx := context.Background()
	conn, err := l.db.Conn(ctx)
	if err != nil {
		return l.wrap(err)
	}
	defer conn.Close() //nolint:errcheck // returns it to the pool
	err = conn.Raw(func(dc any) error {
		c, ok := dc.(*sqlite3.SQLiteConn)
		if !ok {
			return fmt.Errorf("unexpected driver connection %T", dc)
		}
		return commitOn(ctx, c, batch, n)
	})
	if err != nil {
		return l.wrap(err)
	}
	l.commits.Add(1)
	l.notify()
	return nil
}

// insertRows is how many rows one INSERT statement of the writer holds
// (19 values each, within SQLite's limit of 32,766 per statement).
const insertRows = 32

// commitOn writes the n events of batch in one transaction on c.
func commitOn(ctx context.Context, c *sqlite3.SQLiteConn, batch []*request, n int) (err error) {
	tx, err := c.BeginTx(ctx, driver.TxOptions{}) // BEGIN IMMEDIATE: see dsn
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			_ = tx.Rollback()
		}
	}()
	seq, prev, err := head(ctx, c)
	if err != nil {
		return err
	}
	// Two statements serve every batch: one of insertRows rows, one of a
	// single row for the rest; each is prepared when first needed.
	var one, many driver.Stmt
	defer func() {
		for _, st := range []driver.Stmt{one, many} {
			if st != nil {
				_ = st.Close()
			}
		}
	}()
	exec := func(st *driver.Stmt, rows int, args []driver.NamedValue) error {
		if *st == nil {
			var err error
			if *st, err = c.Prepare(insertSQL(rows)); err != nil {
				return err
			}
		}
		_, err := (*st).(driver.StmtExecContext).ExecContext(ctx, args)
		return err
	}
	nc := len(columns)
	args := make([]driver.NamedValue, 0, insertRows*nc)
	rows := 0
	for _, r := range batch {
		for i := range r.evs {
			ev := &r.evs[i]
			seq++
			ev.Seq = seq
			row := newRow(ev, prev)
			for _, v := range row.args(ev) {
				args = append(args, driver.NamedValue{Ordinal: len(args) + 1, Value: v})
			}
			prev = row[colHash]
			if rows++; rows == insertRows {
				if err := exec(&many, insertRows, args); err != nil {
					return err
				}
				args, rows = args[:0], 0
			}
		}
	}
	// The rest, one row a statement, each row's values numbered from 1.
	for i := range rows {
		row := args[i*nc : (i+1)*nc]
		for j := range row {
			row[j].Ordinal = j + 1
		}
		if err := exec(&one, 1, row); err != nil {
			return err
		}
	}
	return tx.Commit()
}

// head returns the last row's seq and hash, or 0 and GenesisHash.
func head(ctx context.Context, c *sqlite3.SQLiteConn) (int64, string, error) {
	rows, err := c.QueryContext(ctx, `SELECT seq, hash FROM events ORDER BY seq DESC LIMIT 1`, nil)
	if err != nil {
		return 0, "", err
	}
	defer rows.Close() //nolint:errcheck // read-only
	vals := make([]driver.Value, 2)
	switch err := rows.Next(vals); {
	case errors.Is(err, io.EOF):
		return 0, GenesisHash, nil
	case err != nil:
		return 0, "", err
	}
	seq, ok1 := vals[0].(int64)
	hash, ok2 := vals[1].(string)
	if !ok1 || !ok2 {
		return 0, "", fmt.Errorf("the last row's seq or hash has the wrong type (%T, %T)", vals[0], vals[1])
	}
	return seq, hash, nil
}

// insertSQL appends rows rows.
func insertSQL(rows int) string {
	one := `(?` + strings.Repeat(", ?", len(columns)-1) + `)`
	return `INSERT INTO events (` + columnList + `) VALUES ` + one + strings.Repeat(", "+one, rows-1)
}

// failure returns the sticky failure of a queued write, or nil.
func (l *Log) failure() error {
	if p := l.failed.Load(); p != nil {
		return *p
	}
	return nil
}

// usable returns an error if the log is closed.
func (l *Log) usable() error {
	l.mu.RLock()
	defer l.mu.RUnlock()
	if l.closed {
		return l.closedErr()
	}
	return nil
}

func (l *Log) closedErr() error {
	return &Error{Path: l.path, Reason: "is closed", Err: ErrClosed}
}

// wrap turns a storage error into the one-sentence *Error naming the file.
// Context errors pass through unchanged: they are the caller's decision,
// not a problem with the log.
func (l *Log) wrap(err error) error {
	if err == nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return unavailable(l.path, err)
}
