package apps

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"errors"
	"fmt"
	"strings"
	"time"

	jose "github.com/go-jose/go-jose/v3"
	josejson "github.com/go-jose/go-jose/v3/json"
	"github.com/go-jose/go-jose/v3/jwt"

	"ulc/actions/gtr"
)

// VerifyJWT checks a GTR authentication JWT as a receiver must (draft -06
// §3.5): a compact JWS whose alg is the one the key is for (RS256 for an
// RSA key, ES256 for a P-256 key; never "none", never an HMAC keyed with
// the public key), typ gtr.JWTType, a valid signature by pub, iss, sub and
// jti present, aud equal to the endpoint URL without query or fragment,
// iat and nbf not in the future and exp not passed (each allowing skew),
// and a lifetime of at most gtr.MaxJWTLifetime. Replay (jti reuse) is for
// the caller to check.
//
// The claims are returned whenever the signature is valid, even when a
// later check fails, so the caller can record the jti of what it refused.
func VerifyJWT(token string, pub crypto.PublicKey, endpoint string, now time.Time, skew time.Duration) (gtr.Claims, error) {
	c, _, err := verifyJWT(token, pub, endpoint, now, skew)
	return c, err
}

// verifyJWT is VerifyJWT that also returns the kid header, which it reads
// from the same parse as the signature it verifies.
func verifyJWT(token string, pub crypto.PublicKey, endpoint string, now time.Time, skew time.Duration) (c gtr.Claims, kid string, err error) {
	wantAlg, err := algFor(pub)
	if err != nil {
		return c, "", err
	}
	// go-jose also parses the JSON serialization, which can carry several
	// signatures; a bearer JWT is compact, with exactly one.
	if strings.Count(token, ".") != 2 || strings.HasPrefix(strings.TrimSpace(token), "{") {
		return c, "", errors.New("not a compact JWT")
	}
	tok, err := jwt.ParseSigned(token)
	if err != nil || len(tok.Headers) != 1 {
		return c, "", errors.New("not a compact JWT")
	}
	h := tok.Headers[0]
	if h.Algorithm != wantAlg {
		return c, "", fmt.Errorf("JWT alg %q, want %s for this key", h.Algorithm, wantAlg)
	}
	if typ, _ := h.ExtraHeaders[jose.HeaderType].(string); typ != gtr.JWTType {
		return c, "", fmt.Errorf("JWT typ %q, want %s", typ, gtr.JWTType)
	}
	var std jwt.Claims
	if err := tok.Claims(pub, &std, &c); err != nil {
		var syntax *josejson.SyntaxError
		var typed *josejson.UnmarshalTypeError
		if errors.As(err, &syntax) || errors.As(err, &typed) {
			return gtr.Claims{}, "", errors.New("JWT claims are not JSON of the expected types")
		}
		return gtr.Claims{}, "", errors.New("JWT signature invalid")
	}
	kid = h.KeyID
	switch {
	case c.Issuer == "" || c.Subject == "" || c.ID == "":
		return c, kid, errors.New("JWT lacks iss, sub or jti")
	case std.IssuedAt == nil || std.NotBefore == nil || std.Expiry == nil:
		return c, kid, errors.New("JWT lacks iat, nbf or exp")
	}
	err = std.ValidateWithLeeway(jwt.Expected{Audience: jwt.Audience{gtr.Audience(endpoint)}, Time: now}, skew)
	switch {
	case errors.Is(err, jwt.ErrInvalidAudience):
		return c, kid, fmt.Errorf("JWT aud %q is not this endpoint", c.Audience)
	case errors.Is(err, jwt.ErrExpired):
		return c, kid, errors.New("JWT expired")
	case errors.Is(err, jwt.ErrNotValidYet), errors.Is(err, jwt.ErrIssuedInTheFuture):
		return c, kid, errors.New("JWT not valid yet")
	case err != nil:
		return c, kid, fmt.Errorf("JWT claims invalid: %w", err)
	case std.Expiry.Time().Sub(std.IssuedAt.Time()) > gtr.MaxJWTLifetime:
		return c, kid, errors.New("JWT lifetime exceeds five minutes")
	}
	return c, kid, nil
}

// algFor is the allow-list: the one algorithm a verification key may be
// used with. Anything else, a []byte (HMAC) key in particular, is refused.
func algFor(pub crypto.PublicKey) (string, error) {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		return string(jose.RS256), nil
	case *ecdsa.PublicKey:
		if k.Curve == elliptic.P256() {
			return string(jose.ES256), nil
		}
	}
	return "", errors.New("unsupported verification key")
}
