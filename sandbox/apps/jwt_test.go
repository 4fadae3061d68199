package apps

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"strings"
	"testing"
	"time"

	"ulc/actions/gtr"
)

const testEndpoint = "https://app.example/gtr?tenant=7#frag"

// testSigners are the two kinds of key ulc signs with.
func testSigners(t *testing.T) []*gtr.Signer {
	t.Helper()
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return []*gtr.Signer{
		{Key: rsaKey, Alg: "RS256", KeyID: "k1", Iss: "https://idp.example", Sub: "client"},
		{Key: ecKey, Alg: "ES256", Iss: "https://idp.example", Sub: "client", TTL: time.Minute},
	}
}

// TestVerifyJWTRoundTrip: what gtr.Signer signs, VerifyJWT accepts, with
// the claims intact; the same token for another audience, after expiry,
// under another key or with a tampered payload is refused.
func TestVerifyJWTRoundTrip(t *testing.T) {
	now := time.Now()
	for _, s := range testSigners(t) {
		tok, jti, err := s.Sign(testEndpoint, now)
		if err != nil {
			t.Fatal(err)
		}
		c, kid, err := verifyJWT(tok, s.Key.Public(), testEndpoint, now, 30*time.Second)
		if err != nil {
			t.Fatalf("%s: %v", s.Alg, err)
		}
		if c.Audience != "https://app.example/gtr" {
			t.Errorf("%s: aud %q keeps query or fragment", s.Alg, c.Audience)
		}
		if c.ID != jti || c.Issuer != s.Iss || c.Subject != s.Sub || c.Expires-c.IssuedAt > 300 || c.NotBefore != c.IssuedAt {
			t.Errorf("%s: claims %+v", s.Alg, c)
		}
		if kid != s.KeyID {
			t.Errorf("%s: kid %q, want %q", s.Alg, kid, s.KeyID)
		}
		// The query and fragment of the endpoint do not matter to the
		// receiver either.
		if _, err := VerifyJWT(tok, s.Key.Public(), "https://app.example/gtr", now, 0); err != nil {
			t.Errorf("%s: refused at the bare endpoint: %v", s.Alg, err)
		}

		other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		otherRSA, _ := rsa.GenerateKey(rand.Reader, 2048)
		parts := strings.Split(tok, ".")
		payload, _ := base64.RawURLEncoding.DecodeString(parts[1])
		forged := strings.Replace(string(payload), `"sub":"client"`, `"sub":"admin1"`, 1)
		if forged == string(payload) {
			t.Fatalf("%s: payload %s has no sub to tamper with", s.Alg, payload)
		}
		tampered := parts[0] + "." + base64.RawURLEncoding.EncodeToString([]byte(forged)) + "." + parts[2]

		for _, c := range []struct {
			name     string
			token    string
			pub      crypto.PublicKey
			endpoint string
			at       time.Time
			says     string
		}{
			{"another audience", tok, s.Key.Public(), "https://other.example/gtr", now, "aud"},
			{"after expiry", tok, s.Key.Public(), testEndpoint, now.Add(10 * time.Minute), "expired"},
			{"before issue", tok, s.Key.Public(), testEndpoint, now.Add(-time.Minute), "not valid yet"},
			{"another P-256 key", tok, &other.PublicKey, testEndpoint, now, ""},
			{"another RSA key", tok, &otherRSA.PublicKey, testEndpoint, now, ""},
			{"tampered payload", tampered, s.Key.Public(), testEndpoint, now, ""},
		} {
			got, err := VerifyJWT(c.token, c.pub, c.endpoint, c.at, 30*time.Second)
			if err == nil {
				t.Errorf("%s: accepted %s", s.Alg, c.name)
				continue
			}
			if !strings.Contains(err.Error(), c.says) {
				t.Errorf("%s: %s refused with %q, want it to say %q", s.Alg, c.name, err, c.says)
			}
			if c.name == "tampered payload" && got.Subject == "admin1" {
				t.Errorf("%s: the forged claims came back with the error", s.Alg)
			}
		}
	}
}

