package caepfake

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v3"

	"ulc/config"
)

// start starts a receiver that is closed when the test ends.
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

// claimsFor are valid session-revoked claims for email, sent to s.
func claimsFor(s *Server, email string) map[string]any {
	sub := map[string]any{"format": "email", "email": email}
	return map[string]any{
		"iss": s.Issuer(), "jti": randomJTI(), "iat": time.Now().Unix(), "aud": s.URL(), "txn": "run-1",
		"sub_id": sub,
		"events": map[string]any{SessionRevoked: map[string]any{
			"subject": map[string]any{"user": sub}, "event_timestamp": time.Now().Unix(),
			"initiating_entity": "admin", "reason_admin": map[string]string{"en": "phished"},
		}},
	}
}

func randomJTI() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// signSET signs claims with key under kid, with header typ typ.
func signSET(t *testing.T, key *rsa.PrivateKey, kid, typ string, claims map[string]any) string {
	t.Helper()
	payload, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	opts := &jose.SignerOptions{}
	if typ != "" {
		opts = opts.WithType(jose.ContentType(typ))
	}
	sg, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: jose.JSONWebKey{Key: key, KeyID: kid}}, opts)
	if err != nil {
		t.Fatal(err)
	}
	obj, err := sg.Sign(payload)
	if err != nil {
		t.Fatal(err)
	}
	out, err := obj.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// post pushes body to s and returns the status, the Retry-After header and
// the decoded error body.
func post(t *testing.T, s *Server, contentType, auth, body string) (int, string, map[string]string) {
	t.Helper()
	req, err := http.NewRequestWithContext(context.Background(), http.MethodPost, s.Endpoint(), strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", contentType)
	req.Header.Set("Accept", "application/json")
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	var e map[string]string
	if resp.StatusCode == http.StatusBadRequest {
		if err := json.Unmarshal(data, &e); err != nil {
			t.Fatalf("400 body is not the RFC 8935 error object: %q", data)
		}
		if e["err"] == "" || e["description"] == "" {
			t.Errorf("400 body lacks err or description: %q", data)
		}
		if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
			t.Errorf("400 Content-Type %q, want application/json", ct)
		}
	}
	return resp.StatusCode, resp.Header.Get("Retry-After"), e
}

func TestAcceptsAValidSETAndEndsTheKnownUsersSessions(t *testing.T) {
	s := start(t, Options{Users: []string{"alice@example.com"}})
	set := signSET(t, s.key, s.KeyID(), "secevent+jwt", claimsFor(s, "Alice@Example.com"))
	if code, _, e := post(t, s, "application/secevent+jwt", "", set); code != http.StatusAccepted {
		t.Fatalf("status %d %v, want 202", code, e)
	}
	if n := s.SignedOut("alice@example.com"); n != 1 {
		t.Errorf("SignedOut = %d, want 1", n)
	}
	// A receiver answers before it looks the user up: an unknown user is
	// accepted too, and nobody is signed out.
	set = signSET(t, s.key, s.KeyID(), "secevent+jwt", claimsFor(s, "mallory@example.com"))
	if code, _, _ := post(t, s, "application/secevent+jwt", "", set); code != http.StatusAccepted {
		t.Fatalf("unknown user: status %d, want 202", code)
	}
	if n := s.SignedOut("mallory@example.com"); n != 0 {
		t.Errorf("SignedOut(unknown) = %d, want 0", n)
	}
	ps := s.Pushes()
	if len(ps) != 2 || ps[0].Reason != "phished" || ps[0].Txn != "run-1" || ps[0].InitiatingEntity != "admin" || ps[0].KeyID != s.KeyID() {
		t.Errorf("pushes = %+v", ps)
	}
}

