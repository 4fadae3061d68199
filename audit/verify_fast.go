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
	"strconv"
	"strings"
	"sync"
)

// The fast check of the chain. Verify runs it first: it splits the log into
// as many ranges of seq as there are CPUs and checks each range on its own
// connection, in parallel; each row's hash covers its own prev_hash column,
// so a range can be hashed without the one before it, and only the links
// between ranges are checked once all are read. SQLite hands over each row
// as one value (see fastRangeSQL), streamed into reused buffers
// (sql.RawBytes), so the check allocates nothing per row beyond the
// driver's one copy of that value. It decides only "intact": at the first row
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

// fastRangeSQL reads each row of a range of seq as its integer columns,
// then one value: its text columns, hash last, as stored, joined by the
// unit separator, a byte ulc never writes (text is sanitised, details are
// JSON). That value is split only when it holds exactly one separator
// fewer than it has columns, which is unambiguous; a row with a separator
// inside a column (or a NULL, which concat_ws leaves out) has another count
// and goes to the row-by-row check. Integers are read as integers and
// rendered in decimal here, as the writer hashed them: SQLite's own
// conversion to text costs more.
var fastRangeSQL = func() string {
	var ints, texts []string
	for i, c := range columns {
		if isIntColumn(i) {
			ints = append(ints, `"`+c+`"`)
		} else {
			texts = append(texts, `"`+c+`"`)
		}
	}
	return `SELECT ` + strings.Join(ints, ", ") + `, concat_ws(char(31), ` + strings.Join(texts, ", ") +
		`) FROM events WHERE seq BETWEEN ? AND ? ORDER BY seq`
}()

// fastColumns are the positions in columns of fastRangeSQL's integers,
// then of the text columns joined in its last value.
var fastInts, fastTexts = func() (ints, texts []int) {
	for i := range columns {
		if isIntColumn(i) {
			ints = append(ints, i)
		} else {
			texts = append(texts, i)
		}
	}
	return ints, texts
}()

const unitSeparator = 0x1f

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
	rows, err := l.db.QueryContext(ctx, fastRangeSQL, from, to)
	if err != nil {
		return rangeResult{err: err}
	}
	defer rows.Close()
	var (
		ints  = make([]sql.NullInt64, len(fastInts))
		line  sql.RawBytes
		dest  = make([]any, 0, len(fastInts)+1)
		raw   [len(columns)][]byte
		num   = make([][20]byte, len(fastInts))
		buf   []byte
		sum   [sha256.Size]byte
		hx    [2 * sha256.Size]byte
		head  = []byte(knownHead)
		want  = from
		nsep  = len(fastTexts) - 1
		usSep = []byte{unitSeparator}
	)
	for i := range ints {
		dest = append(dest, &ints[i])
	}
	dest = append(dest, &line)
	for rows.Next() {
		// A value of another type than the writer's (a tampered row)
		// fails to scan: the row-by-row check describes it.
		if err := rows.Scan(dest...); err != nil || bytes.Count(line, usSep) != nsep {
			return res
		}
		for k, i := range fastInts {
			if !ints[k].Valid {
				return res
			}
			raw[i] = strconv.AppendInt(num[k][:0], ints[k].Int64, 10)
		}
		rest := []byte(line)
		for _, i := range fastTexts[:nsep] {
			j := bytes.IndexByte(rest, unitSeparator)
			raw[i], rest = rest[:j], rest[j+1:]
		}
		raw[fastTexts[nsep]] = rest
		if seq, ok := parseSeq(raw[colSeq]); !ok || seq != want {
			return res
		}
		if want == from {
			res.firstPrev = append([]byte(nil), raw[colPrevHash]...)
		} else if !bytes.Equal(raw[colPrevHash], res.lastHash) {
			return res
		}
		buf = append(buf[:0], raw[colPrevHash]...)
		for i := range numHashed {
			buf = binary.BigEndian.AppendUint64(buf, uint64(len(raw[i])))
			buf = append(buf, raw[i]...)
		}
		sum = sha256.Sum256(buf)
		hex.Encode(hx[:], sum[:])
		if !bytes.Equal(hx[:], raw[colHash]) {
			return res
		}
		res.lastHash = append(res.lastHash[:0], raw[colHash]...)
		if !res.foundHead && bytes.Equal(raw[colHash], head) {
			res.foundHead = true
		}
		want++
	}
	if err := rows.Err(); err != nil {
		return rangeResult{err: err}
	}
	res.ok = want == to+1
	return res
}

// parseSeq parses a positive decimal sequence number as the writer renders
// it (no sign, no leading zero).
func parseSeq(b []byte) (int64, bool) {
	if len(b) == 0 || len(b) > 18 || b[0] == '0' {
		return 0, false
	}
	var n int64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}
