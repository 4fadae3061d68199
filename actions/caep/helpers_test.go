package caep

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"ulc/actions"
	"ulc/config"
	"ulc/internal/journaltest"
	"ulc/sandbox/caepfake"
)

// register makes Connector the connector of kind "caep" targets in this
// test binary, as the backend does.
var register = sync.OnceFunc(func() { actions.Register(config.KindCAEP, Connector{}) })

// run is one engine run's record.
type run struct {
	plan   *actions.Plan
	events []actions.Event
}

// result is the result event of step n.
func (r run) result(t *testing.T, n int) actions.Event {
	t.Helper()
	return journaltest.Result(t, r.events, n)
}

// of returns the events of kind k, in order.
func (r run) of(k actions.EventKind) []actions.Event { return journaltest.Of(r.events, k) }

// dump is the events in words, for failure messages.
func (r run) dump() string { return journaltest.Describe(r.events) }

// loadTargets writes a targets.toml of the given blocks (with a generous
// timeout, two retries and waits of up to 2s) and loads it.
func loadTargets(t *testing.T, blocks ...string) *config.File {
	t.Helper()
	src := "[defaults]\ntimeout = \"10s\"\nretries = 2\nmax_retry_wait = \"2s\"\n\n" + strings.Join(blocks, "\n")
	path := filepath.Join(t.TempDir(), "targets.toml")
	if err := os.WriteFile(path, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := config.Load(path)
	if err != nil {
		t.Fatalf("config: %v\n%s", err, src)
	}
	return f
}

// engineRun plans and executes a run for users against f's targets
// through the real engine.
func engineRun(t *testing.T, f *config.File, getenv func(string) string, users ...string) run {
	t.Helper()
	register()
	if len(users) == 0 {
		users = []string{"alice@example.com"}
	}
	if getenv == nil {
		getenv = func(string) string { return "" }
	}
	p, _, j := journaltest.Run(context.Background(), t, actions.Request{
		Users: users, Reason: "phished", Operator: "tester",
		Targets: f.Targets, Defaults: f.Defaults, Getenv: getenv, Version: "test",
	})
	return run{plan: p, events: j.Events()}
}

// startFake starts a receiver closed at the end of the test.
func startFake(t *testing.T, o caepfake.Options) *caepfake.Server {
	t.Helper()
	s, err := caepfake.Start(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("closing the receiver: %v", err)
		}
	})
	return s
}

// fakeTarget is the target block of receiver s, with its files in a
// temporary directory, and extra lines replacing keys of the same name.
func fakeTarget(t *testing.T, s *caepfake.Server, name string, replace ...string) string {
	t.Helper()
	block, err := s.TargetTOML(name, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return replaceKeys(block, replace...)
}

// replaceKeys replaces the lines "key = ..." of block by the given ones,
// or appends them.
func replaceKeys(block string, lines ...string) string {
	out := strings.Split(strings.TrimRight(block, "\n"), "\n")
	for _, l := range lines {
		key := strings.TrimSpace(strings.SplitN(l, "=", 2)[0])
		done := false
		for i, o := range out {
			if strings.HasPrefix(o, key+" =") {
				out[i], done = l, true
			}
		}
		if !done {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n") + "\n"
}

// dropKey removes the line "key = ..." of block.
func dropKey(block, key string) string {
	var out []string
	for _, l := range strings.Split(block, "\n") {
		if !strings.HasPrefix(l, key+" =") {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// writeKey writes a new RSA key of bits to dir and returns its path and
// the PEM.
func writeKey(t *testing.T, dir string, bits int) (string, []byte) {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, bits)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	p := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
	path := filepath.Join(dir, fmt.Sprintf("key-%d.pem", bits))
	if err := os.WriteFile(path, p, 0o600); err != nil {
		t.Fatal(err)
	}
	return path, p
}

// target is a kind "caep" block pushing to url with the key at keyPath.
func target(name, url, keyPath string, extra ...string) string {
	return fmt.Sprintf("[[target]]\nname = %q\nkind = \"caep\"\nurl = %q\njwt_key_file = %q\njwt_iss = \"https://ulc.test\"\njwt_key_id = \"k1\"\n%s\n",
		name, url, keyPath, strings.Join(extra, "\n"))
}

// recorder is an httptest server that counts its requests, keeps their
// Authorization headers and answers with h.
type recorder struct {
	*httptest.Server
	mu    sync.Mutex
	n     int
	auths []string
	types []string
}

func newRecorder(t *testing.T, h func(w http.ResponseWriter, r *http.Request, n int)) *recorder {
	t.Helper()
	rc := &recorder{}
	rc.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rc.mu.Lock()
		rc.n++
		n := rc.n
		rc.auths = append(rc.auths, r.Header.Get("Authorization"))
		rc.types = append(rc.types, r.Header.Get("Content-Type"))
		rc.mu.Unlock()
		h(w, r, n)
	}))
	t.Cleanup(rc.Close)
	return rc
}

func (rc *recorder) count() int {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return rc.n
}

// answer400 answers the RFC 8935 error body.
func answer400(code, desc string) func(http.ResponseWriter, *http.Request, int) {
	return func(w http.ResponseWriter, _ *http.Request, _ int) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		_ = json.NewEncoder(w).Encode(map[string]string{"err": code, "description": desc})
	}
}
