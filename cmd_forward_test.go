package main

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"

	"ulc/internal/siemtest"
)

const hecToken = "hec-secret-3b7e19c2"

// hecFake is a Splunk HTTP Event Collector on loopback (http:// is allowed
// there) that checks the token.
type hecFake struct {
	mu     sync.Mutex
	bodies []string
	auths  []string
}

func (h *hecFake) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	h.mu.Lock()
	defer h.mu.Unlock()
	if r.Method == http.MethodGet && r.URL.Path == "/services/collector/health" {
		// Splunk's health check needs no token, and gets none.
		if r.Header.Get("Authorization") != "" {
			h.auths = append(h.auths, "health check: "+r.Header.Get("Authorization"))
		}
		_, _ = io.WriteString(w, `{"text":"HEC is healthy","code":17}`)
		return
	}
	h.auths = append(h.auths, r.Header.Get("Authorization"))
	if r.Header.Get("Authorization") != "Splunk "+hecToken {
		w.WriteHeader(http.StatusForbidden)
		_, _ = io.WriteString(w, `{"text":"Invalid token","code":4}`)
		return
	}
	h.bodies = append(h.bodies, string(body))
	_, _ = io.WriteString(w, `{"text":"Success","code":0}`)
}

var hecSeqRE = regexp.MustCompile(`"seq":(\d+),"hash":"([0-9a-f]{64})"`)

var seqRE = regexp.MustCompile(`seq="(\d+)" hash="([0-9a-f]{64})"`)

// TestAuditForward drives forwarding as an operator would: a revoke while
// the SIEM is down still exits 0 and delivers to the collector that is up;
// audit forward --status says what is behind and why (exit 1); once the
// SIEM is back, audit forward delivers the rest (exit 0) and every seq
// has arrived with its hash; an unknown --name is a usage error naming
// the configured ones; no line, header or output holds a token except the
// collector's own Authorization header.
func TestAuditForward(t *testing.T) {
	t.Setenv("HEC_TOKEN", hecToken)
	f := newFixture(t, map[string]int{"chat": 204, "crm": 404})
	siem := siemtest.NewSyslog(t, "tcp", nil)
	siem.Stop() // the SIEM is down at first: only its port is wanted
	hec := &hecFake{}
	hsrv := httptest.NewServer(hec)
	t.Cleanup(hsrv.Close)
	cfg, err := os.ReadFile(f.config)
	if err != nil {
		t.Fatal(err)
	}
	cfg = append(cfg, fmt.Sprintf(`
[[forward]]
name = "siem"
format = "rfc5424"
url = "tcp://%s"

[[forward]]
name = "splunk"
format = "hec"
url = "%s"
token_env = "HEC_TOKEN"
`, siem.Addr(), hsrv.URL)...)
	writeFile(t, f.config, cfg)

	code, out, errOut := f.revoke(t, "--yes")
	if code != 0 {
		t.Fatalf("revoke with the SIEM down: exit %d, want 0 (forwarding never fails a run): %s %s", code, out, errOut)
	}
	code, out, _ = ulc(t, "", "audit", "forward", "--status", "--config", f.config, "--audit-db", f.audit)
	if code != exitFailures || !regexp.MustCompile(`(?m)^siem ✗ \d+ behind: .*connection refused`).MatchString(out) ||
		!strings.Contains(out, "splunk ✓") {
		t.Fatalf("--status with the SIEM down: exit %d\n%s", code, out)
	}
	code, out, _ = ulc(t, "", "audit", "forward", "--config", f.config, "--audit-db", f.audit)
	if code != exitFailures || !strings.Contains(out, "siem: delivered 0,") || !strings.Contains(out, "splunk: delivered 0, behind 0") {
		t.Fatalf("forward with the SIEM down: exit %d\n%s", code, out)
	}
	// --name delivers to that destination alone: the SIEM that is down
	// neither fails nor shows in a delivery to the collector.
	code, out, _ = ulc(t, "", "audit", "forward", "--name", "splunk", "--config", f.config, "--audit-db", f.audit)
	if code != 0 || out != "splunk: delivered 0, behind 0\n" {
		t.Fatalf("--name splunk with the SIEM down: exit %d\n%s", code, out)
	}
	code, out, _ = ulc(t, "", "audit", "forward", "--name", "siem", "--status", "--config", f.config, "--audit-db", f.audit)
	if code != exitFailures || strings.Contains(out, "splunk") || !strings.Contains(out, "siem ✗") {
		t.Fatalf("--name siem --status with the SIEM down: exit %d\n%s", code, out)
	}

	siem.Start()
	code, out, errOut = ulc(t, "", "audit", "forward", "--config", f.config, "--audit-db", f.audit)
	if code != 0 || !regexp.MustCompile(`(?m)^siem: delivered \d+, behind 0$`).MatchString(out) {
		t.Fatalf("forward with the SIEM back: exit %d\n%s%s", code, out, errOut)
	}
	code, out, _ = ulc(t, "", "audit", "forward", "--status", "--config", f.config, "--audit-db", f.audit)
	if code != 0 || out != "siem ✓\nsplunk ✓\n" {
		t.Errorf("--status after delivery: exit %d\n%s", code, out)
	}
	code, _, errOut = ulc(t, "", "audit", "forward", "--name", "nope", "--config", f.config, "--audit-db", f.audit)
	if code != exitUsage || !strings.Contains(errOut, "it has siem, splunk") {
		t.Errorf("--name nope: exit %d %s", code, errOut)
	}

	// Every event arrived at both, with the log's hash.
	code, exported, _ := ulc(t, "", "audit", "export", "--audit-db", f.audit)
	if code != 0 {
		t.Fatal("export failed")
	}
	n := strings.Count(exported, "\n")
	got := map[string]string{}
	for _, m := range siem.Messages() {
		sm := seqRE.FindStringSubmatch(m)
		if sm == nil {
			t.Fatalf("a message without seq and hash: %s", m)
		}
		got[sm[1]] = sm[2]
	}
	if len(got) != n {
		t.Errorf("the SIEM has %d distinct events, the log %d", len(got), n)
	}
	for seq, hash := range got {
		if !strings.Contains(exported, `"seq":`+seq+`,`) || !strings.Contains(exported, hash) {
			t.Errorf("seq %s arrived with hash %s, which the export does not hold", seq, hash)
		}
	}
	hec.mu.Lock()
	defer hec.mu.Unlock()
	atHEC := map[string]string{}
	for _, m := range hecSeqRE.FindAllStringSubmatch(strings.Join(hec.bodies, "\n"), -1) {
		if h, dup := atHEC[m[1]]; dup && h != m[2] {
			t.Errorf("seq %s arrived at the collector with two hashes", m[1])
		}
		atHEC[m[1]] = m[2]
	}
	if len(atHEC) != n {
		t.Errorf("the collector has %d distinct events, the log %d", len(atHEC), n)
	}
	for _, a := range hec.auths {
		if a != "Splunk "+hecToken {
			t.Errorf("the collector was sent Authorization %q", a)
		}
	}
	for _, text := range append(append(siem.Messages(), hec.bodies...), out, errOut) {
		for _, secret := range []string{hecToken, cliToken} {
			if strings.Contains(text, secret) {
				t.Errorf("a token was forwarded or printed: %s", text)
			}
		}
	}
}

