// Package zoomfake is a fake of the two Zoom services ulc's kind "zoom"
// connector calls, on loopback: the OAuth token endpoint, as a
// Server-to-Server OAuth app uses it (POST /oauth/token), and the part of
// the Zoom API v2 that ends a user's SSO session
// (DELETE /v2/users/{userId}/token).
//
// It follows the facts of CONNECTORS.md section 6, which are Zoom's
// published wire format (there is no trimmed OpenAPI spec of Zoom to check
// it against with Prism):
//
//   - the token endpoint takes a form-encoded body
//     grant_type=account_credentials&account_id=..., with the app's Client ID
//     and Client Secret in an HTTP Basic Authorization header; it answers
//     {"access_token","token_type":"bearer","expires_in":3599,"scope","api_url"}
//     or Zoom's OAuth refusal {"reason","error"} (invalid_client for a wrong
//     or missing Client ID or Secret, invalid_request for a wrong or
//     missing account_id, unsupported_grant_type for another grant);
//     parameters in the query string are not read, as Zoom no longer does;
//   - API calls need a Bearer token it issued that has not expired (else
//     401 {"code":124,"message":"Invalid access token."});
//   - DELETE /v2/users/{userId}/token, where userId is the user's email or
//     id, answers 204 and ends the user's SSO session; 404
//     {"code":1001,"message":"User does not exist: ..."} for a user the
//     account does not have; 400 {"code":4711,...} when the app lacks the
//     scope user:write:admin; 429 {"code":429,...} with Retry-After when
//     throttled. Every answer carries an x-zm-trackingid header.
package zoomfake

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"mime"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"ulc/sandbox/internal/tomlstr"
)

// Scope is the scope the sign-out needs, as Zoom names it for a
// Server-to-Server OAuth app with classic scopes.
const Scope = "user:write:admin"

// Options shape a fake Zoom account.
type Options struct {
	// Users are the email addresses the account knows.
	Users []string
	// Throttle makes the first Throttle sign-out calls answer 429 with
	// Retry-After: 1, as Zoom's rate limits do.
	Throttle int
	// MissingPermission means the app was not given the scope
	// user:write:admin: sign-out calls answer 400 with code 4711, "Invalid
	// access token, does not contain scopes:[user:write:admin]", as Zoom
	// does.
	MissingPermission bool
	// TokenLifetime is the lifetime of the access tokens it issues (3599
	// seconds, as Zoom's expires_in says, when zero).
	TokenLifetime time.Duration
}

// Server is a running fake Zoom account.
type Server struct {
	o         Options
	accountID string
	clientID  string
	secret    string
	ln        net.Listener
	srv       *http.Server
	url       string

	mu        sync.Mutex
	users     map[string]*user // by lower-case email and by id
	tokens    map[string]time.Time
	throttled int
	tokenReqs int
	issued    int
	revokes   int
}

type user struct {
	id        string
	email     string
	signedOut int
}

// Start starts a fake Zoom account on 127.0.0.1 with a free port.
func Start(o Options) (*Server, error) {
	s := &Server{
		o: o, accountID: random(16), clientID: random(16), secret: random(24),
		users: map[string]*user{}, tokens: map[string]time.Time{},
	}
	if s.o.TokenLifetime <= 0 {
		s.o.TokenLifetime = 3599 * time.Second
	}
	for _, e := range o.Users {
		u := &user{id: random(16), email: e}
		s.users[strings.ToLower(e)] = u
		s.users[u.id] = u
	}
	ln, err := (&net.ListenConfig{}).Listen(context.Background(), "tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("zoomfake: %w", err)
	}
	s.ln = ln
	s.url = "http://" + ln.Addr().String()
	mux := http.NewServeMux()
	mux.HandleFunc("/oauth/token", s.token)
	mux.HandleFunc("/v2/users/{userId}/token", s.revoke)
	mux.HandleFunc("/", s.noRoute)
	s.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = s.srv.Serve(ln) }()
	return s, nil
}

