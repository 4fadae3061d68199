package main

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"ulc/sandbox"
)

// TestRevokeAgainstTheSandbox is the headless drill: ulc revoke for the
// compromised user against the sandbox clears her Okta sessions and
// reports each demo app's truth, and the audit log holds all of it.
func TestRevokeAgainstTheSandbox(t *testing.T) {
	sb, db := startSandbox(t)
	trinity, ok := sb.Okta.Person("trinity@whiterabbit.fake")
	if !ok || sb.Okta.Sessions(trinity.ID) == 0 {
		t.Fatal("the sandbox's trinity has no Okta session to clear")
	}
	code, out, errOut := ulc(t, "", "revoke", "--config", sb.ConfigPath, "--audit-db", db,
		"--user", "trinity@whiterabbit.fake", "--reason", "drill", "--yes", "--json", "--watch", "0")
	if code != exitFailures {
		t.Fatalf("exit %d, want 1 (two apps cannot answer): %s", code, errOut)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	var sum struct {
		Targets []struct {
			Name       string `json:"name"`
			Action     string `json:"action"`
			Outcome    string `json:"outcome"`
			HTTPStatus int    `json:"http_status"`
			Attempts   int    `json:"attempts"`
			LatencyMS  int64  `json:"latency_ms"`
			Error      string `json:"error"`
		} `json:"targets"`
		AuditHead string `json:"audit_head"`
	}
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &sum); err != nil {
		t.Fatal(err)
	}
	type want struct {
		outcome  string
		status   int
		attempts int
		says     string
	}
	wants := map[string]want{
		"okta":         {"done", 204, 1, ""},
		"chat":         {"revoked", 204, 1, ""},
		"files":        {"revoked", 200, 1, ""},                 // answers 200, as Auth0 does
		"vpn":          {"revoked", 204, 1, ""},                 // verifies an ES256 JWT
		"ledger":       {"revoked", 204, 1, ""},                 // verifies an RS256 JWT, iss_sub subject
		"payroll":      {"revoked", 204, 1, ""},                 // iss_sub subject
		"legacy-hr":    {"revoked", 204, 1, ""},                 // only reads the old "subject" key
		"analytics":    {"revoked", 204, 1, ""},                 // slow: late, but in time
		"mail-archive": {"revoked", 204, 3, ""},                 // 503, 503, 204
		"crm":          {"not_found", 404, 1, "no such user"},   // trinity has no account there
		"build-farm":   {"failed", 0, 3, "connection refused"},  // down
		"reports":      {"failed", 0, 3, "no answer within 1s"}, // never answers in time
	}
	seen := map[string]bool{}
	for _, g := range sum.Targets {
		w, ok := wants[g.Name]
		if !ok {
			continue
		}
		seen[g.Name] = true
		if g.Outcome != w.outcome || g.HTTPStatus != w.status || g.Attempts != w.attempts || !strings.Contains(g.Error, w.says) {
			t.Errorf("%s: %s %d after %d attempts (%q); want %s %d after %d (%q)",
				g.Name, g.Outcome, g.HTTPStatus, g.Attempts, g.Error, w.outcome, w.status, w.attempts, w.says)
		}
		if g.Name == "analytics" && g.LatencyMS < 1900 {
			t.Errorf("the slow app answered in %d ms", g.LatencyMS)
		}
	}
	if len(seen) != len(wants) {
		t.Errorf("the summary names %d of the %d expected steps: %v", len(seen), len(wants), seen)
	}
	// What the answers claim is true at the source.
	if n := sb.Okta.Sessions(trinity.ID); n != 0 {
		t.Errorf("trinity still has %d Okta sessions", n)
	}
	for _, name := range []string{"chat", "vpn", "ledger", "legacy-hr", "analytics", "mail-archive"} {
		if n := sb.Fleet.App(name).Sessions(trinity.ID); n != 0 {
			t.Errorf("trinity still has %d sessions at %s", n, name)
		}
	}
	code, out, _ = ulc(t, "", "audit", "verify", "--audit-db", db)
	if code != 0 || !strings.Contains(out, sum.AuditHead) {
		t.Fatalf("verify: exit %d %s", code, out)
	}
}

// startSandbox starts the sandbox without the vendors' fakes.
func startSandbox(t *testing.T) (*sandbox.Sandbox, string) {
	t.Helper()
	return startSandboxWith(t, sandbox.Options{})
}

// startSandboxWith starts the sandbox with o in a directory of the test's
// (o.Dir is replaced) and returns it and its audit log's path.
func startSandboxWith(t *testing.T, o sandbox.Options) (*sandbox.Sandbox, string) {
	t.Helper()
	dir := t.TempDir()
	o.Dir = dir
	sb, err := sandbox.Start(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := sb.Close(); err != nil {
			t.Error(err)
		}
	})
	return sb, filepath.Join(dir, "audit.db")
}
