package audit

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"ulc/actions"
)

// interleavedLog records two runs whose events interleave (two analysts at
// once), and a third that resumes the first: the bundle of the first holds
// its resume in full and the other run's events as hashes only.
func interleavedLog(t testing.TB, reason string) (*Log, string) {
	t.Helper()
	l := openLog(t, newPath(t))
	a := []step{{"neo@example.com", actions.OktaTarget, actions.ActionClearSessions}, {"neo@example.com", "chat", actions.ActionGTR}}
	b := []step{{"smith@example.com", "wiki", actions.ActionGTR}}
	users := []actions.User{{Login: "neo@example.com", Name: reason}}
	evsA := planEvents(t, "run-a", base, users, a)
	var info actions.RunInfo
	if err := json.Unmarshal(evsA[0].Detail, &info); err != nil {
		t.Fatal(err)
	}
	info.Reason, info.Ticket = reason, "INC-<b>1</b>"
	evsA[0].Detail = mustJSON(t, info)
	record(t, l, evsA...)
	record(t, l, planEvents(t, "run-b", base, []actions.User{{Login: "smith@example.com"}}, b)...)
	record(t, l, attempt("run-a", base, 2, a[1], 1), attempt("run-b", base, 1, b[0], 1))
	record(t, l, result("run-a", base, 1, a[0], 1, 204, actions.Done), result("run-b", base, 1, b[0], 1, 204, actions.Revoked))
	record(t, l, result("run-a", base, 2, a[1], 1, 503, actions.Failed),
		actions.Event{RunID: "run-a", Time: base, Kind: actions.KindRunFinished},
		actions.Event{RunID: "run-b", Time: base, Kind: actions.KindRunFinished})
	info.ResumeOf = "run-a"
	info.Targets = []string{"chat"}
	record(t, l, actions.Event{RunID: "run-c", Time: base.Add(time.Minute), Kind: actions.KindRunStarted, Detail: mustJSON(t, info)},
		actions.Event{RunID: "run-c", Time: base.Add(time.Minute), Kind: actions.KindPlanned, Step: 1, User: a[1].user, Target: "chat", Action: actions.ActionGTR},
		result("run-c", base.Add(time.Minute), 1, a[1], 1, 204, actions.Revoked),
		actions.Event{RunID: "run-c", Time: base.Add(time.Minute), Kind: actions.KindRunFinished})
	return l, "run-a"
}

