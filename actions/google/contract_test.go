package google_test

// Contract tests against the Admin SDK Directory API's published shape
// (shared/connectors/specs/google-admin-directory-v1-openapi.yaml, an
// OpenAPI conversion of Google's Discovery document; see SOURCE.md),
// served by Stoplight Prism:
//
//   - TestContractConnectorAgainstPrismMock sends the connector's calls
//     (users.signOut, tokens.list, tokens.delete) to `prism mock --errors`,
//     which answers a request that breaks the spec with an error (422, 400,
//     401, 404 NO_PATH_MATCHED) instead of an example;
//   - TestContractFakeBehindPrismProxy sends them to the googlefake behind
//     `prism proxy --errors`, which also checks every answer of the fake
//     (500 VIOLATIONS for one that breaks the spec).
//
// The token endpoint is not in the spec (the Discovery document has no
// operation for it, and OpenAPI 3.0 has no flow for the JWT-bearer grant):
// the token request goes straight to the fake, whose checks follow
// CONNECTORS.md (RFC 7523 assertion: RS256, kid, iss, scope, aud, iat,
// exp, sub), and the fake's own tests prove those.
//
// Prism is installed by .ci/install-prism into <repo>/.prism (or named by
// $ULC_PRISM). Without it the tests skip, except under CI=true, where they
// fail. The spec is $ULC_GOOGLE_SPEC or
// <repo>/../shared/connectors/specs/google-admin-directory-v1-openapi.yaml.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"ulc/actions"
	"ulc/sandbox/googlefake"
)

// prismStartTimeout bounds the wait for Prism to answer; it starts in a
// few seconds, more on a busy two-core machine.
const prismStartTimeout = 60 * time.Second

func repoRoot(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for d := dir; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return d
		}
		if filepath.Dir(d) == d {
			t.Fatalf("no go.mod above %s", dir)
		}
	}
}

// missing skips the test, or fails it under CI=true, where the contract
// tests must run.
func missing(t *testing.T, format string, a ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, a...)
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s (CI=true: the contract tests must run)", msg)
	}
	t.Skip(msg)
}

func prismTools(t *testing.T) (prism, spec string) {
	t.Helper()
	root := repoRoot(t)
	prism = os.Getenv("ULC_PRISM")
	if prism == "" {
		prism = filepath.Join(root, ".prism", "node_modules", ".bin", "prism")
	}
	if _, err := os.Stat(prism); err != nil {
		missing(t, "Stoplight Prism is not installed at %s: run .ci/install-prism (or set ULC_PRISM)", prism)
	}
	spec = os.Getenv("ULC_GOOGLE_SPEC")
	if spec == "" {
		spec = filepath.Join(root, "..", "shared", "connectors", "specs", "google-admin-directory-v1-openapi.yaml")
	}
	if _, err := os.Stat(spec); err != nil {
		missing(t, "the Admin SDK spec is not at %s (shared/ beside the repository, or set ULC_GOOGLE_SPEC)", spec)
	}
	return prism, spec
}

// tailBuffer keeps the last bytes Prism printed, for failure messages.
type tailBuffer struct {
	mu sync.Mutex
	b  []byte
}

func (tb *tailBuffer) Write(p []byte) (int, error) {
	tb.mu.Lock()
	defer tb.mu.Unlock()
	tb.b = append(tb.b, p...)
	if over := len(tb.b) - 64<<10; over > 0 {
		tb.b = append(tb.b[:0], tb.b[over:]...)
	}
	return len(p), nil
}

func (tb *tailBuffer) String() string {
	tb.mu.Lock()
	defer tb.mu.Unlock()
	return string(tb.b)
}

func freePort(t *testing.T) string {
	t.Helper()
	ln, err := (&net.ListenConfig{}).Listen(context.Background(), "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = ln.Close() }()
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	return port
}

// startPrism runs prism with args on 127.0.0.1 until the test ends and
// returns its URL once it answers.
func startPrism(t *testing.T, prism string, args ...string) string {
	t.Helper()
	for try := 0; ; try++ {
		port := freePort(t)
		ctx, cancel := context.WithCancel(context.Background())
		cmd := exec.CommandContext(ctx, prism, append(args, "-h", "127.0.0.1", "-p", port)...)
		out := &tailBuffer{}
		cmd.Stdout, cmd.Stderr = out, out
		cmd.WaitDelay = 5 * time.Second
		cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir(), "NO_COLOR=1", "FORCE_COLOR=0"}
		if err := cmd.Start(); err != nil {
			cancel()
			t.Fatalf("cannot start %s: %v (run .ci/install-prism; Prism needs Node.js >= 18.20)", prism, err)
		}
		done := make(chan struct{})
		var exit error
		go func() {
			exit = cmd.Wait()
			close(done)
		}()
		t.Cleanup(func() {
			cancel()
			<-done // killed: its exit status says nothing
			if t.Failed() {
				t.Logf("--- prism %s output (tail) ---\n%s", args[0], out)
			}
		})
		u := "http://127.0.0.1:" + port
		err := waitPrism(u, done, &exit)
		if err == nil {
			return u
		}
		if try == 0 && strings.Contains(out.String(), "EADDRINUSE") {
			continue
		}
		t.Fatalf("prism %s: %v\n%s", args[0], err, out)
	}
}

