package googlefake

import (
	"encoding/json"
	"mime"
	"net/http"
	"slices"
	"strings"
	"time"

	jose "github.com/go-jose/go-jose/v3"
	"github.com/go-jose/go-jose/v3/jwt"
)

// grantType is the JWT-bearer grant (RFC 7523 §2.1).
const grantType = "urn:ietf:params:oauth:grant-type:jwt-bearer"

// maxLifetime is the longest assertion Google accepts: an hour.
const maxLifetime = time.Hour

// skew is the clock difference tolerated on iat.
const skew = 5 * time.Minute

// tokenLifetime is how long an access token lasts (Google says 3599).
const tokenLifetime = 3599 * time.Second

// assertionClaims are the claims of a service account's assertion.
type assertionClaims struct {
	Iss   string `json:"iss"`
	Scope string `json:"scope"`
	Aud   string `json:"aud"`
	Iat   int64  `json:"iat"`
	Exp   int64  `json:"exp"`
	Sub   string `json:"sub"`
	Prn   string `json:"prn"`
}

// oauthError answers as Google's token endpoint does:
// {"error": code, "error_description": desc}.
func oauthError(w http.ResponseWriter, status int, code, desc string) {
	writeJSON(w, status, map[string]string{"error": code, "error_description": desc})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// serveToken is the token endpoint: the JWT-bearer grant of a service
// account, with domain-wide delegation when the assertion has a sub.
func (s *Server) serveToken(w http.ResponseWriter, r *http.Request) {
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/x-www-form-urlencoded" {
		oauthError(w, http.StatusBadRequest, "invalid_request", "Invalid Content-Type: the body must be application/x-www-form-urlencoded.")
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	if err := r.ParseForm(); err != nil {
		oauthError(w, http.StatusBadRequest, "invalid_request", "Could not read the request body.")
		return
	}
	switch gt := r.PostForm.Get("grant_type"); {
	case gt == "":
		oauthError(w, http.StatusBadRequest, "invalid_request", "Missing required parameter: grant_type")
		return
	case gt != grantType:
		oauthError(w, http.StatusBadRequest, "unsupported_grant_type", "Invalid grant_type: "+clip(gt))
		return
	}
	assertion := r.PostForm.Get("assertion")
	if assertion == "" {
		oauthError(w, http.StatusBadRequest, "invalid_request", "Missing required parameter: assertion")
		return
	}
	c, problem := s.verifyAssertion(assertion)
	if problem != nil {
		oauthError(w, problem.status, problem.code, problem.desc)
		return
	}
	sub := c.Sub
	if sub == "" {
		sub = c.Prn
	}
	scopes := strings.Fields(c.Scope)
	s.mu.Lock()
	known := sub == "" || s.users[strings.ToLower(sub)]
	s.mu.Unlock()
	switch {
	case len(scopes) == 0 || slices.ContainsFunc(scopes, func(sc string) bool { return !strings.HasPrefix(sc, "https://www.googleapis.com/auth/") }):
		oauthError(w, http.StatusBadRequest, "invalid_scope", "Invalid OAuth scope or ID token audience provided.")
		return
	case sub != "" && !known:
		oauthError(w, http.StatusBadRequest, "invalid_grant", "Invalid email or User ID")
		return
	case sub != "" && (s.opts.MissingPermission || !slices.Equal(scopes, []string{Scope})):
		// Domain-wide delegation is granted per client id and scope list:
		// here only Scope, and only when the Admin console says so.
		oauthError(w, http.StatusUnauthorized, "unauthorized_client",
			"Client is unauthorized to retrieve access tokens using this method, or client not authorized for any of the scopes requested.")
		return
	}
	tok := "ya29.c." + randomHex(48)
	s.mu.Lock()
	s.tokens[tok] = issued{sub: strings.ToLower(sub), scopes: scopes, expires: time.Now().Add(tokenLifetime)}
	s.mu.Unlock()
	w.Header().Set("Cache-Control", "no-cache, no-store, max-age=0, must-revalidate")
	writeJSON(w, http.StatusOK, map[string]any{
		"access_token": tok, "expires_in": int(tokenLifetime / time.Second), "token_type": "Bearer",
	})
}

// tokenProblem is a refusal of the token endpoint.
type tokenProblem struct {
	status     int
	code, desc string
}

// verifyAssertion checks the assertion as Google does: RS256 signed by
// the service account's key (kid = private_key_id), iss = its
// client_email, aud = the token endpoint, a lifetime of at most an hour
// that has begun and not ended.
func (s *Server) verifyAssertion(assertion string) (*assertionClaims, *tokenProblem) {
	badSig := &tokenProblem{http.StatusBadRequest, "invalid_grant", "Invalid JWT Signature."}
	tok, err := jwt.ParseSigned(assertion)
	if err != nil || len(tok.Headers) != 1 {
		return nil, badSig
	}
	h := tok.Headers[0]
	if h.Algorithm != string(jose.RS256) || h.KeyID != "" && h.KeyID != s.keyID {
		return nil, badSig
	}
	if typ, ok := h.ExtraHeaders[jose.HeaderType].(string); ok && typ != "JWT" {
		return nil, badSig
	}
	var c assertionClaims
	if err := tok.Claims(&s.key.PublicKey, &c); err != nil {
		return nil, badSig
	}
	if c.Iss != s.email {
		return nil, &tokenProblem{http.StatusUnauthorized, "invalid_client", "The OAuth client was not found."}
	}
	if c.Aud != s.TokenURL() {
		return nil, &tokenProblem{http.StatusBadRequest, "invalid_grant", "Invalid JWT: Failed audience check."}
	}
	now := time.Now()
	iat, exp := time.Unix(c.Iat, 0), time.Unix(c.Exp, 0)
	if c.Iat == 0 || c.Exp == 0 || iat.After(now.Add(skew)) || !exp.After(now) || exp.Sub(iat) > maxLifetime {
		return nil, &tokenProblem{http.StatusBadRequest, "invalid_grant",
			"Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe. Check your iat and exp values in the JWT claim."}
	}
	return &c, nil
}

// apiError answers with Google's JSON error envelope (v1 error format).
func apiError(w http.ResponseWriter, code int, message, reason, domain string) {
	statuses := map[int]string{
		400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED",
		404: "NOT_FOUND", 429: "RESOURCE_EXHAUSTED", 500: "INTERNAL",
	}
	writeJSON(w, code, map[string]any{"error": map[string]any{
		"code": code, "message": message, "status": statuses[code],
		"errors": []map[string]string{{"message": message, "domain": domain, "reason": reason}},
	}})
}

// api checks the Bearer access token of an Admin SDK call: present,
// issued here and unexpired, with Scope, for an admin.
func (s *Server) api(h func(w http.ResponseWriter, r *http.Request, userKey string)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		auth := r.Header.Get("Authorization")
		tok, ok := strings.CutPrefix(auth, "Bearer ")
		if auth == "" || !ok {
			w.Header().Set("WWW-Authenticate", `Bearer realm="https://accounts.google.com/"`)
			apiError(w, http.StatusUnauthorized, "Login Required.", "required", "global")
			return
		}
		s.mu.Lock()
		is, found := s.tokens[tok]
		s.mu.Unlock()
		switch {
		case !found || time.Now().After(is.expires):
			w.Header().Set("WWW-Authenticate", `Bearer realm="https://accounts.google.com/", error="invalid_token"`)
			apiError(w, http.StatusUnauthorized, "Invalid Credentials", "authError", "global")
			return
		case !slices.Contains(is.scopes, Scope):
			apiError(w, http.StatusForbidden, "Request had insufficient authentication scopes.", "insufficientPermissions", "global")
			return
		case is.sub == "" || is.sub != strings.ToLower(s.opts.Admin):
			// No admin subject (no domain-wide delegation in the
			// assertion) or a user who is not an admin.
			apiError(w, http.StatusForbidden, "Not Authorized to access this resource/api", "forbidden", "global")
			return
		}
		key := strings.ToLower(r.PathValue("userKey"))
		s.mu.Lock()
		group, known := s.groups[key], s.users[key]
		s.mu.Unlock()
		switch {
		case group:
			apiError(w, http.StatusBadRequest, "Type not supported: userKey", "invalid", "global")
		case !known:
			apiError(w, http.StatusNotFound, "Resource Not Found: userKey", "notFound", "global")
		default:
			h(w, r, key)
		}
	}
}

