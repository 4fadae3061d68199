package main

import (
	"bufio"
	"bytes"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"ulc/sandbox/oktafake"
)

// secretsOf collects every credential in the sandbox's directory: the Okta
// token, each app's token, and the lines of each private key.
func secretsOf(t *testing.T, dir string) []string {
	t.Helper()
	var secrets []string
	files, _ := filepath.Glob(filepath.Join(dir, "*"))
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		switch {
		case strings.HasSuffix(f, ".token"):
			secrets = append(secrets, strings.TrimSpace(string(b)))
		case strings.HasSuffix(f, ".pem"):
			sc := bufio.NewScanner(bytes.NewReader(b))
			for sc.Scan() {
				if l := strings.TrimSpace(sc.Text()); len(l) >= 24 && !strings.HasPrefix(l, "-----") {
					secrets = append(secrets, l)
				}
			}
		}
	}
	if len(secrets) < 12 {
		t.Fatalf("found only %d credentials in %s", len(secrets), dir)
	}
	return secrets
}

// TestNoCredentialInAnyOutput runs a full demo run with known credentials
// and searches every output stream and the audit file for them.
func TestNoCredentialInAnyOutput(t *testing.T) {
	sb, db := startSandbox(t)
	dir := filepath.Dir(db)
	secrets := secretsOf(t, dir)
	env := cleanEnv(t)
	var all strings.Builder
	runs := [][]string{
		{"revoke", "--config", sb.ConfigPath, "--audit-db", db, "--user", "trinity@whiterabbit.fake", "--reason", "drill", "--yes", "--json", "--suspend", "--revoke-grants", "--watch", "1s"},
		{"revoke", "--config", sb.ConfigPath, "--audit-db", db, "--user", "neo@whiterabbit.fake", "--reason", "drill", "--yes", "--watch", "0"},
		{"revoke", "--config", sb.ConfigPath, "--audit-db", db, "--user", "morpheus@whiterabbit.fake", "--reason", "drill", "--dry-run", "--json"},
		{"revoke", "--config", sb.ConfigPath, "--audit-db", db, "--user", "nobody@whiterabbit.fake", "--reason", "drill", "--yes", "--watch", "0"},
		{"targets", "check", "--config", sb.ConfigPath},
		{"targets", "list", "--config", sb.ConfigPath},
		{"audit", "list", "--audit-db", db, "--json"},
		{"audit", "export", "--format", "jsonl", "--audit-db", db},
		{"audit", "export", "--format", "csv", "--audit-db", db},
		{"audit", "verify", "--audit-db", db},
	}
	for _, args := range runs {
		_, out, errOut := runBinary(t, env, args...)
		all.WriteString(out + errOut)
	}
	// A bad token must not be echoed either.
	writeFile(t, sb.TokenFile, []byte("00wrong-token-for-the-test\n"))
	_, out, errOut := runBinary(t, env, runs[1]...)
	if !strings.Contains(errOut, "rejected the API token") {
		t.Fatalf("a bad Okta token: %s%s", out, errOut)
	}
	all.WriteString(out + errOut)
	secrets = append(secrets, "00wrong-token-for-the-test")

	_, show, _ := runBinary(t, env, "audit", "list", "--audit-db", db)
	if !strings.Contains(show, "drill") {
		t.Fatalf("the runs were not recorded:\n%s", show)
	}
	stored, _ := os.ReadFile(db)
	wal, _ := os.ReadFile(db + "-wal")
	for _, s := range secrets {
		if strings.Contains(all.String(), s) {
			t.Errorf("a credential appears in ulc's output: %.6s…", s)
		}
		if bytes.Contains(stored, []byte(s)) || bytes.Contains(wal, []byte(s)) {
			t.Errorf("a credential appears in the audit file: %.6s…", s)
		}
	}
}

// authRecorder wraps a handler and records the Authorization headers it saw.
type authRecorder struct {
	next  http.Handler
	mu    sync.Mutex
	seen  map[string]int
	label string
}

func (a *authRecorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	a.mu.Lock()
	a.seen[r.Header.Get("Authorization")]++
	a.mu.Unlock()
	a.next.ServeHTTP(w, r)
}

// TestCredentialsGoOnlyWhereTheyBelong: the Okta token reaches only Okta,
// and each target's credential only that target.
func TestCredentialsGoOnlyWhereTheyBelong(t *testing.T) {
	okta := oktafake.New(oktafake.Options{})
	okta.AddToken("00okta-secret-token")
	oktaRec := &authRecorder{next: okta, seen: map[string]int{}, label: "okta"}
	oktaSrv := httptest.NewServer(oktaRec)
	defer oktaSrv.Close()

	dir := t.TempDir()
	var toml strings.Builder
	fmt.Fprintf(&toml, "[okta]\norg_url = %q\ntoken_file = \"okta.token\"\n", oktaSrv.URL)
	writeFile(t, filepath.Join(dir, "okta.token"), []byte("00okta-secret-token\n"))
	recs := map[string]*authRecorder{}
	for _, name := range []string{"alpha", "beta", "gamma"} {
		rec := &authRecorder{seen: map[string]int{}, label: name, next: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			w.WriteHeader(204)
		})}
		srv := httptest.NewServer(rec)
		defer srv.Close()
		recs[name] = rec
		writeFile(t, filepath.Join(dir, name+".token"), []byte("secret-of-"+name+"\n"))
		fmt.Fprintf(&toml, "[[target]]\nname = %q\nurl = %q\ntoken_file = %q\n", name, srv.URL+"/gtr", name+".token")
	}
	cfg := filepath.Join(dir, "targets.toml")
	writeFile(t, cfg, []byte(toml.String()))

	code, out, errOut := runBinary(t, cleanEnv(t), "revoke", "--config", cfg, "--audit-db", filepath.Join(dir, "a.db"),
		"--user", "trinity@whiterabbit.fake", "--user", "neo@whiterabbit.fake", "--reason", "x", "--yes", "--watch", "0")
	if code != 0 {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
	for name, rec := range recs {
		if len(rec.seen) != 1 || rec.seen["Bearer secret-of-"+name] != 2 {
			t.Errorf("target %s saw Authorization %v; want only its own token, twice", name, keys(rec.seen))
		}
	}
	for h := range oktaRec.seen {
		if h != "SSWS 00okta-secret-token" {
			t.Errorf("Okta saw Authorization %q", h)
		}
	}
}

func keys(m map[string]int) []string {
	var out []string
	for k := range m {
		out = append(out, fmt.Sprintf("%.16s…", k))
	}
	return out
}
