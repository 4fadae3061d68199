package okta

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"ulc/internal/safetext"
)

// paceThreshold is the budget left in a rate-limit bucket at which the
// client stops and waits for the window to reset instead of spending the
// rest and collecting 429s. The engine runs at most a handful of users'
// Okta steps at once, and each request in flight is counted against the
// budget before it leaves, so a small number suffices.
const paceThreshold = 1

// maxAnswer caps how much of one Okta answer is read. A page of 200 users
// or 1000 log events is a few megabytes.
const maxAnswer = 32 << 20

// rateTransport wraps the HTTP transport to record Okta's rate-limit
// headers and X-Okta-Request-Id of every answer, and to pace requests:
// when a bucket is (nearly) spent, the next request to it waits for the
// window to reset, bounded by the request's context and maxWait.
type rateTransport struct {
	base    http.RoundTripper
	maxWait time.Duration
	now     func() time.Time

	mu      sync.Mutex
	buckets map[string]*bucket
	last    RateStatus
}

// bucket is what is known of one rate-limit bucket.
type bucket struct {
	limit, remaining int
	reset            time.Time // local clock
}

func newRateTransport(maxWait time.Duration) *rateTransport {
	base := http.DefaultTransport.(*http.Transport).Clone()
	base.TLSClientConfig = &tls.Config{MinVersion: tls.VersionTLS12}
	base.MaxIdleConnsPerHost = 16
	base.ResponseHeaderTimeout = 0
	return &rateTransport{base: base, maxWait: maxWait, now: time.Now, buckets: map[string]*bucket{}}
}

// traceKey carries a *trace in a request's context.
type traceKey struct{}

// trace records the last answer of one call, across the SDK's retries:
// after an exhausted 429 the SDK returns neither response nor headers.
type trace struct {
	mu sync.Mutex
	d  traceData
}

// traceData is what a trace holds.
type traceData struct {
	status    int
	requestID string
	reset     time.Time
	authError string // the error of a Bearer WWW-Authenticate header
}

// withTrace returns ctx carrying a new trace.
func withTrace(ctx context.Context) (context.Context, *trace) {
	tr := &trace{}
	return context.WithValue(ctx, traceKey{}, tr), tr
}

// get returns what the trace recorded so far.
func (tr *trace) get() traceData {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	return tr.d
}

// RoundTrip implements http.RoundTripper.
func (t *rateTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	key := bucketKey(req.Method, req.URL.Path)
	// A retry of the SDK's has waited for the reset already.
	if req.Header.Get("X-Okta-Retry-Count") == "" {
		if err := t.pace(req.Context(), key); err != nil {
			return nil, err
		}
	}
	resp, err := t.base.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	t.record(req.Context(), key, resp)
	resp.Body = &cappedBody{rc: resp.Body, left: maxAnswer}
	return resp, nil
}