// signOut is users.signOut: 204, no body; the first Throttle calls 429.
func (s *Server) signOut(w http.ResponseWriter, _ *http.Request, user string) {
	s.mu.Lock()
	throttle := s.throttled < s.opts.Throttle
	if throttle {
		s.throttled++
	} else {
		s.signedOut[user]++
	}
	s.mu.Unlock()
	if throttle {
		w.Header().Set("Retry-After", "1")
		apiError(w, http.StatusTooManyRequests, "Quota exceeded for quota metric 'Queries' and limit 'Queries per minute per user'.", "rateLimitExceeded", "usageLimits")
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// listTokens is tokens.list.
func (s *Server) listTokens(w http.ResponseWriter, _ *http.Request, user string) {
	s.mu.Lock()
	grants := append([]Grant(nil), s.grants[user]...)
	s.mu.Unlock()
	items := make([]map[string]any, 0, len(grants))
	for _, g := range grants {
		items = append(items, map[string]any{
			"kind": "admin#directory#token", "etag": `"` + randomHex(8) + `"`,
			"clientId": g.ClientID, "displayText": g.DisplayText, "scopes": append([]string{}, g.Scopes...),
			"userKey": "1" + randomDigits(20), "anonymous": false, "nativeApp": false,
		})
	}
	writeJSON(w, http.StatusOK, map[string]any{"kind": "admin#directory#tokenList", "etag": `"` + randomHex(8) + `"`, "items": items})
}

// deleteToken is tokens.delete: 204, or 404 for a client the user has
// granted nothing.
func (s *Server) deleteToken(w http.ResponseWriter, r *http.Request, user string) {
	id := r.PathValue("clientId")
	s.mu.Lock()
	before := len(s.grants[user])
	s.grants[user] = slices.DeleteFunc(s.grants[user], func(g Grant) bool { return g.ClientID == id })
	deleted := len(s.grants[user]) < before
	s.mu.Unlock()
	if !deleted {
		apiError(w, http.StatusNotFound, "Resource Not Found: clientId", "notFound", "global")
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// clip bounds a value echoed in an error.
func clip(s string) string {
	if len(s) > 64 {
		return s[:64]
	}
	return s
}
