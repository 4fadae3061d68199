package gtr

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestNewSubjectAndBody(t *testing.T) {
	who := Identity{ID: "00u1abcdEFGH", Email: "neo@example.com", Issuer: "https://acme.okta.com"}
	cases := []struct {
		format, key, want string
	}{
		{FormatEmail, BodyKeySubID, `{"sub_id":{"email":"neo@example.com","format":"email"}}`},
		{FormatOpaque, BodyKeySubID, `{"sub_id":{"format":"opaque","id":"00u1abcdEFGH"}}`},
		{FormatIssSub, BodyKeySubID, `{"sub_id":{"format":"iss_sub","iss":"https://acme.okta.com","sub":"00u1abcdEFGH"}}`},
		{FormatEmail, BodyKeySubject, `{"subject":{"email":"neo@example.com","format":"email"}}`},
	}
	for _, c := range cases {
		s, err := NewSubject(c.format, who)
		if err != nil {
			t.Fatalf("%s: %v", c.format, err)
		}
		b, err := Body(c.key, s)
		if err != nil || string(b) != c.want {
			t.Fatalf("%s/%s: body %s (%v), want %s", c.format, c.key, b, err, c.want)
		}
		key, back, err := ParseBody(b)
		if err != nil || key != c.key || back.Format() != c.format {
			t.Fatalf("ParseBody(%s) = %s %v %v", b, key, back, err)
		}
	}
}

func TestSubjectValidation(t *testing.T) {
	bad := []struct {
		s    Subject
		says string
	}{
		{Subject{"format": "email"}, `needs a non-empty "email"`},
		{Subject{"format": "email", "email": "  "}, `needs a non-empty "email"`},
		{Subject{"format": "email", "email": "a@b.example", "id": "x"}, "must not carry id"},
		{Subject{"format": "email", "email": "Neo <neo@example.com>"}, "not a plain address"},
		{Subject{"format": "opaque", "id": ""}, `needs a non-empty "id"`},
		{Subject{"format": "iss_sub", "iss": "https://i"}, `needs a non-empty "sub"`},
		{Subject{"format": "phone_number", "phone_number": "+1"}, "unsupported subject format"},
		{Subject{"email": "a@b.example"}, "unsupported subject format"},
	}
	for _, c := range bad {
		err := c.s.Validate()
		if err == nil || !strings.Contains(err.Error(), c.says) {
			t.Errorf("Validate(%v) = %v, want it to say %q", c.s, err, c.says)
		}
	}
	if _, err := NewSubject(FormatOpaque, Identity{Email: "a@b.example"}); err == nil || !strings.Contains(err.Error(), "Okta id is unknown") {
		t.Errorf("opaque without id: %v", err)
	}
	if _, err := NewSubject(FormatIssSub, Identity{ID: "00u1"}); err == nil || !strings.Contains(err.Error(), "no issuer") {
		t.Errorf("iss_sub without issuer: %v", err)
	}
}

func TestParseBodyRejects(t *testing.T) {
	for _, b := range []string{`[]`, `{}`, `{"sub_id":{"format":"email","email":"a@b.example"},"x":1}`,
		`{"user":{"format":"email","email":"a@b.example"}}`, `{"sub_id":{"format":"email","email":7}}`, `not json`} {
		if _, _, err := ParseBody([]byte(b)); err == nil {
			t.Errorf("ParseBody(%s) accepted", b)
		}
	}
}

