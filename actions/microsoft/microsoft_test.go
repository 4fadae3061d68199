package microsoft_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"ulc/actions"
	"ulc/actions/microsoft"
	"ulc/config"
	"ulc/internal/journaltest"
	"ulc/sandbox/microsoftfake"
)

// register makes the engine use the connector for f's targets. The engine
// routes by a target's kind; until it does, it routes every target to the
// kind ActionOf reports, so the connector is registered under that too.
func register(t *testing.T, f *config.File) {
	t.Helper()
	actions.Register(config.KindMicrosoft, microsoft.Connector{})
	for _, tg := range f.Targets {
		if k := string(actions.ActionOf(tg)); k != config.KindMicrosoft {
			t.Logf("the engine routes target %q to kind %q: registering the connector there too", tg.Name, k)
			actions.Register(k, microsoft.Connector{})
		}
	}
}

// load writes targets.toml with blocks and parses it with the config
// package.
func load(t *testing.T, dir string, blocks ...string) *config.File {
	t.Helper()
	src := "[defaults]\ntimeout = \"10s\"\nretries = 2\nmax_retry_wait = \"3s\"\nconcurrency = 1\n\n" + strings.Join(blocks, "\n")
	path := filepath.Join(dir, "targets.toml")
	if err := os.WriteFile(path, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := config.Load(path)
	if err != nil {
		t.Fatalf("config: %v\n%s", err, src)
	}
	register(t, f)
	return f
}

// fakeTarget starts a fake tenant and returns it with its parsed target.
func fakeTarget(t *testing.T, o microsoftfake.Options, edit func(string) string) (*microsoftfake.Server, *config.File) {
	t.Helper()
	s, err := microsoftfake.Start(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	dir := t.TempDir()
	block, err := s.TargetTOML("m365", dir)
	if err != nil {
		t.Fatal(err)
	}
	if edit != nil {
		block = edit(block)
	}
	return s, load(t, dir, block)
}

// outcome is one step's result as the engine recorded it, with its
// attempts' call names.
type outcome struct {
	res   actions.Event
	calls []string
	ids   []string
	retry []actions.Event
}

// run plans and executes a run for users against f, and returns each
// user's step and every event.
func run(t *testing.T, f *config.File, users ...string) (map[string]outcome, []actions.Event) {
	t.Helper()
	_, _, j := journaltest.Run(context.Background(), t, actions.Request{
		Users: users, Reason: "test", Operator: "tester",
		Targets: f.Targets, Defaults: f.Defaults, Getenv: func(string) string { return "" }, Version: "test",
	})
	evs := j.Events()
	out := map[string]outcome{}
	for _, ev := range evs {
		if ev.Step == 0 {
			continue
		}
		o := out[ev.User]
		switch ev.Kind {
		case actions.KindAttempt:
			var d struct{ Call string }
			_ = json.Unmarshal(ev.Detail, &d)
			o.calls = append(o.calls, d.Call)
			o.ids = append(o.ids, ev.RequestID)
		case actions.KindRetry:
			o.retry = append(o.retry, ev)
		case actions.KindResult:
			o.res = ev
		}
		out[ev.User] = o
	}
	return out, evs
}

func expect(t *testing.T, o outcome, want actions.Outcome, calls string, errRE string) {
	t.Helper()
	if o.res.Outcome != want {
		t.Errorf("outcome %q (%s), want %q", o.res.Outcome, o.res.Error, want)
	}
	if got := strings.Join(o.calls, ","); got != calls {
		t.Errorf("calls %s, want %s", got, calls)
	}
	if o.res.Attempt != len(o.calls) {
		t.Errorf("result says %d attempts, %d were recorded", o.res.Attempt, len(o.calls))
	}
	if said := said(o.res); !regexp.MustCompile(errRE).MatchString(said) {
		t.Errorf("result %q does not match %q", said, errRE)
	}
}

// said is what a result says: its error, or, when the read-back confirmed
// the sign-out, what was read and "(verified)".
func said(ev actions.Event) string {
	var d actions.ResultDetail
	if ev.Error != "" || json.Unmarshal(ev.Detail, &d) != nil || d.Verified == nil || !*d.Verified {
		return ev.Error
	}
	return d.Evidence + " (verified)"
}

const alice = "alice@contoso.com"

func TestSignOutWithSecret(t *testing.T) {
	s, f := fakeTarget(t, microsoftfake.Options{Users: []string{alice}}, nil)
	before := time.Now().UTC().Truncate(time.Second)
	got, _ := run(t, f, alice)
	expect(t, got[alice], actions.Revoked, "token,revoke,verify", `^signInSessionsValidFromDateTime \S+Z, at or after the run \(verified\)$`)
	if n := s.SignedOut(alice); n != 1 {
		t.Errorf("the tenant ended alice's sessions %d times, want 1", n)
	}
	if vf := s.ValidFrom(alice); vf.Before(before) {
		t.Errorf("signInSessionsValidFromDateTime %s is before the run (%s)", vf, before)
	}
	if !strings.Contains(said(got[alice].res), s.ValidFrom(alice).Format(time.RFC3339)) {
		t.Errorf("the result %q does not show the value the tenant holds, %s", said(got[alice].res), s.ValidFrom(alice).Format(time.RFC3339))
	}
	if got[alice].res.HTTPStatus != 200 {
		t.Errorf("status %d, want Graph's 200", got[alice].res.HTTPStatus)
	}
}

func TestSignOutWithCertificate(t *testing.T) {
	s, f := fakeTarget(t, microsoftfake.Options{Users: []string{alice}, Certificate: true}, nil)
	got, _ := run(t, f, alice)
	expect(t, got[alice], actions.Revoked, "token,revoke,verify", `\(verified\)$`)
	if got[alice].ids[0] == "" {
		t.Error("the token attempt records no assertion jti")
	}
	if n := s.SignedOut(alice); n != 1 {
		t.Errorf("signed out %d times, want 1", n)
	}
}

func TestOneTokenForTheRun(t *testing.T) {
	users := []string{alice, "bob@contoso.com", "carol@contoso.com"}
	s, f := fakeTarget(t, microsoftfake.Options{Users: users}, func(b string) string { return b + "concurrency = 3\n" })
	got, _ := run(t, f, users...)
	tokens := 0
	for _, u := range users {
		if got[u].res.Outcome != actions.Revoked {
			t.Errorf("%s: %s %s", u, got[u].res.Outcome, got[u].res.Error)
		}
		for _, c := range got[u].calls {
			if c == "token" {
				tokens++
			}
		}
	}
	if req, issued := s.TokenRequests(); req != 1 || issued != 1 || tokens != 1 {
		t.Errorf("token requests %d (issued %d, recorded %d), want one for the whole run", req, issued, tokens)
	}
}

func TestUnknownUserIsNotFound(t *testing.T) {
	_, f := fakeTarget(t, microsoftfake.Options{Users: []string{alice}}, nil)
	got, _ := run(t, f, "mallory@contoso.com")
	expect(t, got["mallory@contoso.com"], actions.NotFound, "token,revoke",
		`^Entra ID has no user whose userPrincipalName is mallory@contoso.com \(404 Request_ResourceNotFound\): .*Revoke sessions\)$`)
	if got["mallory@contoso.com"].res.ErrorCode != "Request_ResourceNotFound" {
		t.Errorf("error code %q", got["mallory@contoso.com"].res.ErrorCode)
	}
}

func TestMissingPermissionIsRejected(t *testing.T) {
	s, f := fakeTarget(t, microsoftfake.Options{Users: []string{alice}, MissingPermission: true}, nil)
	got, _ := run(t, f, alice)
	expect(t, got[alice], actions.Rejected, "token,revoke",
		`^Graph denied the sign-out \(403 Authorization_RequestDenied\): grant the app registration the Microsoft Graph application permission User\.RevokeSessions\.All and grant admin consent .*API permissions\)$`)
	if s.SignedOut(alice) != 0 || s.RevokeCalls() != 1 {
		t.Errorf("signed out %d, calls %d: a 403 must not be retried", s.SignedOut(alice), s.RevokeCalls())
	}
}

func TestThrottledThenSignedOut(t *testing.T) {
	s, f := fakeTarget(t, microsoftfake.Options{Users: []string{alice}, Throttle: 1}, nil)
	got, _ := run(t, f, alice)
	expect(t, got[alice], actions.Revoked, "token,revoke,revoke,verify", `\(verified\)$`)
	if len(got[alice].retry) != 1 || got[alice].retry[0].HTTPStatus != 429 || !strings.Contains(got[alice].retry[0].Error, "retrying in 1s") {
		t.Errorf("retries %+v, want one after the 429's Retry-After: 1", got[alice].retry)
	}
	if s.RevokeCalls() != 2 || s.SignedOut(alice) != 1 {
		t.Errorf("calls %d, signed out %d", s.RevokeCalls(), s.SignedOut(alice))
	}
}

func TestNoReadPermissionKeepsRevoked(t *testing.T) {
	_, f := fakeTarget(t, microsoftfake.Options{Users: []string{alice}, NoReadPermission: true}, nil)
	got, _ := run(t, f, alice)
	expect(t, got[alice], actions.Revoked, "token,revoke,verify",
		`^revoked \(Graph accepted the sign-out\), but the read-back .* failed \(403 Authorization_RequestDenied; grant the app the application permission User\.Read\.All to verify\): the outcome stands; .*confirm$`)
}

func TestTokenRefusals(t *testing.T) {
	cases := []struct {
		name  string
		o     microsoftfake.Options
		edit  func(string) string
		code  string
		errRE string
	}{
		{"wrong secret", microsoftfake.Options{}, nil, "AADSTS7000215",
			`^Entra ID refused the token request \(401 AADSTS7000215\): the client secret is wrong; put the secret's Value \(not its Secret ID\) .* in client_secret_file \S+$`},
		{"expired secret", microsoftfake.Options{SecretExpired: true}, nil, "AADSTS7000222",
			`^Entra ID refused the token request \(401 AADSTS7000222\): the client secret has expired; create a new one .*Certificates & secrets and put its Value in client_secret_file`},
		{"unknown client", microsoftfake.Options{}, func(b string) string {
			return regexp.MustCompile(`client_id = "[^"]*"`).ReplaceAllString(b, `client_id = "00000000-0000-4000-8000-000000000000"`)
		}, "AADSTS700016", `^Entra ID refused the token request \(400 AADSTS700016\): tenant contoso.onmicrosoft.com has no application with client_id 00000000-0000-4000-8000-000000000000; check client_id .* and tenant$`},
		{"unknown tenant", microsoftfake.Options{}, func(b string) string {
			return strings.Replace(b, `tenant = "contoso.onmicrosoft.com"`, `tenant = "fabrikam.onmicrosoft.com"`, 1)
		}, "AADSTS90002", `^Entra ID refused the token request \(400 AADSTS90002\): tenant fabrikam.onmicrosoft.com does not exist; check tenant`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tc.o.Users = []string{alice, "bob@contoso.com"}
			s, f := fakeTarget(t, tc.o, func(b string) string {
				if tc.name == "wrong secret" {
					p := regexp.MustCompile(`client_secret_file = "([^"]*)"`).FindStringSubmatch(b)[1]
					if err := os.WriteFile(p, []byte("not-the-secret-value-0123456789"), 0o600); err != nil {
						t.Fatal(err)
					}
				}
				if tc.edit != nil {
					return tc.edit(b)
				}
				return b
			})
			got, _ := run(t, f, alice, "bob@contoso.com")
			// The two steps run at once: whichever asks for the token
			// first gets the refusal, and the other says the same
			// credential was refused and sends nothing.
			first, second := alice, "bob@contoso.com"
			if len(got[first].calls) == 0 {
				first, second = second, first
			}
			expect(t, got[first], actions.Rejected, "token", tc.errRE)
			if got[first].res.ErrorCode != tc.code {
				t.Errorf("error code %q, want %q", got[first].res.ErrorCode, tc.code)
			}
			expect(t, got[second], actions.Rejected, "", `^not sent, as the same credential was refused earlier in this run: Entra ID refused the token request \(\d+ `+tc.code+`\)`)
			if req, _ := s.TokenRequests(); req != 1 || s.RevokeCalls() != 0 {
				t.Errorf("token requests %d, sign-out calls %d: want 1 and 0", req, s.RevokeCalls())
			}
		})
	}
}

func TestCertificateNotRegistered(t *testing.T) {
	other, err := microsoftfake.Start(microsoftfake.Options{Certificate: true})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = other.Close() }()
	otherDir := t.TempDir()
	otherBlock, err := other.TargetTOML("other", otherDir)
	if err != nil {
		t.Fatal(err)
	}
	keys := regexp.MustCompile(`(?m)^client_(cert|key)_file = .*$`).FindAllString(otherBlock, -1)
	_, f := fakeTarget(t, microsoftfake.Options{Users: []string{alice}, Certificate: true}, func(b string) string {
		b = regexp.MustCompile(`(?m)^client_(cert|key)_file = .*\n`).ReplaceAllString(b, "")
		return b + strings.Join(keys, "\n") + "\n"
	})
	got, _ := run(t, f, alice)
	expect(t, got[alice], actions.Rejected, "token",
		`^Entra ID refused the token request \(401 AADSTS700027\): the certificate is not registered with the app.*upload the certificate in client_cert_file`)
}

