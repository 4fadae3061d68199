package audit

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"regexp"
	"strconv"
	"strings"

	"ulc/internal/safetext"
)

// EvidenceProblem is one thing wrong with a bundle, named as precisely as
// can be known: the file, and for an events file the line, its seq and the
// field.
type EvidenceProblem struct {
	File    string `json:"file"`
	Line    int    `json:"line,omitempty"`
	Seq     int64  `json:"seq,omitempty"`
	Field   string `json:"field,omitempty"`
	Problem string `json:"problem"`
}

// String is the problem in one line: "events/R.jsonl line 5 (seq 17),
// field hash: ...".
func (p EvidenceProblem) String() string {
	s := p.File
	if p.Line > 0 {
		s += fmt.Sprintf(" line %d", p.Line)
	}
	if p.Seq > 0 {
		s += fmt.Sprintf(" (seq %d)", p.Seq)
	}
	if p.Field != "" {
		s += ", field " + p.Field
	}
	return s + ": " + p.Problem
}

// EvidenceResult is what a check of a bundle found.
type EvidenceResult struct {
	// OK is true when no problem was found.
	OK bool `json:"ok"`
	// RunID is the exported run, as bundle.json names it.
	RunID string `json:"run_id,omitempty"`
	// Runs, Events and Omitted count the runs, their events, and the
	// other runs' events kept as hashes only.
	Runs    int `json:"runs"`
	Events  int `json:"events"`
	Omitted int `json:"omitted"`
	// Head is the log's head at export, as bundle.json records it.
	Head EvidenceHead `json:"head"`
	// Digest is BundleDigest of the bundle's SHA256SUMS.
	Digest string `json:"bundle_digest,omitempty"`
	// AuditDB is the log the bundle was checked against, "" for a check
	// of the bundle alone.
	AuditDB string `json:"audit_db,omitempty"`
	// Problems are what is wrong, up to a hundred; More counts the rest.
	Problems []EvidenceProblem `json:"problems,omitempty"`
	More     int               `json:"more_problems,omitempty"`
}

// maxProblems is how many problems a result lists.
const maxProblems = 100

// Caps on what a bundle may hold, so a hostile zip cannot exhaust memory:
// bytes of one file, and files. A variable so the fuzz test can lower it.
var maxBundleFile int64 = 256 << 20

const maxBundleFiles = 10000

func (res *EvidenceResult) add(p EvidenceProblem) {
	p.File, p.Field, p.Problem = safetext.Line(p.File, 200), safetext.Line(p.Field, 60), safetext.Line(p.Problem, 0)
	if len(res.Problems) >= maxProblems {
		res.More++
		return
	}
	res.Problems = append(res.Problems, p)
}

// OpenEvidence opens a bundle for reading: a folder, or a zip file. The
// closer releases it.
func OpenEvidence(p string) (fs.FS, io.Closer, error) {
	fi, err := os.Stat(p)
	if err != nil {
		return nil, nil, err
	}
	if fi.IsDir() {
		return os.DirFS(p), io.NopCloser(nil), nil
	}
	zr, err := zip.OpenReader(p)
	if err != nil {
		return nil, nil, fmt.Errorf("%s is neither a folder nor a zip file: %w", p, err)
	}
	return zr, zr, nil
}

// bundle is a bundle as read: its index and each events file's lines.
type bundle struct {
	index    EvidenceIndex
	indexOK  bool
	manifest []byte
	segs     []segment
}

// segment is one events file as read.
type segment struct {
	run   EvidenceRun
	lines []segLine
}

// segLine is one line of an events file that could be decoded.
type segLine struct {
	line    int
	r       row
	omitted bool
}

// VerifyEvidence checks a bundle on its own, without the log: every file
// against SHA256SUMS, bundle.json's shape, and in every events file each
// line's hash against its content and its prev_hash against the line
// before, the seq numbers without a gap, and the stretch's ends against
// bundle.json. Every problem is listed, not only the first.
func VerifyEvidence(fsys fs.FS) EvidenceResult {
	_, res := checkBundle(fsys)
	return res
}

