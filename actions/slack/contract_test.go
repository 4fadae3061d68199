package slack_test

// Contract tests against Slack's published Web API spec (the Prism-servable
// trim in shared/connectors/specs, see its SOURCE.md), served by Stoplight
// Prism, in the manner of actions/okta/contract_test.go:
//
//   - TestContractConnectorAgainstPrismMock runs the connector, through the
//     real engine, against `prism mock --errors`, which answers a request
//     that breaks the spec with 422 (or 400/404) instead of an example;
//   - TestContractFakeBehindPrismProxy runs the connector against the
//     sandbox's slackfake behind `prism proxy --errors`, which checks the
//     requests and also every answer of the fake (500 VIOLATIONS for an
//     answer that breaks the spec).
//
// Slack has no token endpoint (the admin's user token is issued when the app
// is installed), so there is nothing of the kind to check here. The spec's
// variant has no security scheme (ulc edit (4) in SOURCE.md): Prism does not
// check the token, the fake does, and slack_test.go proves it.
//
// Prism is installed by .ci/install-prism into <repo>/.prism (or named by
// $ULC_PRISM). Without it the tests skip, except under CI=true, where they
// fail. The spec is $ULC_SLACK_SPEC or
// <repo>/../shared/connectors/specs/slack-web-session-prism.json.

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
	"ulc/sandbox/slackfake"
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

// prismTools returns the prism executable and Slack's spec.
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
	spec = os.Getenv("ULC_SLACK_SPEC")
	if spec == "" {
		spec = filepath.Join(root, "..", "shared", "connectors", "specs", "slack-web-session-prism.json")
	}
	if _, err := os.Stat(spec); err != nil {
		missing(t, "Slack's spec is not at %s (shared/ beside the repository, or set ULC_SLACK_SPEC)", spec)
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

// prismProc is one running Prism.
type prismProc struct {
	url  string
	out  *tailBuffer
	done chan struct{}
	err  error
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

// startPrism starts Prism with args (without -h and -p, which are added)
// on 127.0.0.1 and waits until it answers; it is stopped when the test
// ends.
func startPrism(t *testing.T, prism string, args ...string) *prismProc {
	t.Helper()
	for try := 0; ; try++ {
		p := launchPrism(t, prism, args)
		err := waitPrism(p)
		if err == nil {
			t.Cleanup(func() {
				if t.Failed() {
					t.Logf("--- prism %s output (tail) ---\n%s", args[0], p.out.String())
				}
			})
			return p
		}
		// A port taken between freePort and Prism's bind: try once more.
		if try == 0 && strings.Contains(p.out.String(), "EADDRINUSE") {
			continue
		}
		t.Fatalf("prism %s: %v\n%s", args[0], err, p.out.String())
	}
}

func launchPrism(t *testing.T, prism string, args []string) *prismProc {
	t.Helper()
	port := freePort(t)
	full := append(append([]string(nil), args...), "-h", "127.0.0.1", "-p", port)
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, prism, full...)
	out := &tailBuffer{max: 256 << 10}
	cmd.Stdout, cmd.Stderr = out, out
	cmd.WaitDelay = 5 * time.Second
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir(), "NO_COLOR=1", "FORCE_COLOR=0"}
	p := &prismProc{url: "http://127.0.0.1:" + port, out: out, done: make(chan struct{})}
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatalf("cannot start %s: %v (run .ci/install-prism; Prism needs Node.js >= 18.20)", prism, err)
	}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		cancel()
		<-p.done
	})
	return p
}

