package zoomfake

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"ulc/config"
)

// These tests hold the fake to CONNECTORS.md section 6 and Zoom's
// documented answers; there is no trimmed spec of Zoom for Prism.

func start(t *testing.T, o Options) *Server {
	t.Helper()
	s, err := Start(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

type answer struct {
	status int
	header http.Header
	body   map[string]any
}

func do(t *testing.T, req *http.Request) answer {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	a := answer{status: resp.StatusCode, header: resp.Header}
	if len(data) > 0 {
		if err := json.Unmarshal(data, &a.body); err != nil {
			t.Fatalf("answer %d is not JSON: %q", resp.StatusCode, data)
		}
	}
	if resp.Header.Get("x-zm-trackingid") == "" {
		t.Errorf("answer %d has no x-zm-trackingid", resp.StatusCode)
	}
	return a
}

// tokenRequest is a token request as a Server-to-Server OAuth app sends it.
func tokenRequest(t *testing.T, s *Server, id, secret string, form url.Values) *http.Request {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, s.TokenURL(), strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if id != "" || secret != "" {
		req.SetBasicAuth(id, secret)
	}
	return req
}

func grant(s *Server) url.Values {
	return url.Values{"grant_type": {"account_credentials"}, "account_id": {s.AccountID()}}
}

func accessToken(t *testing.T, s *Server) string {
	t.Helper()
	a := do(t, tokenRequest(t, s, s.ClientID(), s.Secret(), grant(s)))
	tok, _ := a.body["access_token"].(string)
	if a.status != 200 || tok == "" {
		t.Fatalf("token: %d %v", a.status, a.body)
	}
	return tok
}

func TestTokenEndpoint(t *testing.T) {
	s := start(t, Options{})
	a := do(t, tokenRequest(t, s, s.ClientID(), s.Secret(), grant(s)))
	if a.status != 200 || a.body["token_type"] != "bearer" || a.body["expires_in"] != float64(3599) ||
		!strings.Contains(a.body["scope"].(string), Scope) || a.header.Get("Cache-Control") != "no-store" {
		t.Errorf("token answer %d %v", a.status, a.body)
	}
	if req, issued := s.TokenRequests(); req != 1 || issued != 1 {
		t.Errorf("token requests %d, issued %d", req, issued)
	}

	inQuery := tokenRequest(t, s, s.ClientID(), s.Secret(), nil)
	inQuery.URL.RawQuery = grant(s).Encode()
	for _, tt := range []struct {
		name          string
		req           *http.Request
		error, reason string
	}{
		{"wrong secret", tokenRequest(t, s, s.ClientID(), s.Secret()+"x", grant(s)), "invalid_client", "Invalid client_id or client_secret"},
		{"wrong client id", tokenRequest(t, s, "nope", s.Secret(), grant(s)), "invalid_client", "Invalid client_id or client_secret"},
		{"no Basic header", tokenRequest(t, s, "", "", grant(s)), "invalid_client", "Client ID or client secret is missing."},
		{"wrong account", tokenRequest(t, s, s.ClientID(), s.Secret(), url.Values{"grant_type": {"account_credentials"}, "account_id": {"other"}}), "invalid_request", "Invalid account_id"},
		{"no account", tokenRequest(t, s, s.ClientID(), s.Secret(), url.Values{"grant_type": {"account_credentials"}}), "invalid_request", "Missing account_id."},
		{"client credentials grant", tokenRequest(t, s, s.ClientID(), s.Secret(), url.Values{"grant_type": {"client_credentials"}, "account_id": {s.AccountID()}}), "unsupported_grant_type", "Unsupported grant type"},
		{"parameters in the query string", inQuery, "invalid_request", "Missing grant type."},
	} {
		t.Run(tt.name, func(t *testing.T) {
			a := do(t, tt.req)
			if a.status != 400 || a.body["error"] != tt.error || a.body["reason"] != tt.reason || a.body["access_token"] != nil {
				t.Errorf("answer %d %v, want 400 %s %q", a.status, a.body, tt.error, tt.reason)
			}
		})
	}
	if _, issued := s.TokenRequests(); issued != 1 {
		t.Errorf("issued %d tokens, want only the first request's", issued)
	}
}

func revokeRequest(t *testing.T, s *Server, user, tok string) *http.Request {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodDelete, s.URL()+"users/"+url.PathEscape(user)+"/token", nil)
	if err != nil {
		t.Fatal(err)
	}
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	return req
}

func TestRevoke(t *testing.T) {
	s := start(t, Options{Users: []string{"Alice@Acme.com"}})
	if a := do(t, revokeRequest(t, s, "alice@acme.com", "")); a.status != 401 || a.body["code"] != float64(124) {
		t.Errorf("without a token: %d %v", a.status, a.body)
	}
	if a := do(t, revokeRequest(t, s, "alice@acme.com", s.Secret())); a.status != 401 || a.body["code"] != float64(124) {
		t.Errorf("with the client secret as token: %d %v", a.status, a.body)
	}
	if s.SignedOut("alice@acme.com") != 0 {
		t.Fatal("signed out without a token")
	}
	tok := accessToken(t, s)
	if a := do(t, revokeRequest(t, s, "alice@acme.com", tok)); a.status != 204 || a.body != nil {
		t.Errorf("sign-out: %d %v", a.status, a.body)
	}
	if n := s.SignedOut("ALICE@acme.com"); n != 1 {
		t.Errorf("signed out %d times, want 1", n)
	}
	a := do(t, revokeRequest(t, s, "mallory@acme.com", tok))
	if a.status != 404 || a.body["code"] != float64(1001) || a.body["message"] != "User does not exist: mallory@acme.com." {
		t.Errorf("unknown user: %d %v", a.status, a.body)
	}
	get := revokeRequest(t, s, "alice@acme.com", tok)
	get.Method = http.MethodGet
	if a := do(t, get); a.status != 405 {
		t.Errorf("GET: %d", a.status)
	}
	s.ExpireTokens()
	if a := do(t, revokeRequest(t, s, "alice@acme.com", tok)); a.status != 401 || a.body["message"] != "Access token is expired." {
		t.Errorf("expired token: %d %v", a.status, a.body)
	}
	if n := s.SignedOut("alice@acme.com"); n != 1 {
		t.Errorf("signed out %d times, want 1", n)
	}
}

func TestThrottleAndMissingPermission(t *testing.T) {
	s := start(t, Options{Users: []string{"alice@acme.com"}, Throttle: 2})
	tok := accessToken(t, s)
	for i := range 2 {
		a := do(t, revokeRequest(t, s, "alice@acme.com", tok))
		if a.status != 429 || a.header.Get("Retry-After") != "1" || a.body["code"] != float64(429) {
			t.Errorf("call %d: %d %v", i+1, a.status, a.body)
		}
	}
	if a := do(t, revokeRequest(t, s, "alice@acme.com", tok)); a.status != 204 || s.SignedOut("alice@acme.com") != 1 || s.RevokeCalls() != 3 {
		t.Errorf("after the throttle: %d, signed out %d, calls %d", a.status, s.SignedOut("alice@acme.com"), s.RevokeCalls())
	}

	s = start(t, Options{Users: []string{"alice@acme.com"}, MissingPermission: true})
	tok = accessToken(t, s)
	a := do(t, revokeRequest(t, s, "alice@acme.com", tok))
	if a.status != 400 || a.body["code"] != float64(4711) || !strings.Contains(a.body["message"].(string), "does not contain scopes:[user:write:admin]") {
		t.Errorf("missing scope: %d %v", a.status, a.body)
	}
	if s.SignedOut("alice@acme.com") != 0 {
		t.Error("signed out without the scope")
	}
}

func TestTargetTOML(t *testing.T) {
	s := start(t, Options{})
	dir := t.TempDir()
	block, err := s.TargetTOML("zoom", dir)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(block, s.Secret()) || strings.Contains(block, "_env") {
		t.Errorf("the block holds the secret or names an environment variable:\n%s", block)
	}
	path := filepath.Join(dir, "targets.toml")
	if err := os.WriteFile(path, []byte(block), 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := config.Load(path)
	if err != nil {
		t.Fatalf("%v\n%s", err, block)
	}
	tg := f.Targets[0]
	if tg.Kind != config.KindZoom || tg.URL != s.URL() || tg.TokenURL != s.TokenURL() || tg.AccountID != s.AccountID() || tg.ClientID != s.ClientID() {
		t.Errorf("target = %+v", tg)
	}
	fi, err := os.Stat(tg.ClientSecretFile)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("secret file: %v %v", fi, err)
	}
	c, err := tg.LoadCredential(nil)
	if err != nil || c.Token() != s.Secret() || c.Account != s.ClientID() {
		t.Errorf("credential %v, %v", c, err)
	}
}
