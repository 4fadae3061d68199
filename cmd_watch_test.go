package main

import (
	"bufio"
	"encoding/json"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"ulc/sandbox/oktafake"
)

// jsonLines decodes every line of out as a JSON object.
func jsonLines(t *testing.T, out string) []map[string]any {
	t.Helper()
	var objs []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("line %q is not JSON: %v", l, err)
		}
		objs = append(objs, m)
	}
	return objs
}

// runID is the run id of a ulc revoke --json summary, its last line.
func runID(t *testing.T, out string) string {
	t.Helper()
	objs := jsonLines(t, out)
	id, _ := objs[len(objs)-1]["run_id"].(string)
	if id == "" {
		t.Fatalf("no run id in %q", out)
	}
	return id
}

// The sandbox's story, headless: after Trinity's run her attacker is
// denied, then gets a token from Dock Control. ulc watch prints both, as
// JSON lines or for people, records them with the run, and exits 4.
func TestWatchAPastRunInTheSandbox(t *testing.T) {
	sb, db := startSandbox(t)
	code, out, errOut := ulc(t, "", "revoke", "--config", sb.ConfigPath, "--audit-db", db, "--user", "trinity@whiterabbit.fake",
		"--reason", "phished", "--targets", "chat", "--yes", "--json", "--watch", "0")
	if code != exitOK || strings.Contains(errOut, "watch") {
		t.Fatalf("revoke --watch 0: exit %d, stderr %q; want 0 and no word of a watch", code, errOut)
	}
	id := runID(t, out)
	sb.Okta.Advance(oktafake.AttackerGrantAfter + time.Second)

	code, out, errOut = ulc(t, "", "watch", id[:10], "--for", "1s", "--json", "--config", sb.ConfigPath, "--audit-db", db)
	if code != exitAlarm {
		t.Fatalf("exit %d, want 4 (an alarm); stderr %s", code, errOut)
	}
	objs := jsonLines(t, out)
	if len(objs) != 3 {
		t.Fatalf("%d lines, want two signs and the end:\n%s", len(objs), out)
	}
	if o := objs[0]; o["type"] != "watch_sign" || o["level"] != "attempt" || o["city"] != "Amsterdam" || o["run_id"] != id {
		t.Errorf("first line %v, want the denied sign-in from Amsterdam", o)
	}
	if o := objs[1]; o["level"] != "alarm" || o["app"] != "Dock Control" || !strings.HasPrefix(o["event_type"].(string), "app.oauth2.token.grant") {
		t.Errorf("second line %v, want the alarm of Dock Control's token grant", o)
	}
	if o := objs[2]; o["type"] != "watch_ended" || o["alarms"] != 1.0 || o["attempts"] != 1.0 || o["reason"] != "time" {
		t.Errorf("last line %v, want the watch's end with 1 alarm and 1 attempt", o)
	}
	// The head after the watch's end, which verify takes.
	jsonHead, _ := objs[2]["audit_head"].(string)
	if code, out, errOut := ulc(t, "", "audit", "verify", "--head", jsonHead, "--audit-db", db); code != 0 || len(jsonHead) != 64 {
		t.Errorf("audit verify --head %q (the watch_ended line's): exit %d %s %s", jsonHead, code, out, errOut)
	}
	if !strings.Contains(errOut, "watching trinity@whiterabbit.fake for 1s") || !strings.Contains(errOut, "alarm: 1 success after run "+id) {
		t.Errorf("stderr %q", errOut)
	}

	// For people: one line a sign, what to do under the alarm. The
	// watch reads the log from the run's start, so it sees them again.
	code, out, _ = ulc(t, "", "watch", id, "--for", "1s", "--config", sb.ConfigPath, "--audit-db", db)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if code != exitAlarm || len(lines) != 5 {
		t.Fatalf("exit %d, %d lines, want 4 and 5:\n%s", code, len(lines), out)
	}
	if !strings.HasPrefix(lines[0], "✓ ") || !strings.Contains(lines[0], "user.session.start failure from 203.0.113.") ||
		!strings.Contains(lines[0], "Amsterdam") || !strings.Contains(lines[0], "denied: the containment holds") {
		t.Errorf("attempt line %q", lines[0])
	}
	if !strings.HasPrefix(lines[1], "⚠ ") || !strings.Contains(lines[1], "to Dock Control") || !strings.Contains(lines[1], "after revocation") {
		t.Errorf("alarm line %q", lines[1])
	}
	if !strings.HasPrefix(lines[2], "  → ") || !strings.Contains(lines[2], "targets.toml") {
		t.Errorf("advice line %q", lines[2])
	}
	if !strings.Contains(lines[3], "ended (time): 1 alarm, 1 denied attempt") {
		t.Errorf("end line %q", lines[3])
	}
	if !strings.HasPrefix(lines[4], "audit log "+db+", head ") || strings.HasSuffix(lines[4], jsonHead) {
		t.Errorf("last line %q, want the log's head after this watch (past the first watch's %s)", lines[4], jsonHead)
	}

	// The audit log shows the watches with the run, and verifies.
	code, out, errOut = ulc(t, "", "audit", "show", id, "--audit-db", db)
	if code != 0 || strings.Count(out, "watch_started") != 2 || strings.Count(out, "watch_sign alarm trinity@whiterabbit.fake: ⚠") != 2 ||
		strings.Count(out, "watch_sign attempt") != 2 || strings.Count(out, "watch_ended (time): 1 alarm, 1 attempt") != 2 {
		t.Errorf("audit show: exit %d %s\n%s", code, errOut, out)
	}
	if code, out, errOut := ulc(t, "", "audit", "verify", "--audit-db", db); code != 0 {
		t.Errorf("audit verify after the watches: exit %d %s %s", code, out, errOut)
	}
}

