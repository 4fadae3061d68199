package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"ulc/internal/siemtest"
)

// rsyslog is a real rsyslogd on 127.0.0.1 receiving RFC 5425 (syslog over
// TLS, octet-counted) with its OpenSSL stream driver and writing each
// message as received to a file.
type rsyslog struct {
	t         *testing.T
	dir, conf string
	port      int
	received  string
	cmd       *exec.Cmd
	done      chan struct{}
}

// needRsyslog returns rsyslogd's path, or skips the test without it; in
// CI (CI=true) a missing rsyslogd fails the test: .ci/install-tools
// installs it.
func needRsyslog(t *testing.T) string {
	t.Helper()
	bin, err := exec.LookPath("rsyslogd")
	if err != nil {
		for _, p := range []string{"/usr/sbin/rsyslogd", "/sbin/rsyslogd"} {
			if _, serr := os.Stat(p); serr == nil {
				return p
			}
		}
		if os.Getenv("CI") == "true" {
			t.Fatal("rsyslogd is not installed: run .ci/install-tools")
		}
		t.Skip("rsyslogd is not installed (.ci/install-tools installs it)")
	}
	return bin
}

// freePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := (&net.ListenConfig{}).Listen(context.Background(), "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = ln.Close() }()
	return ln.Addr().(*net.TCPAddr).Port
}

