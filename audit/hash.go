package audit

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"strconv"
	"strings"
	"time"

	"ulc/actions"
)

// GenesisHash is the prev_hash of the first event of every log: 64 zeros.
const GenesisHash = "0000000000000000000000000000000000000000000000000000000000000000"

// columns are the events table's columns in canonical order: the hash of a
// row covers every column but the last (hash itself), in this order.
var columns = [...]string{
	"seq", "run_id", "time", "kind", "step", "user", "target", "action",
	"attempt", "http_status", "outcome", "latency_ms", "error", "request_id",
	"error_code", "error_id", "detail", "prev_hash", "hash",
}

// Positions in columns of the fields the code refers to by name.
const (
	colSeq      = 0
	colPrevHash = 17
	colHash     = 18
	numHashed   = colHash // columns covered by the hash
)

// isIntColumn reports whether column i holds an INTEGER.
func isIntColumn(i int) bool {
	switch columns[i] {
	case "seq", "step", "attempt", "http_status", "latency_ms":
		return true
	}
	return false
}

// columnList is columns quoted and comma-separated, for SELECT and INSERT.
var columnList = func() string {
	q := make([]string, len(columns))
	for i, c := range columns {
		q[i] = `"` + c + `"`
	}
	return strings.Join(q, ", ")
}()

// row is one events row as text: integers in decimal, everything else as
// stored. It is what the hash is computed over, so the writer and Verify
// must produce it identically from an event and from the database.
type row [len(columns)]string

// newRow renders ev (its Seq assigned, its Time normalised to UTC) as the
// row that follows prev, and computes its hash.
func newRow(ev *actions.Event, prev string) row {
	r := row{
		strconv.FormatInt(ev.Seq, 10),
		ev.RunID,
		formatTime(ev.Time),
		string(ev.Kind),
		strconv.Itoa(ev.Step),
		ev.User,
		ev.Target,
		string(ev.Action),
		strconv.Itoa(ev.Attempt),
		strconv.Itoa(ev.HTTPStatus),
		string(ev.Outcome),
		strconv.FormatInt(ev.LatencyMS, 10),
		ev.Error,
		ev.RequestID,
		ev.ErrorCode,
		ev.ErrorID,
		string(ev.Detail),
		prev,
		"",
	}
	r[colHash] = r.computeHash()
	return r
}

// args returns the values to INSERT for the row made from ev, integers as
// integers (the table is STRICT).
func (r *row) args(ev *actions.Event) []any {
	return []any{
		ev.Seq, r[1], r[2], r[3], int64(ev.Step), r[5], r[6], r[7],
		int64(ev.Attempt), int64(ev.HTTPStatus), r[10], ev.LatencyMS, r[12], r[13],
		r[14], r[15], r[16], r[17], r[18],
	}
}

// canonical is the unambiguous byte encoding of every column but hash, in
// column order: each value as text (integers in decimal, time as stored),
// preceded by its length in bytes as a big-endian uint64. Because every
// field carries its own length, no two different rows share an encoding,
// however their text is split between columns.
func (r *row) canonical() []byte {
	n := 0
	for i := range numHashed {
		n += 8 + len(r[i])
	}
	b := make([]byte, 0, n)
	for i := range numHashed {
		b = binary.BigEndian.AppendUint64(b, uint64(len(r[i])))
		b = append(b, r[i]...)
	}
	return b
}

// computeHash returns hex(SHA-256(prev_hash ‖ canonical(row))).
func (r *row) computeHash() string {
	h := sha256.New()
	h.Write([]byte(r[colPrevHash]))
	h.Write(r.canonical())
	return hex.EncodeToString(h.Sum(nil))
}

// formatTime is how event times are stored: RFC 3339 with nanoseconds, in
// UTC. It is text so that it round-trips byte-exactly into the hash.
func formatTime(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }
