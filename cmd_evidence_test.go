package main

import (
	"archive/zip"
	"bytes"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"ulc/actions"
	"ulc/audit"
	"ulc/sandbox"
	"ulc/sandbox/oktafake"
)

// sandboxRun revokes trinity against the sandbox (its vendors' fakes too)
// and watches her System Log for two seconds, in which her attacker comes
// back; then it resumes what failed, as an operator would. It returns the
// sandbox, the audit log and the first run's id.
func sandboxRun(t *testing.T) (*sandbox.Sandbox, string, string) {
	t.Helper()
	sb, db := startSandboxWith(t, sandbox.Options{Vendors: true})
	trinity, _ := sb.Okta.Person("trinity@whiterabbit.fake")
	done := make(chan struct{})
	go func() {
		// The attacker's return, as soon as her sessions are cleared.
		defer close(done)
		for sb.Okta.Sessions(trinity.ID) > 0 {
			time.Sleep(5 * time.Millisecond)
		}
		sb.Okta.Advance(oktafake.AttackerGrantAfter + time.Second)
	}()
	code, out, errOut := ulc(t, "", "revoke", "--config", sb.ConfigPath, "--audit-db", db,
		"--user", "trinity@whiterabbit.fake", "--reason", "MFA fatigue [phish](https://evil.example)", "--ticket", "INC-4211",
		"--yes", "--json", "--watch", "2s")
	<-done
	if code != exitAlarm {
		t.Fatalf("revoke: exit %d, want 4 (the attacker came back during the watch): %s", code, errOut)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	var sum struct {
		RunID string `json:"run_id"`
	}
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &sum); err != nil || sum.RunID == "" {
		t.Fatalf("no summary: %v %s", err, out)
	}
	if code, _, errOut := ulc(t, "", "resume", sum.RunID, "--audit-db", db, "--yes"); code != exitFailures {
		t.Fatalf("resume: exit %d, want 1 (the apps that were down still are): %s", code, errOut)
	}
	return sb, db, sum.RunID
}

// evidenceLineRE finds the line of an events file holding a result.
var resultLineRE = regexp.MustCompile(`(?m)^.*"kind":"result".*"outcome":"revoked".*$`)

