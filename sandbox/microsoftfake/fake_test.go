package microsoftfake

// The token endpoint is not in the Graph spec the contract tests serve:
// these tests hold it to CONNECTORS.md section 2 (form-encoded client
// credentials, scope https://graph.microsoft.com/.default, client_secret or
// a jwt-bearer client_assertion with aud = token URL, iss = sub =
// client_id, jti, nbf, exp, signed PS256 with x5t#S256) and to Entra ID's
// error body {error, error_description "AADSTSnnn: ...", error_codes}.

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
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
)

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
	body   map[string]any
}

func post(t *testing.T, u string, form url.Values, basic bool) answer {
	t.Helper()
	req, err := http.NewRequestWithContext(context.Background(), http.MethodPost, u, strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if basic {
		req.SetBasicAuth(form.Get("client_id"), "x")
	}
	return do(t, req)
}

func do(t *testing.T, req *http.Request) answer {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	a := answer{status: resp.StatusCode}
	if err := json.Unmarshal(b, &a.body); err != nil {
		t.Fatalf("answer %d is not JSON: %s", resp.StatusCode, b)
	}
	return a
}

// refused checks an Entra ID refusal: status, OAuth error and AADSTS code.
func refused(t *testing.T, a answer, status int, oauthErr, code string) {
	t.Helper()
	desc, _ := a.body["error_description"].(string)
	if a.status != status || a.body["error"] != oauthErr || !strings.HasPrefix(desc, code+": ") {
		t.Errorf("got %d %v, want %d %s %s", a.status, a.body, status, oauthErr, code)
	}
	if codes, _ := a.body["error_codes"].([]any); len(codes) != 1 {
		t.Errorf("error_codes %v", a.body["error_codes"])
	}
}

func secretForm(s *Server) url.Values {
	return url.Values{"grant_type": {"client_credentials"}, "client_id": {s.ClientID()}, "scope": {GraphScope}, "client_secret": {s.Secret()}}
}

func TestTokenWithSecret(t *testing.T) {
	s := start(t, Options{})
	a := post(t, s.TokenURL(), secretForm(s), false)
	if a.status != 200 || a.body["token_type"] != "Bearer" || a.body["access_token"] == "" || a.body["expires_in"] != float64(3599) {
		t.Fatalf("token answer %d %v", a.status, a.body)
	}
	cases := []struct {
		name          string
		edit          func(url.Values)
		basic         bool
		status        int
		oauth, aadsts string
	}{
		{"wrong secret", func(f url.Values) { f.Set("client_secret", "nope") }, false, 401, "invalid_client", "AADSTS7000215"},
		{"secret in HTTP Basic", func(f url.Values) { f.Del("client_secret") }, true, 401, "invalid_client", "AADSTS7000218"},
		{"unknown client", func(f url.Values) { f.Set("client_id", guid()) }, false, 400, "unauthorized_client", "AADSTS700016"},
		{"wrong scope", func(f url.Values) { f.Set("scope", "User.RevokeSessions.All") }, false, 400, "invalid_scope", "AADSTS1002012"},
		{"no scope", func(f url.Values) { f.Del("scope") }, false, 400, "invalid_request", "AADSTS900144"},
		{"other grant", func(f url.Values) { f.Set("grant_type", "password") }, false, 400, "unsupported_grant_type", "AADSTS70003"},
	}
	for _, tc := range cases {
		f := secretForm(s)
		tc.edit(f)
		t.Run(tc.name, func(t *testing.T) { refused(t, post(t, s.TokenURL(), f, tc.basic), tc.status, tc.oauth, tc.aadsts) })
	}
	other := strings.Replace(s.TokenURL(), s.Tenant(), "fabrikam.onmicrosoft.com", 1)
	refused(t, post(t, other, secretForm(s), false), 400, "invalid_request", "AADSTS90002")
	if req, issued := s.TokenRequests(); req != len(cases)+2 || issued != 1 {
		t.Errorf("requests %d issued %d", req, issued)
	}
}

func TestExpiredSecret(t *testing.T) {
	s := start(t, Options{SecretExpired: true})
	refused(t, post(t, s.TokenURL(), secretForm(s), false), 401, "invalid_client", "AADSTS7000222")
}

// assertion signs a client assertion as the connector must.
func assertion(t *testing.T, s *Server, key *rsa.PrivateKey, alg jose.SignatureAlgorithm, c jwt.Claims, x5t string) string {
	t.Helper()
	opts := (&jose.SignerOptions{}).WithType("JWT").WithHeader("x5t#S256", x5t)
	sig, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: key}, opts)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := jwt.Signed(sig).Claims(c).CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func TestTokenWithCertificate(t *testing.T) {
	s := start(t, Options{Certificate: true})
	s256, _ := s.thumbprints()
	now := time.Now()
	good := func() jwt.Claims {
		return jwt.Claims{Issuer: s.ClientID(), Subject: s.ClientID(), Audience: jwt.Audience{s.TokenURL()}, ID: guid(),
			NotBefore: jwt.NewNumericDate(now), Expiry: jwt.NewNumericDate(now.Add(5 * time.Minute))}
	}
	form := func(tok string) url.Values {
		return url.Values{"grant_type": {"client_credentials"}, "client_id": {s.ClientID()}, "scope": {GraphScope},
			"client_assertion_type": {ClientAssertionType}, "client_assertion": {tok}}
	}
	c := good()
	tok := assertion(t, s, s.key, jose.PS256, c, s256)
	if a := post(t, s.TokenURL(), form(tok), false); a.status != 200 || a.body["access_token"] == "" {
		t.Fatalf("a good assertion got %d %v", a.status, a.body)
	}
	refused(t, post(t, s.TokenURL(), form(tok), false), 401, "invalid_client", "AADSTS50027") // jti replayed

	strange, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	wrongAud, wrongIss, expired := good(), good(), good()
	wrongAud.Audience = jwt.Audience{"https://login.microsoftonline.com/x/oauth2/v2.0/token"}
	wrongIss.Issuer = guid()
	expired.NotBefore, expired.Expiry = jwt.NewNumericDate(now.Add(-time.Hour)), jwt.NewNumericDate(now.Add(-30*time.Minute))
	cases := []struct {
		name, tok, aadsts string
	}{
		{"another key", assertion(t, s, strange, jose.PS256, good(), s256), "AADSTS700027"},
		{"another certificate", assertion(t, s, s.key, jose.PS256, good(), "AAAA"), "AADSTS700027"},
		{"wrong aud", assertion(t, s, s.key, jose.PS256, wrongAud, s256), "AADSTS700212"},
		{"iss not client_id", assertion(t, s, s.key, jose.PS256, wrongIss, s256), "AADSTS700021"},
		{"expired", assertion(t, s, s.key, jose.PS256, expired, s256), "AADSTS700024"},
		{"malformed", "eyJhbGciOiJIUzI1NiJ9.e30.x", "AADSTS50027"},
		{"HS256", hs256(t, good()), "AADSTS5002738"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			refused(t, post(t, s.TokenURL(), form(tc.tok), false), 401, "invalid_client", tc.aadsts)
		})
	}
}

