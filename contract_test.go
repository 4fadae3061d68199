package main

// The headless command end to end against a Prism mock of Okta's own
// published spec (shared/okta-openapi, see its SOURCE.md): the ulc binary,
// built as a user would build it, runs `ulc revoke ... --yes --json`
// against `prism mock --errors`, which answers any request that breaks
// Okta's contract with an error status, so a clean run means every Okta
// request the command sent is valid under that contract.
//
// Prism is installed by .ci/install-prism into .prism/ (or named by
// $ULC_PRISM). Without it the test skips, except under CI=true, where it
// fails. The client's calls one by one, and the sandbox's answers, are
// checked in actions/okta/contract_test.go.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"ulc/internal/prismtest"
)

// gtrReceiver is a target application that answers 204 to a well-formed
// Global Token Revocation request with its bearer token.
type gtrReceiver struct {
	mu     sync.Mutex
	bodies []map[string]any
	bad    []string
}

func (g *gtrReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<16))
	var v map[string]any
	g.mu.Lock()
	defer g.mu.Unlock()
	switch {
	case r.Method != http.MethodPost || r.URL.Path != "/gtr":
		g.bad = append(g.bad, r.Method+" "+r.URL.Path)
	case r.Header.Get("Authorization") != "Bearer contract-receiver-token":
		g.bad = append(g.bad, "Authorization "+r.Header.Get("Authorization"))
	case json.Unmarshal(body, &v) != nil:
		g.bad = append(g.bad, "body "+string(body))
	default:
		g.bodies = append(g.bodies, v)
		w.WriteHeader(http.StatusNoContent)
		return
	}
	w.WriteHeader(http.StatusBadRequest)
}

func TestContractRevokeAgainstPrismMock(t *testing.T) {
	prismtest.Binary(t)
	spec := prismtest.Spec(t, "ULC_OKTA_SPEC", "shared/okta-openapi/okta-management-trimmed.yaml", "Okta's OpenAPI spec")

	dir := t.TempDir()
	// Build (once for the package, see binary_test.go) while Prism
	// starts; the build is waited for even if the test stops early, so
	// no build outlives the tests.
	var bin string
	var buildErr error
	built := make(chan struct{})
	go func() {
		defer close(built)
		bin, buildErr = builtULC()
	}()
	t.Cleanup(func() { <-built })
	mockURL := prismtest.Mock(t, spec)
	<-built
	if buildErr != nil {
		t.Fatal(buildErr)
	}

	recv := &gtrReceiver{}
	target := httptest.NewServer(recv)
	t.Cleanup(target.Close)

	write := func(name, text string) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	write("okta.token", "00ContractTok-not-a-real-token-3kQ\n")
	write("receiver.token", "contract-receiver-token\n")
	config := write("targets.toml", fmt.Sprintf(`[defaults]
timeout = "5s"
retries = 0

[okta]
org_url = %q
token_file = "okta.token"

[[target]]
name = "receiver"
url = %q
token_file = "receiver.token"
`, mockURL, target.URL+"/gtr"))

	// Okta's example user (spec: components.examples.user-example).
	const id, login = "00ub0oNGTSWTBKOLGLNR", "isaac.brock@example.com"
	for _, tc := range []struct {
		name  string
		user  string
		extra []string
		steps []string
	}{
		{"default steps, by login", login, nil, []string{"okta.clear_sessions"}},
		{"every Okta step, by id", id, []string{"--suspend", "--revoke-grants", "--deactivate", "--forget-devices"},
			[]string{"okta.suspend", "okta.clear_sessions", "okta.revoke_grants", "okta.deactivate"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"revoke", "--user", tc.user, "--reason", "contract", "--yes", "--json", "--watch", "0",
				"--audit-db", filepath.Join(dir, "a.db"), "--config", config}, tc.extra...)
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			cmd := exec.CommandContext(ctx, bin, args...)
			cmd.WaitDelay = 5 * time.Second
			cmd.Dir = dir
			// Nothing of the machine's Okta configuration: no OKTA_*
			// variable, a HOME without ~/.okta/okta.yaml.
			cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir, "XDG_DATA_HOME=" + dir, "XDG_CONFIG_HOME=" + dir}
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			err := cmd.Run()
			report := fmt.Sprintf("ulc %s\nexit: %v\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), err, stdout.String(), stderr.String())
			if err != nil {
				t.Fatalf("%s", report)
			}

			lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
			var sum struct {
				Type    string         `json:"type"`
				Counts  map[string]int `json:"counts"`
				Error   string         `json:"error"`
				Targets []struct {
					Name       string `json:"name"`
					Action     string `json:"action"`
					User       string `json:"user"`
					Outcome    string `json:"outcome"`
					HTTPStatus int    `json:"http_status"`
					Error      string `json:"error"`
				} `json:"targets"`
			}
			if err := json.Unmarshal([]byte(lines[len(lines)-1]), &sum); err != nil || sum.Type != "summary" || sum.Error != "" {
				t.Fatalf("no clean summary line (%v)\n%s", err, report)
			}
			var okta []string
			revoked := 0
			for _, s := range sum.Targets {
				switch {
				case strings.HasPrefix(s.Action, "okta."):
					if s.Outcome != "done" || s.HTTPStatus/100 != 2 || s.Error != "" {
						t.Errorf("Okta step %s: %s %d %s", s.Action, s.Outcome, s.HTTPStatus, s.Error)
					}
					okta = append(okta, s.Action)
				case s.Name == "receiver":
					if s.Outcome != "revoked" || s.HTTPStatus != http.StatusNoContent || s.Error != "" {
						t.Errorf("target %s: %s %d %s", s.Name, s.Outcome, s.HTTPStatus, s.Error)
					}
					revoked++
				default:
					t.Errorf("unexpected step %+v", s)
				}
			}
			if strings.Join(okta, " ") != strings.Join(tc.steps, " ") || revoked != 1 {
				t.Errorf("Okta steps %v (want %v), %d target revoked (want 1)", okta, tc.steps, revoked)
			}
			if t.Failed() || testing.Verbose() {
				t.Logf("%s", report)
			}
		})
	}

	recv.mu.Lock()
	defer recv.mu.Unlock()
	if len(recv.bad) > 0 {
		t.Errorf("the receiver got bad requests: %q", recv.bad)
	}
	for _, b := range recv.bodies {
		sub, _ := b["sub_id"].(map[string]any)
		if sub["format"] != "email" || sub["email"] != login {
			t.Errorf("GTR body %v, want sub_id email %s (from Okta's example user)", b, login)
		}
	}
}
