// Package githubfake is a fake of the part of the GitHub REST API that ulc's
// kind "github" connector calls, on loopback: an organization of GitHub
// Enterprise Cloud that uses SAML single sign-on, and its members'
// credential authorizations.
//
// It follows GitHub's published REST API description
// (github/rest-api-description, descriptions/ghec; the trimmed operations
// are in actions/github/testdata, with their SOURCE note):
//
//   - GET /orgs/{org}/credential-authorizations?login=&per_page=&page=
//     answers 200 with a JSON array of credential authorizations
//     ({login, credential_id, credential_type, token_last_eight,
//     credential_authorized_at, credential_accessed_at,
//     authorized_credential_id, scopes, ...}), filtered by login when given,
//     paginated with per_page (default 30, at most 100) and a Link header;
//   - DELETE /orgs/{org}/credential-authorizations/{credential_id} answers
//     204, or 404 for an authorization the organization does not have;
//   - both need the token of an organization owner, checked as GitHub does:
//     a missing or unknown token is 401 {"message":"Bad credentials"}; a
//     request without User-Agent is 403; an unsupported
//     X-GitHub-Api-Version is 400; an organization it does not know is 404
//     {"message":"Not Found"}; a token without admin:org is 403 on the
//     removal (X-OAuth-Scopes says what it has); a token not authorized for
//     the organization's SSO is 403 with an X-GitHub-SSO header;
//   - every answer carries X-GitHub-Request-Id, the x-ratelimit-* headers,
//     and X-OAuth-Scopes, as for a classic personal access token; when
//     throttled, 429 with Retry-After and GitHub's secondary rate limit
//     message.
package githubfake

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"ulc/sandbox/internal/tomlstr"
)

// Scope is the scope the removal needs; the list needs read:org, which
// admin:org includes.
const Scope = "admin:org"

// APIVersion is the REST API version the fake supports (and answers when
// none is asked for).
const APIVersion = "2022-11-28"

// docs is the documentation root GitHub's error bodies point to.
const docs = "https://docs.github.com/enterprise-cloud@latest/rest/orgs/orgs"

// Options shape a fake organization.
type Options struct {
	// Org is the organization's name ("whiterabbit" when empty).
	Org string
	// Logins are the GitHub logins of its members; each has authorized
	// Credentials credentials for the organization's SSO.
	Logins []string
	// Credentials is how many credential authorizations each login holds
	// (2 when zero: a personal access token and an SSH key).
	Credentials int
	// Throttle makes the first Throttle calls answer 429 with Retry-After: 1,
	// as GitHub's secondary rate limit does.
	Throttle int
	// MissingPermission means the token has read:org but not admin:org: the
	// list works, the removal answers 403.
	MissingPermission bool
	// SSORequired means the token was not authorized for the
	// organization's SAML SSO: every call answers 403 with X-GitHub-SSO.
	SSORequired bool
}

// Authorization is one credential authorization, as GitHub lists it.
type Authorization struct {
	Login                  string   `json:"login"`
	CredentialID           int64    `json:"credential_id"`
	CredentialType         string   `json:"credential_type"`
	TokenLastEight         string   `json:"token_last_eight,omitempty"`
	CredentialAuthorizedAt string   `json:"credential_authorized_at"`
	Scopes                 []string `json:"scopes,omitempty"`
	Fingerprint            string   `json:"fingerprint,omitempty"`
	CredentialAccessedAt   *string  `json:"credential_accessed_at"`
	AuthorizedCredentialID *int64   `json:"authorized_credential_id"`
	AuthorizedCredTitle    *string  `json:"authorized_credential_title,omitempty"`
	AuthorizedCredNote     *string  `json:"authorized_credential_note,omitempty"`
}

// Request is one request the fake received: what the connector sent.
type Request struct {
	Method, Path, Query, Authorization, Accept, APIVersion, UserAgent string
}

// Server is a running fake organization.
type Server struct {
	o     Options
	token string
	ln    net.Listener
	srv   *http.Server
	url   string

	mu        sync.Mutex
	auths     []*Authorization // in credential_id order
	removed   map[string]int   // by lower-case login
	throttled int
	requests  []Request
}

