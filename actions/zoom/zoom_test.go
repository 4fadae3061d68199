package zoom_test

import (
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"ulc/actions"
	"ulc/actions/zoom"
	"ulc/config"
	"ulc/sandbox/zoomfake"
)

const alice = "alice@acme.com"

func TestSignOut(t *testing.T) {
	s, f := fakeTarget(t, zoomfake.Options{Users: []string{alice}}, nil)
	got, evs := run(t, f, alice)
	expect(t, got[alice], actions.Revoked, "token,revoke", `^$`)
	if n := s.SignedOut(alice); n != 1 {
		t.Errorf("Zoom ended alice's session %d times, want 1", n)
	}
	if got[alice].res.HTTPStatus != http.StatusNoContent || got[alice].res.RequestID == "" {
		t.Errorf("status %d, request id %q: want Zoom's 204 and its x-zm-trackingid", got[alice].res.HTTPStatus, got[alice].res.RequestID)
	}
	// The plan records the call and the credential's fingerprint.
	var planned bool
	for _, ev := range evs {
		if ev.Kind == actions.KindPlanned && ev.User == alice {
			planned = strings.Contains(string(ev.Detail), `"method":"DELETE"`) &&
				strings.Contains(string(ev.Detail), s.URL()+"users/alice@acme.com/token") &&
				strings.Contains(string(ev.Detail), `"credential":"sha256:`)
		}
	}
	if !planned {
		t.Errorf("no planned event with the DELETE, its URL and the fingerprint:\n%s", jsonLines(evs))
	}
}

