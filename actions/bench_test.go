package actions_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"ulc/actions"
	"ulc/audit"
	"ulc/config"
)

// BenchmarkFanOut1000 revokes one user at 1,000 loopback targets that each
// answer after 50 ms, with the audit log (group commit, fsync) included.
// ratio is the wall time of one run over the 50 ms a single answer takes.
func BenchmarkFanOut1000(b *testing.B) {
	for _, conc := range []int{1000, 64} {
		b.Run(fmt.Sprintf("concurrency=%d", conc), func(b *testing.B) {
			benchFanOut(b, 1000, conc, 50*time.Millisecond)
		})
	}
}

func benchFanOut(b *testing.B, n, conc int, delay time.Duration) {
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		time.Sleep(delay)
		w.WriteHeader(http.StatusNoContent)
	}))
	srv.Config.MaxHeaderBytes = 1 << 14
	srv.Start()
	defer srv.Close()

	var src strings.Builder
	fmt.Fprintf(&src, "[defaults]\ntimeout = \"10s\"\nconcurrency = %d\n", conc)
	for i := range n {
		fmt.Fprintf(&src, "[[target]]\nname = \"app-%04d\"\nurl = \"%s/gtr/%d\"\ntoken_env = \"T_TOKEN\"\n", i, srv.URL, i)
	}
	dir := b.TempDir()
	path := filepath.Join(dir, "targets.toml")
	if err := os.WriteFile(path, []byte(src.String()), 0o600); err != nil {
		b.Fatal(err)
	}
	f, err := config.Load(path)
	if err != nil {
		b.Fatal(err)
	}
	log, err := audit.Open(filepath.Join(dir, "audit.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer func() {
		if err := log.Close(); err != nil {
			b.Errorf("closing the audit log: %v", err)
		}
	}()
	x := &actions.Executor{Journal: log}

	b.ResetTimer()
	for range b.N {
		p, err := actions.BuildPlan(context.Background(), actions.Request{
			Users: []string{"neo@example.com"}, Reason: "bench",
			Targets: f.Targets, Defaults: f.Defaults, Getenv: getenv,
		}, actions.StaticDirectory{})
		if err != nil {
			b.Fatal(err)
		}
		st, err := x.Execute(context.Background(), p)
		if err != nil {
			b.Fatal(err)
		}
		if err := log.Flush(context.Background()); err != nil {
			b.Fatal(err)
		}
		if c := st.Counts()[actions.Revoked]; c != n {
			b.Fatalf("%d of %d revoked: %v", c, n, st.Counts())
		}
	}
	perRun := b.Elapsed() / time.Duration(b.N)
	b.ReportMetric(float64(perRun.Milliseconds()), "ms/run")
	b.ReportMetric(float64(perRun)/float64(delay), "ratio")
}
