package googlefake_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v3"
	"github.com/go-jose/go-jose/v3/jwt"

	"ulc/config"
	"ulc/sandbox/googlefake"
)

func start(t *testing.T, o googlefake.Options) *googlefake.Server {
	t.Helper()
	s, err := googlefake.Start(o)
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

// saKey reads the fake's service-account key: its private key and kid.
func saKey(t *testing.T, s *googlefake.Server) (*rsa.PrivateKey, string) {
	t.Helper()
	var k map[string]string
	if err := json.Unmarshal(s.ServiceAccountJSON(), &k); err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode([]byte(k["private_key"]))
	key, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return key.(*rsa.PrivateKey), k["private_key_id"]
}

type claims struct {
	Iss   string `json:"iss,omitempty"`
	Scope string `json:"scope,omitempty"`
	Aud   string `json:"aud,omitempty"`
	Iat   int64  `json:"iat,omitempty"`
	Exp   int64  `json:"exp,omitempty"`
	Sub   string `json:"sub,omitempty"`
}

func sign(t *testing.T, key *rsa.PrivateKey, kid string, c claims) string {
	t.Helper()
	opts := (&jose.SignerOptions{}).WithType("JWT").WithHeader("kid", kid)
	sg, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: key}, opts)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := jwt.Signed(sg).Claims(c).CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func good(s *googlefake.Server) claims {
	now := time.Now()
	return claims{Iss: s.ClientEmail(), Scope: googlefake.Scope, Aud: s.TokenURL(), Iat: now.Unix(), Exp: now.Add(time.Hour).Unix(), Sub: s.Admin()}
}

// post sends a form to the token endpoint; it returns the status and the
// decoded JSON answer.
func post(t *testing.T, s *googlefake.Server, form url.Values) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequestWithContext(context.Background(), http.MethodPost, s.TokenURL(), strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return do(t, req)
}

func do(t *testing.T, req *http.Request) (int, map[string]any) {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var m map[string]any
	if len(body) > 0 {
		if err := json.Unmarshal(body, &m); err != nil {
			t.Fatalf("answer %d is not JSON: %q", resp.StatusCode, body)
		}
	}
	return resp.StatusCode, m
}

func grant(assertion string) url.Values {
	return url.Values{"grant_type": {"urn:ietf:params:oauth:grant-type:jwt-bearer"}, "assertion": {assertion}}
}

func TestTokenEndpointChecksTheAssertion(t *testing.T) {
	s := start(t, googlefake.Options{Users: []string{"alice@example.com"}})
	key, kid := saKey(t, s)
	other, _ := rsa.GenerateKey(rand.Reader, 2048)
	edit := func(f func(*claims)) claims { c := good(s); f(&c); return c }
	now := time.Now()
	cases := []struct {
		name   string
		form   url.Values
		status int
		code   string
	}{
		{"good", grant(sign(t, key, kid, good(s))), 200, ""},
		{"another key", grant(sign(t, other, kid, good(s))), 400, "invalid_grant"},
		{"another kid", grant(sign(t, key, "nope", good(s))), 400, "invalid_grant"},
		{"another iss", grant(sign(t, key, kid, edit(func(c *claims) { c.Iss = "x@y.iam.gserviceaccount.com" }))), 401, "invalid_client"},
		{"another aud", grant(sign(t, key, kid, edit(func(c *claims) { c.Aud = "https://oauth2.googleapis.com/token" }))), 400, "invalid_grant"},
		{"expired", grant(sign(t, key, kid, edit(func(c *claims) { c.Iat, c.Exp = now.Add(-2*time.Hour).Unix(), now.Add(-time.Hour).Unix() }))), 400, "invalid_grant"},
		{"too long", grant(sign(t, key, kid, edit(func(c *claims) { c.Exp = now.Add(2 * time.Hour).Unix() }))), 400, "invalid_grant"},
		{"no scope", grant(sign(t, key, kid, edit(func(c *claims) { c.Scope = "" }))), 400, "invalid_scope"},
		{"scope not delegated", grant(sign(t, key, kid, edit(func(c *claims) { c.Scope = "https://www.googleapis.com/auth/admin.directory.user" }))), 401, "unauthorized_client"},
		{"unknown sub", grant(sign(t, key, kid, edit(func(c *claims) { c.Sub = "ghost@example.com" }))), 400, "invalid_grant"},
		{"no assertion", url.Values{"grant_type": {"urn:ietf:params:oauth:grant-type:jwt-bearer"}}, 400, "invalid_request"},
		{"client credentials", url.Values{"grant_type": {"client_credentials"}}, 400, "unsupported_grant_type"},
		{"not a JWT", grant("abc.def"), 400, "invalid_grant"},
	}
	for _, tc := range cases {
		status, m := post(t, s, tc.form)
		if status != tc.status || tc.code != "" && m["error"] != tc.code {
			t.Errorf("%s: %d %v, want %d %s", tc.name, status, m, tc.status, tc.code)
		}
		if tc.code == "" && (m["token_type"] != "Bearer" || m["access_token"] == "" || m["expires_in"] != float64(3599)) {
			t.Errorf("%s: token answer %v", tc.name, m)
		}
	}
}

func TestMissingPermissionIsUnauthorizedClient(t *testing.T) {
	s := start(t, googlefake.Options{MissingPermission: true})
	key, kid := saKey(t, s)
	status, m := post(t, s, grant(sign(t, key, kid, good(s))))
	if status != 401 || m["error"] != "unauthorized_client" {
		t.Errorf("%d %v", status, m)
	}
}

