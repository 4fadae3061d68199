package main

import (
	"bufio"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// cleanEnv is the environment ulc runs with in these tests: nothing of the
// operator's Okta configuration, a private HOME, and the test token.
func cleanEnv(t *testing.T, extra ...string) []string {
	t.Helper()
	env := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir(), "CLI_TOKEN=" + cliToken}
	return append(env, extra...)
}

// manyTargets writes a targets.toml with n targets on srv, paths /t/0.. .
func manyTargets(t *testing.T, dir, url string, n int, defaults string) string {
	t.Helper()
	var b strings.Builder
	b.WriteString("[defaults]\n" + defaults + "\n")
	for i := range n {
		fmt.Fprintf(&b, "[[target]]\nname = \"app-%03d\"\nurl = \"%s/t/%d\"\ntoken_env = \"CLI_TOKEN\"\n", i, url, i)
	}
	p := filepath.Join(dir, "targets.toml")
	if err := os.WriteFile(p, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// runSummary is the part of audit show --json these tests read.
type runSummary struct {
	RunID       string `json:"run_id"`
	Interrupted bool   `json:"interrupted"`
	Steps       []struct {
		Name     string `json:"name"`
		Outcome  string `json:"outcome"`
		Attempts int    `json:"attempts"`
	} `json:"steps"`
}

// TestKilledMidRunThenResumed kills ulc with SIGKILL in the middle of a
// 200-target run: the history must show the run interrupted, every answered
// step with its outcome, "unknown" where a request had left without an
// answer recorded and "not_sent" where none had; the chain must verify;
// and resume must send exactly the steps that did not succeed.
func TestKilledMidRunThenResumed(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and kills the binary")
	}
	var healthy atomic.Bool
	var hits sync.Map // path → count
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body) // so the server notices a client that is gone
		n, _ := hits.LoadOrStore(r.URL.Path, new(atomic.Int32))
		n.(*atomic.Int32).Add(1)
		i, ok := targetIndex(r.URL.Path)
		if !ok {
			w.WriteHeader(http.StatusBadRequest) // not a target of this test: it fails the run
			return
		}
		if i < 100 || healthy.Load() {
			w.WriteHeader(204)
			return
		}
		select { // the second half hangs until the client is gone
		case <-r.Context().Done():
		case <-release:
		}
	}))
	defer srv.Close()
	defer close(release)

	dir := t.TempDir()
	cfg := manyTargets(t, dir, srv.URL, 200, "timeout = \"60s\"\nconcurrency = 64\nretries = 0")
	db := filepath.Join(dir, "audit.db")
	cmd := exec.CommandContext(t.Context(), ulcBinary(t), "revoke", "--config", cfg, "--audit-db", db, "--no-okta",
		"--user", "neo@example.com", "--reason", "crash drill", "--ticket", "INC-99", "--yes", "--json")
	cmd.Env = cleanEnv(t)
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Read events until 100 answers are in and the hanging requests have
	// left, then kill the process where it stands.
	var runID string
	results, attempts := 0, 0
	sc := bufio.NewScanner(stdout)
	deadline := time.AfterFunc(60*time.Second, func() { _ = cmd.Process.Kill() })
	defer deadline.Stop()
	for sc.Scan() {
		var ev struct {
			RunID string `json:"run_id"`
			Kind  string `json:"kind"`
		}
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
			t.Fatalf("event line %q: %v", sc.Bytes(), err)
		}
		runID = ev.RunID
		switch ev.Kind {
		case "result":
			results++
		case "attempt":
			attempts++
		}
		if results == 100 && attempts >= 164 {
			break
		}
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	go func() { _, _ = io.Copy(io.Discard, stdout) }()
	_ = cmd.Wait() // "signal: killed", as intended
	if results != 100 {
		t.Fatalf("saw %d results before the kill", results)
	}

	env := cleanEnv(t)
	code, out, errOut := runBinary(t, env, "audit", "show", runID, "--audit-db", db, "--json")
	if code != 0 {
		t.Fatalf("show: exit %d %s", code, errOut)
	}
	var show runSummary
	if err := json.Unmarshal([]byte(out), &show); err != nil {
		t.Fatal(err)
	}
	counts := map[string]int{}
	for _, s := range show.Steps {
		counts[s.Outcome]++
	}
	if !show.Interrupted || counts["revoked"] != 100 || counts["unknown"] != 64 || counts["not_sent"] != 36 {
		t.Fatalf("after the kill: interrupted=%v counts=%v; want interrupted, 100 revoked, 64 unknown, 36 not_sent",
			show.Interrupted, counts)
	}
	if code, out, _ := runBinary(t, env, "audit", "list", "--audit-db", db); code != 0 || !strings.Contains(out, "INTERRUPTED") {
		t.Fatalf("list does not show the run interrupted:\n%s", out)
	}
	if code, out, _ := runBinary(t, env, "audit", "verify", "--audit-db", db); code != 0 || !strings.Contains(out, "intact") {
		t.Fatalf("verify after the kill: exit %d %s", code, out)
	}

	// Resume: only the 100 unanswered or unsent steps go out again.
	healthy.Store(true)
	before := map[string]int32{}
	hits.Range(func(k, v any) bool { before[k.(string)] = v.(*atomic.Int32).Load(); return true })
	code, out, errOut = runBinary(t, env, "resume", runID, "--config", cfg, "--audit-db", db, "--yes", "--json")
	if code != 0 {
		t.Fatalf("resume: exit %d\n%s\n%s", code, out, errOut)
	}
	resent := 0
	hits.Range(func(k, v any) bool {
		d := v.(*atomic.Int32).Load() - before[k.(string)]
		if i, _ := targetIndex(k.(string)); d > 0 && i < 100 {
			t.Errorf("resume sent again to %s, which had answered 204", k)
		}
		resent += int(d)
		return true
	})
	if resent != 100 {
		t.Fatalf("resume sent %d requests, want 100", resent)
	}
	if !strings.Contains(out, `"revoked":100`) {
		t.Fatalf("resume summary: %s", out[strings.LastIndex(out, "\n{"):])
	}
	if code, out, _ := runBinary(t, env, "audit", "verify", "--audit-db", db); code != 0 {
		t.Fatalf("verify after resume: %s", out)
	}
}

