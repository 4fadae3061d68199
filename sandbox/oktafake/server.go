// Package oktafake is an Okta-compatible Management API that runs on
// loopback, for `ulc demo`, for tests and for drills.
//
// It serves the parts of Okta's API that ulc uses (users: list, q, search,
// filter, get, lifecycle, sessions, grants, clients, refresh tokens,
// factors; the System Log; sessions by id; the org authorization server's
// client-credentials token endpoint with private_key_jwt; Okta's own Global
// Token Revocation receiver) closely enough that okta-sdk-golang v2 and the
// console cannot tell it from a real org: Okta's JSON shapes (checked
// against Okta's published OpenAPI spec), Okta's error bodies and codes, one
// Link header line per relation, X-Rate-Limit-* headers on every API
// response and 429s that carry X-Rate-Limit-Reset.
//
// Its directory is a curated cast of about forty people at whiterabbit.fake
// plus, on request, any number of generated people. All generated data is
// deterministic for a given Options.Seed and clock, so screenshots and golden
// tests are stable.
package oktafake

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"math/big"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Options configure a Server.
type Options struct {
	// Seed seeds the generator of ids, people and System Log history
	// (default 1). The same seed and clock give the same directory.
	Seed int64
	// People is the number of extra generated people beyond the curated
	// cast; for example 100000 for scale tests.
	People int
	// Now is the clock for data (default time.Now): the System Log history
	// is generated relative to it at New, and new events and status changes
	// are stamped with it. Authentication (token and client-assertion
	// expiry) and rate-limit windows use the wall clock, because the Okta SDK
	// computes its 429 back-off from the real Date header.
	Now func() time.Time
	// RateClock, when set, replaces the wall clock of rate-limit windows
	// and of the Date header of every answer, so a test can drive a
	// client's pacing over minutes of windows at once (the client must then
	// wait on the same clock).
	RateClock func() time.Time
	// OrgURL is the org's public URL, e.g. "http://127.0.0.1:8080", used as
	// the issuer in grants, as the expected audience of client assertions
	// and as the issuer accepted by the GTR receiver. Empty means "derive it
	// from each request" (scheme and Host header).
	OrgURL string
}

// Person is a snapshot of one user of the directory.
type Person struct {
	// ID is the Okta user id (00u followed by 17 letters and digits).
	ID string
	// Login is profile.login.
	Login string
	// Email is profile.email.
	Email string
	// FirstName is profile.firstName.
	FirstName string
	// LastName is profile.lastName.
	LastName string
	// Status is the Okta user status (ACTIVE, SUSPENDED, ...).
	Status string
	// Department is profile.department.
	Department string
	// Title is profile.title.
	Title string
	// GitHubUsername is the custom attribute profile.githubUsername, ""
	// for the people who have no GitHub login.
	GitHubUsername string
	// LastLogin is the time of the last sign-in (zero if never).
	LastLogin time.Time
}

// Permission is an Okta OAuth scope, which also serves as the permission of
// an SSWS token.
type Permission string

// The permissions the fake knows. okta.users.manage includes
// okta.users.read.
const (
	// PermRead allows reading users, grants, clients, tokens and factors.
	PermRead Permission = "okta.users.read"
	// PermManage allows lifecycle changes and clearing sessions, grants and
	// tokens (and reading).
	PermManage Permission = "okta.users.manage"
	// PermLogs allows reading the System Log.
	PermLogs Permission = "okta.logs.read"
	// PermUniversalLogout allows calling Okta's Global Token Revocation
	// receiver, POST /oauth2/v1/global-token-revocation.
	PermUniversalLogout Permission = "okta.universalLogout.manage"
)

// permSet is a set of permissions as a bit mask.
type permSet uint8

const (
	bitRead permSet = 1 << iota
	bitManage
	bitLogs
	bitUL
	allBits = bitRead | bitManage | bitLogs | bitUL
)

