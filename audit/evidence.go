package audit

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"ulc/actions"
)

// An evidence bundle is one run of the log made into files a ticket can
// hold and a reviewer can check without the log:
//
//	SHA256SUMS           the SHA-256 of every other file (sha256sum -c reads it)
//	bundle.json          what was exported, from which log, its head at export
//	report.md            the run for people, in Markdown
//	report.html          the same report as a standalone HTML page
//	events/RUN.jsonl     one file per run: its events, one row per line
//
// Each events file is the stretch of the log's chain from the run's first
// event to its last. Its lines are the rows of the events table, every
// column by name, with prev_hash and hash, so each line's hash recomputes
// from its content and each line's prev_hash is the line before's hash.
// An event of another run inside that stretch (runs that ran at the same
// time, or a watch that ended after later runs) keeps its place as a line
// with only its seq, prev_hash and hash ("omitted": true): the chain
// links through it, and nothing of that other run is handed out.
//
// The runs in a bundle are the exported run and every run linked to it by
// resumes: the runs it resumes, up to the first, and every run that
// resumes any of those, with all their events.

// EvidenceFormat names the layout of a bundle; a reader refuses another.
const EvidenceFormat = "ulc-evidence/1"

// ReportFormat names the layout of a bundle's reports. It changes whenever
// the reports written from the same events would change, so that a check
// compares them only with reports of its own layout.
const ReportFormat = "ulc-report/1"

// The fixed files of a bundle.
const (
	// EvidenceManifest lists the SHA-256 of every other file, in the
	// format sha256sum writes and checks.
	EvidenceManifest = "SHA256SUMS"
	// EvidenceIndexFile is the bundle's EvidenceIndex as JSON.
	EvidenceIndexFile = "bundle.json"
	// EvidenceReportMD is the report in Markdown.
	EvidenceReportMD = "report.md"
	// EvidenceReportHTML is the report as an HTML page.
	EvidenceReportHTML = "report.html"
)

// The relations a run of a bundle has to the exported run.
const (
	// RelationExported is the run the bundle was made for.
	RelationExported = "exported"
	// RelationResumed is a run the exported run resumes, directly or
	// through another.
	RelationResumed = "resumed"
	// RelationResumes is a run that resumes the exported run, directly
	// or through another.
	RelationResumes = "resumes"
	// RelationRelated is another run of the same chain of resumes.
	RelationRelated = "related"
)

// EvidenceIndex is bundle.json: what a bundle holds and where it came from.
type EvidenceIndex struct {
	// Format is EvidenceFormat.
	Format string `json:"format"`
	// Report is the layout of the reports, ReportFormat: a check with the
	// same layout writes them again from the events and compares.
	Report string `json:"report"`
	// RunID is the exported run.
	RunID string `json:"run_id"`
	// ExportedAt is when the bundle was made, in UTC; ExportedBy is the
	// operator and host who made it; Version is ulc's version.
	ExportedAt time.Time `json:"exported_at"`
	ExportedBy string    `json:"exported_by"`
	Version    string    `json:"ulc_version"`
	// AuditDB is the audit log's file as it was named to the export.
	AuditDB string `json:"audit_db"`
	// Head is the log's last event when the bundle was made: every event
	// of the bundle is at or before it, and its hash is in the log's
	// chain for as long as the log is intact.
	Head EvidenceHead `json:"head"`
	// Runs are the runs of the bundle, the exported one first, then the
	// others in the order they started.
	Runs []EvidenceRun `json:"runs"`
	// Residual says, per target, what stays alive at the application
	// after a successful sign-out, as the export could establish it;
	// ResidualSource says how.
	Residual       map[string]string `json:"residual,omitempty"`
	ResidualSource string            `json:"residual_source,omitempty"`
}

// EvidenceHead is a position in the log's chain.
type EvidenceHead struct {
	Seq  int64  `json:"seq"`
	Hash string `json:"hash"`
}