// TestAuditUnavailableSendsNothing: whatever keeps the audit log from being
// written, ulc sends nothing, says so in one sentence and exits 3.
func TestAuditUnavailableSendsNothing(t *testing.T) {
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		hits.Add(1)
		w.WriteHeader(204)
	}))
	defer srv.Close()

	cases := []struct {
		name  string
		setup func(t *testing.T, db string) // db is the audit path
		says  string
	}{
		{"corrupt file", func(t *testing.T, db string) {
			writeFile(t, db, []byte(strings.Repeat("not a database ", 500)))
		}, "not a ulc audit log"},
		{"another application's database", func(t *testing.T, db string) {
			raw, err := sql.Open("sqlite3", db)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := raw.ExecContext(t.Context(), `CREATE TABLE notes (x TEXT)`); err != nil {
				t.Fatal(err)
			}
			if err := raw.Close(); err != nil {
				t.Fatal(err)
			}
		}, "not a ulc audit log"},
		{"no room to write", nil, "file too large"},
		{"read-only file", func(t *testing.T, db string) {
			if err := os.WriteFile(db, nil, 0o400); err != nil {
				t.Fatal(err)
			}
			if os.Geteuid() == 0 { // root writes through modes; make it immutable
				if out, err := exec.CommandContext(t.Context(), "chattr", "+i", db).CombinedOutput(); err != nil {
					t.Fatalf("chattr +i: %v %s", err, out)
				}
				t.Cleanup(func() {
					// Not t.Context(): it is done by the time cleanups run,
					// and the file must become removable again.
					if out, err := exec.CommandContext(context.Background(), "chattr", "-i", db).CombinedOutput(); err != nil {
						t.Errorf("chattr -i: %v %s", err, out)
					}
				})
			}
		}, "not permitted|permission denied"},
		{"locked by another process", func(t *testing.T, db string) {
			raw, err := sql.Open("sqlite3", "file:"+db+"?_txlock=exclusive")
			if err != nil {
				t.Fatal(err)
			}
			raw.SetMaxOpenConns(1)
			// The transaction ends (rolled back) with the subtest's
			// context; the lock is held while ulc runs.
			tx, err := raw.BeginTx(t.Context(), nil)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := tx.ExecContext(t.Context(), `CREATE TABLE hold (x)`); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() {
				if err := tx.Rollback(); err != nil && !errors.Is(err, sql.ErrTxDone) {
					t.Error(err)
				}
				if err := raw.Close(); err != nil {
					t.Error(err)
				}
			})
		}, "locked"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			cfg := manyTargets(t, dir, srv.URL, 3, "")
			db := filepath.Join(dir, "audit.db")
			args := []string{"revoke", "--config", cfg, "--audit-db", db, "--no-okta",
				"--user", "neo@example.com", "--reason", "x", "--yes"}
			env := cleanEnv(t)
			if c.setup != nil {
				c.setup(t, db)
			} else {
				// A full disk, as the process sees it: a file size limit
				// (8 KiB) that the audit log's first write exceeds.
				env = append(env, "ULC="+ulcBinary(t))
				args = append([]string{"-c", `ulimit -f 16 && exec "$ULC" "$@"`, "ulc"}, args...)
			}
			before := hits.Load()
			code, _, errOut := runCommand(t, env, c.setup == nil, args...)
			if code != exitAudit || !saysOneOf(errOut, c.says) || !strings.Contains(errOut, "nothing was sent") {
				t.Fatalf("exit %d, stderr %q; want 3 and %q", code, errOut, c.says)
			}
			if strings.Count(strings.TrimSpace(errOut), "\n") > 0 {
				t.Fatalf("more than one sentence: %q", errOut)
			}
			if hits.Load() != before {
				t.Fatal("requests were sent without an audit log")
			}
		})
	}
}