// TestAuditForwardWithoutDestinations: a targets.toml without [[forward]]
// is a usage error that says what to add.
func TestAuditForwardWithoutDestinations(t *testing.T) {
	f := newFixture(t, map[string]int{"chat": 204})
	if code, _, _ := f.revoke(t, "--yes"); code != 0 {
		t.Fatal("revoke failed")
	}
	code, _, errOut := ulc(t, "", "audit", "forward", "--config", f.config, "--audit-db", f.audit)
	if code != exitUsage || !strings.Contains(errOut, "has no [[forward]] destination") {
		t.Errorf("exit %d: %s", code, errOut)
	}
}

// TestNextRunDeliversWhatIsBehind: events a run could not forward (the
// SIEM was down) are delivered by the next ulc that writes the log, in the
// background, without ulc audit forward.
func TestNextRunDeliversWhatIsBehind(t *testing.T) {
	f := newFixture(t, map[string]int{"chat": 204})
	siem := siemtest.NewSyslog(t, "tcp", nil)
	siem.Stop() // the SIEM is down at first: only its port is wanted
	cfg, err := os.ReadFile(f.config)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, f.config, append(cfg, fmt.Sprintf("\n[[forward]]\nname = \"siem\"\nformat = \"cef\"\nurl = \"tcp://%s\"\n", siem.Addr())...))
	if code, _, errOut := f.revoke(t, "--yes"); code != 0 {
		t.Fatalf("revoke with the SIEM down: exit %d %s", code, errOut)
	}
	siem.Start()
	if code, _, errOut := f.revoke(t, "--yes"); code != 0 {
		t.Fatalf("revoke with the SIEM back: exit %d %s", code, errOut)
	}
	code, exported, _ := ulc(t, "", "audit", "export", "--audit-db", f.audit)
	if code != 0 {
		t.Fatal("export failed")
	}
	n := strings.Count(exported, "\n")
	cefSeq := regexp.MustCompile(`externalId=(\d+) `)
	siemtest.WaitFor(t, "both runs' events at the SIEM", func() bool {
		seen := map[string]bool{}
		for _, m := range siem.Messages() {
			if sm := cefSeq.FindStringSubmatch(m); sm != nil {
				seen[sm[1]] = true
			}
		}
		return len(seen) == n
	})
}

// TestAuditForwardUnreadableLog: a log that is not an audit log is exit 3,
// with nothing sent.
func TestAuditForwardUnreadableLog(t *testing.T) {
	f := newFixture(t, map[string]int{"chat": 204})
	siem := siemtest.NewSyslog(t, "tcp", nil)
	cfg, err := os.ReadFile(f.config)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, f.config, append(cfg, fmt.Sprintf("\n[[forward]]\nname = \"siem\"\nformat = \"rfc5424\"\nurl = \"tcp://%s\"\n", siem.Addr())...))
	writeFile(t, f.audit, []byte("this is not an SQLite database, and it is longer than its header would be..........."))
	for _, args := range [][]string{{}, {"--status"}} {
		code, out, errOut := ulc(t, "", append([]string{"audit", "forward", "--config", f.config, "--audit-db", f.audit}, args...)...)
		if code != exitAudit || !strings.Contains(errOut, f.audit) {
			t.Errorf("audit forward %v on a damaged log: exit %d %s%s", args, code, out, errOut)
		}
	}
	if n := len(siem.Messages()); n != 0 {
		t.Errorf("%d messages sent from a damaged log", n)
	}
}
