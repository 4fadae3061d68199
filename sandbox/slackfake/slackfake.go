// Package slackfake is a stand-in for the two methods of the Slack Web API
// that ulc calls to sign a user out of an Enterprise Grid org:
// users.lookupByEmail and admin.users.session.reset. It follows Slack's
// wire format: methods under /api/, the token in an Authorization: Bearer
// header or a token form field (or query parameter), every answer a JSON
// envelope {"ok":true,...} or {"ok":false,"error":"..."} with HTTP 200,
// throttling as 429 with Retry-After, and the scope diagnostics (needed,
// provided, X-OAuth-Scopes) of a token that lacks a scope.
//
// It checks the token as Slack would: no token is not_authed, an unknown
// one invalid_auth, a revoked one token_revoked, a bot token on an admin
// method not_allowed_token_type, a user token without admin.users:write
// missing_scope. It listens on 127.0.0.1 only.
package slackfake

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"ulc/sandbox/internal/tomlstr"
)

// The scopes of the methods the fake serves, as Slack names them.
const (
	// ScopeLookup is what users.lookupByEmail needs.
	ScopeLookup = "users:read.email"
	// ScopeReset is what admin.users.session.reset needs.
	ScopeReset = "admin.users:write"
)

// Options configures the fake org.
type Options struct {
	// Users are the email addresses of the org's members; each gets a
	// user id (W followed by 8 characters).
	Users []string
	// Throttle makes the first Throttle calls of admin.users.session.reset
	// answer 429 with Retry-After: 1 and {"ok":false,"error":"ratelimited"}.
	Throttle int
	// MissingPermission makes the admin's token lack admin.users:write:
	// admin.users.session.reset answers missing_scope, with needed and
	// provided, as Slack documents.
	MissingPermission bool
	// Bots are email addresses of bot users (is_bot): lookups find them,
	// and a reset answers cannot_reset_bot.
	Bots []string
	// PrimaryOwner is the email address of the org's primary owner: a
	// reset of that user answers cannot_reset_primary_owner.
	PrimaryOwner string
	// NotAdmin makes the token's user a member, not an org admin: admin
	// methods answer not_an_admin.
	NotAdmin bool
	// NotGrid makes the org a workspace without Enterprise Grid: admin
	// methods answer feature_not_enabled.
	NotGrid bool
}

// user is one member of the fake org.
type user struct {
	id, email, name string
	bot, primary    bool
}

// Request is one call the fake received, for tests.
type Request struct {
	// Method is the Web API method ("users.lookupByEmail"), or the path
	// when it names none.
	Method string
	// HTTPMethod is GET or POST.
	HTTPMethod string
	// TokenFrom says where the token came: "header", "form", "query" or "".
	TokenFrom string
	// ContentType is the request's media type.
	ContentType string
	// Error is the answer's error code, "" for ok:true.
	Error string
	// Status is the HTTP status of the answer.
	Status int
}

// Server is a running fake.
type Server struct {
	srv      *http.Server
	ln       net.Listener
	token    string // the admin's user token
	botToken string // a bot token of the same org
	opt      Options

	mu        sync.Mutex
	byEmail   map[string]*user
	byID      map[string]*user
	signedOut map[string]int // by email
	throttled int
	revoked   map[string]bool
	requests  []Request
	serveErr  chan error
}

// Start starts a fake org on 127.0.0.1 with a new random admin token.
func Start(o Options) (*Server, error) {
	s := &Server{
		opt: o, token: "xoxp-" + randomHex(24), botToken: "xoxb-" + randomHex(24),
		byEmail: map[string]*user{}, byID: map[string]*user{}, signedOut: map[string]int{},
		revoked: map[string]bool{}, serveErr: make(chan error, 1),
	}
	add := func(email string, bot bool) error {
		key := strings.ToLower(strings.TrimSpace(email))
		if key == "" || !strings.Contains(key, "@") {
			return fmt.Errorf("slackfake: %q is not an email address", email)
		}
		if _, dup := s.byEmail[key]; dup {
			return nil
		}
		u := &user{email: key, bot: bot}
		for u.id == "" || s.byID[u.id] != nil {
			u.id = "W" + strings.ToUpper(randomHex(4))
		}
		u.name, _, _ = strings.Cut(key, "@")
		u.primary = strings.EqualFold(key, strings.TrimSpace(o.PrimaryOwner))
		s.byEmail[key], s.byID[u.id] = u, u
		return nil
	}
	for _, e := range o.Users {
		if err := add(e, false); err != nil {
			return nil, err
		}
	}
	for _, e := range o.Bots {
		if err := add(e, true); err != nil {
			return nil, err
		}
	}
	if o.PrimaryOwner != "" {
		if err := add(o.PrimaryOwner, false); err != nil {
			return nil, err
		}
	}
	// Binding a loopback port does not block; Start has no caller's
	// context to honour.
	ln, err := (&net.ListenConfig{}).Listen(context.Background(), "tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("slackfake: %w", err)
	}
	s.ln = ln
	s.srv = &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := s.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.serveErr <- err
		}
	}()
	return s, nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// URL is the Web API root, as a kind "slack" target's url: ending in
