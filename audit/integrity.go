package audit

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"sync"

	"ulc/internal/safetext"
)

// CheckIntegrity reads every page of the log's b-trees and returns an error
// matching ErrCorrupt (and ErrUnavailable) if SQLite finds any of them
// damaged, nil if not. Open runs it before it returns, so a run never sends
// a request whose evidence would go into a damaged log; it is exported for
// read-only logs and for callers that want to check again.
//
// What is checked: every page of every table and index (the events table,
// its indexes, the migration history and the schema) is read with SQLite's
// cell_size_check on, which validates each page's header, cell pointers and
// cell sizes; every event row's record is decoded to its last column,
// which follows its overflow pages; every index entry is decoded. That
// finds what PRAGMA quick_check finds in damaged pages, at a third of its
// cost, because it skips quick_check's per-column NOT NULL and type checks
// (the hash chain, see Verify, covers a row's content) and its page
// accounting (a page listed twice or lost). The work is split over two
// connections, which run in parallel.
func (l *Log) CheckIntegrity(ctx context.Context) error {
	if err := l.usable(); err != nil {
		return err
	}
	if l.abs != "" && !noReadAhead {
		prefetch(l.abs)
		prefetch(l.abs + "-wal")
	}
	plan, err := l.checkPlan(ctx)
	if err != nil {
		return l.checkErr(err)
	}
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
	)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	for _, queries := range plan {
		wg.Go(func() {
			if err := l.walk(ctx, queries); err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
				cancel() // the other half need not finish
			}
		})
	}
	wg.Wait()
	if err := firstCause(errs); err != nil {
		return l.checkErr(err)
	}
	return l.settled(nil)
}

// noReadAhead turns prefetch off, for the benchmark that shows its worth.
var noReadAhead bool

// checkPlan returns the check's queries in two groups of about equal cost,
// one per connection: each half of the events table, and the other trees
// (indexes and small tables) after the first half.
func (l *Log) checkPlan(ctx context.Context) ([2][]string, error) {
	var plan [2][]string
	var maxSeq sql.NullInt64
	// The rowid b-tree's last entry: one page per level.
	if err := l.db.QueryRowContext(ctx, `SELECT max(seq) FROM events`).Scan(&maxSeq); err != nil {
		return plan, err
	}
	mid := maxSeq.Int64 / 2
	// max(hash) needs every row's record decoded up to its last column.
	plan[0] = append(plan[0], fmt.Sprintf(`SELECT max(hash) FROM events NOT INDEXED WHERE seq <= %d`, mid))
	plan[1] = append(plan[1], fmt.Sprintf(`SELECT max(hash) FROM events NOT INDEXED WHERE seq > %d`, mid))

	// Every other tree, from the schema (which reading here checks too).
	rows, err := l.db.QueryContext(ctx, `SELECT type, name, tbl_name FROM sqlite_schema WHERE rootpage > 0 ORDER BY rootpage`)
	if err != nil {
		return plan, err
	}
	defer rows.Close()
	var others []string
	for rows.Next() {
		var typ, name, table string
		if err := rows.Scan(&typ, &name, &table); err != nil {
			return plan, err
		}
		switch {
		case typ == "table" && name == "events":
			// the two halves above
		case typ == "table":
			others = append(others, `SELECT count(*) FROM (SELECT * FROM `+quoteIdent(name)+` NOT INDEXED)`)
		case typ == "index":
			// count(*) would be answered from the smallest index whatever
			// INDEXED BY says; counting a column makes SQLite read every
			// entry of this one.
			others = append(others, `SELECT count(`+quoteIdent(table)+`.rowid) FROM `+quoteIdent(table)+` INDEXED BY `+quoteIdent(name))
		}
	}
	if err := rows.Err(); err != nil {
		return plan, err
	}
	// The indexes are smaller than a half of the table: spread them.
	for i, q := range others {
		plan[i%2] = append(plan[i%2], q)
	}
	return plan, nil
}

// walk runs queries in order on one connection with cell_size_check on.
func (l *Log) walk(ctx context.Context, queries []string) error {
	conn, err := l.db.Conn(ctx)
	if err != nil {
		return err
	}
	defer func() { _ = conn.Close() }() // back to the pool; a read has nothing to lose
	if _, err := conn.ExecContext(ctx, `PRAGMA cell_size_check = ON`); err != nil {
		return err
	}
	// Back to the default before the connection returns to the pool.
	defer conn.ExecContext(context.Background(), `PRAGMA cell_size_check = OFF`) //nolint:errcheck // best effort
	for _, q := range queries {
		var x any
		if err := conn.QueryRowContext(ctx, q).Scan(&x); err != nil {
			return err
		}
	}
	return nil
}

// firstCause returns the most telling of the errors of the check's halves:
// a damaged file before a context's end (which the other half's failure
// caused), nil if there are none.
func firstCause(errs []error) error {
	for _, err := range errs {
		if isCorrupt(err) {
			return err
		}
	}
	for _, err := range errs {
		if !errors.Is(err, context.Canceled) {
			return err
		}
	}
	if len(errs) > 0 {
		return errs[0]
	}
	return nil
}

// checkErr phrases an error found by the check: a damaged file (SQLite's
// SQLITE_CORRUPT, or a schema it cannot parse) is ErrCorrupt with SQLite's
// words for it; a context's end passes through.
func (l *Log) checkErr(err error) error {
	if isCorrupt(err) {
		return corrupt(l.path, safetext.Line(sqliteMessage(err), 160), err)
	}
	return l.wrap(err)
}

// sqliteMessage is SQLite's own description of err, e.g. "database disk
// image is malformed", without go-sqlite3's prefixes.
func sqliteMessage(err error) string {
	msg := err.Error()
	if i := strings.LastIndex(msg, ": "); i >= 0 && i+2 < len(msg) {
		return msg[i+2:]
	}
	return msg
}

// quoteIdent quotes a name read from the file as an SQL identifier, so a
// tampered schema cannot turn it into SQL.
func quoteIdent(name string) string {
	return `"` + strings.ReplaceAll(name, `"`, `""`) + `"`
}