// pace waits, when key's bucket is spent, until its window resets; it
// counts the request against the bucket before it leaves. It never waits
// longer than maxWait or past the context's deadline: pacing only spares
// Okta (and us) a 429, and is skipped when it cannot.
func (t *rateTransport) pace(ctx context.Context, key string) error {
	t.mu.Lock()
	b := t.buckets[key]
	if b == nil {
		t.mu.Unlock()
		return nil
	}
	now := t.now()
	if !now.Before(b.reset) {
		// A new window: assume the full budget until Okta says otherwise.
		b.remaining = b.limit
		b.reset = time.Time{}
	}
	wait := b.reset.Sub(now)
	deadline, hasDeadline := ctx.Deadline()
	if b.remaining > paceThreshold || b.reset.IsZero() || wait > t.maxWait ||
		hasDeadline && now.Add(wait).After(deadline) {
		// Budget left, or a wait that could not end in time: send, and
		// let Okta's answer (and the SDK's 429 handling) decide.
		b.remaining--
		t.mu.Unlock()
		return nil
	}
	t.mu.Unlock()

	timer := time.NewTimer(wait)
	defer timer.Stop()
	select {
	case <-timer.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// record reads the rate-limit headers and request id of an answer.
func (t *rateTransport) record(ctx context.Context, key string, resp *http.Response) {
	h := resp.Header
	limit, lerr := strconv.Atoi(h.Get("X-Rate-Limit-Limit"))
	remaining, rerr := strconv.Atoi(h.Get("X-Rate-Limit-Remaining"))
	resetEpoch, serr := strconv.ParseInt(h.Get("X-Rate-Limit-Reset"), 10, 64)
	var reset time.Time
	if serr == nil {
		// Okta's advice: measure the reset against the answer's Date, not
		// our clock, which may be off; +1s for the Date's rounding.
		now := t.now()
		if date, err := http.ParseTime(h.Get("Date")); err == nil {
			reset = now.Add(time.Unix(resetEpoch, 0).Sub(date) + time.Second)
		} else {
			reset = time.Unix(resetEpoch, 0).Add(time.Second)
		}
	}
	if resp.StatusCode == http.StatusTooManyRequests {
		remaining, rerr = 0, nil
	}

	if tr, ok := ctx.Value(traceKey{}).(*trace); ok {
		tr.mu.Lock()
		tr.d.status = resp.StatusCode
		tr.d.requestID = safetext.Line(h.Get("X-Okta-Request-Id"), 80)
		if !reset.IsZero() {
			tr.d.reset = reset
		}
		tr.d.authError = ""
		if wa := h.Get("Www-Authenticate"); strings.Contains(wa, "Bearer") {
			tr.d.authError = authParam(wa, "error")
		}
		tr.mu.Unlock()
	}

	if lerr != nil && rerr != nil && serr != nil {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	b := t.buckets[key]
	if b == nil {
		b = &bucket{}
		t.buckets[key] = b
	}
	if lerr == nil {
		b.limit = limit
	}
	if rerr == nil {
		b.remaining = remaining
	}
	if !reset.IsZero() {
		b.reset = reset
	}
	t.last = RateStatus{Limit: b.limit, Remaining: b.remaining, Reset: b.reset}
}

// status returns the rate-limit headers of the last answer.
func (t *rateTransport) status() RateStatus {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.last
}

// bucketKey approximates Okta's rate-limit buckets, which are per endpoint
// and method: ids, logins and other values in the path become "*".
func bucketKey(method, path string) string {
	parts := strings.Split(path, "/")
	for i, p := range parts {
		if p == "" {
			continue
		}
		if strings.ContainsAny(p, "@%.+") || len(p) > 16 || len(p) > 3 && strings.ContainsAny(p, "0123456789") {
			parts[i] = "*"
		}
	}
	if method != http.MethodGet {
		method = "WRITE"
	}
	return method + " " + strings.Join(parts, "/")
}

// authParam returns the value of name in a WWW-Authenticate header.
func authParam(h, name string) string {
	for _, part := range strings.Split(h, ",") {
		part = strings.TrimSpace(part)
		part = strings.TrimPrefix(part, "Bearer ")
		k, v, ok := strings.Cut(part, "=")
		if ok && strings.TrimSpace(k) == name {
			return safetext.Line(strings.Trim(strings.TrimSpace(v), `"`), 60)
		}
	}
	return ""
}

// cappedBody fails a read past the cap instead of filling memory.
type cappedBody struct {
	rc   io.ReadCloser
	left int64
}

var errTooLarge = fmt.Errorf("Okta's answer is larger than %d MiB", maxAnswer>>20)

// Read implements io.Reader.
func (b *cappedBody) Read(p []byte) (int, error) {
	if b.left <= 0 {
		// One more byte tells a body of exactly the cap from a larger one.
		var one [1]byte
		n, err := b.rc.Read(one[:])
		if n > 0 {
			return 0, errTooLarge
		}
		return 0, err
	}
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.rc.Read(p)
	b.left -= int64(n)
	return n, err
}

// Close implements io.Closer.
func (b *cappedBody) Close() error { return b.rc.Close() }
