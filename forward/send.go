package forward

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"ulc/config"
	"ulc/internal/safetext"
)

// Timeouts of a delivery: generous for a SIEM across a WAN, short enough
// that a destination that stopped answering is noticed and retried.
const (
	dialTimeout  = 5 * time.Second
	writeTimeout = 10 * time.Second
	hecTimeout   = 15 * time.Second
)

// sender writes formatted lines to one destination.
type sender interface {
	// send writes lines, in order. An error means some of them may not
	// have arrived.
	send(ctx context.Context, lines [][]byte) error
	// probe checks that the destination can be reached (a connection and
	// a TLS handshake), sending nothing.
	probe(ctx context.Context) error
	// acknowledged reports whether a send that returned nil means the
	// receiver has the lines (HEC answers 200); a syslog stream only
	// knows that they were written to its socket.
	acknowledged() bool
	close() error
}

// errLost says that the connection the last lines were written on was
// found closed by the receiver: those lines may not have been read.
var errLost = errors.New("the receiver closed the connection")

// newSender returns the sender of fw. token goes only to fw's own
// collector; ca, when not nil, replaces the system's roots.
func newSender(fw config.Forward, token string, ca []byte) (sender, error) {
	var roots *x509.CertPool
	if ca != nil {
		roots = x509.NewCertPool()
		if !roots.AppendCertsFromPEM(ca) {
			return nil, fmt.Errorf("%s: ca_file holds no PEM certificate", fw.Where())
		}
	}
	host, _, err := net.SplitHostPort(fw.Host)
	if err != nil {
		host = fw.Host
	}
	tc := &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: roots, ServerName: host}
	switch fw.Scheme {
	case config.SchemeTLS:
		return &streamSender{addr: fw.Host, tls: tc}, nil
	case config.SchemeTCP:
		return &streamSender{addr: fw.Host}, nil
	case config.SchemeUDP:
		return &udpSender{addr: fw.Host}, nil
	case config.SchemeHTTPS, config.SchemeHTTP:
		tr := &http.Transport{TLSClientConfig: tc, Proxy: nil, ForceAttemptHTTP2: true,
			DialContext: (&net.Dialer{Timeout: dialTimeout}).DialContext, TLSHandshakeTimeout: dialTimeout}
		return &hecSender{
			url: fw.URL, redacted: fw.Redacted(), token: token,
			client: &http.Client{Transport: tr, Timeout: hecTimeout,
				// The token is for this collector only: a redirect is
				// an error, not a second destination.
				CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }},
		}, nil
	}
	return nil, fmt.Errorf("%s: no sender for url scheme %q", fw.Where(), fw.Scheme)
}

// streamSender is syslog over TCP, with TLS for tcp+tls://, each message
// octet-counted (RFC 5425, RFC 6587): "LEN SP MSG". One connection is
// kept open and dialled again after a failure.
type streamSender struct {
	addr string
	tls  *tls.Config // nil for plain TCP
	conn net.Conn
}

func (s *streamSender) dial(ctx context.Context) (net.Conn, error) {
	d := &net.Dialer{Timeout: dialTimeout}
	if s.tls == nil {
		return d.DialContext(ctx, "tcp", s.addr)
	}
	td := &tls.Dialer{NetDialer: d, Config: s.tls}
	dctx, cancel := context.WithTimeout(ctx, dialTimeout)
	defer cancel()
	return td.DialContext(dctx, "tcp", s.addr)
}

// socketState is what a peek at a connection's socket found.
type socketState int

const (
	socketEmpty   socketState = iota + 1 // nothing to read: open
	socketPending                        // bytes to read
	socketGone                           // its end, or a reset
)

// open reports whether the connection is still open: a syslog receiver
// never writes, so its close, a reset or its bytes mean it has gone. Where
// the platform allows, the socket is peeked at without waiting (see
// peek). Bytes on a TLS connection may be the server's session tickets,
// which only TLS can read: then, and where the socket cannot be asked, a
// read that does not time out at once has found the close (or an alert).
func open(c net.Conn) bool {
	s, ok := peek(c)
	_, isTLS := c.(*tls.Conn)
	switch {
	case ok && s == socketEmpty:
		return true
	case ok && s == socketGone, ok && !isTLS:
		return false
	}
	if err := c.SetReadDeadline(time.Now().Add(time.Millisecond)); err != nil {
		return false
	}
	var buf [512]byte
	_, err := c.Read(buf[:])
	var ne net.Error
	alive := errors.As(err, &ne) && ne.Timeout()
	// A deadline left behind would make the next peek (and any read)
	// fail at once.
	if alive && c.SetReadDeadline(time.Time{}) != nil {
		return false
	}
	return alive
}