// graph is an httptest Graph and token endpoint whose answers a test
// scripts; it records every request.
type graph struct {
	*httptest.Server
	mu   sync.Mutex
	reqs []recorded
}

type recorded struct {
	method, uri, auth, ctype, body string
}

func newGraph(t *testing.T, h func(w http.ResponseWriter, r *http.Request, n int)) *graph {
	t.Helper()
	g := &graph{}
	g.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		g.mu.Lock()
		g.reqs = append(g.reqs, recorded{r.Method, r.URL.RequestURI(), r.Header.Get("Authorization"), r.Header.Get("Content-Type"), string(b)})
		n := len(g.reqs)
		g.mu.Unlock()
		h(w, r, n)
	}))
	t.Cleanup(g.Close)
	return g
}

func (g *graph) all() []recorded {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]recorded(nil), g.reqs...)
}

const testSecret = "s3cr3t~Value.Of-The-Client-Secret-0123"

// scripted returns a target whose token endpoint and Graph are g.
func scripted(t *testing.T, g *graph, tokenURL string) *config.File {
	t.Helper()
	dir := t.TempDir()
	p := filepath.Join(dir, "secret")
	if err := os.WriteFile(p, []byte(testSecret), 0o600); err != nil {
		t.Fatal(err)
	}
	if tokenURL == "" {
		tokenURL = g.URL + "/tenant/oauth2/v2.0/token"
	}
	return load(t, dir, fmt.Sprintf("[[target]]\nname = \"m365\"\nkind = \"microsoft\"\ntenant = \"contoso.onmicrosoft.com\"\nclient_id = \"11111111-2222-4333-8444-555555555555\"\nclient_secret_file = %q\ntoken_url = %q\nurl = %q\nretries = 2\n",
		p, tokenURL, g.URL+"/"))
}

