package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"ulc/sandbox"
)

// TestRevokeAcrossKinds is the headless drill against the vendors' fakes:
// ulc revoke signs the compromised user out of Google Workspace, Microsoft
// 365, Slack, a CAEP receiver, Zoom and a GitHub organization in one run, and the summary reports each
// with its kind, its truth and what stays alive; no credential appears in
// any output or in the audit log.
func TestRevokeAcrossKinds(t *testing.T) {
	sb, db := startSandboxWith(t, sandbox.Options{Vendors: true})
	const who = "trinity@whiterabbit.fake"
	code, out, errOut := ulc(t, "", "revoke", "--config", sb.ConfigPath, "--audit-db", db, "--user", who,
		"--reason", "drill", "--yes", "--json", "--watch", "0", "--targets", "google,m365,slack,okta-itp,zoom,github")
	if code != exitFailures {
		t.Fatalf("exit %d, want 1 (the demo's Slack token lacks a scope): %s", code, errOut)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	var sum struct {
		RunID   string `json:"run_id"`
		Targets []struct {
			Step                               int
			Name, Action, Kind, Outcome, Error string
			Attempts                           int
			Verified                           *bool
			Evidence                           string
		} `json:"targets"`
		Residual map[string]string `json:"residual"`
	}
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &sum); err != nil {
		t.Fatal(err)
	}
	wants := map[string]struct{ kind, outcome, says string }{
		"google":   {"google", "revoked", "deleted 1 grant"},       // the attacker's mail-sync app
		"m365":     {"microsoft", "revoked", ""},                   // throttled once, then read back
		"slack":    {"slack", "rejected", "add admin.users:write"}, // says which scope to add
		"okta-itp": {"caep", "revoked", ""},
		"zoom":     {"zoom", "revoked", ""},
		"github":   {"github", "revoked", "removed 2 credential authorizations of trinity-hale"}, // her githubUsername's two
	}
	seen, m365Step := 0, 0
	for _, s := range sum.Targets {
		w, ok := wants[s.Name]
		if !ok {
			continue
		}
		seen++
		if s.Action != w.kind || s.Kind != w.kind || s.Outcome != w.outcome || !strings.Contains(s.Error, w.says) {
			t.Errorf("%s: %s %s %q, want kind %s, %s, saying %q", s.Name, s.Action, s.Outcome, s.Error, w.kind, w.outcome, w.says)
		}
		if s.Name == "m365" && (s.Verified == nil || !*s.Verified || !strings.Contains(s.Evidence, "signInSessionsValidFromDateTime")) {
			t.Errorf("m365: verified %v, evidence %q; want the read-back of signInSessionsValidFromDateTime to verify the sign-out", s.Verified, s.Evidence)
		}
		if s.Name == "m365" {
			m365Step = s.Step
			// The demo throttles Microsoft once: the token, the sign-out
			// answered 429, the sign-out again after Retry-After, the
			// read-back.
			if s.Attempts != 4 {
				t.Errorf("m365: %d attempts, want 4 (token, 429, sign-out, read-back)", s.Attempts)
			}
		}
		if sum.Residual[s.Name] == "" {
			t.Errorf("%s: the summary says nothing of what stays alive", s.Name)
		}
	}
	if seen != len(wants) {
		t.Fatalf("the summary has %d of the %d vendor targets:\n%s", seen, len(wants), out)
	}
	if sb.Google.SignedOut(who) != 1 || sb.Microsoft.SignedOut(who) != 1 || sb.CAEP.SignedOut(who) != 1 ||
		sb.Zoom.SignedOut(who) != 1 || sb.Slack.SignedOut(who) != 0 {
		t.Errorf("signed out at the fakes: google %d, microsoft %d, caep %d, zoom %d, slack %d; want 1, 1, 1, 1, 0",
			sb.Google.SignedOut(who), sb.Microsoft.SignedOut(who), sb.CAEP.SignedOut(who), sb.Zoom.SignedOut(who), sb.Slack.SignedOut(who))
	}
	// GitHub knows her by the login in her Okta profile, not her email.
	if sb.GitHub.Removed("trinity-hale") != 2 || sb.GitHub.Authorizations("trinity-hale") != 0 || sb.GitHub.Authorizations("neo-the-one") != 2 {
		t.Errorf("github: removed %d of trinity-hale's authorizations, %d left; neo-the-one has %d; want 2, 0, 2",
			sb.GitHub.Removed("trinity-hale"), sb.GitHub.Authorizations("trinity-hale"), sb.GitHub.Authorizations("neo-the-one"))
	}

	if sb.Microsoft.RevokeCalls() != 2 {
		t.Errorf("Graph saw %d sign-out calls, want 2 (the throttled one and its retry)", sb.Microsoft.RevokeCalls())
	}
	checkThrottledAttempts(t, db, sum.RunID, m365Step)

	// No secret of any credential file reaches the output or the log.
	audit, err := os.ReadFile(db)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range vendorSecrets(t, filepath.Dir(db)) {
		for name, text := range map[string]string{"stdout": out, "stderr": errOut, "the audit log": string(audit)} {
			if strings.Contains(text, s) {
				t.Errorf("%s holds a credential (%d bytes long)", name, len(s))
			}
		}
	}

	// ulc caep jwks prints the public key the receiver trusts, not the
	// private one.
	code, out, errOut = ulc(t, "", "caep", "jwks", "--config", sb.ConfigPath)
	var jwks struct {
		Keys []struct{ Kty, Kid, N, D string } `json:"keys"`
	}
	if code != exitOK || json.Unmarshal([]byte(out), &jwks) != nil || len(jwks.Keys) != 1 ||
		jwks.Keys[0].Kty != "RSA" || jwks.Keys[0].N == "" || jwks.Keys[0].D != "" {
		t.Errorf("ulc caep jwks: exit %d\n%s\n%s", code, out, errOut)
	}
}

