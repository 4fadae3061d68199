// Package apps runs demo target applications that implement the receiving
// side of Global Token Revocation (draft-parecki-oauth-global-token-revocation)
// faithfully, each a real HTTP server on its own 127.0.0.1 port.
//
// They exist so that `ulc demo`, tests and drills can revoke a user across a
// dozen applications without any set-up, and watch what real receivers do:
// answer 204 and end the user's sessions, 404 for a user they never had, 401
// for a wrong credential, 400 for a body they do not read, and the usual
// trouble (a slow app, a flaky one, one that is down, one stuck on the old
// body key, one that answers 200 like Auth0). Every app checks a request in
// the draft's order: method (405), content type (400), credential (401),
// body (400, 413), user lookup (404), then logout (204, or 200 for OK200).
//
// Start writes a targets.toml for the fleet, with the token files and signing
// keys it names, that config.Load accepts as is, so ulc can run against the
// fleet without edits.
package apps

import (
	"context"
	"crypto"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"time"

	"ulc/actions/gtr"
)

// User is one person in the directory the apps know: the same people the
// Okta fake serves.
type User struct {
	// ID is the user's Okta id (00u…): what opaque and iss_sub subjects carry.
	ID string
	// Login is the user's Okta login.
	Login string
	// Email is the user's primary email: what email subjects carry.
	Email string
}

// Behaviour is how an app misbehaves, if it does. Every behaviour applies
// only after the credential has been checked: an unauthenticated caller
// always gets a quick 401.
type Behaviour string

// The behaviours an app can have.
const (
	// Normal answers 204 and ends the user's sessions.
	Normal Behaviour = "normal"
	// Slow answers like Normal, but only after Spec.Delay (default 2 s).
	Slow Behaviour = "slow"
	// Flaky answers 503 to the first two requests per user, then like
	// Normal.
	Flaky Behaviour = "flaky"
	// Down has nothing listening: its URL is a port that was bound and
	// released, so connections are refused.
	Down Behaviour = "down"
	// Legacy reads only the pre -03 body key "subject" and answers 400 to
	// "sub_id".
	Legacy Behaviour = "legacy"
	// OK200 answers 200 with a JSON body, {"revoked_sessions":N}, instead of
	// 204, as Auth0 does.
	OK200 Behaviour = "ok200"
	// RateLimited answers 429 with Retry-After: 1 to the first request per
	// user, then like Normal.
	RateLimited Behaviour = "rate_limited"
)

// Subject identifier formats an app can expect (RFC 9493).
const (
	// SubjectEmail names the user by email, compared case-insensitively.
	SubjectEmail = gtr.FormatEmail
	// SubjectOpaque names the user by Okta id.
	SubjectOpaque = gtr.FormatOpaque
	// SubjectIssSub names the user by Okta issuer and Okta id.
	SubjectIssSub = gtr.FormatIssSub
)

// Ways an app authenticates a request.
const (
	// AuthBearer expects a static random token, written to <name>.token.
	AuthBearer = "bearer"
	// AuthJWT expects a signed JWT (draft -06 §3.5) verified with the
	// fleet's public key for Spec.Alg.
	AuthJWT = "jwt"
)

// JWT settings shared by every jwt app.
const (
	// JWTIssuer is the iss a jwt app expects; targets.toml sets jwt_iss to
	// it.
	JWTIssuer = "ulc-sandbox"
	// JWTSkew is the clock skew a jwt app allows on iat, nbf and exp.
	JWTSkew = 30 * time.Second
)

// Path is the path of every app's GTR endpoint.
const Path = "/global-token-revocation"

// DefaultDelay is how long a Slow app takes when Spec.Delay is zero.
const DefaultDelay = 2 * time.Second

// MaxBody is the largest request body an app reads; larger ones get 413.
const MaxBody = 64 << 10

// Spec describes one app.
type Spec struct {
	// Name identifies the app, e.g. "chat"; it is also the target name.
	Name string
	// Subject is the subject format the app expects: "email", "opaque" or
	// "iss_sub".
	Subject string
	// Auth is "bearer" or "jwt".
	Auth string
	// Alg is the JWT algorithm of a jwt app, "RS256" or "ES256"; "" means
	// RS256. Ignored for bearer apps.
	Alg string
	// Behaviour is how the app answers; "" means Normal.
	Behaviour Behaviour
	// Delay is how long a Slow app takes; 0 means DefaultDelay.
	Delay time.Duration
	// Timeout is the target's per-attempt timeout in the written
	// targets.toml; 0 leaves the file's default. A Slow app with a Delay
	// past its Timeout is one that never answers in time.
	Timeout time.Duration
	// Knows reports which users have an account, and sessions, here; nil
	// means everyone.
	Knows func(User) bool
}