func checkBundle(fsys fs.FS) (*bundle, EvidenceResult) {
	var res EvidenceResult
	b := &bundle{}
	listed := checkManifest(fsys, b, &res)
	checkIndex(fsys, b, listed, &res)
	if b.indexOK {
		before := len(res.Problems) + res.More
		for i := range b.index.Runs {
			b.segs = append(b.segs, checkSegment(fsys, b.index.Runs[i], b.index.Head, &res))
		}
		// Reports written from events that are themselves wrong would
		// only repeat those problems as the reports'.
		if len(res.Problems)+res.More == before && b.index.Report == ReportFormat {
			checkReports(fsys, b, &res)
		}
	}
	res.OK = len(res.Problems) == 0
	return b, res
}

// manifestLine is one line of SHA256SUMS, as sha256sum writes it (text or
// binary mode).
var manifestLine = regexp.MustCompile(`^([0-9a-f]{64}) [ *](.+)$`)

// checkManifest checks every file against SHA256SUMS and that no file is
// unlisted; it returns the listed names.
func checkManifest(fsys fs.FS, b *bundle, res *EvidenceResult) map[string]bool {
	listed := map[string]bool{}
	data, err := readBundleFile(fsys, EvidenceManifest)
	if err != nil {
		res.add(EvidenceProblem{File: EvidenceManifest, Problem: err.Error()})
		return listed
	}
	b.manifest = data
	res.Digest = BundleDigest(data)
	if len(data) > 0 && data[len(data)-1] != '\n' {
		res.add(EvidenceProblem{File: EvidenceManifest, Problem: "does not end in a newline: it was cut short or edited"})
	}
	for i, text := range strings.Split(strings.TrimSuffix(string(data), "\n"), "\n") {
		n := i + 1
		m := manifestLine.FindStringSubmatch(text)
		if m == nil {
			res.add(EvidenceProblem{File: EvidenceManifest, Line: n, Problem: fmt.Sprintf("%q is not a line of SHA-256 and file name", safetext.Line(text, 80))})
			continue
		}
		name := m[2]
		switch {
		case !fs.ValidPath(name) || name == EvidenceManifest || name == ".":
			res.add(EvidenceProblem{File: EvidenceManifest, Line: n, Problem: fmt.Sprintf("%q is not a file of the bundle", safetext.Line(name, 80))})
			continue
		case listed[name]:
			res.add(EvidenceProblem{File: EvidenceManifest, Line: n, Problem: fmt.Sprintf("%s is listed twice", safetext.Line(name, 80))})
			continue
		}
		listed[name] = true
		content, err := readBundleFile(fsys, name)
		if err != nil {
			res.add(EvidenceProblem{File: name, Problem: "is listed in " + EvidenceManifest + " but " + err.Error()})
			continue
		}
		sum := sha256.Sum256(content)
		if got := hex.EncodeToString(sum[:]); got != m[1] {
			res.add(EvidenceProblem{File: name, Field: "sha256", Problem: fmt.Sprintf("its SHA-256 is %s, %s says %s: the file was changed", got, EvidenceManifest, m[1])})
		}
	}
	files := 0
	_ = fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			res.add(EvidenceProblem{File: p, Problem: "cannot be read: " + err.Error()})
			return nil
		}
		if files++; files > maxBundleFiles {
			res.add(EvidenceProblem{File: p, Problem: fmt.Sprintf("the bundle holds more than %d files", maxBundleFiles)})
			return fs.SkipAll
		}
		switch {
		case d.IsDir() || p == EvidenceManifest:
		case !d.Type().IsRegular():
			res.add(EvidenceProblem{File: p, Problem: "is not a regular file (a link?): a bundle holds only files"})
		case !listed[p]:
			res.add(EvidenceProblem{File: p, Problem: "is not listed in " + EvidenceManifest + ": a file was added"})
		}
		return nil
	})
	return listed
}

// readBundleFile reads one file of the bundle, to a cap.
func readBundleFile(fsys fs.FS, name string) ([]byte, error) {
	if err := noLinks(fsys, name); err != nil {
		return nil, err
	}
	f, err := fsys.Open(name)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, errors.New("is missing")
	}
	if err != nil {
		return nil, fmt.Errorf("cannot be read: %w", err)
	}
	defer func() { _ = f.Close() }() // only read
	if fi, err := f.Stat(); err == nil && !fi.Mode().IsRegular() {
		return nil, errors.New("is not a regular file")
	}
	data, err := io.ReadAll(io.LimitReader(f, maxBundleFile+1))
	if err != nil {
		return nil, fmt.Errorf("cannot be read: %w", err)
	}
	if int64(len(data)) > maxBundleFile {
		return nil, fmt.Errorf("is larger than %d bytes", maxBundleFile)
	}
	return data, nil
}

