package main

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"ulc/actions/gtr"
)

// subjects is a GTR receiver that records the subjects it was sent.
type subjects struct {
	mu  sync.Mutex
	got []string
}

func (s *subjects) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("Authorization") != "Bearer "+cliToken {
		w.WriteHeader(401)
		return
	}
	body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<16))
	_, sub, err := gtr.ParseBody(body)
	if err != nil {
		w.WriteHeader(400)
		return
	}
	s.mu.Lock()
	s.got = append(s.got, sub["email"])
	s.mu.Unlock()
	w.WriteHeader(204)
}

func (s *subjects) list() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.got)
}

// subjectTarget writes a targets.toml with one email target on a
// recording receiver, plus extra TOML.
func subjectTarget(t *testing.T, extra string) (dir, cfg string, rec *subjects) {
	t.Helper()
	t.Setenv("CLI_TOKEN", cliToken)
	rec = &subjects{}
	srv := httptest.NewServer(rec)
	t.Cleanup(srv.Close)
	dir = t.TempDir()
	cfg = filepath.Join(dir, "targets.toml")
	src := fmt.Sprintf("[defaults]\nretries = 0\n\n[[target]]\nname = \"chat\"\nurl = %q\ntoken_env = \"CLI_TOKEN\"\nsubject = \"email\"\n%s", srv.URL+"/gtr", extra)
	if err := os.WriteFile(cfg, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	return dir, cfg, rec
}

// A users file exported by Excel starts with a byte-order mark: the app
// must get the email as written, not "\uFEFFneo@…" (which it answers 404,
// reported as not_found for a user who exists).
func TestUsersFileByteOrderMark(t *testing.T) {
	dir, cfg, rec := subjectTarget(t, "")
	users := filepath.Join(dir, "leavers.txt")
	if err := os.WriteFile(users, []byte("\uFEFFneo@example.com\r\ntrinity@example.com\r\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := ulc(t, "", "revoke", "--config", cfg, "--audit-db", filepath.Join(dir, "a.db"), "--no-okta",
		"--users-file", users, "--reason", "offboarding", "--yes")
	if code != exitOK {
		t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
	}
	got := rec.list()
	slices.Sort(got)
	if !slices.Equal(got, []string{"neo@example.com", "trinity@example.com"}) {
		t.Fatalf("the app was sent %q", got)
	}
}

// An identifier with an invisible character is refused before anything is
// sent, naming where it came from; and nothing from the command line
// reaches the terminal raw, however hostile.
func TestInvisibleAndHostileIdentifiers(t *testing.T) {
	dir, cfg, rec := subjectTarget(t, "")
	users := filepath.Join(dir, "leavers.txt")
	if err := os.WriteFile(users, []byte("neo@example.com\ntrin\u200bity@example.com\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	base := []string{"revoke", "--config", cfg, "--audit-db", filepath.Join(dir, "a.db"), "--no-okta", "--reason", "x", "--yes"}
	for name, c := range map[string]struct {
		args []string
		says string
	}{
		"zero-width space in a file": {[]string{"--users-file", users}, "leavers.txt:2"},
		"bidi override in --user":    {[]string{"--user", "\u202Emoc.elpmaxe@oen"}, "U+202E"},
		"OSC 52 in --user":           {[]string{"--user", "neo\x1b]52;c;aGVsbG8=\x07@example.com"}, "--user"},
		"escape in --targets":        {[]string{"--user", "neo@example.com", "--targets", "chat\x1b[2J"}, "--targets"},
	} {
		code, out, errOut := ulc(t, "", append(base, c.args...)...)
		if code != exitUsage || !strings.Contains(errOut, c.says) {
			t.Errorf("%s: exit %d, stderr %q; want exit 2 saying %q", name, code, errOut, c.says)
		}
		if strings.ContainsAny(out+errOut, "\x1b\x07\u202e\u200b") {
			t.Errorf("%s: a control or invisible character reached the terminal: %q", name, out+errOut)
		}
	}
	// An unknown run id with an escape sequence is echoed cleaned.
	code, out, errOut := ulc(t, "", "audit", "show", "--audit-db", filepath.Join(dir, "a.db"), "2026\x1b]52;c;aGk=\x07")
	if code != exitUsage || strings.ContainsAny(out+errOut, "\x1b\x07") {
		t.Errorf("audit show of a hostile id: exit %d, %q", code, out+errOut)
	}
	if n := len(rec.list()); n != 0 {
		t.Fatalf("%d requests were sent for refused input", n)
	}
}

// One target without its credential does not stop the run: the others are
// sent, it is recorded as failed with what to do, and ulc exits 1.
func TestMissingCredentialFailsOnlyItsTarget(t *testing.T) {
	dir, cfg, rec := subjectTarget(t, "\n[[target]]\nname = \"mail\"\nurl = \"https://127.0.0.1:1/gtr\"\ntoken_env = \"MAIL_UL_TOKEN\"\n")
	audit := filepath.Join(dir, "a.db")
	code, out, errOut := ulc(t, "", "revoke", "--config", cfg, "--audit-db", audit, "--no-okta",
		"--user", "neo@example.com", "--reason", "phished", "--yes", "--json")
	if code != exitFailures {
		t.Fatalf("exit %d, want 1\n%s\n%s", code, out, errOut)
	}
	if got := rec.list(); !slices.Equal(got, []string{"neo@example.com"}) {
		t.Fatalf("chat was sent %q, want the user once", got)
	}
	if !strings.Contains(errOut, "mail cannot be sent to: token_env MAIL_UL_TOKEN is not set") {
		t.Errorf("stderr does not name the unusable target before sending:\n%s", errOut)
	}
	var sum struct {
		Type    string `json:"type"`
		RunID   string `json:"run_id"`
		Targets []struct {
			Name, Outcome, Error string
		} `json:"targets"`
	}
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		if strings.Contains(sc.Text(), `"type":"summary"`) {
			if err := json.Unmarshal(sc.Bytes(), &sum); err != nil {
				t.Fatal(err)
			}
		}
	}
	var mail string
	for _, s := range sum.Targets {
		if s.Name == "mail" {
			mail = s.Outcome + ": " + s.Error
		}
	}
	if !strings.HasPrefix(mail, "failed: token_env MAIL_UL_TOKEN is not set") || !strings.Contains(mail, "ulc resume "+sum.RunID) {
		t.Errorf("the summary says of mail %q", mail)
	}
}

// A log whose old pages are corrupt is refused before anything is sent
// (exit 3), not found later by audit verify.
func TestCorruptAuditLogSendsNothing(t *testing.T) {
	dir, cfg, rec := subjectTarget(t, "")
	users := filepath.Join(dir, "many.txt")
	var b strings.Builder
	for i := range 400 {
		fmt.Fprintf(&b, "user%03d@example.com\n", i)
	}
	if err := os.WriteFile(users, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	audit := filepath.Join(dir, "a.db")
	if code, out, errOut := ulc(t, "", "revoke", "--config", cfg, "--audit-db", audit, "--no-okta",
		"--users-file", users, "--reason", "offboarding", "--yes"); code != exitOK {
		t.Fatalf("filling the log: exit %d\n%s\n%s", code, out, errOut)
	}
	data, err := os.ReadFile(audit)
	if err != nil {
		t.Fatal(err)
	}
	page := int(binary.BigEndian.Uint16(data[16:18]))
	if page == 1 {
		page = 65536
	}
	pages := len(data) / page
	if pages < 6 {
		t.Fatalf("the log has only %d pages", pages)
	}
	// Overwrite an old page in the middle of the file, not the header.
	victim := pages / 3
	for i := victim * page; i < (victim+1)*page; i++ {
		data[i] = 0xA5
	}
	if err := os.WriteFile(audit, data, 0o600); err != nil {
		t.Fatal(err)
	}
	sent := len(rec.list())
	code, out, errOut := ulc(t, "", "revoke", "--config", cfg, "--audit-db", audit, "--no-okta",
		"--user", "neo@example.com", "--reason", "phished", "--yes")
	if code != exitAudit || !strings.Contains(errOut, "corrupt") || !strings.Contains(errOut, "nothing was sent") {
		t.Fatalf("a run on a corrupt log: exit %d\n%s\n%s", code, out, errOut)
	}
	if len(rec.list()) != sent {
		t.Fatal("a run on a corrupt log sent a request")
	}
}

// --debug writes a structured log of what ulc did, and never a secret.
func TestDebugLog(t *testing.T) {
	dir, cfg, _ := subjectTarget(t, "")
	debugLog := filepath.Join(dir, "debug.jsonl")
	if code, out, errOut := ulc(t, "", "revoke", "--debug", debugLog, "--config", cfg, "--audit-db", filepath.Join(dir, "a.db"),
		"--no-okta", "--user", "neo@example.com", "--reason", "phished", "--yes"); code != exitOK {
		t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
	}
	data, err := os.ReadFile(debugLog)
	if err != nil {
		t.Fatal(err)
	}
	var msgs []string
	for line := range strings.Lines(string(data)) {
		var rec struct{ Msg string }
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("not a JSON line: %q", line)
		}
		msgs = append(msgs, rec.Msg)
	}
	for _, want := range []string{"config loaded", "audit log open", "planned", "run finished"} {
		if !slices.Contains(msgs, want) {
			t.Errorf("the debug log has no %q record: %q", want, msgs)
		}
	}
	if strings.Contains(string(data), cliToken) {
		t.Fatal("the debug log holds the target's token")
	}
	if info, err := os.Stat(debugLog); err != nil || info.Mode().Perm() != 0o600 {
		t.Errorf("the debug log's mode is %v, want 0600", info.Mode().Perm())
	}
}

// failingWriter is a stdout whose reader went away.
type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, io.ErrClosedPipe }

// A script reading --json output must not see exit 0 when the output did
// not arrive.
func TestLostOutputIsNotSuccess(t *testing.T) {
	dir, cfg, _ := subjectTarget(t, "")
	var errb strings.Builder
	code := run([]string{"revoke", "--config", cfg, "--audit-db", filepath.Join(dir, "a.db"), "--no-okta",
		"--user", "neo@example.com", "--reason", "phished", "--yes", "--json"}, strings.NewReader(""), failingWriter{}, &errb)
	if code != exitFailures || !strings.Contains(errb.String(), "writing the output") {
		t.Fatalf("exit %d, stderr %q; want exit 1 saying the output was not written", code, errb.String())
	}
}

// Errors a person can act on: each says what to do next.
func TestErrorsSayWhatToDo(t *testing.T) {
	dir := t.TempDir()
	for name, c := range map[string]struct {
		args []string
		says string
	}{
		"a mistyped command":      {[]string{"revok"}, `did you mean "revoke"?`},
		"no audit log yet":        {[]string{"audit", "list", "--audit-db", filepath.Join(dir, "none.db")}, "no audit log yet at " + filepath.Join(dir, "none.db") + ": nothing has been run"},
		"resume without a run":    {[]string{"resume"}, "ulc audit list shows the runs"},
		"a malformed head hash":   {[]string{"audit", "verify", "--audit-db", filepath.Join(dir, "none.db"), "--head", "zzz"}, "is not a head hash"},
		"a caep command, no caep": {[]string{"caep", "jwks", "--config", filepath.Join(dir, "none.toml")}, "does not exist"},
	} {
		code, out, errOut := ulc(t, "", c.args...)
		if code != exitUsage || !strings.Contains(errOut, c.says) {
			t.Errorf("%s: exit %d, stdout %q, stderr %q; want exit 2 saying %q", name, code, out, errOut, c.says)
		}
	}
}
