package microsoftfake

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"time"

	jose "github.com/go-jose/go-jose/v3"
	"github.com/go-jose/go-jose/v3/jwt"
)

// ClientAssertionType is the only client_assertion_type Entra ID accepts.
const ClientAssertionType = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

// tokenError is the token endpoint's refusal, as Entra ID words it: an
// OAuth error code, an AADSTS description, and the numeric codes.
type tokenError struct {
	Error         string `json:"error"`
	Description   string `json:"error_description"`
	Codes         []int  `json:"error_codes"`
	Timestamp     string `json:"timestamp"`
	TraceID       string `json:"trace_id"`
	CorrelationID string `json:"correlation_id"`
	URI           string `json:"error_uri"`
}

// refuse answers a token request with Entra's error body. The AADSTS codes
// are Microsoft's published ones (learn.microsoft.com/entra/identity-platform/reference-error-codes).
func refuse(w http.ResponseWriter, status int, oauthErr string, code int, format string, args ...any) {
	now := time.Now().UTC()
	trace, corr := guid(), guid()
	desc := fmt.Sprintf("AADSTS%d: %s Trace ID: %s Correlation ID: %s Timestamp: %s",
		code, fmt.Sprintf(format, args...), trace, corr, now.Format("2006-01-02 15:04:05Z"))
	writeJSON(w, status, tokenError{
		Error: oauthErr, Description: desc, Codes: []int{code}, Timestamp: now.Format("2006-01-02 15:04:05Z"),
		TraceID: trace, CorrelationID: corr, URI: fmt.Sprintf("https://login.microsoftonline.com/error?code=%d", code),
	})
}

// token is POST /{tenant}/oauth2/v2.0/token: the client credentials grant.
func (s *Server) token(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.tokenReqs++
	s.mu.Unlock()
	w.Header().Set("Cache-Control", "no-store, no-cache")
	if r.Method != http.MethodPost {
		refuse(w, http.StatusMethodNotAllowed, "invalid_request", 900561, "The endpoint only accepts POST requests. Received a %s request.", r.Method)
		return
	}
	tenant := r.PathValue("tenant")
	if !strings.EqualFold(tenant, s.tenant) && !strings.EqualFold(tenant, s.tenantID) {
		refuse(w, http.StatusBadRequest, "invalid_request", 90002, "Tenant '%s' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud.", tenant)
		return
	}
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/x-www-form-urlencoded" {
		refuse(w, http.StatusBadRequest, "invalid_request", 900144, "The request body must contain the following parameter: 'grant_type'.")
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	if err := r.ParseForm(); err != nil {
		refuse(w, http.StatusBadRequest, "invalid_request", 900144, "The request body must contain the following parameter: 'grant_type'.")
		return
	}
	f := r.PostForm
	for _, p := range []string{"grant_type", "client_id", "scope"} {
		if f.Get(p) == "" {
			refuse(w, http.StatusBadRequest, "invalid_request", 900144, "The request body must contain the following parameter: '%s'.", p)
			return
		}
	}
	if g := f.Get("grant_type"); g != "client_credentials" {
		refuse(w, http.StatusBadRequest, "unsupported_grant_type", 70003, "The app requested an unsupported grant type '%s'.", g)
		return
	}
	if id := f.Get("client_id"); id != s.clientID {
		refuse(w, http.StatusBadRequest, "unauthorized_client", 700016, "Application with identifier '%s' was not found in the directory '%s'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You may have sent your authentication request to the wrong tenant.", id, s.tenant)
		return
	}
	if sc := f.Get("scope"); sc != GraphScope {
		refuse(w, http.StatusBadRequest, "invalid_scope", 1002012, "The provided value for scope %s is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI).", sc)
		return
	}
	secret, assertion := f.Get("client_secret"), f.Get("client_assertion")
	switch {
	case secret != "" && assertion != "":
		refuse(w, http.StatusBadRequest, "invalid_request", 50027, "Only one client credential may be sent: client_secret or client_assertion.")
		return
	case secret != "":
		if !s.checkSecret(w, secret) {
			return
		}
	case assertion != "":
		if !s.checkAssertion(w, f, s.url+r.URL.EscapedPath()) {
			return
		}
	default:
		// HTTP Basic is not how this app authenticates: the secret or the
		// assertion goes in the form.
		refuse(w, http.StatusUnauthorized, "invalid_client", 7000218, "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.")
		return
	}
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	tok := "eyJ0eXAiOiJKV1QifQ.fake." + base64.RawURLEncoding.EncodeToString(b)
	s.mu.Lock()
	s.tokens[tok] = time.Now().Add(s.o.TokenLifetime)
	s.issued++
	s.mu.Unlock()
	secs := int(s.o.TokenLifetime / time.Second)
	writeJSON(w, http.StatusOK, map[string]any{
		"token_type": "Bearer", "expires_in": secs, "ext_expires_in": secs, "access_token": tok,
	})
}