// checkThrottledAttempts checks that the audit log of run holds both
// attempts of the throttled sign-out of step: the 429, recorded as a retry,
// and the second attempt that succeeded.
func checkThrottledAttempts(t *testing.T, db, run string, step int) {
	t.Helper()
	code, out, errOut := ulc(t, "", "audit", "show", run, "--audit-db", db, "--json")
	if code != exitOK {
		t.Fatalf("audit show: exit %d: %s", code, errOut)
	}
	var shown struct {
		Events []struct {
			Kind       string          `json:"kind"`
			Step       int             `json:"step"`
			Attempt    int             `json:"attempt"`
			HTTPStatus int             `json:"http_status"`
			Detail     json.RawMessage `json:"detail"`
		} `json:"events"`
	}
	if err := json.Unmarshal([]byte(out), &shown); err != nil {
		t.Fatal(err)
	}
	var calls []string
	retried := 0
	for _, ev := range shown.Events {
		if ev.Step != step || step == 0 {
			continue
		}
		switch ev.Kind {
		case "attempt":
			var d struct{ Call string }
			_ = json.Unmarshal(ev.Detail, &d)
			calls = append(calls, d.Call)
		case "retry":
			if ev.HTTPStatus == 429 {
				retried++
			}
		}
	}
	if got := strings.Join(calls, ","); got != "token,revoke,revoke,verify" || retried != 1 {
		t.Errorf("the audit log of step %d holds attempts %q and %d retries after a 429; want token,revoke,revoke,verify and 1", step, got, retried)
	}
}

// vendorSecrets returns the secrets of the credential files the vendors'
// fakes wrote into dir: tokens and client secrets whole, and each line of
// the PEM keys, also as they appear JSON-escaped in a service account key.
func vendorSecrets(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	for _, name := range []string{"slack-slack-token", "m365-client-secret", "zoom-client-secret", "github.token"} {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, strings.TrimSpace(string(b)))
	}
	keys, err := filepath.Glob(filepath.Join(dir, "*"))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range keys {
		b, err := os.ReadFile(p)
		if err != nil {
			continue // a directory
		}
		text := strings.ReplaceAll(string(b), `\n`, "\n")
		if !strings.Contains(text, "PRIVATE KEY-----") {
			continue
		}
		for _, l := range strings.Split(text, "\n") {
			if l = strings.TrimSpace(l); len(l) >= 40 && !strings.HasPrefix(l, "-----") && !strings.Contains(l, `"`) {
				out = append(out, l)
			}
		}
	}
	if len(out) < 4 {
		t.Fatalf("found only %d secrets in the fakes' credential files", len(out))
	}
	return out
}
