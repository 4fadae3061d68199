package backend

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"testing"

	"ulc/actions"
	"ulc/internal/siemtest"
)

// TestForwardingStatusFollowsTheSIEM: the status the console's header
// shows (Forwarding, through each status's Header) of a backend that
// forwards to a syslog receiver on loopback: "siem ✓" once a run has
// arrived; "siem ✗ N behind" while the receiver is stopped, N being what
// the log holds past the last event the delivery counts as arrived, and
// at least the events recorded since; "siem ✓" again once it is back,
// with every event arrived.
func TestForwardingStatusFollowsTheSIEM(t *testing.T) {
	rcv := siemtest.NewSyslog(t, "tcp", nil)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(204) }))
	t.Cleanup(srv.Close)
	b := openWith(t, t.TempDir(), fmt.Sprintf("[[target]]\nname = \"chat\"\nurl = %q\ntoken_env = \"TEST_TOKEN\"\n\n"+
		"[[forward]]\nname = \"siem\"\nformat = \"rfc5424\"\nurl = \"tcp://%s\"\n", srv.URL+"/gtr", rcv.Addr()))
	revoke := func() int64 {
		t.Helper()
		p, err := b.Plan(context.Background(), actions.RunRequest{Refs: []string{"neo@example.com"}, Reason: "drill", Targets: []string{"chat"}})
		if err != nil {
			t.Fatal(err)
		}
		run(t, b, p)
		head, _, err := b.log.Head(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		return head
	}
	header := func() string {
		st := b.Forwarding()
		if len(st) != 1 {
			t.Fatalf("Forwarding() = %+v, want the one destination", st)
		}
		return st[0].Header()
	}
	arrived := func() (n int, last int64) {
		got := map[int64]bool{}
		for _, m := range rcv.Messages() {
			sm := seqRE.FindStringSubmatch(m)
			if sm == nil {
				t.Fatalf("a line without its seq: %q", m)
			}
			seq, _ := strconv.ParseInt(sm[1], 10, 64)
			got[seq], last = true, max(last, seq)
		}
		return len(got), last
	}

	head := revoke()
	siemtest.WaitFor(t, "siem ✓", func() bool { n, _ := arrived(); return header() == "siem ✓" && n == int(head) })

	rcv.Stop()
	before := head
	head = revoke()
	var behind int64
	siemtest.WaitFor(t, "siem ✗ N behind", func() bool {
		_, err := fmt.Sscanf(header(), "siem ✗ %d behind", &behind)
		return err == nil && behind >= head-before
	})
	if _, last := arrived(); head-behind > last {
		t.Errorf("%q with %d events in the log, %d recorded during the outage, seq %d the last that arrived",
			header(), head, head-before, last)
	}

	rcv.Start()
	head = revoke() // the next run's commits find the receiver back
	siemtest.WaitFor(t, "siem ✓ after the outage", func() bool { n, _ := arrived(); return header() == "siem ✓" && n == int(head) })
}

var seqRE = regexp.MustCompile(`seq="(\d+)"`)