// TestVerifyJWTRefusesAlgorithms: the algorithm is fixed by the key, not
// by the token. An unsigned token (alg none) and an HS256 token keyed
// with the receiver's own public key (the classic algorithm confusion)
// are refused, as is a []byte key handed to VerifyJWT.
func TestVerifyJWTRefusesAlgorithms(t *testing.T) {
	now := time.Now()
	rsaKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	ecKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	claims := gtr.Claims{
		Issuer: "https://idp.example", Subject: "client", Audience: gtr.Audience(testEndpoint), ID: gtr.NewJTI(),
		IssuedAt: now.Unix(), NotBefore: now.Unix(), Expires: now.Add(time.Minute).Unix(),
	}
	for _, pub := range []crypto.PublicKey{&rsaKey.PublicKey, &ecKey.PublicKey} {
		der, err := x509.MarshalPKIXPublicKey(pub)
		if err != nil {
			t.Fatal(err)
		}
		pemKey := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
		none := handJWT(t, map[string]string{"alg": "none", "typ": gtr.JWTType}, claims, nil)
		for _, c := range []struct {
			name  string
			token string
			key   crypto.PublicKey
		}{
			{"alg none", none, pub},
			{"alg none, signature dropped", strings.TrimSuffix(none, "."), pub},
			{"alg NONE", handJWT(t, map[string]string{"alg": "NONE", "typ": gtr.JWTType}, claims, nil), pub},
			{"HS256 keyed with the PEM public key", handJWT(t, map[string]string{"alg": "HS256", "typ": gtr.JWTType}, claims, pemKey), pub},
			{"HS256 keyed with the DER public key", handJWT(t, map[string]string{"alg": "HS256", "typ": gtr.JWTType}, claims, der), pub},
			{"HS256 with a []byte key", handJWT(t, map[string]string{"alg": "HS256", "typ": gtr.JWTType}, claims, pemKey), pemKey},
		} {
			got, err := VerifyJWT(c.token, c.key, testEndpoint, now, 30*time.Second)
			if err == nil {
				t.Errorf("%T: accepted %s", pub, c.name)
				continue
			}
			if got != (gtr.Claims{}) {
				t.Errorf("%T: %s: claims %+v returned from an unverified token", pub, c.name, got)
			}
		}
	}
	// The other asymmetric algorithm, correctly signed, is refused too:
	// an RSA key is for RS256 only.
	ps, err := gtr.SignJWT(rsaKey, "RS256", "", claims)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := VerifyJWT(ps, &ecKey.PublicKey, testEndpoint, now, 0); err == nil || !strings.Contains(err.Error(), "alg") {
		t.Errorf("an RS256 token checked with a P-256 key: %v, want an alg error", err)
	}
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if _, err := VerifyJWT(ps, &p384.PublicKey, testEndpoint, now, 0); err == nil {
		t.Error("accepted a P-384 verification key")
	}
}

