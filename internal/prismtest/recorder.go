package prismtest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"testing"
)

// Problem is an error Prism itself answered (application/problem+json of a
// type under https://stoplight.io/prism/errors): UNPROCESSABLE_ENTITY for a
// request that breaks the spec, VIOLATIONS for an upstream's answer that
// breaks it (prism proxy --errors), UNAUTHORIZED, NO_PATH_MATCHED_ERROR, ...
type Problem struct {
	Type       string `json:"type"`
	Title      string `json:"title"`
	Status     int    `json:"status"`
	Detail     string `json:"detail"`
	Validation []struct {
		Location []string `json:"location"`
		Severity string   `json:"severity"`
		Message  string   `json:"message"`
	} `json:"validation"`
}

// Violations reports whether Prism found the upstream's answer invalid.
func (p *Problem) Violations() bool { return strings.HasSuffix(p.Type, "#VIOLATIONS") }

// String is the problem in Prism's words: status, title, kind, then each
// validation (or the detail).
func (p *Problem) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d %s (%s)", p.Status, p.Title, strings.TrimPrefix(p.Type, "https://stoplight.io/prism/errors"))
	for _, v := range p.Validation {
		fmt.Fprintf(&b, "; %s %s: %s", v.Severity, strings.Join(v.Location, "."), v.Message)
	}
	if len(p.Validation) == 0 && p.Detail != "" {
		fmt.Fprintf(&b, ": %s", p.Detail)
	}
	return b.String()
}

// Exchange is one request a Recorder passed on to Prism, with Prism's
// verdict on it.
type Exchange struct {
	// Method is the request's method; Path its path and URI its path and
	// query, as Prism received them.
	Method, Path, URI string
	// Status is the answer's status, as the client got it.
	Status int
	// Problem is Prism's own error answer, or nil when it let the exchange
	// pass.
	Problem *Problem
	// Violations is Prism's sl-violations header: what it warned about
	// and let pass.
	Violations string
}

// Faulty reports whether Prism objected to the exchange, with an error or
// a warning.
func (x Exchange) Faulty() bool { return x.Problem != nil || x.Violations != "" }

// String is the exchange and Prism's verdict, for failure messages.
func (x Exchange) String() string {
	s := fmt.Sprintf("%s %s -> %d", x.Method, x.URI, x.Status)
	if x.Problem != nil {
		s += " PRISM " + x.Problem.String()
	}
	if x.Violations != "" {
		s += " [sl-violations " + x.Violations + "]"
	}
	return s
}

// The ways Recorder.Check writes an exchange, to compare with what a test
// wants.
var (
	// PathStatus writes "PATH STATUS", such as "/users.lookupByEmail 200".
	PathStatus = func(x Exchange) string { return fmt.Sprintf("%s %d", x.Path, x.Status) }
	// MethodStatus writes "METHOD STATUS", such as "POST 204".
	MethodStatus = func(x Exchange) string { return fmt.Sprintf("%s %d", x.Method, x.Status) }
	// StatusOnly writes the status, such as "202".
	StatusOnly = func(x Exchange) string { return fmt.Sprint(x.Status) }
)

// Recorder stands between a client and Prism: it passes every request on
// (with the Prefer header, when set, to pick one of the spec's answers)
// and keeps Prism's verdict on each, so that a contract violation is
// reported in Prism's own words whatever the client makes of the answer.
type Recorder struct {
	// URL is where the client sends its requests: http://127.0.0.1:PORT.
	URL string

	mu       sync.Mutex
	upstream *url.URL
	prefer   string
	log      []Exchange
	request  func(out *http.Request)
	answer   func(resp *http.Response)
}

// RecorderOption changes what a Recorder does to each request or answer.
type RecorderOption func(*Recorder)

// RewriteRequest makes a Recorder call fn on each request on its way to
// Prism, once it points at the upstream: to strip a path prefix the spec's
// paths do not have, say.
func RewriteRequest(fn func(out *http.Request)) RecorderOption {
	return func(r *Recorder) { r.request = fn }
}