func TestOneTokenForTheRun(t *testing.T) {
	users := []string{alice, "bob@acme.com", "carol@acme.com"}
	s, f := fakeTarget(t, zoomfake.Options{Users: users}, func(b, _ string) string { return b + "concurrency = 3\n" })
	got, _ := run(t, f, users...)
	tokens := 0
	for _, u := range users {
		if got[u].res.Outcome != actions.Revoked || s.SignedOut(u) != 1 {
			t.Errorf("%s: %s %s, signed out %d", u, got[u].res.Outcome, got[u].res.Error, s.SignedOut(u))
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
	_, f := fakeTarget(t, zoomfake.Options{Users: []string{alice}}, nil)
	const mallory = "mallory@acme.com"
	got, _ := run(t, f, mallory)
	expect(t, got[mallory], actions.NotFound, "token,revoke",
		`^Zoom has no user mallory@acme\.com in this account \(404 code 1001\): if they use another email address at Zoom, end their sessions in the Zoom admin portal \(User Management → Users\)$`)
	if got[mallory].res.ErrorCode != "1001" {
		t.Errorf("error code %q, want 1001", got[mallory].res.ErrorCode)
	}
}

func TestMissingScopeIsRejected(t *testing.T) {
	s, f := fakeTarget(t, zoomfake.Options{Users: []string{alice}, MissingPermission: true}, nil)
	got, _ := run(t, f, alice)
	expect(t, got[alice], actions.Rejected, "token,revoke",
		`^Zoom refused the sign-out \(400 code 4711: Invalid access token, does not contain scopes:\[user:write:admin\]\): add the scope user:write:admin to the app \(Zoom App Marketplace → Manage → the app → Scopes\) and activate it again$`)
	if s.SignedOut(alice) != 0 || s.RevokeCalls() != 1 {
		t.Errorf("signed out %d, calls %d: a refusal must not be retried", s.SignedOut(alice), s.RevokeCalls())
	}
}

func TestThrottleIsRetriedAfterRetryAfter(t *testing.T) {
	s, f := fakeTarget(t, zoomfake.Options{Users: []string{alice}, Throttle: 1}, nil)
	got, _ := run(t, f, alice)
	expect(t, got[alice], actions.Revoked, "token,revoke,revoke", `^$`)
	if len(got[alice].retry) != 1 || !strings.Contains(got[alice].retry[0].Error, "retrying in 1s") || got[alice].retry[0].HTTPStatus != 429 {
		t.Errorf("retries %+v, want one after 429 that waits Retry-After's 1s", got[alice].retry)
	}
	if s.SignedOut(alice) != 1 || s.RevokeCalls() != 2 {
		t.Errorf("signed out %d, calls %d", s.SignedOut(alice), s.RevokeCalls())
	}
}

func TestThrottleThatDoesNotEndFails(t *testing.T) {
	s, f := fakeTarget(t, zoomfake.Options{Users: []string{alice}, Throttle: 10}, func(b, _ string) string { return b + "retries = 1\n" })
	got, _ := run(t, f, alice)
	expect(t, got[alice], actions.Failed, "token,revoke,revoke",
		`^Zoom kept rate-limiting the sign-out \(429 code 429\) \(after 2 attempts\): resume the run in a few minutes$`)
	if s.SignedOut(alice) != 0 {
		t.Error("signed out while throttled")
	}
}

// withSecret points the block's client_secret_file at a file holding
// secret.
func withSecret(secret string) func(block, dir string) string {
	return func(block, dir string) string {
		p := filepath.Join(dir, "other-secret")
		if err := os.WriteFile(p, []byte(secret), 0o600); err != nil {
			panic(err)
		}
		lines := strings.Split(block, "\n")
		for i, l := range lines {
			if strings.HasPrefix(l, "client_secret_file") {
				lines[i] = fmt.Sprintf("client_secret_file = %q", p)
			}
		}
		return strings.Join(lines, "\n")
	}
}

func replaceKey(key, value string) func(block, dir string) string {
	return func(block, _ string) string {
		lines := strings.Split(block, "\n")
		for i, l := range lines {
			if strings.HasPrefix(l, key+" ") {
				lines[i] = fmt.Sprintf("%s = %q", key, value)
			}
		}
		return strings.Join(lines, "\n")
	}
}

func TestTokenRefusals(t *testing.T) {
	for _, tt := range []struct {
		name string
		edit func(block, dir string) string
		want string
	}{
		{"wrong secret", withSecret("not-the-secret-0000"),
			`^Zoom refused the token request \(400 invalid_client\): the Client ID \S+ or Client Secret is wrong; copy both from the app's App Credentials page \(Zoom App Marketplace → Manage\) into client_id and client_secret_file$`},
		{"wrong client id", replaceKey("client_id", "someone-else"),
			`^Zoom refused the token request \(400 invalid_client\): the Client ID someone-else or Client Secret is wrong; copy both`},
		{"wrong account", replaceKey("account_id", "another-account"),
			`^Zoom refused the token request \(400 invalid_request\): the Account ID another-account is not the app's; copy it from the app's App Credentials page \(.*\) into account_id$`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			users := []string{alice, "bob@acme.com"}
			s, f := fakeTarget(t, zoomfake.Options{Users: users}, tt.edit)
			got, evs := run(t, f, users...)
			// In either order: the first step asks for the token and is
			// refused; the same credential is not sent again in the run.
			first, second := users[0], users[1]
			if len(got[first].calls) == 0 {
				first, second = second, first
			}
			expect(t, got[first], actions.Rejected, "token", tt.want)
			expect(t, got[second], actions.Rejected, "", `^not sent \(the credential was refused earlier in this run\): Zoom refused the token request`)
			if req, _ := s.TokenRequests(); req != 1 || s.RevokeCalls() != 0 {
				t.Errorf("token requests %d, revoke calls %d; want 1 and 0", req, s.RevokeCalls())
			}
			if strings.Contains(jsonLines(evs), s.Secret()) {
				t.Error("the audit log holds the client secret")
			}
		})
	}
}

// stub is an httptest Zoom: its token endpoint checks the Basic
// credentials and issues tok1, tok2, ...; api answers the sign-outs.
type stub struct {
	srv    *httptest.Server
	secret string
	token  func(w http.ResponseWriter, r *http.Request, n int) bool // true: answered
	api    func(w http.ResponseWriter, r *http.Request, tok string, n int)

	mu            sync.Mutex
	tokens, calls int
	seen          []string // every request's headers and body, for leak checks
}

func newStub(t *testing.T, s *stub) *config.File {
	t.Helper()
	if s.secret == "" {
		s.secret = "stub-secret-3f9a1c7e5b"
	}
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		s.mu.Lock()
		s.seen = append(s.seen, fmt.Sprint(r.Header)+string(body))
		s.mu.Unlock()
		if r.URL.Path == "/oauth/token" {
			s.mu.Lock()
			s.tokens++
			n := s.tokens
			s.mu.Unlock()
			if s.token != nil && s.token(w, r, n) {
				return
			}
			id, secret, _ := r.BasicAuth()
			form, _ := url.ParseQuery(string(body))
			if id != "stub-client" || secret != s.secret || form.Get("grant_type") != "account_credentials" || form.Get("account_id") != "stub-account" {
				w.WriteHeader(400)
				_, _ = io.WriteString(w, `{"reason":"Invalid client_id or client_secret","error":"invalid_client"}`)
				return
			}
			w.Header().Set("Content-Type", "application/json")
			_, _ = fmt.Fprintf(w, `{"access_token":"tok%d-access-0123456789","token_type":"bearer","expires_in":3599,"scope":"user:write:admin"}`, n)
			return
		}
		s.mu.Lock()
		s.calls++
		n := s.calls
		s.mu.Unlock()
		tok, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if r.Method != http.MethodDelete || !strings.HasPrefix(r.URL.Path, "/v2/users/") || !strings.HasSuffix(r.URL.Path, "/token") {
			w.WriteHeader(404)
			return
		}
		s.api(w, r, tok, n)
	}))
	t.Cleanup(s.srv.Close)
	dir := t.TempDir()
	p := filepath.Join(dir, "secret")
	if err := os.WriteFile(p, []byte(s.secret), 0o600); err != nil {
		t.Fatal(err)
	}
	return load(t, dir, fmt.Sprintf("[[target]]\nname = \"zoom\"\nkind = \"zoom\"\naccount_id = \"stub-account\"\nclient_id = \"stub-client\"\nclient_secret_file = %q\ntoken_url = %q\nurl = %q\n",
		p, s.srv.URL+"/oauth/token", s.srv.URL+"/v2/"))
}

