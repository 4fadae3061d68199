package backend

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"ulc/actions"
)

const testToken = "backend-test-token-5e1f"

// receivers are GTR endpoints whose answer the test sets per target.
type receivers struct {
	mu     sync.Mutex
	status map[string]int
	got    map[string]int // requests per target
}

func (r *receivers) set(target string, code int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.status[target] = code
}

func (r *receivers) hits(target string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.got[target]
}

// open starts one receiver per target and opens a backend on them with a
// fresh audit log.
func open(t *testing.T, targets ...string) (*Backend, *receivers) {
	t.Helper()
	rs := &receivers{status: map[string]int{}, got: map[string]int{}}
	dir := t.TempDir()
	var cfg strings.Builder
	cfg.WriteString("[defaults]\ntimeout = \"5s\"\nretries = 0\n")
	for _, name := range targets {
		rs.status[name] = 204
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
			rs.mu.Lock()
			rs.got[name]++
			code := rs.status[name]
			rs.mu.Unlock()
			if req.Header.Get("Authorization") != "Bearer "+testToken {
				code = 401
			}
			w.WriteHeader(code)
		}))
		t.Cleanup(srv.Close)
		fmt.Fprintf(&cfg, "\n[[target]]\nname = %q\nurl = %q\ntoken_env = \"TEST_TOKEN\"\n", name, srv.URL+"/gtr")
	}
	return openWith(t, dir, cfg.String()), rs
}

// openWith writes cfg as dir's targets.toml and opens a backend on it with
// a fresh audit log in dir; TEST_TOKEN holds testToken.
func openWith(t *testing.T, dir, cfg string) *Backend {
	t.Helper()
	path := filepath.Join(dir, "targets.toml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"TEST_TOKEN": testToken}
	b, err := Open(context.Background(), Options{
		ConfigPath: path, Audit: AuditWrite, AuditPath: filepath.Join(dir, "audit.db"),
		Getenv: func(k string) string { return env[k] }, Operator: "analyst", Host: "test", Version: "test",
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := b.Close(); err != nil {
			t.Errorf("closing the backend: %v", err)
		}
	})
	return b
}

// run plans and executes r and returns the run's state.
func run(t *testing.T, b *Backend, p *actions.Plan) *actions.RunState {
	t.Helper()
	st, err := b.Execute(context.Background(), p, func(actions.Event) {})
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func targetsOf(p *actions.Plan) []string {
	var out []string
	for _, s := range p.Steps {
		out = append(out, s.Target)
	}
	slices.Sort(out)
	return out
}

// Resuming a run sends only what has succeeded neither there nor in any
// run that already resumed it, however the run is named: the console's R
// and ulc resume both come here.
func TestResumeFollowsTheWholeChain(t *testing.T) {
	b, rs := open(t, "chat", "wiki", "mail")
	ctx := context.Background()
	rs.set("chat", 503)
	rs.set("wiki", 503)
	p, err := b.Plan(ctx, actions.RunRequest{Refs: []string{"neo@example.com"}, Reason: "phished",
		Ticket: "INC-1", Targets: []string{"chat", "wiki", "mail"}})
	if err != nil {
		t.Fatal(err)
	}
	first := run(t, b, p)
	if first.AllSucceeded() {
		t.Fatal("the first run succeeded although chat and wiki answered 503")
	}

	// chat recovers: resuming the first run sends chat and wiki, not mail.
	rs.set("chat", 204)
	p, err = b.Resume(ctx, first.RunID, false)
	if err != nil {
		t.Fatal(err)
	}
	if got := targetsOf(p); !slices.Equal(got, []string{"chat", "wiki"}) {
		t.Fatalf("the first resume sends to %v, want chat and wiki", got)
	}
	if p.Info.ResumeOf != first.RunID || p.Info.Reason != "phished" || p.Info.Ticket != "INC-1" {
		t.Errorf("the resume is not linked to its run: %+v", p.Info)
	}
	second := run(t, b, p)

	// Resuming the first run again must not send chat again: the second
	// run fixed it. The same holds when the second run is resumed.
	for _, id := range []string{first.RunID, second.RunID, first.RunID[:len(first.RunID)-2]} {
		p, err = b.Resume(ctx, id, false)
		if err != nil {
			t.Fatalf("resume %s: %v", id, err)
		}
		if got := targetsOf(p); !slices.Equal(got, []string{"wiki"}) {
			t.Errorf("resume %s sends to %v, want only wiki", id, got)
		}
	}

	rs.set("wiki", 204)
	chatBefore := rs.hits("chat")
	run(t, b, p)
	if rs.hits("chat") != chatBefore {
		t.Error("resuming sent to chat again after an earlier resume revoked it")
	}
	_, err = b.Resume(ctx, first.RunID, false)
	if !errors.Is(err, actions.ErrNothingToResume) || ClassOf(err) != ClassUsage {
		t.Fatalf("resuming a run whose every step succeeded somewhere: %v, want ErrNothingToResume", err)
	}
}

// A dry run is recorded and sends nothing; resuming it is refused.
func TestResumeRefusesADryRun(t *testing.T) {
	b, rs := open(t, "chat")
	ctx := context.Background()
	p, err := b.Plan(ctx, actions.RunRequest{Refs: []string{"neo@example.com"}, Reason: "drill", Targets: []string{"chat"}, DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	st := run(t, b, p)
	if rs.hits("chat") != 0 {
		t.Fatal("a dry run sent a request")
	}
	if _, err := b.Resume(ctx, st.RunID, false); err == nil || !strings.Contains(err.Error(), "dry run") {
		t.Fatalf("resuming a dry run: %v", err)
	}
}

// An empty target list means no target. (It used to mean every enabled
// target, so switching every target off in the console and keeping only
// the Okta steps sent to all of them.)
func TestNoTargetsMeansNone(t *testing.T) {
	b, rs := open(t, "chat", "wiki")
	_, err := b.Plan(context.Background(), actions.RunRequest{Refs: []string{"neo@example.com"}, Reason: "drill"})
	if err == nil || !strings.Contains(err.Error(), "nothing to do") {
		t.Fatalf("a plan without targets or Okta steps: %v, want 'nothing to do'", err)
	}
	if rs.hits("chat")+rs.hits("wiki") != 0 {
		t.Fatal("planning sent a request")
	}
}

// Okta steps without an Okta connection are a usage error, not a run.
func TestOktaStepsNeedOkta(t *testing.T) {
	b, _ := open(t, "chat")
	_, err := b.Plan(context.Background(), actions.RunRequest{Refs: []string{"neo@example.com"}, Reason: "drill",
		OktaSteps: []actions.Action{actions.ActionClearSessions}, Targets: []string{"chat"}})
	if err == nil || ClassOf(err) != ClassUsage {
		t.Fatalf("Okta steps without Okta: %v (class %d), want a usage error", err, ClassOf(err))
	}
}

// Users files from spreadsheets start with a byte-order mark; an
// identifier with an invisible character would reach the apps as another
// email, answer 404 and be reported not found: it is refused with its line.
func TestReadUsers(t *testing.T) {
	got, err := ReadUsers(strings.NewReader("\uFEFFneo@example.com\r\n# leavers\n\ntrinity@example.com # phished\n"), "leavers.txt")
	if err != nil || !slices.Equal(got, []string{"neo@example.com", "trinity@example.com"}) {
		t.Fatalf("ReadUsers = %q, %v", got, err)
	}
	for name, c := range map[string]struct{ in, says string }{
		"zero-width space": {"neo@example.com\ntrin\u200bity@example.com\n", "leavers.txt:2"},
		"bidi override":    {"\u202Emoc.elpmaxe@oen\n", "U+202E"},
		"BOM mid-file":     {"neo@example.com\n\uFEFFtrinity@example.com\n", "U+FEFF"},
		"two users a line": {"neo@example.com trinity@example.com\n", "one user per line"},
		"invalid UTF-8":    {"neo\xff@example.com\n", "not valid UTF-8"},
		"escape sequence":  {"neo\x1b]52;c;aGk=\x07@example.com\n", "invisible character"},
	} {
		_, err := ReadUsers(strings.NewReader(c.in), "leavers.txt")
		if err == nil || !strings.Contains(err.Error(), c.says) || ClassOf(err) != ClassUsage {
			t.Errorf("%s: %v, want a usage error saying %q", name, err, c.says)
			continue
		}
		if strings.ContainsAny(err.Error(), "\x1b\x07\u202e\u200b") {
			t.Errorf("%s: the error echoes the invisible character: %q", name, err)
		}
	}
}
