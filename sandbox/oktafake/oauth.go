package oktafake

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"math/big"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// tokenLifetime is the lifetime of access tokens from /oauth2/v1/token.
const tokenLifetime = time.Hour

type oauthError struct {
	Error            string `json:"error"`
	ErrorDescription string `json:"error_description"`
}

func oauthErr(status int, code, desc string) reply {
	return jsonReply(status, oauthError{Error: code, ErrorDescription: desc})
}

// handleToken is POST /oauth2/v1/token on the org authorization server:
// client_credentials with a private_key_jwt client assertion. Parameters
// may come in the query string (as okta-sdk-golang sends them) or in a form
// body.
func (s *Server) handleToken(r *http.Request, h http.Header) reply {
	r.Body = http.MaxBytesReader(nil, r.Body, 1<<20)
	formErr := r.ParseForm() // before the lock: it reads the body
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tokenReq++
	if !s.consume("oauth2-token", h) {
		return errTooMany()
	}
	h.Set("Cache-Control", "no-store")
	h.Set("Pragma", "no-cache")
	if formErr != nil {
		return oauthErr(http.StatusBadRequest, "invalid_request", "The request could not be parsed.")
	}
	f := r.Form
	switch gt := f.Get("grant_type"); gt {
	case "client_credentials":
	case "":
		return oauthErr(http.StatusBadRequest, "invalid_request", "The 'grant_type' parameter is required.")
	default:
		return oauthErr(http.StatusBadRequest, "unsupported_grant_type", "The authorization server does not support the requested 'grant_type' value: "+gt+".")
	}
	if f.Get("client_assertion_type") != "urn:ietf:params:oauth:client-assertion-type:jwt-bearer" || f.Get("client_assertion") == "" {
		return oauthErr(http.StatusUnauthorized, "invalid_client", "Client authentication failed. Either the client or the client credentials are invalid.")
	}
	audiences := []string{scheme(r) + "://" + r.Host + "/oauth2/v1/token", s.org(r) + "/oauth2/v1/token"}
	app, problem := s.verifyAssertion(f.Get("client_assertion"), f.Get("client_id"), audiences, time.Now())
	if app == nil {
		return oauthErr(http.StatusUnauthorized, "invalid_client", problem)
	}
	requested := strings.Fields(f.Get("scope"))
	if len(requested) == 0 {
		return oauthErr(http.StatusBadRequest, "invalid_scope", "The authorization server resource does not have any configured default scopes, 'scope' must be provided.")
	}
	var granted permSet
	var refused []string
	for _, sc := range requested {
		b := permBit(Permission(sc))
		if b == 0 || app.scopes&b == 0 {
			refused = append(refused, sc)
			continue
		}
		granted |= b
	}
	if len(refused) > 0 {
		return oauthErr(http.StatusBadRequest, "invalid_scope", "The following scopes are not allowed for this client: "+strings.Join(refused, " ")+".")
	}
	tok := randomID(43)
	s.access[tok] = &accessToken{clientID: app.clientID, scopes: granted, expires: time.Now().Add(tokenLifetime)}
	return jsonReply(http.StatusOK, map[string]any{
		"token_type":   "Bearer",
		"expires_in":   int(tokenLifetime / time.Second),
		"access_token": tok,
		"scope":        strings.Join(requested, " "),
	})
}

// maxAssertionLifetime is how far in the future a client assertion's exp
// may lie (Okta allows one hour; the SDK uses exactly one hour).
const maxAssertionLifetime = time.Hour + 5*time.Minute

