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
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// contractMissing skips, or fails under CI=true, where the contract tests
// must run.
func contractMissing(t *testing.T, format string, a ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, a...)
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s (CI=true: the contract tests must run)", msg)
	}
	t.Skip(msg)
}

// contractRoot is the repository root: the package directory of main.
func contractRoot(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "go.mod")); err != nil {
		t.Fatalf("no go.mod in %s", dir)
	}
	return dir
}

// lockedBuffer is a bytes.Buffer safe for Prism's stdout and stderr.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (lb *lockedBuffer) Write(p []byte) (int, error) {
	lb.mu.Lock()
	defer lb.mu.Unlock()
	if lb.b.Len() > 1<<20 {
		return len(p), nil // enough to explain a failure
	}
	return lb.b.Write(p)
}

func (lb *lockedBuffer) String() string {
	lb.mu.Lock()
	defer lb.mu.Unlock()
	return lb.b.String()
}

// startPrismMock starts `prism mock spec --errors` on a free loopback
// port, waits until it answers, and returns its URL. It is killed when
// the test ends; its output is logged if the test fails.
func startPrismMock(t *testing.T, prism, spec string) string {
	t.Helper()
	url, out, err := launchPrismMock(t, prism, spec)
	if err != nil && strings.Contains(out.String(), "EADDRINUSE") {
		// The port was taken between picking it and Prism's bind.
		url, out, err = launchPrismMock(t, prism, spec)
	}
	if err != nil {
		t.Fatalf("prism mock: %v\n%s", err, out)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("--- prism mock output ---\n%s--- end of prism mock output ---", out)
		}
	})
	return url
}

func launchPrismMock(t *testing.T, prism, spec string) (string, *lockedBuffer, error) {
	t.Helper()
	var lc net.ListenConfig
	ln, err := lc.Listen(t.Context(), "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	if err := ln.Close(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, prism, "mock", spec, "--errors", "-h", "127.0.0.1", "-p", port)
	out := &lockedBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	cmd.WaitDelay = 5 * time.Second
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir(), "NO_COLOR=1", "FORCE_COLOR=0"}
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatalf("cannot start %s: %v (run .ci/install-prism; Prism needs Node.js >= 18.20)", prism, err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	t.Cleanup(func() { cancel(); <-done })

	url := "http://127.0.0.1:" + port
	hc := &http.Client{Timeout: 2 * time.Second}
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		select {
		case <-done:
			return "", out, fmt.Errorf("exited before answering: %v", cmd.ProcessState)
		default:
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url+"/", nil)
		if err != nil {
			return "", out, err
		}
		if resp, err := hc.Do(req); err == nil {
			resp.Body.Close()
			return url, out, nil
		}
	}
	return "", out, fmt.Errorf("did not answer on %s within 60s", url)
}

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
	root := contractRoot(t)
	prism := os.Getenv("ULC_PRISM")
	if prism == "" {
		prism = filepath.Join(root, ".prism", "node_modules", ".bin", "prism")
	}
	if _, err := os.Stat(prism); err != nil {
		contractMissing(t, "Stoplight Prism is not installed at %s: run .ci/install-prism (or set ULC_PRISM)", prism)
	}
	spec := os.Getenv("ULC_OKTA_SPEC")
	if spec == "" {
		spec = filepath.Join(root, "..", "shared", "okta-openapi", "okta-management-trimmed.yaml")
	}
	if _, err := os.Stat(spec); err != nil {
		contractMissing(t, "Okta's OpenAPI spec is not at %s (shared/ beside the repository, or set ULC_OKTA_SPEC)", spec)
	}

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
	mockURL := startPrismMock(t, prism, spec)
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