// "/api/" like https://slack.com/api/.
func (s *Server) URL() string { return "http://" + s.ln.Addr().String() + "/api/" }

// Close stops the fake. It reports an error the server hit while serving.
func (s *Server) Close() error {
	err := s.srv.Close()
	select {
	case serr := <-s.serveErr:
		return errors.Join(err, serr)
	default:
	}
	return err
}

// Token is the admin's user token (xoxp-...), with users:read.email and,
// unless Options.MissingPermission, admin.users:write. It is a secret of
// the fake org: tests use it to prove it never leaks.
func (s *Server) Token() string { return s.token }

// BotToken is a bot token (xoxb-...) of the same org with
// users:read.email: lookups work, admin methods answer
// not_allowed_token_type, as Slack's admin API takes user tokens only.
func (s *Server) BotToken() string { return s.botToken }

// Revoke makes tok answer token_revoked from now on, as after an
// auth.revoke or an uninstall.
func (s *Server) Revoke(tok string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.revoked[tok] = true
}

// UserID returns the Slack user id of email, "" when the org has no such
// member.
func (s *Server) UserID(email string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if u := s.byEmail[strings.ToLower(email)]; u != nil {
		return u.id
	}
	return ""
}

// SignedOut returns how many times the sessions of the member with email
// were reset.
func (s *Server) SignedOut(email string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.signedOut[strings.ToLower(email)]
}

// Requests returns every call the fake received, in order.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.requests...)
}

// TargetTOML writes the admin token into dir (mode 0600) and returns the
// [[target]] block of a kind "slack" target named name that uses it: the
// fake's URL and a token_file, never an inline secret.
func (s *Server) TargetTOML(name, dir string) (string, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("slackfake: %w", err)
	}
	abs, err := filepath.Abs(filepath.Join(dir, safeFileName(name)+"-slack-token"))
	if err != nil {
		return "", fmt.Errorf("slackfake: %w", err)
	}
	if err := writeSecret(abs, []byte(s.token+"\n")); err != nil {
		return "", fmt.Errorf("slackfake: %w", err)
	}
	return fmt.Sprintf("[[target]]\nname = %s\nkind = \"slack\"\nurl = %s\ntoken_file = %s\n",
		tomlstr.Quote(name), tomlstr.Quote(s.URL()), tomlstr.Quote(abs)), nil
}

// writeSecret writes data to path with mode 0600, also when path exists
// with a wider mode.
func writeSecret(path string, data []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	if err := f.Chmod(0o600); err != nil {
		_ = f.Close()
		return err
	}
	if _, err := f.Write(data); err != nil {
		_ = f.Close()
		return err
	}
	return f.Close()
}

// safeFileName keeps the letters, digits, '-' and '_' of name.
func safeFileName(name string) string {
	var b strings.Builder
	for _, r := range name {
		if r < 0x80 && (r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			b.WriteRune(r)
		}
	}
	if b.Len() == 0 {
		return "target"
	}
	return b.String()
}

// maxForm bounds a request body: Slack's methods take a few short
// arguments.
const maxForm = 64 << 10

// call is one request being answered.
type call struct {
	w      http.ResponseWriter
	r      *http.Request
	rec    Request
	args   url.Values
	token  string
	scopes []string
}

