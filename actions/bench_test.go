package actions_test

import (
	"context"
	"fmt"
	"io"
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
	"ulc/forward"
)

// BenchmarkFanOut1000 revokes one user at 1,000 loopback targets that each
// answer after 50 ms, with the audit log (durable plan, durable attempts,
// group commit, fsync) included, and in the same iteration sends the same
// 1,000 requests with a bare net/http sender (no plan, no audit log, no
// retries) to the same receivers, so that a loaded machine slows both alike.
// Metrics: ms/run is ulc's wall time from Execute to the last answer
// recorded; ref-ms/run the bare sender's; x-ref their ratio (the goal is
// 1.15 or less); first-req-ms the time from Execute to the first request
// reaching a receiver (the goal is 5 ms or less).
func BenchmarkFanOut1000(b *testing.B) {
	for _, conc := range []int{1000, 64} {
		b.Run(fmt.Sprintf("concurrency=%d", conc), func(b *testing.B) {
			benchFanOut(b, 1000, conc, 50*time.Millisecond)
		})
	}
}

func benchFanOut(b *testing.B, n, conc int, delay time.Duration) {
	var first atomic.Int64 // unix nanoseconds of the iteration's first request
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		first.CompareAndSwap(0, time.Now().UnixNano())
		_, _ = io.Copy(io.Discard, r.Body)
		time.Sleep(delay)
		w.WriteHeader(http.StatusNoContent)
	}))
	srv.Config.MaxHeaderBytes = 1 << 14
	srv.Start()
	defer srv.Close()

	dir := b.TempDir()
	f := fanOutTargets(b, dir, n, conc, srv.URL, "")
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
	ref := newBareSender(conc)
	urls := make([]string, n)
	for i := range urls {
		urls[i] = fmt.Sprintf("%s/gtr/%d", srv.URL, i)
	}

	var ulcTime, refTime, firstReq time.Duration
	b.ResetTimer()
	for range b.N {
		p, err := actions.BuildPlan(context.Background(), actions.Request{
			Users: []string{"neo@example.com"}, Reason: "bench",
			Targets: f.Targets, Defaults: f.Defaults, Getenv: getenv,
		}, actions.StaticDirectory{})
		if err != nil {
			b.Fatal(err)
		}
		first.Store(0)
		start := time.Now()
		st, err := x.Execute(context.Background(), p)
		if err != nil {
			b.Fatal(err)
		}
		if err := log.Flush(context.Background()); err != nil {
			b.Fatal(err)
		}
		ulcTime += time.Since(start)
		firstReq += time.Duration(first.Load() - start.UnixNano())
		if c := st.Counts()[actions.Revoked]; c != n {
			b.Fatalf("%d of %d revoked: %v", c, n, st.Counts())
		}

		start = time.Now()
		if ok := ref.send(urls, `{"sub_id":{"format":"email","email":"neo@example.com"}}`); ok != n {
			b.Fatalf("the bare sender got %d of %d answers", ok, n)
		}
		refTime += time.Since(start)
	}
	b.StopTimer()
	per := func(d time.Duration) float64 { return float64(d) / float64(b.N) / float64(time.Millisecond) }
	b.ReportMetric(per(ulcTime), "ms/run")
	b.ReportMetric(per(refTime), "ref-ms/run")
	b.ReportMetric(float64(ulcTime)/float64(refTime), "x-ref")
	b.ReportMetric(per(firstReq), "first-req-ms")
	b.ReportMetric(0, "ns/op") // the iteration holds both senders: ms/run and ref-ms/run say it
}

// fanOutTargets writes and loads a targets.toml in dir of n GTR targets
// at base/gtr/I with concurrency conc, followed by extra.
func fanOutTargets(b *testing.B, dir string, n, conc int, base, extra string) *config.File {
	b.Helper()
	var src strings.Builder
	fmt.Fprintf(&src, "[defaults]\ntimeout = \"10s\"\nconcurrency = %d\n", conc)
	for i := range n {
		fmt.Fprintf(&src, "[[target]]\nname = \"app-%04d\"\nurl = \"%s/gtr/%d\"\ntoken_env = \"T_TOKEN\"\n", i, base, i)
	}
	src.WriteString(extra)
	path := filepath.Join(dir, "targets.toml")
	if err := os.WriteFile(path, []byte(src.String()), 0o600); err != nil {
		b.Fatal(err)
	}
	f, err := config.Load(path)
	if err != nil {
		b.Fatal(err)
	}
	return f
}

// bareSender is the reference the fan-out is measured against: the
// minimal program that sends the same requests, plain net/http with a pool
// of conc goroutines and nothing recorded.
type bareSender struct {
	client *http.Client
	conc   int
}