func TestEvidenceOfASandboxRunVerifiesAndNamesTampering(t *testing.T) {
	sb, db, id := sandboxRun(t)
	out := filepath.Join(t.TempDir(), "bundle")
	code, stdout, errOut := ulc(t, "", "audit", "evidence", id, "-o", out, "--audit-db", db)
	if code != 0 {
		t.Fatalf("evidence: exit %d: %s %s", code, stdout, errOut)
	}
	if !strings.Contains(stdout, "2 runs") || !strings.Contains(stdout, "bundle sha256:") {
		t.Fatalf("evidence says %q; want the run and its resume, and the bundle digest", stdout)
	}

	// What a reviewer opens.
	report, err := os.ReadFile(filepath.Join(out, "report.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`INC\-4211`, "trinity", "revoked", "failed", "Still alive", `resumes the exported run`,
		"### Containment watch", "| alarm |", "Watch ended",
		`App passwords\, backup codes`, `Access tokens already issued stay valid`} {
		if !strings.Contains(string(report), want) {
			t.Errorf("report.md lacks %q", want)
		}
	}
	if strings.Contains(string(report), "[phish](") {
		t.Error("report.md carries the reason's Markdown link unescaped")
	}
	html, err := os.ReadFile(filepath.Join(out, "report.html"))
	if err != nil {
		t.Fatal(err)
	}
	// Who ran it, from where, when, with which configuration, and the
	// log's head at export: as the bundle's own events and index say.
	started, head := exportedRunFacts(t, out)
	// The digest's hex, as Markdown escapes its "sha256:" prefix.
	_, digest, _ := strings.Cut(started.ConfigDigest, ":")
	for _, want := range []string{started.Operator, started.Host, digest, head} {
		if want == "" || !strings.Contains(string(report), want) || !strings.Contains(string(html), want) {
			t.Errorf("report.md or report.html lacks %q (operator, host, configuration digest, log head)", want)
		}
	}
	if !strings.Contains(string(report), "Started") || !strings.Contains(string(report), "Log head at export") {
		t.Error("report.md lacks the run's start or the log head at export")
	}
	if !strings.Contains(string(html), "INC-4211") || !strings.Contains(string(html), "[phish](https://evil.example)") {
		t.Error("report.html lacks the ticket or the reason as text")
	}

	verify := func(args ...string) (int, string) {
		t.Helper()
		code, stdout, errOut := ulc(t, "", append([]string{"audit", "verify"}, args...)...)
		return code, stdout + errOut
	}
	if code, o := verify("--evidence", out); code != 0 || !strings.HasPrefix(o, "intact: run "+id) {
		t.Fatalf("verify --evidence DIR: exit %d: %s", code, o)
	}
	if code, o := verify("--evidence", out, "--audit-db", db); code != 0 || !strings.Contains(o, "true extract") {
		t.Fatalf("verify --evidence DIR --audit-db: exit %d: %s", code, o)
	}

	// The zip form verifies too, and holds the same files.
	zipPath := filepath.Join(t.TempDir(), "INC-4211.zip")
	if code, o, e := ulc(t, "", "audit", "evidence", id[:15], "-o", zipPath, "--audit-db", db); code != 0 {
		t.Fatalf("evidence -o zip: exit %d: %s %s", code, o, e)
	}
	if code, o := verify("--evidence", zipPath); code != 0 || !strings.HasPrefix(o, "intact") {
		t.Fatalf("verify --evidence ZIP: exit %d: %s", code, o)
	}
	var inDir []string
	_ = filepath.WalkDir(out, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			rel, _ := filepath.Rel(out, p)
			inDir = append(inDir, filepath.ToSlash(rel))
		}
		return nil
	})
	if got := zipNames(t, zipPath); !slices.Equal(got, inDir) || len(got) != 6 {
		t.Fatalf("the zip holds %v, the folder %v; want the same 6 files", got, inDir)
	}

	// No credential of the sandbox is in any file of the bundle.
	secrets := secretsOf(t, filepath.Dir(sb.ConfigPath))
	_ = filepath.WalkDir(out, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data := readFile(t, p)
		for _, s := range secrets {
			if bytes.Contains(data, []byte(s)) {
				t.Errorf("%s holds a credential: %.6s…", p, s)
			}
		}
		return nil
	})

	// A byte of the zip changed: the file it falls in is named.
	zipData := readFile(t, zipPath)
	bent := filepath.Join(t.TempDir(), "bent.zip")
	zipData[len(zipData)/3] ^= 0x20
	writeFile(t, bent, zipData)
	if code, o := verify("--evidence", bent); code != exitFailures || !strings.Contains(o, "BROKEN") || !regexp.MustCompile(`\n  (events/\S+\.jsonl|report\.\w+|bundle\.json|SHA256SUMS)`).MatchString(o) {
		t.Fatalf("verify of a changed zip: exit %d, want 1 naming a file:\n%s", code, o)
	}

	// Nothing is overwritten.
	if code, _, e := ulc(t, "", "audit", "evidence", id, "-o", zipPath, "--audit-db", db); code != exitUsage || !strings.Contains(e, "already exists") {
		t.Fatalf("evidence onto an existing zip: exit %d: %s", code, e)
	}
	if code, _, e := ulc(t, "", "audit", "evidence", id, "-o", out, "--audit-db", db); code != exitUsage || !strings.Contains(e, "not empty") {
		t.Fatalf("evidence into a full folder: exit %d: %s", code, e)
	}

	events := filepath.Join("events", id+".jsonl")
	// One byte of one line changed: the line and its seq are named.
	t.Run("changed byte", func(t *testing.T) {
		dir := copyBundle(t, out)
		data := readFile(t, filepath.Join(dir, events))
		loc := resultLineRE.FindIndex(data)
		if loc == nil {
			t.Fatal("no revoked result in the events file")
		}
		lineNo := bytes.Count(data[:loc[0]], []byte("\n")) + 1
		seq := seqOf(t, data[loc[0]:loc[1]])
		i := loc[0] + bytes.Index(data[loc[0]:loc[1]], []byte(`"revoked"`)) + 1
		data[i] = 'R'
		writeFile(t, filepath.Join(dir, events), data)
		code, o := verify("--evidence", dir)
		wantLine := events + " line " + itoa(lineNo) + " (seq " + itoa(int(seq)) + "), field hash"
		if code != exitFailures || !strings.Contains(o, wantLine) || !strings.Contains(o, events+", field sha256") {
			t.Fatalf("exit %d, want 1 naming %q and the manifest's hash:\n%s", code, wantLine, o)
		}
		// Against the log, the field itself is named.
		code, o = verify("--evidence", dir, "--audit-db", db)
		if code != exitFailures || !strings.Contains(o, "field outcome: is \"Revoked\" here and \"revoked\" in the log") {
			t.Fatalf("--audit-db: exit %d, want the outcome field named:\n%s", code, o)
		}
	})
	t.Run("removed line", func(t *testing.T) {
		dir := copyBundle(t, out)
		data := readFile(t, filepath.Join(dir, events))
		lines := strings.SplitAfter(string(data), "\n")
		seq := seqOf(t, []byte(lines[4]))
		writeFile(t, filepath.Join(dir, events), []byte(strings.Join(append(lines[:4:4], lines[5:]...), "")))
		code, o := verify("--evidence", dir)
		want := events + " line 5 (seq " + itoa(int(seq+1)) + "), field seq: follows line 4 (seq " + itoa(int(seq-1)) + "): event " + itoa(int(seq)) + " was removed"
		if code != exitFailures || !strings.Contains(o, want) {
			t.Fatalf("exit %d, want %q:\n%s", code, want, o)
		}
	})
	t.Run("edited report", func(t *testing.T) {
		dir := copyBundle(t, out)
		p := filepath.Join(dir, "report.md")
		writeFile(t, p, bytes.Replace(readFile(t, p), []byte("failed"), []byte("revoked"), 1))
		code, o := verify("--evidence", dir)
		if code != exitFailures || !strings.Contains(o, "report.md, field sha256: its SHA-256 is") || strings.Contains(o, ".jsonl") {
			t.Fatalf("exit %d, want report.md named and nothing else:\n%s", code, o)
		}
		// SHA256SUMS made again to match: the report still does not say
		// what the events say.
		var sums bytes.Buffer
		for _, ln := range strings.SplitAfter(string(readFile(t, filepath.Join(dir, "SHA256SUMS"))), "\n") {
			if strings.HasSuffix(ln, "  report.md\n") {
				sum := sha256.Sum256(readFile(t, p))
				ln = hex.EncodeToString(sum[:]) + "  report.md\n"
			}
			sums.WriteString(ln)
		}
		writeFile(t, filepath.Join(dir, "SHA256SUMS"), sums.Bytes())
		code, o = verify("--evidence", dir)
		if code != exitFailures || !strings.Contains(o, "report.md line ") || !strings.Contains(o, "the report was edited") || strings.Contains(o, "sha256") {
			t.Fatalf("exit %d, want the edited line of report.md named:\n%s", code, o)
		}
	})
	t.Run("another log", func(t *testing.T) {
		_, other, _ := sandboxRun(t)
		code, o := verify("--evidence", out, "--audit-db", other)
		if code != exitFailures || !strings.Contains(o, "this log does not vouch for the bundle") {
			t.Fatalf("exit %d, want not an extract:\n%s", code, o)
		}
	})
}

