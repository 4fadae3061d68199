package audit

import (
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"runtime"
	"strings"
	"sync"
)

// The fast check of the chain. Verify runs it first: it splits the log into
// as many ranges of seq as there are CPUs and checks each range on its own
// connection, in parallel; each row's hash covers its own prev_hash column,
// so a range can be hashed without the one before it, and only the links
// between ranges are checked once all are read. SQLite hands over thousands
// of rows as one value (see fastChunkSQL), read into a reused buffer
// (sql.RawBytes), so the check allocates nothing per row and crosses into
// SQLite once a chunk, not once a column. It decides only "intact": at the first row
// it cannot vouch for, for whatever reason, Verify falls back to the
// row-by-row check, which names the break. So the fast check need only
// never call a broken log intact.

// fastResult is what the fast check found over an intact log.
type fastResult struct {
	events, lastSeq int64
	lastHash        string
	foundHead       bool
}

// rangeResult is one range's: the prev_hash of its first row, the hash of
// its last, and whether it holds knownHead.
type rangeResult struct {
	ok        bool
	err       error
	firstPrev []byte
	lastHash  []byte
	foundHead bool
}

// fastChunkSQL reads a chunk of rows of a range of seq as one value: each
// row's columns in canonical order, as SQLite renders them (text as
// stored, integers in decimal, as the writer hashed them), joined by the
// unit separator, and the rows joined by the record separator, in seq
// order. ulc never writes either byte (text is sanitised, details are
// JSON), so the value is split only when it holds exactly one record
// separator fewer than the chunk has rows and each row exactly one unit
// separator fewer than it has columns, which is unambiguous; a row with a
// separator inside a column has
// another count and goes to the row-by-row check, as does a NULL. One value for thousands
// of rows: the cost of crossing from Go into SQLite, once a column of
// every row, is paid once a chunk.
var fastChunkSQL = func() string {
	q := make([]string, len(columns))
	for i, c := range columns {
		// A NULL, which concat_ws would leave out, is a record separator:
		// the chunk's count of them is then wrong.
		q[i] = `ifnull("` + c + `", char(30))`
	}
	return `SELECT count(*), group_concat(l, char(30)) FROM (SELECT concat_ws(char(31), ` + strings.Join(q, ", ") +
		`) AS l FROM events WHERE seq BETWEEN ? AND ? ORDER BY seq)`
}()

const (
	unitSeparator   = 0x1f
	recordSeparator = 0x1e
)

// fastChunk is the number of rows read as one value.
const fastChunk = 4096

// minFastRange is the fewest rows worth a connection of their own; a
// variable so tests can split a small log.
var minFastRange int64 = 20_000

// verifyFast returns ok when every row of the log is in sequence, follows
// the one before and matches its hash, with the log's figures; ok false
// means "let the row-by-row check decide" (a break, an unusual row or a
// query SQLite refused).
func (l *Log) verifyFast(ctx context.Context, knownHead string) (res fastResult, ok bool, err error) {
	// In a STRICT table every value has its column's type, so SQLite's
	// rendering of a row is the writer's; a table rebuilt without STRICT
	// (by hand) goes to the row-by-row check.
	var strict int
	if err := l.db.QueryRowContext(ctx, `SELECT strict FROM pragma_table_list WHERE schema = 'main' AND name = 'events'`).Scan(&strict); err != nil || strict != 1 {
		return res, false, nil
	}
	var lo, hi, n sql.NullInt64
	// The rowid b-tree's ends and the table's size: no row is decoded.
	if err := l.db.QueryRowContext(ctx, `SELECT min(seq), max(seq), count(*) FROM events`).Scan(&lo, &hi, &n); err != nil {
		return res, false, nil // e.g. a schema a tamperer changed: the slow path says what
	}
	if !hi.Valid {
		return fastResult{foundHead: knownHead == ""}, true, nil // empty
	}
	if lo.Int64 != 1 || hi.Int64 != n.Int64 {
		return res, false, nil // rows missing or renumbered
	}
	parts := int64(max(min(runtime.GOMAXPROCS(0), int(hi.Int64/minFastRange)), 1))
	results := make([]rangeResult, parts)
	var wg sync.WaitGroup
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	for i := range parts {
		from, to := 1+i*hi.Int64/parts, (i+1)*hi.Int64/parts
		wg.Go(func() {
			results[i] = l.verifyRange(ctx, from, to, knownHead)
			if !results[i].ok {
				cancel() // the others need not finish
			}
		})
	}
	wg.Wait()
	res = fastResult{events: hi.Int64, lastSeq: hi.Int64, foundHead: knownHead == ""}
	for i, r := range results {
		if r.err != nil && !isCancel(r.err) {
			return res, false, l.wrap(r.err)
		}
		if !r.ok {
			return res, false, nil
		}
		prev := []byte(GenesisHash)
		if i > 0 {
			prev = results[i-1].lastHash
		}
		if !bytes.Equal(r.firstPrev, prev) {
			return res, false, nil
		}
		res.foundHead = res.foundHead || r.foundHead
	}
	res.lastHash = string(results[parts-1].lastHash)
	return res, true, nil
}