// URL is the API root, such as http://127.0.0.1:PORT/v2/ (with the
// trailing slash, like https://api.zoom.us/v2/).
func (s *Server) URL() string { return s.url + "/v2/" }

// TokenURL is the OAuth token endpoint, like https://zoom.us/oauth/token.
func (s *Server) TokenURL() string { return s.url + "/oauth/token" }

// AccountID is the account's id, the account_id of token requests.
func (s *Server) AccountID() string { return s.accountID }

// ClientID is the Server-to-Server OAuth app's Client ID.
func (s *Server) ClientID() string { return s.clientID }

// Secret is the app's Client Secret, for tests that look for it in output.
func (s *Server) Secret() string { return s.secret }

// Close stops the server.
func (s *Server) Close() error { return s.srv.Close() }

// TargetTOML writes the app's Client Secret into dir (mode 0600) and
// returns the complete [[target]] block of kind "zoom" named name that
// uses it, with url and token_url pointing at the fake.
func (s *Server) TargetTOML(name, dir string) (string, error) {
	p := filepath.Join(dir, name+"-client-secret")
	if err := os.WriteFile(p, []byte(s.secret+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("zoomfake: %w", err)
	}
	// WriteFile keeps the mode of a file that exists already.
	if err := os.Chmod(p, 0o600); err != nil {
		return "", fmt.Errorf("zoomfake: %w", err)
	}
	return fmt.Sprintf("[[target]]\nname = %s\nkind = \"zoom\"\naccount_id = %s\nclient_id = %s\nclient_secret_file = %s\ntoken_url = %s\nurl = %s\n",
		tomlstr.Quote(name), tomlstr.Quote(s.accountID), tomlstr.Quote(s.clientID), tomlstr.Quote(p),
		tomlstr.Quote(s.TokenURL()), tomlstr.Quote(s.URL())), nil
}

// SignedOut is how many times the user's SSO session was ended.
func (s *Server) SignedOut(email string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if u := s.users[strings.ToLower(email)]; u != nil {
		return u.signedOut
	}
	return 0
}

// TokenRequests is how many requests reached the token endpoint, and
// issued how many of them got an access token.
func (s *Server) TokenRequests() (requests, issued int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.tokenReqs, s.issued
}

// RevokeCalls is how many sign-out calls reached the API, whatever they
// were answered.
func (s *Server) RevokeCalls() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.revokes
}

// ExpireTokens makes every access token issued so far expired, as after
// an hour.
func (s *Server) ExpireTokens() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for tok := range s.tokens {
		s.tokens[tok] = time.Now().Add(-time.Second)
	}
}

