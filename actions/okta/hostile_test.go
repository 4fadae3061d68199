package okta

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"ulc/actions"
	"ulc/sandbox/oktafake"
)

// trap is a second listener on loopback, standing for wherever a hostile
// answer tries to send the client: it records every request that reaches
// it, and whether it carried a credential.
type trap struct {
	srv  *httptest.Server
	mu   sync.Mutex
	hits []string
}

func newTrap(t *testing.T) *trap {
	t.Helper()
	tr := &trap{}
	tr.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		line := r.Method + " " + r.RequestURI
		if r.Header.Get("Authorization") != "" {
			line += " (with Authorization)"
		}
		tr.mu.Lock()
		tr.hits = append(tr.hits, line)
		tr.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte("[]"))
	}))
	t.Cleanup(tr.srv.Close)
	return tr
}

// hostPort is the trap's 127.0.0.1:port.
func (tr *trap) hostPort() string { return strings.TrimPrefix(tr.srv.URL, "http://") }

// untouched fails the test when any request reached the trap.
func (tr *trap) untouched(t *testing.T, what string) {
	t.Helper()
	tr.mu.Lock()
	defer tr.mu.Unlock()
	if len(tr.hits) > 0 {
		t.Errorf("%s: the trap listener received %q", what, tr.hits)
	}
}

// hostileOrg is an Okta stand-in on loopback: the sandbox's fake Okta,
// whose answers are rewritten once hostile is set: list pages (users,
// search, logs) get the next link nextLink, and requests that redirect
// matches are answered with a redirect to the trap.
type hostileOrg struct {
	fake *oktafake.Server
	srv  *httptest.Server
	trap *trap

	hostile  atomic.Bool
	mu       sync.Mutex
	nextLink string
	redirect func(*http.Request) int // a 3xx status, or 0
}

func newHostileOrg(t *testing.T) *hostileOrg {
	t.Helper()
	cleanEnv(t)
	h := &hostileOrg{fake: oktafake.New(oktafake.Options{People: 300}), trap: newTrap(t)}
	h.fake.AddToken(testToken)
	h.srv = httptest.NewServer(http.HandlerFunc(h.serve))
	t.Cleanup(h.srv.Close)
	return h
}

func (h *hostileOrg) set(nextLink string, redirect func(*http.Request) int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.nextLink = strings.NewReplacer("TRAP", h.trap.hostPort(), "ORG", strings.TrimPrefix(h.srv.URL, "http://")).Replace(nextLink)
	h.redirect = redirect
}

func (h *hostileOrg) serve(w http.ResponseWriter, r *http.Request) {
	h.mu.Lock()
	next, redirect := h.nextLink, h.redirect
	h.mu.Unlock()
	if h.hostile.Load() && redirect != nil {
		if code := redirect(r); code != 0 {
			http.Redirect(w, r, h.trap.srv.URL+r.URL.RequestURI(), code)
			return
		}
	}
	rec := httptest.NewRecorder()
	h.fake.ServeHTTP(rec, r)
	for k, v := range rec.Header() {
		w.Header()[k] = v
	}
	list := r.Method == http.MethodGet && (r.URL.Path == "/api/v1/users" || r.URL.Path == "/api/v1/logs")
	if h.hostile.Load() && list && next != "" {
		w.Header().Del("Link")
		w.Header().Add("Link", "<"+h.srv.URL+r.URL.RequestURI()+`>; rel="self"`)
		w.Header().Add("Link", "<"+next+`>; rel="next"`)
	}
	w.WriteHeader(rec.Code)
	_, _ = w.Write(rec.Body.Bytes())
}

func (h *hostileOrg) connect(t *testing.T) *Client {
	t.Helper()
	c, err := Connect(context.Background(), Settings{OrgURL: h.srv.URL, Token: testToken, RequestTimeout: 10 * time.Second, MaxBackoff: time.Second})
	if err != nil {
		t.Fatalf("Connect: %v", err)
	}
	return c
}