func hs256(t *testing.T, c jwt.Claims) string {
	t.Helper()
	sig, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.HS256, Key: []byte("0123456789abcdef0123456789abcdef")}, nil)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := jwt.Signed(sig).Claims(c).CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func TestGraphNeedsAToken(t *testing.T) {
	s := start(t, Options{Users: []string{"alice@contoso.com"}})
	for _, auth := range []string{"", "Bearer forged"} {
		req, _ := http.NewRequestWithContext(context.Background(), http.MethodPost, s.URL()+"v1.0/users/alice@contoso.com/revokeSignInSessions", nil)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		a := do(t, req)
		e, _ := a.body["error"].(map[string]any)
		if a.status != 401 || e["code"] != "InvalidAuthenticationToken" {
			t.Errorf("Authorization %q: %d %v", auth, a.status, a.body)
		}
	}
	if s.SignedOut("alice@contoso.com") != 0 {
		t.Error("signed out without a token")
	}
}

func TestTargetTOML(t *testing.T) {
	for _, cert := range []bool{false, true} {
		s := start(t, Options{Certificate: cert})
		dir := t.TempDir()
		block, err := s.TargetTOML("m365", dir)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(block, s.Secret()) || strings.Contains(block, "_env") {
			t.Errorf("the block holds a secret or names a variable:\n%s", block)
		}
		files, _ := filepath.Glob(filepath.Join(dir, "*"))
		if len(files) == 0 {
			t.Fatal("no credential file written")
		}
		for _, f := range files {
			if fi, err := os.Stat(f); err != nil || fi.Mode().Perm() != 0o600 {
				t.Errorf("%s: mode %v, %v", f, fi.Mode().Perm(), err)
			}
		}
		path := filepath.Join(dir, "targets.toml")
		if err := os.WriteFile(path, []byte(block), 0o600); err != nil {
			t.Fatal(err)
		}
		f, err := config.Load(path)
		if err != nil {
			t.Fatalf("config refuses the block: %v\n%s", err, block)
		}
		tg := f.Targets[0]
		if tg.Kind != config.KindMicrosoft || tg.TokenURL != s.TokenURL() || tg.URL != s.URL() {
			t.Errorf("target %+v", tg)
		}
		cred, err := tg.LoadCredential(func(string) string { return "" })
		if err != nil {
			t.Fatalf("credential: %v", err)
		}
		if want := map[bool]string{false: config.AuthClientSecret, true: config.AuthClientCertificate}[cert]; cred.Kind != want {
			t.Errorf("credential kind %s, want %s", cred.Kind, want)
		}
	}
}