// Start starts a fake organization on 127.0.0.1 with a free port.
func Start(o Options) (*Server, error) {
	if o.Org == "" {
		o.Org = "whiterabbit"
	}
	if o.Credentials <= 0 {
		o.Credentials = 2
	}
	s := &Server{o: o, token: "ghp_" + random(18), removed: map[string]int{}}
	id := int64(161195)
	when := time.Now().UTC().Add(-30 * 24 * time.Hour).Truncate(time.Second)
	for _, login := range o.Logins {
		for i := range o.Credentials {
			id++
			at := when.Add(time.Duration(id%97) * time.Hour).Format(time.RFC3339)
			underlying := 12345600 + id
			a := &Authorization{Login: login, CredentialID: id, CredentialAuthorizedAt: at, CredentialAccessedAt: &at,
				AuthorizedCredentialID: &underlying}
			if i%2 == 0 {
				note := "laptop"
				a.CredentialType, a.TokenLastEight, a.Scopes, a.AuthorizedCredNote = "personal access token", random(4), []string{"repo", "read:org"}, &note
			} else {
				title := "work key"
				a.CredentialType, a.Fingerprint, a.AuthorizedCredTitle = "SSH key", "SHA256:"+random(16), &title
			}
			s.auths = append(s.auths, a)
		}
	}
	ln, err := (&net.ListenConfig{}).Listen(context.Background(), "tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("githubfake: %w", err)
	}
	s.ln = ln
	s.url = "http://" + ln.Addr().String()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /orgs/{org}/credential-authorizations", s.list)
	mux.HandleFunc("DELETE /orgs/{org}/credential-authorizations/{credential_id}", s.remove)
	mux.HandleFunc("/", s.noRoute)
	s.srv = &http.Server{Handler: s.common(mux), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = s.srv.Serve(ln) }()
	return s, nil
}

// URL is the REST API root, such as http://127.0.0.1:PORT/ (with the
// trailing slash, like https://api.github.com/).
func (s *Server) URL() string { return s.url + "/" }

// Org is the organization's name.
func (s *Server) Org() string { return s.o.Org }

// Token is the owner's token the fake accepts, for tests that look for it
// in output.
func (s *Server) Token() string { return s.token }

// Close stops the server.
func (s *Server) Close() error { return s.srv.Close() }

// TargetTOML writes the token into dir (mode 0600) and returns the complete
// [[target]] block of kind "github" named name that uses it, with url
// pointing at the fake and login_attribute githubUsername.
func (s *Server) TargetTOML(name, dir string) (string, error) {
	p := filepath.Join(dir, name+".token")
	if err := os.WriteFile(p, []byte(s.token+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("githubfake: %w", err)
	}
	// WriteFile keeps the mode of a file that exists already.
	if err := os.Chmod(p, 0o600); err != nil {
		return "", fmt.Errorf("githubfake: %w", err)
	}
	return fmt.Sprintf("[[target]]\nname = %s\nkind = \"github\"\norg = %s\nlogin_attribute = \"githubUsername\"\ntoken_file = %s\nurl = %s\n",
		tomlstr.Quote(name), tomlstr.Quote(s.o.Org), tomlstr.Quote(p), tomlstr.Quote(s.URL())), nil
}

// Authorizations is how many credential authorizations login still holds.
func (s *Server) Authorizations(login string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, a := range s.auths {
		if strings.EqualFold(a.Login, login) {
			n++
		}
	}
	return n
}

// Removed is how many of login's authorizations were removed.
func (s *Server) Removed(login string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.removed[strings.ToLower(login)]
}

// Requests returns every request received so far, in order.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.requests...)
}

// random is n random bytes, hex.
func random(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// apiError is GitHub's error body (basic-error).
type apiError struct {
	Message          string `json:"message"`
	DocumentationURL string `json:"documentation_url"`
	Status           string `json:"status,omitempty"`
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func fail(w http.ResponseWriter, status int, message, doc string) {
	writeJSON(w, status, apiError{Message: message, DocumentationURL: doc, Status: strconv.Itoa(status)})
}

// scopes is what the fake's token has, as X-OAuth-Scopes says.
func (s *Server) scopes() string {
	if s.o.MissingPermission {
		return "read:org, repo"
	}
	return "admin:org, repo"
}

// common records each request, sets the headers every GitHub answer
// carries, and checks what GitHub checks before any route: User-Agent,
// the API version, the token, the throttle and SSO.
func (s *Server) common(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.requests = append(s.requests, Request{
			Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery, Authorization: r.Header.Get("Authorization"),
			Accept: r.Header.Get("Accept"), APIVersion: r.Header.Get("X-GitHub-Api-Version"), UserAgent: r.Header.Get("User-Agent"),
		})
		throttle := s.throttled < s.o.Throttle
		if throttle {
			s.throttled++
		}
		s.mu.Unlock()
		h := w.Header()
		h.Set("X-GitHub-Request-Id", strings.ToUpper(random(4)+":"+random(3)+":"+random(4)))
		h.Set("X-GitHub-Media-Type", "github.v3; format=json")
		h.Set("X-Ratelimit-Limit", "5000")
		h.Set("X-Ratelimit-Remaining", "4999")
		h.Set("X-Ratelimit-Reset", strconv.FormatInt(time.Now().Add(time.Hour).Unix(), 10))
		h.Set("X-Ratelimit-Resource", "core")
		if r.Header.Get("User-Agent") == "" {
			fail(w, http.StatusForbidden, "Request forbidden by administrative rules. Please make sure your request has a User-Agent header (https://docs.github.com/enterprise-cloud@latest/rest/overview/resources-in-the-rest-api#user-agent-required).", "")
			return
		}
		switch v := r.Header.Get("X-GitHub-Api-Version"); v {
		case "", APIVersion:
			h.Set("X-GitHub-Api-Version-Selected", APIVersion)
		default:
			fail(w, http.StatusBadRequest, "Unsupported 'X-GitHub-Api-Version' header: "+strconv.Quote(v)+". Supported versions are: "+APIVersion, "https://docs.github.com/enterprise-cloud@latest/rest/overview/api-versions")
			return
		}
		if !s.authorized(r) {
			fail(w, http.StatusUnauthorized, "Bad credentials", "https://docs.github.com/rest")
			return
		}
		h.Set("X-OAuth-Scopes", s.scopes())
		if throttle {
			h.Set("Retry-After", "1")
			fail(w, http.StatusTooManyRequests, "You have exceeded a secondary rate limit. Please wait a few minutes before you try again.", "https://docs.github.com/enterprise-cloud@latest/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits")
			return
		}
		if s.o.SSORequired && strings.HasPrefix(r.URL.Path, "/orgs/") {
			h.Set("X-GitHub-SSO", "required; url=https://github.com/orgs/"+s.o.Org+"/sso?authorization_request="+random(20))
			fail(w, http.StatusForbidden, "Resource protected by organization SAML enforcement. You must grant your Personal Access token access to this organization.", "https://docs.github.com/articles/authenticating-to-a-github-organization-with-saml-single-sign-on/")
			return
		}
		next.ServeHTTP(w, r)
	})
}