// RewriteAnswer makes a Recorder call fn on each answer on its way back to
// the client, before the exchange is recorded: to undo what a shim in front
// of the upstream did for Prism's sake, say.
func RewriteAnswer(fn func(resp *http.Response)) RecorderOption {
	return func(r *Recorder) { r.answer = fn }
}

// NewRecorder starts a Recorder in front of upstream (Prism's URL; "" when
// SetUpstream names it later) until the test ends.
func NewRecorder(t testing.TB, upstream string, opts ...RecorderOption) *Recorder {
	t.Helper()
	rec := &Recorder{}
	for _, o := range opts {
		o(rec)
	}
	if upstream != "" {
		rec.SetUpstream(t, upstream)
	}
	rp := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			rec.mu.Lock()
			up, prefer := rec.upstream, rec.prefer
			rec.mu.Unlock()
			if up != nil {
				pr.SetURL(up)
			}
			if prefer != "" {
				pr.Out.Header.Set("Prefer", prefer)
			}
			if rec.request != nil {
				rec.request(pr.Out)
			}
		},
		ModifyResponse: func(resp *http.Response) error {
			if rec.answer != nil {
				rec.answer(resp)
			}
			x := Exchange{Method: resp.Request.Method, Path: resp.Request.URL.Path, URI: resp.Request.URL.RequestURI(),
				Status: resp.StatusCode, Violations: resp.Header.Get("Sl-Violations")}
			if strings.Contains(resp.Header.Get("Content-Type"), "problem+json") {
				body, err := io.ReadAll(resp.Body)
				_ = resp.Body.Close()
				if err != nil {
					return err
				}
				resp.Body = io.NopCloser(bytes.NewReader(body))
				var p Problem
				if json.Unmarshal(body, &p) == nil && strings.Contains(p.Type, "stoplight.io/prism/errors") {
					x.Problem = &p
				}
			}
			rec.mu.Lock()
			rec.log = append(rec.log, x)
			rec.mu.Unlock()
			return nil
		},
	}
	srv := httptest.NewServer(rp)
	t.Cleanup(srv.Close)
	rec.URL = srv.URL
	return rec
}

// SetUpstream points the next requests at upstream.
func (rec *Recorder) SetUpstream(t testing.TB, upstream string) {
	t.Helper()
	u, err := url.Parse(upstream)
	if err != nil || u.Host == "" {
		t.Fatalf("prismtest: upstream %q is not a URL", upstream)
	}
	rec.mu.Lock()
	rec.upstream = u
	rec.mu.Unlock()
}

// SetPrefer sets the Prefer header of the next requests ("" for none),
// such as "code=404" or "code=403, example=denied".
func (rec *Recorder) SetPrefer(prefer string) {
	rec.mu.Lock()
	rec.prefer = prefer
	rec.mu.Unlock()
}

// Take returns the exchanges since the last Take.
func (rec *Recorder) Take() []Exchange {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	out := rec.log
	rec.log = nil
	return out
}

// Check takes the exchanges since the last Take, fails the test (saying it
// breaks the contract of what) for every one Prism objected to, and when
// the exchanges, each written by format, are not want, in order. It
// returns them.
func (rec *Recorder) Check(t testing.TB, what, contract string, format func(Exchange) string, want ...string) []Exchange {
	t.Helper()
	xs := rec.Take()
	got := make([]string, 0, len(xs))
	for _, x := range xs {
		got = append(got, format(x))
		switch {
		case x.Problem != nil && x.Problem.Violations():
			t.Errorf("%s breaks %s (an answer Prism found invalid): %s", what, contract, x)
		case x.Faulty():
			t.Errorf("%s breaks %s: %s", what, contract, x)
		}
	}
	if strings.Join(got, ", ") != strings.Join(want, ", ") {
		t.Errorf("%s: exchanges %v, want %v", what, got, want)
	}
	return xs
}
