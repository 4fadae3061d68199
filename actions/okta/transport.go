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
	"sync/atomic"
	"time"

	"ulc/internal/safetext"
)

// paceThreshold is the budget left in a rate-limit bucket at or below
// which the client stops and waits for the window to reset instead of
// collecting 429s: a request leaves only when the bucket has room. Each
// request is counted against the budget before it leaves, so requests in
// flight at once never overspend it.
const paceThreshold = 0

// maxAnswer caps how much of one Okta answer is read. A page of 200 users
// or 1000 log events is a few megabytes.
const maxAnswer = 32 << 20

// rateTransport is the only way out of the Okta client. It refuses any
// request for a scheme, host or port other than the org's before it leaves
// (every request the SDK builds carries the Okta credential: the SSWS
// token, the Bearer access token, or the client assertion), and refuses
// every redirect answer instead of following it. It records Okta's
// rate-limit headers and X-Okta-Request-Id of every answer, and paces
// requests: when a bucket is spent, the next request to it waits for the
// window to reset, however long that is, bounded only by the request's
// context. The request timeout starts when the request leaves, so a paced
// wait never counts against it.
type rateTransport struct {
	base    http.RoundTripper
	org     origin
	timeout time.Duration // of each request, from when it leaves
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
	window           int64     // X-Rate-Limit-Reset of the window remaining counts in
}

// newRateTransport returns the transport for the org at orgURL, an
// absolute URL already checked by checkOrgURL; each request it sends may
// take timeout from when it leaves until its answer is read.
func newRateTransport(orgURL string, timeout time.Duration) (*rateTransport, error) {
	u, err := url.Parse(orgURL)
	if err != nil {
		return nil, errors.New("the Okta org URL cannot be parsed")
	}
	base := http.DefaultTransport.(*http.Transport).Clone()
	base.TLSClientConfig = &tls.Config{MinVersion: tls.VersionTLS12}
	base.MaxIdleConnsPerHost = 16
	base.ResponseHeaderTimeout = 0
	return &rateTransport{base: base, org: originOf(u), timeout: timeout,
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
	// A retry of the SDK's after a 429 is paced too: the SDK's own wait is
	// capped by MaxBackoff and may end before the window does.
	if err := t.pace(req.Context(), key); err != nil {
		closeBody(req)
		return nil, err
	}
	ctx, cancel := req.Context(), context.CancelFunc(func() {})
	if t.timeout > 0 {
		ctx, cancel = context.WithTimeout(ctx, t.timeout)
	}
	resp, err := t.base.RoundTrip(req.WithContext(ctx))
	if err != nil {
		cancel()
		return nil, err
	}
	t.record(req.Context(), key, resp)
	if err := t.refuseAnswer(resp); err != nil {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4096))
		resp.Body.Close()
		cancel()
		return nil, err
	}
	resp.Body = &cappedBody{rc: resp.Body, left: maxAnswer, done: cancel}
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

// pace waits, while key's bucket is spent, until its window resets, and
// counts the request against the bucket before it leaves. The wait is
// never skipped, however long the window: only the context ends it (its
// error is returned). A wait is announced once through the context's
// RateWaitFunc, if any.
func (t *rateTransport) pace(ctx context.Context, key string) error {
	announced := false
	for {
		t.mu.Lock()
		b := t.buckets[key]
		if b == nil {
			t.mu.Unlock()
			return nil
		}
		now := t.now()
		if !b.reset.IsZero() && !now.Before(b.reset) {
			// A new window: assume the full budget until Okta says otherwise.
			b.remaining = b.limit
			b.reset = time.Time{}
		}
		if b.remaining > paceThreshold || b.reset.IsZero() {
			b.remaining--
			t.mu.Unlock()
			return nil
		}
		wait := b.reset.Sub(now)
		t.mu.Unlock()
		if !announced {
			announced = true
			if p, ok := ctx.Value(rateWaitKey{}).(*pacing); ok && p.notify != nil {
				p.notify(RateWait{Path: bucketPath(key), Wait: wait, Done: int(p.done.Load()), Total: p.total})
			}
		}
		if err := t.sleep(ctx, wait); err != nil {
			return err
		}
	}
}

// RateWait is one wait of the client for the next window of an Okta
// rate-limit bucket.
type RateWait struct {
	// Path is the bucket's endpoint, as Okta's rate-limit documentation
	// names it: "/api/v1/users/{id}", "/api/v1/users".
	Path string
	// Wait is how long until the window resets.
	Wait time.Duration
	// Done and Total count the users looked up (Resolve) with the
	// context so far, and those to look up; Total is 0 when not told.
	Done, Total int
}

// String says what the client waits for, in a line for the operator.
func (w RateWait) String() string {
	s := fmt.Sprintf("Okta's rate limit for %s: waiting %d s for the next window",
		safetext.Line(w.Path, 80), int64((w.Wait+time.Second-1)/time.Second))
	if w.Total > 0 {
		s += fmt.Sprintf(" (%d of %d users looked up)", w.Done, w.Total)
	}
	return s
}

// RateWaitFunc is told of each wait for a rate-limit window, once per wait,
// before it begins. It runs on the goroutine of the request that waits.
type RateWaitFunc func(RateWait)

// pacing is what a context carries for WithRateWait.
type pacing struct {
	notify RateWaitFunc
	total  int
	done   atomic.Int64
}

// rateWaitKey carries a *pacing in a context.
type rateWaitKey struct{}

// WithRateWait returns ctx carrying f: every Okta request made with the
// returned context that has to wait for a rate-limit window tells f
// first, with how many of total users Resolve has looked up with it.
func WithRateWait(ctx context.Context, total int, f RateWaitFunc) context.Context {
	return context.WithValue(ctx, rateWaitKey{}, &pacing{notify: f, total: total})
}

// lookedUp counts one user looked up with ctx.
func lookedUp(ctx context.Context) { lookedUpN(ctx, 1) }

// lookedUpN counts n users looked up with ctx.
func lookedUpN(ctx context.Context, n int) {
	if p, ok := ctx.Value(rateWaitKey{}).(*pacing); ok {
		p.done.Add(int64(n))
	}
}

// bucketPath is the endpoint of bucket key, with "*" shown as "{id}".
func bucketPath(key string) string {
	_, path, _ := strings.Cut(key, " ")
	return strings.ReplaceAll(path, "*", "{id}")
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
	switch {
	case rerr != nil:
	case serr != nil || resetEpoch > b.window:
		// The first answer of a window, or one without a window.
		b.remaining = remaining
	case resetEpoch == b.window:
		// Answers of one window can arrive out of order, and requests
		// still in flight are counted already: the least is right.
		b.remaining = min(b.remaining, remaining)
	}
	if serr == nil && resetEpoch >= b.window {
		// An answer of an older window (late) changes nothing.
		b.window = resetEpoch
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
	done context.CancelFunc // ends the request's timeout
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
func (b *cappedBody) Close() error {
	err := b.rc.Close()
	if b.done != nil {
		b.done()
	}
	return err
}