// isCancel reports whether err is a range's query stopped because another
// range found a row to leave to the row-by-row check.
func isCancel(err error) bool { return errors.Is(err, context.Canceled) }

// verifyRange checks rows from..to: in sequence with no gap, each
// following the one before and matching its hash.
func (l *Log) verifyRange(ctx context.Context, from, to int64, knownHead string) (res rangeResult) {
	conn, err := l.db.Conn(ctx)
	if err != nil {
		return rangeResult{err: err}
	}
	defer func() { _ = conn.Close() }()
	// One read transaction: the chunks see one snapshot, even while a
	// writer appends.
	tx, err := conn.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return rangeResult{err: err}
	}
	defer func() { _ = tx.Rollback() }()
	stmt, err := tx.PrepareContext(ctx, fastChunkSQL)
	if err != nil {
		return rangeResult{err: err}
	}
	defer func() { _ = stmt.Close() }()
	c := chunkChecker{want: from, head: []byte(knownHead), res: &res}
	for lo := from; lo <= to; lo += fastChunk {
		hi := min(lo+fastChunk-1, to)
		ok, err := readChunk(ctx, stmt, func(n int64, value []byte) bool {
			return n == hi-lo+1 && splitChunk(value, n, c.raw[:], c.row)
		}, lo, hi)
		if err != nil {
			return rangeResult{err: err}
		}
		if !ok {
			return res
		}
	}
	res.ok = c.want == to+1
	return res
}

// readChunk runs stmt, a query of one row of a count and a value, with
// args, and reports what fn says of them; false, without calling fn, when
// the row cannot be read as those. value is only valid during fn.
func readChunk(ctx context.Context, stmt *sql.Stmt, fn func(n int64, value []byte) bool, args ...any) (bool, error) {
	rows, err := stmt.QueryContext(ctx, args...)
	if err != nil {
		return false, err
	}
	defer func() { _ = rows.Close() }()
	var (
		n     int64
		value sql.RawBytes
	)
	ok := rows.Next() && rows.Scan(&n, &value) == nil && fn(n, value)
	return ok, rows.Err()
}

// chunkChecker checks chunks of rows in turn, carrying the chain across
// them.
type chunkChecker struct {
	want int64
	from bool // the range's first row is behind
	head []byte
	res  *rangeResult
	raw  [len(columns)][]byte
	buf  []byte
	hx   [2 * sha256.Size]byte
}

// splitChunk calls fn with each of the n rows of a chunk's value, split
// into raw (reused, one slice per column), in order, until fn says false.
// It reports false, too, when value does not hold exactly n rows of
// len(raw) columns each: then it cannot be split for certain.
func splitChunk(value []byte, n int64, raw [][]byte, fn func() bool) bool {
	if n == 0 {
		return len(value) == 0
	}
	if bytes.Count(value, []byte{recordSeparator}) != int(n-1) {
		return false
	}
	last := len(raw) - 1
	for len(value) > 0 {
		line := value
		if j := bytes.IndexByte(value, recordSeparator); j >= 0 {
			line, value = value[:j], value[j+1:]
		} else {
			value = nil
		}
		if bytes.Count(line, []byte{unitSeparator}) != last {
			return false
		}
		for i := range last {
			j := bytes.IndexByte(line, unitSeparator)
			raw[i], line = line[:j], line[j+1:]
		}
		raw[last] = line
		if !fn() {
			return false
		}
	}
	return true
}

// row checks the row in raw, the one c wants next.
func (c *chunkChecker) row() bool {
	raw, res := &c.raw, c.res
	if seq, ok := parseSeq(raw[colSeq]); !ok || seq != c.want {
		return false
	}
	if !c.from {
		res.firstPrev = append([]byte(nil), raw[colPrevHash]...)
		c.from = true
	} else if !bytes.Equal(raw[colPrevHash], res.lastHash) {
		return false
	}
	b := append(c.buf[:0], raw[colPrevHash]...)
	for i := range numHashed {
		b = binary.BigEndian.AppendUint64(b, uint64(len(raw[i])))
		b = append(b, raw[i]...)
	}
	c.buf = b
	sum := sha256.Sum256(b)
	hex.Encode(c.hx[:], sum[:])
	if !bytes.Equal(c.hx[:], raw[colHash]) {
		return false
	}
	res.lastHash = append(res.lastHash[:0], raw[colHash]...)
	if !res.foundHead && bytes.Equal(raw[colHash], c.head) {
		res.foundHead = true
	}
	c.want++
	return true
}

// parseSeq parses a positive decimal sequence number as the writer renders
// it (no sign, no leading zero).
func parseSeq(b []byte) (int64, bool) {
	if len(b) > 0 && b[0] == '-' {
		return 0, false
	}
	n, ok := parseInt(b)
	return n, ok && n > 0
}