// EvidenceRun describes one run of a bundle and its events file.
type EvidenceRun struct {
	RunID    string `json:"run_id"`
	Relation string `json:"relation"`
	// ResumeOf is the run this one resumes, as it recorded it.
	ResumeOf string `json:"resume_of,omitempty"`
	// File is the events file, relative to the bundle.
	File string `json:"file"`
	// FirstSeq and LastSeq are the run's first and last event; the file
	// holds every event between them. Lines is how many; Events of them
	// are the run's own, Omitted are other runs' (hashes only).
	FirstSeq int64 `json:"first_seq"`
	LastSeq  int64 `json:"last_seq"`
	Lines    int   `json:"lines"`
	Events   int   `json:"events"`
	Omitted  int   `json:"omitted"`
	// FirstPrevHash is the hash of the event before FirstSeq in the log
	// (GenesisHash for the first): the stretch's link to the rest of the
	// chain. LastHash is the hash of LastSeq.
	FirstPrevHash string `json:"first_prev_hash"`
	LastHash      string `json:"last_hash"`
	// InProgress is true when the run was still running at export: its
	// steps without an answer are pending, not unknown.
	InProgress bool `json:"in_progress,omitempty"`
	// ConfigPath and ConfigDigest are the targets.toml the run recorded.
	ConfigPath   string `json:"config_path,omitempty"`
	ConfigDigest string `json:"config_digest,omitempty"`
}

// Evidence is a bundle being made: its index and each run's state and
// events, from which the reports and events files are written.
type Evidence struct {
	Index EvidenceIndex
	// Runs holds, for each of Index.Runs, the run's state (settled as
	// audit show settles it) and its own events in seq order.
	Runs []EvidenceRunData
	// lines are, per run, the events file's rows; omitted marks the rows
	// of other runs.
	lines   [][]row
	omitted [][]bool
}

// EvidenceRunData is one run of a bundle, folded.
type EvidenceRunData struct {
	State  *actions.RunState
	Events []actions.Event
}

// ErrEvidenceLog is matched by the error of an export from a log whose
// chain is broken: a bundle of it could not be proved.
var ErrEvidenceLog = errors.New("the audit log is not intact")

// Evidence collects the bundle of run id (or the only run whose id starts
// with it) and the runs linked to it by resumes. It verifies the whole log
// first and refuses a log whose chain is broken; every event it reads is
// at or before the head that check found, so events appended meanwhile by
// another process are left out consistently. The reports are written by
// Files; Index.Residual may be filled in before that.
func (l *Log) Evidence(ctx context.Context, id string) (*Evidence, error) {
	if err := l.usable(); err != nil {
		return nil, err
	}
	full, err := l.resolve(ctx, id)
	if err != nil {
		return nil, err
	}
	res, err := l.Verify(ctx, "")
	if err != nil {
		return nil, err
	}
	if !res.OK {
		return nil, fmt.Errorf("%w: it breaks at event %d (%s); run ulc audit verify, and keep the file as it is", ErrEvidenceLog, res.BrokenSeq, res.Problem)
	}
	head := EvidenceHead{Seq: res.HeadSeq, Hash: res.Head}
	family, err := l.family(ctx, full, head.Seq)
	if err != nil {
		return nil, err
	}
	e := &Evidence{Index: EvidenceIndex{Format: EvidenceFormat, Report: ReportFormat, RunID: full, AuditDB: l.path, Head: head}}
	used := map[string]bool{}
	for i, f := range family {
		run, lines, omitted, err := l.segment(ctx, f.id, head.Seq)
		if err != nil {
			return nil, err
		}
		run.Relation = f.relation
		run.File = eventsFileName(f.id, i, used)
		run.InProgress = inProgress(lines, omitted)
		data, err := foldSegment(f.id, lines, omitted, run.InProgress)
		if err != nil {
			return nil, l.wrap(err)
		}
		st := data.State
		run.ResumeOf, run.ConfigPath, run.ConfigDigest = st.Info.ResumeOf, st.Info.ConfigPath, st.Info.ConfigDigest
		e.Index.Runs = append(e.Index.Runs, run)
		e.Runs = append(e.Runs, data)
		e.lines = append(e.lines, lines)
		e.omitted = append(e.omitted, omitted)
	}
	return e, l.settled(nil)
}

