// Package googlefake is a Google Workspace on loopback for ulc's sandbox,
// demo and tests: the OAuth 2.0 token endpoint of a service account
// (the JWT-bearer grant of RFC 7523, with domain-wide delegation) and the
// Admin SDK Directory API calls ulc makes (users.signOut, tokens.list,
// tokens.delete), with Google's paths, methods and error envelopes.
//
// The fake checks credentials as Google does: the assertion's RS256
// signature against the service account's public key (the fake makes the
// key pair and writes the service account's JSON key, whose token_uri
// points at the fake), its kid, iss, aud, scope, iat, exp and sub; then
// the Bearer access token, its scopes and whether its subject is an admin,
// on every API call.
package googlefake

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"ulc/sandbox/internal/tomlstr"
)

// Scope is the OAuth scope of users.signOut, tokens.list and tokens.delete.
const Scope = "https://www.googleapis.com/auth/admin.directory.user.security"

// DefaultAdmin is the admin the service account acts for when
// Options.Admin is empty.
const DefaultAdmin = "secops-admin@example.com"

// Grant is a user's grant to a third-party app, as tokens.list shows it.
type Grant struct {
	// ClientID is the app's OAuth client id.
	ClientID string
	// DisplayText is the app's name.
	DisplayText string
	// Scopes are the scopes the user granted it.
	Scopes []string
}

// Options shape the tenant the fake plays.
type Options struct {
	// Users are the email addresses (primary) the tenant knows.
	Users []string
	// Groups are addresses of groups: signing one out answers 400 "Type
	// not supported: userKey", as Google does.
	Groups []string
	// Grants are the grants to third-party apps of each user (by email).
	Grants map[string][]Grant
	// Admin is the admin the service account may act for (domain-wide
	// delegation); DefaultAdmin when empty. Any other known user may be
	// impersonated too, but is not an admin: the API answers 403.
	Admin string
	// Throttle makes the first N users.signOut calls answer 429 with
	// Retry-After: 1.
	Throttle int
	// MissingPermission means the service account's client id is not
	// authorised for Scope in the Admin console (domain-wide delegation):
	// the token endpoint answers 401 unauthorized_client, as Google does.
	MissingPermission bool
	// RevokeOAuthGrants makes TargetTOML write revoke_oauth_grants = true.
	RevokeOAuthGrants bool
}

// Server is a running fake.
type Server struct {
	opts     Options
	srv      *http.Server
	ln       net.Listener
	url      string
	key      *rsa.PrivateKey
	keyID    string
	email    string
	clientID string

	mu        sync.Mutex
	users     map[string]bool // lower-case email → known
	groups    map[string]bool
	grants    map[string][]Grant
	tokens    map[string]issued // access token → what it grants
	signedOut map[string]int
	throttled int
	requests  []Request
}

// issued is an access token the fake handed out.
type issued struct {
	sub     string // the impersonated user, "" for the service account itself
	scopes  []string
	expires time.Time
}

// Request is one request the fake received, without its credentials.
type Request struct {
	// Method and Path are the request's.
	Method, Path string
	// Status is what the fake answered.
	Status int
}

// Start starts a fake on 127.0.0.1 with a fresh service-account key.
func Start(o Options) (*Server, error) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, fmt.Errorf("googlefake: generating the service account's key: %w", err)
	}
	if o.Admin == "" {
		o.Admin = DefaultAdmin
	}
	s := &Server{
		opts: o, key: key, keyID: randomHex(20),
		email:    "ulc-signout@ulc-sandbox.iam.gserviceaccount.com",
		clientID: "1" + randomDigits(20),
		users:    map[string]bool{}, groups: map[string]bool{}, grants: map[string][]Grant{},
		tokens: map[string]issued{}, signedOut: map[string]int{},
	}
	s.users[strings.ToLower(o.Admin)] = true
	for _, u := range o.Users {
		s.users[strings.ToLower(u)] = true
	}
	for _, g := range o.Groups {
		s.groups[strings.ToLower(g)] = true
	}
	for u, gs := range o.Grants {
		s.grants[strings.ToLower(u)] = append([]Grant(nil), gs...)
	}
	ln, err := (&net.ListenConfig{}).Listen(context.Background(), "tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("googlefake: %w", err)
	}
	s.ln = ln
	s.url = "http://" + ln.Addr().String() + "/"
	mux := http.NewServeMux()
	mux.HandleFunc("POST /token", s.serveToken)
	mux.HandleFunc("POST /admin/directory/v1/users/{userKey}/signOut", s.api(s.signOut))
	mux.HandleFunc("GET /admin/directory/v1/users/{userKey}/tokens", s.api(s.listTokens))
	mux.HandleFunc("DELETE /admin/directory/v1/users/{userKey}/tokens/{clientId}", s.api(s.deleteToken))
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		apiError(w, http.StatusNotFound, "Not Found", "notFound", "global")
	})
	s.srv = &http.Server{Handler: s.record(mux), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = s.srv.Serve(ln) }()
	return s, nil
}