// TestHostileNextLinks: whatever next link a hostile Okta (or something
// between it and ulc) puts in a users, search or System Log page, the
// client never sends a request, and so never the token, anywhere but the
// org; the caller gets one clear sentence without the token.
func TestHostileNextLinks(t *testing.T) {
	h := newHostileOrg(t)
	c := h.connect(t)
	trinity := h.fake.People()[0]
	for _, p := range h.fake.People() {
		if p.Login == "trinity@whiterabbit.fake" {
			trinity = p
		}
	}
	cases := []struct{ name, link, want string }{
		{"user info before localhost", "@localhost/api/v1/users?after=1", "leads to a path that is not on the org"},
		{"user info before the trap", "@TRAP/api/v1/users?after=1", "not a URL"},
		{"protocol-relative", "//TRAP/api/v1/users?after=1", "leads to //TRAP,"},
		{"another port", "http://TRAP/api/v1/users?after=1", "leads to http://TRAP,"},
		{"another host", "https://evil.example/api/v1/users?after=1", "leads to https://evil.example,"},
		{"the org as user name", "http://ORG@TRAP/api/v1/users?after=1", "leads to http://TRAP,"},
		{"https on the org's port", "https://ORG/api/v1/users?after=1", "leads to https://ORG,"},
		{"a relative path", "api/v1/users?after=1", "leads to a path that is not on the org"},
		{"not a URL", "http://[::1/api/v1/users", "not a URL"},
	}
	calls := []struct {
		name string
		do   func() error
	}{
		{"list", func() error { _, err := c.Search(context.Background(), "", 500, ""); return err }},
		{"one page", func() error { _, err := c.Search(context.Background(), "", 10, ""); return err }},
		{"search", func() error { _, err := c.Search(context.Background(), `status eq "ACTIVE"`, 500, ""); return err }},
		{"logs", func() error {
			_, err := c.Activity(context.Background(), trinity.ID, time.Now().Add(-30*24*time.Hour), 1000)
			return err
		}},
	}
	h.hostile.Store(true)
	for _, tc := range cases {
		h.set(tc.link, nil)
		want := strings.NewReplacer("TRAP", h.trap.hostPort(), "ORG", strings.TrimPrefix(h.srv.URL, "http://")).Replace(tc.want)
		for _, call := range calls {
			what := tc.name + ", " + call.name
			err := call.do()
			if err == nil {
				t.Errorf("%s: no error", what)
				continue
			}
			if !strings.Contains(err.Error(), want) {
				t.Errorf("%s: err = %v\nwant it to contain %q", what, err, want)
			}
			noSecret(t, err.Error())
		}
		h.trap.untouched(t, tc.name)
	}
	// A well-behaved link is still followed.
	h.set("", nil)
	h.hostile.Store(false)
	if page, err := c.Search(context.Background(), "", 500, ""); err != nil || len(page.People) < 300 {
		t.Fatalf("after the hostile answers: %v, %d people", err, len(page.People))
	}
}

// TestHostileRedirects: a redirect answer, to wherever, is never followed:
// not for a read, not for an Okta step (which is then not done, and the
// engine classifies it rejected), not at the connection check.
func TestHostileRedirects(t *testing.T) {
	h := newHostileOrg(t)
	c := h.connect(t)
	var trinity oktafake.Person
	for _, p := range h.fake.People() {
		if p.Login == "trinity@whiterabbit.fake" {
			trinity = p
		}
	}
	h.hostile.Store(true)
	for _, code := range []int{http.StatusFound, http.StatusTemporaryRedirect, http.StatusPermanentRedirect} {
		h.set("", func(*http.Request) int { return code })
		_, err := c.Search(context.Background(), "trinity", 10, "")
		if err == nil || !strings.Contains(err.Error(), "a redirect to http://"+h.trap.hostPort()+"; ulc does not follow redirects") {
			t.Errorf("%d, search: err = %v", code, err)
		} else {
			noSecret(t, err.Error())
		}
		for _, a := range []actions.Action{actions.ActionSuspend, actions.ActionClearSessions, actions.ActionUniversalLogout} {
			ans := c.Do(context.Background(), a, actions.User{ID: trinity.ID}, false)
			if ans.Err == nil || ans.HTTPStatus != code || !strings.Contains(ans.Err.Error(), "ulc does not follow redirects") {
				t.Errorf("%d, %s: answer %+v", code, a, ans)
				continue
			}
			if o, _ := actions.Classify(ans.HTTPStatus, nil); o != actions.Rejected {
				t.Errorf("%d, %s: classified %s", code, a, o)
			}
			noSecret(t, ans.Err.Error())
		}
		_, err = Connect(context.Background(), Settings{OrgURL: h.srv.URL, Token: testToken, RequestTimeout: 10 * time.Second})
		if err == nil || !strings.Contains(err.Error(), "ulc does not follow redirects") {
			t.Errorf("%d, connect: err = %v", code, err)
		}
	}
	h.trap.untouched(t, "redirects")
	if p := h.fake.People(); len(p) == 0 {
		t.Fatal("no people")
	}
	for _, p := range h.fake.People() {
		if p.ID == trinity.ID && p.Status != "ACTIVE" {
			t.Errorf("trinity is %s after redirected steps", p.Status)
		}
	}

	// An answer whose Link header the SDK cannot parse (it would panic) is
	// refused, at the connection check too.
	h.set("http://[::1/x", nil)
	_, err := Connect(context.Background(), Settings{OrgURL: h.srv.URL, Token: testToken, RequestTimeout: 10 * time.Second})
	if err == nil || !strings.Contains(err.Error(), "Link header that is not a URL") {
		t.Errorf("unparseable Link: err = %v", err)
	}
}