// A user whose attacker does not come back: the watch ends quietly, 0.
func TestWatchWithoutASignExitsZero(t *testing.T) {
	sb, db := startSandbox(t)
	_, out, _ := ulc(t, "", "revoke", "--config", sb.ConfigPath, "--audit-db", db, "--user", "neo@whiterabbit.fake",
		"--reason", "drill", "--targets", "chat", "--yes", "--json", "--watch", "0")
	id := runID(t, out)
	code, out, errOut := ulc(t, "", "watch", id, "--for", "1s", "--config", sb.ConfigPath, "--audit-db", db)
	if code != exitOK || !strings.Contains(out, "ended (time): 0 alarms, 0 denied attempts") || strings.Contains(out, "⚠") {
		t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
	}
}

// What cannot be watched is a usage error that says why.
func TestWatchRefusals(t *testing.T) {
	sb, db := startSandbox(t)
	_, out, _ := ulc(t, "", "revoke", "--config", sb.ConfigPath, "--audit-db", db, "--user", "neo@whiterabbit.fake",
		"--reason", "drill", "--targets", "chat", "--dry-run", "--json")
	dry := runID(t, out)
	for name, c := range map[string]struct {
		args []string
		says string
	}{
		"an unknown run": {[]string{"watch", "nope"}, `no run "nope"`},
		"no run":         {[]string{"watch"}, "one run id"},
		"two runs":       {[]string{"watch", "a", "b"}, "one run id"},
		"a dry run":      {[]string{"watch", dry}, "dry run"},
		"no time":        {[]string{"watch", dry, "--for", "0s"}, "--for must be above zero"},
		"bad time":       {[]string{"watch", dry, "--for", "soon"}, "invalid argument"},
	} {
		args := append(c.args, "--config", sb.ConfigPath, "--audit-db", db)
		code, _, errOut := ulc(t, "", args...)
		if code != exitUsage || !strings.Contains(errOut, c.says) {
			t.Errorf("%s: exit %d, stderr %q; want 2 saying %q", name, code, errOut, c.says)
		}
	}
}

// ulc revoke watches after the run by default, says for how long and how
// to skip it, prints the signs as JSON lines after the summary and exits
// with the watch's status.
func TestRevokeWatchesAfterTheRun(t *testing.T) {
	sb, db := startSandbox(t)
	trinity, _ := sb.Okta.Person("trinity@whiterabbit.fake")
	done := make(chan struct{})
	go func() {
		// The attacker's return, at once: as soon as her sessions are
		// cleared the fake's clock jumps past it.
		defer close(done)
		for sb.Okta.Sessions(trinity.ID) > 0 {
			time.Sleep(5 * time.Millisecond)
		}
		sb.Okta.Advance(oktafake.AttackerGrantAfter + time.Second)
	}()
	code, out, errOut := ulc(t, "", "revoke", "--config", sb.ConfigPath, "--audit-db", db, "--user", "trinity@whiterabbit.fake",
		"--reason", "phished", "--targets", "chat", "--yes", "--json", "--watch", "2s")
	<-done
	if code != exitAlarm {
		t.Fatalf("exit %d, want 4; stderr %s", code, errOut)
	}
	if !strings.Contains(errOut, "for 2s") || !strings.Contains(errOut, "--watch 0 skips it") {
		t.Errorf("stderr %q does not say how long the watch is and how to skip it", errOut)
	}
	var types []string
	for _, o := range jsonLines(t, out) {
		tp, _ := o["type"].(string)
		if tp == "watch_sign" {
			tp += ":" + o["level"].(string)
		}
		if tp != "event" {
			types = append(types, tp)
		}
	}
	if got := strings.Join(types, " "); got != "summary watch_sign:attempt watch_sign:alarm watch_ended" {
		t.Errorf("lines after the events: %q, want the summary, the two signs and the end", got)
	}
}