func (s *streamSender) send(ctx context.Context, lines [][]byte) error {
	if s.conn != nil && !open(s.conn) {
		_ = s.conn.Close() // already closed by the receiver
		s.conn = nil
		return errLost
	}
	if s.conn == nil {
		c, err := s.dial(ctx)
		if err != nil {
			return err
		}
		s.conn = c
	}
	var buf bytes.Buffer
	for _, l := range lines {
		buf.WriteString(strconv.Itoa(len(l)))
		buf.WriteByte(' ')
		buf.Write(l)
	}
	deadline := time.Now().Add(writeTimeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	c := s.conn
	if err := c.SetWriteDeadline(deadline); err != nil {
		return s.fail(err)
	}
	// A receiver that stopped reading must not hold up the end of the
	// process: the context's end ends the write.
	stop := context.AfterFunc(ctx, func() { _ = c.SetWriteDeadline(time.Now()) })
	_, err := c.Write(buf.Bytes())
	stop()
	if err != nil {
		return s.fail(err)
	}
	return nil
}

func (s *streamSender) fail(err error) error {
	_ = s.conn.Close() // the write's error is the one to report
	s.conn = nil
	return err
}

func (s *streamSender) probe(ctx context.Context) error {
	if s.conn != nil && open(s.conn) {
		return nil
	}
	c, err := s.dial(ctx)
	if err != nil {
		return err
	}
	return c.Close()
}

func (s *streamSender) acknowledged() bool { return false }

func (s *streamSender) close() error {
	if s.conn == nil {
		return nil
	}
	err := s.conn.Close()
	s.conn = nil
	return err
}

// udpSender is syslog over UDP, one message per datagram (RFC 5426). It is
// allowed only to loopback addresses, where a closed port shows as a
// refused write.
type udpSender struct {
	addr string
	conn net.Conn
}

func (s *udpSender) send(ctx context.Context, lines [][]byte) error {
	if s.conn == nil {
		c, err := (&net.Dialer{Timeout: dialTimeout}).DialContext(ctx, "udp", s.addr)
		if err != nil {
			return err
		}
		s.conn = c
	}
	for _, l := range lines {
		if _, err := s.conn.Write(l); err != nil {
			_ = s.conn.Close() // the write's error is the one to report
			s.conn = nil
			return err
		}
	}
	return nil
}

func (s *udpSender) probe(context.Context) error { return nil }
func (s *udpSender) acknowledged() bool          { return false }
func (s *udpSender) close() error {
	if s.conn == nil {
		return nil
	}
	err := s.conn.Close()
	s.conn = nil
	return err
}

// hecSender POSTs events to a Splunk HTTP Event Collector, several per
// request, with "Authorization: Splunk <token>".
type hecSender struct {
	url, redacted string
	token         string
	client        *http.Client
}

func (s *hecSender) send(ctx context.Context, lines [][]byte) error {
	body := bytes.Join(lines, []byte("\n"))
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.url, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("POST %s: %v", s.redacted, err)
	}
	req.Header.Set("Authorization", "Splunk "+s.token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := s.client.Do(req)
	if err != nil {
		return s.transportErr(err)
	}
	defer resp.Body.Close()
	answer, _ := io.ReadAll(io.LimitReader(resp.Body, 4096)) // only read for the message
	if resp.StatusCode == http.StatusOK {
		return nil
	}
	var hecErr struct {
		Text string `json:"text"`
		Code *int   `json:"code"`
	}
	msg := ""
	if json.Unmarshal(answer, &hecErr) == nil && hecErr.Text != "" {
		msg = ": " + safetext.Line(hecErr.Text, 120)
		if hecErr.Code != nil {
			msg += fmt.Sprintf(" (code %d)", *hecErr.Code)
		}
	}
	return fmt.Errorf("the collector answered %d%s", resp.StatusCode, msg)
}

// transportErr is err without the request's URL, which may hold a query.
func (s *hecSender) transportErr(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	return fmt.Errorf("POST %s: %v", s.redacted, err)
}

func (s *hecSender) probe(ctx context.Context) error {
	u, err := url.Parse(s.url)
	if err != nil {
		return fmt.Errorf("POST %s: %v", s.redacted, err)
	}
	u.Path, u.RawQuery = "/services/collector/health", ""
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return fmt.Errorf("GET %s: %v", s.redacted, err)
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return s.transportErr(err)
	}
	_ = resp.Body.Close() // the status is the answer
	return nil
}

func (s *hecSender) acknowledged() bool { return true }
func (s *hecSender) close() error {
	s.client.CloseIdleConnections()
	return nil
}

// broken is the sender of a destination that cannot be sent to: every
// send and probe returns why.
type broken struct{ err error }

func (b broken) send(context.Context, [][]byte) error { return b.err }
func (b broken) probe(context.Context) error          { return b.err }
func (b broken) acknowledged() bool                   { return true }
func (b broken) close() error                         { return nil }