// inProgress reports whether the run of a stretch is still running (on
// this host, by a live process): its unanswered steps are then pending, not
// unknown. The bundle records it, so a check folds the run the same way.
func inProgress(lines []row, omitted []bool) bool {
	st := actions.NewRunState("")
	for i := range lines {
		if !omitted[i] && lines[i][3] == string(actions.KindRunStarted) {
			if ev, err := lines[i].event(); err == nil {
				st.Apply(ev)
			}
			break
		}
	}
	return st.RunID != "" && running(st.Info)
}

// foldSegment folds the run's own rows of a stretch into its state, as
// audit show does, except that whether the run was in progress is given:
// the export decides it once and records it.
func foldSegment(id string, lines []row, omitted []bool, inProgress bool) (EvidenceRunData, error) {
	st := actions.NewRunState(id)
	var evs []actions.Event
	for j := range lines {
		if omitted[j] {
			continue
		}
		ev, err := lines[j].event()
		if err != nil {
			return EvidenceRunData{}, err
		}
		st.Apply(ev)
		evs = append(evs, ev)
	}
	if !st.Done && !inProgress {
		st.Settle()
	}
	return EvidenceRunData{State: st, Events: evs}, nil
}

// familyRun is one run of a bundle and how it relates to the exported one.
type familyRun struct {
	id, relation string
}

// family returns run id and every run linked to it by resumes (recorded at
// or before seq head): id first, then the others by their first event.
func (l *Log) family(ctx context.Context, id string, head int64) ([]familyRun, error) {
	rows, err := l.db.QueryContext(ctx, `SELECT run_id, detail FROM events WHERE kind = ? AND seq <= ? ORDER BY seq`,
		string(actions.KindRunStarted), head)
	if err != nil {
		return nil, l.wrap(err)
	}
	defer rows.Close()
	parent := map[string]string{}
	var order []string
	for rows.Next() {
		var run, detail string
		if err := rows.Scan(&run, &detail); err != nil {
			return nil, l.wrap(err)
		}
		var info actions.RunInfo
		_ = json.Unmarshal([]byte(detail), &info) // a run without a readable RunInfo resumes nothing
		if _, seen := parent[run]; !seen {
			order = append(order, run)
		}
		parent[run] = info.ResumeOf
	}
	if err := rows.Err(); err != nil {
		return nil, l.wrap(err)
	}
	// Up from id to the first run of its chain.
	ancestors := map[string]bool{}
	root := id
	for seen := map[string]bool{id: true}; parent[root] != "" && !seen[parent[root]]; {
		root = parent[root]
		seen[root] = true
		ancestors[root] = true
	}
	// Down from the root: every run whose chain of resumes reaches it.
	reaches := func(run, to string) bool {
		for seen := map[string]bool{}; run != "" && !seen[run]; run = parent[run] {
			if run == to {
				return true
			}
			seen[run] = true
		}
		return false
	}
	out := []familyRun{{id, RelationExported}}
	for _, run := range order {
		switch {
		case run == id:
		case ancestors[run]:
			out = append(out, familyRun{run, RelationResumed})
		case reaches(run, id):
			out = append(out, familyRun{run, RelationResumes})
		case reaches(run, root):
			out = append(out, familyRun{run, RelationRelated})
		}
	}
	return out, nil
}

