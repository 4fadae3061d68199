package actions

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"ulc/config"
)

func TestClassifyTable(t *testing.T) {
	cases := []struct {
		status    int
		err       error
		outcome   Outcome
		retryable bool
	}{
		{204, nil, Revoked, false},
		{200, nil, Revoked, false},
		{202, nil, Revoked, false},
		{404, nil, NotFound, false},
		{400, nil, Rejected, false},
		{401, nil, Rejected, false},
		{403, nil, Rejected, false},
		{405, nil, Rejected, false},
		{301, nil, Rejected, false},
		{307, nil, Rejected, false},
		{422, nil, Failed, false},
		{429, nil, Failed, true},
		{500, nil, Failed, true},
		{503, nil, Failed, true},
		{100, nil, Failed, false},
		{0, syscall.ECONNREFUSED, Failed, true},
		{0, context.DeadlineExceeded, Failed, true},
		{0, fmt.Errorf("wrapped: %w", context.Canceled), Cancelled, false},
		{204, io.ErrUnexpectedEOF, Failed, true}, // a transport error wins over any status
	}
	for _, c := range cases {
		o, r := Classify(c.status, c.err)
		if o != c.outcome || r != c.retryable {
			t.Errorf("Classify(%d, %v) = %s, %v; want %s, %v", c.status, c.err, o, r, c.outcome, c.retryable)
		}
	}
}

func TestRetryAfter(t *testing.T) {
	now := time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)
	cases := []struct {
		v  string
		d  time.Duration
		ok bool
	}{
		{"", 0, false},
		{"3", 3 * time.Second, true},
		{" 0 ", 0, true},
		{"-1", 0, false},
		{"soon", 0, false},
		{now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second, true},
		{now.Add(-time.Hour).Format(http.TimeFormat), 0, true},
	}
	for _, c := range cases {
		d, ok := RetryAfter(c.v, now)
		if d != c.d || ok != c.ok {
			t.Errorf("RetryAfter(%q) = %v, %v; want %v, %v", c.v, d, ok, c.d, c.ok)
		}
	}
}

// FuzzClassify feeds arbitrary statuses, transport errors, Retry-After
// values and answer bodies to the classifier and the explanation: they must
// never panic, every answer must land in the vocabulary, only the
// retryable classes may retry, and the explanation must be one safe line.
func FuzzClassify(f *testing.F) {
	f.Add(204, "", "", "")
	f.Add(429, "", "120", `{"error":"slow down"}`)
	f.Add(503, "", "Wed, 21 Oct 2015 07:28:00 GMT", "\x1b[2J\x1b]0;owned\x07")
	f.Add(301, "", "", "")
	f.Add(0, "connection refused", "", "")
	f.Add(-5, "", "99999999999999999999", strings.Repeat("A", 70000))
	f.Fuzz(func(t *testing.T, status int, transport, retryAfter, body string) {
		var err error
		if transport != "" {
			err = errors.New(transport)
		}
		o, retry := Classify(status, err)
		switch o {
		case Revoked, NotFound, Rejected, Failed, Cancelled:
		default:
			t.Fatalf("Classify(%d, %v) = %q: not an answer outcome", status, err, o)
		}
		if retry && !(err != nil || status == 429 || status >= 500 && status < 600) {
			t.Fatalf("Classify(%d, %v) retries an answer that must not be retried", status, err)
		}
		if d, ok := RetryAfter(retryAfter, time.Now()); ok && d < 0 {
			t.Fatalf("RetryAfter(%q) = %v", retryAfter, d)
		}
		h := http.Header{}
		h.Set("Location", body)
		what, next := explain(config.Target{Timeout: time.Second, Subject: "email", BodyKey: "sub_id"},
			answer{status: status, err: err, body: []byte(body), header: h}, o)
		msg := what + ": " + next
		if strings.ContainsAny(msg, "\x1b\n\r\x07") {
			t.Fatalf("explanation is not one safe line: %q", msg)
		}
		if len([]rune(msg)) > 400 {
			t.Fatalf("explanation of %d runes", len([]rune(msg)))
		}
	})
}

// A redirect's reason names only where it points: a hostile app could put a
// token in the rest of its Location, and the reason reaches the audit log.
func TestRedirectReasonNamesOnlyTheOrigin(t *testing.T) {
	for loc, want := range map[string]string{
		"https://evil.example/collect?token=s3cret-d6f1&u=neo": `"https://evil.example"`,
		"https://user:s3cret-d6f1@evil.example/x":              `"https://evil.example"`,
		"/login?next=s3cret-d6f1":                              `"a relative location"`,
	} {
		h := http.Header{}
		h.Set("Location", loc)
		what, next := explain(config.Target{Timeout: time.Second}, answer{status: 302, header: h}, Rejected)
		msg := what + ": " + next
		if strings.Contains(msg, "s3cret-d6f1") || !strings.Contains(msg, want) {
			t.Errorf("Location %q: reason %q, want it to name %s and nothing more", loc, msg, want)
		}
	}
}
