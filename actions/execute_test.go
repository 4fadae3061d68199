package actions_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"ulc/actions"
	"ulc/audit"
	"ulc/config"
	"ulc/sandbox/apps"
)

const testToken = "tok-7f3a9c1e5b2d"

// receiver is a GTR endpoint on loopback that records what it received.
type receiver struct {
	*httptest.Server
	mu       sync.Mutex
	bodies   []string
	auths    []string
	hits     atomic.Int32
	inFlight atomic.Int32
	peak     atomic.Int32
}

func newReceiver(t *testing.T, h func(w http.ResponseWriter, r *http.Request, n int)) *receiver {
	t.Helper()
	rc := &receiver{}
	rc.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := int(rc.hits.Add(1))
		cur := rc.inFlight.Add(1)
		defer rc.inFlight.Add(-1)
		for {
			p := rc.peak.Load()
			if cur <= p || rc.peak.CompareAndSwap(p, cur) {
				break
			}
		}
		b, _ := io.ReadAll(r.Body)
		rc.mu.Lock()
		rc.bodies = append(rc.bodies, string(b))
		rc.auths = append(rc.auths, r.Header.Get("Authorization"))
		rc.mu.Unlock()
		h(w, r, n)
	}))
	t.Cleanup(rc.Close)
	return rc
}

func status(code int) func(http.ResponseWriter, *http.Request, int) {
	return func(w http.ResponseWriter, _ *http.Request, _ int) { w.WriteHeader(code) }
}

// setup writes a targets.toml with the given target blocks and parses it
// with the real config package.
func setup(t *testing.T, blocks ...string) *config.File {
	t.Helper()
	dir := t.TempDir()
	// A generous timeout: on a loaded machine a slow handshake must not
	// turn into a timeout and a retry the case did not ask for.
	src := "[defaults]\ntimeout = \"10s\"\nretries = 2\nmax_retry_wait = \"2s\"\n\n" + strings.Join(blocks, "\n")
	path := filepath.Join(dir, "targets.toml")
	if err := os.WriteFile(path, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := config.Load(path)
	if err != nil {
		t.Fatalf("config: %v\n%s", err, src)
	}
	return f
}

func bearerTarget(name, url string, extra ...string) string {
	return fmt.Sprintf("[[target]]\nname = %q\nurl = %q\ntoken_env = \"T_TOKEN\"\n%s\n", name, url, strings.Join(extra, "\n"))
}

func getenv(k string) string {
	if k == "T_TOKEN" {
		return testToken
	}
	return ""
}

// runOnce plans and executes a run for one user against f's targets with a
// real audit log, and returns the state and the log.
func runOnce(t *testing.T, ctx context.Context, f *config.File, mutate func(*actions.Request)) (*actions.RunState, *audit.Log, error) {
	t.Helper()
	log, err := audit.Open(filepath.Join(t.TempDir(), "audit.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := log.Close(); err != nil {
			t.Errorf("closing the audit log: %v", err)
		}
	})
	req := actions.Request{
		Users: []string{"alice@example.com"}, Reason: "test", Operator: "tester",
		Targets: f.Targets, Defaults: f.Defaults, Getenv: getenv, Version: "test",
	}
	if mutate != nil {
		mutate(&req)
	}
	p, err := actions.BuildPlan(ctx, req, actions.StaticDirectory{})
	if err != nil {
		t.Fatalf("plan: %v", err)
	}
	x := &actions.Executor{Journal: log, BackoffBase: 5 * time.Millisecond}
	st, err := x.Execute(ctx, p)
	return st, log, err
}