func permBit(p Permission) permSet {
	switch p {
	case PermRead:
		return bitRead
	case PermManage:
		return bitManage
	case PermLogs:
		return bitLogs
	case PermUniversalLogout:
		return bitUL
	}
	return 0
}

func toPermSet(perms []Permission) permSet {
	if len(perms) == 0 {
		return allBits
	}
	var ps permSet
	for _, p := range perms {
		ps |= permBit(p)
	}
	return ps
}

// has reports whether ps grants p; manage implies read.
func (ps permSet) has(p Permission) bool {
	b := permBit(p)
	if b == bitRead && ps&bitManage != 0 {
		return true
	}
	return b != 0 && ps&b != 0
}

// Server is the fake Okta org. It is an http.Handler and safe for
// concurrent use.
type Server struct {
	mu     sync.Mutex
	now    func() time.Time
	seed   int64
	orgURL string
	rng    *mrand.Rand // runtime ids (sessions, events, transactions)

	users     []*user // in creation order; the cast first
	byID      map[string]*user
	byLogin   map[string]*user   // lower-cased login
	byShort   map[string][]*user // lower-cased login before the @
	byEmail   map[string][]*user // lower-cased email
	prefixes  []prefixEntry      // firstName, lastName and email, lower-cased and sorted; built on first q
	nameCount map[string]int     // while generating: logins taken per first.last
	sessions  map[string]*user   // session id -> owner (materialised sessions only)
	admin     *user              // the human behind the SSWS tokens
	apps      []*app
	appByID   map[string]*app
	events    []*event // sorted by (published, seq)
	eventSeq  int64
	// pending are events stamped in the future (the attacker's return),
	// written once the clock reaches them; attackerBack says the story
	// has started.
	pending      []pendingEvent
	attackerBack bool
	building     bool // New is writing the history: append now, sort later
	sswsToken    map[string]apiToken
	services     map[string]*serviceApp
	access       map[string]*accessToken

	limit     int
	window    time.Duration
	rateClock func() time.Time // wall clock of windows and Date; nil: time.Now
	buckets   map[string]*bucket
	force429  int
	requests  int
	tokenReq  int
}

// apiToken is a registered SSWS token and the id the System Log names it by.
type apiToken struct {
	perms permSet
	id    string
}

type serviceApp struct {
	clientID string
	pub      crypto.PublicKey
	scopes   permSet
}

type accessToken struct {
	clientID string
	scopes   permSet
	expires  time.Time
}

type bucket struct {
	start time.Time
	used  int
}

// New builds a fake org: the curated cast, o.People generated people and
// thirty days of System Log history, all derived from o.Seed and o.Now.
func New(o Options) *Server {
	if o.Seed == 0 {
		o.Seed = 1
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	n := len(cast) + max(o.People, 0)
	clock := o.Now
	s := &Server{
		now:       func() time.Time { return clock().UTC() },
		seed:      o.Seed,
		orgURL:    strings.TrimRight(o.OrgURL, "/"),
		rng:       mrand.New(mrand.NewPCG(uint64(o.Seed), 0x5eed)),
		users:     make([]*user, 0, n),
		byID:      make(map[string]*user, n),
		byLogin:   make(map[string]*user, n),
		byShort:   make(map[string][]*user, n),
		byEmail:   make(map[string][]*user, n),
		sessions:  map[string]*user{},
		appByID:   map[string]*app{},
		sswsToken: map[string]apiToken{},
		services:  map[string]*serviceApp{},
		access:    map[string]*accessToken{},
		limit:     600,
		rateClock: o.RateClock,
		window:    time.Minute,
		buckets:   map[string]*bucket{},
	}
	s.build(o.People)
	return s
}

// AddToken registers an SSWS API token. With no permissions the token may do
// everything; otherwise only what perms allow.
func (s *Server) AddToken(token string, perms ...Permission) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sum := sha256.Sum256([]byte(token))
	s.sswsToken[token] = apiToken{perms: toPermSet(perms), id: "00T" + hex.EncodeToString(sum[:])[:17]}
}