// Received is one request an app answered, as the app saw it, recorded
// when the answer was written. It never holds the credential, only whether
// it was valid and, for a JWT, its jti.
type Received struct {
	// Time is when the request arrived.
	Time time.Time
	// Status is the HTTP status answered; 0 when the caller gave up, or
	// the app was closed, before a Slow app answered.
	Status int
	// Format is the subject format of the body, when it could be read.
	Format string
	// BodyKey is the body's key ("sub_id" or "subject"), when it could be
	// read.
	BodyKey string
	// User is the Okta id of the user the subject resolved to, if any.
	User string
	// JTI is the jti of a JWT credential, when it could be read.
	JTI string
	// AuthOK reports whether the credential was valid.
	AuthOK bool
}

// Fleet is a set of running apps and the targets.toml that describes them.
type Fleet struct {
	// Apps are the apps in Spec order.
	Apps []*App
	// Dir holds targets.toml, the token files and the signing keys.
	Dir string
	// ConfigPath is Dir/targets.toml.
	ConfigPath string

	issuer string
	mu     sync.Mutex // serialises WriteConfig
	closed bool
}

// Options configures Start.
type Options struct {
	// Dir is where targets.toml, the token files (0600) and the JWT signing
	// keys (0600) are written; it is created if missing.
	Dir string
	// Users is the directory every app draws its accounts from.
	Users []User
	// Issuer is the Okta issuer (the org URL) that iss_sub subjects must
	// carry; required when an app expects iss_sub.
	Issuer string
	// Specs are the apps to run; nil means DefaultSpecs().
	Specs []Spec
}

// nameRE is the shape config accepts for target names.
var nameRE = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)

// Start starts every app, writes the token files and signing keys, and
// writes Dir/targets.toml for them (WriteConfig with no [okta] table).
func Start(o Options) (*Fleet, error) {
	specs := o.Specs
	if specs == nil {
		specs = DefaultSpecs()
	}
	dir, err := newDirectory(o.Users)
	if err != nil {
		return nil, err
	}
	if err := checkSpecs(specs, o.Issuer); err != nil {
		return nil, err
	}
	if o.Dir == "" {
		return nil, errors.New("apps: Options.Dir is required")
	}
	if err := os.MkdirAll(o.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("apps: creating %s: %w", o.Dir, err)
	}
	keys, err := writeKeys(o.Dir, specs)
	if err != nil {
		return nil, err
	}

	f := &Fleet{Dir: o.Dir, ConfigPath: filepath.Join(o.Dir, "targets.toml"), issuer: strings.TrimRight(o.Issuer, "/")}
	// Down apps reserve their port last, so that no app of this fleet is
	// handed the port a Down app has just released.
	apps := make([]*App, len(specs))
	for _, down := range []bool{false, true} {
		for i, s := range specs {
			if (s.Behaviour == Down) != down {
				continue
			}
			a, err := startApp(s, dir, f.issuer, keys, o.Dir)
			if err != nil {
				f.Apps = compact(apps)
				_ = f.Close()
				return nil, err
			}
			apps[i] = a
		}
	}
	f.Apps = apps
	if err := WriteConfig(f, ""); err != nil {
		_ = f.Close()
		return nil, err
	}
	return f, nil
}

// compact returns the non-nil apps.
func compact(apps []*App) []*App {
	var out []*App
	for _, a := range apps {
		if a != nil {
			out = append(out, a)
		}
	}
	return out
}

// checkSpecs refuses specs that would not make a valid target.
func checkSpecs(specs []Spec, issuer string) error {
	if strings.ContainsFunc(issuer, func(r rune) bool { return r <= ' ' || r == '"' || r == '\\' || r >= 0x7f }) {
		return errors.New("apps: Options.Issuer must be printable ASCII without spaces, quotes or backslashes")
	}
	seen := map[string]bool{}
	for i, s := range specs {
		switch {
		case !nameRE.MatchString(s.Name):
			return fmt.Errorf("apps: spec #%d: name %q must be 1 to 64 letters, digits, '.', '_' or '-'", i+1, s.Name)
		case seen[s.Name]:
			return fmt.Errorf("apps: two specs are named %q", s.Name)
		case s.Subject != SubjectEmail && s.Subject != SubjectOpaque && s.Subject != SubjectIssSub:
			return fmt.Errorf("apps: %s: subject must be email, opaque or iss_sub, not %q", s.Name, s.Subject)
		case s.Subject == SubjectIssSub && issuer == "":
			return fmt.Errorf("apps: %s expects iss_sub subjects: Options.Issuer is required", s.Name)
		case s.Auth != AuthBearer && s.Auth != AuthJWT:
			return fmt.Errorf("apps: %s: auth must be bearer or jwt, not %q", s.Name, s.Auth)
		case s.Auth == AuthJWT && s.Alg != "" && s.Alg != "RS256" && s.Alg != "ES256":
			return fmt.Errorf("apps: %s: alg must be RS256 or ES256, not %q", s.Name, s.Alg)
		case s.Delay < 0:
			return fmt.Errorf("apps: %s: negative delay", s.Name)
		}
		switch s.Behaviour {
		case "", Normal, Slow, Flaky, Down, Legacy, OK200, RateLimited:
		default:
			return fmt.Errorf("apps: %s: unknown behaviour %q", s.Name, s.Behaviour)
		}
		seen[s.Name] = true
	}
	return nil
}

