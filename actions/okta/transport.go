package okta

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
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

// rateTransport is the only way out of the Okta client. It refuses any
// request for a scheme, host or port other than the org's before it leaves
// (every request the SDK builds carries the Okta credential: the SSWS
// token, the Bearer access token, or the client assertion), and refuses
// every redirect answer instead of following it. It records Okta's
// rate-limit headers and X-Okta-Request-Id of every answer, and paces
// requests: when a bucket is (nearly) spent, the next request to it waits
// for the window to reset, bounded by the request's context and maxWait.
type rateTransport struct {
	base    http.RoundTripper
	org     origin
	maxWait time.Duration
	// now and sleep are the clock of pacing; tests replace them to see the
	// waits asked for without waiting.
	now   func() time.Time
	sleep func(ctx context.Context, d time.Duration) error

	mu      sync.Mutex
	buckets map[string]*bucket
	last    RateStatus
}

// bucket is what is known of one rate-limit bucket.
type bucket struct {
	limit, remaining int
	reset            time.Time // local clock
}

// newRateTransport returns the transport for the org at orgURL, an
// absolute URL already checked by checkOrgURL.
func newRateTransport(orgURL string, maxWait time.Duration) (*rateTransport, error) {
	u, err := url.Parse(orgURL)
	if err != nil {
		return nil, errors.New("the Okta org URL cannot be parsed")
	}
	base := http.DefaultTransport.(*http.Transport).Clone()
	base.TLSClientConfig = &tls.Config{MinVersion: tls.VersionTLS12}
	base.MaxIdleConnsPerHost = 16
	base.ResponseHeaderTimeout = 0
	return &rateTransport{base: base, org: originOf(u), maxWait: maxWait,
		now: time.Now, sleep: sleepCtx, buckets: map[string]*bucket{}}, nil
}

// sleepCtx waits for d, or until ctx is done.
func sleepCtx(ctx context.Context, d time.Duration) error {
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// origin is a URL's scheme, host and port, as onOrg compares them.
type origin struct{ scheme, host, port string }

// originOf returns u's origin: lower-case scheme and host, and the port
// with the scheme's default filled in.
func originOf(u *url.URL) origin {
	o := origin{scheme: strings.ToLower(u.Scheme), host: strings.ToLower(u.Hostname()), port: u.Port()}
	if o.port == "" {
		switch o.scheme {
		case "https":
			o.port = "443"
		case "http":
			o.port = "80"
		}
	}
	return o
}

// String returns the origin as scheme://host[:port], for messages.
func (o origin) String() string {
	host := o.host
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	defaultPort := o.scheme == "https" && o.port == "443" || o.scheme == "http" && o.port == "80"
	if o.port != "" && !defaultPort {
		host += ":" + o.port
	}
	if o.scheme == "" {
		return "//" + host
	}
	return o.scheme + "://" + host
}

// onOrg reports whether u is on the org: the same scheme, host and port,
// and no user information (which would make a careless reader see another
// host than the one the request goes to).
func (t *rateTransport) onOrg(u *url.URL) bool {
	return u != nil && u.User == nil && u.Opaque == "" && originOf(u) == t.org
}

// refusal is an error of the transport's own: a request it would not send,
// or an answer it would not hand on. Its text is a whole sentence for the
// operator; status is the HTTP status of a refused answer (0 when the
// request never left).
type refusal struct {
	msg    string
	status int
}

// Error implements error.
func (r *refusal) Error() string { return r.msg }

// offOrg explains a refused request for somewhere other than the org.
func (t *rateTransport) offOrg(u *url.URL) *refusal {
	dest := "an unreadable address"
	if u != nil && u.Host != "" {
		dest = safetext.Line(originOf(u).String(), 120)
	}
	return &refusal{msg: fmt.Sprintf("ulc refused to send an Okta request to %s: the Okta credential goes only to the org, %s", dest, t.org)}
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

// RoundTrip implements http.RoundTripper. A request for anywhere but the
// org is refused before anything is sent; so is a redirect answer, and an
// answer whose Link header the SDK could not read (it would crash on it).
func (t *rateTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if !t.onOrg(req.URL) {
		closeBody(req)
		return nil, t.offOrg(req.URL)
	}
	key := bucketKey(req.Method, req.URL.Path)
	// A retry of the SDK's has waited for the reset already.
	if req.Header.Get("X-Okta-Retry-Count") == "" {
		if err := t.pace(req.Context(), key); err != nil {
			closeBody(req)
			return nil, err
		}
	}
	resp, err := t.base.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	t.record(req.Context(), key, resp)
	if err := t.refuseAnswer(resp); err != nil {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4096))
		resp.Body.Close()
		return nil, err
	}
	resp.Body = &cappedBody{rc: resp.Body, left: maxAnswer}
	return resp, nil
}

// closeBody closes the body of a request that is not sent, as a
// RoundTripper must.
func closeBody(req *http.Request) {
	if req.Body != nil {
		_ = req.Body.Close()
	}
}

// refuseAnswer returns the refusal of an answer that must not reach the
// SDK: a redirect (Okta's API never redirects; following one would carry
// the credential elsewhere or turn a POST into a GET, and handing it on
// would make the SDK take an empty page for success), or a Link header the
// SDK cannot parse (its newResponse dereferences the nil URL and panics).
func (t *rateTransport) refuseAnswer(resp *http.Response) error {
	if resp.StatusCode >= 300 && resp.StatusCode < 400 {
		where := "elsewhere"
		if loc, err := resp.Location(); err == nil && loc.Host != "" {
			where = "to " + safetext.Line(originOf(loc).String(), 120)
		} else if err == nil {
			where = "to another page of the org"
		}
		return &refusal{status: resp.StatusCode, msg: fmt.Sprintf(
			"Okta answered %d, a redirect %s; ulc does not follow redirects (Okta's API never redirects: check the org URL and any proxy in between)",
			resp.StatusCode, where)}
	}
	for _, line := range resp.Header["Link"] {
		// The SDK's reading: the text before the first ";", without <>.
		parts := strings.Split(line, ";")
		if len(parts) < 2 {
			continue
		}
		raw := strings.TrimRight(strings.TrimLeft(parts[0], "<"), ">")
		if _, err := url.Parse(raw); err != nil {
			return &refusal{status: resp.StatusCode, msg: fmt.Sprintf(
				"Okta answered %d with a Link header that is not a URL; ulc stopped rather than guess the next page", resp.StatusCode)}
		}
	}
	return nil
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
	return t.sleep(ctx, wait)
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

var errTooLarge = fmt.Errorf("the answer from Okta is larger than %d MiB", maxAnswer>>20)

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