func TestAnswersAndFaults(t *testing.T) {
	hang := make(chan struct{})
	t.Cleanup(func() { close(hang) })
	refused := func() string {
		var lc net.ListenConfig
		l, err := lc.Listen(t.Context(), "tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := l.Addr().String()
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
		return "http://" + addr + "/gtr"
	}

	cases := []struct {
		name     string
		handler  func(http.ResponseWriter, *http.Request, int)
		url      string // instead of a receiver
		extra    string // more keys of the target
		outcome  actions.Outcome
		status   int
		attempts int
		errHas   string
		// ends is the next step the reason ends in, for every failure.
		ends string
	}{
		{name: "200", handler: status(200), outcome: actions.Revoked, status: 200, attempts: 1},
		{name: "204", handler: status(204), outcome: actions.Revoked, status: 204, attempts: 1},
		{name: "400", handler: status(400), outcome: actions.Rejected, status: 400, attempts: 1, errHas: "subject format email", ends: "set the subject and body_key the app expects"},
		{name: "401", handler: status(401), outcome: actions.Rejected, status: 401, attempts: 1, errHas: "credential rejected (401)", ends: "check token_env T_TOKEN"},
		{name: "403", handler: status(403), outcome: actions.Rejected, status: 403, attempts: 1, errHas: "forbidden", ends: "check its scope"},
		{name: "404", handler: status(404), outcome: actions.NotFound, status: 404, attempts: 1, ends: "the app has no such user: nothing to sign out there"},
		{name: "422", handler: status(422), outcome: actions.Failed, status: 422, attempts: 1, errHas: "could not log the user out", ends: "R to retry later, or revoke at the app"},
		{name: "429 with Retry-After then 204", handler: func(w http.ResponseWriter, _ *http.Request, n int) {
			if n == 1 {
				w.Header().Set("Retry-After", "1")
				w.WriteHeader(429)
				return
			}
			w.WriteHeader(204)
		}, outcome: actions.Revoked, status: 204, attempts: 2},
		{name: "429 beyond max_retry_wait", handler: func(w http.ResponseWriter, _ *http.Request, _ int) {
			w.Header().Set("Retry-After", "3600")
			w.WriteHeader(429)
		}, outcome: actions.Failed, status: 429, attempts: 1, errHas: "longer than max_retry_wait", ends: "R to retry later, or raise its max_retry_wait"},
		{name: "500", handler: status(500), outcome: actions.Failed, status: 500, attempts: 3, errHas: "server error (500) (after 3 attempts)", ends: "the app is failing; R to retry later, or sign the user out at the app"},
		{name: "503 twice then 204", handler: func(w http.ResponseWriter, _ *http.Request, n int) {
			if n <= 2 {
				w.WriteHeader(503)
				return
			}
			w.WriteHeader(204)
		}, outcome: actions.Revoked, status: 204, attempts: 3},
		{name: "301", handler: func(w http.ResponseWriter, r *http.Request, _ int) {
			http.Redirect(w, r, "https://elsewhere.example/steal", http.StatusMovedPermanently)
		}, outcome: actions.Rejected, status: 301, attempts: 1, errHas: "not followed", ends: "fix url"},
		{name: "connection refused", url: refused(), outcome: actions.Failed, attempts: 3, errHas: "connection refused (after 3 attempts): is the app up at http://127.0.0.1:", ends: "? Then R to retry"},
		{name: "hang past the timeout", handler: func(w http.ResponseWriter, r *http.Request, _ int) {
			select {
			case <-hang:
			case <-r.Context().Done():
			}
		}, extra: `timeout = "300ms"`, outcome: actions.Failed, attempts: 3, errHas: "no answer within 300ms (after 3 attempts)",
			ends: "the app is slow or down; raise its timeout, or R to retry"},
		{name: "reset mid-response", handler: func(w http.ResponseWriter, _ *http.Request, _ int) {
			conn, buf, err := w.(http.Hijacker).Hijack()
			if err != nil {
				return
			}
			if _, err := buf.WriteString("HTTP/1.1 20"); err != nil {
				t.Errorf("writing half a status line: %v", err)
			}
			if err := buf.Flush(); err != nil {
				t.Errorf("writing half a status line: %v", err)
			}
			if err := conn.(*net.TCPConn).SetLinger(0); err != nil { // RST, not FIN
				t.Errorf("setting linger 0: %v", err)
			}
			if err := conn.Close(); err != nil {
				t.Errorf("resetting the connection: %v", err)
			}
		}, outcome: actions.Failed, attempts: 3, errHas: "connection reset or broken before a complete answer", ends: "R to retry"},
		{name: "huge body", handler: func(w http.ResponseWriter, _ *http.Request, _ int) {
			w.WriteHeader(200)
			chunk := make([]byte, 1<<20)
			for range 512 { // 512 MiB unless the client hangs up first
				if _, err := w.Write(chunk); err != nil {
					return
				}
			}
		}, outcome: actions.Revoked, status: 200, attempts: 1},
		{name: "trickle the status line, a byte a second", handler: func(w http.ResponseWriter, r *http.Request, _ int) {
			conn, buf, err := w.(http.Hijacker).Hijack()
			if err != nil {
				return
			}
			// The client gives up first; closing after it has gone can
			// fail, and that says nothing about what is tested here.
			defer func() { _ = conn.Close() }()
			for _, b := range []byte("HTTP/1.1 204 No Content\r\n\r\n") {
				if buf.WriteByte(b) != nil || buf.Flush() != nil {
					return
				}
				select {
				case <-time.After(time.Second):
				case <-hang:
					return
				}
			}
		}, extra: `timeout = "300ms"`, outcome: actions.Failed, attempts: 3, errHas: "no answer within 300ms"},
		{name: "trickle a 200 body, a byte a second", handler: func(w http.ResponseWriter, r *http.Request, _ int) {
			w.Header().Set("Content-Length", "100")
			w.WriteHeader(200)
			for range 100 {
				if _, err := w.Write([]byte("x")); err != nil {
					return
				}
				w.(http.Flusher).Flush()
				select {
				case <-time.After(time.Second):
				case <-r.Context().Done():
					return
				}
			}
		}, outcome: actions.Revoked, status: 200, attempts: 1},
		{name: "bad TLS certificate", url: tlsURL(t), outcome: actions.Failed, attempts: 1, errHas: "TLS certificate not trusted", ends: "set ca_file for a private CA"},
		{name: "huge error body", handler: func(w http.ResponseWriter, _ *http.Request, _ int) {
			w.WriteHeader(500)
			chunk := []byte(strings.Repeat("E", 1<<20))
			for range 512 {
				if _, err := w.Write(chunk); err != nil {
					return
				}
			}
		}, outcome: actions.Failed, status: 500, attempts: 3, errHas: "server error (500): EEEE"},
		{name: "hostile error body", handler: func(w http.ResponseWriter, _ *http.Request, _ int) {
			w.WriteHeader(403)
			if _, err := w.Write([]byte("\x1b]0;pwned\x07\x1b[2J\u202eevil\u202c\r\ndenied\xff")); err != nil {
				t.Errorf("writing the hostile body: %v", err)
			}
		}, outcome: actions.Rejected, status: 403, attempts: 1, errHas: "evil denied\ufffd"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			url := tc.url
			var rc *receiver
			if url == "" {
				rc = newReceiver(t, tc.handler)
				url = rc.URL + "/gtr"
			}
			f := setup(t, bearerTarget("app", url, tc.extra))
			st, log, err := runOnce(t, context.Background(), f, nil)
			if err != nil {
				t.Fatalf("execute: %v", err)
			}
			s := st.Steps[0]
			if s.Outcome != tc.outcome || s.HTTPStatus != tc.status || s.Attempts != tc.attempts {
				t.Fatalf("got outcome=%s status=%d attempts=%d (%s), want %s %d %d",
					s.Outcome, s.HTTPStatus, s.Attempts, s.Error, tc.outcome, tc.status, tc.attempts)
			}
			if !strings.Contains(s.Error, tc.errHas) {
				t.Fatalf("error %q does not say %q", s.Error, tc.errHas)
			}
			if !strings.HasSuffix(s.Error, tc.ends) {
				t.Fatalf("error %q does not end in the next step %q", s.Error, tc.ends)
			}
			if strings.ContainsAny(s.Error, "\x1b\x07\r\n\u202e") || len(s.Error) > 1000 {
				t.Fatalf("error is not one short, safe line: %q", s.Error)
			}
			if rc != nil && int(rc.hits.Load()) != tc.attempts {
				t.Fatalf("receiver saw %d requests, want %d", rc.hits.Load(), tc.attempts)
			}
			// The audit log holds the planned step and its result.
			got, events, err := log.Run(context.Background(), st.RunID)
			if err != nil {
				t.Fatal(err)
			}
			var planned, results int
			for _, ev := range events {
				switch ev.Kind {
				case actions.KindPlanned:
					planned++
				case actions.KindResult:
					results++
				}
			}
			if planned != 1 || results != 1 {
				t.Fatalf("audit holds %d planned and %d result events, want 1 and 1", planned, results)
			}
			if g := got.Steps[0]; g.Outcome != tc.outcome || g.Attempts != tc.attempts || g.HTTPStatus != tc.status {
				t.Fatalf("audit says %s/%d/%d, engine said %s/%d/%d", g.Outcome, g.Attempts, g.HTTPStatus, s.Outcome, s.Attempts, s.HTTPStatus)
			}
			if v, err := log.Verify(context.Background(), ""); err != nil || !v.OK {
				t.Fatalf("verify: %+v %v", v, err)
			}
		})
	}
}