// bundleFS is the bundle of run id as an fs.FS.
func bundleFS(t testing.TB, l *Log, id string) (fstest.MapFS, *Evidence) {
	t.Helper()
	ev, err := l.Evidence(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	ev.Index.ExportedAt = base
	files, err := ev.Files()
	if err != nil {
		t.Fatal(err)
	}
	fsys := fstest.MapFS{}
	for name, data := range files {
		fsys[name] = &fstest.MapFile{Data: data, Mode: 0o600}
	}
	return fsys, ev
}

func TestEvidenceOfInterleavedRunsLinksThroughTheOthers(t *testing.T) {
	l, id := interleavedLog(t, "phished")
	fsys, ev := bundleFS(t, l, id)
	if len(ev.Index.Runs) != 2 || ev.Index.Runs[1].RunID != "run-c" || ev.Index.Runs[1].Relation != RelationResumes {
		t.Fatalf("runs %+v; want run-a and its resume run-c, not run-b", ev.Index.Runs)
	}
	a := ev.Index.Runs[0]
	if a.Omitted == 0 || a.Events+a.Omitted != a.Lines {
		t.Fatalf("run-a's stretch %+v: want run-b's events inside it as omitted lines", a)
	}
	events := string(fsys[a.File].Data)
	if strings.Contains(events, "smith") || strings.Contains(events, "run-b") {
		t.Fatalf("the bundle hands out the other run:\n%s", events)
	}
	res := VerifyEvidence(fsys)
	if !res.OK || res.Events != 7+4 || res.Omitted != a.Omitted {
		t.Fatalf("standalone: %+v", res)
	}
	res, err := l.CheckEvidence(context.Background(), fsys)
	if err != nil || !res.OK {
		t.Fatalf("against the log: %v %+v", err, res)
	}
}

// TestEvidenceOfAResumeHoldsTheRunItResumes: exporting the resume brings
// the run it continues, which the report names as resumed by it.
func TestEvidenceOfAResumeHoldsTheRunItResumes(t *testing.T) {
	l, _ := interleavedLog(t, "phished")
	fsys, ev := bundleFS(t, l, "run-c")
	runs := ev.Index.Runs
	if len(runs) != 2 || runs[0].RunID != "run-c" || runs[0].Relation != RelationExported ||
		runs[1].RunID != "run-a" || runs[1].Relation != RelationResumed {
		t.Fatalf("runs %+v; want run-c exported, then run-a, which it resumes", runs)
	}
	if events := string(fsys[runs[1].File].Data); strings.Contains(events, "smith") {
		t.Fatalf("the bundle hands out the other run:\n%s", events)
	}
	if res := VerifyEvidence(fsys); !res.OK || res.Events != 4+7 {
		t.Fatalf("standalone: %+v", res)
	}
	if res, err := l.CheckEvidence(context.Background(), fsys); err != nil || !res.OK {
		t.Fatalf("against the log: %v %+v", err, res)
	}
	if report := string(fsys[EvidenceReportMD].Data); !strings.Contains(report, "resumed by the exported run") {
		t.Errorf("report.md does not say run-a is resumed by the exported run:\n%s", report)
	}
}

// TestEvidenceOmittedLineCannotHideAnOwnEvent: a line of the run replaced
// by an omitted line keeps the chain's links, but the log shows that
// event is the run's own.
func TestEvidenceOmittedLineCannotHideAnOwnEvent(t *testing.T) {
	l, id := interleavedLog(t, "phished")
	fsys, ev := bundleFS(t, l, id)
	file := ev.Index.Runs[0].File
	lines := strings.SplitAfter(string(fsys[file].Data), "\n")
	var seq, prev, hash string
	for i, ln := range lines {
		if strings.Contains(ln, `"outcome":"failed"`) {
			r, _, _, err := decodeLine([]byte(strings.TrimSuffix(ln, "\n")))
			if err != nil {
				t.Fatal(err)
			}
			seq, prev, hash = r[colSeq], r[colPrevHash], r[colHash]
			lines[i] = `{"seq":` + seq + `,"omitted":true,"prev_hash":"` + prev + `","hash":"` + hash + `"}` + "\n"
		}
	}
	fsys[file] = &fstest.MapFile{Data: []byte(strings.Join(lines, ""))}
	ev.Index.Runs[0].Events--
	ev.Index.Runs[0].Omitted++
	fsys[EvidenceIndexFile] = &fstest.MapFile{Data: mustJSON(t, ev.Index)}
	// The reports too, as the check writes them from the events.
	b, _ := checkBundle(fsys)
	e, err := b.evidence()
	if err != nil {
		t.Fatal(err)
	}
	html, err := e.html()
	if err != nil {
		t.Fatal(err)
	}
	fsys[EvidenceReportMD] = &fstest.MapFile{Data: e.markdown()}
	fsys[EvidenceReportHTML] = &fstest.MapFile{Data: html}
	fsys[EvidenceManifest] = &fstest.MapFile{Data: manifest(mapData(fsys))}
	if res := VerifyEvidence(fsys); !res.OK {
		t.Fatalf("a consistent rewrite should pass the standalone check (it cannot know): %+v", res.Problems)
	}
	res, err := l.CheckEvidence(context.Background(), fsys)
	if err != nil || res.OK {
		t.Fatalf("against the log: %v %+v", err, res)
	}
	want := file + " line "
	if got := res.Problems[0].String(); !strings.HasPrefix(got, want) || !strings.Contains(got, "seq "+seq+"), field omitted: the log's event at this seq is of run run-a") {
		t.Fatalf("problem %q", got)
	}
}

// unescaped reports whether md holds s with its first character not
// escaped by a backslash.
func unescaped(md, s string) bool {
	for i := 0; ; {
		j := strings.Index(md[i:], s)
		if j < 0 {
			return false
		}
		if i+j == 0 || md[i+j-1] != '\\' {
			return true
		}
		i += j + 1
	}
}

func mapData(fsys fstest.MapFS) map[string][]byte {
	out := map[string][]byte{}
	for n, f := range fsys {
		out[n] = f.Data
	}
	return out
}

// TestEvidenceReportEscapesWhatComesFromOutside: a profile name or reason
// holding Markdown, HTML or a terminal escape opens no link, tag or
// sequence in either report.
func TestEvidenceReportEscapesWhatComesFromOutside(t *testing.T) {
	evil := "Neo [click](https://evil.example) ![x](https://evil.example/x.png) <img src=x onerror=alert(1)> www.evil.example | cell \x1b]52;c;aGk=\x07 **bold**"
	l, id := interleavedLog(t, evil)
	fsys, _ := bundleFS(t, l, id)
	mdText := string(fsys[EvidenceReportMD].Data)
	htmlText := string(fsys[EvidenceReportHTML].Data)
	for _, bad := range []string{"[click](", "![x]", "<img", "www.evil", "| cell", "**bold", "\x1b", "<b>"} {
		if unescaped(mdText, bad) {
			t.Errorf("report.md holds %q unescaped", bad)
		}
	}
	if !strings.Contains(mdText, `Neo \[click\]\(https\:\/\/evil\.example\)`) {
		t.Errorf("report.md lost the name's text:\n%s", mdText)
	}
	for _, bad := range []string{"<img", "<b>1", "\x1b", "onerror=alert(1)>"} {
		if strings.Contains(htmlText, bad) {
			t.Errorf("report.html holds %q unescaped", bad)
		}
	}
	if !strings.Contains(htmlText, "&lt;img src=x onerror=alert(1)&gt;") || !strings.Contains(htmlText, "INC-&lt;b&gt;1&lt;/b&gt;") {
		t.Errorf("report.html lost the text:\n%s", htmlText)
	}
	// The events keep the stored text exactly: that is what the hash covers.
	if res := VerifyEvidence(fsys); !res.OK {
		t.Fatalf("%+v", res.Problems)
	}
}

func TestEvidenceZipRoundTrip(t *testing.T) {
	l, id := interleavedLog(t, "phished")
	ev, err := l.Evidence(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	files, err := ev.Files()
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "e.zip")
	if err := WriteEvidence(out, files, base); err != nil {
		t.Fatal(err)
	}
	if err := WriteEvidence(out, files, base); err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Fatalf("a second write over the zip: %v", err)
	}
	fsys, closer, err := OpenEvidence(out)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = closer.Close() }()
	if res := VerifyEvidence(fsys); !res.OK || res.Digest != BundleDigest(files[EvidenceManifest]) {
		t.Fatalf("%+v", res)
	}
}