// TestEvidenceOfABrokenLogIsRefused: a bundle of a log whose chain is
// broken could not be proved, so none is made.
func TestEvidenceOfABrokenLogIsRefused(t *testing.T) {
	f := newFixture(t, map[string]int{"chat": 204})
	if code, _, e := f.revoke(t, "--yes"); code != 0 {
		t.Fatalf("revoke: %d %s", code, e)
	}
	_, out, _ := ulc(t, "", "audit", "list", "--audit-db", f.audit, "--json")
	var runs []struct {
		RunID string `json:"run_id"`
	}
	if err := json.Unmarshal([]byte(out), &runs); err != nil || len(runs) != 1 {
		t.Fatalf("list: %v %s", err, out)
	}
	// Before: the JSON forms of export and check, for scripts.
	zipPath := filepath.Join(t.TempDir(), "e.zip")
	code, out, e := ulc(t, "", "audit", "evidence", runs[0].RunID, "-o", zipPath, "--audit-db", f.audit, "--json")
	var made struct {
		RunID  string `json:"run_id"`
		Digest string `json:"bundle_digest"`
		Events int    `json:"events"`
	}
	if code != 0 || json.Unmarshal([]byte(out), &made) != nil || made.RunID != runs[0].RunID || made.Events < 5 {
		t.Fatalf("evidence --json: exit %d %s %s", code, out, e)
	}
	code, out, e = ulc(t, "", "audit", "verify", "--evidence", zipPath, "--audit-db", f.audit, "--json")
	var checked struct {
		OK     bool   `json:"ok"`
		Digest string `json:"bundle_digest"`
		Events int    `json:"events"`
	}
	if code != 0 || json.Unmarshal([]byte(out), &checked) != nil || !checked.OK || checked.Digest != made.Digest || checked.Events != made.Events {
		t.Fatalf("verify --evidence --json: exit %d %s %s; made %+v", code, out, e, made)
	}

	tamper(t, f.audit, `UPDATE events SET outcome = 'failed' WHERE kind = 'result'`)
	// The bundle made before now names what the log changed.
	code, out, _ = ulc(t, "", "audit", "verify", "--evidence", zipPath, "--audit-db", f.audit)
	if code != exitFailures || !strings.Contains(out, "this log does not vouch for the bundle") {
		t.Fatalf("verify against the tampered log: exit %d %s", code, out)
	}
	dir := filepath.Join(t.TempDir(), "bundle")
	code, _, e = ulc(t, "", "audit", "evidence", runs[0].RunID, "-o", dir, "--audit-db", f.audit)
	if code != exitAudit || !strings.Contains(e, "not intact") {
		t.Fatalf("exit %d, want 3 and why: %s", code, e)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Fatalf("a refused export left %s behind", dir)
	}
}