// tlsURL starts a loopback HTTPS receiver whose certificate nobody trusts.
func tlsURL(t *testing.T) string {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(204) }))
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	t.Cleanup(srv.Close)
	return srv.URL + "/gtr"
}

func TestRequestOnTheWire(t *testing.T) {
	var gotCT, gotMethod string
	rc := newReceiver(t, func(w http.ResponseWriter, r *http.Request, _ int) {
		gotCT, gotMethod = r.Header.Get("Content-Type"), r.Method
		w.WriteHeader(204)
	})
	legacy := newReceiver(t, status(204))
	f := setup(t,
		bearerTarget("modern", rc.URL+"/gtr"),
		bearerTarget("legacy", legacy.URL+"/gtr", `body_key = "subject"`),
	)
	if _, _, err := runOnce(t, context.Background(), f, nil); err != nil {
		t.Fatal(err)
	}
	if gotMethod != "POST" || gotCT != "application/json" {
		t.Fatalf("method %s content-type %s", gotMethod, gotCT)
	}
	if want := `{"sub_id":{"email":"alice@example.com","format":"email"}}`; rc.bodies[0] != want {
		t.Fatalf("body %s, want %s", rc.bodies[0], want)
	}
	if want := `{"subject":{"email":"alice@example.com","format":"email"}}`; legacy.bodies[0] != want {
		t.Fatalf("legacy body %s, want %s", legacy.bodies[0], want)
	}
	if rc.auths[0] != "Bearer "+testToken {
		t.Fatalf("authorization header %q", rc.auths[0])
	}
}

