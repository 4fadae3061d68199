package main

import (
	"bufio"
	"bytes"
	"database/sql"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	_ "github.com/mattn/go-sqlite3"
)

const cliToken = "cli-secret-91c4e07d"

// fixture is a targets.toml of loopback receivers and an audit path.
type fixture struct {
	dir, config, audit string
	hits               atomic.Int32
}

// newFixture starts one receiver per status code and registers them.
func newFixture(t *testing.T, statuses map[string]int) *fixture {
	t.Helper()
	t.Setenv("CLI_TOKEN", cliToken)
	f := &fixture{dir: t.TempDir()}
	var src strings.Builder
	src.WriteString("[defaults]\ntimeout = \"2s\"\nretries = 0\n")
	for _, name := range slices.Sorted(maps.Keys(statuses)) {
		code := statuses[name]
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			f.hits.Add(1)
			if r.Header.Get("Authorization") != "Bearer "+cliToken {
				w.WriteHeader(401)
				return
			}
			w.WriteHeader(code)
		}))
		t.Cleanup(srv.Close)
		fmt.Fprintf(&src, "\n[[target]]\nname = %q\nurl = %q\ntoken_env = \"CLI_TOKEN\"\n", name, srv.URL+"/gtr")
	}
	f.config = filepath.Join(f.dir, "targets.toml")
	f.audit = filepath.Join(f.dir, "audit.db")
	if err := os.WriteFile(f.config, []byte(src.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	return f
}

// writeFile writes data to path (mode 0600), failing the test if it cannot.
func writeFile(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
}

// ulc runs the command line in-process and returns exit status and output.
func ulc(t *testing.T, stdin string, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(args, strings.NewReader(stdin), &out, &errb)
	return code, out.String(), errb.String()
}

func (f *fixture) revoke(t *testing.T, extra ...string) (int, string, string) {
	args := append([]string{"revoke", "--config", f.config, "--audit-db", f.audit, "--no-okta",
		"--user", "neo@example.com", "--reason", "phished", "--ticket", "INC-1"}, extra...)
	return ulc(t, "", args...)
}

func TestRevokeJSONSummaryAndExitStatus(t *testing.T) {
	f := newFixture(t, map[string]int{"chat": 204, "crm": 404, "wiki": 403})
	code, out, errOut := f.revoke(t, "--yes", "--json")
	if code != exitFailures {
		t.Fatalf("exit %d, want 1 (a target rejected); stderr %s", code, errOut)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	for _, l := range lines[:len(lines)-1] {
		var ev map[string]any
		if err := json.Unmarshal([]byte(l), &ev); err != nil || ev["type"] != "event" {
			t.Fatalf("event line %q: %v", l, err)
		}
	}
	var sum struct {
		Type      string `json:"type"`
		RunID     string `json:"run_id"`
		AuditHead string `json:"audit_head"`
		Targets   []struct {
			Name       string `json:"name"`
			User       string `json:"user"`
			Outcome    string `json:"outcome"`
			HTTPStatus int    `json:"http_status"`
			Attempts   int    `json:"attempts"`
			LatencyMS  *int64 `json:"latency_ms"`
			Error      string `json:"error"`
		} `json:"targets"`
	}
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &sum); err != nil || sum.Type != "summary" {
		t.Fatalf("summary line %q: %v", lines[len(lines)-1], err)
	}
	got := map[string]string{}
	for _, tg := range sum.Targets {
		if tg.User != "neo@example.com" || tg.Attempts != 1 || tg.LatencyMS == nil {
			t.Fatalf("target %+v", tg)
		}
		got[tg.Name] = fmt.Sprintf("%s/%d", tg.Outcome, tg.HTTPStatus)
	}
	want := map[string]string{"chat": "revoked/204", "crm": "not_found/404", "wiki": "rejected/403"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("outcomes %v, want %v", got, want)
	}
	// The summary's head is the audit log's head.
	code, out, _ = ulc(t, "", "audit", "verify", "--audit-db", f.audit)
	if code != 0 || !strings.Contains(out, sum.AuditHead) {
		t.Fatalf("verify exit %d: %s (summary head %s)", code, out, sum.AuditHead)
	}
}

func TestRevokeExitZeroWhenRevokedOrNotFound(t *testing.T) {
	f := newFixture(t, map[string]int{"chat": 204, "crm": 404})
	if code, _, errOut := f.revoke(t, "--yes"); code != exitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
}

func TestRevokeRefusesWithoutYes(t *testing.T) {
	f := newFixture(t, map[string]int{"chat": 204})
	code, _, errOut := f.revoke(t)
	if code != exitUsage || !strings.Contains(errOut, "--yes") {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
	if f.hits.Load() != 0 {
		t.Fatal("sent without confirmation")
	}
	// The log is opened (and checked) before the question, so a log that
	// cannot be written fails before anyone types yes; no run is in it.
	if _, err := os.Stat(f.audit); err == nil {
		if code, out, _ := ulc(t, "", "audit", "list", "--json", "--audit-db", f.audit); code != exitOK || strings.TrimSpace(out) != "[]" {
			t.Fatalf("an unconfirmed run was recorded: exit %d, %s", code, out)
		}
	}
}

func TestRevokeDryRunSendsNothingButRecords(t *testing.T) {
	f := newFixture(t, map[string]int{"chat": 204})
	code, out, errOut := f.revoke(t, "--dry-run")
	if code != exitOK || f.hits.Load() != 0 {
		t.Fatalf("exit %d hits %d: %s", code, f.hits.Load(), errOut)
	}
	if !strings.Contains(out, "planned") {
		t.Fatalf("output does not show the planned step:\n%s", out)
	}
	_, list, _ := ulc(t, "", "audit", "list", "--audit-db", f.audit)
	if !strings.Contains(list, "1 planned") {
		t.Fatalf("audit list:\n%s", list)
	}
}

func TestUsageErrorsExitTwo(t *testing.T) {
	f := newFixture(t, map[string]int{"chat": 204})
	bad := filepath.Join(f.dir, "bad.toml")
	writeFile(t, bad, []byte("[[target]]\nname = \"x\"\nurl = \"http://example.com/gtr\"\ntoken_env = \"X\"\n"))
	cases := []struct {
		args []string
		says string
	}{
		{[]string{"revoke", "--config", f.config, "--no-okta", "--user", "a@b.example", "--yes"}, "--reason is required"},
		{[]string{"revoke", "--config", f.config, "--no-okta", "--reason", "x", "--yes"}, "no user given"},
		{[]string{"revoke", "--config", bad, "--no-okta", "--user", "a@b.example", "--reason", "x", "--yes"}, "bad.toml:3: target \"x\": url must use https"},
		{[]string{"revoke", "--config", f.config, "--no-okta", "--user", "a@b.example", "--reason", "x", "--targets", "nope", "--yes"}, "nope"},
		{[]string{"revoke", "--bogus"}, "unknown flag"},
		{[]string{"--watch", "-1m", "--config", f.config}, "--watch must be a duration"},
		{[]string{"demo", "--watch", "-5s"}, "--watch must be a duration"},
		{[]string{"audit", "export", "--format", "xml", "--audit-db", f.audit}, "want jsonl or csv"},
	}
	for _, c := range cases {
		code, _, errOut := ulc(t, "", c.args...)
		if code != exitUsage || !strings.Contains(errOut, c.says) {
			t.Errorf("%v: exit %d, stderr %q, want 2 and %q", c.args, code, errOut, c.says)
		}
	}
	if f.hits.Load() != 0 {
		t.Fatal("a usage error sent requests")
	}
}

func TestAuditUnwritableExitsThreeAndSendsNothing(t *testing.T) {
	f := newFixture(t, map[string]int{"chat": 204})
	blocker := filepath.Join(f.dir, "not-a-dir")
	writeFile(t, blocker, []byte("x"))
	f.audit = filepath.Join(blocker, "audit.db") // its parent is a file
	code, _, errOut := f.revoke(t, "--yes")
	if code != exitAudit || !strings.Contains(errOut, "nothing was sent") {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
	if f.hits.Load() != 0 {
		t.Fatal("sent with no audit log")
	}
}

func TestAuditListShowVerifyExportAndTamper(t *testing.T) {
	f := newFixture(t, map[string]int{"chat": 204, "wiki": 500})
	f.revoke(t, "--yes")
	code, out, _ := ulc(t, "", "audit", "list", "--audit-db", f.audit, "--json")
	var runs []struct {
		RunID string `json:"run_id"`
	}
	if code != 0 || json.Unmarshal([]byte(out), &runs) != nil || len(runs) != 1 {
		t.Fatalf("list exit %d: %s", code, out)
	}
	id := runs[0].RunID
	_, out, _ = ulc(t, "", "audit", "list", "--audit-db", f.audit, "--outcome", "failed")
	if !strings.Contains(out, id) {
		t.Fatalf("--outcome failed does not list the run:\n%s", out)
	}
	_, out, _ = ulc(t, "", "audit", "list", "--audit-db", f.audit, "--user", "someone@else.example")
	if strings.Contains(out, id) {
		t.Fatalf("--user filter kept another user's run:\n%s", out)
	}
	code, out, _ = ulc(t, "", "audit", "show", id[:17], "--audit-db", f.audit)
	for _, want := range []string{"phished", "INC-1", "chat", "revoked", "wiki", "failed", "server error (500)"} {
		if code != 0 || !strings.Contains(out, want) {
			t.Fatalf("show exit %d lacks %q:\n%s", code, want, out)
		}
	}
	_, out, _ = ulc(t, "", "audit", "export", "--format", "jsonl", "--audit-db", f.audit)
	n := 0
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		var rec map[string]any
		if err := json.Unmarshal(sc.Bytes(), &rec); err != nil || rec["hash"] == nil {
			t.Fatalf("export line %q", sc.Text())
		}
		n++
	}
	if n < 6 {
		t.Fatalf("export has %d events", n)
	}

	// Tamper: rewrite one result as a success behind the triggers' back.
	db, err := sql.Open("sqlite3", f.audit)
	if err != nil {
		t.Fatal(err)
	}
	var seq int64
	mustExec := func(q string, args ...any) {
		if _, err := db.ExecContext(t.Context(), q, args...); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.QueryRowContext(t.Context(), `SELECT seq FROM events WHERE outcome = 'failed'`).Scan(&seq); err != nil {
		t.Fatal(err)
	}
	mustExec(`DROP TRIGGER events_no_update`)
	mustExec(`UPDATE events SET outcome = 'revoked', http_status = 204 WHERE seq = ?`, seq)
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	code, out, _ = ulc(t, "", "audit", "verify", "--audit-db", f.audit)
	if code != exitFailures || !strings.Contains(out, fmt.Sprintf("BROKEN at event %d", seq)) {
		t.Fatalf("verify after tampering: exit %d: %s", code, out)
	}
}

func TestNoSecretInAnyOutput(t *testing.T) {
	f := newFixture(t, map[string]int{"chat": 204, "wiki": 401})
	var all strings.Builder
	for _, args := range [][]string{{"--yes"}, {"--yes", "--json"}, {"--dry-run"}} {
		_, out, errOut := f.revoke(t, args...)
		all.WriteString(out + errOut)
	}
	for _, args := range [][]string{
		{"audit", "list", "--audit-db", f.audit}, {"audit", "export", "--audit-db", f.audit},
		{"audit", "export", "--format", "csv", "--audit-db", f.audit}, {"targets", "check", "--config", f.config},
	} {
		_, out, errOut := ulc(t, "", args...)
		all.WriteString(out + errOut)
	}
	if strings.Contains(all.String(), cliToken) {
		t.Fatal("the token appears in ulc's output")
	}
	for _, p := range []string{f.audit, f.audit + "-wal"} {
		b, _ := os.ReadFile(p)
		if bytes.Contains(b, []byte(cliToken)) {
			t.Fatalf("the token appears in %s", p)
		}
	}
}

func TestUsersFile(t *testing.T) {
	f := newFixture(t, map[string]int{"chat": 204})
	list := filepath.Join(f.dir, "leavers.txt")
	writeFile(t, list, []byte("# leavers\nneo@example.com\n\nniobe@example.com  # second\nneo@example.com\n"))
	code, out, errOut := ulc(t, "", "revoke", "--config", f.config, "--audit-db", f.audit, "--no-okta",
		"--users-file", list, "--reason", "offboarding", "--yes", "--json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if f.hits.Load() != 2 {
		t.Fatalf("%d requests for two distinct users", f.hits.Load())
	}
	if !strings.Contains(out, "niobe@example.com") {
		t.Fatal("second user missing from output")
	}
	writeFile(t, list, []byte("neo@example.com trinity@example.com\n"))
	code, _, errOut = ulc(t, "", "revoke", "--config", f.config, "--audit-db", f.audit, "--no-okta",
		"--users-file", list, "--reason", "x", "--yes")
	if code != exitUsage || !strings.Contains(errOut, "leavers.txt:1") {
		t.Fatalf("exit %d: %s", code, errOut)
	}
}

func TestResumeSendsOnlyWhatDidNotSucceed(t *testing.T) {
	t.Setenv("CLI_TOKEN", cliToken)
	dir := t.TempDir()
	var okHits, flakyHits atomic.Int32
	healthy := atomic.Bool{}
	ok := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { okHits.Add(1); w.WriteHeader(204) }))
	defer ok.Close()
	flaky := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		flakyHits.Add(1)
		if healthy.Load() {
			w.WriteHeader(204)
			return
		}
		w.WriteHeader(503)
	}))
	defer flaky.Close()
	cfg := filepath.Join(dir, "targets.toml")
	writeFile(t, cfg, fmt.Appendf(nil, "[defaults]\nretries = 0\n[[target]]\nname = \"ok\"\nurl = %q\ntoken_env = \"CLI_TOKEN\"\n[[target]]\nname = \"flaky\"\nurl = %q\ntoken_env = \"CLI_TOKEN\"\n",
		ok.URL+"/gtr", flaky.URL+"/gtr"))
	db := filepath.Join(dir, "audit.db")
	code, out, _ := ulc(t, "", "revoke", "--config", cfg, "--audit-db", db, "--no-okta", "--user", "neo@example.com",
		"--user", "niobe@example.com", "--reason", "phished", "--ticket", "INC-9", "--yes", "--json")
	if code != exitFailures {
		t.Fatalf("first run exit %d", code)
	}
	var first struct {
		RunID string `json:"run_id"`
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &first); err != nil || first.RunID == "" {
		t.Fatalf("no run id in the summary line %q: %v", lines[len(lines)-1], err)
	}

	healthy.Store(true)
	code, out, errOut := ulc(t, "", "resume", first.RunID, "--config", cfg, "--audit-db", db, "--yes", "--json")
	if code != exitOK {
		t.Fatalf("resume exit %d: %s %s", code, out, errOut)
	}
	if okHits.Load() != 2 || flakyHits.Load() != 4 {
		t.Fatalf("ok saw %d requests (want 2: none resent), flaky %d (want 2 + 2 resent)", okHits.Load(), flakyHits.Load())
	}
	_, show, _ := ulc(t, "", "audit", "list", "--audit-db", db, "--json")
	if !strings.Contains(show, `"resume_of": "`+first.RunID+`"`) || strings.Count(show, `"reason": "phished"`) != 2 || strings.Count(show, `"ticket": "INC-9"`) != 2 {
		t.Fatalf("the resumed run is not linked with the same reason and ticket:\n%s", show)
	}
	// The resume fixed everything: resuming the original again sends nothing.
	code, out, _ = ulc(t, "", "resume", first.RunID, "--config", cfg, "--audit-db", db, "--yes")
	if code != exitOK || !strings.Contains(out, "nothing to resume") || flakyHits.Load() != 4 {
		t.Fatalf("second resume exit %d, flaky saw %d: %s", code, flakyHits.Load(), out)
	}
}