// ServeHTTP implements http.Handler: the Web API under /api/.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	c := &call{w: w, r: r, rec: Request{Method: r.URL.Path, HTTPMethod: r.Method}}
	defer func() {
		s.mu.Lock()
		s.requests = append(s.requests, c.rec)
		s.mu.Unlock()
	}()
	w.Header().Set("X-Slack-Req-Id", randomHex(16))
	method, ok := strings.CutPrefix(r.URL.Path, "/api/")
	if !ok || strings.Contains(method, "/") {
		// Slack's own answer to a path that names no method.
		c.answer(http.StatusNotFound, map[string]any{"ok": false, "error": "unknown_method"})
		return
	}
	c.rec.Method = method
	switch method {
	case "users.lookupByEmail":
		if !c.parse(false, http.MethodGet, http.MethodPost) {
			return
		}
		if !s.authorize(c, false, ScopeLookup) {
			return
		}
		s.lookup(c)
	case "admin.users.session.reset":
		if !c.parse(true, http.MethodPost) {
			return
		}
		if !s.authorize(c, true, ScopeReset) {
			return
		}
		s.reset(c)
	default:
		c.answer(http.StatusNotFound, map[string]any{"ok": false, "error": "unknown_method"})
	}
}

// parse reads the arguments: the query, and a form or (when json) a JSON
// body. It answers and returns false when the request cannot be read.
func (c *call) parse(allowJSON bool, methods ...string) bool {
	r := c.r
	allowed := false
	for _, m := range methods {
		allowed = allowed || r.Method == m
	}
	if !allowed {
		c.w.Header().Set("Allow", strings.Join(methods, ", "))
		c.answer(http.StatusMethodNotAllowed, map[string]any{"ok": false, "error": "method_not_allowed"})
		return false
	}
	c.args = r.URL.Query()
	if r.Method == http.MethodPost {
		mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
		c.rec.ContentType = mt
		body, err := io.ReadAll(io.LimitReader(r.Body, maxForm+1))
		if err != nil || len(body) > maxForm {
			c.answer(http.StatusOK, map[string]any{"ok": false, "error": "invalid_form_data"})
			return false
		}
		switch {
		case mt == "application/x-www-form-urlencoded" || mt == "" && len(body) == 0:
			form, err := url.ParseQuery(string(body))
			if err != nil {
				c.answer(http.StatusOK, map[string]any{"ok": false, "error": "invalid_form_data"})
				return false
			}
			for k, v := range form {
				c.args[k] = v
			}
		case mt == "application/json" && allowJSON:
			// Slack's JSON bodies carry arguments, never the token,
			// which must then be in the Authorization header.
			var m map[string]any
			if err := json.Unmarshal(body, &m); err != nil {
				c.answer(http.StatusOK, map[string]any{"ok": false, "error": "invalid_json"})
				return false
			}
			for k, v := range m {
				if k == "token" {
					continue
				}
				switch v := v.(type) {
				case string:
					c.args.Set(k, v)
				case bool:
					c.args.Set(k, strconv.FormatBool(v))
				default:
					c.answer(http.StatusOK, map[string]any{"ok": false, "error": "invalid_arguments"})
					return false
				}
			}
		default:
			c.answer(http.StatusOK, map[string]any{"ok": false, "error": "invalid_post_type"})
			return false
		}
	}
	return true
}

// authorize checks the token as Slack does and answers when it is not
// good enough for a method needing scope (admin: an admin.* method).
func (s *Server) authorize(c *call, admin bool, scope string) bool {
	h := c.r.Header.Get("Authorization")
	switch {
	case h != "":
		scheme, tok, _ := strings.Cut(h, " ")
		if !strings.EqualFold(scheme, "Bearer") {
			c.answer(http.StatusOK, map[string]any{"ok": false, "error": "invalid_auth"})
			return false
		}
		c.token, c.rec.TokenFrom = strings.TrimSpace(tok), "header"
	case c.args.Get("token") != "":
		c.token, c.rec.TokenFrom = c.args.Get("token"), "form"
		if c.r.URL.Query().Get("token") != "" {
			c.rec.TokenFrom = "query"
		}
	}
	s.mu.Lock()
	revoked := s.revoked[c.token]
	s.mu.Unlock()
	switch {
	case c.token == "":
		c.answer(http.StatusOK, map[string]any{"ok": false, "error": "not_authed"})
		return false
	case revoked:
		c.answer(http.StatusOK, map[string]any{"ok": false, "error": "token_revoked"})
		return false
	case c.token == s.botToken:
		c.scopes = []string{ScopeLookup}
	case c.token == s.token:
		c.scopes = []string{ScopeLookup, ScopeReset}
		if s.opt.MissingPermission {
			c.scopes = []string{ScopeLookup}
		}
	default:
		c.answer(http.StatusOK, map[string]any{"ok": false, "error": "invalid_auth"})
		return false
	}
	c.w.Header().Set("X-OAuth-Scopes", strings.Join(c.scopes, ","))
	c.w.Header().Set("X-Accepted-OAuth-Scopes", scope)
	if admin && c.token == s.botToken {
		c.answer(http.StatusOK, map[string]any{"ok": false, "error": "not_allowed_token_type"})
		return false
	}
	has := false
	for _, sc := range c.scopes {
		has = has || sc == scope
	}
	if !has {
		c.answer(http.StatusOK, map[string]any{
			"ok": false, "error": "missing_scope", "needed": scope, "provided": strings.Join(c.scopes, ","),
		})
		return false
	}
	if admin && s.opt.NotGrid {
		c.answer(http.StatusOK, map[string]any{"ok": false, "error": "feature_not_enabled"})
		return false
	}
	if admin && s.opt.NotAdmin {
		c.answer(http.StatusOK, map[string]any{"ok": false, "error": "not_an_admin"})
		return false
	}
	return true
}