// evidenceZip is a bundle as zip bytes, for the fuzz seeds.
func evidenceZip(t testing.TB, fsys fstest.MapFS) []byte {
	var b bytes.Buffer
	zw := zip.NewWriter(&b)
	for _, name := range sortedKeys(map[string]*fstest.MapFile(fsys)) {
		w, err := zw.Create(name)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write(fsys[name].Data); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// FuzzEvidenceBundle feeds the bundle reader arbitrary events files,
// manifests and bundle.json files, and arbitrary zips: it never panics,
// and a bundle whose events file differs from the one exported never
// passes unless the manifest was rewritten to match and every line still
// recomputes and links. Its inputs are a few kilobytes, so minimising a
// new one takes long: -fuzzminimizetime 2s keeps a session moving.
func FuzzEvidenceBundle(f *testing.F) {
	l, id := interleavedLog(f, "phished")
	fsys, ev := bundleFS(f, l, id)
	file := ev.Index.Runs[0].File
	orig := fsys[file].Data
	f.Add(orig, fsys[EvidenceIndexFile].Data, false, []byte(nil))
	f.Add(bytes.Replace(orig, []byte(`"failed"`), []byte(`"revoked"`), 1), fsys[EvidenceIndexFile].Data, true, []byte(nil))
	f.Add(orig[:len(orig)/2], fsys[EvidenceIndexFile].Data, true, []byte(nil))
	f.Add([]byte("{\"seq\":1,\"omitted\":true}\n{}\n[]\nnull\n"), []byte(`{"format":"ulc-evidence/1","runs":[{}]}`), false, []byte(nil))
	f.Add(orig, fsys[EvidenceIndexFile].Data, false, evidenceZip(f, fsys))
	f.Add([]byte(nil), []byte(nil), false, []byte("PK\x03\x04 not a zip"))
	// A mutated zip may claim, and inflate to, a file of any size up to
	// the cap: keep each execution short.
	old := maxBundleFile
	maxBundleFile = 1 << 20
	f.Cleanup(func() { maxBundleFile = old })
	f.Fuzz(func(t *testing.T, events, index []byte, remanifest bool, zipped []byte) {
		if len(zipped) > 0 {
			if zr, err := zip.NewReader(bytes.NewReader(zipped), int64(len(zipped))); err == nil {
				_ = VerifyEvidence(zr)
			}
		}
		m := fstest.MapFS{}
		for n, f := range fsys {
			m[n] = f
		}
		m[file] = &fstest.MapFile{Data: events}
		m[EvidenceIndexFile] = &fstest.MapFile{Data: index}
		if remanifest {
			m[EvidenceManifest] = &fstest.MapFile{Data: manifest(mapData(m))}
		}
		res := VerifyEvidence(m)
		changed := !bytes.Equal(events, orig) || !bytes.Equal(index, fsys[EvidenceIndexFile].Data)
		if res.OK && changed && !remanifest {
			t.Fatalf("a changed bundle passed without a new manifest")
		}
		if res.OK && !bytes.Equal(events, orig) {
			// Passing means every line recomputes and links: the log
			// must then find nothing but the changes it can see.
			if _, err := l.CheckEvidence(context.Background(), m); err != nil {
				t.Fatal(err)
			}
		}
		for _, p := range res.Problems {
			if strings.ContainsRune(p.String(), '\x1b') {
				t.Fatalf("a problem carries an escape: %q", p.String())
			}
		}
	})
}

// An auditor's read-only copy, in a folder they cannot write, makes the
// same bundle as the log itself, and checks bundles against itself; the
// copy's bytes and time do not change.
func TestEvidenceFromAReadOnlyCopy(t *testing.T) {
	l, id := interleavedLog(t, "phished")
	want, _ := bundleFS(t, l, id)
	src := l.Path()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	cp := filepath.Join(dir, "audit.db")
	if err := os.WriteFile(cp, readFileT(t, src), 0o600); err != nil {
		t.Fatal(err)
	}
	makeReadOnly(t, cp)
	if err := os.Chmod(dir, 0o555); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.Chmod(dir, 0o700) })
	before := stateOf(t, cp)

	ro, err := OpenReadOnly(cp)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = ro.Close() }()
	got, ev := bundleFS(t, ro, id)
	ev.Index.AuditDB = l.Path() // the one field that names the file read
	files, err := ev.Files()
	if err != nil {
		t.Fatal(err)
	}
	for name, f := range want {
		if name != EvidenceIndexFile && name != EvidenceManifest && name != EvidenceReportMD && name != EvidenceReportHTML &&
			!bytes.Equal(f.Data, got[name].Data) {
			t.Errorf("%s differs from the one the log itself gives", name)
		}
		if !bytes.Equal(f.Data, files[name]) {
			t.Errorf("%s differs from the one the log itself gives, beyond the file's name", name)
		}
	}
	if res, err := ro.CheckEvidence(context.Background(), want); err != nil || !res.OK {
		t.Fatalf("a bundle checked against the read-only copy: %v %+v", err, res)
	}
	if after := stateOf(t, cp); after.sum != before.sum || !after.modTime.Equal(before.modTime) {
		t.Error("the read-only copy changed")
	}
}