// AddServiceApp registers an OAuth service app that authenticates to
// POST /oauth2/v1/token with a private_key_jwt client assertion signed by the
// private half of pub (RSA for RS256, ECDSA P-256 for ES256). scopes are the
// Okta API scopes granted to the app; none means all.
func (s *Server) AddServiceApp(clientID string, pub crypto.PublicKey, scopes ...Permission) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.services[clientID] = &serviceApp{clientID: clientID, pub: pub, scopes: toPermSet(scopes)}
}

// SetRateLimit sets the budget of every rate-limit bucket to limit requests
// per window (default 600 per minute) and starts fresh windows.
func (s *Server) SetRateLimit(limit int, window time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if limit < 1 {
		limit = 1
	}
	if window <= 0 {
		window = time.Minute
	}
	s.limit, s.window = limit, window
	s.buckets = map[string]*bucket{}
}

// Force429 makes the next n API requests answer 429 E0000047 with an
// X-Rate-Limit-Reset one second ahead (the SDK then waits about two seconds).
func (s *Server) Force429(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.force429 = max(n, 0)
}

// People returns a snapshot of the directory in a stable order: the curated
// cast first, then the generated people.
func (s *Server) People() []Person {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Person, 0, len(s.users))
	for _, u := range s.users {
		if !u.deleted {
			out = append(out, u.person())
		}
	}
	return out
}

// Person returns the user with this id, login or unambiguous login short
// name, as GET /api/v1/users/{idOrLogin} would find them.
func (s *Server) Person(idOrLogin string) (Person, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	u := s.lookup(idOrLogin)
	if u == nil {
		return Person{}, false
	}
	return u.person(), true
}

// Sessions returns the number of active Okta sessions of a user (0 for an
// unknown user).
func (s *Server) Sessions(userID string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	u := s.byID[userID]
	if u == nil || u.deleted {
		return 0
	}
	s.ensureDetails(u)
	return len(u.sessions)
}

// Requests returns the number of API requests served (everything except the
// token endpoint), including those answered with an error or a 429.
func (s *Server) Requests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests
}

// TokenRequests returns the number of requests to POST /oauth2/v1/token.
func (s *Server) TokenRequests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.tokenReq
}

// reply is what a handler answers; it is written after the lock is released.
type reply struct {
	status int
	body   []byte
}

// call is one API request as the handlers see it.
type call struct {
	srv   *Server
	r     *http.Request
	h     http.Header // response headers
	segs  []string    // decoded path segments
	query url.Values
	who   principal
}

type principal struct {
	bearer   bool
	perms    permSet
	clientID string // service app of a Bearer token
	tokenID  string // id of an SSWS token
}

// ServeHTTP answers one request.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("X-Okta-Request-Id", randomID(27))
	if s.rateClock != nil {
		h.Set("Date", s.wall().UTC().Format(http.TimeFormat))
	}
	rep := s.serve(r, h)
	if rep.body != nil {
		h.Set("Content-Type", "application/json")
		h.Set("Content-Length", strconv.Itoa(len(rep.body)))
	}
	w.WriteHeader(rep.status)
	if rep.body != nil && r.Method != http.MethodHead {
		_, _ = w.Write(rep.body)
	}
}

