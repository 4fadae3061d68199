package forward

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"ulc/audit"
	"ulc/config"
	"ulc/internal/siemtest"
)

func newLog(t *testing.T) *audit.Log {
	t.Helper()
	l, err := audit.Open(filepath.Join(t.TempDir(), "audit.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := l.Close(); err != nil {
			t.Error(err)
		}
	})
	return l
}

// recordRun records the sample run's events (n copies of it) and returns
// the log's head seq.
func recordRun(t *testing.T, l *audit.Log, n int) int64 {
	t.Helper()
	for range n {
		for _, ev := range sampleRun(t) {
			ev.Seq = 0
			if err := l.Record(context.Background(), true, ev.Event); err != nil {
				t.Fatal(err)
			}
		}
	}
	head, _, err := l.Head(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return head
}

func fw(name, format, url string) config.Forward {
	scheme, host, _ := strings.Cut(url, "://")
	host, _, _ = strings.Cut(host, "/")
	return config.Forward{Name: name, Format: format, URL: url, Scheme: scheme, Host: host, File: "targets.toml", Line: 1}
}

func newForwarder(t *testing.T, l *audit.Log, dests ...Destination) *Forwarder {
	t.Helper()
	f := New(l, dests, Options{Meta: sampleMeta, MinBackoff: 20 * time.Millisecond, MaxBackoff: 100 * time.Millisecond})
	t.Cleanup(func() {
		if err := f.Close(); err != nil {
			t.Error(err)
		}
	})
	return f
}

// wantEvery fails unless every seq 1..head arrived, each with its log
// hash every time it arrived.
func wantEvery(t *testing.T, l *audit.Log, got map[int64][]string, head int64) (dups int) {
	t.Helper()
	evs, err := l.EventsAfter(context.Background(), 0, int(head)+1)
	if err != nil {
		t.Fatal(err)
	}
	for _, ev := range evs {
		hashes := got[ev.Seq]
		if len(hashes) == 0 {
			t.Errorf("seq %d never arrived", ev.Seq)
		}
		for _, h := range hashes {
			if h != ev.Hash {
				t.Errorf("seq %d arrived with hash %s, the log has %s", ev.Seq, h, ev.Hash)
			}
		}
		dups += max(0, len(hashes)-1)
	}
	if int64(len(got)) != head {
		t.Errorf("%d distinct seqs arrived, the log has %d", len(got), head)
	}
	return dups
}

// syslogDest starts a receiver for network ("tls", with a private CA;
// "tcp"; "udp") and returns it with an RFC 5424 destination "siem" on it.
func syslogDest(t *testing.T, network string) (*siemtest.Syslog, Destination) {
	t.Helper()
	var ca *siemtest.PKI
	scheme := network
	if network == "tls" {
		ca, scheme = siemtest.NewPKI(t), "tcp+tls"
	}
	rcv := siemtest.NewSyslog(t, network, ca)
	d := Destination{Config: fw("siem", config.FormatRFC5424, scheme+"://"+rcv.Addr())}
	if ca != nil {
		d.CA = ca.CAPEM
	}
	return rcv, d
}

func cursorOf(t *testing.T, l *audit.Log, name string) int64 {
	t.Helper()
	c, err := l.Cursor(context.Background(), name)
	if err != nil {
		t.Fatal(err)
	}
	return c.Seq
}

// TestDeliverOverTLSWithPrivateCA: ulc audit forward's delivery sends every
// event, octet-counted over TLS to a server of a private CA, once each,
// and stores the cursor at the head.
func TestDeliverOverTLSWithPrivateCA(t *testing.T) {
	ca := siemtest.NewPKI(t)
	rcv := siemtest.NewSyslog(t, "tls", ca)
	l := newLog(t)
	head := recordRun(t, l, 3)
	f := newForwarder(t, l, Destination{Config: fw("siem", config.FormatRFC5424, "tcp+tls://"+rcv.Addr()), CA: ca.CAPEM})
	st := f.Deliver(context.Background(), "")
	if len(st) != 1 || !st[0].OK() || st[0].Delivered != head {
		t.Fatalf("Deliver = %+v, want siem delivered %d, behind 0", st, head)
	}
	if dups := wantEvery(t, l, seqs(t, rcv.Messages()), head); dups != 0 {
		t.Errorf("%d duplicates without an outage", dups)
	}
	if c := cursorOf(t, l, "siem"); c != head {
		t.Errorf("cursor %d, want %d", c, head)
	}
	// Nothing more to send: a second delivery sends nothing.
	if st := f.Deliver(context.Background(), "siem"); st[0].Delivered != head || len(rcv.Messages()) != int(head) {
		t.Errorf("a second Deliver sent again: %+v, %d messages", st, len(rcv.Messages()))
	}
}

// TestTLSWithoutTheCAIsRefused: a server the CA did not sign (here: the
// system roots do not know the test CA) gets nothing, and the cursor stays.
func TestTLSWithoutTheCAIsRefused(t *testing.T) {
	ca := siemtest.NewPKI(t)
	rcv := siemtest.NewSyslog(t, "tls", ca)
	l := newLog(t)
	head := recordRun(t, l, 1)
	f := newForwarder(t, l, Destination{Config: fw("siem", config.FormatCEF, "tcp+tls://"+rcv.Addr())})
	st := f.Deliver(context.Background(), "")
	if st[0].OK() || !strings.Contains(st[0].Error, "certificate") || st[0].Behind != head {
		t.Errorf("Deliver to an unknown CA = %+v, want a certificate error and %d behind", st[0], head)
	}
	if n := len(rcv.Messages()); n != 0 {
		t.Errorf("%d messages reached a server whose certificate was not checked", n)
	}
	if c := cursorOf(t, l, "siem"); c != 0 {
		t.Errorf("cursor moved to %d without a delivery", c)
	}
}

// TestForwardsAfterEachCommitAndCatchesUpAfterAnOutage: the background
// writer delivers what a run records as it is committed; while the
// receiver is down the status says how far behind and why, and once it is
// back every event arrives, duplicates with the same seq and hash.
func TestForwardsAfterEachCommitAndCatchesUpAfterAnOutage(t *testing.T) {
	for _, network := range []string{"tls", "tcp", "udp"} {
		t.Run(network, func(t *testing.T) {
			rcv, d := syslogDest(t, network)
			l := newLog(t)
			f := newForwarder(t, l, d)
			f.Start()
			head := recordRun(t, l, 2)
			siemtest.WaitFor(t, "the first run to arrive", func() bool { return len(seqs(t, rcv.Messages())) == int(head) })

			rcv.Stop()
			head = recordRun(t, l, 3)
			if network != "udp" {
				// A stream notices the closed connection: the status says
				// what is behind and why.
				siemtest.WaitFor(t, "the status to show the outage", func() bool {
					s := f.Status()[0]
					return !s.OK() && s.Error != "" && s.Behind > 0
				})
				s := f.Status()[0]
				if !strings.HasPrefix(s.Header(), fmt.Sprintf("siem ✗ %d behind", s.Behind)) {
					t.Errorf("header %q", s.Header())
				}
				t.Logf("during the outage: %s", s.Line())
			}
			rcv.Start()
			if network == "udp" {
				// Datagrams sent while nobody listened are gone: UDP has
				// no way to know. What is recorded from now on arrives.
				before := len(rcv.Messages())
				more := recordRun(t, l, 1)
				siemtest.WaitFor(t, "the next run to arrive", func() bool { return len(rcv.Messages()) >= before+int(more-head) })
				return
			}
			siemtest.WaitFor(t, "every event to arrive after the outage", func() bool {
				return len(seqs(t, rcv.Messages())) == int(head) && f.Status()[0].OK()
			})
			dups := wantEvery(t, l, seqs(t, rcv.Messages()), head)
			t.Logf("%d events, %d duplicates", head, dups)
		})
	}
}

// TestHECTokenGoesOnlyToItsCollector: two collectors, each with its own
// token: each receives every event with exactly its token, and no line
// of any format carries either token.
func TestHECTokenGoesOnlyToItsCollector(t *testing.T) {
	const tokA, tokB = "hec-token-a-5d0c2f7e", "hec-token-b-91aa3c04"
	a, b := newHECCollector(t, tokA), newHECCollector(t, tokB)
	ca := siemtest.NewPKI(t)
	rcv := siemtest.NewSyslog(t, "tls", ca)
	l := newLog(t)
	head := recordRun(t, l, 2)
	hecA := fw("splunk-a", config.FormatHEC, a.srv.URL+"/services/collector/event")
	hecB := fw("splunk-b", config.FormatHEC, b.srv.URL+"/services/collector/event")
	f := newForwarder(t, l,
		Destination{Config: hecA, Token: tokA, CA: a.caPEM},
		Destination{Config: hecB, Token: tokB, CA: b.caPEM},
		Destination{Config: fw("siem", config.FormatOCSF, "tcp+tls://"+rcv.Addr()), CA: ca.CAPEM})
	for _, s := range f.Deliver(context.Background(), "") {
		if !s.OK() || s.Delivered != head {
			t.Errorf("%+v, want delivered %d", s, head)
		}
	}
	for _, c := range []struct {
		h    *hecCollector
		tok  string
		name string
	}{{a, tokA, "splunk-a"}, {b, tokB, "splunk-b"}} {
		c.h.mu.Lock()
		if int64(len(c.h.events)) != head {
			t.Errorf("%s received %d events, want %d", c.name, len(c.h.events), head)
		}
		for _, auth := range c.h.auths {
			if auth != "Splunk "+c.tok {
				t.Errorf("%s was sent Authorization %q", c.name, auth)
			}
		}
		for _, ev := range c.h.events {
			if ev["sourcetype"] != "ulc:audit" || ev["event"].(map[string]any)["hash"] == nil {
				t.Errorf("%s: event %v", c.name, ev)
			}
		}
		c.h.mu.Unlock()
	}
	for _, m := range rcv.Messages() {
		if strings.Contains(m, tokA) || strings.Contains(m, tokB) {
			t.Errorf("a syslog line holds a token: %s", m)
		}
	}
}

// TestHECRefusalIsTheStatus: a wrong token is Splunk's own answer in the
// status, without the token, and nothing is marked delivered.
func TestHECRefusalIsTheStatus(t *testing.T) {
	h := newHECCollector(t, "the-right-token-7c1d")
	l := newLog(t)
	head := recordRun(t, l, 1)
	f := newForwarder(t, l, Destination{Config: fw("splunk", config.FormatHEC, h.srv.URL+"/services/collector/event"),
		Token: "a-wrong-token-e44b", CA: h.caPEM})
	s := f.Deliver(context.Background(), "")[0]
	if want := "the collector answered 403: Invalid token (code 4)"; s.Error != want || s.Behind != head {
		t.Errorf("status %+v, want %q and %d behind", s, want, head)
	}
	if strings.Contains(s.Line(), "a-wrong-token") {
		t.Errorf("the status shows the token: %s", s.Line())
	}
	if c := cursorOf(t, l, "splunk"); c != 0 {
		t.Errorf("cursor %d after a refusal", c)
	}
}

// TestProbeReportsWithoutSending: Probe says how far behind and whether
// the destination answers, and sends nothing.
func TestProbeReportsWithoutSending(t *testing.T) {
	ca := siemtest.NewPKI(t)
	rcv := siemtest.NewSyslog(t, "tls", ca)
	l := newLog(t)
	head := recordRun(t, l, 1)
	f := newForwarder(t, l, Destination{Config: fw("siem", config.FormatRFC5424, "tcp+tls://"+rcv.Addr()), CA: ca.CAPEM})
	st, err := f.Probe(context.Background(), "")
	if err != nil || len(st) != 1 || st[0].Error != "" || st[0].Behind != head {
		t.Fatalf("Probe = %+v, %v", st, err)
	}
	if got := st[0].Line(); got != fmt.Sprintf("siem ✗ %d behind: not delivered yet", head) {
		t.Errorf("line %q", got)
	}
	rcv.Stop()
	st, _ = f.Probe(context.Background(), "siem")
	if !strings.Contains(st[0].Error, "refused") {
		t.Errorf("Probe of a stopped receiver = %+v", st[0])
	}
	if n := len(rcv.Messages()); n != 0 {
		t.Errorf("Probe sent %d messages", n)
	}
}
