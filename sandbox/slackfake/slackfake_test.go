package slackfake

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// post calls a Web API method of s like a client would: a form POST, the
// token in the Authorization header when bearer is set, else in the form
// (when tok is not empty).
func post(t *testing.T, s *Server, method, tok string, bearer bool, args url.Values) (int, http.Header, map[string]any) {
	t.Helper()
	if args == nil {
		args = url.Values{}
	}
	if tok != "" && !bearer {
		args.Set("token", tok)
	}
	req, err := http.NewRequestWithContext(context.Background(), http.MethodPost, s.URL()+method, strings.NewReader(args.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if tok != "" && bearer {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	return do(t, req)
}

func do(t *testing.T, req *http.Request) (int, http.Header, map[string]any) {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatalf("%s %s: body is not JSON: %q", req.Method, req.URL.Path, body)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("%s: Content-Type %q, want application/json", req.URL.Path, ct)
	}
	return resp.StatusCode, resp.Header, m
}

func start(t *testing.T, o Options) *Server {
	t.Helper()
	s, err := Start(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	return s
}

// wantError checks an ok:false envelope with HTTP status.
func wantError(t *testing.T, what string, gotStatus int, m map[string]any, status int, code string) {
	t.Helper()
	if gotStatus != status || m["ok"] != false || m["error"] != code {
		t.Errorf("%s: %d %v, want %d ok:false error %q", what, gotStatus, m, status, code)
	}
}

func TestLookupAndReset(t *testing.T) {
	s := start(t, Options{Users: []string{"Alice@Example.com", "bob@example.com"}})
	for _, bearer := range []bool{true, false} {
		status, _, m := post(t, s, "users.lookupByEmail", s.Token(), bearer, url.Values{"email": {"alice@example.com"}})
		user, _ := m["user"].(map[string]any)
		if status != 200 || m["ok"] != true || user["id"] != s.UserID("alice@example.com") || user["id"] == "" {
			t.Fatalf("lookup (bearer %v): %d %v", bearer, status, m)
		}
		profile, _ := user["profile"].(map[string]any)
		if profile["email"] != "alice@example.com" {
			t.Errorf("lookup: profile email %v", profile["email"])
		}
		status, _, m = post(t, s, "admin.users.session.reset", s.Token(), bearer, url.Values{"user_id": {user["id"].(string)}})
		if status != 200 || m["ok"] != true || len(m) != 1 {
			t.Fatalf("reset (bearer %v): %d %v, want 200 {ok:true}", bearer, status, m)
		}
	}
	if n := s.SignedOut("ALICE@example.com"); n != 2 {
		t.Errorf("SignedOut(alice) = %d, want 2", n)
	}
	if n := s.SignedOut("bob@example.com"); n != 0 {
		t.Errorf("SignedOut(bob) = %d, want 0", n)
	}
	var from []string
	for _, r := range s.Requests() {
		from = append(from, r.Method+":"+r.TokenFrom)
	}
	want := "users.lookupByEmail:header admin.users.session.reset:header users.lookupByEmail:form admin.users.session.reset:form"
	if strings.Join(from, " ") != want {
		t.Errorf("requests %v, want %s", from, want)
	}

	// A GET with query arguments, as Slack also accepts for lookups.
	req, err := http.NewRequestWithContext(context.Background(), http.MethodGet, s.URL()+"users.lookupByEmail?email=bob%40example.com", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+s.Token())
	if status, _, m := do(t, req); status != 200 || m["ok"] != true {
		t.Errorf("GET lookup: %d %v", status, m)
	}

	// A JSON body, which admin.users.session.reset takes too.
	req, err = http.NewRequestWithContext(context.Background(), http.MethodPost, s.URL()+"admin.users.session.reset",
		strings.NewReader(`{"user_id":"`+s.UserID("bob@example.com")+`","web_only":true}`))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json; charset=utf-8")
	req.Header.Set("Authorization", "Bearer "+s.Token())
	if status, _, m := do(t, req); status != 200 || m["ok"] != true {
		t.Errorf("JSON reset: %d %v", status, m)
	}
	if n := s.SignedOut("bob@example.com"); n != 1 {
		t.Errorf("SignedOut(bob) = %d after a JSON reset, want 1", n)
	}
}

func TestTokenChecks(t *testing.T) {
	s := start(t, Options{Users: []string{"alice@example.com"}})
	id := s.UserID("alice@example.com")
	reset := url.Values{"user_id": {id}}
	status, _, m := post(t, s, "admin.users.session.reset", "", true, reset)
	wantError(t, "no token", status, m, 200, "not_authed")
	status, _, m = post(t, s, "admin.users.session.reset", "xoxp-not-ours", true, reset)
	wantError(t, "unknown token", status, m, 200, "invalid_auth")
	status, _, m = post(t, s, "admin.users.session.reset", s.BotToken(), true, reset)
	wantError(t, "bot token on an admin method", status, m, 200, "not_allowed_token_type")
	status, _, m = post(t, s, "users.lookupByEmail", s.BotToken(), true, url.Values{"email": {"alice@example.com"}})
	if status != 200 || m["ok"] != true {
		t.Errorf("bot token lookup: %d %v, want ok", status, m)
	}
	// A JSON body cannot carry the token: Slack reads it from the header.
	req, err := http.NewRequestWithContext(context.Background(), http.MethodPost, s.URL()+"admin.users.session.reset",
		strings.NewReader(`{"user_id":"`+id+`","token":"`+s.Token()+`"}`))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	status, _, m = do(t, req)
	wantError(t, "token in a JSON body", status, m, 200, "not_authed")
	s.Revoke(s.Token())
	status, _, m = post(t, s, "admin.users.session.reset", s.Token(), true, reset)
	wantError(t, "revoked token", status, m, 200, "token_revoked")
	if n := s.SignedOut("alice@example.com"); n != 0 {
		t.Errorf("SignedOut = %d after refused calls, want 0", n)
	}
}

func TestDocumentedErrors(t *testing.T) {
	s := start(t, Options{Users: []string{"alice@example.com"}, Bots: []string{"bot@example.com"}, PrimaryOwner: "owner@example.com"})
	cases := []struct {
		what, method string
		args         url.Values
		status       int
		code         string
	}{
		{"unknown email", "users.lookupByEmail", url.Values{"email": {"nobody@example.com"}}, 200, "users_not_found"},
		{"no email", "users.lookupByEmail", nil, 200, "invalid_arguments"},
		{"unknown user id", "admin.users.session.reset", url.Values{"user_id": {"W0NOBODY00"}}, 200, "user_not_found"},
		{"no user id", "admin.users.session.reset", nil, 200, "invalid_arguments"},
		{"bad flag", "admin.users.session.reset", url.Values{"user_id": {s.UserID("alice@example.com")}, "web_only": {"maybe"}}, 200, "invalid_arguments"},
		{"bot", "admin.users.session.reset", url.Values{"user_id": {s.UserID("bot@example.com")}}, 200, "cannot_reset_bot"},
		{"primary owner", "admin.users.session.reset", url.Values{"user_id": {s.UserID("owner@example.com")}}, 200, "cannot_reset_primary_owner"},
		{"unknown method", "admin.users.session.resetEverything", nil, 404, "unknown_method"},
	}
	for _, c := range cases {
		status, _, m := post(t, s, c.method, s.Token(), true, c.args)
		wantError(t, c.what, status, m, c.status, c.code)
	}
	for _, e := range []string{"alice@example.com", "bot@example.com", "owner@example.com"} {
		if n := s.SignedOut(e); n != 0 {
			t.Errorf("SignedOut(%s) = %d, want 0", e, n)
		}
	}
}

func TestOrgOptions(t *testing.T) {
	cases := []struct {
		what string
		o    Options
		code string
	}{
		{"missing permission", Options{MissingPermission: true}, "missing_scope"},
		{"not an admin", Options{NotAdmin: true}, "not_an_admin"},
		{"not Enterprise Grid", Options{NotGrid: true}, "feature_not_enabled"},
	}
	for _, c := range cases {
		c.o.Users = []string{"alice@example.com"}
		s := start(t, c.o)
		status, h, m := post(t, s, "admin.users.session.reset", s.Token(), true, url.Values{"user_id": {s.UserID("alice@example.com")}})
		wantError(t, c.what, status, m, 200, c.code)
		if c.code == "missing_scope" {
			if m["needed"] != ScopeReset || m["provided"] != ScopeLookup {
				t.Errorf("missing_scope: needed %v provided %v, want %s and %s", m["needed"], m["provided"], ScopeReset, ScopeLookup)
			}
			if h.Get("X-OAuth-Scopes") != ScopeLookup || h.Get("X-Accepted-OAuth-Scopes") != ScopeReset {
				t.Errorf("missing_scope: scope headers %q / %q", h.Get("X-OAuth-Scopes"), h.Get("X-Accepted-OAuth-Scopes"))
			}
		}
		if status, _, m := post(t, s, "users.lookupByEmail", s.Token(), true, url.Values{"email": {"alice@example.com"}}); status != 200 || m["ok"] != true {
			t.Errorf("%s: the lookup should still work: %d %v", c.what, status, m)
		}
		if n := s.SignedOut("alice@example.com"); n != 0 {
			t.Errorf("%s: SignedOut = %d, want 0", c.what, n)
		}
	}
}

func TestThrottle(t *testing.T) {
	s := start(t, Options{Users: []string{"alice@example.com"}, Throttle: 2})
	args := url.Values{"user_id": {s.UserID("alice@example.com")}}
	for i := range 2 {
		status, h, m := post(t, s, "admin.users.session.reset", s.Token(), true, args)
		wantError(t, "throttled", status, m, 429, "ratelimited")
		if h.Get("Retry-After") != "1" {
			t.Errorf("throttled call %d: Retry-After %q, want 1", i+1, h.Get("Retry-After"))
		}
	}
	if status, _, m := post(t, s, "admin.users.session.reset", s.Token(), true, args); status != 200 || m["ok"] != true {
		t.Errorf("third call: %d %v, want ok", status, m)
	}
	if n := s.SignedOut("alice@example.com"); n != 1 {
		t.Errorf("SignedOut = %d, want 1", n)
	}
}

func TestTargetTOML(t *testing.T) {
	s := start(t, Options{})
	dir := filepath.Join(t.TempDir(), "keys")
	block, err := s.TargetTOML("slack", dir)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "slack-slack-token")
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("token file mode %v, want 0600", fi.Mode().Perm())
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if strings.TrimSpace(string(data)) != s.Token() {
		t.Error("the token file does not hold the fake's token")
	}
	if strings.Contains(block, s.Token()) {
		t.Error("the TOML block holds the token itself")
	}
	for _, want := range []string{`kind = "slack"`, `url = "` + s.URL() + `"`, `token_file = "` + path + `"`, `name = "slack"`} {
		if !strings.Contains(block, want) {
			t.Errorf("TOML block lacks %s:\n%s", want, block)
		}
	}
	if strings.Contains(block, "token_env") {
		t.Errorf("TOML block names an environment variable:\n%s", block)
	}
}