// Close stops every app. Requests in flight are cut off.
func (f *Fleet) Close() error {
	f.mu.Lock()
	if f.closed {
		f.mu.Unlock()
		return nil
	}
	f.closed = true
	f.mu.Unlock()
	var errs []error
	for _, a := range f.Apps {
		errs = append(errs, a.close())
	}
	return errors.Join(errs...)
}

// App returns the app called name, or nil.
func (f *Fleet) App(name string) *App {
	for _, a := range f.Apps {
		if a.spec.Name == name {
			return a
		}
	}
	return nil
}

// directory is the read-only user directory shared by every app.
type directory struct {
	users   []User
	byID    map[string]User
	byEmail map[string]User // lower-cased email
}

func newDirectory(users []User) (*directory, error) {
	d := &directory{users: users, byID: map[string]User{}, byEmail: map[string]User{}}
	for _, u := range users {
		if u.ID == "" {
			return nil, fmt.Errorf("apps: user %q has no ID", u.Login)
		}
		if _, dup := d.byID[u.ID]; dup {
			return nil, fmt.Errorf("apps: two users have ID %q", u.ID)
		}
		d.byID[u.ID] = u
		if u.Email != "" {
			e := strings.ToLower(u.Email)
			if _, dup := d.byEmail[e]; dup {
				return nil, fmt.Errorf("apps: two users have email %q", u.Email)
			}
			d.byEmail[e] = u
		}
	}
	return d, nil
}

// startApp seeds an app's accounts and starts its server (or, for Down,
// reserves a port that refuses connections).
func startApp(s Spec, dir *directory, issuer string, keys map[string]*signingKey, fleetDir string) (*App, error) {
	if s.Behaviour == "" {
		s.Behaviour = Normal
	}
	if s.Behaviour == Slow && s.Delay == 0 {
		s.Delay = DefaultDelay
	}
	if s.Auth == AuthJWT && s.Alg == "" {
		s.Alg = "RS256"
	}
	a := &App{
		spec:     s,
		dir:      dir,
		issuer:   issuer,
		done:     make(chan struct{}),
		known:    map[string]bool{},
		sessions: map[string]int{},
		attempts: map[string]int{},
		jtis:     map[string]time.Time{},
	}
	for _, u := range dir.users {
		if s.Knows == nil || s.Knows(u) {
			a.known[u.ID] = true
			a.sessions[u.ID] = sessionCount(u, s.Name)
		}
	}
	switch s.Auth {
	case AuthBearer:
		tok, err := randomToken()
		if err != nil {
			return nil, err
		}
		a.tokenFile = s.Name + ".token"
		if err := writeSecret(filepath.Join(fleetDir, a.tokenFile), []byte(tok+"\n")); err != nil {
			return nil, err
		}
		a.token = tok
	case AuthJWT:
		k := keys[s.Alg]
		a.pub, a.keyFile, a.keyID = k.pub, k.file, k.keyID
	}

	// Binding a loopback port does not block, and Start has no caller's
	// context to honour.
	var lc net.ListenConfig
	ln, err := lc.Listen(context.Background(), "tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("apps: %s: listening: %w", s.Name, err)
	}
	a.url = "http://" + ln.Addr().String() + Path
	if s.Behaviour == Down {
		// Bound and released: the port refuses connections (unless some
		// other process happens to grab it, which is unlikely soon after).
		_ = ln.Close()
		return a, nil
	}
	mux := http.NewServeMux()
	mux.HandleFunc(Path, a.serveGTR)
	mux.HandleFunc("/sessions", a.serveSessions)
	a.srv = &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 5 * time.Second,
		// The demo runs under a full-screen console: never write to stderr.
		ErrorLog: log.New(io.Discard, "", 0),
	}
	a.served = make(chan struct{})
	go func() {
		defer close(a.served)
		_ = a.srv.Serve(ln)
	}()
	return a, nil
}

// sessionCount is the deterministic number of live sessions (1 to 3) a
// known user starts with at app.
func sessionCount(u User, app string) int {
	return 1 + int(hash(u, app)%3)
}

// hash is a stable hash of a user's login (or email, or id) and an app name.
func hash(u User, salt string) uint32 {
	h := fnv.New32a()
	_, _ = io.WriteString(h, strings.ToLower(loginOf(u))+"\x00"+salt)
	return h.Sum32()
}

func loginOf(u User) string {
	switch {
	case u.Login != "":
		return u.Login
	case u.Email != "":
		return u.Email
	}
	return u.ID
}

// signingKey is one of the fleet's JWT keys.
type signingKey struct {
	pub   crypto.PublicKey
	file  string // relative to the fleet's Dir
	keyID string
}