func zoomError(w http.ResponseWriter, status, code int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = fmt.Fprintf(w, `{"code":%d,"message":%q}`, code, msg)
}

// TestAnswers: each documented answer of the sign-out, and the others a
// server can give, with the outcome, calls and sentence.
func TestAnswers(t *testing.T) {
	for _, tt := range []struct {
		name    string
		api     func(w http.ResponseWriter, r *http.Request, tok string, n int)
		outcome actions.Outcome
		calls   string
		want    string
	}{
		{"204", func(w http.ResponseWriter, _ *http.Request, _ string, _ int) { w.WriteHeader(204) },
			actions.Revoked, "token,revoke", `^$`},
		{"404 code 1001", func(w http.ResponseWriter, _ *http.Request, _ string, _ int) {
			zoomError(w, 404, 1001, "User does not exist: alice@acme.com.")
		}, actions.NotFound, "token,revoke", `^Zoom has no user alice@acme\.com in this account \(404 code 1001\)`},
		{"404 without Zoom's code is a wrong url", func(w http.ResponseWriter, _ *http.Request, _ string, _ int) { w.WriteHeader(404) },
			actions.Rejected, "token,revoke", `^Zoom refused the sign-out request \(404\): check url \(the API root, such as https://api\.zoom\.us/v2/\)$`},
		{"400 code 200 no permission", func(w http.ResponseWriter, _ *http.Request, _ string, _ int) {
			zoomError(w, 400, 200, "No permission.")
		},
			actions.Rejected, "token,revoke", `^Zoom denied the sign-out \(400 code 200: No permission\): the app needs the scope user:write:admin, and the user who created it an admin role that may edit users \(Zoom admin portal → User Management → Roles\)$`},
		{"403", func(w http.ResponseWriter, _ *http.Request, _ string, _ int) { zoomError(w, 403, 0, "Forbidden") },
			actions.Rejected, "token,revoke", `^Zoom denied the sign-out \(403: Forbidden\): the app needs the scope user:write:admin`},
		{"401 with a fresh token", func(w http.ResponseWriter, _ *http.Request, _ string, _ int) {
			zoomError(w, 401, 124, "Invalid access token.")
		},
			actions.Rejected, "token,revoke", `^Zoom refused the access token \(401 code 124: Invalid access token\): check that url is the API root of the account token_url issues tokens for \(such as https://api\.zoom\.us/v2/\), and that the app is activated`},
		{"400 other", func(w http.ResponseWriter, _ *http.Request, _ string, _ int) {
			zoomError(w, 400, 300, "Invalid request.")
		},
			actions.Rejected, "token,revoke", `^Zoom refused the sign-out request \(400 code 300: Invalid request\): check url`},
		{"500 until retries run out", func(w http.ResponseWriter, _ *http.Request, _ string, _ int) { zoomError(w, 500, 0, "Internal Error") },
			actions.Failed, "token,revoke,revoke,revoke", `^Zoom failed to sign the user out \(500: Internal Error\) \(after 3 attempts\): resume the run later, or end the user's sessions in the Zoom admin portal$`},
		{"503 then 204", func(w http.ResponseWriter, _ *http.Request, _ string, n int) {
			if n == 1 {
				w.Header().Set("Retry-After", "0")
				w.WriteHeader(503)
				return
			}
			w.WriteHeader(204)
		}, actions.Revoked, "token,revoke,revoke", `^$`},
		{"redirect is not followed", func(w http.ResponseWriter, r *http.Request, _ string, _ int) {
			http.Redirect(w, r, "http://127.0.0.1:1/elsewhere", http.StatusFound)
		}, actions.Rejected, "token,revoke", `not followed: fix url$`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := &stub{api: tt.api}
			f := newStub(t, s)
			got, _ := run(t, f, alice)
			expect(t, got[alice], tt.outcome, tt.calls, tt.want)
		})
	}
}

