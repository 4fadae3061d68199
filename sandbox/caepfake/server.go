// Package caepfake is a CAEP receiver on loopback: it takes Security Event
// Tokens pushed per RFC 8935 at Okta's receiver path
// (POST /security/api/v1/security-events), checks them as Okta's Identity
// Threat Protection receiver does — a compact JWS with typ secevent+jwt,
// RS256 with a kid it trusts, the issuer and audience it was set up with,
// one session-revoked event carrying event_timestamp and the event-level
// subject beside the top-level sub_id — and answers 202 Accepted or the
// RFC 8935 400 error {"err", "description"}.
//
// It is the receiver ulc demo and the tests push to. It trusts the public
// half of a key it makes at Start; TargetTOML writes the private half for
// ulc to sign with.
package caepfake

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/subtle"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	jose "github.com/go-jose/go-jose/v3"

	"ulc/sandbox/internal/tomlstr"
)

// Path is where the receiver takes pushed SETs: Okta's
// publishSecurityEventTokens endpoint.
const Path = "/security/api/v1/security-events"

// SessionRevoked is the CAEP session-revoked event type.
const SessionRevoked = "https://schemas.openid.net/secevent/caep/event-type/session-revoked"

// The defaults of Options.
const (
	// DefaultIssuer is the transmitter issuer the receiver knows ulc by.
	DefaultIssuer = "https://ulc.sandbox.test"
	// DefaultKeyID is the kid of the key the receiver trusts.
	DefaultKeyID = "ulc-caep-sandbox"
)

// maxSET bounds a pushed body: a SET is a few kilobytes.
const maxSET = 64 << 10

// maxSkew is how far in the future an iat may be.
const maxSkew = 5 * time.Minute

// Options configure a receiver.
type Options struct {
	// Users are the emails the tenant knows; a session-revoked event for
	// anyone else is accepted (202, as a receiver does: it processes
	// events after answering) and ends nobody's sessions.
	Users []string
	// Throttle makes the first N pushes answer 429 with Retry-After: 1.
	Throttle int
	// MissingPermission makes the receiver refuse every valid SET with 400
	// access_denied: the transmitter is known but not allowed to send.
	MissingPermission bool
	// Token, when set, is the bearer token every push must carry (the
	// stream's authorization_header); TargetTOML writes it to a token
	// file. Okta's receiver takes none.
	Token string
	// Issuer is the transmitter's iss the receiver accepts
	// (DefaultIssuer when empty).
	Issuer string
	// KeyID is the kid of the key the receiver trusts (DefaultKeyID when
	// empty).
	KeyID string
	// Audience is the aud the receiver accepts (its own origin, URL(),
	// when empty): the address ulc pushes to when the receiver sits
	// behind a proxy, as Okta's org URL does behind a custom domain.
	Audience string
}

// Push is one SET the receiver accepted.
type Push struct {
	// JTI, Issuer, Audience and Txn are the SET's claims.
	JTI, Issuer, Audience, Txn string
	// Email is the subject's email.
	Email string
	// InitiatingEntity and Reason are the event's initiating_entity and
	// reason_admin.en.
	InitiatingEntity, Reason string
	// KeyID is the kid the SET was signed with.
	KeyID string
}

// Refusal is one push the receiver refused, with the answer it gave.
type Refusal struct {
	// Status is the HTTP status; Err and Description the RFC 8935 body
	// (empty for a 429).
	Status           int
	Err, Description string
}

// Server is a running receiver.
type Server struct {
	opts  Options
	srv   *http.Server
	ln    net.Listener
	url   string
	key   *rsa.PrivateKey
	users map[string]bool

	mu        sync.Mutex
	trusted   map[string]*rsa.PublicKey // kid → key
	throttle  int
	calls     int
	seen      map[string]bool // jti
	signedOut map[string]int
	pushes    []Push
	refusals  []Refusal
	auths     []string
}

// Start starts a receiver on 127.0.0.1 on a free port.
func Start(o Options) (*Server, error) {
	if o.Issuer == "" {
		o.Issuer = DefaultIssuer
	}
	if o.KeyID == "" {
		o.KeyID = DefaultKeyID
	}
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, fmt.Errorf("caepfake: making the signing key: %w", err)
	}
	ln, err := (&net.ListenConfig{}).Listen(context.Background(), "tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("caepfake: %w", err)
	}
	s := &Server{
		opts: o, ln: ln, url: "http://" + ln.Addr().String(), key: key,
		users:   map[string]bool{},
		trusted: map[string]*rsa.PublicKey{o.KeyID: &key.PublicKey},
		seen:    map[string]bool{}, signedOut: map[string]int{}, throttle: o.Throttle,
	}
	for _, u := range o.Users {
		s.users[strings.ToLower(u)] = true
	}
	mux := http.NewServeMux()
	mux.HandleFunc(Path, s.push)
	s.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = s.srv.Serve(ln) }()
	return s, nil
}