func tokenOK(w http.ResponseWriter, tok string) {
	w.Header().Set("Content-Type", "application/json")
	fmt.Fprintf(w, `{"token_type":"Bearer","expires_in":3599,"ext_expires_in":3599,"access_token":%q}`, tok)
}

func graphErr(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	fmt.Fprintf(w, `{"error":{"code":%q,"message":%q,"innerError":{"date":"2026-01-01T00:00:00","request-id":"r-1"}}}`, code, msg)
}

func TestRequestsOnTheWire(t *testing.T) {
	g := newGraph(t, func(w http.ResponseWriter, r *http.Request, n int) {
		switch {
		case strings.HasSuffix(r.URL.Path, "/token"):
			tokenOK(w, "access-token-1234567890")
		case r.Method == http.MethodPost:
			fmt.Fprint(w, `{"@odata.context":"x","value":true}`)
		default:
			fmt.Fprintf(w, `{"signInSessionsValidFromDateTime":%q}`, time.Now().UTC().Add(time.Hour).Format(time.RFC3339))
		}
	})
	f := scripted(t, g, "")
	got, _ := run(t, f, "o'brien#1@contoso.com")
	if o := got["o'brien#1@contoso.com"]; o.res.Outcome != actions.Revoked {
		t.Fatalf("%s %s", o.res.Outcome, o.res.Error)
	}
	reqs := g.all()
	if len(reqs) != 3 {
		t.Fatalf("%d requests, want 3: %+v", len(reqs), reqs)
	}
	tok, rev, ver := reqs[0], reqs[1], reqs[2]
	if tok.method != "POST" || tok.uri != "/tenant/oauth2/v2.0/token" || tok.ctype != "application/x-www-form-urlencoded" || tok.auth != "" {
		t.Errorf("token request %+v: want a form POST to token_url without an Authorization header", tok)
	}
	form := strings.Split(tok.body, "&")
	want := []string{"client_id=11111111-2222-4333-8444-555555555555", "client_secret=s3cr3t~Value.Of-The-Client-Secret-0123",
		"grant_type=client_credentials", "scope=https%3A%2F%2Fgraph.microsoft.com%2F.default"}
	if strings.Join(form, "&") != strings.Join(want, "&") {
		t.Errorf("token form %q, want %q", tok.body, strings.Join(want, "&"))
	}
	if rev.method != "POST" || rev.uri != "/v1.0/users/o%27brien%231@contoso.com/revokeSignInSessions" || rev.auth != "Bearer access-token-1234567890" || rev.body != "" {
		t.Errorf("revoke request %+v", rev)
	}
	if ver.method != "GET" || ver.uri != "/v1.0/users/o%27brien%231@contoso.com?$select=signInSessionsValidFromDateTime" || ver.auth != "Bearer access-token-1234567890" {
		t.Errorf("verify request %+v", ver)
	}
}