// TestSignJWT checks what a receiver sees, without go-jose: the compact
// form, the headers, the claims, and a signature that verifies with the
// standard library (for ES256, the JOSE r‖s form, not ASN.1).
func TestSignJWT(t *testing.T) {
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	endpoint := "https://app.example/gtr?tenant=7#frag"
	now := time.Unix(1_780_000_000, 0)
	for _, s := range []*Signer{
		{Key: rsaKey, Alg: "RS256", KeyID: "k1", Iss: "https://idp.example", Sub: "client"},
		{Key: ecKey, Alg: "ES256", Iss: "https://idp.example", Sub: "client", TTL: time.Minute},
		// A key that is only a crypto.Signer, as a KMS or an agent gives.
		{Key: opaque{ecKey}, Alg: "ES256", KeyID: "kms-1", Iss: "https://idp.example", Sub: "client"},
		{Key: opaque{rsaKey}, Alg: "RS256", Iss: "https://idp.example", Sub: "client", TTL: time.Hour},
	} {
		tok, jti, err := s.Sign(endpoint, now)
		if err != nil {
			t.Fatalf("%s: %v", s.Alg, err)
		}
		parts := strings.Split(tok, ".")
		if len(parts) != 3 {
			t.Fatalf("%s: %d parts, want a compact JWT", s.Alg, len(parts))
		}
		var h map[string]any
		decodePart(t, parts[0], &h)
		want := map[string]any{"alg": s.Alg, "typ": JWTType}
		if s.KeyID != "" {
			want["kid"] = s.KeyID
		}
		if !reflect.DeepEqual(h, want) {
			t.Errorf("%s: header %v, want %v", s.Alg, h, want)
		}
		var c Claims
		decodePart(t, parts[1], &c)
		ttl := s.TTL
		if ttl <= 0 || ttl > MaxJWTLifetime {
			ttl = MaxJWTLifetime
		}
		wantClaims := Claims{
			Issuer: "https://idp.example", Subject: "client", Audience: "https://app.example/gtr", ID: jti,
			IssuedAt: now.Unix(), NotBefore: now.Unix(), Expires: now.Add(ttl).Unix(),
		}
		if c != wantClaims {
			t.Errorf("%s: claims %+v, want %+v", s.Alg, c, wantClaims)
		}
		sig, err := base64.RawURLEncoding.DecodeString(parts[2])
		if err != nil {
			t.Fatalf("%s: signature is not base64url: %v", s.Alg, err)
		}
		digest := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
		switch pub := s.Key.Public().(type) {
		case *rsa.PublicKey:
			if err := rsa.VerifyPKCS1v15(pub, crypto.SHA256, digest[:], sig); err != nil {
				t.Errorf("%s: signature does not verify: %v", s.Alg, err)
			}
		case *ecdsa.PublicKey:
			if len(sig) != 64 {
				t.Fatalf("%s: signature of %d bytes, want r||s in 64", s.Alg, len(sig))
			}
			r, ss := new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])
			if !ecdsa.Verify(pub, digest[:], r, ss) {
				t.Errorf("%s: signature does not verify", s.Alg)
			}
		}
	}
}

// TestSignJWTRefuses: an algorithm other than RS256 or ES256, or a key
// that does not fit the algorithm, is an error, never a token.
func TestSignJWTRefuses(t *testing.T) {
	rsaKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	p256, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	c := Claims{Issuer: "i", Subject: "s", Audience: "https://a.example", ID: NewJTI(), IssuedAt: 1, NotBefore: 1, Expires: 2}
	for _, tc := range []struct {
		name string
		key  crypto.Signer
		alg  string
		says string
	}{
		{"RS256 with an EC key", p256, "RS256", "RS256 needs an RSA key"},
		{"ES256 with an RSA key", rsaKey, "ES256", "ES256 needs a P-256 EC key"},
		{"ES256 with a P-384 key", p384, "ES256", "ES256 needs a P-256 EC key"},
		{"none", rsaKey, "none", "unsupported JWT algorithm"},
		{"HS256", rsaKey, "HS256", "unsupported JWT algorithm"},
		{"PS256", rsaKey, "PS256", "unsupported JWT algorithm"},
		{"no key", nil, "RS256", "no JWT signing key"},
	} {
		tok, err := SignJWT(tc.key, tc.alg, "", c)
		if err == nil || !strings.Contains(err.Error(), tc.says) || tok != "" {
			t.Errorf("%s: token %q, error %v, want an error saying %q", tc.name, tok, err, tc.says)
		}
	}
}

// opaque hides the concrete key type, so only the crypto.Signer methods
// are reachable.
type opaque struct{ crypto.Signer }

func decodePart(t *testing.T, part string, v any) {
	t.Helper()
	b, err := base64.RawURLEncoding.DecodeString(part)
	if err != nil {
		t.Fatalf("JWT part %q is not base64url: %v", part, err)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		t.Fatalf("JWT part %s: %v", b, err)
	}
}

func TestJTIUnique(t *testing.T) {
	seen := map[string]bool{}
	for range 1000 {
		j := NewJTI()
		if seen[j] {
			t.Fatal("jti repeated")
		}
		seen[j] = true
	}
}

func FuzzSubject(f *testing.F) {
	f.Add("email", "neo@example.com", "00u1", "https://i.example")
	f.Add("opaque", "", "00u1", "")
	f.Add("iss_sub", "x", "", "https://i")
	f.Add("email", "\x1b[31m@x", "", "")
	f.Fuzz(func(t *testing.T, format, email, id, iss string) {
		s, err := NewSubject(format, Identity{ID: id, Email: email, Issuer: iss})
		if err != nil {
			return
		}
		// Whatever is accepted must validate, and its body must parse back
		// to the same subject.
		if err := s.Validate(); err != nil {
			t.Fatalf("NewSubject returned an invalid subject: %v", err)
		}
		b, err := Body(BodyKeySubID, s)
		if err != nil {
			t.Fatal(err)
		}
		_, back, err := ParseBody(b)
		if err != nil || len(back) != len(s) {
			t.Fatalf("round trip %s: %v %v", b, back, err)
		}
		for k, v := range s {
			if back[k] != v {
				t.Fatalf("member %s changed: %q → %q", k, v, back[k])
			}
		}
	})
}
