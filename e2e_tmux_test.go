package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestTMuxDemo drives the real binary's console through a whole incident in
// a real 80×24 terminal (tmux), following the README's walk-through key by
// key: search, open the user, confirm, watch the board until every app has
// answered, G and g, a row's detail, the watch showing the attacker's
// return, R answered n, + and w, then History, the run's view and its
// timeline, then quit. The demo runs as the README says, `ulc demo`, with
// --keep alone added: it changes only the line printed after the console
// has closed, and leaves the audit log for the test to verify. The demo's
// sandbox has an app that answers after ~2 s (analytics), one that fails
// twice with 503 and then succeeds (mail-archive), one that is down
// (build-farm) and one where trinity has no account (crm).
func TestTMuxDemo(t *testing.T) {
	tm, dir, stderr := startTMuxDemo(t, "--keep")
	bin := ulcBinary(t)
	defer func() {
		if t.Failed() {
			b, _ := os.ReadFile(stderr)
			t.Logf("ulc's stderr:\n%s", b)
		}
	}()

	// 1. Type trin and press enter twice to open Trinity.
	tm.waitFor("results appear as you type")
	tm.sendText("trin")
	tm.waitFor("trinity@whiterabbit.fake")
	tm.sendKeys("Enter") // to the results
	tm.sendKeys("Enter") // open the selected person
	tm.waitFor("Recent activity")
	// 2. Press r, type a reason, ctrl+g to jump to Confirm, type her login,
	// enter.
	tm.sendText("r")
	tm.waitFor("Log out trinity@whiterabbit.fake")
	tm.sendText("e2e drill: phished via fake sso page")
	tm.sendKeys("C-g")
	tm.sendText("trinity@whiterabbit.fake")
	tm.waitFor("Confirm › trinity@whiterabbit.fake")
	tm.sendKeys("Enter")

	// 3. Watch the board. Thirteen GTR apps and six vendors' APIs (Google,
	// Microsoft, Slack, a CAEP receiver, Zoom, GitHub), plus Okta's own
	// sessions: more rows than 80×24 holds.
	board := tm.waitFor("20/20 finished")
	for _, want := range []string{"finished in ", "15 revoked", "1 done", "1 not found", "1 rejected", "2 failed", "did not succeed: R retries"} {
		if !strings.Contains(board, want) {
			t.Errorf("the finished board lacks %q:\n%s", want, board)
		}
	}
	shown := e2eRowsAfter(board, "OUTCOME")
	if len(shown) == 0 || len(shown) >= 20 {
		t.Fatalf("%d rows at 80×24:\n%s", len(shown), board)
	}
	if want := fmt.Sprintf("1–%d of 20 · ↓ %d more", len(shown), 20-len(shown)); !strings.Contains(board, want) {
		t.Errorf("the board does not say where it is (%q):\n%s", want, board)
	}
	// The failures sort to the top, and the selected one's whole reason,
	// ending in what to do, is under the table.
	if first := e2eRowAfter(board, "OUTCOME"); !strings.Contains(first, "✗ failed") || !strings.Contains(first, " reports ") {
		t.Errorf("the first row is %q, want reports' failure", first)
	}
	if !strings.Contains(strings.Join(strings.Fields(board), " "),
		"▸ reports: no answer within 1s (after 3 attempts): the app is slow or down; raise its timeout, or R to retry") {
		t.Errorf("the selected row's whole reason is not under the table:\n%s", board)
	}

	// 4. G to the last row, g back to the first, enter for its detail.
	tm.sendText("G")
	bottom := tm.waitFor("–20 of 20")
	tm.sendText("g")
	tm.waitFor("▸ reports:")
	rows := map[string]string{}
	for _, screen := range []string{board, bottom} {
		for _, l := range e2eRowsAfter(screen, "OUTCOME") {
			for _, name := range []string{"build-farm", "reports", "crm", "analytics", "mail-archive", "chat", "slack", "google", "m365", "github"} {
				if strings.Contains(l, " "+name+" ") {
					rows[name] = l
				}
			}
		}
	}
	expect := map[string][]string{
		"build-farm":   {"✗ failed", "connection refused"},
		"reports":      {"✗ failed", "no answer within 1s"},
		"crm":          {"∅ not found", "404", "no such user"},
		"analytics":    {"✓ revoked", "204"},
		"mail-archive": {"✓ revoked", " 3 "}, // two 503s, then success on the third try
		"chat":         {"✓ revoked", "204"},
		"slack":        {"✗ rejected", "lacks the scope"}, // the demo's token misses admin.users:write
		"google":       {"✓ revoked", "deleted 1 grant"},  // the attacker's mail-sync app
		"m365":         {"✓✓ verified", " 4 "},            // token, 429, sign-out, read-back
		"github":       {"✓ revoked", "removed 2 credential"},
	}
	for name, wants := range expect {
		for _, w := range wants {
			if !strings.Contains(rows[name], w) {
				t.Errorf("%s's row %q lacks %q (the rows seen from the top and after G)", name, rows[name], w)
			}
		}
	}
	tm.sendKeys("Enter")
	detail := tm.waitFor("Attempts")
	for _, want := range []string{"Target       reports", "Time ", "from first request to result (3 requests", "no answer within 1s; retrying in", "failed (the reason above)", "Request      POST "} {
		if !strings.Contains(detail, want) {
			t.Errorf("reports' detail lacks %q:\n%s", want, detail)
		}
	}
	tm.sendKeys("Escape")
	tm.waitFor("OUTCOME")

	// 5. The board watches her System Log for 15 minutes: within the first minute her
	// attacker is denied from Amsterdam, then Dock Control, which no
	// target signs out, gets a token: an alarm. R asks before containing
	// again; n sends nothing.
	tm.waitFor("1 attempt")
	watched := tm.waitFor("⚠ ALARM")
	for _, want := range []string{"watching the System Log: 14:", "user.session.start denied from 203.0.113.", "to Dock Control — ", "R runs the containment again",
		"add Dock Control to targets.toml if it can sign users out"} {
		if !strings.Contains(watched, want) {
			t.Errorf("the watching board lacks %q:\n%s", want, watched)
		}
	}
	tm.sendText("R")
	tm.waitFor("Run the containment again for trinity@whiterabbit.fake")
	tm.sendText("n")
	tm.waitFor("nothing sent")
	// + watches 15 minutes more, w stops the watch.
	tm.sendText("+")
	tm.waitFor("watching the System Log: 29:")
	tm.sendText("w")
	tm.waitFor("watch ended (stopped)")

	// The board ends with the audit head hash, the one verify prints.
	boardHead := ""
	for _, l := range strings.Split(board, "\n") {
		if h, ok := strings.CutPrefix(strings.TrimSpace(l), "audit head "); ok {
			boardHead = h
		}
	}
	if len(boardHead) != 64 {
		t.Errorf("the finished board shows no audit head hash:\n%s", board)
	}
	// Once the watch has recorded its signs, the head shown is past them.
	watchedHead := ""
	for _, l := range strings.Split(watched, "\n") {
		if h, ok := strings.CutPrefix(strings.TrimSpace(l), "audit head "); ok {
			watchedHead = h
		}
	}
	if len(watchedHead) != 64 || watchedHead == boardHead {
		t.Errorf("the watching board shows audit head %q, want the log's after the watch's events, not the run's %s", watchedHead, boardHead)
	}

	// 6. 2 for History, enter opens the run: its steps with their kinds,
	// failures first; t its timeline; then q to quit.
	tm.sendText("2")
	hist := tm.waitFor("1 run in")
	if !strings.Contains(hist, "e2e drill: phished") || !strings.Contains(hist, "failures") {
		t.Errorf("History does not show the run:\n%s", hist)
	}
	tm.sendKeys("Enter")
	run := tm.waitFor("KIND")
	if first := e2eRowAfter(run, "OUTCOME"); !strings.Contains(first, "✗ failed") || !strings.Contains(first, " reports ") {
		t.Errorf("the run's first step is %q, want reports' failure:\n%s", first, run)
	}
	if !strings.Contains(run, "of 20 · ↓") {
		t.Errorf("the run's view does not say where it is:\n%s", run)
	}
	tm.sendText("t")
	tm.waitFor("Timeline of run")
	tm.sendText("t")
	tm.waitFor("KIND")

	tm.sendText("q")
	tm.waitFor("ULC-EXIT=0")
	errText, _ := os.ReadFile(stderr)
	kept := ""
	for _, l := range strings.Split(string(errText), "\n") {
		if p, ok := strings.CutPrefix(l, "the demo's files are kept in "); ok {
			kept, _, _ = strings.Cut(p, ":")
			if !strings.Contains(p, "audit log "+filepath.Join(kept, "audit.db")) {
				t.Errorf("the demo's last line does not name its audit log: %q", l)
			}
		}
	}
	if kept == "" || !strings.HasPrefix(kept, dir) {
		t.Fatalf("the demo did not say where it kept its files (in %s):\n%s", dir, errText)
	}
	// The run is in the audit log, and the log's chain is intact; the head
	// the board showed is in it, the watch's events after it.
	out, err := exec.CommandContext(t.Context(), bin, "audit", "verify", "--head", boardHead, "--audit-db", filepath.Join(kept, "audit.db")).CombinedOutput()
	if err != nil || !strings.HasPrefix(string(out), "intact:") {
		t.Fatalf("ulc audit verify (the board showed head %s): %v\n%s", boardHead, err, out)
	}
	out, err = exec.CommandContext(t.Context(), bin, "audit", "verify", "--head", watchedHead, "--audit-db", filepath.Join(kept, "audit.db")).CombinedOutput()
	if err != nil || !strings.HasPrefix(string(out), "intact:") {
		t.Fatalf("ulc audit verify (the watching board showed head %s): %v\n%s", watchedHead, err, out)
	}
	if !strings.Contains(string(errText), "head") {
		t.Errorf("the console did not print the audit head on exit:\n%s", errText)
	}
	// No credential of the demo (its Okta token, the apps' tokens, the
	// signing keys) ever reached the screen or the audit file.
	secrets := secretsOf(t, kept)
	db, _ := os.ReadFile(filepath.Join(kept, "audit.db"))
	for _, sec := range secrets {
		if strings.Contains(tm.seen.String(), sec) || strings.Contains(string(errText), sec) {
			t.Errorf("a credential appeared on the console: %.6s…", sec)
		}
		if strings.Contains(string(db), sec) {
			t.Errorf("a credential is in the audit file: %.6s…", sec)
		}
	}
}