func TestReadBackBeforeTheRun(t *testing.T) {
	g := newGraph(t, func(w http.ResponseWriter, r *http.Request, n int) {
		switch {
		case strings.HasSuffix(r.URL.Path, "/token"):
			tokenOK(w, "access-token-1234567890")
		case r.Method == http.MethodPost:
			fmt.Fprint(w, `{"value":true}`)
		default:
			fmt.Fprint(w, `{"signInSessionsValidFromDateTime":"2020-01-01T00:00:00Z"}`)
		}
	})
	got, _ := run(t, scripted(t, g, ""), alice)
	expect(t, got[alice], actions.Revoked, "token,revoke,verify",
		`^revoked \(Graph accepted the sign-out\), but signInSessionsValidFromDateTime reads 2020-01-01T00:00:00Z, before this run \(\S+\): Entra ID may not have applied it yet; .*resume the run if it has not changed$`)
}

func TestServerErrors(t *testing.T) {
	t.Run("graph 503", func(t *testing.T) {
		g := newGraph(t, func(w http.ResponseWriter, r *http.Request, n int) {
			if strings.HasSuffix(r.URL.Path, "/token") {
				tokenOK(w, "access-token-1234567890")
				return
			}
			w.Header().Set("Retry-After", "0")
			graphErr(w, 503, "serviceNotAvailable", "The service is temporarily unavailable.")
		})
		got, _ := run(t, scripted(t, g, ""), alice)
		expect(t, got[alice], actions.Failed, "token,revoke,revoke,revoke",
			`^Graph failed to sign the user out \(503 serviceNotAvailable: The service is temporarily unavailable\) \(after 3 attempts\): resume the run later`)
	})
	t.Run("graph 429 to the end", func(t *testing.T) {
		g := newGraph(t, func(w http.ResponseWriter, r *http.Request, n int) {
			if strings.HasSuffix(r.URL.Path, "/token") {
				tokenOK(w, "access-token-1234567890")
				return
			}
			w.Header().Set("Retry-After", "0")
			graphErr(w, 429, "TooManyRequests", "Too many requests.")
		})
		got, _ := run(t, scripted(t, g, ""), alice)
		expect(t, got[alice], actions.Failed, "token,revoke,revoke,revoke",
			`^Graph kept throttling the sign-out \(429 TooManyRequests\) \(after 3 attempts\): resume the run in a few minutes$`)
	})
	t.Run("token 500", func(t *testing.T) {
		g := newGraph(t, func(w http.ResponseWriter, r *http.Request, n int) {
			w.Header().Set("Retry-After", "0")
			w.WriteHeader(500)
		})
		got, _ := run(t, scripted(t, g, ""), alice)
		expect(t, got[alice], actions.Failed, "token,token,token", `^the token endpoint failed \(500\) \(after 3 attempts\): resume the run later$`)
	})
}