func readFileT(t *testing.T, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// A folder's bundle is read only from inside it: a link to a file
// elsewhere is refused, not followed.
func TestEvidenceFolderRefusesLinks(t *testing.T) {
	l, id := interleavedLog(t, "phished")
	ev, err := l.Evidence(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	files, err := ev.Files()
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "b")
	if err := WriteEvidence(dir, files, base); err != nil {
		t.Fatal(err)
	}
	outside := filepath.Join(t.TempDir(), "report.md")
	if err := os.WriteFile(outside, files[EvidenceReportMD], 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(dir, EvidenceReportMD)); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(dir, EvidenceReportMD)); err != nil {
		t.Fatal(err)
	}
	fsys, closer, err := OpenEvidence(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = closer.Close() }()
	res := VerifyEvidence(fsys)
	if res.OK || !strings.Contains(problemsText(res), "report.md: is listed in SHA256SUMS but is, or is in, a symbolic link") {
		t.Fatalf("a linked report: %s", problemsText(res))
	}
}

func problemsText(res EvidenceResult) string {
	var b strings.Builder
	for _, p := range res.Problems {
		b.WriteString(p.String() + "\n")
	}
	return b.String()
}

// BenchmarkEvidence exports and checks the bundle of one run of 10,000
// steps (20,003 events, a 9.8 MB events file).
func BenchmarkEvidence(b *testing.B) {
	l := openLog(b, newPath(b))
	const n = 10000
	steps := make([]step, n)
	for i := range steps {
		steps[i] = step{"user" + strconvItoa(i) + "@example.com", "app", actions.ActionGTR}
	}
	record(b, l, planEvents(b, "big", base, nil, steps)...)
	res := make([]actions.Event, 0, n+1)
	for i, s := range steps {
		res = append(res, result("big", base, i+1, s, 1, 204, actions.Revoked))
	}
	res = append(res, actions.Event{RunID: "big", Time: base, Kind: actions.KindRunFinished})
	record(b, l, res...)
	b.Run("export", func(b *testing.B) {
		for b.Loop() {
			ev, err := l.Evidence(context.Background(), "big")
			if err != nil {
				b.Fatal(err)
			}
			if _, err := ev.Files(); err != nil {
				b.Fatal(err)
			}
		}
	})
	fsys, _ := bundleFS(b, l, "big")
	b.Run("verify", func(b *testing.B) {
		for b.Loop() {
			if res := VerifyEvidence(fsys); !res.OK {
				b.Fatal(res.Problems)
			}
		}
	})
	b.Run("verify-against-log", func(b *testing.B) {
		for b.Loop() {
			if res, err := l.CheckEvidence(context.Background(), fsys); err != nil || !res.OK {
				b.Fatal(err, res.Problems)
			}
		}
	})
}

func strconvItoa(i int) string { return fmt.Sprint(i) }
