// Package prismtest runs Stoplight Prism for the connectors' contract
// tests: it finds the prism executable that .ci/install-prism installs,
// skips a test when Prism or a spec is missing (or fails it under CI=true,
// where the contract tests must run), and starts `prism mock` or
// `prism proxy` on 127.0.0.1 on a free port until the test ends.
//
// Prism is installed into <repo>/.prism, or named by $ULC_PRISM. The specs
// are in shared/ beside the repository, or named by an environment
// variable of each test.
package prismtest

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// StartTimeout bounds the wait for one Prism to answer; it starts in a few
// seconds, more on a busy two-core CI machine.
const StartTimeout = 60 * time.Second

// outputMax is how much of Prism's output a Server keeps.
const outputMax = 256 << 10

// RepoRoot returns the directory of go.mod above the working directory.
func RepoRoot(t testing.TB) string {
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

// Missing skips the test with the message, or fails it under CI=true,
// where the contract tests must run.
func Missing(t testing.TB, format string, a ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, a...)
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s (CI=true: the contract tests must run)", msg)
	}
	t.Skip(msg)
}

// Binary returns the prism executable: $ULC_PRISM, or the one
// .ci/install-prism installs into <repo>/.prism. When it is not there the
// test is skipped (failed under CI=true).
func Binary(t testing.TB) string {
	t.Helper()
	prism := os.Getenv("ULC_PRISM")
	if prism == "" {
		prism = filepath.Join(RepoRoot(t), ".prism", "node_modules", ".bin", "prism")
	}
	if _, err := os.Stat(prism); err != nil {
		Missing(t, "Stoplight Prism is not installed at %s: run .ci/install-prism (or set ULC_PRISM)", prism)
	}
	return prism
}

// Spec returns the path of a spec: $env, or rel under the directory that
// holds the repository (rel such as "shared/connectors/specs/x.yaml").
// When it is not there the test is skipped (failed under CI=true); what
// names the spec in that message.
func Spec(t testing.TB, env, rel, what string) string {
	t.Helper()
	spec := os.Getenv(env)
	if spec == "" {
		spec = filepath.Join(RepoRoot(t), "..", filepath.FromSlash(rel))
	}
	if _, err := os.Stat(spec); err != nil {
		Missing(t, "%s is not at %s (shared/ beside the repository, or set %s)", what, spec, env)
	}
	return spec
}

// Server is one running Prism.
type Server struct {
	// URL is where it listens: http://127.0.0.1:PORT, without a slash.
	URL string
	// Args are the arguments it was started with (without -h and -p).
	Args []string

	name string
	out  *tailBuffer
	done chan struct{} // closed when the process has exited
	err  error         // its Wait result, once done is closed
}

// Output is the tail of what Prism printed.
func (s *Server) Output() string { return s.out.String() }

// Mock starts `prism mock spec --errors` with extra arguments and returns
// its URL: it answers a request that breaks the spec with an error status
// instead of an example.
func Mock(t testing.TB, spec string, extra ...string) string {
	t.Helper()
	return Start(t, append([]string{"mock", spec, "--errors"}, extra...)...).URL
}

// Proxy starts `prism proxy spec upstream --errors` with extra arguments
// and returns its URL: it passes requests on to upstream, and answers with
// an error a request or an answer that breaks the spec (500 VIOLATIONS for
// an answer).
func Proxy(t testing.TB, spec, upstream string, extra ...string) string {
	t.Helper()
	return Start(t, append([]string{"proxy", spec, upstream, "--errors"}, extra...)...).URL
}

// Start starts one Prism with args (without -h and -p, which are added)
// on 127.0.0.1 and returns it once it answers HTTP, as StartAll does.
func Start(t testing.TB, args ...string) *Server {
	t.Helper()
	return StartAll(t, args)[0]
}

// StartAll starts one Prism per argument list (each without -h and -p,
// which are added) at once, on 127.0.0.1, and waits until every one
// answers HTTP; starting them together saves seconds, since most of a
// start is Node loading Prism and parsing the spec. A Prism that lost its
// port to another process before binding it is started once more. Each is
// stopped when the test ends, and its output logged if the test failed.
// The test is skipped (failed under CI=true) when Prism is not installed.
func StartAll(t testing.TB, argLists ...[]string) []*Server {
	t.Helper()
	prism := Binary(t)
	servers := make([]*Server, len(argLists))
	for i, args := range argLists {
		servers[i] = launch(t, prism, args)
	}
	for i, s := range servers {
		err := s.wait()
		if err != nil && strings.Contains(s.Output(), "EADDRINUSE") {
			// A port taken between freePort and Prism's bind.
			s = launch(t, prism, argLists[i])
			servers[i] = s
			err = s.wait()
		}
		if err != nil {
			t.Fatalf("%s: %v (its output follows)", s.name, err)
		}
	}
	return servers
}

// launch starts prism with args on a free port, and stops it when the test
// ends.
func launch(t testing.TB, prism string, args []string) *Server {
	t.Helper()
	port := freePort(t)
	full := append(append([]string(nil), args...), "-h", "127.0.0.1", "-p", port)
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, prism, full...)
	s := &Server{
		URL:  "http://127.0.0.1:" + port,
		Args: append([]string(nil), args...),
		name: "prism " + strings.Join(args, " "),
		out:  &tailBuffer{max: outputMax},
		done: make(chan struct{}),
	}
	cmd.Stdout, cmd.Stderr = s.out, s.out
	cmd.WaitDelay = 5 * time.Second
	// Prism needs nothing from the environment but PATH (to find node).
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir(), "NO_COLOR=1", "FORCE_COLOR=0"}
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatalf("cannot start %s: %v (run .ci/install-prism; Prism needs Node.js >= 18.20)", prism, err)
	}
	go func() {
		s.err = cmd.Wait()
		close(s.done)
	}()
	t.Cleanup(func() {
		cancel()
		<-s.done // killed: its exit status says nothing
		if t.Failed() {
			t.Logf("--- %s output (tail) ---\n%s--- end of %s output ---", s.name, s.Output(), s.name)
		}
	})
	return s
}

// wait polls s until Prism says it is listening on s.URL and that URL
// answers HTTP, it exits, or StartTimeout passes. An answer alone is not
// enough: another test's server may have taken the port between freePort
// and Prism's bind, and would answer in Prism's place.
func (s *Server) wait() error {
	listening := "Prism is listening on " + s.URL
	hc := &http.Client{Timeout: 2 * time.Second}
	deadline := time.Now().Add(StartTimeout)
	for time.Now().Before(deadline) {
		select {
		case <-s.done:
			return fmt.Errorf("exited before answering: %v", s.err)
		default:
		}
		req, err := http.NewRequestWithContext(context.Background(), http.MethodGet, s.URL+"/", nil)
		if err != nil {
			return err
		}
		if !strings.Contains(s.Output(), listening) {
			time.Sleep(100 * time.Millisecond)
			continue
		}
		if resp, err := hc.Do(req); err == nil {
			_ = resp.Body.Close()
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("did not answer on %s within %s", s.URL, StartTimeout)
}

// freePort returns a port on 127.0.0.1 that was free a moment ago.
func freePort(t testing.TB) string {
	t.Helper()
	ln, err := (&net.ListenConfig{}).Listen(context.Background(), "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = ln.Close() }()
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	return port
}

// tailBuffer keeps the last max bytes written to it; safe for concurrent
// use (Prism's stdout and stderr).
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