// URL is the receiver's origin, http://127.0.0.1:PORT: the aud of the SETs
// it accepts unless Options.Audience names another. Pushes go to URL() +
// Path.
func (s *Server) URL() string { return s.url }

// Endpoint is the push endpoint, URL() + Path.
func (s *Server) Endpoint() string { return s.url + Path }

// Close stops the receiver.
func (s *Server) Close() error {
	err := s.srv.Close()
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

// Issuer is the transmitter issuer the receiver accepts.
func (s *Server) Issuer() string { return s.opts.Issuer }

// KeyID is the kid of the key made at Start.
func (s *Server) KeyID() string { return s.opts.KeyID }

// PrivateKeyPEM is the PKCS #8 PEM of the key made at Start, whose public
// half the receiver trusts. It is a secret of the sandbox only.
func (s *Server) PrivateKeyPEM() []byte {
	der, err := x509.MarshalPKCS8PrivateKey(s.key)
	if err != nil {
		panic(err) // an RSA key always marshals
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
}

// Trust makes the receiver trust every RSA key of jwks (an RFC 7517 JWK
// Set, as a transmitter publishes at its jwks_uri), by kid, beside the key
// made at Start. A key without kid, or not RSA, is refused.
func (s *Server) Trust(jwks []byte) error {
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(jwks, &set); err != nil {
		return fmt.Errorf("caepfake: not a JWK Set: %w", err)
	}
	if len(set.Keys) == 0 {
		return errors.New("caepfake: the JWK Set has no key")
	}
	add := map[string]*rsa.PublicKey{}
	for _, k := range set.Keys {
		pub, ok := k.Key.(*rsa.PublicKey)
		if !ok || k.KeyID == "" || !k.IsPublic() {
			return errors.New("caepfake: every key must be a public RSA key with a kid")
		}
		add[k.KeyID] = pub
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for kid, pub := range add {
		s.trusted[kid] = pub
	}
	return nil
}

// TargetTOML writes the credential files of a kind "caep" target that
// pushes to this receiver into dir (mode 0600): the signing key and, when
// the receiver wants a token, the token. It returns the target's complete
// [[target]] block.
func (s *Server) TargetTOML(name, dir string) (string, error) {
	base := filepath.Join(dir, safeName(name))
	keyPath := base + "-caep.pem"
	if err := os.WriteFile(keyPath, s.PrivateKeyPEM(), 0o600); err != nil {
		return "", fmt.Errorf("caepfake: writing the key: %w", err)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "[[target]]\nname = %s\nkind = \"caep\"\nurl = %s\n", tomlstr.Quote(name), tomlstr.Quote(s.Endpoint()))
	fmt.Fprintf(&b, "jwt_key_file = %s\njwt_iss = %s\njwt_key_id = %s\n",
		tomlstr.Quote(keyPath), tomlstr.Quote(s.opts.Issuer), tomlstr.Quote(s.opts.KeyID))
	if s.opts.Token != "" {
		tokPath := base + "-caep-token"
		if err := os.WriteFile(tokPath, []byte(s.opts.Token+"\n"), 0o600); err != nil {
			return "", fmt.Errorf("caepfake: writing the token: %w", err)
		}
		fmt.Fprintf(&b, "token_file = %s\n", tomlstr.Quote(tokPath))
	}
	return b.String(), nil
}

// SignedOut is how many times the user's sessions were ended: accepted
// session-revoked events for an email the tenant knows.
func (s *Server) SignedOut(email string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.signedOut[strings.ToLower(email)]
}

// Pushes returns the SETs accepted so far, in order.
func (s *Server) Pushes() []Push {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Push(nil), s.pushes...)
}

// Refusals returns the pushes refused so far, in order.
func (s *Server) Refusals() []Refusal {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Refusal(nil), s.refusals...)
}

// Calls is the number of requests to the push endpoint so far.
func (s *Server) Calls() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls
}

// Authorizations returns the Authorization header of every request so far
// ("" for none), in order.
func (s *Server) Authorizations() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.auths...)
}

// safeName keeps a target name usable as a file name.
func safeName(name string) string {
	out := []rune{}
	for _, r := range name {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_':
			out = append(out, r)
		default:
			out = append(out, '_')
		}
	}
	if len(out) == 0 {
		return "target"
	}
	return string(out)
}