func TestRefusedTokenIsReplacedOnce(t *testing.T) {
	var mu sync.Mutex
	issued, verified := 0, 0
	g := newGraph(t, func(w http.ResponseWriter, r *http.Request, n int) {
		mu.Lock()
		defer mu.Unlock()
		switch {
		case strings.HasSuffix(r.URL.Path, "/token"):
			issued++
			tokenOK(w, fmt.Sprintf("access-token-number-%d", issued))
		case r.Header.Get("Authorization") != fmt.Sprintf("Bearer access-token-number-%d", issued) || issued == 1 && verified > 0:
			// The first token is revoked once the first step is done.
			graphErr(w, 401, "InvalidAuthenticationToken", "Lifetime validation failed, the token is expired.")
		case r.Method == http.MethodPost:
			fmt.Fprint(w, `{"value":true}`)
		default:
			verified++
			fmt.Fprintf(w, `{"signInSessionsValidFromDateTime":%q}`, time.Now().UTC().Add(time.Hour).Format(time.RFC3339))
		}
	})
	got, _ := run(t, scripted(t, g, ""), alice, "bob@contoso.com")
	// One step at a time, in either order: the first asks for the token,
	// the second finds it refused, asks once for a new one and succeeds.
	first, second := alice, "bob@contoso.com"
	if len(got[first].calls) == 0 || got[first].calls[0] != "token" {
		first, second = second, first
	}
	expect(t, got[first], actions.Revoked, "token,revoke,verify", `\(verified\)$`)
	expect(t, got[second], actions.Revoked, "revoke,token,revoke,verify", `\(verified\)$`)
}