func TestSignedJWT(t *testing.T) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	der, _ := x509.MarshalECPrivateKey(key)
	dir := t.TempDir()
	keyPath := filepath.Join(dir, "ulc.pem")
	if err := os.WriteFile(keyPath, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	seen := map[string]bool{}
	var rc *receiver
	rc = newReceiver(t, func(w http.ResponseWriter, r *http.Request, n int) {
		tok := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
		c, err := apps.VerifyJWT(tok, &key.PublicKey, rc.URL+"/gtr", time.Now(), 30*time.Second)
		mu.Lock()
		dup := seen[c.ID]
		seen[c.ID] = true
		mu.Unlock()
		if err != nil || dup || c.Issuer != "https://idp.example" || c.Subject != "client-1" {
			w.WriteHeader(401)
			return
		}
		if n == 1 {
			w.WriteHeader(503) // the retry must carry a fresh jti
			return
		}
		w.WriteHeader(204)
	})
	f := setup(t, fmt.Sprintf("[[target]]\nname = \"jwt-app\"\nurl = %q\nauth = \"jwt\"\njwt_key_file = %q\njwt_iss = \"https://idp.example\"\njwt_sub = \"client-1\"\n", rc.URL+"/gtr?tenant=a", keyPath))
	st, log, err := runOnce(t, context.Background(), f, nil)
	if err != nil {
		t.Fatal(err)
	}
	_ = log
	if s := st.Steps[0]; s.Outcome != actions.Revoked || s.Attempts != 2 {
		t.Fatalf("got %s after %d attempts: %s", s.Outcome, s.Attempts, s.Error)
	}
	if len(seen) != 2 {
		t.Fatalf("want two distinct jti, saw %d", len(seen))
	}
}

func TestDryRunSendsNothing(t *testing.T) {
	rc := newReceiver(t, status(204))
	f := setup(t, bearerTarget("app", rc.URL+"/gtr"))
	st, _, err := runOnce(t, context.Background(), f, func(r *actions.Request) { r.DryRun = true })
	if err != nil {
		t.Fatal(err)
	}
	if rc.hits.Load() != 0 {
		t.Fatalf("dry run sent %d requests", rc.hits.Load())
	}
	if st.Steps[0].Outcome != actions.Planned {
		t.Fatalf("outcome %s, want planned", st.Steps[0].Outcome)
	}
}

// failingJournal refuses every write.
type failingJournal struct{}

