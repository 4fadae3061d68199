package caep

// Contract tests against Okta's published receiver spec (the trimmed copy
// shared/connectors/specs/okta-ssf-receiver-trimmed.yaml, see SOURCE.md
// there), served by Stoplight Prism:
//
//   - TestContractPushAgainstPrismMock sends the connector's pushes to
//     `prism mock --errors`, which answers a request that breaks the spec
//     (method, path, Content-Type, body) with an error instead of 202;
//   - TestContractFakeBehindPrismProxy pushes through `prism proxy
//     --errors` to the loopback receiver (sandbox/caepfake), which checks
//     the requests and every answer of the fake (500 VIOLATIONS for one
//     that breaks the spec).
//
// The spec describes the SET only as a string (its claims are documented
// in separate schemas that Prism does not apply to a JWS), so the claims
// and header are checked by TestEveryRequestHoldsWhatTheProfileAsks
// against CONNECTORS.md §4, and by the fake. Two answers of the fake are
// outside Okta's published operation and are not sent through the proxy:
// 429 (the operation lists 202 and 400 only, though Okta rate-limits every
// endpoint) and err access_denied (RFC 8935 defines it; Okta's enum lists
// the other five codes).
//
// Prism is installed by .ci/install-prism into <repo>/.prism (or named by
// $ULC_PRISM). Without it the tests skip, except under CI=true, where they
// fail. The spec is $ULC_CAEP_SPEC or
// <repo>/../shared/connectors/specs/okta-ssf-receiver-trimmed.yaml.

import (
	"bytes"
	"context"
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
	"ulc/sandbox/caepfake"
)

// prismStartTimeout bounds the wait for one Prism to answer.
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

// missing skips the test, or fails it under CI=true.
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
	spec = os.Getenv("ULC_CAEP_SPEC")
	if spec == "" {
		spec = filepath.Join(root, "..", "shared", "connectors", "specs", "okta-ssf-receiver-trimmed.yaml")
	}
	if _, err := os.Stat(spec); err != nil {
		missing(t, "Okta's receiver spec is not at %s (shared/ beside the repository, or set ULC_CAEP_SPEC)", spec)
	}
	return prism, spec
}

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	b   []byte
}