func (s *Server) checkSecret(w http.ResponseWriter, secret string) bool {
	switch {
	case secret != s.secret:
		refuse(w, http.StatusUnauthorized, "invalid_client", 7000215, "Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '%s'.", s.clientID)
		return false
	case s.o.SecretExpired:
		refuse(w, http.StatusUnauthorized, "invalid_client", 7000222, "The provided client secret keys for app '%s' are expired. Visit the Azure portal to create new keys for your app.", s.clientID)
		return false
	}
	return true
}

// assertionClaims are the claims Entra ID reads from a client assertion.
type assertionClaims struct {
	jwt.Claims
}

// checkAssertion checks a client assertion sent to the token endpoint at
// aud (its own URL).
func (s *Server) checkAssertion(w http.ResponseWriter, f url.Values, aud string) bool {
	bad := func(code int, format string, args ...any) bool {
		refuse(w, http.StatusUnauthorized, "invalid_client", code, format, args...)
		return false
	}
	if typ := f.Get("client_assertion_type"); typ != ClientAssertionType {
		refuse(w, http.StatusBadRequest, "invalid_request", 50027, "client_assertion_type must be %s.", ClientAssertionType)
		return false
	}
	if s.key == nil {
		return bad(700027, "Client assertion failed signature validation: no certificate is registered on application '%s'.", s.clientID)
	}
	tok, err := jwt.ParseSigned(f.Get("client_assertion"))
	if err != nil || len(tok.Headers) != 1 {
		return bad(50027, "JWT token is invalid or malformed.")
	}
	h := tok.Headers[0]
	if h.Algorithm != string(jose.PS256) && h.Algorithm != string(jose.RS256) {
		return bad(5002738, "Invalid JWT token. '%s' is not a supported signature algorithm. Supported signing algorithms are: 'RS256,PS256'.", h.Algorithm)
	}
	s256, s1 := s.thumbprints()
	x5tS256, _ := h.ExtraHeaders["x5t#S256"].(string)
	x5t, _ := h.ExtraHeaders["x5t"].(string)
	switch {
	case x5tS256 == "" && x5t == "":
		return bad(50027, "JWT token is invalid or malformed: the header names no certificate (x5t#S256 or x5t).")
	case x5tS256 != "" && x5tS256 != s256, x5tS256 == "" && x5t != s1:
		return bad(700027, "The certificate with identifier used to sign the client assertion is not registered on application. [Reason - The key was not found.] Please visit the Azure Portal, Graph Explorer or directly use MS Graph to see configured keys for app Id '%s'.", s.clientID)
	}
	var c assertionClaims
	if err := tok.Claims(&s.key.PublicKey, &c); err != nil {
		return bad(700027, "Client assertion failed signature validation.")
	}
	id := f.Get("client_id")
	if c.Issuer != id || c.Subject != id {
		return bad(700021, "Client assertion application identifier doesn't match 'client_id' parameter.")
	}
	if !c.Audience.Contains(aud) {
		return bad(700212, "No matching federated identity record found for presented assertion audience '%s'.", strings.Join(c.Audience, " "))
	}
	if c.Expiry == nil || c.ID == "" {
		return bad(50027, "JWT token is invalid or malformed: exp and jti are required.")
	}
	if err := c.ValidateWithLeeway(jwt.Expected{Time: time.Now()}, time.Minute); err != nil {
		return bad(700024, "Client assertion is not within its valid time range.")
	}
	s.mu.Lock()
	seen := s.jtis[c.ID]
	s.jtis[c.ID] = true
	s.mu.Unlock()
	if seen {
		return bad(50027, "JWT token is invalid: the client assertion's jti %q was already used: a client assertion is accepted once.", c.ID)
	}
	return true
}
