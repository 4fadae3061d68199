package apps

import (
	"crypto"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"strings"
	"sync"
	"time"

	"ulc/actions/gtr"
)

// App is one running demo application: a GTR receiver with its own accounts
// and sessions. It is safe for concurrent use.
type App struct {
	spec   Spec
	dir    *directory
	issuer string // Options.Issuer without a trailing slash
	url    string

	token     string // bearer apps: the one valid token
	tokenFile string // bearer apps: relative to the fleet's Dir
	pub       crypto.PublicKey
	keyFile   string // jwt apps: relative to the fleet's Dir
	keyID     string // jwt apps

	srv       *http.Server // nil for Down
	served    chan struct{}
	done      chan struct{} // closed by close, ends Slow waits
	closeOnce sync.Once

	known map[string]bool // user IDs with an account here; read-only after start

	mu       sync.Mutex
	sessions map[string]int       // user ID → live sessions
	received []Received           // every request answered, newest last
	attempts map[string]int       // per user: requests that got past the body check
	jtis     map[string]time.Time // jti → when VerifyJWT stops accepting it anyway
}

// Name returns the app's name, which is also its target name.
func (a *App) Name() string { return a.spec.Name }

// URL returns the app's GTR endpoint, such as
// http://127.0.0.1:PORT/global-token-revocation. For a Down app it is a
// port that refuses connections.
func (a *App) URL() string { return a.url }

// Spec returns the app's spec, with defaults filled in (Behaviour, Delay
// of a Slow app, Alg of a jwt app).
func (a *App) Spec() Spec { return a.spec }

// Knows reports whether the user with this Okta id has an account here, so
// a GTR request for them is answered 204 rather than 404.
func (a *App) Knows(userID string) bool { return a.known[userID] }

// Sessions returns the number of live sessions the user has here: 0 after a
// successful revocation, and for users without an account.
func (a *App) Sessions(userID string) int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.sessions[userID]
}

// Received returns every GTR request the app has answered, newest last.
func (a *App) Received() []Received {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]Received(nil), a.received...)
}

// close stops the app's server; Slow requests in flight give up.
func (a *App) close() error {
	var err error
	a.closeOnce.Do(func() {
		close(a.done)
		if a.srv != nil {
			err = a.srv.Close()
			<-a.served
		}
	})
	return err
}

// serveGTR answers one GTR request and records it.
func (a *App) serveGTR(w http.ResponseWriter, r *http.Request) {
	rec := Received{Time: time.Now()}
	w.Header().Set("Cache-Control", "no-store")
	rec.Status = a.handle(w, r, &rec)
	a.mu.Lock()
	a.received = append(a.received, rec)
	a.mu.Unlock()
}

// handle checks a request in the order the draft and Okta suggest (method,
// content type, credential, body, user, logout), answers it, and returns the
// status answered: 0 when the caller left, or the app closed, first.
func (a *App) handle(w http.ResponseWriter, r *http.Request, rec *Received) int {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		return fail(w, http.StatusMethodNotAllowed, "invalid_request", "the GTR endpoint accepts only POST")
	}
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		return fail(w, http.StatusBadRequest, "invalid_request", "Content-Type must be application/json")
	}

	if msg, missing := a.authenticate(r, rec); msg != "" {
		if missing {
			w.Header().Set("WWW-Authenticate", `Bearer realm="`+a.spec.Name+`"`)
		} else {
			w.Header().Set("WWW-Authenticate", `Bearer realm="`+a.spec.Name+`", error="invalid_token"`)
		}
		return fail(w, http.StatusUnauthorized, "invalid_token", msg)
	}
	rec.AuthOK = true

	// Read the body before a Slow wait: only once it is consumed does the
	// server notice a caller that gives up, and cancel r.Context().
	data, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBody))
	if a.spec.Behaviour == Slow {
		t := time.NewTimer(a.spec.Delay)
		defer t.Stop()
		select {
		case <-t.C:
		case <-r.Context().Done():
			return 0
		case <-a.done:
			return 0
		}
	}
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return fail(w, http.StatusRequestEntityTooLarge, "invalid_request", "the body is larger than 64 KiB")
		}
		return fail(w, http.StatusBadRequest, "invalid_request", "cannot read the body")
	}
	key, subj, err := gtr.ParseBody(data)
	rec.BodyKey = clip(key)
	if subj != nil {
		rec.Format = clip(subj.Format())
	}
	if err != nil {
		return fail(w, http.StatusBadRequest, "invalid_request", err.Error())
	}
	if want := a.bodyKey(); key != want {
		return fail(w, http.StatusBadRequest, "invalid_request", "this app reads the body key "+want+", not "+clip(key))
	}
	if subj.Format() != a.spec.Subject {
		return fail(w, http.StatusBadRequest, "invalid_request", "unsupported subject format "+clip(subj.Format())+"; this app accepts "+a.spec.Subject)
	}

	u, found := a.lookup(subj)
	if found {
		rec.User = u.ID
	}

	switch a.spec.Behaviour {
	case Flaky:
		if a.attempt(found, u, subj) <= 2 {
			return fail(w, http.StatusServiceUnavailable, "temporarily_unavailable", "the session store is not answering; try again")
		}
	case RateLimited:
		if a.attempt(found, u, subj) == 1 {
			w.Header().Set("Retry-After", "1")
			return fail(w, http.StatusTooManyRequests, "rate_limited", "too many requests; retry after 1 s")
		}
	}

	if !found {
		return fail(w, http.StatusNotFound, "user_not_found", "no such user at "+a.spec.Name)
	}
	a.mu.Lock()
	n := a.sessions[u.ID]
	a.sessions[u.ID] = 0
	a.mu.Unlock()
	if a.spec.Behaviour == OK200 {
		return writeJSON(w, http.StatusOK, map[string]int{"revoked_sessions": n})
	}
	w.WriteHeader(http.StatusNoContent)
	return http.StatusNoContent
}

