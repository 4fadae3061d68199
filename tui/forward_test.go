package tui

import (
	"strings"
	"sync"
	"testing"

	"ulc/history"
)

// TestHeaderShowsForwarding: the header names each SIEM destination with
// ✓ when it has every event, and ✗ with how far behind when not; after a
// RefreshMsg (what ulc sends when the state changes while nobody types)
// the header shows the new state and nothing else moved.
func TestHeaderShowsForwarding(t *testing.T) {
	var mu sync.Mutex
	st := []history.ForwardStatus{{Name: "siem"}, {Name: "splunk", Behind: 120, Error: "connection refused"}}
	deps, _, _, _ := testDeps()
	deps.Forwarding = func() []history.ForwardStatus {
		mu.Lock()
		defer mu.Unlock()
		return append([]history.ForwardStatus(nil), st...)
	}
	d := newDriver(t, deps, 120, 30)
	d.sees("siem ✓", "splunk ✗ 120 behind")
	d.notSees("connection refused") // the reason is for ulc audit forward --status
	mu.Lock()
	st[1] = history.ForwardStatus{Name: "splunk"}
	mu.Unlock()
	before := d.frame()
	d.send(RefreshMsg{})
	d.settle()
	d.sees("splunk ✓")
	d.notSees("120 behind")
	if _, below, _ := strings.Cut(d.frame(), "\n"); !strings.HasSuffix(before, below) {
		t.Errorf("a refresh changed more than the header:\n%s\n---\n%s", before, d.frame())
	}
}