func TestRefusesWhatOktasReceiverRefuses(t *testing.T) {
	s := start(t, Options{Users: []string{"alice@example.com"}})
	other, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	mutate := func(f func(c map[string]any)) map[string]any {
		c := claimsFor(s, "alice@example.com")
		f(c)
		return c
	}
	event := func(c map[string]any) map[string]any {
		return c["events"].(map[string]any)[SessionRevoked].(map[string]any)
	}
	cases := []struct {
		name, contentType, body, want string
	}{
		{"wrong content type", "application/jwt", signSET(t, s.key, s.KeyID(), "secevent+jwt", claimsFor(s, "alice@example.com")), "invalid_request"},
		{"not a JWS", "application/secevent+jwt", "hello", "invalid_request"},
		{"JSON serialization", "application/secevent+jwt", `{"payload":"e30","signatures":[]}`, "invalid_request"},
		{"typ JWT", "application/secevent+jwt", signSET(t, s.key, s.KeyID(), "JWT", claimsFor(s, "alice@example.com")), "invalid_request"},
		{"no typ", "application/secevent+jwt", signSET(t, s.key, s.KeyID(), "", claimsFor(s, "alice@example.com")), "invalid_request"},
		{"unknown kid", "application/secevent+jwt", signSET(t, s.key, "nobody", "secevent+jwt", claimsFor(s, "alice@example.com")), "invalid_key"},
		{"no kid", "application/secevent+jwt", signSET(t, s.key, "", "secevent+jwt", claimsFor(s, "alice@example.com")), "invalid_key"},
		{"signed by another key", "application/secevent+jwt", signSET(t, other, s.KeyID(), "secevent+jwt", claimsFor(s, "alice@example.com")), "invalid_key"},
		{"wrong issuer", "application/secevent+jwt", signSET(t, s.key, s.KeyID(), "secevent+jwt", mutate(func(c map[string]any) { c["iss"] = "https://evil.example" })), "invalid_issuer"},
		{"wrong audience", "application/secevent+jwt", signSET(t, s.key, s.KeyID(), "secevent+jwt", mutate(func(c map[string]any) { c["aud"] = "https://other.okta.com" })), "invalid_audience"},
		{"no jti", "application/secevent+jwt", signSET(t, s.key, s.KeyID(), "secevent+jwt", mutate(func(c map[string]any) { delete(c, "jti") })), "invalid_request"},
		{"iat in the future", "application/secevent+jwt", signSET(t, s.key, s.KeyID(), "secevent+jwt", mutate(func(c map[string]any) { c["iat"] = time.Now().Add(time.Hour).Unix() })), "invalid_request"},
		{"a sub claim", "application/secevent+jwt", signSET(t, s.key, s.KeyID(), "secevent+jwt", mutate(func(c map[string]any) { c["sub"] = "alice" })), "invalid_request"},
		{"no sub_id", "application/secevent+jwt", signSET(t, s.key, s.KeyID(), "secevent+jwt", mutate(func(c map[string]any) { delete(c, "sub_id") })), "invalid_request"},
		{"another event", "application/secevent+jwt", signSET(t, s.key, s.KeyID(), "secevent+jwt", mutate(func(c map[string]any) {
			c["events"] = map[string]any{"https://schemas.openid.net/secevent/caep/event-type/credential-change": map[string]any{}}
		})), "invalid_request"},
		{"no event-level subject", "application/secevent+jwt", signSET(t, s.key, s.KeyID(), "secevent+jwt", mutate(func(c map[string]any) { delete(event(c), "subject") })), "invalid_request"},
		{"no event_timestamp", "application/secevent+jwt", signSET(t, s.key, s.KeyID(), "secevent+jwt", mutate(func(c map[string]any) { delete(event(c), "event_timestamp") })), "invalid_request"},
		{"no reason", "application/secevent+jwt", signSET(t, s.key, s.KeyID(), "secevent+jwt", mutate(func(c map[string]any) { delete(event(c), "reason_admin") })), "invalid_request"},
		{"bad initiating_entity", "application/secevent+jwt", signSET(t, s.key, s.KeyID(), "secevent+jwt", mutate(func(c map[string]any) { event(c)["initiating_entity"] = "robot" })), "invalid_request"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, _, e := post(t, s, tc.contentType, "", tc.body)
			if code != http.StatusBadRequest || e["err"] != tc.want {
				t.Errorf("got %d %v, want 400 %s", code, e, tc.want)
			}
		})
	}
	if n := s.SignedOut("alice@example.com"); n != 0 {
		t.Errorf("a refused SET signed the user out %d times", n)
	}
}

func TestRefusesAReplayedJTI(t *testing.T) {
	s := start(t, Options{Users: []string{"alice@example.com"}})
	set := signSET(t, s.key, s.KeyID(), "secevent+jwt", claimsFor(s, "alice@example.com"))
	if code, _, _ := post(t, s, "application/secevent+jwt", "", set); code != http.StatusAccepted {
		t.Fatalf("first push: %d", code)
	}
	if code, _, e := post(t, s, "application/secevent+jwt", "", set); code != http.StatusBadRequest || e["err"] != "invalid_request" {
		t.Fatalf("replay: %d %v, want 400 invalid_request", code, e)
	}
	if n := s.SignedOut("alice@example.com"); n != 1 {
		t.Errorf("SignedOut = %d, want 1", n)
	}
}

func TestThrottleAnswers429WithRetryAfterThenAccepts(t *testing.T) {
	s := start(t, Options{Users: []string{"alice@example.com"}, Throttle: 2})
	for i := range 2 {
		set := signSET(t, s.key, s.KeyID(), "secevent+jwt", claimsFor(s, "alice@example.com"))
		code, ra, _ := post(t, s, "application/secevent+jwt", "", set)
		if code != http.StatusTooManyRequests || ra != "1" {
			t.Fatalf("push %d: %d Retry-After %q, want 429 and 1", i+1, code, ra)
		}
	}
	set := signSET(t, s.key, s.KeyID(), "secevent+jwt", claimsFor(s, "alice@example.com"))
	if code, _, _ := post(t, s, "application/secevent+jwt", "", set); code != http.StatusAccepted {
		t.Fatalf("third push: %d, want 202", code)
	}
	if n := s.SignedOut("alice@example.com"); n != 1 {
		t.Errorf("SignedOut = %d, want 1", n)
	}
}