// token gets an access token for c.
func token(t *testing.T, s *googlefake.Server, c claims) string {
	t.Helper()
	key, kid := saKey(t, s)
	status, m := post(t, s, grant(sign(t, key, kid, c)))
	if status != 200 {
		t.Fatalf("token: %d %v", status, m)
	}
	return m["access_token"].(string)
}

func api(t *testing.T, s *googlefake.Server, method, path, tok string) (int, map[string]any, http.Header) {
	t.Helper()
	req, _ := http.NewRequestWithContext(context.Background(), method, s.URL()+path, nil)
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var m map[string]any
	if len(body) > 0 {
		_ = json.Unmarshal(body, &m)
	}
	return resp.StatusCode, m, resp.Header
}

// reason is the first errors[].reason of Google's envelope.
func reason(m map[string]any) string {
	e, _ := m["error"].(map[string]any)
	errs, _ := e["errors"].([]any)
	if len(errs) == 0 {
		return ""
	}
	r, _ := errs[0].(map[string]any)["reason"].(string)
	return r
}

func TestAdminAPI(t *testing.T) {
	s := start(t, googlefake.Options{
		Users: []string{"alice@example.com", "bob@example.com"}, Groups: []string{"team@example.com"}, Throttle: 1,
		Grants: map[string][]googlefake.Grant{"alice@example.com": {{ClientID: "1.apps", DisplayText: "One"}}},
	})
	admin := token(t, s, good(s))
	notAdmin := token(t, s, func() claims { c := good(s); c.Sub = "bob@example.com"; return c }())
	noSub := token(t, s, func() claims { c := good(s); c.Sub = ""; return c }())
	const so = "admin/directory/v1/users/alice@example.com/signOut"

	if st, m, _ := api(t, s, "POST", so, ""); st != 401 || reason(m) != "required" {
		t.Errorf("no token: %d %v", st, m)
	}
	if st, m, _ := api(t, s, "POST", so, "ya29.forged"); st != 401 || reason(m) != "authError" {
		t.Errorf("forged token: %d %v", st, m)
	}
	if st, m, _ := api(t, s, "POST", so, notAdmin); st != 403 || reason(m) != "forbidden" {
		t.Errorf("not an admin: %d %v", st, m)
	}
	if st, m, _ := api(t, s, "POST", so, noSub); st != 403 || reason(m) != "forbidden" {
		t.Errorf("no subject: %d %v", st, m)
	}
	st, m, h := api(t, s, "POST", so, admin)
	if st != 429 || h.Get("Retry-After") != "1" || reason(m) != "rateLimitExceeded" {
		t.Errorf("throttled: %d %v %v", st, m, h)
	}
	if s.SignedOut("alice@example.com") != 0 {
		t.Error("a throttled call signed out")
	}
	if st, _, _ := api(t, s, "POST", so, admin); st != 204 || s.SignedOut("ALICE@example.com") != 1 {
		t.Errorf("sign-out: %d, signed out %d", st, s.SignedOut("alice@example.com"))
	}
	if st, m, _ := api(t, s, "POST", "admin/directory/v1/users/nobody@example.com/signOut", admin); st != 404 || reason(m) != "notFound" {
		t.Errorf("unknown user: %d %v", st, m)
	}
	if st, m, _ := api(t, s, "POST", "admin/directory/v1/users/team@example.com/signOut", admin); st != 400 ||
		m["error"].(map[string]any)["message"] != "Type not supported: userKey" {
		t.Errorf("group: %d %v", st, m)
	}
	st, m, _ = api(t, s, "GET", "admin/directory/v1/users/alice@example.com/tokens", admin)
	items, _ := m["items"].([]any)
	if st != 200 || m["kind"] != "admin#directory#tokenList" || len(items) != 1 || items[0].(map[string]any)["clientId"] != "1.apps" {
		t.Errorf("tokens.list: %d %v", st, m)
	}
	if st, _, _ := api(t, s, "DELETE", "admin/directory/v1/users/alice@example.com/tokens/1.apps", admin); st != 204 || len(s.Grants("alice@example.com")) != 0 {
		t.Errorf("tokens.delete: %d, left %v", st, s.Grants("alice@example.com"))
	}
	if st, _, _ := api(t, s, "DELETE", "admin/directory/v1/users/alice@example.com/tokens/1.apps", admin); st != 404 {
		t.Errorf("tokens.delete again: %d", st)
	}
}

func TestTargetTOMLLoads(t *testing.T) {
	s := start(t, googlefake.Options{RevokeOAuthGrants: true})
	dir := t.TempDir()
	block, err := s.TargetTOML("gw", dir)
	if err != nil {
		t.Fatal(err)
	}
	key := filepath.Join(dir, "gw-service-account.json")
	fi, err := os.Stat(key)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v %v", fi, err)
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
	if tg.Kind != config.KindGoogle || tg.URL != s.URL() || tg.Admin != s.Admin() || !tg.RevokeOAuthGrants {
		t.Errorf("target %+v", tg)
	}
	cred, err := tg.LoadCredential(nil)
	if err != nil {
		t.Fatal(err)
	}
	if cred.Account != s.ClientEmail() || cred.TokenURL != s.TokenURL() {
		t.Errorf("credential %v token %s", cred, cred.TokenURL)
	}
	for _, bad := range []string{"BEGIN", "private_key", "_env"} {
		if strings.Contains(block, bad) {
			t.Errorf("the block holds %q:\n%s", bad, block)
		}
	}
}