// noLinks refuses a name that is, or lies under, a symbolic link: a
// folder's bundle is read only from inside it.
func noLinks(fsys fs.FS, name string) error {
	lfs, ok := fsys.(fs.ReadLinkFS)
	if !ok {
		return nil // a zip has no links
	}
	for p := name; p != "." && p != "/"; p = path.Dir(p) {
		fi, err := lfs.Lstat(p)
		if errors.Is(err, fs.ErrNotExist) {
			return errors.New("is missing")
		}
		if err != nil {
			return fmt.Errorf("cannot be read: %w", err)
		}
		if fi.Mode()&fs.ModeSymlink != 0 {
			return errors.New("is, or is in, a symbolic link: a bundle holds only files")
		}
	}
	return nil
}

// checkIndex reads bundle.json and checks its shape.
func checkIndex(fsys fs.FS, b *bundle, listed map[string]bool, res *EvidenceResult) {
	data, err := readBundleFile(fsys, EvidenceIndexFile)
	if err != nil {
		res.add(EvidenceProblem{File: EvidenceIndexFile, Problem: err.Error()})
		return
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var idx EvidenceIndex
	if err := dec.Decode(&idx); err != nil {
		res.add(EvidenceProblem{File: EvidenceIndexFile, Problem: "cannot be read: " + safetext.Line(err.Error(), 200)})
		return
	}
	if dec.More() {
		res.add(EvidenceProblem{File: EvidenceIndexFile, Problem: "holds more than one JSON value"})
		return
	}
	bad := func(field, problem string) {
		res.add(EvidenceProblem{File: EvidenceIndexFile, Field: field, Problem: problem})
	}
	ok := true
	switch {
	case idx.Format != EvidenceFormat:
		bad("format", fmt.Sprintf("is %q, this ulc reads %q", safetext.Line(idx.Format, 40), EvidenceFormat))
		return
	case len(idx.Runs) == 0:
		bad("runs", "lists no run")
		return
	case idx.Report != ReportFormat:
		bad("report", fmt.Sprintf("is %q, this ulc writes %q: the reports cannot be checked against the events", safetext.Line(idx.Report, 40), ReportFormat))
	case idx.Runs[0].RunID != idx.RunID || idx.Runs[0].Relation != RelationExported:
		bad("runs", "does not start with the exported run")
		ok = false
	}
	if !isHash(idx.Head.Hash) || idx.Head.Seq < 1 {
		bad("head", "is not a seq and a SHA-256 hash")
		ok = false
	}
	files := map[string]bool{}
	for i, r := range idx.Runs {
		where := fmt.Sprintf("runs[%d]", i)
		switch {
		case !fs.ValidPath(r.File) || !strings.HasPrefix(r.File, "events/") || path.Ext(r.File) != ".jsonl":
			bad(where+".file", fmt.Sprintf("%q is not an events file of the bundle", safetext.Line(r.File, 80)))
			ok = false
		case files[r.File]:
			bad(where+".file", fmt.Sprintf("%s is named twice", safetext.Line(r.File, 80)))
			ok = false
		case !listed[r.File] && b.manifest != nil:
			bad(where+".file", fmt.Sprintf("%s is not listed in %s", safetext.Line(r.File, 80), EvidenceManifest))
		}
		files[r.File] = true
		if r.FirstSeq < 1 || r.LastSeq < r.FirstSeq || r.Lines != int(r.LastSeq-r.FirstSeq+1) || r.Events+r.Omitted != r.Lines ||
			!isHash(r.FirstPrevHash) || !isHash(r.LastHash) {
			bad(where, "its seq range, counts and hashes do not add up")
			ok = false
		}
		if r.LastSeq > idx.Head.Seq {
			bad(where+".last_seq", fmt.Sprintf("%d is after the head at export (%d)", r.LastSeq, idx.Head.Seq))
		} else if r.LastSeq == idx.Head.Seq && r.LastHash != idx.Head.Hash {
			bad(where+".last_hash", "the run ends at the head at export, but its last hash is not the head's")
		}
	}
	if b.manifest != nil {
		for _, name := range []string{EvidenceIndexFile, EvidenceReportMD, EvidenceReportHTML} {
			if !listed[name] {
				res.add(EvidenceProblem{File: name, Problem: "is not listed in " + EvidenceManifest})
			}
		}
	}
	b.index, b.indexOK = idx, ok
	res.RunID, res.Head, res.Runs = idx.RunID, idx.Head, len(idx.Runs)
}

// isHash reports whether s is a SHA-256 hash as the log writes it: 64
// lowercase hexadecimal digits.
func isHash(s string) bool {
	if len(s) != 64 {
		return false
	}
	for i := range len(s) {
		if !(s[i] >= '0' && s[i] <= '9' || s[i] >= 'a' && s[i] <= 'f') {
			return false
		}
	}
	return true
}

// checkSegment checks one events file against its own hashes and run's
// entry in bundle.json.
func checkSegment(fsys fs.FS, run EvidenceRun, head EvidenceHead, res *EvidenceResult) segment {
	seg := segment{run: run}
	data, err := readBundleFile(fsys, run.File)
	if err != nil {
		res.add(EvidenceProblem{File: run.File, Problem: err.Error()})
		return seg
	}
	prob := func(line int, seq int64, field, problem string) {
		res.add(EvidenceProblem{File: run.File, Line: line, Seq: seq, Field: field, Problem: problem})
	}
	if len(data) == 0 {
		prob(0, 0, "", "is empty")
		return seg
	}
	if data[len(data)-1] != '\n' {
		prob(0, 0, "", "does not end in a newline: it was cut short or its last line edited")
	}
	var (
		prevSeq  = run.FirstSeq - 1
		prevHash = run.FirstPrevHash
		prevLine = 0
		lines    = 0
		own      = 0
	)
	for i, text := range bytes.Split(bytes.TrimSuffix(data, []byte("\n")), []byte("\n")) {
		n := i + 1
		lines++
		r, omitted, field, err := decodeLine(text)
		if err != nil {
			prob(n, lineSeq(text), field, err.Error())
			// A line that cannot be read breaks the links around it:
			// report those once, here, not again at the next line.
			prevSeq, prevHash, prevLine = prevSeq+1, "", n
			continue
		}
		seq, _ := strconv.ParseInt(r[colSeq], 10, 64)
		seg.lines = append(seg.lines, segLine{line: n, r: r, omitted: omitted})
		switch {
		case seq == prevSeq+1:
		case seq > prevSeq+1 && n == 1:
			prob(n, seq, "seq", fmt.Sprintf("the file starts at seq %d, bundle.json says at %d: %s", seq, run.FirstSeq, removed(run.FirstSeq, seq-1)))
		case seq > prevSeq+1:
			prob(n, seq, "seq", fmt.Sprintf("follows line %d (seq %d): %s", prevLine, prevSeq, removed(prevSeq+1, seq-1)))
		default:
			prob(n, seq, "seq", fmt.Sprintf("does not follow line %d (seq %d): lines were reordered or repeated", prevLine, prevSeq))
		}
		if prevHash != "" && r[colPrevHash] != prevHash && seq == prevSeq+1 {
			if n == 1 {
				prob(n, seq, "prev_hash", "is not the first_prev_hash bundle.json records: the stretch does not link to the log's chain as exported")
			} else {
				prob(n, seq, "prev_hash", fmt.Sprintf("is not the hash of line %d (seq %d): the chain is broken here", prevLine, prevSeq))
			}
		}
		if omitted {
			res.Omitted++
		} else {
			own++
			res.Events++
			switch {
			case r.computeHash() != r[colHash]:
				prob(n, seq, "hash", "does not match the line's content: a field of this line was changed (with --audit-db, verify names which)")
			case r[1] != run.RunID:
				prob(n, seq, "run_id", fmt.Sprintf("is %q, not the file's run %s", safetext.Line(r[1], 60), safetext.Line(run.RunID, 60)))
			case n == 1 && r[3] != "run_started":
				prob(n, seq, "kind", "the first line is not the run's run_started event")
			}
		}
		prevSeq, prevHash, prevLine = seq, r[colHash], n
	}
	if prevSeq < run.LastSeq {
		prob(lines, prevSeq, "", fmt.Sprintf("the file ends at seq %d, bundle.json says at %d: %s", prevSeq, run.LastSeq, removed(prevSeq+1, run.LastSeq)))
	} else if prevSeq > run.LastSeq {
		prob(lines, prevSeq, "", fmt.Sprintf("the file goes on past seq %d, where bundle.json says it ends: lines were added", run.LastSeq))
	} else if prevHash != "" && prevHash != run.LastHash {
		prob(lines, prevSeq, "hash", "is not the last_hash bundle.json records")
	}
	if own != run.Events && prevSeq == run.LastSeq {
		prob(0, 0, "", fmt.Sprintf("holds %d events of the run, bundle.json says %d", own, run.Events))
	}
	return seg
}

// checkReports writes the reports again from bundle.json and the events
// and compares them with the bundle's: a report edited to say something
// the events do not is found even when SHA256SUMS was made again to match.
func checkReports(fsys fs.FS, b *bundle, res *EvidenceResult) {
	e, err := b.evidence()
	if err != nil {
		res.add(EvidenceProblem{File: EvidenceIndexFile, Problem: "the events cannot be folded into runs: " + err.Error()})
		return
	}
	html, err := e.html()
	if err != nil {
		res.add(EvidenceProblem{File: EvidenceReportHTML, Problem: "cannot be written again from the events: " + err.Error()})
		return
	}
	for name, want := range map[string][]byte{EvidenceReportMD: e.markdown(), EvidenceReportHTML: html} {
		got, err := readBundleFile(fsys, name)
		if err != nil {
			continue // already reported by the manifest's check
		}
		if n, text := firstDifference(got, want); n > 0 {
			res.add(EvidenceProblem{File: name, Line: n, Problem: fmt.Sprintf(
				"does not say what the events say: the line written from them is %q: the report was edited", safetext.Line(text, 120))})
		}
	}
}

// evidence is the bundle as read, folded as the export folded it.
func (b *bundle) evidence() (*Evidence, error) {
	e := &Evidence{Index: b.index}
	for _, seg := range b.segs {
		lines := make([]row, len(seg.lines))
		omitted := make([]bool, len(seg.lines))
		for i, ln := range seg.lines {
			lines[i], omitted[i] = ln.r, ln.omitted
		}
		data, err := foldSegment(seg.run.RunID, lines, omitted, seg.run.InProgress)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", seg.run.File, err)
		}
		e.Runs = append(e.Runs, data)
		e.lines, e.omitted = append(e.lines, lines), append(e.omitted, omitted)
	}
	return e, nil
}