// The RFC 8935 §2.4 error codes (IANA "Security Event Token Error Codes").
const (
	errInvalidRequest = "invalid_request"
	errInvalidKey     = "invalid_key"
	errInvalidIssuer  = "invalid_issuer"
	errInvalidAud     = "invalid_audience"
	errAuthFailed     = "authentication_failed"
	errAccessDenied   = "access_denied"
)

// setError is a refusal with its RFC 8935 code.
type setError struct{ code, desc string }

func (e *setError) Error() string { return e.code + ": " + e.desc }

func refuse(code, format string, a ...any) *setError {
	return &setError{code: code, desc: fmt.Sprintf(format, a...)}
}

// push is the handler of Path.
func (s *Server) push(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.calls++
	s.auths = append(s.auths, r.Header.Get("Authorization"))
	throttled := s.throttle > 0
	if throttled {
		s.throttle--
	}
	s.mu.Unlock()
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	if throttled {
		s.record(Refusal{Status: http.StatusTooManyRequests})
		w.Header().Set("Retry-After", "1")
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusTooManyRequests)
		_, _ = io.WriteString(w, `{"errorCode":"E0000047","errorSummary":"API call exceeded rate limit due to too many requests."}`)
		return
	}
	p, serr := s.check(r)
	if serr == nil && s.opts.MissingPermission {
		serr = refuse(errAccessDenied, "the security events provider for issuer %s may not send session-revoked events", p.Issuer)
	}
	if serr != nil {
		s.record(Refusal{Status: http.StatusBadRequest, Err: serr.code, Description: serr.desc})
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		_ = json.NewEncoder(w).Encode(map[string]string{"err": serr.code, "description": serr.desc})
		return
	}
	s.mu.Lock()
	s.pushes = append(s.pushes, p)
	if s.users[strings.ToLower(p.Email)] {
		s.signedOut[strings.ToLower(p.Email)]++
	}
	s.mu.Unlock()
	w.WriteHeader(http.StatusAccepted)
}

func (s *Server) record(f Refusal) {
	s.mu.Lock()
	s.refusals = append(s.refusals, f)
	s.mu.Unlock()
}

// subjectID is an SSF subject identifier of format email.
type subjectID struct {
	Format string `json:"format"`
	Email  string `json:"email"`
}

// setClaims are the claims the receiver reads.
type setClaims struct {
	Iss    string                     `json:"iss"`
	Jti    string                     `json:"jti"`
	Iat    *json.Number               `json:"iat"`
	Aud    json.RawMessage            `json:"aud"`
	Txn    string                     `json:"txn"`
	Sub    *string                    `json:"sub"`
	Exp    *json.Number               `json:"exp"`
	SubID  *subjectID                 `json:"sub_id"`
	Events map[string]json.RawMessage `json:"events"`
}

// revokedEvent is the session-revoked event as Okta's receiver reads it.
type revokedEvent struct {
	Subject *struct {
		User *subjectID `json:"user"`
	} `json:"subject"`
	EventTimestamp   *json.Number      `json:"event_timestamp"`
	InitiatingEntity string            `json:"initiating_entity"`
	ReasonAdmin      map[string]string `json:"reason_admin"`
	ReasonUser       map[string]string `json:"reason_user"`
}