// bodyKey is the only body key the app reads.
func (a *App) bodyKey() string {
	if a.spec.Behaviour == Legacy {
		return gtr.BodyKeySubject
	}
	return gtr.BodyKeySubID
}

// authenticate checks the request's credential. It returns "" when the
// credential is valid, else why not, and whether it was missing altogether.
// The credential itself never leaves this function; only a JWT's jti is
// recorded.
func (a *App) authenticate(r *http.Request, rec *Received) (msg string, missing bool) {
	scheme, tok, _ := strings.Cut(r.Header.Get("Authorization"), " ")
	tok = strings.TrimSpace(tok)
	if !strings.EqualFold(scheme, "Bearer") || tok == "" {
		return "missing bearer credential", true
	}
	switch a.spec.Auth {
	case AuthBearer:
		// Compare digests so that neither content nor length leaks through
		// timing.
		got, want := sha256.Sum256([]byte(tok)), sha256.Sum256([]byte(a.token))
		if subtle.ConstantTimeCompare(got[:], want[:]) != 1 {
			return "invalid bearer token", false
		}
		return "", false
	case AuthJWT:
		now := time.Now()
		c, kid, err := verifyJWT(tok, a.pub, a.url, now, JWTSkew)
		rec.JTI = clip(c.ID)
		switch {
		case err != nil:
			return "invalid JWT: " + err.Error(), false
		case c.Issuer != JWTIssuer:
			return "JWT iss is not " + JWTIssuer, false
		case c.Subject != a.spec.Name+"-client":
			return "JWT sub is not " + a.spec.Name + "-client", false
		}
		if kid != "" && kid != a.keyID {
			return "JWT kid is not " + a.keyID, false
		}
		a.mu.Lock()
		defer a.mu.Unlock()
		for id, until := range a.jtis {
			if now.After(until) {
				delete(a.jtis, id)
			}
		}
		if _, seen := a.jtis[c.ID]; seen {
			return "JWT jti already used (replay)", false
		}
		a.jtis[c.ID] = time.Unix(c.Expires, 0).Add(JWTSkew)
		return "", false
	}
	return "no credential configured", false
}

// lookup finds the user a subject names, among those with an account here:
// email case-insensitively, opaque by Okta id, iss_sub by Okta issuer and id.
func (a *App) lookup(s gtr.Subject) (User, bool) {
	var (
		u  User
		ok bool
	)
	switch s.Format() {
	case gtr.FormatEmail:
		u, ok = a.dir.byEmail[strings.ToLower(s["email"])]
	case gtr.FormatOpaque:
		u, ok = a.dir.byID[s["id"]]
	case gtr.FormatIssSub:
		if strings.TrimRight(s["iss"], "/") == a.issuer {
			u, ok = a.dir.byID[s["sub"]]
		}
	}
	if !ok || !a.known[u.ID] {
		return User{}, false
	}
	return u, true
}

// attempt counts a request that got past the body check, per user (per
// subject when it names nobody here), and returns the count so far.
func (a *App) attempt(found bool, u User, s gtr.Subject) int {
	key := "user " + u.ID
	if !found {
		norm := gtr.Subject{}
		for k, v := range s {
			norm[k] = v
		}
		if norm.Format() == gtr.FormatEmail {
			norm["email"] = strings.ToLower(norm["email"])
		}
		b, _ := json.Marshal(norm)
		key = "subject " + string(b)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	a.attempts[key]++
	return a.attempts[key]
}

// serveSessions answers GET /sessions?user=<okta id> with the user's live
// session count here, for inspection by the demo and by tests.
func (a *App) serveSessions(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		fail(w, http.StatusMethodNotAllowed, "invalid_request", "use GET")
		return
	}
	id := r.URL.Query().Get("user")
	if id == "" {
		fail(w, http.StatusBadRequest, "invalid_request", "give the user's Okta id: /sessions?user=00u…")
		return
	}
	writeJSON(w, http.StatusOK, struct {
		User     string `json:"user"`
		Known    bool   `json:"known"`
		Sessions int    `json:"sessions"`
	}{id, a.Knows(id), a.Sessions(id)})
}

// fail answers an error in the OAuth style and returns its status.
func fail(w http.ResponseWriter, status int, code, desc string) int {
	return writeJSON(w, status, map[string]string{"error": code, "error_description": desc})
}

// writeJSON answers v as JSON and returns status.
func writeJSON(w http.ResponseWriter, status int, v any) int {
	b, _ := json.Marshal(v)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
	return status
}

// clip bounds caller-supplied strings kept in Received.
func clip(s string) string {
	const limit = 128
	if len(s) > limit {
		return s[:limit]
	}
	return s
}
