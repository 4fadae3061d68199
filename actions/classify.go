package actions

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"syscall"
	"time"

	"ulc/config"
	"ulc/internal/safetext"
)

// Classify maps one attempt's answer to an outcome and says whether the
// attempt may be retried. err is a transport error (no answer), in which case
// status is ignored. Retries are only for network errors, timeouts, 429 and
// 5xx; never for another 4xx, a 3xx or a 2xx.
func Classify(status int, err error) (o Outcome, retryable bool) {
	if err != nil {
		if errors.Is(err, context.Canceled) {
			return Cancelled, false
		}
		var cert *tls.CertificateVerificationError
		var unknown x509.UnknownAuthorityError
		var host x509.HostnameError
		if errors.As(err, &cert) || errors.As(err, &unknown) || errors.As(err, &host) {
			return Failed, false // a bad certificate does not heal by retrying
		}
		return Failed, true
	}
	switch {
	case status >= 200 && status < 300:
		return Revoked, false
	case status == http.StatusNotFound:
		return NotFound, false
	case status == http.StatusTooManyRequests:
		return Failed, true
	case status == http.StatusUnprocessableEntity:
		return Failed, false
	case status >= 500 && status < 600:
		return Failed, true
	case status >= 300 && status < 500:
		return Rejected, false
	}
	return Failed, false // 1xx or nonsense: not an answer the draft knows
}

// RetryAfter parses a Retry-After header value: delay-seconds or an
// HTTP-date. ok is false when the header is absent or malformed.
func RetryAfter(v string, now time.Time) (d time.Duration, ok bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		if n < 0 {
			return 0, false
		}
		return time.Duration(min(n, 1<<31)) * time.Second, true
	}
	t, err := http.ParseTime(v)
	if err != nil {
		return 0, false
	}
	return max(t.Sub(now), 0), true
}

// transportReason turns a transport error into what happened and what to
// do about it, for an operator to act on. t is the target, for its
// per-attempt timeout and address.
func transportReason(err error, t config.Target) (what, next string) {
	var cert *tls.CertificateVerificationError
	var unknown x509.UnknownAuthorityError
	var host x509.HostnameError
	var dns *net.DNSError
	switch {
	case errors.Is(err, context.DeadlineExceeded) || isTimeout(err):
		return fmt.Sprintf("no answer within %s", t.Timeout), "the app is slow or down; raise its timeout, or R to retry"
	case errors.Is(err, context.Canceled):
		return "cancelled before an answer came", retryHint
	case errors.As(err, &host):
		return "TLS certificate does not match the host name", "check url"
	case errors.As(err, &cert) || errors.As(err, &unknown):
		return "TLS certificate not trusted", "check url, or set ca_file for a private CA"
	case errors.As(err, &dns):
		return "host name not found", "check url"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused", fmt.Sprintf("is the app up at %s? Then R to retry", safetext.Line(originOf(t.URL), 120))
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF),
		// net/http does not export these; its texts are stable.
		strings.Contains(err.Error(), "connection broken"), strings.Contains(err.Error(), "malformed HTTP"):
		return "connection reset or broken before a complete answer", "the app or a proxy in front of it dropped it; R to retry"
	case errors.Is(err, syscall.EHOSTUNREACH), errors.Is(err, syscall.ENETUNREACH):
		return "host unreachable", fmt.Sprintf("check the network route to %s, then R to retry", safetext.Line(originOf(t.URL), 120))
	}
	var tlsErr tls.RecordHeaderError
	if errors.As(err, &tlsErr) {
		return "TLS handshake failed: the server did not speak TLS", "check that url starts with the scheme the app serves"
	}
	return "network error", "check url and the network to the app, then R to retry"
}

// retryHint is the next step of a failure that may heal by itself.
const retryHint = "R to retry"

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