// firstDifference is the first line (1-based) where got differs from
// want, and want's line there; 0 when they are equal.
func firstDifference(got, want []byte) (int, string) {
	if bytes.Equal(got, want) {
		return 0, ""
	}
	g, w := bytes.Split(got, []byte("\n")), bytes.Split(want, []byte("\n"))
	for i := range w {
		if i >= len(g) || !bytes.Equal(g[i], w[i]) {
			return i + 1, string(w[i])
		}
	}
	return len(w) + 1, ""
}

// seqRange is "17" or "17 to 19".
func seqRange(from, to int64) string {
	if from == to {
		return strconv.FormatInt(from, 10)
	}
	return fmt.Sprintf("%d to %d", from, to)
}

// removed says that the events from..to were removed.
func removed(from, to int64) string {
	if from == to {
		return fmt.Sprintf("event %d was removed", from)
	}
	return fmt.Sprintf("events %d to %d were removed", from, to)
}

// lineSeq is the seq of a line that could not be decoded as a whole, if
// its seq field can still be read; 0 otherwise.
func lineSeq(text []byte) int64 {
	var s struct {
		Seq int64 `json:"seq"`
	}
	if json.Unmarshal(text, &s) != nil || s.Seq < 0 {
		return 0
	}
	return s.Seq
}