// verifyAssertion checks a private_key_jwt client assertion: RS256 or
// ES256 signed by the service app's key, iss = sub = client_id, aud = the
// token endpoint, exp in the future.
// It returns the app, or Okta's error_description for invalid_client.
func (s *Server) verifyAssertion(jwt, clientID string, audiences []string, now time.Time) (*serviceApp, string) {
	parts := strings.Split(jwt, ".")
	if len(parts) != 3 {
		return nil, "The client_assertion is not a valid JWT."
	}
	var hdr struct {
		Alg string `json:"alg"`
	}
	var claims struct {
		Iss string          `json:"iss"`
		Sub string          `json:"sub"`
		Aud json.RawMessage `json:"aud"`
		Exp *json.Number    `json:"exp"`
		Nbf *json.Number    `json:"nbf"`
	}
	if err := decodeSegment(parts[0], &hdr); err != nil {
		return nil, "The client_assertion is not a valid JWT."
	}
	if err := decodeSegment(parts[1], &claims); err != nil {
		return nil, "The client_assertion is not a valid JWT."
	}
	if claims.Iss == "" || claims.Iss != claims.Sub {
		return nil, "The client_assertion token must have iss and sub claims equal to the client_id."
	}
	if clientID != "" && clientID != claims.Iss {
		return nil, "The client_id does not match the client_assertion issuer."
	}
	app := s.services[claims.Iss]
	if app == nil {
		return nil, "Invalid value for 'client_id' parameter."
	}
	if !audienceOK(claims.Aud, audiences) {
		return nil, "The audience claim for client_assertion must be the endpoint invoked for the request."
	}
	if claims.Exp == nil {
		return nil, "The client_assertion token must have an exp claim."
	}
	exp, err := claims.Exp.Float64()
	if err != nil {
		return nil, "The client_assertion token has an invalid exp claim."
	}
	expires := time.Unix(int64(exp), 0)
	if !expires.After(now) {
		return nil, "The client_assertion token is expired."
	}
	if expires.Sub(now) > maxAssertionLifetime {
		return nil, "The client_assertion token has an expiration too far in the future."
	}
	if claims.Nbf != nil {
		if nbf, err := claims.Nbf.Float64(); err != nil || time.Unix(int64(nbf), 0).After(now.Add(time.Minute)) {
			return nil, "The client_assertion token is not yet valid."
		}
	}
	sig, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(parts[2], "="))
	if err != nil {
		return nil, "The client_assertion signature is invalid."
	}
	sum := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	if !verifySignature(hdr.Alg, app.pub, sum[:], sig) {
		return nil, "The client_assertion signature is invalid."
	}
	return app, ""
}

func decodeSegment(seg string, v any) error {
	b, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(seg, "="))
	if err != nil {
		return err
	}
	d := json.NewDecoder(strings.NewReader(string(b)))
	d.UseNumber()
	return d.Decode(v)
}

func audienceOK(raw json.RawMessage, want []string) bool {
	var one string
	var many []string
	if json.Unmarshal(raw, &one) == nil {
		many = []string{one}
	} else if json.Unmarshal(raw, &many) != nil {
		return false
	}
	for _, a := range many {
		for _, w := range want {
			if a == w {
				return true
			}
		}
	}
	return false
}

func verifySignature(alg string, pub crypto.PublicKey, digest, sig []byte) bool {
	switch alg {
	case "RS256":
		k, ok := pub.(*rsa.PublicKey)
		return ok && rsa.VerifyPKCS1v15(k, crypto.SHA256, digest, sig) == nil
	case "ES256":
		k, ok := pub.(*ecdsa.PublicKey)
		if !ok || k.Curve != elliptic.P256() || len(sig) != 64 {
			return false
		}
		r, s := new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])
		return ecdsa.Verify(k, digest, r, s)
	}
	return false
}

// handleGTR is Okta's own Global Token Revocation receiver,
// POST /oauth2/v1/global-token-revocation: it ends the user's Okta sessions
// and revokes their refresh tokens. It accepts the opaque (Okta user id)
// and iss_sub (this org's issuer) formats only, and answers 400 for an
// unknown user.
func (s *Server) handleGTR(c *call) reply {
	body, err := io.ReadAll(io.LimitReader(c.r.Body, 1<<20))
	var req struct {
		SubID map[string]any `json:"sub_id"`
	}
	if err != nil || json.Unmarshal(body, &req) != nil {
		return oktaErr(http.StatusBadRequest, "E0000003", "The request body was not well-formed.")
	}
	if req.SubID == nil {
		return badRequest("Api validation failed: sub_id", "sub_id: is required")
	}
	str := func(k string) string { v, _ := req.SubID[k].(string); return v }
	var u *user
	switch format := str("format"); format {
	case "opaque":
		if x := s.byID[str("id")]; x != nil && !x.deleted {
			u = x
		}
	case "iss_sub":
		org := c.orgURL()
		if iss := str("iss"); iss != org && !strings.HasPrefix(iss, org+"/oauth2/") {
			return badRequest("Api validation failed: sub_id", "sub_id.iss: not an issuer of this org")
		}
		u = s.lookup(str("sub"))
	default:
		return badRequest("Api validation failed: sub_id", "sub_id.format: "+strconv.Quote(format)+" is not supported; use opaque or iss_sub")
	}
	if u == nil {
		return badRequest("Api validation failed: sub_id", "sub_id: no such user")
	}
	s.ensureDetails(u)
	tx := seededID(s.rng, "", 27)
	s.apiEvent(c, tx, ev{typ: "user.authentication.universal_logout", msg: "Global token revocation: sessions and tokens revoked",
		targets: []logActor{userActor(u)}, debug: map[string]string{
			"sessionsCleared": strconv.Itoa(len(u.sessions)), "revokedOAuthTokens": strconv.Itoa(len(u.tokens)),
			"subIdFormat": str("format"),
		}})
	s.endSessions(c, u, tx, "GLOBAL_TOKEN_REVOCATION")
	u.tokens = nil
	return noContent()
}