func newBareSender(conc int) *bareSender {
	return &bareSender{conc: conc, client: &http.Client{Transport: &http.Transport{
		MaxIdleConns: 1024, MaxIdleConnsPerHost: 1024, IdleConnTimeout: 30 * time.Second,
	}}}
}

// send POSTs body to every URL, conc at a time, and returns how many
// answered 204.
func (s *bareSender) send(urls []string, body string) int {
	var ok atomic.Int64
	work := make(chan string)
	var wg sync.WaitGroup
	for range min(s.conc, len(urls)) {
		wg.Go(func() {
			for u := range work {
				req, err := http.NewRequestWithContext(context.Background(), http.MethodPost, u, strings.NewReader(body))
				if err != nil {
					continue
				}
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("Authorization", "Bearer bench")
				resp, err := s.client.Do(req)
				if err != nil {
					continue
				}
				_ = resp.Body.Close()
				if resp.StatusCode == http.StatusNoContent {
					ok.Add(1)
				}
			}
		})
	}
	for _, u := range urls {
		work <- u
	}
	close(work)
	wg.Wait()
	return int(ok.Load())
}

// BenchmarkFanOutForwarded measures what forwarding the audit log to a
// SIEM costs a run: the fan-out of BenchmarkFanOut1000 (1,000 loopback
// targets answering after 50 ms, concurrency 64) run twice per iteration,
// once with a log nobody forwards and once with a log whose every commit
// is forwarded in RFC 5424 to a syslog receiver on loopback TCP, so a
// loaded machine slows both alike. Metrics: ms/run without forwarding,
// fwd-ms/run with it, x-none their ratio (the goal: no measurable change,
// within the noise of 1.00).
func BenchmarkFanOutForwarded(b *testing.B) {
	const n, conc, delay = 1000, 64, 50 * time.Millisecond
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		time.Sleep(delay)
		w.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()
	sink, err := (&net.ListenConfig{}).Listen(context.Background(), "tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer func() { _ = sink.Close() }()
	var received atomic.Int64
	go func() {
		for {
			c, err := sink.Accept()
			if err != nil {
				return
			}
			go func() {
				n, _ := io.Copy(io.Discard, c)
				received.Add(n)
				_ = c.Close()
			}()
		}
	}()

	dir := b.TempDir()
	f := fanOutTargets(b, dir, n, conc, srv.URL,
		fmt.Sprintf("[[forward]]\nname = \"siem\"\nformat = \"rfc5424\"\nurl = \"tcp://%s\"\n", sink.Addr()))
	open := func(name string) *audit.Log {
		l, err := audit.Open(filepath.Join(dir, name))
		if err != nil {
			b.Fatal(err)
		}
		return l
	}
	plain, forwarded := open("plain.db"), open("forwarded.db")
	fwd := forward.New(forwarded, []forward.Destination{{Config: f.Forwards[0]}}, forward.Options{})
	fwd.Start()
	defer func() {
		if err := fwd.Close(); err != nil {
			b.Error(err)
		}
		for _, l := range []*audit.Log{plain, forwarded} {
			if err := l.Close(); err != nil {
				b.Errorf("closing the audit log: %v", err)
			}
		}
	}()
	run := func(l *audit.Log) time.Duration {
		p, err := actions.BuildPlan(context.Background(), actions.Request{
			Users: []string{"neo@example.com"}, Reason: "bench",
			Targets: f.Targets, Defaults: f.Defaults, Getenv: getenv,
		}, actions.StaticDirectory{})
		if err != nil {
			b.Fatal(err)
		}
		start := time.Now()
		st, err := (&actions.Executor{Journal: l}).Execute(context.Background(), p)
		if err != nil {
			b.Fatal(err)
		}
		if err := l.Flush(context.Background()); err != nil {
			b.Fatal(err)
		}
		took := time.Since(start)
		if c := st.Counts()[actions.Revoked]; c != n {
			b.Fatalf("%d of %d revoked: %v", c, n, st.Counts())
		}
		return took
	}
	var none, with time.Duration
	b.ResetTimer()
	for range b.N {
		none += run(plain)
		with += run(forwarded)
	}
	b.StopTimer()
	if st := fwd.Deliver(context.Background(), ""); !st[0].OK() {
		b.Fatalf("forwarding fell behind: %+v", st[0])
	}
	per := func(d time.Duration) float64 { return float64(d) / float64(b.N) / float64(time.Millisecond) }
	b.ReportMetric(per(none), "ms/run")
	b.ReportMetric(per(with), "fwd-ms/run")
	b.ReportMetric(float64(with)/float64(none), "x-none")
	b.ReportMetric(0, "ns/op") // the iteration holds both runs: ms/run and fwd-ms/run say it
}