// No watch after a dry run or without Okta, said once.
func TestRevokeSaysWhenItDoesNotWatch(t *testing.T) {
	sb, db := startSandbox(t)
	for _, c := range []struct {
		flag, says string
	}{{"--dry-run", "no watch: a dry run sends nothing"}, {"--no-okta", "no watch: with --no-okta"}} {
		code, _, errOut := ulc(t, "", "revoke", "--config", sb.ConfigPath, "--audit-db", db, "--user", "neo@whiterabbit.fake",
			"--reason", "drill", "--targets", "chat", "--yes", c.flag)
		if code != exitOK || strings.Count(errOut, "no watch") != 1 || !strings.Contains(errOut, c.says) {
			t.Errorf("%s: exit %d, stderr %q; want 0 and %q once", c.flag, code, errOut, c.says)
		}
	}
}

// startULC starts the ulc binary with args, for a test that signals it:
// its stderr to read line by line, its stdout gathered.
func startULC(t *testing.T, args ...string) (*exec.Cmd, *bufio.Reader, *strings.Builder) {
	t.Helper()
	cmd := exec.CommandContext(t.Context(), ulcBinary(t), args...)
	cmd.Env = cleanEnv(t)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout := new(strings.Builder)
	cmd.Stdout = stdout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return cmd, bufio.NewReader(stderr), stdout
}

// ctrl+c ends a watch: the audit log records that it was cancelled, and a
// watch that saw no success exits 0.
func TestInterruptedWatchRecordsItsEnd(t *testing.T) {
	sb, db := startSandbox(t)
	_, out, _ := ulc(t, "", "revoke", "--config", sb.ConfigPath, "--audit-db", db, "--user", "neo@whiterabbit.fake",
		"--reason", "drill", "--targets", "chat", "--yes", "--json", "--watch", "0")
	id := runID(t, out)
	cmd, stderr, stdout := startULC(t, "watch", id, "--for", "10m", "--config", sb.ConfigPath, "--audit-db", db)
	line, err := stderr.ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "watching neo@whiterabbit.fake for 10m0s") {
		t.Fatalf("stderr %q (%v), want the watch's first line", line, err)
	}
	if err := cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("ulc watch after ctrl+c: %v\n%s", err, stdout.String())
	}
	if !strings.Contains(stdout.String(), "ended (cancelled)") {
		t.Errorf("stdout %q", stdout.String())
	}
	_, show, _ := ulc(t, "", "audit", "show", id, "--audit-db", db)
	if !strings.Contains(show, "watch_ended (cancelled): 0 alarms") {
		t.Errorf("audit show does not record the watch's end:\n%s", show)
	}
}

// Without --watch, ulc revoke watches the run's users for 15 minutes
// (actions.DefaultWatch), says so and how to skip it, and records the
// watch with the run; ctrl+c ends it early.
func TestRevokeWatchesFifteenMinutesByDefault(t *testing.T) {
	sb, db := startSandbox(t)
	cmd, r, stdout := startULC(t, "revoke", "--config", sb.ConfigPath, "--audit-db", db,
		"--user", "neo@whiterabbit.fake", "--reason", "drill", "--targets", "chat", "--yes", "--json")
	// The run's own lines come first; the watch's says how long it is.
	var said []string
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			_ = cmd.Wait()
			t.Fatalf("ulc revoke ended without saying it watches (%v); stderr:\n%s", err, strings.Join(said, ""))
		}
		said = append(said, line)
		if strings.HasPrefix(line, "watching ") {
			if !strings.HasPrefix(line, "watching neo@whiterabbit.fake for 15m0s (until ") || !strings.Contains(line, "--watch 0 skips it") {
				t.Errorf("the watch's line is %q, want a watch of 15m0s and how to skip it", line)
			}
			break
		}
	}
	if err := cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait() // the run succeeded; its status is the watch's, which ctrl+c cut short
	id := ""
	for _, o := range jsonLines(t, stdout.String()) {
		if o["type"] == "summary" {
			id, _ = o["run_id"].(string)
		}
	}
	if id == "" {
		t.Fatalf("no summary in the output:\n%s", stdout.String())
	}
	_, show, _ := ulc(t, "", "audit", "show", id, "--audit-db", db)
	if !strings.Contains(show, "watch_started") || !strings.Contains(show, "watch_ended (cancelled)") {
		t.Errorf("audit show does not record the watch with the run:\n%s", show)
	}
}