// authorized checks the token, sent as "Bearer" or "token", as GitHub
// accepts both.
func (s *Server) authorized(r *http.Request) bool {
	auth := r.Header.Get("Authorization")
	tok, ok := strings.CutPrefix(auth, "Bearer ")
	if !ok {
		tok, ok = strings.CutPrefix(auth, "token ")
	}
	return ok && subtle.ConstantTimeCompare([]byte(tok), []byte(s.token)) == 1
}

// org checks the {org} of a path, case-insensitively as GitHub does.
func (s *Server) org(w http.ResponseWriter, r *http.Request, doc string) bool {
	if !strings.EqualFold(r.PathValue("org"), s.o.Org) {
		fail(w, http.StatusNotFound, "Not Found", doc)
		return false
	}
	return true
}

// list is GET /orgs/{org}/credential-authorizations.
func (s *Server) list(w http.ResponseWriter, r *http.Request) {
	const doc = docs + "#list-saml-sso-authorizations-for-an-organization"
	if !s.org(w, r, doc) {
		return
	}
	q := r.URL.Query()
	perPage, page := 30, 1
	if v := q.Get("per_page"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			fail(w, http.StatusUnprocessableEntity, "Invalid per_page", doc)
			return
		}
		perPage = min(n, 100)
	}
	if v := q.Get("page"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			fail(w, http.StatusUnprocessableEntity, "Invalid page", doc)
			return
		}
		page = n
	}
	login := q.Get("login")
	s.mu.Lock()
	var all []Authorization
	for _, a := range s.auths {
		if login == "" || strings.EqualFold(a.Login, login) {
			all = append(all, *a)
		}
	}
	s.mu.Unlock()
	from := min((page-1)*perPage, len(all))
	to := min(from+perPage, len(all))
	if to < len(all) {
		next := *r.URL
		nq := next.Query()
		nq.Set("page", strconv.Itoa(page+1))
		next.RawQuery = nq.Encode()
		w.Header().Set("Link", "<"+s.url+next.RequestURI()+">; rel=\"next\"")
	}
	out := all[from:to]
	if out == nil {
		out = []Authorization{}
	}
	writeJSON(w, http.StatusOK, out)
}

// remove is DELETE /orgs/{org}/credential-authorizations/{credential_id}.
func (s *Server) remove(w http.ResponseWriter, r *http.Request) {
	const doc = docs + "#remove-a-saml-sso-authorization-for-an-organization"
	if !s.org(w, r, doc) {
		return
	}
	if s.o.MissingPermission {
		w.Header().Set("X-Accepted-OAuth-Scopes", Scope)
		fail(w, http.StatusForbidden, "Resource not accessible by personal access token", doc)
		return
	}
	id, err := strconv.ParseInt(r.PathValue("credential_id"), 10, 64)
	s.mu.Lock()
	found := -1
	for i, a := range s.auths {
		if err == nil && a.CredentialID == id {
			found = i
			break
		}
	}
	if found >= 0 {
		s.removed[strings.ToLower(s.auths[found].Login)]++
		s.auths = append(s.auths[:found], s.auths[found+1:]...)
	}
	s.mu.Unlock()
	if found < 0 {
		fail(w, http.StatusNotFound, "Not Found", doc)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// noRoute answers a path the fake does not have, as GitHub does.
func (s *Server) noRoute(w http.ResponseWriter, _ *http.Request) {
	fail(w, http.StatusNotFound, "Not Found", "https://docs.github.com/rest")
}