// e2eTmux is one tmux server on a private socket.
type e2eTmux struct {
	t      *testing.T
	tmux   string
	socket string
	seen   strings.Builder // every screen captured, for the secrets check
}

// cmd is the tmux command with args on this server, for the test's life.
func (s *e2eTmux) cmd(args ...string) *exec.Cmd { return s.cmdContext(s.t.Context(), args...) }

// cmdContext is cmd, killed when ctx ends.
func (s *e2eTmux) cmdContext(ctx context.Context, args ...string) *exec.Cmd {
	c := exec.CommandContext(ctx, s.tmux, append([]string{"-L", s.socket}, args...)...)
	c.Env = append(os.Environ(), "TERM=xterm-256color")
	return c
}

// startTMuxDemo starts `ulc demo` with args in a tmux session of 80×24 of
// its own, in a clean environment: no Okta settings of the developer's
// (OKTA_*, ~/.okta) can reach the demo, and everything it writes stays in
// the returned dir. stderr is the file that holds the demo's stderr.
func startTMuxDemo(t *testing.T, args ...string) (tm *e2eTmux, dir, stderr string) {
	t.Helper()
	tmuxPath, err := exec.LookPath("tmux")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("tmux is not on PATH; CI installs it, so this is a broken CI image")
		}
		t.Skip("tmux is not on PATH")
	}
	dir = t.TempDir()
	bin := ulcBinary(t)
	tm = &e2eTmux{t: t, tmux: tmuxPath, socket: fmt.Sprintf("ulc-e2e-%d-%d", os.Getpid(), time.Now().UnixNano())}
	t.Cleanup(func() {
		// Not the test's context: it is done by the time cleanups run.
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = tm.cmdContext(ctx, "kill-server").Run() // fails only if the server is gone already
	})
	stderr = filepath.Join(dir, "stderr.txt")
	quoted := make([]string, len(args))
	for i, a := range args {
		quoted[i] = e2eQuote(a)
	}
	script := fmt.Sprintf("env -i PATH=%s HOME=%s TERM=tmux-256color TMPDIR=%s XDG_DATA_HOME=%s ULC_AUDIT_DB=%s %s demo %s 2>%s; echo ULC-EXIT=$?; sleep 600",
		e2eQuote(os.Getenv("PATH")), e2eQuote(dir), e2eQuote(dir), e2eQuote(filepath.Join(dir, "xdg")), e2eQuote(filepath.Join(dir, "unused-audit.db")),
		e2eQuote(bin), strings.Join(quoted, " "), e2eQuote(stderr))
	if out, err := tm.cmd("-f", "/dev/null", "new-session", "-d", "-x", "80", "-y", "24", script).CombinedOutput(); err != nil {
		t.Fatalf("tmux new-session: %v\n%s", err, out)
	}
	return tm, dir, stderr
}

