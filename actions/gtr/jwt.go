package gtr

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"net/url"
	"strings"
	"time"
)

// JWTType is the "typ" header of a GTR authentication JWT, as Okta sends it.
const JWTType = "global-token-revocation+jwt"

// MaxJWTLifetime is the longest lifetime draft -06 §3.5 recommends.
const MaxJWTLifetime = 5 * time.Minute

// Claims are the claims of a GTR authentication JWT (draft -06 §3.5).
type Claims struct {
	Issuer    string `json:"iss"`
	Subject   string `json:"sub"`
	Audience  string `json:"aud"`
	ID        string `json:"jti"`
	IssuedAt  int64  `json:"iat"`
	NotBefore int64  `json:"nbf"`
	Expires   int64  `json:"exp"`
}

type header struct {
	Alg string `json:"alg"`
	Typ string `json:"typ"`
	Kid string `json:"kid,omitempty"`
}

// Audience returns the JWT audience for an endpoint: the exact endpoint URL
// without query string or fragment.
func Audience(endpoint string) string {
	u, err := url.Parse(endpoint)
	if err != nil {
		return endpoint
	}
	u.RawQuery, u.ForceQuery, u.Fragment, u.RawFragment = "", false, "", ""
	return u.String()
}

// NewJTI returns a fresh, unguessable JWT id.
func NewJTI() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// Signer signs GTR authentication JWTs for one target.
type Signer struct {
	Key   crypto.Signer
	Alg   string // RS256 or ES256
	KeyID string
	Iss   string
	Sub   string
	TTL   time.Duration
}

// Sign returns a compact JWT for endpoint with a fresh jti, which it also
// returns so the audit log can name the token without holding it.
func (s *Signer) Sign(endpoint string, now time.Time) (token, jti string, err error) {
	ttl := s.TTL
	if ttl <= 0 || ttl > MaxJWTLifetime {
		ttl = MaxJWTLifetime
	}
	jti = NewJTI()
	c := Claims{
		Issuer: s.Iss, Subject: s.Sub, Audience: Audience(endpoint), ID: jti,
		IssuedAt: now.Unix(), NotBefore: now.Unix(), Expires: now.Add(ttl).Unix(),
	}
	token, err = SignJWT(s.Key, s.Alg, s.KeyID, c)
	return token, jti, err
}

// SignJWT signs claims with key using alg (RS256 or ES256).
func SignJWT(key crypto.Signer, alg, kid string, c Claims) (string, error) {
	h, _ := json.Marshal(header{Alg: alg, Typ: JWTType, Kid: kid})
	p, _ := json.Marshal(c)
	input := b64(h) + "." + b64(p)
	digest := sha256.Sum256([]byte(input))
	var sig []byte
	switch alg {
	case "RS256":
		if _, ok := key.Public().(*rsa.PublicKey); !ok {
			return "", errors.New("RS256 needs an RSA key")
		}
		s, err := key.Sign(rand.Reader, digest[:], crypto.SHA256)
		if err != nil {
			return "", fmt.Errorf("signing the JWT: %w", err)
		}
		sig = s
	case "ES256":
		ek, ok := key.(*ecdsa.PrivateKey)
		if !ok {
			return "", errors.New("ES256 needs a P-256 EC key")
		}
		r, s, err := ecdsa.Sign(rand.Reader, ek, digest[:])
		if err != nil {
			return "", fmt.Errorf("signing the JWT: %w", err)
		}
		sig = make([]byte, 64)
		r.FillBytes(sig[:32])
		s.FillBytes(sig[32:])
	default:
		return "", fmt.Errorf("unsupported JWT algorithm %q (want RS256 or ES256)", alg)
	}
	return input + "." + b64(sig), nil
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// VerifyJWT checks a GTR authentication JWT as a receiver must (draft -06
// §3.5): the signature with pub, typ, aud equal to the endpoint URL, iat/nbf
// not in the future and exp not passed (allowing skew), and a lifetime of at
// most five minutes. Replay (jti reuse) is for the caller to check.
func VerifyJWT(token string, pub crypto.PublicKey, endpoint string, now time.Time, skew time.Duration) (Claims, error) {
	var c Claims
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return c, errors.New("not a compact JWT")
	}
	hb, err1 := base64.RawURLEncoding.DecodeString(parts[0])
	pb, err2 := base64.RawURLEncoding.DecodeString(parts[1])
	sig, err3 := base64.RawURLEncoding.DecodeString(parts[2])
	if err := errors.Join(err1, err2, err3); err != nil {
		return c, errors.New("JWT is not base64url")
	}
	var h header
	if err := json.Unmarshal(hb, &h); err != nil {
		return c, errors.New("JWT header is not JSON")
	}
	if h.Typ != JWTType {
		return c, fmt.Errorf("JWT typ %q, want %s", h.Typ, JWTType)
	}
	digest := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	switch k := pub.(type) {
	case *rsa.PublicKey:
		if h.Alg != "RS256" {
			return c, fmt.Errorf("JWT alg %q does not match an RSA key", h.Alg)
		}
		if rsa.VerifyPKCS1v15(k, crypto.SHA256, digest[:], sig) != nil {
			return c, errors.New("JWT signature invalid")
		}
	case *ecdsa.PublicKey:
		if h.Alg != "ES256" || len(sig) != 64 {
			return c, fmt.Errorf("JWT alg %q does not match a P-256 key", h.Alg)
		}
		r, s := new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])
		if !ecdsa.Verify(k, digest[:], r, s) {
			return c, errors.New("JWT signature invalid")
		}
	default:
		return c, errors.New("unsupported verification key")
	}
	if err := json.Unmarshal(pb, &c); err != nil {
		return c, errors.New("JWT claims are not JSON of the expected types")
	}
	switch {
	case c.Issuer == "" || c.Subject == "" || c.ID == "":
		return c, errors.New("JWT lacks iss, sub or jti")
	case c.Audience != Audience(endpoint):
		return c, fmt.Errorf("JWT aud %q is not this endpoint", c.Audience)
	case c.IssuedAt == 0 || c.Expires == 0 || c.NotBefore == 0:
		return c, errors.New("JWT lacks iat, nbf or exp")
	case time.Unix(c.Expires, 0).Add(skew).Before(now):
		return c, errors.New("JWT expired")
	case time.Unix(c.NotBefore, 0).Add(-skew).After(now), time.Unix(c.IssuedAt, 0).Add(-skew).After(now):
		return c, errors.New("JWT not valid yet")
	case time.Duration(c.Expires-c.IssuedAt)*time.Second > MaxJWTLifetime:
		return c, errors.New("JWT lifetime exceeds five minutes")
	}
	return c, nil
}