// TestResumeUsesTheRunsTargetsToml: without --config, a resume sends to
// the targets of the targets.toml the run recorded, not to whatever the
// current directory holds, and says so; it says too when that file has
// changed since.
func TestResumeUsesTheRunsTargetsToml(t *testing.T) {
	t.Setenv("CLI_TOKEN", cliToken)
	dir := t.TempDir()
	var hits atomic.Int32
	healthy := atomic.Bool{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		hits.Add(1)
		if healthy.Load() {
			w.WriteHeader(204)
			return
		}
		w.WriteHeader(503)
	}))
	defer srv.Close()
	cfg := filepath.Join(dir, "incident.toml")
	body := fmt.Sprintf("[defaults]\nretries = 0\n[[target]]\nname = \"flaky\"\nurl = %q\ntoken_env = \"CLI_TOKEN\"\n", srv.URL+"/gtr")
	writeFile(t, cfg, []byte(body))
	db := filepath.Join(dir, "audit.db")
	code, out, _ := ulc(t, "", "revoke", "--config", cfg, "--audit-db", db, "--no-okta", "--user", "neo@example.com",
		"--reason", "phished", "--yes", "--json")
	if code != exitFailures {
		t.Fatalf("first run exit %d", code)
	}
	var first struct {
		RunID string `json:"run_id"`
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &first); err != nil {
		t.Fatal(err)
	}
	// The file changes after the run (a comment only: the same target).
	writeFile(t, cfg, []byte("# edited after the incident\n"+body))
	healthy.Store(true)
	code, out, errOut := ulc(t, "", "resume", first.RunID, "--audit-db", db, "--yes")
	if code != exitOK {
		t.Fatalf("resume without --config: exit %d\n%s%s", code, out, errOut)
	}
	if want := "using the run's targets.toml, " + cfg + " (recorded with the run; --config names another; it has changed since the run)"; !strings.Contains(errOut, want) {
		t.Fatalf("the resume does not say which targets.toml it used:\n%s\nwant %q", errOut, want)
	}
	if hits.Load() != 2 {
		t.Fatalf("flaky saw %d requests, want the first and the resent one", hits.Load())
	}
}

func TestMissingConfigSaysWhatToDo(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "targets.toml")
	for _, args := range [][]string{
		{"--config", missing},
		{"revoke", "--config", missing, "--user", "a@b.example", "--reason", "x", "--yes"},
		{"targets", "check", "--config", missing},
	} {
		code, _, errOut := ulc(t, "", args...)
		if code != exitUsage || !strings.Contains(errOut, "does not exist") || !strings.Contains(errOut, "ulc demo") {
			t.Errorf("%v: exit %d, %q", args, code, errOut)
		}
	}
}