// waitPrism polls u until it answers, or Prism exits (done closed, with
// *exit set) or prismStartTimeout passes.
func waitPrism(u string, done <-chan struct{}, exit *error) error {
	hc := &http.Client{Timeout: 2 * time.Second}
	deadline := time.Now().Add(prismStartTimeout)
	for time.Now().Before(deadline) {
		select {
		case <-done:
			return fmt.Errorf("exited before answering: %v", *exit)
		default:
		}
		req, _ := http.NewRequestWithContext(context.Background(), http.MethodGet, u+"/", nil)
		if resp, err := hc.Do(req); err == nil {
			_ = resp.Body.Close()
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("did not answer on %s within %s", u, prismStartTimeout)
}

// exchange is one request through the recorder and Prism's answer.
type exchange struct {
	method, path string
	status       int
	problem      string // Prism's own error (problem+json), or ""
	violations   string // Prism's sl-violations header
}

func (x exchange) String() string {
	s := fmt.Sprintf("%s %s -> %d", x.method, x.path, x.status)
	if x.problem != "" {
		s += " PRISM " + x.problem
	}
	if x.violations != "" {
		s += " [sl-violations " + x.violations + "]"
	}
	return s
}

// recorder stands between the connector and Prism, passes every request
// on (adding Prefer when set, to pick one of the spec's answers) and keeps
// what Prism answered.
type recorder struct {
	url    string
	mu     sync.Mutex
	log    []exchange
	prefer string
}

func newRecorder(t *testing.T, upstream string) *recorder {
	t.Helper()
	target, _ := url.Parse(upstream)
	rec := &recorder{}
	rp := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(target)
			rec.mu.Lock()
			if rec.prefer != "" {
				pr.Out.Header.Set("Prefer", rec.prefer)
			}
			rec.mu.Unlock()
		},
		ModifyResponse: func(resp *http.Response) error {
			x := exchange{method: resp.Request.Method, path: resp.Request.URL.Path, status: resp.StatusCode,
				violations: resp.Header.Get("Sl-Violations")}
			if strings.Contains(resp.Header.Get("Content-Type"), "problem+json") {
				body, err := io.ReadAll(resp.Body)
				_ = resp.Body.Close()
				if err != nil {
					return err
				}
				resp.Body = io.NopCloser(bytes.NewReader(body))
				var p struct {
					Type, Title, Detail string
					Validation          []struct {
						Location []string
						Message  string
					}
				}
				if json.Unmarshal(body, &p) == nil && strings.Contains(p.Type, "stoplight.io/prism/errors") {
					x.problem = p.Title + ": " + p.Detail
					for _, v := range p.Validation {
						x.problem += fmt.Sprintf("; %s: %s", strings.Join(v.Location, "."), v.Message)
					}
				}
			}
			rec.mu.Lock()
			rec.log = append(rec.log, x)
			rec.mu.Unlock()
			return nil
		},
	}
	srv := httptest.NewServer(rp)
	t.Cleanup(srv.Close)
	rec.url = srv.URL
	return rec
}

func (rec *recorder) take() []exchange {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	out := rec.log
	rec.log = nil
	return out
}

func (rec *recorder) setPrefer(p string) {
	rec.mu.Lock()
	rec.prefer = p
	rec.mu.Unlock()
}

// clean fails the test for every exchange Prism objected to, and checks
// that the calls were, in order, want ("POST signOut", ...).
func clean(t *testing.T, what string, xs []exchange, want ...string) {
	t.Helper()
	var got []string
	for _, x := range xs {
		if x.problem != "" || x.violations != "" {
			t.Errorf("%s breaks the Admin SDK's contract: %s", what, x)
		}
		got = append(got, fmt.Sprintf("%s %d", x.method, x.status))
	}
	if strings.Join(got, ", ") != strings.Join(want, ", ") {
		t.Errorf("%s: exchanges %v, want %v", what, got, want)
	}
}