// TestVerifyJWTClaims: every claim the draft requires is checked, and so
// are the header's typ and the token's form.
func TestVerifyJWTClaims(t *testing.T) {
	now := time.Now()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	good := gtr.Claims{
		Issuer: "https://idp.example", Subject: "client", Audience: gtr.Audience(testEndpoint), ID: gtr.NewJTI(),
		IssuedAt: now.Unix(), NotBefore: now.Unix(), Expires: now.Add(time.Minute).Unix(),
	}
	sign := func(edit func(*gtr.Claims)) string {
		c := good
		edit(&c)
		tok, err := gtr.SignJWT(key, "ES256", "", c)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	if _, err := VerifyJWT(sign(func(*gtr.Claims) {}), &key.PublicKey, testEndpoint, now, 0); err != nil {
		t.Fatalf("the unedited token is refused: %v", err)
	}
	goodTok := sign(func(*gtr.Claims) {})
	parts := strings.Split(goodTok, ".")
	for _, c := range []struct {
		name, token, says string
	}{
		{"no jti", sign(func(c *gtr.Claims) { c.ID = "" }), "jti"},
		{"no iss", sign(func(c *gtr.Claims) { c.Issuer = "" }), "iss"},
		{"no sub", sign(func(c *gtr.Claims) { c.Subject = "" }), "sub"},
		{"no aud", sign(func(c *gtr.Claims) { c.Audience = "" }), "aud"},
		{"aud with the query", sign(func(c *gtr.Claims) { c.Audience = testEndpoint }), "aud"},
		{"iat in the future", sign(func(c *gtr.Claims) { c.IssuedAt = now.Add(time.Minute).Unix() }), "not valid yet"},
		{"nbf in the future", sign(func(c *gtr.Claims) { c.NotBefore = now.Add(time.Minute).Unix() }), "not valid yet"},
		{"lifetime of an hour", sign(func(c *gtr.Claims) { c.Expires = now.Add(time.Hour).Unix() }), "five minutes"},
		{"wrong typ", handJWTSigned(t, key, map[string]string{"alg": "ES256", "typ": "JWT"}, good), "typ"},
		{"no typ", handJWTSigned(t, key, map[string]string{"alg": "ES256"}, good), "typ"},
		{"aud as an array", handJWTSigned(t, key, map[string]string{"alg": "ES256", "typ": gtr.JWTType}, map[string]any{
			"iss": good.Issuer, "sub": good.Subject, "aud": []string{good.Audience, "https://other.example"}, "jti": good.ID,
			"iat": good.IssuedAt, "nbf": good.NotBefore, "exp": good.Expires,
		}), "expected types"},
		{"no exp", handJWTSigned(t, key, map[string]string{"alg": "ES256", "typ": gtr.JWTType}, map[string]any{
			"iss": good.Issuer, "sub": good.Subject, "aud": good.Audience, "jti": good.ID, "iat": good.IssuedAt, "nbf": good.NotBefore,
		}), "exp"},
		{"JSON serialization", `{"payload":"` + parts[1] + `","protected":"` + parts[0] + `","signature":"` + parts[2] + `"}`, "compact"},
		{"two parts", parts[0] + "." + parts[1], "compact"},
		{"not base64", "!!." + parts[1] + "." + parts[2], "compact"},
	} {
		_, err := VerifyJWT(c.token, &key.PublicKey, testEndpoint, now, 0)
		if err == nil || !strings.Contains(err.Error(), c.says) {
			t.Errorf("%s: %v, want an error saying %q", c.name, err, c.says)
		}
	}
}

// handJWT assembles a JWT by hand, as an attacker would: an HS256 MAC
// with hmacKey when it is given, else an empty signature.
func handJWT(t *testing.T, header map[string]string, claims any, hmacKey []byte) string {
	t.Helper()
	input := encodePart(t, header) + "." + encodePart(t, claims)
	var sig []byte
	if hmacKey != nil {
		m := hmac.New(sha256.New, hmacKey)
		m.Write([]byte(input))
		sig = m.Sum(nil)
	}
	return input + "." + base64.RawURLEncoding.EncodeToString(sig)
}

// handJWTSigned assembles a JWT with a genuine ES256 signature over any
// header and claims.
func handJWTSigned(t *testing.T, key *ecdsa.PrivateKey, header map[string]string, claims any) string {
	t.Helper()
	input := encodePart(t, header) + "." + encodePart(t, claims)
	digest := sha256.Sum256([]byte(input))
	r, s, err := ecdsa.Sign(rand.Reader, key, digest[:])
	if err != nil {
		t.Fatal(err)
	}
	sig := make([]byte, 64)
	r.FillBytes(sig[:32])
	s.FillBytes(sig[32:])
	return input + "." + base64.RawURLEncoding.EncodeToString(sig)
}

func encodePart(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return base64.RawURLEncoding.EncodeToString(b)
}
