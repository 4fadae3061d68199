package forward

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// testCA is a private CA and a server certificate it signed for
// 127.0.0.1 and localhost.
type testCA struct {
	caPEM []byte
	cert  tls.Certificate
}

func newTestCA(t testing.TB) testCA {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "ulc test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true,
		KeyUsage: x509.KeyUsageCertSign, BasicConstraintsValid: true}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "siem"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, DNSNames: []string{"localhost"}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	return testCA{
		caPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}),
		cert:  tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key},
	}
}

// syslogReceiver is a syslog server on 127.0.0.1 reading octet-counted
// messages (RFC 5425 over TLS, RFC 6587 over TCP), or datagrams over UDP.
// It can be stopped, closing every connection, and started again on the
// same port.
type syslogReceiver struct {
	t       testing.TB
	network string // "tls", "tcp" or "udp"
	tls     *tls.Config
	addr    string

	mu    sync.Mutex
	msgs  []string
	ln    net.Listener
	pc    net.PacketConn
	conns []net.Conn
	wg    sync.WaitGroup
	bad   error
}

func newSyslogReceiver(t testing.TB, network string, ca *testCA) *syslogReceiver {
	t.Helper()
	r := &syslogReceiver{t: t, network: network, addr: "127.0.0.1:0"}
	if ca != nil {
		r.tls = &tls.Config{Certificates: []tls.Certificate{ca.cert}, MinVersion: tls.VersionTLS12}
	}
	r.start()
	t.Cleanup(r.stop)
	return r
}

func (r *syslogReceiver) start() {
	r.t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.network == "udp" {
		pc, err := (&net.ListenConfig{}).ListenPacket(context.Background(), "udp", r.addr)
		if err != nil {
			r.t.Fatal(err)
		}
		r.pc, r.addr = pc, pc.LocalAddr().String()
		r.wg.Add(1)
		go func() {
			defer r.wg.Done()
			buf := make([]byte, 65536)
			for {
				n, _, err := pc.ReadFrom(buf)
				if err != nil {
					return
				}
				r.add(string(buf[:n]))
			}
		}()
		return
	}
	var ln net.Listener
	var err error
	for range 50 { // the port of a stopped receiver may take a moment to free
		ln, err = (&net.ListenConfig{}).Listen(context.Background(), "tcp", r.addr)
		if err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		r.t.Fatal(err)
	}
	if r.tls != nil {
		ln = tls.NewListener(ln, r.tls)
	}
	r.ln, r.addr = ln, ln.Addr().String()
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			r.mu.Lock()
			r.conns = append(r.conns, c)
			r.mu.Unlock()
			r.wg.Add(1)
			go func() {
				defer r.wg.Done()
				r.read(c)
			}()
		}
	}()
}

// read parses "LEN SP MSG" frames until the connection ends.
func (r *syslogReceiver) read(c net.Conn) {
	br := bufio.NewReader(c)
	for {
		lenText, err := br.ReadString(' ')
		if err != nil {
			return
		}
		n, err := strconv.Atoi(strings.TrimSuffix(lenText, " "))
		if err != nil || n <= 0 {
			r.fail(errors.New("a frame does not start with its length: " + strconv.Quote(lenText)))
			return
		}
		msg := make([]byte, n)
		if _, err := io.ReadFull(br, msg); err != nil {
			return
		}
		r.add(string(msg))
	}
}

func (r *syslogReceiver) add(msg string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.msgs = append(r.msgs, msg)
}

func (r *syslogReceiver) fail(err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.bad == nil {
		r.bad = err
	}
}

// stop closes the listener and every connection, as a receiver that is
// shut down does.
func (r *syslogReceiver) stop() {
	r.mu.Lock()
	if r.ln != nil {
		_ = r.ln.Close()
		r.ln = nil
	}
	if r.pc != nil {
		_ = r.pc.Close()
		r.pc = nil
	}
	for _, c := range r.conns {
		_ = c.Close()
	}
	r.conns = nil
	r.mu.Unlock()
	r.wg.Wait()
}

func (r *syslogReceiver) messages() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.bad != nil {
		r.t.Error(r.bad)
	}
	return append([]string(nil), r.msgs...)
}

var seqHashRE = regexp.MustCompile(`seq="(\d+)" hash="([0-9a-f]{64})"`)

// seqs returns, per seq received, the hashes it arrived with.
func seqs(t testing.TB, msgs []string) map[int64][]string {
	t.Helper()
	out := map[int64][]string{}
	for _, m := range msgs {
		sm := seqHashRE.FindStringSubmatch(m)
		if sm == nil {
			t.Fatalf("a message without seq and hash: %q", m)
		}
		n, _ := strconv.ParseInt(sm[1], 10, 64)
		out[n] = append(out[n], sm[2])
	}
	return out
}

// hecCollector is a Splunk HTTP Event Collector fake over TLS: it accepts
// POST /services/collector/event with "Authorization: Splunk <token>",
// answers Splunk's error bodies otherwise, and keeps every event.
type hecCollector struct {
	srv   *httptest.Server
	token string
	caPEM []byte

	mu     sync.Mutex
	events []map[string]any
	auths  []string
	down   bool
}

func newHECCollector(t testing.TB, token string) *hecCollector {
	t.Helper()
	h := &hecCollector{token: token}
	h.srv = httptest.NewTLSServer(http.HandlerFunc(h.serve))
	t.Cleanup(h.srv.Close)
	h.caPEM = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: h.srv.Certificate().Raw})
	return h
}

func (h *hecCollector) serve(w http.ResponseWriter, r *http.Request) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.auths = append(h.auths, r.Header.Get("Authorization"))
	w.Header().Set("Content-Type", "application/json")
	switch {
	case h.down:
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = io.WriteString(w, `{"text":"Server is busy","code":9}`)
		return
	case r.URL.Path == "/services/collector/health":
		_, _ = io.WriteString(w, `{"text":"HEC is healthy","code":17}`)
		return
	case r.Method != http.MethodPost || r.URL.Path != "/services/collector/event":
		w.WriteHeader(http.StatusNotFound)
		_, _ = io.WriteString(w, `{"text":"The requested URL was not found on this server.","code":404}`)
		return
	case r.Header.Get("Authorization") == "":
		w.WriteHeader(http.StatusUnauthorized)
		_, _ = io.WriteString(w, `{"text":"Token is required","code":2}`)
		return
	case r.Header.Get("Authorization") != "Splunk "+h.token:
		w.WriteHeader(http.StatusForbidden)
		_, _ = io.WriteString(w, `{"text":"Invalid token","code":4}`)
		return
	}
	dec := json.NewDecoder(r.Body)
	var got []map[string]any
	for {
		var ev map[string]any
		if err := dec.Decode(&ev); err == io.EOF {
			break
		} else if err != nil || ev["event"] == nil {
			w.WriteHeader(http.StatusBadRequest)
			_, _ = io.WriteString(w, `{"text":"Invalid data format","code":6}`)
			return
		}
		got = append(got, ev)
	}
	h.events = append(h.events, got...)
	_, _ = io.WriteString(w, `{"text":"Success","code":0}`)
}