// tamper runs q on the log behind its triggers' back.
func tamper(t *testing.T, path, q string) {
	t.Helper()
	db, err := sql.Open("sqlite3", path)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = db.Close() }()
	for _, s := range []string{`DROP TRIGGER events_no_update`, q} {
		if _, err := db.ExecContext(t.Context(), s); err != nil {
			t.Fatal(err)
		}
	}
}

// copyBundle copies a bundle folder, so each case tampers its own.
func copyBundle(t *testing.T, src string) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), "copy")
	if err := os.CopyFS(dst, os.DirFS(src)); err != nil {
		t.Fatal(err)
	}
	return dst
}

func readFile(t *testing.T, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// seqOf is the seq of an events-file line.
func seqOf(t *testing.T, line []byte) int64 {
	t.Helper()
	var l struct {
		Seq int64 `json:"seq"`
	}
	if err := json.Unmarshal(line, &l); err != nil || l.Seq == 0 {
		t.Fatalf("line %q: %v", line, err)
	}
	return l.Seq
}

func itoa(n int) string { return strconv.Itoa(n) }

// zipNames lists a zip's files.
func zipNames(t *testing.T, p string) []string {
	t.Helper()
	zr, err := zip.OpenReader(p)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = zr.Close() }()
	var names []string
	for _, f := range zr.File {
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.Copy(io.Discard, rc); err != nil {
			t.Fatal(err)
		}
		_ = rc.Close()
		names = append(names, f.Name)
	}
	return names
}

// What stays alive is recorded with the run: a bundle made where the run's
// targets.toml no longer is still says it for every vendor target.
func TestEvidenceResidualWithoutTheRunsTargets(t *testing.T) {
	sb, db, id := sandboxRun(t)
	if err := os.Rename(sb.ConfigPath, sb.ConfigPath+".gone"); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "bundle")
	if code, stdout, errOut := ulc(t, "", "audit", "evidence", id, "-o", out, "--audit-db", db); code != 0 {
		t.Fatalf("evidence: exit %d: %s %s", code, stdout, errOut)
	}
	report, err := os.ReadFile(filepath.Join(out, "report.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"as each run recorded it", `App passwords\, backup codes`, `Access tokens already issued stay valid`} {
		if !strings.Contains(string(report), want) {
			t.Errorf("report.md lacks %q", want)
		}
	}
}

// exportedRunFacts reads, from bundle dir's own files, the exported run's
// run_started detail and the log's head hash at export.
func exportedRunFacts(t *testing.T, dir string) (actions.RunInfo, string) {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(dir, audit.EvidenceIndexFile))
	if err != nil {
		t.Fatal(err)
	}
	var idx audit.EvidenceIndex
	if err := json.Unmarshal(raw, &idx); err != nil || len(idx.Runs) == 0 {
		t.Fatalf("%s: %v (%d runs)", audit.EvidenceIndexFile, err, len(idx.Runs))
	}
	events, err := os.ReadFile(filepath.Join(dir, idx.Runs[0].File))
	if err != nil {
		t.Fatal(err)
	}
	for _, ln := range strings.Split(string(events), "\n") {
		var ev struct {
			Kind actions.EventKind `json:"kind"`
			// The detail is kept as the exact text the log holds.
			Detail string `json:"detail"`
		}
		if json.Unmarshal([]byte(ln), &ev) == nil && ev.Kind == actions.KindRunStarted {
			var info actions.RunInfo
			if err := json.Unmarshal([]byte(ev.Detail), &info); err != nil {
				t.Fatalf("run_started detail: %v", err)
			}
			return info, idx.Head.Hash
		}
	}
	t.Fatalf("no run_started event in %s", idx.Runs[0].File)
	return actions.RunInfo{}, ""
}