// TestTwoProcessesOneChain runs two ulc processes on one audit file at once:
// both runs are recorded whole and the chain verifies.
func TestTwoProcessesOneChain(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		time.Sleep(2 * time.Millisecond)
		w.WriteHeader(204)
	}))
	defer srv.Close()
	dir := t.TempDir()
	cfg := manyTargets(t, dir, srv.URL, 60, "concurrency = 8")
	db := filepath.Join(dir, "audit.db")
	env := cleanEnv(t)
	ulcBinary(t) // built here, where a failure stops the test, so both processes start together
	ctx := t.Context()
	var wg sync.WaitGroup
	codes := make([]int, 2)
	stderrs := make([]string, 2)
	runErrs := make([]error, 2) // reported by the test's goroutine, below
	for i := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			codes[i], _, stderrs[i], runErrs[i] = execULC(ctx, env, false, "revoke", "--config", cfg, "--audit-db", db, "--no-okta",
				"--user", fmt.Sprintf("user%d@example.com", i), "--reason", "parallel", "--yes")
		}()
	}
	wg.Wait()
	if err := errors.Join(runErrs...); err != nil {
		t.Fatal(err)
	}
	if codes[0] != 0 || codes[1] != 0 {
		t.Fatalf("exit statuses %v: %q", codes, stderrs)
	}
	code, out, _ := runBinary(t, env, "audit", "verify", "--audit-db", db, "--json")
	var v struct {
		OK     bool  `json:"ok"`
		Events int64 `json:"events"`
	}
	if err := json.Unmarshal([]byte(out), &v); err != nil {
		t.Fatalf("verify --json: %v\n%s", err, out)
	}
	// Each run: run_started, 60 planned, 60 attempts, 60 results, run_finished.
	if code != 0 || !v.OK || v.Events != 2*(1+60*3+1) {
		t.Fatalf("verify exit %d: %s", code, out)
	}
}

// targetIndex is i for the path /t/i of one of manyTargets' targets.
func targetIndex(path string) (int, bool) {
	n, ok := strings.CutPrefix(path, "/t/")
	if !ok {
		return 0, false
	}
	i, err := strconv.Atoi(n)
	return i, err == nil
}

// saysOneOf reports whether s contains one of the |-separated phrases.
func saysOneOf(s, phrases string) bool {
	for _, p := range strings.Split(phrases, "|") {
		if strings.Contains(s, p) {
			return true
		}
	}
	return false
}