func TestTokenAnswers(t *testing.T) {
	for _, tt := range []struct {
		name    string
		token   func(w http.ResponseWriter, r *http.Request, n int) bool
		outcome actions.Outcome
		calls   string
		want    string
	}{
		{"500 until retries run out", func(w http.ResponseWriter, _ *http.Request, _ int) bool { w.WriteHeader(500); return true },
			actions.Failed, "token,token,token", `^the token endpoint failed \(500\) \(after 3 attempts\): resume the run later$`},
		{"429 then a token", func(w http.ResponseWriter, _ *http.Request, n int) bool {
			if n == 1 {
				w.Header().Set("Retry-After", "0")
				w.WriteHeader(429)
				return true
			}
			return false
		}, actions.Revoked, "token,token,revoke", `^$`},
		{"200 without a token", func(w http.ResponseWriter, _ *http.Request, _ int) bool { _, _ = io.WriteString(w, `{}`); return true },
			actions.Failed, "token", `^token_url answered 200 without an access token: check that token_url is Zoom's OAuth token endpoint, https://zoom\.us/oauth/token$`},
		{"404", func(w http.ResponseWriter, _ *http.Request, _ int) bool { w.WriteHeader(404); return true },
			actions.Rejected, "token", `^token_url answered 404: it is not a token endpoint; use https://zoom\.us/oauth/token \(the default\)$`},
		{"unsupported grant", func(w http.ResponseWriter, _ *http.Request, _ int) bool {
			w.WriteHeader(400)
			_, _ = io.WriteString(w, `{"reason":"Unsupported grant type","error":"unsupported_grant_type"}`)
			return true
		}, actions.Rejected, "token", `^Zoom refused the token request \(400 unsupported_grant_type\): the app with Client ID stub-client is not a Server-to-Server OAuth app`},
		{"app disabled", func(w http.ResponseWriter, _ *http.Request, _ int) bool {
			w.WriteHeader(400)
			_, _ = io.WriteString(w, `{"reason":"The app has been disabled","error":"invalid_request"}`)
			return true
		}, actions.Rejected, "token", `^Zoom refused the token request \(400 invalid_request: The app has been disabled\): check client_id, account_id and the Client Secret against the app's App Credentials page, and that the app is activated \(.* → Activation\)$`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := &stub{token: tt.token, api: func(w http.ResponseWriter, _ *http.Request, _ string, _ int) { w.WriteHeader(204) }}
			f := newStub(t, s)
			got, _ := run(t, f, alice)
			expect(t, got[alice], tt.outcome, tt.calls, tt.want)
		})
	}
}

// TestRetiredTokenIsReplacedOnce: when Zoom refuses the run's token (it
// expired early, or was retired), the step asks for a new one once.
func TestRetiredTokenIsReplacedOnce(t *testing.T) {
	s := &stub{api: func(w http.ResponseWriter, _ *http.Request, tok string, n int) {
		if n == 2 && strings.HasPrefix(tok, "tok1") {
			zoomError(w, 401, 124, "Invalid access token.")
			return
		}
		w.WriteHeader(204)
	}}
	f := newStub(t, s)
	got, _ := run(t, f, alice, "bob@acme.com")
	// One step at a time, in either order: the first asks for the token,
	// the second finds it retired, asks once for a new one and succeeds.
	first, second := alice, "bob@acme.com"
	if len(got[first].calls) == 0 || got[first].calls[0] != "token" {
		first, second = second, first
	}
	expect(t, got[first], actions.Revoked, "token,revoke", `^$`)
	expect(t, got[second], actions.Revoked, "revoke,token,revoke", `^$`)
	if s.tokens != 2 {
		t.Errorf("token requests %d, want 2", s.tokens)
	}
}