// segment reads the stretch of the chain from run's first event to its
// last (at or before head): its rows, and which of them belong to other
// runs.
func (l *Log) segment(ctx context.Context, run string, head int64) (EvidenceRun, []row, []bool, error) {
	out := EvidenceRun{RunID: run}
	var first, last sqlNullInt
	err := l.db.QueryRowContext(ctx, `SELECT min(seq), max(seq) FROM events WHERE run_id = ? AND seq <= ?`, run, head).Scan(&first, &last)
	if err != nil {
		return out, nil, nil, l.wrap(err)
	}
	if !first.Valid {
		return out, nil, nil, fmt.Errorf("audit: run %s has no events in %s", run, l.path)
	}
	out.FirstSeq, out.LastSeq = first.Int64, last.Int64
	out.FirstPrevHash = GenesisHash
	if out.FirstSeq > 1 {
		if err := l.db.QueryRowContext(ctx, `SELECT hash FROM events WHERE seq = ?`, out.FirstSeq-1).Scan(&out.FirstPrevHash); err != nil {
			return out, nil, nil, l.wrap(err)
		}
	}
	var (
		lines   []row
		omitted []bool
	)
	err = l.rawRows(ctx, out.FirstSeq, out.LastSeq, func(r row) error {
		other := r[1] != run
		lines = append(lines, r)
		omitted = append(omitted, other)
		if other {
			out.Omitted++
		} else {
			out.Events++
		}
		return nil
	})
	if err != nil {
		return out, nil, nil, err
	}
	out.Lines = len(lines)
	out.LastHash = lines[len(lines)-1][colHash]
	return out, lines, omitted, nil
}

// sqlNullInt is an INTEGER that may be NULL (an aggregate of no rows).
type sqlNullInt struct {
	Int64 int64
	Valid bool
}

// Scan implements sql.Scanner.
func (n *sqlNullInt) Scan(v any) error {
	switch v := v.(type) {
	case nil:
		n.Valid = false
	case int64:
		n.Int64, n.Valid = v, true
	default:
		return fmt.Errorf("not an integer: %T", v)
	}
	return nil
}

// rawRows streams the rows with seq in [from, to] as the hash covers them.
func (l *Log) rawRows(ctx context.Context, from, to int64, fn func(r row) error) error {
	rows, err := l.db.QueryContext(ctx, `SELECT `+columnList+` FROM events WHERE seq BETWEEN ? AND ? ORDER BY seq`, from, to)
	if err != nil {
		return l.wrap(err)
	}
	defer rows.Close()
	vals := make([]any, len(columns))
	ptrs := make([]any, len(columns))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return l.wrap(err)
		}
		r, nulls := rowFromValues(vals)
		if nulls {
			return l.wrap(fmt.Errorf("event %s holds a NULL (run verify)", r[colSeq]))
		}
		if err := fn(r); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return l.wrap(err)
	}
	return l.settled(nil)
}

// event turns a row back into the event it records.
func (r *row) event() (actions.Event, error) {
	var ev actions.Event
	ints := make([]int64, len(columns))
	for i := range columns {
		if isIntColumn(i) {
			n, err := strconv.ParseInt(r[i], 10, 64)
			if err != nil {
				return ev, fmt.Errorf("event %s: %s %q is not an integer", r[colSeq], columns[i], r[i])
			}
			ints[i] = n
		}
	}
	t, err := time.Parse(time.RFC3339Nano, r[2])
	if err != nil {
		return ev, fmt.Errorf("event %s has an invalid time %q (run verify)", r[colSeq], r[2])
	}
	ev = actions.Event{
		Seq: ints[0], RunID: r[1], Time: t, Kind: actions.EventKind(r[3]), Step: int(ints[4]),
		User: r[5], Target: r[6], Action: actions.Action(r[7]), Attempt: int(ints[8]),
		HTTPStatus: int(ints[9]), Outcome: actions.Outcome(r[10]), LatencyMS: ints[11],
		Error: r[12], RequestID: r[13], ErrorCode: r[14], ErrorID: r[15],
	}
	if r[16] != "" {
		ev.Detail = json.RawMessage(r[16])
	}
	return ev, nil
}