func TestNoCredentialLeaves(t *testing.T) {
	// The token endpoint echoes the form it was sent in its refusal;
	// Graph is a second host that records everything it gets.
	var tokenHost *graph
	tokenHost = newGraph(t, func(w http.ResponseWriter, r *http.Request, n int) {
		sent := tokenHost.all()[n-1].body
		out, _ := json.Marshal(map[string]any{"error": "invalid_request", "error_description": "AADSTS9999: you sent " + sent + ". More.", "error_codes": []int{9999}})
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(400)
		_, _ = w.Write(out)
	})
	graphHost := newGraph(t, func(w http.ResponseWriter, r *http.Request, n int) { w.WriteHeader(500) })
	f := scripted(t, graphHost, tokenHost.URL+"/t/oauth2/v2.0/token")
	got, evs := run(t, f, alice)
	o := got[alice]
	if o.res.Outcome != actions.Rejected {
		t.Fatalf("outcome %s %s", o.res.Outcome, o.res.Error)
	}
	if sent := tokenHost.all(); len(sent) != 1 || !strings.Contains(sent[0].body, "client_secret=") {
		t.Fatalf("the token endpoint got %+v", sent)
	}
	all, _ := json.Marshal(evs)
	for _, where := range []struct{ name, text string }{{"the result", o.res.Error}, {"the events", string(all)}} {
		if strings.Contains(where.text, testSecret) {
			t.Errorf("the client secret appears in %s: %s", where.name, where.text)
		}
	}
	if !strings.Contains(o.res.Error, "[redacted]") {
		t.Errorf("the echo was not shown redacted: %s", o.res.Error)
	}
	if n := len(graphHost.all()); n != 0 {
		t.Errorf("Graph's host got %d requests, want none without a token: %+v", n, graphHost.all())
	}
}