// URL is the API root, like https://admin.googleapis.com/, with a
// trailing slash.
func (s *Server) URL() string { return s.url }

// TokenURL is the token endpoint the service account's key names.
func (s *Server) TokenURL() string { return s.url + "token" }

// ClientEmail is the service account's address (its client_email).
func (s *Server) ClientEmail() string { return s.email }

// ClientID is the service account's numeric OAuth client id, the one
// domain-wide delegation is granted to.
func (s *Server) ClientID() string { return s.clientID }

// Admin is the admin the service account may act for.
func (s *Server) Admin() string { return s.opts.Admin }

// Close stops the fake.
func (s *Server) Close() error {
	err := s.srv.Close()
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

// SignedOut reports how many times email's sessions were ended.
func (s *Server) SignedOut(email string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.signedOut[strings.ToLower(email)]
}

// Grants returns email's remaining grants to third-party apps.
func (s *Server) Grants(email string) []Grant {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Grant(nil), s.grants[strings.ToLower(email)]...)
}

// Requests returns every request received so far, in order.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.requests...)
}

// ServiceAccountJSON returns the service account's JSON key, as the
// Google Cloud console downloads it, with token_uri pointing at the fake.
// It holds the private key.
func (s *Server) ServiceAccountJSON() []byte {
	der, err := x509.MarshalPKCS8PrivateKey(s.key)
	if err != nil {
		panic(err) // an RSA key always marshals
	}
	b, _ := json.MarshalIndent(map[string]string{
		"type":                        "service_account",
		"project_id":                  "ulc-sandbox",
		"private_key_id":              s.keyID,
		"private_key":                 string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})),
		"client_email":                s.email,
		"client_id":                   s.clientID,
		"auth_uri":                    "https://accounts.google.com/o/oauth2/auth",
		"token_uri":                   s.TokenURL(),
		"auth_provider_x509_cert_url": "https://www.googleapis.com/oauth2/v1/certs",
		"client_x509_cert_url":        "https://www.googleapis.com/robot/v1/metadata/x509/" + s.email,
		"universe_domain":             "googleapis.com",
	}, "", "  ")
	return append(b, '\n')
}

// TargetTOML writes the service account's JSON key into dir as
// NAME-service-account.json (mode 0600) and returns the [[target]] block
// of a kind "google" target named name that signs users out at the fake.
func (s *Server) TargetTOML(name, dir string) (string, error) {
	path, err := filepath.Abs(filepath.Join(dir, name+"-service-account.json"))
	if err != nil {
		return "", fmt.Errorf("googlefake: %w", err)
	}
	if err := os.WriteFile(path, s.ServiceAccountJSON(), 0o600); err != nil {
		return "", fmt.Errorf("googlefake: writing the service account's key: %w", err)
	}
	if err := os.Chmod(path, 0o600); err != nil { // an existing file keeps its mode otherwise
		return "", fmt.Errorf("googlefake: %w", err)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "[[target]]\nname = %s\nkind = \"google\"\nurl = %s\ncredentials_file = %s\nadmin = %s\n",
		tomlstr.Quote(name), tomlstr.Quote(s.url), tomlstr.Quote(path), tomlstr.Quote(s.opts.Admin))
	if s.opts.RevokeOAuthGrants {
		b.WriteString("revoke_oauth_grants = true\n")
	}
	return b.String(), nil
}

// statusWriter remembers the status written.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (s *Server) record(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sw := &statusWriter{ResponseWriter: w}
		h.ServeHTTP(sw, r)
		s.mu.Lock()
		s.requests = append(s.requests, Request{Method: r.Method, Path: r.URL.Path, Status: sw.status})
		s.mu.Unlock()
	})
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func randomDigits(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	for i := range b {
		b[i] = '0' + b[i]%10
	}
	return string(b)
}