func TestMissingPermissionIsAccessDenied(t *testing.T) {
	s := start(t, Options{Users: []string{"alice@example.com"}, MissingPermission: true})
	set := signSET(t, s.key, s.KeyID(), "secevent+jwt", claimsFor(s, "alice@example.com"))
	if code, _, e := post(t, s, "application/secevent+jwt", "", set); code != http.StatusBadRequest || e["err"] != "access_denied" {
		t.Fatalf("got %d %v, want 400 access_denied", code, e)
	}
	if n := s.SignedOut("alice@example.com"); n != 0 {
		t.Errorf("SignedOut = %d, want 0", n)
	}
}

func TestPushTokenIsRequiredWhenSet(t *testing.T) {
	s := start(t, Options{Users: []string{"alice@example.com"}, Token: "push-secret"})
	for _, auth := range []string{"", "Bearer wrong", "push-secret"} {
		set := signSET(t, s.key, s.KeyID(), "secevent+jwt", claimsFor(s, "alice@example.com"))
		if code, _, e := post(t, s, "application/secevent+jwt", auth, set); code != http.StatusBadRequest || e["err"] != "authentication_failed" {
			t.Errorf("Authorization %q: %d %v, want 400 authentication_failed", auth, code, e)
		}
	}
	set := signSET(t, s.key, s.KeyID(), "secevent+jwt", claimsFor(s, "alice@example.com"))
	if code, _, _ := post(t, s, "application/secevent+jwt", "Bearer push-secret", set); code != http.StatusAccepted {
		t.Fatalf("with the token: %d, want 202", code)
	}
}

func TestTrustAddsAJWKS(t *testing.T) {
	s := start(t, Options{Users: []string{"alice@example.com"}})
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	set := signSET(t, key, "k2", "secevent+jwt", claimsFor(s, "alice@example.com"))
	if code, _, e := post(t, s, "application/secevent+jwt", "", set); code != http.StatusBadRequest || e["err"] != "invalid_key" {
		t.Fatalf("before Trust: %d %v, want 400 invalid_key", code, e)
	}
	jwks, err := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &key.PublicKey, KeyID: "k2", Algorithm: "RS256", Use: "sig"}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Trust(jwks); err != nil {
		t.Fatal(err)
	}
	set = signSET(t, key, "k2", "secevent+jwt", claimsFor(s, "alice@example.com"))
	if code, _, e := post(t, s, "application/secevent+jwt", "", set); code != http.StatusAccepted {
		t.Fatalf("after Trust: %d %v, want 202", code, e)
	}
	// A private key is not a JWKS a receiver is given.
	private, err := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: key, KeyID: "k3"}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Trust(private); err == nil {
		t.Error("Trust took a private key")
	}
}

func TestTargetTOMLParsesAndItsFilesArePrivate(t *testing.T) {
	s := start(t, Options{Users: []string{"alice@example.com"}, Token: "push-secret"})
	dir := t.TempDir()
	block, err := s.TargetTOML("okta-itp", dir)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(block, "push-secret") || strings.Contains(block, "PRIVATE KEY") || strings.Contains(block, "_env") {
		t.Errorf("the TOML block holds a secret or names an environment variable:\n%s", block)
	}
	path := filepath.Join(dir, "targets.toml")
	if err := os.WriteFile(path, []byte(block), 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := config.Load(path)
	if err != nil {
		t.Fatalf("%v\n%s", err, block)
	}
	if len(f.Targets) != 1 {
		t.Fatalf("targets = %d", len(f.Targets))
	}
	tg := f.Targets[0]
	if tg.EffectiveKind() != config.KindCAEP || tg.URL != s.Endpoint() || tg.JWTIss != s.Issuer() || tg.JWTKeyID != s.KeyID() {
		t.Errorf("target = %+v", tg)
	}
	for _, p := range []string{tg.JWTKeyFile, tg.TokenFile} {
		st, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm() != 0o600 {
			t.Errorf("%s mode %v, want 0600", p, st.Mode().Perm())
		}
	}
	cred, err := tg.LoadCredential(nil)
	if err != nil {
		t.Fatal(err)
	}
	if cred.Token() != "push-secret" || cred.KeyID != s.KeyID() {
		t.Errorf("credential = %v", cred)
	}
	pub, ok := cred.Signer().Public().(*rsa.PublicKey)
	if !ok || !pub.Equal(&s.key.PublicKey) {
		t.Error("the key file is not the key the receiver trusts")
	}
}

func TestOnlyPostIsAllowed(t *testing.T) {
	s := start(t, Options{})
	req, err := http.NewRequestWithContext(context.Background(), http.MethodGet, s.Endpoint(), nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("GET: %d, want 405", resp.StatusCode)
	}
}
