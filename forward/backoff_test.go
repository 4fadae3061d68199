package forward

import (
	"strings"
	"sync"
	"testing"
	"time"

	"ulc/config"
	"ulc/internal/siemtest"
)

// TestResumesAfterTheReceiverRestartsMidStream: a run keeps recording
// while its receiver is stopped and started again on the same port, three
// times; the background delivery picks up each time and, once the run is
// over, every event has arrived, each with its seq and hash.
func TestResumesAfterTheReceiverRestartsMidStream(t *testing.T) {
	for _, network := range []string{"tls", "tcp"} {
		t.Run(network, func(t *testing.T) {
			rcv, d := syslogDest(t, network)
			l := newLog(t)
			f := newForwarder(t, l, d)
			f.Start()

			var mu sync.Mutex
			var head int64
			record := func(n int) {
				h := recordRun(t, l, n)
				mu.Lock()
				head = h
				mu.Unlock()
			}
			arrived := func() int { return len(seqs(t, rcv.Messages())) }
			record(1)
			for cycle := range 3 {
				mu.Lock()
				want := int(head)
				mu.Unlock()
				siemtest.WaitFor(t, "the events before the outage to arrive", func() bool { return arrived() >= want })
				rcv.Stop()
				record(2)
				siemtest.WaitFor(t, "the status to show the outage", func() bool { return !f.Status()[0].OK() })
				rcv.Start()
				record(1) // the run goes on as the receiver comes back
				t.Logf("cycle %d: %s", cycle, f.Status()[0].Line())
			}
			mu.Lock()
			final := head
			mu.Unlock()
			siemtest.WaitFor(t, "every event to arrive after the last restart", func() bool {
				return arrived() == int(final) && f.Status()[0].OK()
			})
			dups := wantEvery(t, l, seqs(t, rcv.Messages()), final)
			t.Logf("%d events, %d duplicates", final, dups)
		})
	}
}

// waits stands in for time.After in the background delivery: each wait it
// is asked for is handed to the test, which ends it when it chooses.
type waits struct {
	asked chan wait
}

type wait struct {
	d    time.Duration
	done chan time.Time
}

func newWaits(f *Forwarder) *waits {
	w := &waits{asked: make(chan wait, 100)}
	f.after = func(d time.Duration) <-chan time.Time {
		c := make(chan time.Time, 1)
		w.asked <- wait{d, c}
		return c
	}
	return w
}

// next returns the next wait the delivery asked for.
func (w *waits) next(t *testing.T) wait {
	t.Helper()
	select {
	case x := <-w.asked:
		return x
	case <-time.After(20 * time.Second):
		t.Fatal("gave up waiting for the delivery to back off")
	}
	return wait{}
}

// none fails if the delivery asked for a wait the test did not expect.
func (w *waits) none(t *testing.T) {
	t.Helper()
	select {
	case x := <-w.asked:
		t.Errorf("an unexpected wait of %v", x.d)
	default:
	}
}

// TestBackoffWhileTheReceiverIsDown: while the receiver refuses
// connections each retry waits twice as long as the one before, from
// MinBackoff up to MaxBackoff and no longer, less up to half of it; the
// commits of a run in the meantime do not try again, but the status
// counts them as behind. Once the receiver is back the next retry delivers
// everything, and the next outage starts again from MinBackoff. The waits
// are the test's: nothing here depends on the clock.
func TestBackoffWhileTheReceiverIsDown(t *testing.T) {
	const minB, maxB = time.Hour, 8 * time.Hour
	rcv := siemtest.NewSyslog(t, "tcp", nil)
	rcv.Stop() // down from the start, on the port the destination names
	l := newLog(t)
	head := recordRun(t, l, 1)
	f := New(l, []Destination{{Config: fw("siem", config.FormatRFC5424, "tcp://"+rcv.Addr())}},
		Options{Meta: sampleMeta, MinBackoff: minB, MaxBackoff: maxB})
	t.Cleanup(func() {
		if err := f.Close(); err != nil {
			t.Error(err)
		}
	})
	w := newWaits(f)
	f.Start()

	within := func(got wait, base time.Duration) {
		t.Helper()
		if got.d < base/2 || got.d > base {
			t.Errorf("waited %v, want between %v and %v", got.d, base/2, base)
		}
	}
	var last wait
	for i, base := range []time.Duration{minB, 2 * minB, 4 * minB, maxB, maxB, maxB} {
		last = w.next(t)
		within(last, base)
		if s := f.Status()[0]; s.OK() || !strings.Contains(s.Error, "refused") || s.Behind != head {
			t.Errorf("failure %d: status %+v, want refused and %d behind", i+1, s, head)
		}
		if i < 5 {
			last.done <- time.Now()
		}
	}
	// A run commits while a retry is due: no attempt, a new behind count.
	head = recordRun(t, l, 2)
	siemtest.WaitFor(t, "the status to count the new events", func() bool { return f.Status()[0].Behind == head })
	w.none(t)

	rcv.Start()
	last.done <- time.Now()
	siemtest.WaitFor(t, "every event after the retry", func() bool {
		return len(seqs(t, rcv.Messages())) == int(head) && f.Status()[0].OK()
	})
	w.none(t)
	if dups := wantEvery(t, l, seqs(t, rcv.Messages()), head); dups != 0 {
		t.Errorf("%d duplicates of events sent to a receiver that stayed up", dups)
	}

	// The next outage backs off from MinBackoff again.
	rcv.Stop()
	head = recordRun(t, l, 1)
	within(w.next(t), minB)
	w.none(t)
}