// safeRunID is a run id that can name a file as it is.
var safeRunID = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$`)

// eventsFileName is the events file of the i-th run of a bundle: named by
// its id when that is a plain file name, else by its position.
func eventsFileName(id string, i int, used map[string]bool) string {
	name := "events/" + id + ".jsonl"
	if !safeRunID.MatchString(id) || strings.Contains(id, "..") || used[name] {
		name = fmt.Sprintf("events/run-%d.jsonl", i+1)
	}
	used[name] = true
	return name
}

// Files renders the bundle: every file by its name in the bundle,
// SHA256SUMS included.
func (e *Evidence) Files() (map[string][]byte, error) {
	files := map[string][]byte{}
	for i, run := range e.Index.Runs {
		var b bytes.Buffer
		for j := range e.lines[i] {
			if err := encodeLine(&b, &e.lines[i][j], e.omitted[i][j]); err != nil {
				return nil, fmt.Errorf("audit: %s: %w", run.File, err)
			}
		}
		files[run.File] = b.Bytes()
	}
	idx, err := json.MarshalIndent(e.Index, "", "  ")
	if err != nil {
		return nil, err
	}
	files[EvidenceIndexFile] = append(idx, '\n')
	files[EvidenceReportMD] = e.markdown()
	html, err := e.html()
	if err != nil {
		return nil, err
	}
	files[EvidenceReportHTML] = html
	files[EvidenceManifest] = manifest(files)
	return files, nil
}

// manifest is the SHA256SUMS of files: one "HASH  NAME" line per file,
// sorted by name, as sha256sum writes it.
func manifest(files map[string][]byte) []byte {
	names := make([]string, 0, len(files))
	for n := range files {
		if n != EvidenceManifest {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	var b bytes.Buffer
	for _, n := range names {
		sum := sha256.Sum256(files[n])
		fmt.Fprintf(&b, "%s  %s\n", hex.EncodeToString(sum[:]), n)
	}
	return b.Bytes()
}

// BundleDigest is "sha256:" and the SHA-256 of a bundle's SHA256SUMS: one
// value that names the whole bundle, to paste into the ticket.
func BundleDigest(manifest []byte) string {
	sum := sha256.Sum256(manifest)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// encodeLine writes r as one events-file line: a JSON object of every
// column by name in table order, integers as numbers, the rest as strings
// (detail as its stored JSON text), or, for another run's row, only its
// seq, prev_hash and hash.
func encodeLine(b *bytes.Buffer, r *row, omitted bool) error {
	b.WriteByte('{')
	if omitted {
		fmt.Fprintf(b, `"seq":%s,"omitted":true,"prev_hash":`, r[colSeq])
		if err := writeJSONString(b, r[colPrevHash]); err != nil {
			return err
		}
		b.WriteString(`,"hash":`)
		if err := writeJSONString(b, r[colHash]); err != nil {
			return err
		}
		b.WriteString("}\n")
		return nil
	}
	for i, c := range columns {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(`"` + c + `":`)
		if isIntColumn(i) {
			if _, err := strconv.ParseInt(r[i], 10, 64); err != nil {
				return fmt.Errorf("event %s: %s %q is not an integer", r[colSeq], c, r[i])
			}
			b.WriteString(r[i])
			continue
		}
		if !utf8.ValidString(r[i]) {
			return fmt.Errorf("event %s: %s is not valid UTF-8, which JSON cannot carry byte for byte", r[colSeq], c)
		}
		if err := writeJSONString(b, r[i]); err != nil {
			return err
		}
	}
	b.WriteString("}\n")
	return nil
}

// writeJSONString writes s as a JSON string, without HTML escaping:
// encoding/json escapes every control character (ESC included) and
// U+2028/U+2029, so a line is safe to print and decodes to s exactly.
func writeJSONString(b *bytes.Buffer, s string) error {
	plain := true
	for i := range len(s) {
		if c := s[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' {
			plain = false
			break
		}
	}
	if plain { // printable ASCII with nothing to escape: what most fields are
		b.WriteByte('"')
		b.WriteString(s)
		b.WriteByte('"')
		return nil
	}
	var tmp bytes.Buffer
	enc := json.NewEncoder(&tmp)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(s); err != nil {
		return err
	}
	b.Write(bytes.TrimSuffix(tmp.Bytes(), []byte("\n")))
	return nil
}

// sortedKeys returns m's keys in order.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