func newRsyslog(t *testing.T, dir string) *rsyslog {
	t.Helper()
	siemtest.NewPKI(t).WriteFiles(t, dir)
	r := &rsyslog{t: t, dir: dir, port: freePort(t), received: filepath.Join(dir, "received.log"),
		conf: filepath.Join(dir, "rsyslog.conf")}
	conf := fmt.Sprintf(`global(
  workDirectory=%[1]q
  defaultNetstreamDriver="ossl"
  defaultNetstreamDriverCAFile=%[2]q
  defaultNetstreamDriverCertFile=%[3]q
  defaultNetstreamDriverKeyFile=%[4]q
)
module(load="imtcp" streamDriver.name="ossl" streamDriver.mode="1" streamDriver.authMode="anon")
input(type="imtcp" address="127.0.0.1" port="%[5]d" supportOctetCountedFraming="on")
template(name="asReceived" type="string" string="%%rawmsg%%\n")
action(type="omfile" file=%[6]q template="asReceived")
`, dir, filepath.Join(dir, "ca.pem"), filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem"), r.port, r.received)
	writeFile(t, r.conf, []byte(conf))
	t.Cleanup(r.stop)
	return r
}

// start runs rsyslogd in the foreground and waits until it listens.
func (r *rsyslog) start() {
	r.t.Helper()
	// Its own context: stop ends it with SIGTERM, as a service stop does.
	r.cmd = exec.CommandContext(context.Background(), needRsyslog(r.t), "-n", "-f", r.conf, "-i", filepath.Join(r.dir, "rsyslogd.pid"))
	log, err := os.OpenFile(filepath.Join(r.dir, "rsyslogd.out"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		r.t.Fatal(err)
	}
	r.cmd.Stdout, r.cmd.Stderr = log, log
	if err := r.cmd.Start(); err != nil {
		_ = log.Close()
		r.t.Fatal(err)
	}
	r.done = make(chan struct{})
	go func() {
		_ = r.cmd.Wait() // stop says whether it ended in time
		_ = log.Close()
		close(r.done)
	}()
	deadline := time.Now().Add(15 * time.Second)
	for {
		// A connection tells (rsyslog logs a session that ended before
		// its handshake).
		d := &net.Dialer{Timeout: time.Second}
		if c, err := d.DialContext(context.Background(), "tcp", fmt.Sprintf("127.0.0.1:%d", r.port)); err == nil {
			_ = c.Close()
			return
		}
		select {
		case <-r.done:
			out, _ := os.ReadFile(filepath.Join(r.dir, "rsyslogd.out"))
			r.t.Fatalf("rsyslogd exited before it listened:\n%s", out)
		default:
		}
		if time.Now().After(deadline) {
			r.t.Fatal("rsyslogd did not listen within 15s")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// stop sends SIGTERM, as an operator's service stop does, and waits.
func (r *rsyslog) stop() {
	if r.cmd == nil || r.cmd.Process == nil {
		return
	}
	select {
	case <-r.done:
		return
	default:
	}
	_ = r.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-r.done:
	case <-time.After(20 * time.Second):
		_ = r.cmd.Process.Kill()
		<-r.done
	}
}

// arrived returns, per seq, every hash it arrived with.
func (r *rsyslog) arrived() map[int64][]string {
	out := map[int64][]string{}
	f, err := os.Open(r.received)
	if os.IsNotExist(err) {
		return out
	}
	if err != nil {
		r.t.Fatal(err)
	}
	defer func() { _ = f.Close() }()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 1<<16), 1<<20)
	for sc.Scan() {
		m := seqRE.FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		seq, err := strconv.ParseInt(m[1], 10, 64)
		if err != nil {
			r.t.Fatal(err)
		}
		out[seq] = append(out[seq], m[2])
	}
	return out
}

// logHashes returns every event's hash by seq, from audit export.
func logHashes(t *testing.T, env []string, db string) map[int64]string {
	t.Helper()
	code, out, errOut := runBinary(t, env, "audit", "export", "--audit-db", db)
	if code != 0 {
		t.Fatalf("export: exit %d %s", code, errOut)
	}
	hashes := map[int64]string{}
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		var ev struct {
			Seq  int64  `json:"seq"`
			Hash string `json:"hash"`
		}
		if err := json.Unmarshal([]byte(l), &ev); err != nil {
			t.Fatal(err)
		}
		hashes[ev.Seq] = ev.Hash
	}
	return hashes
}

// compare reports how many of the log's events have not arrived, and
// fails on a seq that arrived with another hash than the log's.
func compare(t *testing.T, log map[int64]string, got map[int64][]string) (missing, dups int) {
	t.Helper()
	for seq, hash := range log {
		hs := got[seq]
		if len(hs) == 0 {
			missing++
		}
		dups += max(0, len(hs)-1)
		for _, h := range hs {
			if h != hash {
				t.Errorf("seq %d arrived with hash %s; the log's is %s", seq, h, hash)
			}
		}
	}
	return missing, dups
}

// TestRsyslogReceivesEveryEvent is the SIEM drill against a real rsyslog
// over TLS with a private CA. A real ulc revoke against the sandbox
// delivers every audit event (seq 1..N, each with its hash). Then rsyslog
// is stopped in the middle of a second run and started again: ulc audit
// forward delivers what the outage held back, none is missing, and every
// duplicate carries the same seq and hash.
func TestRsyslogReceivesEveryEvent(t *testing.T) {
	needRsyslog(t)
	sb, db := startSandbox(t)
	rs := newRsyslog(t, t.TempDir())
	cfg, err := os.ReadFile(sb.ConfigPath)
	if err != nil {
		t.Fatal(err)
	}
	cfg = append(cfg, fmt.Sprintf("\n[[forward]]\nname = \"siem\"\nformat = \"rfc5424\"\nurl = \"tcp+tls://127.0.0.1:%d\"\nca_file = %q\n",
		rs.port, filepath.Join(rs.dir, "ca.pem"))...)
	writeFile(t, sb.ConfigPath, cfg)
	env := cleanEnv(t)
	revoke := []string{"revoke", "--config", sb.ConfigPath, "--audit-db", db, "--user", "trinity@whiterabbit.fake", "--reason", "drill", "--yes", "--watch", "0"}
	ulcBinary(t)
	rs.start()

	// Drill 1: rsyslog up for the whole run.
	if code, _, errOut := runBinary(t, env, revoke...); code != exitFailures {
		t.Fatalf("revoke: exit %d, want 1 (two sandbox apps cannot answer): %s", code, errOut)
	}
	log := logHashes(t, env, db)
	siemtest.WaitFor(t, "every event of the first run in rsyslog's file", func() bool {
		missing, _ := compare(t, log, rs.arrived())
		return missing == 0
	})
	_, dups := compare(t, log, rs.arrived())
	t.Logf("drill 1: %d events delivered by the run itself, %d duplicates", len(log), dups)

	// Drill 2: rsyslog stops in the middle of the run.
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	type result struct {
		code        int
		out, errOut string
		err         error
	}
	ran := make(chan result, 1)
	before := len(rs.arrived())
	go func() {
		code, out, errOut, err := execULC(ctx, env, false, revoke...)
		ran <- result{code, out, errOut, err}
	}()
	siemtest.WaitFor(t, "the second run's first events in rsyslog's file", func() bool { return len(rs.arrived()) >= before+3 })
	rs.stop()
	r := <-ran
	if r.err != nil || r.code != exitFailures {
		t.Fatalf("revoke during the outage: exit %d, %v: %s", r.code, r.err, r.errOut)
	}
	code, out, _ := runBinary(t, env, "audit", "forward", "--status", "--json", "--config", sb.ConfigPath, "--audit-db", db)
	var status struct {
		Destinations []struct {
			Name   string `json:"name"`
			Behind int64  `json:"behind"`
			Error  string `json:"error"`
		} `json:"destinations"`
	}
	if err := json.Unmarshal([]byte(out), &status); err != nil || len(status.Destinations) != 1 {
		t.Fatalf("--status --json: %v\n%s", err, out)
	}
	behind := status.Destinations[0].Behind
	if code != exitFailures || behind == 0 || status.Destinations[0].Error == "" {
		t.Fatalf("--status during the outage: exit %d, %+v", code, status.Destinations[0])
	}
	rs.start()
	start := time.Now()
	code, out, errOut := runBinary(t, env, "audit", "forward", "--config", sb.ConfigPath, "--audit-db", db)
	took := time.Since(start)
	if code != 0 || !strings.Contains(out, "behind 0") {
		t.Fatalf("audit forward after the outage: exit %d\n%s%s", code, out, errOut)
	}
	log = logHashes(t, env, db)
	siemtest.WaitFor(t, "every event in rsyslog's file after audit forward", func() bool {
		missing, _ := compare(t, log, rs.arrived())
		return missing == 0
	})
	_, dups = compare(t, log, rs.arrived())
	if code, out, _ := runBinary(t, env, "audit", "forward", "--status", "--config", sb.ConfigPath, "--audit-db", db); code != 0 || out != "siem ✓\n" {
		t.Errorf("--status after the drill: exit %d %q", code, out)
	}
	t.Logf("drill 2: %d events in the log, %d undelivered when rsyslog was stopped mid-run, "+
		"ulc audit forward delivered them in %v (%s), %d duplicates in all, each with its seq and hash",
		len(log), behind, took.Round(time.Millisecond), strings.TrimSpace(out), dups)
}