func (failingJournal) Record(context.Context, bool, ...actions.Event) error {
	return errors.New("disk is full")
}

func TestFailClosedWhenAuditUnavailable(t *testing.T) {
	rc := newReceiver(t, status(204))
	f := setup(t, bearerTarget("app", rc.URL+"/gtr"))
	p := alicePlan(t, f)
	_, err := (&actions.Executor{Journal: failingJournal{}}).Execute(context.Background(), p)
	if !errors.Is(err, actions.ErrAudit) || !strings.Contains(err.Error(), "nothing was sent") {
		t.Fatalf("err = %v", err)
	}
	if rc.hits.Load() != 0 {
		t.Fatalf("sent %d requests with no audit log", rc.hits.Load())
	}
}

func TestCancelTurnsInFlightIntoCancelled(t *testing.T) {
	started := make(chan struct{}, 16)
	rc := newReceiver(t, func(w http.ResponseWriter, r *http.Request, _ int) {
		started <- struct{}{}
		<-r.Context().Done()
	})
	f := setup(t, bearerTarget("slow", rc.URL+"/gtr", `timeout = "30s"`))
	ctx, cancel := context.WithCancel(context.Background())
	go func() { <-started; cancel() }()
	st, _, err := runOnce(t, ctx, f, nil)
	if err != nil {
		t.Fatal(err)
	}
	if s := st.Steps[0]; s.Outcome != actions.Cancelled || s.Attempts != 1 {
		t.Fatalf("got %s after %d attempts, want cancelled after 1", s.Outcome, s.Attempts)
	}
	if s := st.Steps[0]; !strings.HasSuffix(s.Error, "R to retry") {
		t.Errorf("the reason %q does not end in what to do", s.Error)
	}
}

func TestPerTargetConcurrencyLimit(t *testing.T) {
	rc := newReceiver(t, func(w http.ResponseWriter, _ *http.Request, _ int) {
		time.Sleep(20 * time.Millisecond)
		w.WriteHeader(204)
	})
	f := setup(t, bearerTarget("app", rc.URL+"/gtr", "concurrency = 2"))
	users := make([]string, 12)
	for i := range users {
		users[i] = fmt.Sprintf("user%d@example.com", i)
	}
	st, _, err := runOnce(t, context.Background(), f, func(r *actions.Request) { r.Users = users })
	if err != nil {
		t.Fatal(err)
	}
	if st.Counts()[actions.Revoked] != 12 {
		t.Fatalf("counts %v", st.Counts())
	}
	if p := rc.peak.Load(); p > 2 {
		t.Fatalf("%d requests in flight to one target, limit 2", p)
	}
}

func TestNoSecretInEventsOrAudit(t *testing.T) {
	rc := newReceiver(t, status(401))
	f := setup(t, bearerTarget("app", rc.URL+"/gtr"))
	var mu sync.Mutex
	var seen []actions.Event
	log, err := audit.Open(filepath.Join(t.TempDir(), "audit.db"))
	if err != nil {
		t.Fatal(err)
	}
	p := alicePlan(t, f)
	x := &actions.Executor{Journal: log, Observe: func(ev actions.Event) { mu.Lock(); seen = append(seen, ev); mu.Unlock() }}
	if _, err := x.Execute(context.Background(), p); err != nil {
		t.Fatal(err)
	}
	if err := log.Close(); err != nil {
		t.Fatal(err)
	}
	all, _ := json.Marshal(seen)
	if strings.Contains(string(all), testToken) {
		t.Fatal("the token appears in the events")
	}
	db, err := os.ReadFile(log.Path())
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(db), testToken) {
		t.Fatal("the token appears in the audit file")
	}
}