func (tb *tailBuffer) Write(p []byte) (int, error) {
	tb.mu.Lock()
	defer tb.mu.Unlock()
	tb.b = append(tb.b, p...)
	if over := len(tb.b) - tb.max; over > 0 {
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

// startPrism starts Prism with args (plus -h and -p) on 127.0.0.1, waits
// until it answers, and returns its URL. It is stopped when the test ends.
func startPrism(t *testing.T, prism string, args ...string) string {
	t.Helper()
	for try := 0; ; try++ {
		port := freePort(t)
		ctx, cancel := context.WithCancel(context.Background())
		cmd := exec.CommandContext(ctx, prism, append(append([]string(nil), args...), "-h", "127.0.0.1", "-p", port)...)
		out := &tailBuffer{max: 128 << 10}
		cmd.Stdout, cmd.Stderr = out, out
		cmd.WaitDelay = 5 * time.Second
		cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir(), "NO_COLOR=1", "FORCE_COLOR=0"}
		if err := cmd.Start(); err != nil {
			cancel()
			t.Fatalf("cannot start %s: %v (run .ci/install-prism; Prism needs Node.js >= 18.20)", prism, err)
		}
		done := make(chan struct{})
		var werr error
		go func() { werr = cmd.Wait(); close(done) }()
		t.Cleanup(func() {
			cancel()
			<-done
			if t.Failed() {
				t.Logf("--- prism %s output (tail) ---\n%s", args[0], out.String())
			}
		})
		u := "http://127.0.0.1:" + port
		err := waitHTTP(u, done)
		if err == nil {
			return u
		}
		if try == 0 && strings.Contains(out.String(), "EADDRINUSE") {
			cancel()
			continue
		}
		t.Fatalf("prism %s: %v (exit: %v)\n%s", args[0], err, werr, out.String())
	}
}

func waitHTTP(u string, done <-chan struct{}) error {
	hc := &http.Client{Timeout: 2 * time.Second}
	deadline := time.Now().Add(prismStartTimeout)
	for time.Now().Before(deadline) {
		select {
		case <-done:
			return fmt.Errorf("exited before answering")
		default:
		}
		req, err := http.NewRequestWithContext(context.Background(), http.MethodGet, u+"/", nil)
		if err != nil {
			return err
		}
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
	method, uri string
	status      int
	problem     string // Prism's own error (application/problem+json), or ""
	violations  string // Prism's sl-violations header
}

// recorder sits between the connector and Prism, passes every request on
// (adding the Prefer header when set) and keeps what Prism answered.
type prismRecorder struct {
	url string

	mu       sync.Mutex
	upstream *url.URL
	prefer   string
	log      []exchange
}

func newPrismRecorder(t *testing.T) *prismRecorder {
	t.Helper()
	rec := &prismRecorder{}
	rp := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			rec.mu.Lock()
			up, prefer := rec.upstream, rec.prefer
			rec.mu.Unlock()
			pr.SetURL(up)
			if prefer != "" {
				pr.Out.Header.Set("Prefer", prefer)
			}
		},
		ModifyResponse: func(resp *http.Response) error {
			x := exchange{method: resp.Request.Method, uri: resp.Request.URL.RequestURI(), status: resp.StatusCode,
				violations: resp.Header.Get("Sl-Violations")}
			if strings.Contains(resp.Header.Get("Content-Type"), "problem+json") {
				body, err := io.ReadAll(resp.Body)
				_ = resp.Body.Close()
				if err != nil {
					return err
				}
				resp.Body = io.NopCloser(bytes.NewReader(body))
				x.problem = string(body)
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

func (rec *prismRecorder) set(upstream, prefer string) {
	u, err := url.Parse(upstream)
	if err != nil {
		panic(err)
	}
	rec.mu.Lock()
	rec.upstream, rec.prefer = u, prefer
	rec.mu.Unlock()
}

func (rec *prismRecorder) take() []exchange {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	out := rec.log
	rec.log = nil
	return out
}

// clean fails the test for every exchange Prism found wrong, and returns
// the statuses.
func clean(t *testing.T, what string, xs []exchange) []int {
	t.Helper()
	var got []int
	for _, x := range xs {
		got = append(got, x.status)
		if x.problem != "" {
			t.Errorf("%s breaks Okta's receiver contract: %s %s -> %d %s", what, x.method, x.uri, x.status, x.problem)
		}
		if x.violations != "" {
			t.Errorf("%s: Prism warns: %s %s -> %d: %s", what, x.method, x.uri, x.status, x.violations)
		}
	}
	if len(xs) == 0 {
		t.Errorf("%s: no request reached Prism", what)
	}
	return got
}

func TestContractPushAgainstPrismMock(t *testing.T) {
	prism, spec := prismTools(t)
	mock := startPrism(t, prism, "mock", spec, "--errors")
	rec := newPrismRecorder(t)
	rec.set(mock, "")

	// The harness can fail: a push with the wrong media type is refused.
	req, err := http.NewRequestWithContext(context.Background(), http.MethodPost, rec.url+caepfake.Path, strings.NewReader("x.y.z"))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if xs := rec.take(); len(xs) != 1 || xs[0].status == http.StatusAccepted {
		t.Fatalf("Prism took a push as application/json: %+v", xs)
	}

	keyPath, _ := writeKey(t, t.TempDir(), 2048)
	f := loadTargets(t, target("okta-itp", rec.url+caepfake.Path, keyPath))

	r := engineRun(t, f, nil)
	if got := clean(t, "push", rec.take()); fmt.Sprint(got) != "[202]" {
		t.Errorf("statuses %v, want [202]", got)
	}
	if res := r.result(t, 1); res.Outcome != actions.Revoked || res.Error != "" {
		t.Errorf("result = %s", res.Describe())
	}

	// Okta's documented 400, as the spec's schema describes it.
	rec.set(mock, "code=400")
	r = engineRun(t, f, nil)
	if got := clean(t, "push answered 400", rec.take()); fmt.Sprint(got) != "[400]" {
		t.Errorf("statuses %v, want [400]", got)
	}
	res := r.result(t, 1)
	known := map[string]bool{"authentication_failed": true, "invalid_audience": true, "invalid_issuer": true, "invalid_key": true, "invalid_request": true}
	if res.Outcome != actions.Rejected || res.Attempt != 1 || !known[res.ErrorCode] || !strings.HasPrefix(res.Error, "the receiver ") {
		t.Errorf("result = %s (code %q), want rejected with one of Okta's codes", res.Describe(), res.ErrorCode)
	}
}

func TestContractFakeBehindPrismProxy(t *testing.T) {
	prism, spec := prismTools(t)
	rec := newPrismRecorder(t)
	s := startFake(t, caepfake.Options{Users: []string{"alice@example.com"}, Audience: rec.url})
	proxy := startPrism(t, prism, "proxy", spec, s.URL(), "--errors")
	rec.set(proxy, "")

	block := replaceKeys(fakeTarget(t, s, "okta-itp"), `url = "`+rec.url+caepfake.Path+`"`)
	cases := []struct {
		name    string
		block   string
		status  int
		outcome actions.Outcome
		code    string
	}{
		{"accepted", block, http.StatusAccepted, actions.Revoked, ""},
		{"invalid_key", replaceKeys(block, `jwt_key_id = "unknown"`), http.StatusBadRequest, actions.Rejected, "invalid_key"},
		{"invalid_issuer", replaceKeys(block, `jwt_iss = "https://other.test"`), http.StatusBadRequest, actions.Rejected, "invalid_issuer"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := engineRun(t, loadTargets(t, tc.block), nil)
			if got := clean(t, tc.name, rec.take()); fmt.Sprint(got) != fmt.Sprint([]int{tc.status}) {
				t.Errorf("statuses %v, want [%d]", got, tc.status)
			}
			res := r.result(t, 1)
			if res.Outcome != tc.outcome || res.ErrorCode != tc.code {
				t.Errorf("result = %s (code %q), want %s %q", res.Describe(), res.ErrorCode, tc.outcome, tc.code)
			}
		})
	}
	if n := s.SignedOut("alice@example.com"); n != 1 {
		t.Errorf("SignedOut = %d, want 1", n)
	}
	// The harness can fail: an answer outside Okta's published operation
	// (RFC 8935's access_denied, which Okta's enum lacks) is flagged.
	denied := startFake(t, caepfake.Options{Users: []string{"alice@example.com"}, MissingPermission: true, Audience: rec.url})
	rec.set(startPrism(t, prism, "proxy", spec, denied.URL(), "--errors"), "")
	engineRun(t, loadTargets(t, replaceKeys(fakeTarget(t, denied, "okta-itp"), `url = "`+rec.url+caepfake.Path+`"`)), nil)
	// (Prism answers 500 VIOLATIONS, which the engine retries.)
	xs := rec.take()
	if len(xs) == 0 {
		t.Error("access_denied: no request reached Prism")
	}
	for _, x := range xs {
		if x.status != http.StatusInternalServerError || !strings.Contains(x.problem, "#VIOLATIONS") {
			t.Errorf("Prism passed access_denied as Okta's contract: %+v", x)
		}
	}
	if refs := s.Refusals(); len(refs) != 2 || refs[0].Err != "invalid_key" || refs[1].Err != "invalid_issuer" {
		t.Errorf("refusals = %+v", refs)
	}
}