func TestContractConnectorAgainstPrismMock(t *testing.T) {
	prism, spec := prismTools(t)
	mock := startPrism(t, prism, "mock", spec, "--errors")
	rec := newRecorder(t, mock)
	// The token comes from the fake: the spec has no token endpoint.
	fake, err := googlefake.Start(googlefake.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = fake.Close() })
	dir := t.TempDir()
	block, err := fake.TargetTOML("google", dir)
	if err != nil {
		t.Fatal(err)
	}
	block = strings.Replace(block, fake.URL(), rec.url+"/", 1) + "revoke_oauth_grants = true\nretries = 0\n"
	f := loadTargets(t, dir, block)

	// The harness sees what Prism refuses: no credential, an unknown path.
	for _, bad := range []struct{ method, path, auth string }{
		{"POST", "/admin/directory/v1/users/alice@example.com/signOut", ""},
		{"POST", "/admin/directory/v1/users/alice@example.com/signout", "Bearer x"},
	} {
		req, _ := http.NewRequestWithContext(t.Context(), bad.method, rec.url+bad.path, nil)
		if bad.auth != "" {
			req.Header.Set("Authorization", bad.auth)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
		if xs := rec.take(); len(xs) != 1 || xs[0].problem == "" && xs[0].violations == "" {
			t.Fatalf("Prism let %s %s (auth %q) pass: %v", bad.method, bad.path, bad.auth, xs)
		}
	}

	// Prism answers tokens.list from the schema: one grant, deleted.
	_, st, _ := run(t, f, alice)
	s := step(t, st, alice, "google")
	if s.Outcome != actions.Revoked {
		t.Errorf("sign-out and grants: %s %q", s.Outcome, s.Error)
	}
	clean(t, "sign-out and grants", rec.take(), "POST 204", "GET 200", "DELETE 204")

	// The spec's error answer (GoogleJsonError) is read as Google's.
	rec.setPrefer("code=404")
	_, st, _ = run(t, f, alice)
	expect(t, step(t, st, alice, "google"), actions.NotFound, 2, "Resource Not Found: userKey")
	clean(t, "unknown user", rec.take(), "POST 404")
}

func TestContractFakeBehindPrismProxy(t *testing.T) {
	prism, spec := prismTools(t)
	fake, err := googlefake.Start(googlefake.Options{
		Users: []string{alice, bob}, Groups: []string{"team@example.com"}, Throttle: 1, RevokeOAuthGrants: true,
		Grants: map[string][]googlefake.Grant{alice: {
			{ClientID: "111.apps.googleusercontent.com", DisplayText: "Mail Merge Pro", Scopes: []string{"https://mail.google.com/"}},
			{ClientID: "222.apps.googleusercontent.com", DisplayText: "Drive Sync", Scopes: []string{"https://www.googleapis.com/auth/drive"}},
		}},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = fake.Close() })
	proxy := startPrism(t, prism, "proxy", spec, strings.TrimSuffix(fake.URL(), "/"), "--errors")
	rec := newRecorder(t, proxy)
	dir := t.TempDir()
	block, err := fake.TargetTOML("google", dir)
	if err != nil {
		t.Fatal(err)
	}
	f := loadTargets(t, dir, strings.Replace(block, fake.URL(), rec.url+"/", 1))

	// Throttled once (429 with Google's envelope), then signed out, grants
	// listed and deleted.
	_, st, _ := run(t, f, alice)
	expect(t, step(t, st, alice, "google"), actions.Revoked, 6, "deleted 2 grants")
	clean(t, "throttled sign-out and grants", rec.take(), "POST 429", "POST 204", "GET 200", "DELETE 204", "DELETE 204")
	if fake.SignedOut(alice) != 1 || len(fake.Grants(alice)) != 0 {
		t.Errorf("signed out %d times, grants left %v", fake.SignedOut(alice), fake.Grants(alice))
	}

	_, st, _ = run(t, f, "nobody@example.com")
	expect(t, step(t, st, "nobody@example.com", "google"), actions.NotFound, 2)
	clean(t, "unknown user", rec.take(), "POST 404")

	_, st, _ = run(t, f, "team@example.com")
	expect(t, step(t, st, "team@example.com", "google"), actions.Rejected, 2, "Type not supported")
	clean(t, "group address", rec.take(), "POST 400")

	// The other admin-console mistake: bob is no admin, so 403.
	f = loadTargets(t, dir, strings.Replace(strings.Replace(block, fake.URL(), rec.url+"/", 1),
		"admin = \""+googlefake.DefaultAdmin+"\"", "admin = \""+bob+"\"", 1))
	_, st, _ = run(t, f, alice)
	expect(t, step(t, st, alice, "google"), actions.Rejected, 2, "403 Not Authorized")
	clean(t, "admin without privilege", rec.take(), "POST 403")
}