func TestSkipLeavesOutSucceededSteps(t *testing.T) {
	a := newReceiver(t, status(204))
	b := newReceiver(t, status(204))
	f := setup(t, bearerTarget("a", a.URL+"/gtr"), bearerTarget("b", b.URL+"/gtr"))
	st, _, err := runOnce(t, context.Background(), f, func(r *actions.Request) {
		r.Users = []string{"neo@example.com", "trinity@example.com"}
		r.ResumeOf = "20260101-000000-abcdef"
		r.Skip = func(u actions.User, _ actions.Action, target string) bool {
			return target == "a" && u.Key() == "neo@example.com"
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Steps) != 3 || a.hits.Load() != 1 || b.hits.Load() != 2 {
		t.Fatalf("%d steps, a saw %d, b saw %d; want 3, 1, 2", len(st.Steps), a.hits.Load(), b.hits.Load())
	}
	if st.Info.ResumeOf != "20260101-000000-abcdef" {
		t.Fatalf("resume link lost: %q", st.Info.ResumeOf)
	}
}

func TestProbe(t *testing.T) {
	ok := newReceiver(t, status(404))
	denied := newReceiver(t, status(401))
	f := setup(t, bearerTarget("ok", ok.URL+"/gtr"), bearerTarget("denied", denied.URL+"/gtr"),
		bearerTarget("down", "http://127.0.0.1:9/gtr"))
	res := actions.Probe(context.Background(), f.Targets[0], "", getenv)
	if res.Outcome != actions.NotFound || !strings.Contains(res.Verdict, "credential accepted") {
		t.Fatalf("healthy target: %+v", res)
	}
	if !strings.Contains(ok.bodies[0], "ulc-check.invalid") || ok.auths[0] != "Bearer "+testToken {
		t.Fatalf("probe sent %s with %q", ok.bodies[0], ok.auths[0])
	}
	if res := actions.Probe(context.Background(), f.Targets[1], "", getenv); res.Outcome != actions.Rejected || !strings.Contains(res.Verdict, "check token_env T_TOKEN") {
		t.Fatalf("rejecting target: %+v", res)
	}
	if res := actions.Probe(context.Background(), f.Targets[2], "", getenv); res.Outcome != actions.Failed || !strings.Contains(res.Verdict, "connection refused") {
		t.Fatalf("down target: %+v", res)
	}
}

// dyingJournal accepts the first n batches, then fails like a full disk.
// attempts counts the attempts it accepted.
type dyingJournal struct {
	mu       sync.Mutex
	n        int
	attempts int
}

func (j *dyingJournal) Record(_ context.Context, _ bool, evs ...actions.Event) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.n <= 0 {
		return errors.New("disk is full")
	}
	j.n--
	for _, ev := range evs {
		if ev.Kind == actions.KindAttempt {
			j.attempts++
		}
	}
	return nil
}

func TestAuditFailureMidRunStopsSending(t *testing.T) {
	rc := newReceiver(t, status(204))
	var blocks []string
	for i := range 20 {
		blocks = append(blocks, bearerTarget(fmt.Sprintf("app-%02d", i), rc.URL+"/gtr"))
	}
	f := setup(t, blocks...)
	p := alicePlan(t, f)
	// The plan and six more writes, then the disk fills.
	j := &dyingJournal{n: 1 + 6}
	st, err := (&actions.Executor{Journal: j}).Execute(context.Background(), p)
	if !errors.Is(err, actions.ErrAudit) {
		t.Fatalf("err = %v, want ErrAudit", err)
	}
	// Every request needs its attempt recorded first (at most one per
	// write: seven), and the failure cancels those still in flight.
	if n := rc.hits.Load(); n > int32(j.attempts) || j.attempts > 7 {
		t.Fatalf("%d requests left; %d had their attempt recorded", n, j.attempts)
	}
	if c := st.Counts(); c[actions.Revoked] > j.attempts || c[actions.Cancelled] < 20-j.attempts {
		t.Fatalf("counts %v: the steps after the failure must end cancelled", c)
	}
	for _, s := range st.Steps {
		if s.Outcome == actions.Cancelled && !strings.HasSuffix(s.Error, "R to retry") {
			t.Errorf("step %d: the reason %q does not end in what to do", s.Step, s.Error)
		}
	}
}

// countingOkta answers every Okta step after a moment, counting how many
// are in flight at once.
type countingOkta struct {
	inFlight, peak, calls atomic.Int32
}

func (o *countingOkta) Do(ctx context.Context, a actions.Action, u actions.User, _ bool) actions.OktaAnswer {
	o.calls.Add(1)
	cur := o.inFlight.Add(1)
	defer o.inFlight.Add(-1)
	for p := o.peak.Load(); cur > p && !o.peak.CompareAndSwap(p, cur); p = o.peak.Load() {
	}
	time.Sleep(time.Millisecond)
	return actions.OktaAnswer{HTTPStatus: 204}
}

// idDirectory resolves any value to a user with an Okta id.
type idDirectory struct{}

func (idDirectory) Resolve(_ context.Context, ref string) (actions.User, error) {
	return actions.User{ID: "00u" + strings.Repeat("0", 8) + ref, Login: ref + "@example.com", Email: ref + "@example.com"}, nil
}

// TestBulkRunPacesOkta offboards 300 people: Okta sees at most five users
// at a time, every step is done, and every app answer is in.
func TestBulkRunPacesOkta(t *testing.T) {
	rc := newReceiver(t, status(204))
	f := setup(t, bearerTarget("a", rc.URL+"/gtr"), bearerTarget("b", rc.URL+"/gtr"))
	users := make([]string, 300)
	for i := range users {
		users[i] = fmt.Sprintf("u%04d", i)
	}
	p, err := actions.BuildPlan(context.Background(), actions.Request{
		Users: users, Reason: "offboarding", Targets: f.Targets, Defaults: f.Defaults, Getenv: getenv,
		OktaSteps: []actions.Action{actions.ActionClearSessions, actions.ActionSuspend},
	}, idDirectory{})
	if err != nil {
		t.Fatal(err)
	}
	okta := &countingOkta{}
	st, err := (&actions.Executor{Journal: nopJournal{}, Okta: okta}).Execute(context.Background(), p)
	if err != nil {
		t.Fatal(err)
	}
	c := st.Counts()
	if c[actions.Done] != 600 || c[actions.Revoked] != 600 || okta.calls.Load() != 600 || rc.hits.Load() != 600 {
		t.Fatalf("counts %v, okta calls %d, app requests %d", c, okta.calls.Load(), rc.hits.Load())
	}
	if p := okta.peak.Load(); p > 5 {
		t.Fatalf("%d Okta calls at once; a bulk run must pace itself to 5 users", p)
	}
}

// nopJournal records nothing.
type nopJournal struct{}

func (nopJournal) Record(context.Context, bool, ...actions.Event) error { return nil }

// batchJournal keeps the kinds of every batch it is given, and how many
// requests the receiver had seen when the batch was durable.
type batchJournal struct {
	rc      *receiver
	mu      sync.Mutex
	batches [][]actions.EventKind
	seen    []int32
}

func (j *batchJournal) Record(_ context.Context, _ bool, evs ...actions.Event) error {
	var kinds []actions.EventKind
	for _, ev := range evs {
		kinds = append(kinds, ev.Kind)
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	j.batches = append(j.batches, kinds)
	j.seen = append(j.seen, j.rc.hits.Load())
	return nil
}

// The first request waits for one commit after the operator confirms:
// run_started, the first steps' planned events and the first attempt are
// one batch, and no request left before it was durable.
func TestFirstRequestFollowsOneCommit(t *testing.T) {
	defer actions.SetAttemptWait(time.Minute)() // the first attempt, however late, rides with the plan
	rc := newReceiver(t, status(204))
	f := setup(t, bearerTarget("a", rc.URL+"/gtr"), bearerTarget("b", rc.URL+"/gtr"), bearerTarget("c", rc.URL+"/gtr"))
	p := alicePlan(t, f)
	j := &batchJournal{rc: rc}
	st, err := (&actions.Executor{Journal: j}).Execute(context.Background(), p)
	if err != nil || st.Counts()[actions.Revoked] != 3 {
		t.Fatalf("err %v, counts %v", err, st.Counts())
	}
	want := []actions.EventKind{actions.KindRunStarted, actions.KindPlanned, actions.KindPlanned, actions.KindPlanned, actions.KindAttempt}
	if got := j.batches[0]; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("first batch %v, want %v", got, want)
	}
	if j.seen[0] != 0 {
		t.Fatalf("%d requests reached the app before the plan was recorded", j.seen[0])
	}
	if rc.hits.Load() != 3 {
		t.Fatalf("%d requests, want 3", rc.hits.Load())
	}
}

// alicePlan is the plan of a run for alice@example.com at every target
// of f.
func alicePlan(t *testing.T, f *config.File) *actions.Plan {
	t.Helper()
	p, err := actions.BuildPlan(context.Background(), actions.Request{
		Users: []string{"alice@example.com"}, Reason: "test",
		Targets: f.Targets, Defaults: f.Defaults, Getenv: getenv,
	}, actions.StaticDirectory{})
	if err != nil {
		t.Fatal(err)
	}
	return p
}
