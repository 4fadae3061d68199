package gtr

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
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

func TestJWTRoundTrip(t *testing.T) {
	rsaKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	ecKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	endpoint := "https://app.example/gtr?tenant=7#frag"
	now := time.Now()
	for _, s := range []*Signer{
		{Key: rsaKey, Alg: "RS256", KeyID: "k1", Iss: "https://idp.example", Sub: "client"},
		{Key: ecKey, Alg: "ES256", Iss: "https://idp.example", Sub: "client", TTL: time.Minute},
	} {
		tok, jti, err := s.Sign(endpoint, now)
		if err != nil {
			t.Fatal(err)
		}
		c, err := VerifyJWT(tok, s.Key.Public(), endpoint, now, 30*time.Second)
		if err != nil {
			t.Fatalf("%s: %v", s.Alg, err)
		}
		if c.Audience != "https://app.example/gtr" {
			t.Fatalf("aud %q keeps query or fragment", c.Audience)
		}
		if c.ID != jti || c.Expires-c.IssuedAt > 300 || c.NotBefore != c.IssuedAt {
			t.Fatalf("claims %+v", c)
		}
		hdr, _ := base64.RawURLEncoding.DecodeString(strings.Split(tok, ".")[0])
		var h map[string]string
		_ = json.Unmarshal(hdr, &h)
		if h["typ"] != JWTType || h["alg"] != s.Alg {
			t.Fatalf("header %v", h)
		}
		// Wrong endpoint, expired, other key: refused.
		if _, err := VerifyJWT(tok, s.Key.Public(), "https://other.example/gtr", now, 0); err == nil {
			t.Fatal("accepted for another audience")
		}
		if _, err := VerifyJWT(tok, s.Key.Public(), endpoint, now.Add(10*time.Minute), 30*time.Second); err == nil {
			t.Fatal("accepted after expiry")
		}
		other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if _, err := VerifyJWT(tok, &other.PublicKey, endpoint, now, 0); err == nil {
			t.Fatal("accepted with another key")
		}
		// A tampered payload fails the signature check.
		parts := strings.Split(tok, ".")
		payload, _ := base64.RawURLEncoding.DecodeString(parts[1])
		forged := strings.Replace(string(payload), `"sub":"client"`, `"sub":"admin1"`, 1)
		parts[1] = base64.RawURLEncoding.EncodeToString([]byte(forged))
		if _, err := VerifyJWT(strings.Join(parts, "."), s.Key.Public(), endpoint, now, 0); err == nil {
			t.Fatal("accepted a forged payload")
		}
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