func waitPrism(p *prismProc) error {
	hc := &http.Client{Timeout: 2 * time.Second}
	deadline := time.Now().Add(prismStartTimeout)
	for time.Now().Before(deadline) {
		select {
		case <-p.done:
			return fmt.Errorf("exited before answering: %v", p.err)
		default:
		}
		req, err := http.NewRequestWithContext(context.Background(), http.MethodGet, p.url+"/", nil)
		if err != nil {
			return err
		}
		if resp, err := hc.Do(req); err == nil {
			_ = resp.Body.Close()
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("did not answer on %s within %s", p.url, prismStartTimeout)
}

// exchange is one request through the recorder and Prism's answer.
type exchange struct {
	method, path string
	status       int
	problem      string // Prism's own error answer (problem+json), or ""
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

// recorder passes every request on to Prism unchanged and keeps Prism's
// verdict, so a violation is reported in Prism's words whatever the
// connector makes of the answer.
type recorder struct {
	url string
	mu  sync.Mutex
	log []exchange
}

func newRecorder(t *testing.T, upstream string) *recorder {
	t.Helper()
	target, err := url.Parse(upstream)
	if err != nil {
		t.Fatal(err)
	}
	rec := &recorder{}
	rp := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) { pr.SetURL(target) },
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
				x.problem = string(body)
			}
			// An error envelope the shim moved off 200 gets its status
			// back: the connector sees what Slack sends.
			if resp.Header.Get(movedHeader) != "" {
				resp.StatusCode, x.status = http.StatusOK, http.StatusOK
				resp.Status = "200 OK"
				resp.Header.Del(movedHeader)
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

// take returns the exchanges since the last call.
func (rec *recorder) take() []exchange {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	out := rec.log
	rec.log = nil
	return out
}

// clean fails the test for every exchange Prism found fault with, and
// checks the paths and statuses, in order, against want ("PATH STATUS").
func (rec *recorder) clean(t *testing.T, what string, want ...string) {
	t.Helper()
	xs := rec.take()
	var got []string
	for _, x := range xs {
		got = append(got, fmt.Sprintf("%s %d", x.path, x.status))
		if x.problem != "" || x.violations != "" {
			t.Errorf("%s breaks Slack's contract: %s", what, x)
		}
	}
	if strings.Join(got, ", ") != strings.Join(want, ", ") {
		t.Errorf("%s: exchanges %v, want %v", what, got, want)
	}
}

// movedHeader marks an answer errorShim moved from 200 to 400.
const movedHeader = "X-Ulc-Moved-From-200"

// errorShim sits between Prism's proxy and the fake. Slack sends its error
// envelopes ({"ok":false,"error":...}) with HTTP 200, as SOURCE.md notes,
// but the spec documents them as the "default" response and its 200 schema
// requires ok:true. The shim moves an ok:false answer of 200 to 400 on its
// way into Prism, so that Prism checks it against the spec's documented
// error schema (the error codes of users.lookupByEmail are an enum there,
// with no other property allowed), and the recorder restores 200 on the
// way out.
func errorShim(t *testing.T, upstream string) string {
	t.Helper()
	target, err := url.Parse(upstream)
	if err != nil {
		t.Fatal(err)
	}
	rp := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(target)
			pr.Out.URL.Path = strings.TrimSuffix(target.Path, "/") + pr.In.URL.Path
		},
		ModifyResponse: func(resp *http.Response) error {
			if resp.StatusCode != http.StatusOK {
				return nil
			}
			body, err := io.ReadAll(resp.Body)
			_ = resp.Body.Close()
			if err != nil {
				return err
			}
			resp.Body = io.NopCloser(bytes.NewReader(body))
			var e struct{ OK *bool }
			if json.Unmarshal(body, &e) == nil && e.OK != nil && !*e.OK {
				resp.StatusCode, resp.Status = http.StatusBadRequest, "400 Bad Request"
				resp.Header.Set(movedHeader, "1")
			}
			return nil
		},
	}
	srv := httptest.NewServer(rp)
	t.Cleanup(srv.Close)
	return srv.URL
}

func TestContractConnectorAgainstPrismMock(t *testing.T) {
	prism, spec := prismTools(t)
	// Answers generated from the schemas (-d): the spec's own example user
	// lacks four properties its schema requires (title, phone, skype,
	// fields), which --errors would turn into a 500.
	mock := startPrism(t, prism, "mock", "-d", "--errors", spec)

	// The mock does validate: a reset without user_id is refused.
	req, err := http.NewRequestWithContext(context.Background(), http.MethodPost, mock.url+"/admin.users.session.reset",
		strings.NewReader("web_only=sometimes"))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusUnprocessableEntity {
		t.Fatalf("prism mock answered %d to a reset without user_id, want 422: it is not validating requests", resp.StatusCode)
	}

	// Prism serves the spec's paths at its root (without basePath /api).
	rec := newRecorder(t, mock.url)
	o := run(t, load(t, envTarget("slack", rec.url+"/")), "alice@example.com", secretEnv)
	o.check(t, actions.Revoked, 200, "lookup reset")
	rec.clean(t, "the connector's calls", "/users.lookupByEmail 200", "/admin.users.session.reset 200")
}

func TestContractFakeBehindPrismProxy(t *testing.T) {
	prism, spec := prismTools(t)
	cases := []struct {
		name    string
		opt     slackfake.Options
		user    string
		outcome actions.Outcome
		want    []string
	}{
		{name: "reset", opt: slackfake.Options{}, user: "alice@example.com", outcome: actions.Revoked,
			want: []string{"/users.lookupByEmail 200", "/admin.users.session.reset 200"}},
		{name: "users_not_found", user: "nobody@example.com", outcome: actions.NotFound,
			want: []string{"/users.lookupByEmail 200"}},
		{name: "throttled once", opt: slackfake.Options{Throttle: 1}, user: "alice@example.com", outcome: actions.Revoked,
			want: []string{"/users.lookupByEmail 200", "/admin.users.session.reset 429", "/admin.users.session.reset 200"}},
		{name: "missing permission", opt: slackfake.Options{MissingPermission: true}, user: "alice@example.com", outcome: actions.Rejected,
			want: []string{"/users.lookupByEmail 200", "/admin.users.session.reset 200"}},
		{name: "bot", opt: slackfake.Options{Bots: []string{"bot@example.com"}}, user: "bot@example.com", outcome: actions.Rejected,
			want: []string{"/users.lookupByEmail 200", "/admin.users.session.reset 200"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			c.opt.Users = append(c.opt.Users, "alice@example.com")
			fake := startFake(t, c.opt)
			// The fake's root is .../api/; Prism appends the spec's paths
			// to the upstream URL.
			proxy := startPrism(t, prism, "proxy", "--errors", spec, errorShim(t, strings.TrimSuffix(fake.URL(), "/")))
			rec := newRecorder(t, proxy.url)
			tok := fake.Token()
			o := run(t, load(t, envTarget("slack", rec.url+"/")), c.user, func(k string) string {
				if k == "SLACK_T" {
					return tok
				}
				return ""
			})
			if o.step.Outcome != c.outcome {
				t.Errorf("outcome %s (%q), want %s", o.step.Outcome, o.step.Error, c.outcome)
			}
			rec.clean(t, "the fake's answers", c.want...)
			if len(fake.Requests()) != len(c.want) {
				t.Errorf("the fake got %d requests, want %d: Prism did not pass them all on", len(fake.Requests()), len(c.want))
			}
		})
	}
}
