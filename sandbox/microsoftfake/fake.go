// Package microsoftfake is a fake of the two Microsoft services ulc's
// kind "microsoft" connector calls, on loopback: the Entra ID token
// endpoint (OAuth 2.0 client credentials, with a client secret or a
// certificate assertion) and the part of Microsoft Graph v1.0 that signs a
// user out (users/{id}/revokeSignInSessions) and reads the result back
// (users/{id}?$select=signInSessionsValidFromDateTime).
//
// It follows Microsoft's published wire format: the paths and methods of
// Graph v1.0, its OData error envelope
// {"error":{"code","message","innerError":{"date","request-id","client-request-id"}}},
// the request-id header, and the token endpoint's form-encoded requests and
// its {"error","error_description":"AADSTSnnn: ...","error_codes":[n],...}
// refusals. It checks the credential as Entra ID does: the client id and
// secret, or the client assertion's signature against the certificate it
// generated, its x5t#S256 (or x5t) thumbprint, aud, iss, sub, nbf, exp and
// jti (a jti is accepted once). Graph calls need a Bearer token it issued
// that has not expired.
package microsoftfake

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"ulc/sandbox/internal/tomlstr"
)

// GraphScope is the only scope the fake issues tokens for, as a daemon
// calling Microsoft Graph asks for it.
const GraphScope = "https://graph.microsoft.com/.default"

// Options shape a fake tenant.
type Options struct {
	// Users are the email addresses (userPrincipalNames) the tenant knows.
	Users []string
	// Throttle makes the first Throttle sign-out calls answer 429
	// TooManyRequests with Retry-After: 1, as Graph throttles.
	Throttle int
	// MissingPermission means the app registration has not been granted
	// the application permission User.RevokeSessions.All: sign-out calls
	// answer 403 Authorization_RequestDenied, as Graph does.
	MissingPermission bool
	// NoReadPermission means the app has not been granted User.Read.All:
	// the read-back of signInSessionsValidFromDateTime answers 403
	// Authorization_RequestDenied.
	NoReadPermission bool
	// Certificate registers a certificate with the app (the fake makes an
	// RSA key and a self-signed certificate) and makes TargetTOML write
	// client_cert_file and client_key_file instead of client_secret_file.
	Certificate bool
	// SecretExpired makes the client secret expired: token requests with
	// it answer 401 invalid_client AADSTS7000222.
	SecretExpired bool
	// Tenant is the tenant's domain; "contoso.onmicrosoft.com" when empty.
	Tenant string
	// TokenLifetime is the lifetime of the access tokens it issues (3599
	// seconds, Entra's usual expires_in, when zero).
	TokenLifetime time.Duration
}

// Server is a running fake tenant.
type Server struct {
	o        Options
	tenant   string
	tenantID string
	clientID string
	secret   string
	key      *rsa.PrivateKey
	certDER  []byte
	ln       net.Listener
	srv      *http.Server
	url      string

	mu        sync.Mutex
	users     map[string]*user // by lower-case UPN and by id
	tokens    map[string]time.Time
	jtis      map[string]bool
	throttled int
	issued    int
	tokenReqs int
	revokes   int
	lagging   bool
}

type user struct {
	id        string
	upn       string
	validFrom time.Time
	// readBack is validFrom before the last sign-out: what a lagging
	// tenant still reads back.
	readBack  time.Time
	signedOut int
}

// Start starts a fake tenant on 127.0.0.1 with a free port.
func Start(o Options) (*Server, error) {
	s := &Server{
		o: o, tenant: o.Tenant, tenantID: guid(), clientID: guid(), secret: secret(),
		users: map[string]*user{}, tokens: map[string]time.Time{}, jtis: map[string]bool{},
	}
	if s.tenant == "" {
		s.tenant = "contoso.onmicrosoft.com"
	}
	if s.o.TokenLifetime <= 0 {
		s.o.TokenLifetime = 3599 * time.Second
	}
	past := time.Now().UTC().Add(-30 * 24 * time.Hour).Truncate(time.Second)
	for _, e := range o.Users {
		u := &user{id: guid(), upn: e, validFrom: past}
		s.users[strings.ToLower(e)] = u
		s.users[u.id] = u
	}
	if o.Certificate {
		if err := s.makeCertificate(); err != nil {
			return nil, err
		}
	}
	ln, err := (&net.ListenConfig{}).Listen(context.Background(), "tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("microsoftfake: %w", err)
	}
	s.ln = ln
	s.url = "http://" + ln.Addr().String()
	mux := http.NewServeMux()
	mux.HandleFunc("/{tenant}/oauth2/v2.0/token", s.token)
	mux.HandleFunc("/v1.0/users/{id}/revokeSignInSessions", s.revoke)
	mux.HandleFunc("/v1.0/users/{id}/microsoft.graph.revokeSignInSessions", s.revoke)
	mux.HandleFunc("/v1.0/users/{id}", s.getUser)
	mux.HandleFunc("/", s.noRoute)
	s.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = s.srv.Serve(ln) }()
	return s, nil
}

