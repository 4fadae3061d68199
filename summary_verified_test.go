package main

import (
	"encoding/json"
	"strings"
	"testing"

	"ulc/sandbox"
)

// The summary of ulc revoke --json says per step what a read-back found:
// verified true where it proved the step (Okta's suspend: status
// SUSPENDED, no sign-in since), false where it contradicted it (Entra ID
// still reads the sessions valid from before the run), and null where the
// system cannot be asked (Zoom, revoke grants): accepted is all that is
// known there.
func TestRevokeSummaryCarriesTheReadBack(t *testing.T) {
	sb, db := startSandboxWith(t, sandbox.Options{Vendors: true})
	sb.Microsoft.Lag(true) // Graph accepts the sign-out; the read-back lags
	code, out, errOut := ulc(t, "", "revoke", "--config", sb.ConfigPath, "--audit-db", db,
		"--user", "trinity@whiterabbit.fake", "--reason", "drill", "--yes", "--json", "--watch", "0",
		"--suspend", "--revoke-grants", "--targets", "m365,zoom")
	if code != exitOK {
		t.Fatalf("exit %d, want 0 (every step was accepted): %s", code, errOut)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	var sum struct {
		Targets []map[string]json.RawMessage `json:"targets"`
	}
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &sum); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"okta.suspend": "true", "okta.revoke_grants": "null",
		"m365": "false", "zoom": "null",
	}
	seen := map[string]bool{}
	for _, s := range sum.Targets {
		var name, action, evidence string
		_ = json.Unmarshal(s["name"], &name)
		_ = json.Unmarshal(s["action"], &action)
		_ = json.Unmarshal(s["evidence"], &evidence)
		key := name
		if name == "okta" {
			key = action
		}
		w, ok := want[key]
		if !ok {
			continue
		}
		seen[key] = true
		v, has := s["verified"]
		if !has || string(v) != w {
			t.Errorf("%s: verified %s (present %v), want %s", key, v, has, w)
		}
		switch key {
		case "okta.suspend":
			if !strings.HasPrefix(evidence, "status SUSPENDED, lastLogin ") {
				t.Errorf("%s: evidence %q, want the status and last sign-in read", key, evidence)
			}
		case "m365":
			if !strings.HasPrefix(evidence, "signInSessionsValidFromDateTime ") {
				t.Errorf("%s: evidence %q, want the value read", key, evidence)
			}
		default:
			if evidence != "" {
				t.Errorf("%s: evidence %q with nothing read back", key, evidence)
			}
		}
	}
	if len(seen) != len(want) {
		t.Fatalf("the summary has %d of the %d steps:\n%s", len(seen), len(want), lines[len(lines)-1])
	}
}
