package audit

import (
	"context"
	"encoding/json"
	"strings"
	"time"

	"ulc/actions"
)

// The fast read of a run's events, for its state. A run of 200,000 steps
// is 600,000 rows; read a row at a time, go-sqlite3 crosses into C and
// makes a Go string for every column of every row. Here SQLite hands over
// a window of the table as one value, as the fast verify does (see
// fastChunkSQL), and the strings a run repeats (its users, targets, kinds,
// outcomes, reasons) are made once. A window it cannot split for certain
// (a separator inside a column, a NULL, a value that does not parse) is
// read again row by row, which says what is wrong with it.

// stateColumns are the columns a state reads: all but the chain's.
const stateColumns = colPrevHash

// stateChunkSQL reads the rows of run ?3 with seq in [?1, ?2], in order,
// as their count and one value.
var stateChunkSQL = func() string {
	q := make([]string, stateColumns)
	for i, c := range columns[:stateColumns] {
		q[i] = `ifnull("` + c + `", char(30))`
	}
	return `SELECT count(*), group_concat(l, char(30)) FROM (SELECT concat_ws(char(31), ` + strings.Join(q, ", ") +
		`) AS l FROM events NOT INDEXED WHERE seq BETWEEN ?1 AND ?2 AND run_id = ?3 ORDER BY seq)`
}()

// stateWindow is how many seq a window of the fast read spans.
var stateWindow int64 = 8192

// scanRun calls fn with every event of run id whose seq lies in [first,
// last], in order. The event's Detail is only valid during fn.
func (l *Log) scanRun(ctx context.Context, id string, first, last int64, fn func(actions.Event)) error {
	stmt, err := l.db.PrepareContext(ctx, stateChunkSQL)
	if err != nil {
		return l.wrap(err)
	}
	defer func() { _ = stmt.Close() }()
	r := runReader{id: id, strs: map[string]string{}}
	for lo := first; lo <= last; lo += stateWindow {
		hi := min(lo+stateWindow-1, last)
		// A window's events are handed over only once all of it is read.
		ok, err := readChunk(ctx, stmt, func(n int64, value []byte) bool {
			if !r.parse(n, value) {
				return false
			}
			for i := range r.evs {
				fn(r.evs[i])
			}
			return true
		}, lo, hi, id)
		if err != nil {
			return l.wrap(err)
		}
		if !ok {
			// Row by row: it reads what the fast read cannot, or says why
			// it cannot be read.
			err := l.scanRows(ctx, ` NOT INDEXED WHERE seq BETWEEN ? AND ? AND run_id = ? ORDER BY seq`, []any{lo, hi, id},
				func(ev actions.Event, _, _ string) error {
					fn(ev)
					return nil
				})
			if err != nil {
				return err
			}
		}
	}
	return nil
}

// runReader splits the fast read's values into events.
type runReader struct {
	id   string
	strs map[string]string // each repeated string, made once
	evs  []actions.Event
	raw  [stateColumns][]byte
}

// parse splits value, n rows, into r.evs; false when it cannot be split
// for certain.
func (r *runReader) parse(n int64, value []byte) bool {
	r.evs = r.evs[:0]
	return splitChunk(value, n, r.raw[:], func() bool {
		ev, ok := r.event()
		r.evs = append(r.evs, ev)
		return ok
	})
}

// event reads the row in raw.
func (r *runReader) event() (actions.Event, bool) {
	var ev actions.Event
	raw := &r.raw
	if string(raw[1]) != r.id {
		return ev, false
	}
	seq, ok0 := parseSeq(raw[colSeq])
	step, ok1 := parseInt(raw[4])
	attempt, ok2 := parseInt(raw[8])
	status, ok3 := parseInt(raw[9])
	latency, ok4 := parseInt(raw[11])
	t, ok5 := parseTime(raw[2])
	if !ok0 || !ok1 || !ok2 || !ok3 || !ok4 || !ok5 {
		return ev, false
	}
	ev.Seq, ev.LatencyMS = seq, latency
	ev.RunID, ev.Time = r.id, t
	ev.Step, ev.Attempt, ev.HTTPStatus = int(step), int(attempt), int(status)
	ev.Kind = actions.EventKind(r.str(raw[3]))
	ev.User, ev.Target = r.str(raw[5]), r.str(raw[6])
	ev.Action = actions.Action(r.str(raw[7]))
	ev.Outcome = actions.Outcome(r.str(raw[10]))
	ev.Error = r.str(raw[12])
	if len(raw[13]) > 0 {
		ev.RequestID = string(raw[13]) // one of a kind
	}
	ev.ErrorCode, ev.ErrorID = r.str(raw[14]), r.str(raw[15])
	if len(raw[16]) > 0 {
		ev.Detail = json.RawMessage(raw[16])
	}
	return ev, true
}

// str is b as a string, made once for every b alike.
func (r *runReader) str(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	if s, ok := r.strs[string(b)]; ok {
		return s
	}
	s := string(b)
	r.strs[s] = s
	return s
}

// parseInt parses a decimal integer as SQLite renders one.
func parseInt(b []byte) (int64, bool) {
	neg := len(b) > 0 && b[0] == '-'
	if neg {
		b = b[1:]
	}
	if len(b) == 0 || len(b) > 18 || (b[0] == '0' && len(b) > 1) {
		return 0, false
	}
	var n int64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	if neg {
		n = -n
	}
	return n, true
}

// parseTime parses a time as formatTime writes it (RFC 3339 in UTC, with
// up to nine digits of fraction), false for anything else.
func parseTime(b []byte) (time.Time, bool) {
	if len(b) < 20 || b[4] != '-' || b[7] != '-' || b[10] != 'T' || b[13] != ':' || b[16] != ':' || b[len(b)-1] != 'Z' {
		return time.Time{}, false
	}
	num := func(s []byte) (int, bool) {
		n := 0
		for _, c := range s {
			if c < '0' || c > '9' {
				return 0, false
			}
			n = n*10 + int(c-'0')
		}
		return n, true
	}
	y, ok0 := num(b[0:4])
	mo, ok1 := num(b[5:7])
	d, ok2 := num(b[8:10])
	h, ok3 := num(b[11:13])
	mi, ok4 := num(b[14:16])
	s, ok5 := num(b[17:19])
	if !ok0 || !ok1 || !ok2 || !ok3 || !ok4 || !ok5 {
		return time.Time{}, false
	}
	ns := 0
	if frac := b[19 : len(b)-1]; len(frac) > 0 {
		if frac[0] != '.' || len(frac) < 2 || len(frac) > 10 {
			return time.Time{}, false
		}
		f, ok := num(frac[1:])
		if !ok {
			return time.Time{}, false
		}
		for range 10 - len(frac) {
			f *= 10
		}
		ns = f
	} else if len(b) != 20 {
		return time.Time{}, false
	}
	t := time.Date(y, time.Month(mo), d, h, mi, s, ns, time.UTC)
	// time.Date normalises what is out of range; time.Parse refuses it.
	if t.Year() != y || int(t.Month()) != mo || t.Day() != d || t.Hour() != h || t.Minute() != mi || t.Second() != s {
		return time.Time{}, false
	}
	return t, true
}
