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
// SIEM costs a run, and what a SIEM outage costs it: the fan-out of
// BenchmarkFanOut1000 (1,000 loopback targets answering after 50 ms,
// concurrency 64) run four times per iteration, in turn first, so a
// loaded machine slows them alike: with a log nobody forwards; with a log forwarded in RFC 5424
// to a syslog receiver on loopback TCP; with one forwarded to a port that
// refuses connections (a SIEM that is down); and with one forwarded to a
// receiver that accepts and never reads (a SIEM that hangs: its socket
// buffers fill and the writes wait out their deadline). Metrics: ms/run
// without forwarding; up-ms/run, refused-ms/run, blackhole-ms/run with
// each; x-up, x-refused, x-blackhole their ratio to ms/run (the goal: no
// measurable change, within the noise of 1.00). Afterwards the receiver
// that was up has every event, and the refused one is behind by every
// event of its log, none marked delivered.
func BenchmarkFanOutForwarded(b *testing.B) {
	const n, conc, delay = 1000, 64, 50 * time.Millisecond
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		time.Sleep(delay)
		w.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()
	listen := func() net.Listener {
		ln, err := (&net.ListenConfig{}).Listen(context.Background(), "tcp", "127.0.0.1:0")
		if err != nil {
			b.Fatal(err)
		}
		return ln
	}
	sink := listen()
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
	// A port nobody listens on: every dial is refused.
	closed := listen()
	refused := closed.Addr().String()
	_ = closed.Close()
	// A receiver that accepts and never reads.
	hole := listen()
	var held []net.Conn
	var heldMu sync.Mutex
	go func() {
		for {
			c, err := hole.Accept()
			if err != nil {
				return
			}
			heldMu.Lock()
			held = append(held, c)
			heldMu.Unlock()
		}
	}()
	defer func() {
		_ = hole.Close()
		heldMu.Lock()
		for _, c := range held {
			_ = c.Close()
		}
		heldMu.Unlock()
	}()

	dir := b.TempDir()
	dest := func(name, addr string) string {
		return fmt.Sprintf("[[forward]]\nname = %q\nformat = \"rfc5424\"\nurl = \"tcp://%s\"\n", name, addr)
	}
	f := fanOutTargets(b, dir, n, conc, srv.URL,
		dest("up", sink.Addr().String())+dest("refused", refused)+dest("blackhole", hole.Addr().String()))
	open := func(name string) *audit.Log {
		l, err := audit.Open(filepath.Join(dir, name))
		if err != nil {
			b.Fatal(err)
		}
		return l
	}
	plain := open("plain.db")
	logs := make([]*audit.Log, len(f.Forwards))
	fwds := make([]*forward.Forwarder, len(f.Forwards))
	for i, fw := range f.Forwards {
		logs[i] = open(fw.Name + ".db")
		fwds[i] = forward.New(logs[i], []forward.Destination{{Config: fw}}, forward.Options{})
		fwds[i].Start()
	}
	defer func() {
		for _, fwd := range fwds {
			if err := fwd.Close(); err != nil {
				b.Error(err)
			}
		}
		for _, l := range append(logs, plain) {
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
	// took[0] is the unforwarded run's, took[1+i] that of logs[i]. Each
	// iteration starts one further along, so that none of them always
	// runs while the one before it is still being forwarded.
	all := append([]*audit.Log{plain}, logs...)
	took := make([]time.Duration, len(all))
	b.ResetTimer()
	for it := range b.N {
		for k := range all {
			i := (it + k) % len(all)
			took[i] += run(all[i])
		}
	}
	none, with := took[0], took[1:]
	b.StopTimer()
	if st := fwds[0].Deliver(context.Background(), ""); !st[0].OK() {
		b.Fatalf("forwarding fell behind: %+v", st[0])
	}
	// While the SIEM is down the status is what the console shows: the
	// refused destination is behind by every event and marked delivered
	// for none; ulc audit forward sends them once it is back.
	head, _, err := logs[1].Head(context.Background())
	if err != nil {
		b.Fatal(err)
	}
	st, err := fwds[1].Probe(context.Background(), "")
	if err != nil || st[0].Behind != head || !strings.Contains(st[0].Error, "refused") {
		b.Errorf("refused: status %+v, %v with %d events in the log", st, err, head)
	} else {
		b.Logf("refused: %s", st[0].Line())
	}
	// The blackhole's socket buffers took what fitted: RFC 5425 has no
	// acknowledgement, so what was written more than the replay window
	// before counts as delivered.
	b.Logf("blackhole: %s", fwds[2].Status()[0].Line())
	per := func(d time.Duration) float64 { return float64(d) / float64(b.N) / float64(time.Millisecond) }
	b.ReportMetric(per(none), "ms/run")
	for i, fw := range f.Forwards {
		b.ReportMetric(per(with[i]), fw.Name+"-ms/run")
		b.ReportMetric(float64(with[i])/float64(none), "x-"+fw.Name)
	}
	b.ReportMetric(0, "ns/op") // the iteration holds four runs: the ms/run metrics say each
}