// decodeLine reads one events-file line strictly: a JSON object holding
// every column exactly once (integers as plain decimal numbers, the rest
// as strings, the hashes as 64 lowercase hex digits) and nothing else, or
// an omitted line holding exactly seq, omitted (true), prev_hash and hash;
// and written exactly as the export writes it (keys in table order, no
// spaces), which also rules out a key given twice. On error it returns the
// field at fault, if one is.
func decodeLine(text []byte) (r row, omitted bool, field string, err error) {
	fail := func(f, format string, a ...any) (row, bool, string, error) {
		return row{}, false, f, fmt.Errorf(format, a...)
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(text, &m); err != nil || m == nil {
		return fail("", "is not a JSON object")
	}
	if raw, ok := m["omitted"]; ok {
		if string(raw) != "true" {
			return fail("omitted", "is not true")
		}
		omitted = true
	}
	want := columns[:]
	if omitted {
		want = []string{"seq", "prev_hash", "hash"}
	}
	for key := range m {
		if key != "omitted" && columnIndex(key) < 0 {
			return fail(safetext.Line(key, 40), "is not a column of the events table")
		}
		if omitted && key != "omitted" && key != "seq" && key != "prev_hash" && key != "hash" {
			return fail(safetext.Line(key, 40), "an omitted line holds only seq, omitted, prev_hash and hash")
		}
	}
	for _, c := range want {
		raw, ok := m[c]
		col := columnIndex(c)
		switch {
		case !ok:
			return fail(c, "is missing")
		case isIntColumn(col):
			n, perr := strconv.ParseInt(string(raw), 10, 64)
			if perr != nil || strconv.FormatInt(n, 10) != string(raw) {
				return fail(c, "is not an integer")
			}
			r[col] = string(raw)
		case len(raw) < 2 || raw[0] != '"':
			return fail(c, "is not a string")
		case bytes.IndexByte(raw, '\\') < 0:
			r[col] = string(raw[1 : len(raw)-1]) // nothing to unescape
		default:
			var s string
			if err := json.Unmarshal(raw, &s); err != nil {
				return fail(c, "is not a string")
			}
			r[col] = s
		}
	}
	if n, _ := strconv.ParseInt(r[colSeq], 10, 64); n < 1 {
		return fail("seq", "is not a positive number")
	}
	for _, i := range []int{colPrevHash, colHash} {
		if !isHash(r[i]) {
			return fail(columns[i], "is not a SHA-256 hash (64 lowercase hexadecimal digits)")
		}
	}
	var canon bytes.Buffer
	if err := encodeLine(&canon, &r, omitted); err != nil {
		return fail("", "cannot be written again: %v", err)
	}
	if !bytes.Equal(bytes.TrimSuffix(canon.Bytes(), []byte("\n")), text) {
		return fail("", "is not written as the export writes events (a key repeated, moved or spaced, or a value written another way)")
	}
	return r, omitted, "", nil
}

// columnIndex is the position of column name, -1 for none.
func columnIndex(name string) int {
	for i, c := range columns {
		if c == name {
			return i
		}
	}
	return -1
}

// CheckEvidence checks a bundle on its own (VerifyEvidence) and against l,
// proving it is a true extract of this log: the log's chain is intact and
// holds the head recorded at export; every line's event is in the log at
// that seq with that content and hash (a changed field is named); an
// omitted line is another run's event; the log holds no event of the
// bundle's runs (up to that head) that the bundle leaves out, and no run
// linked to them by resumes that it leaves out. An error is a failure to
// read the log; what is wrong with the bundle is in the result.
func (l *Log) CheckEvidence(ctx context.Context, fsys fs.FS) (EvidenceResult, error) {
	b, res := checkBundle(fsys)
	res.AuditDB = l.path
	if !b.indexOK {
		res.OK = false
		return res, nil
	}
	head := b.index.Head
	v, err := l.Verify(ctx, head.Hash)
	if err != nil {
		return res, err
	}
	if !v.OK {
		res.add(EvidenceProblem{File: EvidenceIndexFile, Field: "head", Problem: fmt.Sprintf(
			"this log does not vouch for the bundle: %s", v.Problem)})
		res.OK = false
		return res, nil
	}
	inBundle := map[string]bool{}
	for _, r := range b.index.Runs {
		inBundle[r.RunID] = true
	}
	for _, seg := range b.segs {
		if err := l.checkExtractSegment(ctx, seg, inBundle, &res); err != nil {
			return res, err
		}
		if err := l.checkNothingLeftOut(ctx, seg.run, head.Seq, &res); err != nil {
			return res, err
		}
	}
	family, err := l.family(ctx, b.index.RunID, head.Seq)
	if err != nil {
		return res, err
	}
	inFamily := map[string]bool{}
	for _, f := range family {
		inFamily[f.id] = true
		if !inBundle[f.id] {
			res.add(EvidenceProblem{File: EvidenceIndexFile, Field: "runs", Problem: fmt.Sprintf(
				"the log holds run %s, linked to %s by resumes, which the bundle leaves out", safetext.Line(f.id, 60), safetext.Line(b.index.RunID, 60))})
		}
	}
	for _, r := range b.index.Runs {
		if !inFamily[r.RunID] {
			res.add(EvidenceProblem{File: EvidenceIndexFile, Field: "runs", Problem: fmt.Sprintf(
				"run %s is not linked to %s by resumes in the log", safetext.Line(r.RunID, 60), safetext.Line(b.index.RunID, 60))})
		}
	}
	res.OK = len(res.Problems) == 0 && res.More == 0
	return res, l.settled(nil)
}

// checkExtractSegment compares every decoded line of seg with the log's
// row at its seq.
func (l *Log) checkExtractSegment(ctx context.Context, seg segment, inBundle map[string]bool, res *EvidenceResult) error {
	if len(seg.lines) == 0 {
		return nil
	}
	first, _ := strconv.ParseInt(seg.lines[0].r[colSeq], 10, 64)
	last := first
	for _, ln := range seg.lines {
		n, _ := strconv.ParseInt(ln.r[colSeq], 10, 64)
		first, last = min(first, n), max(last, n)
	}
	logRows := map[string]row{}
	if err := l.rawRows(ctx, first, last, func(r row) error { logRows[r[colSeq]] = r; return nil }); err != nil {
		return err
	}
	for _, ln := range seg.lines {
		seq, _ := strconv.ParseInt(ln.r[colSeq], 10, 64)
		prob := func(field, problem string) {
			res.add(EvidenceProblem{File: seg.run.File, Line: ln.line, Seq: seq, Field: field, Problem: problem})
		}
		lr, ok := logRows[ln.r[colSeq]]
		switch {
		case !ok:
			prob("seq", "the log has no event at this seq: not an extract of this log")
		case ln.omitted && inBundle[lr[1]]:
			prob("omitted", fmt.Sprintf("the log's event at this seq is of run %s, which the bundle holds: an event of its own was left out", safetext.Line(lr[1], 60)))
		case ln.omitted:
			for _, i := range []int{colPrevHash, colHash} {
				if ln.r[i] != lr[i] {
					prob(columns[i], "differs from the log's")
				}
			}
		default:
			for i, c := range columns {
				if ln.r[i] != lr[i] {
					prob(c, fmt.Sprintf("is %q here and %q in the log", safetext.Line(ln.r[i], 60), safetext.Line(lr[i], 60)))
				}
			}
		}
	}
	return nil
}

// checkNothingLeftOut reports events of run (up to head) outside the
// stretch the bundle holds.
func (l *Log) checkNothingLeftOut(ctx context.Context, run EvidenceRun, head int64, res *EvidenceResult) error {
	rows, err := l.db.QueryContext(ctx, `SELECT seq FROM events WHERE run_id = ? AND seq <= ? AND (seq < ? OR seq > ?) ORDER BY seq LIMIT 10`,
		run.RunID, head, run.FirstSeq, run.LastSeq)
	if err != nil {
		return l.wrap(err)
	}
	defer rows.Close()
	for rows.Next() {
		var seq int64
		if err := rows.Scan(&seq); err != nil {
			return l.wrap(err)
		}
		res.add(EvidenceProblem{File: run.File, Seq: seq, Problem: fmt.Sprintf(
			"the log holds this event of run %s, which the file leaves out", safetext.Line(run.RunID, 60))})
	}
	return l.wrap(rows.Err())
}