func (s *Server) makeCertificate() error {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return fmt.Errorf("microsoftfake: generating the certificate's key: %w", err)
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(now.UnixNano()),
		Subject:      pkix.Name{CommonName: "ulc sandbox app"},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(365 * 24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return fmt.Errorf("microsoftfake: making the certificate: %w", err)
	}
	s.key, s.certDER = key, der
	return nil
}

// URL is the Graph root, such as http://127.0.0.1:PORT/ (with the trailing
// slash, like https://graph.microsoft.com/).
func (s *Server) URL() string { return s.url + "/" }

// TokenURL is the tenant's token endpoint, with the tenant filled in.
func (s *Server) TokenURL() string {
	return s.url + "/" + url.PathEscape(s.tenant) + "/oauth2/v2.0/token"
}

// Tenant is the tenant's domain.
func (s *Server) Tenant() string { return s.tenant }

// ClientID is the application (client) id of the app registration.
func (s *Server) ClientID() string { return s.clientID }

// Secret is the app's client secret, for tests that look for it in output.
func (s *Server) Secret() string { return s.secret }

// Close stops the server.
func (s *Server) Close() error { return s.srv.Close() }

// TargetTOML writes the credential the target needs into dir (the client
// secret, or the certificate and its private key with
// Options.Certificate), each file mode 0600, and returns the complete
// [[target]] block of kind "microsoft" named name that uses them.
func (s *Server) TargetTOML(name, dir string) (string, error) {
	var cred string
	if s.o.Certificate {
		certPath := filepath.Join(dir, name+"-client-cert.pem")
		keyPath := filepath.Join(dir, name+"-client-key.pem")
		keyDER, err := x509.MarshalPKCS8PrivateKey(s.key)
		if err != nil {
			return "", fmt.Errorf("microsoftfake: %w", err)
		}
		if err := writeFile(certPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: s.certDER})); err != nil {
			return "", err
		}
		if err := writeFile(keyPath, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})); err != nil {
			return "", err
		}
		cred = fmt.Sprintf("client_cert_file = %s\nclient_key_file = %s\n", tomlstr.Quote(certPath), tomlstr.Quote(keyPath))
	} else {
		p := filepath.Join(dir, name+"-client-secret")
		if err := writeFile(p, []byte(s.secret+"\n")); err != nil {
			return "", err
		}
		cred = fmt.Sprintf("client_secret_file = %s\n", tomlstr.Quote(p))
	}
	return fmt.Sprintf("[[target]]\nname = %s\nkind = \"microsoft\"\ntenant = %s\nclient_id = %s\n%stoken_url = %s\nurl = %s\n",
		tomlstr.Quote(name), tomlstr.Quote(s.tenant), tomlstr.Quote(s.clientID), cred,
		tomlstr.Quote(s.url+"/{tenant}/oauth2/v2.0/token"), tomlstr.Quote(s.URL())), nil
}

// SignedOut is how many times the user's sign-in sessions were revoked.
func (s *Server) SignedOut(email string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if u := s.users[strings.ToLower(email)]; u != nil {
		return u.signedOut
	}
	return 0
}

// Lag makes the read-back lag behind the sign-out, or catch up: while on,
// GET /v1.0/users/{id} answers the signInSessionsValidFromDateTime of
// before each user's last sign-out, as Entra ID can for a while after
// accepting one. Tests of the read-back's verdict turn it on.
func (s *Server) Lag(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lagging = on
}

// ValidFrom is the user's signInSessionsValidFromDateTime; zero for a user
// the tenant does not know.
func (s *Server) ValidFrom(email string) time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	if u := s.users[strings.ToLower(email)]; u != nil {
		return u.validFrom
	}
	return time.Time{}
}

// TokenRequests is how many requests reached the token endpoint, and
// TokensIssued how many of them got an access token.
func (s *Server) TokenRequests() (requests, issued int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.tokenReqs, s.issued
}

// RevokeCalls is how many sign-out calls reached Graph, whatever they were
// answered.
func (s *Server) RevokeCalls() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.revokes
}

func writeFile(path string, data []byte) error {
	if err := os.WriteFile(path, data, 0o600); err != nil {
		return fmt.Errorf("microsoftfake: %w", err)
	}
	// WriteFile keeps the mode of a file that exists already.
	if err := os.Chmod(path, 0o600); err != nil {
		return fmt.Errorf("microsoftfake: %w", err)
	}
	return nil
}

func guid() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b)
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// secret returns a client secret shaped like Entra's (40 characters).
func secret() string {
	b := make([]byte, 30)
	_, _ = rand.Read(b)
	return strings.NewReplacer("+", "~", "/", ".").Replace(base64.StdEncoding.EncodeToString(b))
}

// thumbprints are the base64url SHA-256 and SHA-1 of the certificate.
func (s *Server) thumbprints() (s256, s1 string) {
	a := sha256.Sum256(s.certDER)
	b := sha1.Sum(s.certDER)
	return base64.RawURLEncoding.EncodeToString(a[:]), base64.RawURLEncoding.EncodeToString(b[:])
}

// errNoUser is returned by lookup for an id the tenant does not know.
var errNoUser = errors.New("no such user")

func (s *Server) lookup(id string) (*user, error) {
	if u := s.users[strings.ToLower(id)]; u != nil {
		return u, nil
	}
	return nil, errNoUser
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