// check reads and verifies one pushed SET.
func (s *Server) check(r *http.Request) (Push, *setError) {
	var p Push
	if s.opts.Token != "" && subtle.ConstantTimeCompare([]byte(r.Header.Get("Authorization")), []byte("Bearer "+s.opts.Token)) != 1 {
		return p, refuse(errAuthFailed, "the push does not carry the stream's authorization header")
	}
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/secevent+jwt" {
		return p, refuse(errInvalidRequest, "Content-Type must be application/secevent+jwt")
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxSET+1))
	if err != nil || len(body) > maxSET {
		return p, refuse(errInvalidRequest, "the body is not a security event token")
	}
	token := strings.TrimSpace(string(body))
	if strings.Count(token, ".") != 2 || strings.HasPrefix(token, "{") {
		return p, refuse(errInvalidRequest, "the body is not a compact JWS")
	}
	jws, err := jose.ParseSigned(token)
	if err != nil || len(jws.Signatures) != 1 {
		return p, refuse(errInvalidRequest, "the body is not a compact JWS")
	}
	h := jws.Signatures[0].Protected
	if typ, _ := h.ExtraHeaders[jose.HeaderType].(string); typ != "secevent+jwt" {
		return p, refuse(errInvalidRequest, "the JWT header typ must be secevent+jwt")
	}
	if h.Algorithm != string(jose.RS256) {
		return p, refuse(errInvalidKey, "the SET must be signed with RS256, not %q", h.Algorithm)
	}
	if h.KeyID == "" {
		return p, refuse(errInvalidKey, "the JWT header has no kid")
	}
	s.mu.Lock()
	pub := s.trusted[h.KeyID]
	s.mu.Unlock()
	if pub == nil {
		return p, refuse(errInvalidKey, "no key with kid %q is registered for any provider", h.KeyID)
	}
	payload, err := jws.Verify(pub)
	if err != nil {
		return p, refuse(errInvalidKey, "the signature does not verify with the key of kid %q", h.KeyID)
	}
	p.KeyID = h.KeyID
	var c setClaims
	dec := json.NewDecoder(strings.NewReader(string(payload)))
	dec.UseNumber()
	if err := dec.Decode(&c); err != nil {
		return p, refuse(errInvalidRequest, "the SET claims are not JSON of the expected types")
	}
	if c.Iss != s.opts.Issuer {
		return p, refuse(errInvalidIssuer, "no security events provider has issuer %q", c.Iss)
	}
	aud := s.opts.Audience
	if aud == "" {
		aud = s.url
	}
	if !audienceHas(c.Aud, aud) {
		return p, refuse(errInvalidAud, "aud must be %s", aud)
	}
	if c.Jti == "" || c.Iat == nil {
		return p, refuse(errInvalidRequest, "the SET lacks jti or iat")
	}
	iat, err := c.Iat.Int64()
	if err != nil || time.Unix(iat, 0).After(time.Now().Add(maxSkew)) {
		return p, refuse(errInvalidRequest, "iat is not a NumericDate in the past")
	}
	if c.Sub != nil || c.Exp != nil {
		return p, refuse(errInvalidRequest, "a SET carries no sub and no exp")
	}
	if c.SubID == nil || c.SubID.Format != "email" || !strings.Contains(c.SubID.Email, "@") {
		return p, refuse(errInvalidRequest, "sub_id must be a subject identifier of format email")
	}
	if len(c.Events) != 1 || c.Events[SessionRevoked] == nil {
		return p, refuse(errInvalidRequest, "the SET must carry exactly one event, %s", SessionRevoked)
	}
	var ev revokedEvent
	edec := json.NewDecoder(strings.NewReader(string(c.Events[SessionRevoked])))
	edec.UseNumber()
	if err := edec.Decode(&ev); err != nil {
		return p, refuse(errInvalidRequest, "the session-revoked event is not JSON of the expected types")
	}
	if ev.Subject == nil || ev.Subject.User == nil || ev.Subject.User.Format != "email" || ev.Subject.User.Email == "" {
		return p, refuse(errInvalidRequest, "Failed claim validation in security event token. 'events.sessionRevoked.subject': The field cannot be left blank")
	}
	if !strings.EqualFold(ev.Subject.User.Email, c.SubID.Email) {
		return p, refuse(errInvalidRequest, "the event subject and sub_id name different users")
	}
	if ev.EventTimestamp == nil {
		return p, refuse(errInvalidRequest, "Failed claim validation in security event token. 'events.sessionRevoked.eventTimestamp': The field cannot be left blank")
	}
	if _, err := ev.EventTimestamp.Int64(); err != nil {
		return p, refuse(errInvalidRequest, "event_timestamp must be a NumericDate")
	}
	if ev.ReasonAdmin["en"] == "" && ev.ReasonUser["en"] == "" {
		return p, refuse(errInvalidRequest, "Failed claim validation in security event token. 'events.sessionRevoked.reasonAdmin': Either reasonAdmin or reasonUser is required")
	}
	switch ev.InitiatingEntity {
	case "", "admin", "user", "policy", "system":
	default:
		return p, refuse(errInvalidRequest, "initiating_entity must be admin, user, policy or system")
	}
	s.mu.Lock()
	replay := s.seen[c.Jti]
	s.seen[c.Jti] = true
	s.mu.Unlock()
	if replay {
		return p, refuse(errInvalidRequest, "jti %s was already received", strconv.Quote(c.Jti))
	}
	p.JTI, p.Issuer, p.Audience, p.Txn = c.Jti, c.Iss, aud, c.Txn
	p.Email, p.InitiatingEntity, p.Reason = ev.Subject.User.Email, ev.InitiatingEntity, ev.ReasonAdmin["en"]
	return p, nil
}

// audienceHas reports whether aud, a string or an array of strings, holds
// want (with or without a trailing slash, as Okta's examples write it).
func audienceHas(aud json.RawMessage, want string) bool {
	var one string
	if json.Unmarshal(aud, &one) == nil {
		return strings.TrimSuffix(one, "/") == want
	}
	var many []string
	if json.Unmarshal(aud, &many) == nil {
		for _, a := range many {
			if strings.TrimSuffix(a, "/") == want {
				return true
			}
		}
	}
	return false
}