func (s *Server) serve(r *http.Request, h http.Header) reply {
	segs, ok := splitPath(r)
	rt, found, allowed := s.route(r.Method, segs)
	if ok && found && allowed && rt.token {
		return s.handleToken(r, h)
	}
	// Read the body before taking the lock, so a slow client holds up no one.
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		return oktaErr(http.StatusBadRequest, "E0000003", "The request body was not well-formed.")
	}
	r.Body = io.NopCloser(bytes.NewReader(body))

	s.mu.Lock()
	defer s.mu.Unlock()
	s.release()
	s.requests++
	name := "other"
	if found {
		name = rt.bucket
	}
	if s.force429 > 0 {
		s.force429--
		wall := s.wall()
		h.Set("X-Rate-Limit-Limit", strconv.Itoa(s.limit))
		h.Set("X-Rate-Limit-Remaining", "0")
		h.Set("X-Rate-Limit-Reset", strconv.FormatInt(wall.Unix()+1, 10))
		return errTooMany()
	}
	if !s.consume(name, h) {
		return errTooMany()
	}
	if !ok || !found {
		return oktaErr(http.StatusNotFound, "E0000008", "The requested path was not found")
	}
	if !allowed {
		h.Set("Allow", strings.Join(rt.methods, ", "))
		return oktaErr(http.StatusMethodNotAllowed, "E0000022", "The endpoint does not support the provided HTTP method")
	}
	who, rep, authed := s.authenticate(r, h)
	if !authed {
		return rep
	}
	if !who.perms.has(rt.perm) {
		if who.bearer {
			h.Set("WWW-Authenticate", `Bearer error="insufficient_scope", error_description="The access token provided does not contain the required scopes."`)
		}
		return oktaErr(http.StatusForbidden, "E0000006", "You do not have permission to perform the requested action")
	}
	return rt.handle(s, &call{srv: s, r: r, h: h, segs: segs, query: r.URL.Query(), who: who})
}

// wall is the clock of rate-limit windows and of the Date header.
func (s *Server) wall() time.Time {
	if s.rateClock != nil {
		return s.rateClock()
	}
	return time.Now()
}

// consume spends one request of a bucket's budget and sets the
// X-Rate-Limit-* headers; it reports false when the budget is exhausted.
func (s *Server) consume(name string, h http.Header) bool {
	wall := s.wall()
	b := s.buckets[name]
	if b == nil || !wall.Before(b.start.Add(s.window)) {
		b = &bucket{start: wall}
		s.buckets[name] = b
	}
	reset := b.start.Add(s.window)
	resetSec := reset.Unix()
	if reset.Nanosecond() != 0 {
		resetSec++
	}
	h.Set("X-Rate-Limit-Limit", strconv.Itoa(s.limit))
	h.Set("X-Rate-Limit-Reset", strconv.FormatInt(resetSec, 10))
	if b.used >= s.limit {
		h.Set("X-Rate-Limit-Remaining", "0")
		return false
	}
	b.used++
	h.Set("X-Rate-Limit-Remaining", strconv.Itoa(s.limit-b.used))
	return true
}

func (s *Server) authenticate(r *http.Request, h http.Header) (principal, reply, bool) {
	auth := strings.TrimSpace(r.Header.Get("Authorization"))
	scheme, cred, _ := strings.Cut(auth, " ")
	cred = strings.TrimSpace(cred)
	switch {
	case strings.EqualFold(scheme, "SSWS") && cred != "":
		tok, ok := s.sswsToken[cred]
		if !ok {
			return principal{}, oktaErr(http.StatusUnauthorized, "E0000011", "Invalid token provided"), false
		}
		return principal{perms: tok.perms, tokenID: tok.id}, reply{}, true
	case strings.EqualFold(scheme, "Bearer") && cred != "":
		at, ok := s.access[cred]
		if !ok || !time.Now().Before(at.expires) {
			if ok {
				delete(s.access, cred)
			}
			h.Set("WWW-Authenticate", `Bearer authorization_uri="`+s.org(r)+`/oauth2/v1/authorize", realm="IdpAuthorizationServer", error="invalid_token", error_description="The token is not valid."`)
			return principal{}, oktaErr(http.StatusUnauthorized, "E0000011", "Invalid token provided"), false
		}
		return principal{bearer: true, perms: at.scopes, clientID: at.clientID}, reply{}, true
	}
	return principal{}, oktaErr(http.StatusUnauthorized, "E0000005", "Invalid session"), false
}

// org returns the org URL: Options.OrgURL, or the scheme and host of r.
func (s *Server) org(r *http.Request) string {
	if s.orgURL != "" {
		return s.orgURL
	}
	return scheme(r) + "://" + r.Host
}