func TestAccessTokenGoesOnlyToGraph(t *testing.T) {
	const access = "access-token-only-for-graph-0123456789"
	tokenHost := newGraph(t, func(w http.ResponseWriter, r *http.Request, n int) { tokenOK(w, access) })
	graphHost := newGraph(t, func(w http.ResponseWriter, r *http.Request, n int) {
		if r.Method == http.MethodPost {
			fmt.Fprint(w, `{"value":true}`)
			return
		}
		fmt.Fprintf(w, `{"signInSessionsValidFromDateTime":%q}`, time.Now().UTC().Add(time.Hour).Format(time.RFC3339))
	})
	f := scripted(t, graphHost, tokenHost.URL+"/t/oauth2/v2.0/token")
	got, evs := run(t, f, alice, "bob@contoso.com")
	for u, o := range got {
		if o.res.Outcome != actions.Revoked {
			t.Errorf("%s: %s %s", u, o.res.Outcome, o.res.Error)
		}
	}
	for _, rq := range graphHost.all() {
		if strings.Contains(fmt.Sprint(rq), testSecret) {
			t.Errorf("the client secret reached Graph's host: %+v", rq)
		}
		if rq.auth != "Bearer "+access {
			t.Errorf("Graph got Authorization %q", rq.auth)
		}
	}
	for _, rq := range tokenHost.all() {
		if strings.Contains(fmt.Sprint(rq), access) {
			t.Errorf("the access token went back to the token endpoint: %+v", rq)
		}
	}
	all, _ := json.Marshal(evs)
	if strings.Contains(string(all), access) || strings.Contains(string(all), testSecret) {
		t.Errorf("a credential appears in the events: %s", all)
	}
}

func TestPlanNeedsAnEmail(t *testing.T) {
	_, f := fakeTarget(t, microsoftfake.Options{}, nil)
	_, err := actions.BuildPlan(context.Background(), actions.Request{
		Users: []string{"00u1abcdefgh"}, Reason: "test", Targets: f.Targets, Defaults: f.Defaults,
		Getenv: func(string) string { return "" },
	}, actions.StaticDirectory{})
	if err == nil || !strings.Contains(err.Error(), "signs a user out by userPrincipalName, and this user has no email address") {
		t.Errorf("plan error %v", err)
	}
}

func TestResidual(t *testing.T) {
	_, f := fakeTarget(t, microsoftfake.Options{}, nil)
	c, err := microsoft.Connector{}.Open(context.Background(), f.Targets[0], actions.ConnEnv{Getenv: func(string) string { return "" }})
	if err != nil {
		t.Fatal(err)
	}
	r := c.Residual()
	for _, w := range []string{"90 minutes", "15", "B2B", "app sessions"} {
		if !strings.Contains(r, w) {
			t.Errorf("residual %q does not mention %q", r, w)
		}
	}
	if strings.Count(r, ". ") > 0 || !strings.HasSuffix(r, ".") {
		t.Errorf("residual is not one sentence: %q", r)
	}
}