// lookup answers users.lookupByEmail.
func (s *Server) lookup(c *call) {
	email := strings.ToLower(strings.TrimSpace(c.args.Get("email")))
	if email == "" {
		c.answer(http.StatusOK, map[string]any{"ok": false, "error": "invalid_arguments"})
		return
	}
	s.mu.Lock()
	u := s.byEmail[email]
	s.mu.Unlock()
	if u == nil {
		c.answer(http.StatusOK, map[string]any{"ok": false, "error": "users_not_found"})
		return
	}
	c.answer(http.StatusOK, map[string]any{"ok": true, "user": u.json()})
}

// json is the user object of a lookup, with the fields Slack's schema
// requires.
func (u *user) json() map[string]any {
	return map[string]any{
		"id": u.id, "team_id": "T0FAKE0RG1", "name": u.name, "deleted": false, "real_name": u.name,
		"is_admin": false, "is_owner": u.primary, "is_primary_owner": u.primary,
		"is_restricted": false, "is_ultra_restricted": false, "is_bot": u.bot, "is_app_user": false,
		"updated": 1700000000, "tz": "UTC", "tz_label": "Coordinated Universal Time", "tz_offset": 0,
		"profile": map[string]any{
			"real_name": u.name, "real_name_normalized": u.name, "display_name": u.name,
			"display_name_normalized": u.name, "avatar_hash": "g0fake0av4t4", "title": "", "phone": "",
			"skype": "", "status_text": "", "status_emoji": "", "fields": []any{}, "email": u.email,
			"team": "T0FAKE0RG1",
		},
	}
}

// reset answers admin.users.session.reset.
func (s *Server) reset(c *call) {
	s.mu.Lock()
	throttle := s.throttled < s.opt.Throttle
	if throttle {
		s.throttled++
	}
	s.mu.Unlock()
	if throttle {
		c.w.Header().Set("Retry-After", "1")
		c.answer(http.StatusTooManyRequests, map[string]any{"ok": false, "error": "ratelimited"})
		return
	}
	id := c.args.Get("user_id")
	for _, flag := range []string{"mobile_only", "web_only"} {
		if v := c.args.Get(flag); v != "" {
			if _, err := strconv.ParseBool(v); err != nil {
				c.answer(http.StatusOK, map[string]any{"ok": false, "error": "invalid_arguments"})
				return
			}
		}
	}
	if id == "" {
		c.answer(http.StatusOK, map[string]any{"ok": false, "error": "invalid_arguments"})
		return
	}
	s.mu.Lock()
	u := s.byID[id]
	switch {
	case u == nil:
	case u.bot, u.primary:
	default:
		s.signedOut[u.email]++
	}
	s.mu.Unlock()
	switch {
	case u == nil:
		c.answer(http.StatusOK, map[string]any{"ok": false, "error": "user_not_found"})
	case u.bot:
		c.answer(http.StatusOK, map[string]any{"ok": false, "error": "cannot_reset_bot"})
	case u.primary:
		c.answer(http.StatusOK, map[string]any{"ok": false, "error": "cannot_reset_primary_owner"})
	default:
		c.answer(http.StatusOK, map[string]any{"ok": true})
	}
}

// answer writes a JSON envelope with status.
func (c *call) answer(status int, body map[string]any) {
	if e, ok := body["error"].(string); ok {
		c.rec.Error = e
	}
	c.rec.Status = status
	c.w.Header().Set("Content-Type", "application/json; charset=utf-8")
	c.w.WriteHeader(status)
	_ = json.NewEncoder(c.w).Encode(body)
}

// Members returns the org's members' email addresses, sorted.
func (s *Server) Members() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]string, 0, len(s.byEmail))
	for e := range s.byEmail {
		out = append(out, e)
	}
	sort.Strings(out)
	return out
}