func scheme(r *http.Request) string {
	if p := r.Header.Get("X-Forwarded-Proto"); p == "http" || p == "https" {
		return p
	}
	if r.TLS != nil {
		return "https"
	}
	return "http"
}

// splitPath returns the URL-decoded segments of the request path, so that
// "/api/v1/users/a%2Fb@x" gives [api v1 users a/b@x].
func splitPath(r *http.Request) ([]string, bool) {
	p := r.URL.EscapedPath()
	if !strings.HasPrefix(p, "/") {
		return nil, false
	}
	raw := strings.Split(p[1:], "/")
	segs := make([]string, len(raw))
	for i, seg := range raw {
		d, err := url.PathUnescape(seg)
		if err != nil || d == "" {
			return nil, false
		}
		segs[i] = d
	}
	return segs, true
}

// route describes one endpoint.
type route struct {
	methods []string
	bucket  string
	perm    Permission
	token   bool
	handle  func(*Server, *call) reply
}

type endpoint map[string]route // by method

// route finds the endpoint for a method and path: found says whether the
// path exists, allowed whether the method does.
func (s *Server) route(method string, segs []string) (rt route, found, allowed bool) {
	ep := lookupEndpoint(segs)
	if ep == nil {
		return route{}, false, false
	}
	var methods []string
	for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodDelete} {
		if _, ok := ep[m]; ok {
			methods = append(methods, m)
		}
	}
	if method == http.MethodHead {
		method = http.MethodGet
	}
	rt, ok := ep[method]
	if !ok {
		return route{methods: methods}, true, false
	}
	rt.methods = methods
	return rt, true, true
}

func lookupEndpoint(segs []string) endpoint {
	n := len(segs)
	at := func(i int, v string) bool { return i < n && segs[i] == v }
	if at(0, "oauth2") && at(1, "v1") && n == 3 {
		switch segs[2] {
		case "token":
			return endpoint{http.MethodPost: {bucket: "oauth2-token", token: true}}
		case "global-token-revocation":
			return endpoint{http.MethodPost: {bucket: "gtr", perm: PermUniversalLogout, handle: (*Server).handleGTR}}
		}
		return nil
	}
	if !at(0, "api") || !at(1, "v1") || n < 3 {
		return nil
	}
	switch segs[2] {
	case "logs":
		if n == 3 {
			return endpoint{http.MethodGet: {bucket: "logs", perm: PermLogs, handle: (*Server).handleLogs}}
		}
	case "sessions":
		if n == 4 {
			return endpoint{
				http.MethodGet:    {bucket: "sessions", perm: PermRead, handle: (*Server).handleGetSession},
				http.MethodDelete: {bucket: "sessions", perm: PermManage, handle: (*Server).handleEndSession},
			}
		}
	case "users":
		return usersEndpoint(segs[3:])
	}
	return nil
}

