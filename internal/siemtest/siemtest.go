// Package siemtest holds what the tests of SIEM forwarding receive with: a
// private CA with a server certificate for 127.0.0.1, and a syslog
// receiver on loopback that reads octet-counted frames (RFC 5425 over TLS,
// RFC 6587 over TCP) or datagrams (UDP) and can be stopped and started
// again on the same port, as a SIEM that goes down and comes back.
package siemtest

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"io"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// PKI is a new private CA and a server certificate it signed for
// 127.0.0.1 and localhost, valid for a day.
type PKI struct {
	// CAPEM is the CA's certificate, what a client is given as ca_file.
	CAPEM []byte
	// CertPEM and KeyPEM are the server's certificate and EC private key,
	// for a server configured from files (rsyslog).
	CertPEM, KeyPEM []byte
	// Cert is the server's certificate for a Go TLS listener.
	Cert tls.Certificate
}

// NewPKI makes a new CA and server certificate.
func NewPKI(t testing.TB) *PKI {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "ulc SIEM test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour), IsCA: true,
		KeyUsage: x509.KeyUsageCertSign, BasicConstraintsValid: true}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		t.Fatal(err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, DNSNames: []string{"localhost"}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return &PKI{
		CAPEM:   pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}),
		CertPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		KeyPEM:  pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}),
		Cert:    tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key},
	}
}

// WriteFiles writes ca.pem, cert.pem and key.pem into dir, mode 0600.
func (p *PKI) WriteFiles(t testing.TB, dir string) {
	t.Helper()
	for name, b := range map[string][]byte{"ca.pem": p.CAPEM, "cert.pem": p.CertPEM, "key.pem": p.KeyPEM} {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

// Syslog is a syslog receiver on 127.0.0.1.
type Syslog struct {
	t       testing.TB
	network string // "tls", "tcp" or "udp"
	tls     *tls.Config

	mu    sync.Mutex
	addr  string
	msgs  []string
	ln    net.Listener
	pc    net.PacketConn
	conns []net.Conn
	wg    sync.WaitGroup
	bad   error
}

// NewSyslog starts a receiver for network ("tls", with pki's server
// certificate; "tcp"; "udp") on a free port. It is stopped when the test
// ends.
func NewSyslog(t testing.TB, network string, pki *PKI) *Syslog {
	t.Helper()
	r := &Syslog{t: t, network: network, addr: "127.0.0.1:0"}
	if network == "tls" {
		if pki == nil {
			t.Fatal("siemtest: a TLS receiver needs a PKI")
		}
		r.tls = &tls.Config{Certificates: []tls.Certificate{pki.Cert}, MinVersion: tls.VersionTLS12}
	}
	r.Start()
	t.Cleanup(r.Stop)
	return r
}

// Addr is the receiver's host:port; it stays the same across Stop and
// Start.
func (r *Syslog) Addr() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.addr
}

// Start listens again (on the same port after a Stop).
func (r *Syslog) Start() {
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
			if r.ln != ln {
				// Accepted as Stop closed the listener: a stopped
				// receiver takes no connection (and Stop, which
				// waits for its readers, would wait for this one).
				r.mu.Unlock()
				_ = c.Close()
				return
			}
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
func (r *Syslog) read(c net.Conn) {
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

func (r *Syslog) add(msg string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.msgs = append(r.msgs, msg)
}

func (r *Syslog) fail(err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.bad == nil {
		r.bad = err
	}
}

// Stop closes the listener and every connection, as a receiver that is
// shut down does; the port is kept for Start.
func (r *Syslog) Stop() {
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

// Messages is every message received so far, in order. A frame that broke
// octet counting fails the test.
func (r *Syslog) Messages() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.bad != nil {
		r.t.Error(r.bad)
	}
	return append([]string(nil), r.msgs...)
}

// WaitFor polls cond until it holds, failing the test after a generous
// deadline: what a delivery in the background does is seen this way,
// never by sleeping a fixed time.
func WaitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