// TestTransportRefusesOtherOrigins: the transport itself refuses any
// request the SDK builds for another scheme, host or port, before it
// leaves, even when the path ulc hands the SDK is hostile.
func TestTransportRefusesOtherOrigins(t *testing.T) {
	h := newHostileOrg(t)
	c := h.connect(t)
	for _, path := range []string{
		"@" + h.trap.hostPort() + "/api/v1/users",
		"@localhost/api/v1/users",
		"@evil.example/api/v1/users",
	} {
		_, err := c.raw(context.Background(), http.MethodGet, path, nil)
		if err == nil || !strings.Contains(err.Error(), "ulc refused to send an Okta request to ") ||
			!strings.Contains(err.Error(), "the Okta credential goes only to the org, "+h.srv.URL) {
			t.Errorf("%s: err = %v", path, err)
			continue
		}
		noSecret(t, err.Error())
		if msg := c.sentence(err, nil, traceData{}, "Okta refused"); !strings.HasPrefix(msg, "ulc refused to send") {
			t.Errorf("%s: sentence %q", path, msg)
		}
	}
	h.trap.untouched(t, "hostile paths")

	rt, err := newRateTransport("https://acme.okta.com", time.Second)
	if err != nil {
		t.Fatal(err)
	}
	for raw, ok := range map[string]bool{
		"https://acme.okta.com/api/v1/users":          true,
		"https://ACME.okta.com:443/api/v1/users":      true,
		"http://acme.okta.com/api/v1/users":           false,
		"https://acme.okta.com:8443/api/v1/users":     false,
		"https://acme.okta.com.evil.example/x":        false,
		"https://x@acme.okta.com/api/v1/users":        false,
		"https://acme.okta.com@evil.example/x":        false,
		"https://evil.example/oauth2/v1/token?x=1":    false,
		"https://acme.okta.com/oauth2/v1/token?x=1":   true,
		"https://acme.okta.com./api/v1/users":         false,
		"https://[::1]/api/v1/users":                  false,
		"https://acme.okta.com/api/v1/users?next=//x": true,
	} {
		u, err := url.Parse(raw)
		if err != nil {
			t.Fatal(err)
		}
		if got := rt.onOrg(u); got != ok {
			t.Errorf("%s: on the org = %v", raw, got)
		}
	}
}

// TestPrivateKeyCredentialStaysOnOrg: in private-key mode neither the
// client assertion (a redirected token request) nor the Bearer access
// token (a hostile next link) reaches another listener.
func TestPrivateKeyCredentialStaysOnOrg(t *testing.T) {
	h := newHostileOrg(t)
	pemBytes := pkcs8RSA(t)
	h.fake.AddServiceApp("0oahostile", mustParse(t, pemBytes), oktafake.PermRead)
	s := Settings{OrgURL: h.srv.URL, AuthMode: "private_key", ClientID: "0oahostile", PrivateKeyPEM: pemBytes,
		Scopes: []string{"okta.users.read"}, RequestTimeout: 10 * time.Second, MaxBackoff: time.Second}

	h.hostile.Store(true)
	h.set("", func(r *http.Request) int {
		if r.URL.Path == "/oauth2/v1/token" {
			return http.StatusTemporaryRedirect
		}
		return 0
	})
	_, err := Connect(context.Background(), s)
	if err == nil || !strings.Contains(err.Error(), "ulc does not follow redirects") || strings.Contains(err.Error(), "eyJ") {
		t.Errorf("redirected token request: err = %v", err)
	}
	h.trap.untouched(t, "token request")

	h.hostile.Store(false)
	h.set("http://TRAP/api/v1/users?after=1", nil)
	c, err := Connect(context.Background(), s)
	if err != nil {
		t.Fatalf("Connect: %v", err)
	}
	h.hostile.Store(true)
	if _, err := c.Search(context.Background(), "", 500, ""); err == nil || strings.Contains(err.Error(), "eyJ") {
		t.Errorf("hostile next link: err = %v", err)
	}
	h.trap.untouched(t, "bearer token")
}