func usersEndpoint(rest []string) endpoint {
	read := func(h func(*Server, *call) reply) route {
		return route{bucket: "users-read", perm: PermRead, handle: h}
	}
	write := func(h func(*Server, *call) reply) route {
		return route{bucket: "users-write", perm: PermManage, handle: h}
	}
	switch len(rest) {
	case 0:
		return endpoint{http.MethodGet: {bucket: "users-list", perm: PermRead, handle: (*Server).handleListUsers}}
	case 1:
		return endpoint{http.MethodGet: read((*Server).handleGetUser), http.MethodDelete: write((*Server).handleDeleteUser)}
	case 2:
		switch rest[1] {
		case "sessions":
			return endpoint{http.MethodDelete: write((*Server).handleClearSessions)}
		case "grants":
			return endpoint{http.MethodGet: read((*Server).handleListGrants), http.MethodDelete: write((*Server).handleRevokeGrants)}
		case "clients":
			return endpoint{http.MethodGet: read((*Server).handleListClients)}
		case "factors":
			return endpoint{http.MethodGet: read((*Server).handleListFactors)}
		}
	case 3:
		switch rest[1] {
		case "lifecycle":
			switch rest[2] {
			case "suspend", "unsuspend", "deactivate", "unlock":
				return endpoint{http.MethodPost: write((*Server).handleLifecycle)}
			}
		case "grants":
			return endpoint{http.MethodGet: read((*Server).handleGetGrant), http.MethodDelete: write((*Server).handleRevokeGrant)}
		}
	case 4:
		if rest[1] == "clients" {
			switch rest[3] {
			case "tokens":
				return endpoint{http.MethodGet: read((*Server).handleListTokens), http.MethodDelete: write((*Server).handleRevokeTokens)}
			case "grants":
				return endpoint{http.MethodGet: read((*Server).handleListClientGrants), http.MethodDelete: write((*Server).handleRevokeClientGrants)}
			}
		}
	case 5:
		if rest[1] == "clients" && rest[3] == "tokens" {
			return endpoint{http.MethodGet: read((*Server).handleGetToken), http.MethodDelete: write((*Server).handleRevokeToken)}
		}
	}
	return nil
}

// --- replies -------------------------------------------------------------

type errorCause struct {
	ErrorSummary string `json:"errorSummary"`
}

type oktaError struct {
	ErrorCode    string       `json:"errorCode"`
	ErrorSummary string       `json:"errorSummary"`
	ErrorLink    string       `json:"errorLink"`
	ErrorID      string       `json:"errorId"`
	ErrorCauses  []errorCause `json:"errorCauses"`
}

// oktaErr is an Okta error body with a fresh errorId.
func oktaErr(status int, code, summary string, causes ...string) reply {
	e := oktaError{ErrorCode: code, ErrorSummary: summary, ErrorLink: code, ErrorID: "oae" + randomID(22), ErrorCauses: []errorCause{}}
	for _, c := range causes {
		e.ErrorCauses = append(e.ErrorCauses, errorCause{c})
	}
	return jsonReply(status, e)
}

func errTooMany() reply {
	return oktaErr(http.StatusTooManyRequests, "E0000047", "API call exceeded rate limit due to too many requests.")
}

func errNotFound(what, kind string) reply {
	return oktaErr(http.StatusNotFound, "E0000007", "Not found: Resource not found: "+what+" ("+kind+")")
}

func jsonReply(status int, v any) reply {
	b, err := json.Marshal(v)
	if err != nil {
		return reply{status: http.StatusInternalServerError, body: []byte(`{"errorCode":"E0000009","errorSummary":"Internal Server Error","errorLink":"E0000009","errorId":"oae0","errorCauses":[]}`)}
	}
	return reply{status: status, body: b}
}

func noContent() reply { return reply{status: http.StatusNoContent} }

// --- ids -----------------------------------------------------------------

const alnum = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

// randomID is an unpredictable id (request ids, error ids, access tokens).
func randomID(n int) string {
	b := make([]byte, n)
	max := big.NewInt(int64(len(alnum)))
	for i := range b {
		v, err := rand.Int(rand.Reader, max)
		if err != nil {
			panic(err)
		}
		b[i] = alnum[v.Int64()]
	}
	return string(b)
}

// seededID is a deterministic id drawn from rng.
func seededID(rng *mrand.Rand, prefix string, n int) string {
	b := make([]byte, len(prefix)+n)
	copy(b, prefix)
	for i := len(prefix); i < len(b); i++ {
		b[i] = alnum[rng.IntN(len(alnum))]
	}
	return string(b)
}

// clientIP is the host part of r.RemoteAddr.
func clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// oktaTime formats t as Okta does: UTC with milliseconds.
func oktaTime(t time.Time) string {
	return t.UTC().Format("2006-01-02T15:04:05.000Z")
}

// optTime is oktaTime, or null for the zero time.
func optTime(t time.Time) *string {
	if t.IsZero() {
		return nil
	}
	s := oktaTime(t)
	return &s
}