// TestTMuxDemoReadOnly: `ulc demo --readonly` opens in a terminal, says it
// is read-only, finds and opens a person without offering to revoke, shows
// History, and quits cleanly.
func TestTMuxDemoReadOnly(t *testing.T) {
	tm, _, stderr := startTMuxDemo(t, "--readonly")
	defer func() {
		if t.Failed() {
			b, _ := os.ReadFile(stderr)
			t.Logf("ulc's stderr:\n%s", b)
		}
	}()
	first := tm.waitFor("results appear as you type")
	if !strings.Contains(first, "READ-ONLY") {
		t.Errorf("the read-only console does not say so:\n%s", first)
	}
	tm.sendText("trin")
	tm.waitFor("trinity@whiterabbit.fake")
	tm.sendKeys("Enter")
	tm.sendKeys("Enter")
	user := tm.waitFor("Recent activity")
	if strings.Contains(user, "r revoke") {
		t.Errorf("the read-only User screen offers to revoke:\n%s", user)
	}
	tm.sendText("r")
	if s := tm.capture(); strings.Contains(s, "Log out trinity") {
		t.Fatalf("r opened Confirm in a read-only console:\n%s", s)
	}
	tm.sendKeys("Escape") // back to the results
	tm.waitFor("1 person")
	tm.sendText("2")
	hist := tm.waitFor("0 runs in")
	if !strings.Contains(hist, "no runs yet in this audit log (read-only") {
		t.Errorf("read-only History with no run does not say why there is none:\n%s", hist)
	}
	tm.sendText("q")
	tm.waitFor("ULC-EXIT=0")
}