// random is n random bytes, base64url: shaped like Zoom's ids and secrets.
func random(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// tracking sets the x-zm-trackingid header every Zoom answer carries.
func tracking(w http.ResponseWriter) {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	w.Header().Set("x-zm-trackingid", "v=2.0;clid=us06;rid=WEB_"+hex.EncodeToString(b))
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json;charset=UTF-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// apiError is the Zoom API's error body.
type apiError struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
}

func apiFail(w http.ResponseWriter, status, code int, message string) {
	tracking(w)
	writeJSON(w, status, apiError{Code: code, Message: message})
}

// oauthError is the token endpoint's refusal.
type oauthError struct {
	Reason string `json:"reason"`
	Error  string `json:"error"`
}

func oauthFail(w http.ResponseWriter, status int, oauthErr, reason string) {
	tracking(w)
	writeJSON(w, status, oauthError{Reason: reason, Error: oauthErr})
}

// token is POST /oauth/token with grant_type=account_credentials.
func (s *Server) token(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.tokenReqs++
	s.mu.Unlock()
	if r.Method != http.MethodPost {
		oauthFail(w, http.StatusMethodNotAllowed, "invalid_request", "Method Not Allowed")
		return
	}
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/x-www-form-urlencoded" {
		oauthFail(w, http.StatusBadRequest, "invalid_request", "Content-Type must be application/x-www-form-urlencoded")
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 8<<10)
	if err := r.ParseForm(); err != nil {
		oauthFail(w, http.StatusBadRequest, "invalid_request", "Bad Request")
		return
	}
	id, secret, ok := r.BasicAuth()
	if !ok || id == "" || secret == "" {
		oauthFail(w, http.StatusBadRequest, "invalid_client", "Client ID or client secret is missing.")
		return
	}
	if subtle.ConstantTimeCompare([]byte(id), []byte(s.clientID)) != 1 || subtle.ConstantTimeCompare([]byte(secret), []byte(s.secret)) != 1 {
		oauthFail(w, http.StatusBadRequest, "invalid_client", "Invalid client_id or client_secret")
		return
	}
	switch gt := r.PostForm.Get("grant_type"); gt {
	case "account_credentials":
	case "":
		oauthFail(w, http.StatusBadRequest, "invalid_request", "Missing grant type.")
		return
	default:
		oauthFail(w, http.StatusBadRequest, "unsupported_grant_type", "Unsupported grant type")
		return
	}
	switch acct := r.PostForm.Get("account_id"); {
	case acct == "":
		oauthFail(w, http.StatusBadRequest, "invalid_request", "Missing account_id.")
		return
	case acct != s.accountID:
		oauthFail(w, http.StatusBadRequest, "invalid_request", "Invalid account_id")
		return
	}
	tok := random(48)
	scope := Scope + " user:read:admin"
	if s.o.MissingPermission {
		scope = "user:read:admin"
	}
	s.mu.Lock()
	s.tokens[tok] = time.Now().Add(s.o.TokenLifetime)
	s.issued++
	s.mu.Unlock()
	tracking(w)
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, map[string]any{
		"access_token": tok, "token_type": "bearer", "expires_in": int(s.o.TokenLifetime / time.Second),
		"scope": scope, "api_url": s.url,
	})
}

// authorized checks the Bearer token of an API call, answering 401 code
// 124 as Zoom does when it is missing, unknown or expired.
func (s *Server) authorized(w http.ResponseWriter, r *http.Request) bool {
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	s.mu.Lock()
	exp, known := s.tokens[tok]
	s.mu.Unlock()
	switch {
	case !ok || tok == "" || !known:
		apiFail(w, http.StatusUnauthorized, 124, "Invalid access token.")
		return false
	case time.Now().After(exp):
		apiFail(w, http.StatusUnauthorized, 124, "Access token is expired.")
		return false
	}
	return true
}

// revoke is DELETE /v2/users/{userId}/token: it ends the user's SSO
// session.
func (s *Server) revoke(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodDelete {
		apiFail(w, http.StatusMethodNotAllowed, 405, "Method Not Allowed")
		return
	}
	if !s.authorized(w, r) {
		return
	}
	s.mu.Lock()
	s.revokes++
	throttle := s.throttled < s.o.Throttle
	if throttle {
		s.throttled++
	}
	s.mu.Unlock()
	if throttle {
		w.Header().Set("Retry-After", "1")
		w.Header().Set("X-RateLimit-Category", "Light")
		w.Header().Set("X-RateLimit-Type", "QPS")
		apiFail(w, http.StatusTooManyRequests, 429, "You have reached the maximum per-second rate limit for this API. Try again later.")
		return
	}
	if s.o.MissingPermission {
		apiFail(w, http.StatusBadRequest, 4711, "Invalid access token, does not contain scopes:["+Scope+"].")
		return
	}
	id := r.PathValue("userId")
	s.mu.Lock()
	u := s.users[strings.ToLower(id)]
	if u == nil {
		u = s.users[id]
	}
	if u != nil {
		u.signedOut++
	}
	s.mu.Unlock()
	if u == nil {
		apiFail(w, http.StatusNotFound, 1001, "User does not exist: "+id+".")
		return
	}
	tracking(w)
	w.WriteHeader(http.StatusNoContent)
}

// noRoute answers a path the API does not have.
func (s *Server) noRoute(w http.ResponseWriter, _ *http.Request) {
	apiFail(w, http.StatusNotFound, 404, "Not Found")
}
