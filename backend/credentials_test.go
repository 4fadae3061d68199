package backend

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A target whose token variable is not set, or whose key file cannot be
// read, is named with the reason before any run; a usable one is not, and
// no sentence holds a secret.
func TestCredentialProblemsNameUnusableTargets(t *testing.T) {
	dir := t.TempDir()
	cfg := `[[target]]
name = "chat"
url = "https://chat.example/gtr"
token_env = "CHAT_TOKEN"

[[target]]
name = "wiki"
url = "https://wiki.example/gtr"
token_env = "WIKI_TOKEN"

[[target]]
name = "crm"
url = "https://crm.example/gtr"
auth = "jwt"
jwt_key_file = "` + filepath.Join(dir, "missing.pem") + `"
jwt_iss = "https://ulc.example"
jwt_sub = "ulc"

[[target]]
name = "old"
url = "https://old.example/gtr"
token_env = "OLD_TOKEN"
enabled = false
`
	path := filepath.Join(dir, "targets.toml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	const secret = "chat-secret-9f2e"
	env := map[string]string{"CHAT_TOKEN": secret}
	b, err := Open(context.Background(), Options{ConfigPath: path, Audit: AuditNone,
		Getenv: func(k string) string { return env[k] }, Operator: "analyst", Host: "test", Version: "test"})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = b.Close() }()

	got := b.CredentialProblems(context.Background())
	t.Logf("problems: %q", got)
	if _, ok := got["chat"]; ok {
		t.Errorf("chat's credential is usable, yet flagged: %q", got["chat"])
	}
	if _, ok := got["old"]; ok {
		t.Errorf("a disabled target is flagged: %q", got["old"])
	}
	if !strings.Contains(got["wiki"], "WIKI_TOKEN") {
		t.Errorf("wiki: %q, want the unset variable named", got["wiki"])
	}
	if !strings.Contains(got["crm"], "missing.pem") {
		t.Errorf("crm: %q, want the unreadable file named", got["crm"])
	}
	for name, p := range got {
		if strings.Contains(p, secret) {
			t.Errorf("%s's problem holds a secret: %q", name, p)
		}
	}
	if len(got) != 2 {
		t.Errorf("problems %v, want wiki's and crm's", got)
	}
}