// sendText types s literally.
func (s *e2eTmux) sendText(text string) {
	s.t.Helper()
	if out, err := s.cmd("send-keys", "-l", text).CombinedOutput(); err != nil {
		s.t.Fatalf("tmux send-keys: %v\n%s", err, out)
	}
}

// sendKeys presses named keys (Enter, Tab, Escape, …).
func (s *e2eTmux) sendKeys(keys ...string) {
	s.t.Helper()
	if out, err := s.cmd(append([]string{"send-keys"}, keys...)...).CombinedOutput(); err != nil {
		s.t.Fatalf("tmux send-keys: %v\n%s", err, out)
	}
}

// capture returns the pane as text.
func (s *e2eTmux) capture() string {
	s.t.Helper()
	out, err := s.cmd("capture-pane", "-p").Output()
	if err != nil {
		s.t.Fatalf("tmux capture-pane: %v", err)
	}
	s.seen.Write(out)
	return string(out)
}

// waitFor polls the pane until it shows want, for at most 20 seconds, and
// returns that screen.
func (s *e2eTmux) waitFor(want string) string {
	s.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		screen := s.capture()
		if strings.Contains(screen, want) {
			return screen
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("the screen never showed %q; it shows:\n%s", want, screen)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// e2eRowAfter returns the line after the first line containing header.
func e2eRowAfter(screen, header string) string {
	lines := strings.Split(screen, "\n")
	for i, l := range lines {
		if strings.Contains(l, header) && i+1 < len(lines) {
			return lines[i+1]
		}
	}
	return ""
}

// e2eRowsAfter returns the table rows below the line containing header, up
// to the first line that is not a row (a blank line, the board's reason
// line, the line saying where the window is).
func e2eRowsAfter(screen, header string) []string {
	lines := strings.Split(screen, "\n")
	for i, l := range lines {
		if !strings.Contains(l, header) {
			continue
		}
		var rows []string
		for _, r := range lines[i+1:] {
			t := strings.TrimSpace(r)
			if t == "" || strings.HasPrefix(t, "▸ ") || strings.Contains(t, " of ") && strings.Contains(t, "–") {
				break
			}
			rows = append(rows, r)
		}
		return rows
	}
	return nil
}

// e2eQuote quotes s for sh.
func e2eQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }
