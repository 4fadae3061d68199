package backend

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
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

// dyingJournal is the audit log of a process that dies while its plan is
// being recorded: the batch that holds the planned event of step cut waits
// until results of the first steps are in (requests are out meanwhile),
// then the process is gone: that batch and everything after it are never
// written.
type dyingJournal struct {
	j        actions.Journal
	cut      int
	answered chan struct{} // closed once results are in

	mu      sync.Mutex
	results int
	dead    bool
}

func (d *dyingJournal) Record(ctx context.Context, wait bool, evs ...actions.Event) error {
	for _, ev := range evs {
		if ev.Kind == actions.KindPlanned && ev.Step >= d.cut {
			<-d.answered
			d.mu.Lock()
			d.dead = true
			d.mu.Unlock()
		}
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.dead {
		return errors.New("the process is gone")
	}
	for _, ev := range evs {
		if ev.Kind == actions.KindResult {
			if d.results++; d.results == 10 {
				close(d.answered)
			}
		}
	}
	return d.j.Record(ctx, wait, evs...)
}

// A run whose process died while its plan was still being recorded (the
// first steps planned and sent, the rest not yet in the log) is resumed
// with exactly what is left: the steps that never made it into the log and
// those that did not succeed, never one that was revoked.
func TestResumeOfARunKilledWhileRecordingItsPlan(t *testing.T) {
	const users, targets = 40, 3
	var mu sync.Mutex
	hits := map[string]int{} // "user target" → requests
	var cfg strings.Builder
	cfg.WriteString("[defaults]\ntimeout = \"5s\"\nretries = 0\nconcurrency = 8\n")
	for i := range targets {
		name := fmt.Sprintf("app-%d", i)
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			var body struct {
				SubID struct {
					Email string `json:"email"`
				} `json:"sub_id"`
			}
			b, _ := io.ReadAll(r.Body)
			if r.Header.Get("Authorization") != "Bearer "+testToken || json.Unmarshal(b, &body) != nil {
				w.WriteHeader(http.StatusUnauthorized)
				return
			}
			mu.Lock()
			hits[body.SubID.Email+" "+name]++
			mu.Unlock()
			w.WriteHeader(http.StatusNoContent)
		}))
		t.Cleanup(srv.Close)
		fmt.Fprintf(&cfg, "\n[[target]]\nname = %q\nurl = %q\ntoken_env = \"TEST_TOKEN\"\n", name, srv.URL+"/gtr")
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "targets.toml")
	if err := os.WriteFile(path, []byte(cfg.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	b, err := Open(context.Background(), Options{
		ConfigPath: path, Audit: AuditWrite, AuditPath: filepath.Join(dir, "audit.db"),
		Getenv: func(string) string { return testToken }, Operator: "analyst", Host: "test", Version: "test",
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Close() })
	ctx := context.Background()

	var refs, names []string
	for i := range users {
		refs = append(refs, fmt.Sprintf("user%02d@example.com", i))
	}
	for i := range targets {
		names = append(names, fmt.Sprintf("app-%d", i))
	}
	p, err := b.Plan(ctx, actions.RunRequest{Refs: refs, Reason: "offboarding", Targets: names})
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Steps) != users*targets {
		t.Fatalf("planned %d steps, want %d", len(p.Steps), users*targets)
	}
	// The process dies when the plan's second chunk is due: the steps after
	// the first chunk are never recorded.
	x := &actions.Executor{Journal: &dyingJournal{j: b.log, cut: 60, answered: make(chan struct{})}}
	if _, err := x.Execute(ctx, p); !errors.Is(err, actions.ErrAudit) {
		t.Fatalf("the dying run ended with %v, want an audit failure", err)
	}
	if err := b.log.Flush(ctx); err != nil {
		t.Fatal(err)
	}

	st, _, err := b.log.Run(ctx, p.RunID)
	if err != nil {
		t.Fatal(err)
	}
	st.Settle()
	if st.Unrecorded() == 0 || len(st.Steps) == 0 {
		t.Fatalf("the log holds %d of %d steps: the test did not cut the plan short", len(st.Steps), len(p.Steps))
	}
	revoked := map[string]bool{}
	for _, s := range st.Steps {
		if s.Outcome == actions.Revoked {
			revoked[s.User+" "+s.Target] = true
		}
	}
	if len(revoked) == 0 {
		t.Fatal("nothing was revoked before the process died: the test shows nothing")
	}
	mu.Lock()
	for k, n := range hits {
		if !revoked[k] && n > 0 {
			// Sent but not recorded as revoked: only possible for a step
			// whose planned event made it into the log.
			u, tg, _ := strings.Cut(k, " ")
			if !slices.ContainsFunc(st.Steps, func(s *actions.StepState) bool { return s.User == u && s.Target == tg }) {
				t.Errorf("%s was sent although its step was never recorded as planned", k)
			}
		}
	}
	mu.Unlock()

	p, err = b.Resume(ctx, p.RunID, false)
	if err != nil {
		t.Fatal(err)
	}
	if want := users*targets - len(revoked); len(p.Steps) != want {
		t.Errorf("the resume plans %d steps, want %d (all but the %d revoked)", len(p.Steps), want, len(revoked))
	}
	for _, s := range p.Steps {
		if revoked[s.User.Key()+" "+s.Target] {
			t.Errorf("the resume sends %s to %s again, which was revoked", s.User.Key(), s.Target)
		}
	}
	if st := run(t, b, p); !st.AllSucceeded() {
		t.Fatalf("the resumed run: %v", st.Counts())
	}
	mu.Lock()
	defer mu.Unlock()
	for _, u := range refs {
		for _, tg := range names {
			k := u + " " + tg
			switch n := hits[k]; {
			case n == 0:
				t.Errorf("%s never reached %s", u, tg)
			case revoked[k] && n != 1:
				t.Errorf("%s reached %s %d times, although the first run revoked it", u, tg, n)
			}
		}
	}
}