// TestCredentialStaysHome: the client secret goes only to token_url, the
// access token only to url; neither appears in any result, event or error,
// even from a server that echoes them back.
func TestCredentialStaysHome(t *testing.T) {
	fake, err := zoomfake.Start(zoomfake.Options{Users: []string{alice}})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = fake.Close() }()

	// A second host as the API: it records everything and echoes the
	// Authorization header in its error message.
	var mu sync.Mutex
	var seen []string
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		seen = append(seen, fmt.Sprint(r.URL, r.Header)+string(body))
		mu.Unlock()
		zoomError(w, 400, 300, "bad header "+r.Header.Get("Authorization"))
	}))
	defer other.Close()

	dir := t.TempDir()
	block, err := fake.TargetTOML("zoom", dir)
	if err != nil {
		t.Fatal(err)
	}
	block = replaceKey("url", other.URL+"/v2/")(block, dir)
	f := load(t, dir, block)
	got, evs := run(t, f, alice)
	if got[alice].res.Outcome != actions.Rejected {
		t.Fatalf("outcome %s: %s", got[alice].res.Outcome, got[alice].res.Error)
	}
	basic := base64.StdEncoding.EncodeToString([]byte(fake.ClientID() + ":" + fake.Secret()))
	mu.Lock()
	defer mu.Unlock()
	if len(seen) != 1 {
		t.Fatalf("the other host got %d requests, want the one sign-out", len(seen))
	}
	if strings.Contains(seen[0], fake.Secret()) || strings.Contains(seen[0], basic) || strings.Contains(seen[0], "Basic") {
		t.Errorf("the client secret reached the API host: %s", seen[0])
	}
	if !strings.Contains(got[alice].res.Error, "[redacted]") {
		t.Errorf("the echoed token is not redacted: %s", got[alice].res.Error)
	}
	out := jsonLines(evs)
	tok := strings.SplitN(strings.SplitN(seen[0], "Bearer ", 2)[1], "]", 2)[0]
	for name, secret := range map[string]string{"client secret": fake.Secret(), "Basic credentials": basic, "access token": tok} {
		if len(secret) < 8 {
			t.Fatalf("%s %q: too short to search for", name, secret)
		}
		if strings.Contains(out, secret) {
			t.Errorf("the audit log holds the %s", name)
		}
	}
}

// TestOpenRefusesAMissingSecret: a credential that cannot be loaded is a
// credential error, so only this target's steps are blocked.
func TestOpenRefusesAMissingSecret(t *testing.T) {
	f := load(t, t.TempDir(), "[[target]]\nname = \"zoom\"\nkind = \"zoom\"\naccount_id = \"a\"\nclient_id = \"c\"\nclient_secret_env = \"ZOOM_TEST_SECRET_UNSET\"\n")
	_, err := zoom.Connector{}.Open(context.Background(), f.Targets[0], actions.ConnEnv{Getenv: func(string) string { return "" }})
	if err == nil || !strings.Contains(err.Error(), "client_secret_env ZOOM_TEST_SECRET_UNSET is not set") {
		t.Fatalf("Open: %v", err)
	}
	if !errorsIs(err, config.ErrCredential) {
		t.Errorf("the error does not wrap config.ErrCredential: %v", err)
	}
	c, err := zoom.Connector{}.Open(context.Background(), f.Targets[0], actions.ConnEnv{Getenv: func(string) string { return "s3cret-value-123" }})
	if err != nil {
		t.Fatal(err)
	}
	if r := c.Residual(); !strings.Contains(r, "password (non-SSO) logins") || !strings.Contains(r, `{"action":"deactivate"}`) {
		t.Errorf("Residual() = %q", r)
	}
	if _, err := c.Plan(actions.User{Login: "alice"}); err == nil || !strings.Contains(err.Error(), "has none") {
		t.Errorf("Plan without an email: %v", err)
	}
	d, err := c.Plan(actions.User{Email: "a/b@acme.com"})
	if err != nil || d.URL != "https://api.zoom.us/v2/users/a%2Fb@acme.com/token" || d.Method != http.MethodDelete {
		t.Errorf("Plan = %+v, %v", d, err)
	}
}
