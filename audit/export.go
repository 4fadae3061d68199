package audit

import (
	"bufio"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strconv"

	"ulc/actions"
	"ulc/internal/safetext"
)

// ExportRecord is one line of a "jsonl" export: the event with its json
// tags, plus the chain fields, so an export can be re-verified on its own.
// (encoding/json writes Detail compacted; the engine records compact JSON,
// so the re-computed hashes match. The "csv" export carries it verbatim.)
type ExportRecord struct {
	actions.Event
	PrevHash string `json:"prev_hash"`
	Hash     string `json:"hash"`
}

// CSVHeader is the header row of a "csv" export: the events table's
// columns, in the order the hash covers them, then hash.
var CSVHeader = slices.Clone(columns[:])

// Export writes the events of run runID ("" for all) to w in seq order.
//
// "jsonl" writes one ExportRecord JSON object per line; strings are written
// as-is (no HTML escaping). It is the verifiable form, so it is exact: every
// string decodes to the stored text, and detail is the stored JSON text, the
// bytes its hash covers. It is also safe to print: encoding/json escapes
// every C0 control (ESC included, so no escape sequence such as OSC 52 can
// reach a terminal) and U+2028/U+2029, and a detail that is not valid JSON,
// which could carry a raw ESC, fails the export instead of being written.
// Format characters such as U+202E (right-to-left override) are left as
// stored, by decision: escaping them in detail would change the bytes its
// hash covers, they cannot act on a terminal, only reorder how one line is
// displayed, and the forms meant for reading (the CSV, audit show, the
// console) are sanitised.
//
// "csv" writes CSVHeader, then one row per event, detail as its JSON text,
// for people and spreadsheets. Each cell is made safe to display
// (safetext.Clean: escape sequences, control, bidi and invisible characters
// removed, line breaks and tabs turned into spaces). A cell that a
// spreadsheet would run as a formula (starting with = + - @) is then
// prefixed with a single quote; so is a cell that already starts with a
// quote, which makes that rule reversible: for a cell whose stored text was
// printable, stripping one leading quote gives the stored text back.
func (l *Log) Export(ctx context.Context, w io.Writer, format string, runID string) error {
	if format != "jsonl" && format != "csv" {
		return fmt.Errorf("audit: unknown export format %q (want jsonl or csv)", format)
	}
	if err := l.usable(); err != nil {
		return err
	}
	if format == "csv" {
		return l.exportCSV(ctx, w, runID)
	}
	bw := bufio.NewWriter(w)
	enc := json.NewEncoder(bw)
	enc.SetEscapeHTML(false)
	err := l.scan(ctx, runID, func(ev actions.Event, prevHash, hash string) error {
		return enc.Encode(ExportRecord{Event: ev, PrevHash: prevHash, Hash: hash})
	})
	if err != nil {
		return err
	}
	return bw.Flush()
}

func (l *Log) exportCSV(ctx context.Context, w io.Writer, runID string) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(CSVHeader); err != nil {
		return err
	}
	cells := make([]string, len(columns))
	err := l.scan(ctx, runID, func(ev actions.Event, prevHash, hash string) error {
		cells = append(cells[:0],
			strconv.FormatInt(ev.Seq, 10), ev.RunID, formatTime(ev.Time), string(ev.Kind),
			strconv.Itoa(ev.Step), ev.User, ev.Target, string(ev.Action),
			strconv.Itoa(ev.Attempt), strconv.Itoa(ev.HTTPStatus), string(ev.Outcome),
			strconv.FormatInt(ev.LatencyMS, 10), ev.Error, ev.RequestID, ev.ErrorCode,
			ev.ErrorID, string(ev.Detail), prevHash, hash)
		for i, c := range cells {
			cells[i] = neutralise(safetext.Clean(c))
		}
		return cw.Write(cells)
	})
	if err != nil {
		return err
	}
	cw.Flush()
	return cw.Error()
}

// neutralise defuses spreadsheet formula injection (a user name or error
// text like "=HYPERLINK(...)" from a target's answer) by prefixing a quote.
func neutralise(s string) string {
	if s == "" {
		return s
	}
	switch s[0] {
	case '=', '+', '-', '@', '\t', '\r', '\'': // tab and CR cannot survive Clean; kept for safety
		return "'" + s
	}
	return s
}
