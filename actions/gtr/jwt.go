package gtr

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"errors"
	"fmt"
	"net/url"
	"time"

	jose "github.com/go-jose/go-jose/v3"
	"github.com/go-jose/go-jose/v3/cryptosigner"
	"github.com/go-jose/go-jose/v3/jwt"
)

// JWTType is the "typ" header of a GTR authentication JWT, as Okta sends it.
const JWTType = "global-token-revocation+jwt"

// MaxJWTLifetime is the longest lifetime draft -06 §3.5 recommends.
const MaxJWTLifetime = 5 * time.Minute

// Claims are the claims of a GTR authentication JWT (draft -06 §3.5). The
// audience is a single string, as Okta sends it.
type Claims struct {
	Issuer    string `json:"iss"`
	Subject   string `json:"sub"`
	Audience  string `json:"aud"`
	ID        string `json:"jti"`
	IssuedAt  int64  `json:"iat"`
	NotBefore int64  `json:"nbf"`
	Expires   int64  `json:"exp"`
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

// SignJWT signs claims with key using alg (RS256 or ES256) and returns the
// compact JWT, with the headers typ (JWTType) and, when kid is not empty,
// kid. ES256 signatures are in the JOSE form (r‖s, 64 bytes).
func SignJWT(key crypto.Signer, alg, kid string, c Claims) (string, error) {
	if key == nil {
		return "", errors.New("no JWT signing key")
	}
	switch alg {
	case "RS256":
		if _, ok := key.Public().(*rsa.PublicKey); !ok {
			return "", errors.New("RS256 needs an RSA key")
		}
	case "ES256":
		if pub, ok := key.Public().(*ecdsa.PublicKey); !ok || pub.Curve != elliptic.P256() {
			return "", errors.New("ES256 needs a P-256 EC key")
		}
	default:
		return "", fmt.Errorf("unsupported JWT algorithm %q (want RS256 or ES256)", alg)
	}
	// go-jose signs in-memory keys itself; any other crypto.Signer (a key
	// held by an agent or a KMS) goes through its opaque-signer adapter.
	var k any = key
	switch key.(type) {
	case *rsa.PrivateKey, *ecdsa.PrivateKey:
	default:
		k = cryptosigner.Opaque(key)
	}
	opts := (&jose.SignerOptions{}).WithType(JWTType)
	if kid != "" {
		opts = opts.WithHeader("kid", kid)
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.SignatureAlgorithm(alg), Key: k}, opts)
	if err != nil {
		return "", fmt.Errorf("preparing the JWT signer: %w", err)
	}
	tok, err := jwt.Signed(signer).Claims(c).CompactSerialize()
	if err != nil {
		return "", fmt.Errorf("signing the JWT: %w", err)
	}
	return tok, nil
}
