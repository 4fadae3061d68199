package tui

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"charm.land/bubbles/v2/cursor"
	"charm.land/bubbles/v2/spinner"
	tea "charm.land/bubbletea/v2"

	"ulc/actions/okta"
	"ulc/sandbox/oktafake"
)

// BenchmarkSearch100k is search as you type against the Okta stand-in
// holding 100,000 people, through the real Okta client, on 127.0.0.1: per
// iteration a query (a generated person's last name) is typed and the time
// from its last key to the screen showing its answer is taken. The console
// runs as tea.Program runs it (Update and View on one goroutine, commands
// on others), with the console's own debounce (searchDebounce).
//
// Metrics per query: ms/key, the whole time; okta-ms/key, the stand-in's
// (its handler's time: what Okta itself would take); ulc-ms/key, the rest
// (debounce, the client, the console), the goal being 150 ms; and
// ulc-ms/key-no-debounce, that without the debounce.
func BenchmarkSearch100k(b *testing.B) {
	fake := oktafake.New(oktafake.Options{People: 100_000})
	const token = "00bench-search-token"
	fake.AddToken(token)
	fake.SetRateLimit(1_000_000, time.Minute) // the benchmark measures answers, not Okta's budget
	var served atomic.Int64                   // nanoseconds spent in the stand-in's handler
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		fake.ServeHTTP(w, r)
		served.Add(int64(time.Since(start)))
	}))
	defer srv.Close()
	ctx := context.Background()
	client, err := okta.Connect(ctx, okta.Settings{OrgURL: srv.URL, Token: token})
	if err != nil {
		b.Fatal(err)
	}
	var names []string
	seen := map[string]bool{}
	for _, p := range fake.People() {
		if n := strings.ToLower(p.LastName); len(n) >= 4 && !seen[n] {
			seen[n] = true
			names = append(names, n)
		}
	}
	if len(names) < 10 {
		b.Fatalf("only %d distinct last names in the stand-in", len(names))
	}

	ui := newUIRunner(New(Deps{Directory: client, OrgURL: srv.URL}))
	ui.send(tea.WindowSizeMsg{Width: 120, Height: 40})
	ui.run(ui.m.Init())
	var total, okta time.Duration
	b.ResetTimer()
	for i := range b.N {
		q := names[i%len(names)]
		// Clear the box, then type the query a key at a time.
		for range 40 {
			ui.key(tea.KeyPressMsg{Code: tea.KeyBackspace})
		}
		ui.drain()
		served.Store(0)
		for _, r := range q[:len(q)-1] {
			ui.key(tea.KeyPressMsg{Code: r, Text: string(r)})
		}
		last := q[len(q)-1]
		start := time.Now()
		ui.key(tea.KeyPressMsg{Code: rune(last), Text: string(last)})
		search := ui.m.tabs[0].(*searchScreen)
		ui.until(func() bool { return search.query == q && !search.loading && answered(ui.view()) })
		total += time.Since(start)
		okta += time.Duration(served.Load())
	}
	b.StopTimer()
	per := func(d time.Duration) float64 { return float64(d) / float64(b.N) / float64(time.Millisecond) }
	b.ReportMetric(per(total), "ms/key")
	b.ReportMetric(per(okta), "okta-ms/key")
	b.ReportMetric(per(total-okta), "ulc-ms/key")
	b.ReportMetric(per(total-okta)-float64(searchDebounce)/float64(time.Millisecond), "ulc-ms/key-no-debounce")
	b.ReportMetric(0, "ns/op")
}

// answered reports whether the search screen shows a count of results.
func answered(view string) bool {
	return strings.Contains(view, " people") || strings.Contains(view, "1 person")
}

// uiRunner runs a Model as tea.Program does, without a terminal: Update
// and View on the caller's goroutine, each command on its own goroutine,
// their messages fed back in arrival order. Animation ticks are dropped.
type uiRunner struct {
	m    Model
	msgs chan tea.Msg
}

func newUIRunner(m Model) *uiRunner { return &uiRunner{m: m, msgs: make(chan tea.Msg, 1024)} }

func (u *uiRunner) send(msg tea.Msg) {
	switch msg := msg.(type) {
	case nil, spinner.TickMsg, cursor.BlinkMsg:
		return
	case tea.BatchMsg:
		for _, c := range msg {
			u.run(c)
		}
		return
	}
	m, cmd := u.m.Update(msg)
	u.m = m.(Model)
	u.run(cmd)
}

func (u *uiRunner) run(cmd tea.Cmd) {
	if cmd != nil {
		go func() { u.msgs <- cmd() }()
	}
}

func (u *uiRunner) key(k tea.KeyPressMsg) { u.send(k) }

func (u *uiRunner) view() string { return u.m.View().Content }

// drain delivers what is queued now.
func (u *uiRunner) drain() {
	for {
		select {
		case msg := <-u.msgs:
			u.send(msg)
		default:
			return
		}
	}
}

// until delivers messages until cond holds, rendering after each as the
// program would.
func (u *uiRunner) until(cond func() bool) {
	deadline := time.After(30 * time.Second)
	for !cond() {
		select {
		case msg := <-u.msgs:
			u.send(msg)
			_ = u.view()
		case <-deadline:
			panic("the console did not show the answer within 30 s:\n" + u.view())
		}
	}
}
