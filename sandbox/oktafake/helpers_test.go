package oktafake

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"
)

// The SSWS tokens every test server knows.
const (
	tokAll  = "ssws-all"
	tokRead = "ssws-read"
	tokLogs = "ssws-logs"
)

type fixture struct {
	t  *testing.T
	s  *Server
	ts *httptest.Server
}

func start(t *testing.T, o Options) *fixture {
	t.Helper()
	s := New(o)
	s.AddToken(tokAll)
	s.AddToken(tokRead, PermRead)
	s.AddToken(tokLogs, PermLogs)
	ts := httptest.NewServer(s)
	t.Cleanup(ts.Close)
	return &fixture{t: t, s: s, ts: ts}
}

// answer is what the tests read of an answer besides its body: the status
// and the headers. The helpers read the body whole and close it, so no
// test holds an open response.
type answer struct {
	StatusCode int
	Header     http.Header
}

// do sends a request; auth is a whole Authorization header value ("" for none).
func (f *fixture) do(method, path, auth, body string) (*answer, []byte) {
	f.t.Helper()
	target := path
	if !strings.HasPrefix(path, "http") {
		target = f.ts.URL + path
	}
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(f.t.Context(), method, target, rd)
	if err != nil {
		f.t.Fatal(err)
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := f.ts.Client().Do(req)
	if err != nil {
		f.t.Fatal(err)
	}
	b, err := io.ReadAll(resp.Body)
	if cerr := resp.Body.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		f.t.Fatal(err)
	}
	return &answer{StatusCode: resp.StatusCode, Header: resp.Header}, b
}

// get is an SSWS GET with the all-powerful token that must answer want.
func (f *fixture) get(path string, want int) (*answer, []byte) {
	f.t.Helper()
	resp, b := f.do(http.MethodGet, path, "SSWS "+tokAll, "")
	if resp.StatusCode != want {
		f.t.Fatalf("GET %s: status %d, want %d: %s", path, resp.StatusCode, want, b)
	}
	return resp, b
}

func (f *fixture) send(method, path string, want int) []byte {
	f.t.Helper()
	resp, b := f.do(method, path, "SSWS "+tokAll, "")
	if resp.StatusCode != want {
		f.t.Fatalf("%s %s: status %d, want %d: %s", method, path, resp.StatusCode, want, b)
	}
	return b
}

type testUser struct {
	ID      string `json:"id"`
	Status  string `json:"status"`
	Profile struct {
		Login      string `json:"login"`
		Email      string `json:"email"`
		FirstName  string `json:"firstName"`
		LastName   string `json:"lastName"`
		Department string `json:"department"`
	} `json:"profile"`
	Links map[string]struct {
		Href string `json:"href"`
	} `json:"_links"`
}

func (f *fixture) users(path string) []testUser {
	f.t.Helper()
	_, b := f.get(path, http.StatusOK)
	var us []testUser
	if err := json.Unmarshal(b, &us); err != nil {
		f.t.Fatalf("%s: %v: %s", path, err, b)
	}
	return us
}

func (f *fixture) person(login string) Person {
	f.t.Helper()
	p, ok := f.s.Person(login)
	if !ok {
		f.t.Fatalf("no person %s", login)
	}
	return p
}

func logins(us []testUser) []string {
	out := make([]string, len(us))
	for i, u := range us {
		out[i] = u.Profile.Login
	}
	return out
}

// okErr checks an Okta error answer.
func okErr(t *testing.T, resp *answer, b []byte, status int, code string) oktaError {
	t.Helper()
	if resp.StatusCode != status {
		t.Fatalf("status %d, want %d: %s", resp.StatusCode, status, b)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q", ct)
	}
	var e oktaError
	if err := json.Unmarshal(b, &e); err != nil {
		t.Fatalf("error body %s: %v", b, err)
	}
	if e.ErrorCode != code || e.ErrorLink != code || e.ErrorID == "" || e.ErrorCauses == nil || e.ErrorSummary == "" {
		t.Errorf("error body %s, want code %s and all fields", b, code)
	}
	return e
}

// links returns the Link header lines by relation, failing on a line that
// holds more than one link.
func links(t *testing.T, h http.Header) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	for _, line := range h.Values("Link") {
		if strings.Count(line, "<") != 1 {
			t.Fatalf("Link line with several links: %q", line)
		}
		u, rest, _ := strings.Cut(strings.TrimPrefix(line, "<"), ">")
		rel := strings.TrimSuffix(strings.TrimPrefix(strings.TrimSpace(rest), `; rel="`), `"`)
		out[rel] = append(out[rel], u)
	}
	return out
}

func q(s string) string { return url.QueryEscape(s) }

// fixedNow is a clock for deterministic tests.
func fixedNow() time.Time { return time.Date(2026, 3, 17, 14, 30, 0, 0, time.UTC) }
