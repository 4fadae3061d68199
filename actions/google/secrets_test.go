package google_test

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"ulc/actions"
	"ulc/internal/journaltest"
	"ulc/sandbox/googlefake"
)

// secretParts are pieces of the service account's key that must never
// leave the machine or appear in any output: the private key's body lines.
func secretParts(t *testing.T, dir string) []string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, "google-service-account.json"))
	if err != nil {
		t.Fatal(err)
	}
	var key map[string]string
	if err := json.Unmarshal(data, &key); err != nil {
		t.Fatal(err)
	}
	var parts []string
	for _, line := range strings.Split(key["private_key"], "\n") {
		if len(line) > 40 && !strings.HasPrefix(line, "-----") {
			parts = append(parts, line)
		}
	}
	if len(parts) == 0 {
		t.Fatal("no private key lines found")
	}
	return parts
}

func TestNoCredentialReachesAnotherHostOrAnyOutput(t *testing.T) {
	for _, o := range []googlefake.Options{
		{Users: []string{alice}, RevokeOAuthGrants: true, Grants: map[string][]googlefake.Grant{alice: {{ClientID: "9.apps", DisplayText: "X"}}}},
		{Users: []string{alice}, MissingPermission: true},
	} {
		fake, err := googlefake.Start(o)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = fake.Close() })
		dir := t.TempDir()
		block, err := fake.TargetTOML("google", dir)
		if err != nil {
			t.Fatal(err)
		}
		// A second target on another host, in the same run.
		other, otherSeen := recording(t, func(w http.ResponseWriter, _ *http.Request, _ int) { w.WriteHeader(204) })
		gtr := "[[target]]\nname = \"other\"\nurl = \"" + other.URL + "/revoke\"\ntoken_env = \"OTHER_TOKEN\"\n"
		f := loadTargets(t, dir, block, gtr)
		p, st, j := run(t, f, alice)
		if s := step(t, st, alice, "other"); s.Outcome != actions.Revoked {
			t.Errorf("other: %s %q", s.Outcome, s.Error)
		}
		out := journaltest.JSONLines(j.Events())
		for _, s := range st.Steps {
			out += "\n" + s.Error
		}
		for _, r := range p.Residual() {
			out += "\n" + r
		}
		secrets := append(secretParts(t, dir), "ya29.", "eyJ", "BEGIN PRIVATE KEY", otherToken)
		for _, sec := range secrets {
			if strings.Contains(out, sec) {
				t.Errorf("a credential (%.12s…) appears in the events or results", sec)
			}
			if sec != otherToken && strings.Contains(otherSeen.text(), sec) {
				t.Errorf("a Google credential (%.12s…) reached the other target", sec)
			}
		}
		if !strings.Contains(otherSeen.text(), "Bearer "+otherToken) {
			t.Errorf("the other target did not get its own token")
		}
	}
}
