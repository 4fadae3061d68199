package apps

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"testing"
	"time"

	"ulc/actions/gtr"
	"ulc/config"
)

const testIssuer = "https://whiterabbit.okta.fake"

// testUsers is the directory of every test: the cast first, then extras.
var testUsers = []User{
	{ID: "00uTRINITY0001", Login: "trinity@whiterabbit.fake", Email: "trinity@whiterabbit.fake"},
	{ID: "00uNEO00000001", Login: "neo@whiterabbit.fake", Email: "Neo@WhiteRabbit.fake"},
	{ID: "00uMORPHEUS001", Login: "morpheus@whiterabbit.fake", Email: "morpheus@whiterabbit.fake"},
	{ID: "00uTANK0000001", Login: "tank@whiterabbit.fake", Email: "tank@whiterabbit.fake"},
	{ID: "00uDOZER000001", Login: "dozer@whiterabbit.fake", Email: "dozer@whiterabbit.fake"},
	{ID: "00uSWITCH00001", Login: "switch@whiterabbit.fake", Email: "switch@whiterabbit.fake"},
	{ID: "00uAPOC0000001", Login: "apoc@whiterabbit.fake", Email: "apoc@whiterabbit.fake"},
	{ID: "00uMOUSE000001", Login: "mouse@whiterabbit.fake", Email: "mouse@whiterabbit.fake"},
	{ID: "00uCYPHER00001", Login: "cypher@whiterabbit.fake", Email: "cypher@whiterabbit.fake"},
	{ID: "00uNIOBE000001", Login: "niobe@whiterabbit.fake", Email: "niobe@whiterabbit.fake"},
}

var (
	trinity  = testUsers[0]
	neo      = testUsers[1]
	morpheus = testUsers[2]
	stranger = User{ID: "00uSMITH000001", Login: "smith@agents.fake", Email: "smith@agents.fake"}
)

// harness is a running fleet with its targets.toml loaded through config,
// the way ulc loads it.
type harness struct {
	t     *testing.T
	fleet *Fleet
	cfg   *config.File
}

func start(t *testing.T, specs []Spec) *harness {
	t.Helper()
	f, err := Start(Options{Dir: t.TempDir(), Users: testUsers, Issuer: testIssuer, Specs: specs})
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		if err := f.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	cfg, err := config.Load(f.ConfigPath)
	if err != nil {
		t.Fatalf("config.Load(%s): %v", f.ConfigPath, err)
	}
	return &harness{t: t, fleet: f, cfg: cfg}
}

func (h *harness) target(name string) config.Target {
	h.t.Helper()
	ts, err := h.cfg.Select([]string{name})
	if err != nil {
		h.t.Fatalf("target %s: %v", name, err)
	}
	return ts[0]
}

func (h *harness) app(name string) *App {
	h.t.Helper()
	a := h.fleet.App(name)
	if a == nil {
		h.t.Fatalf("no app %s", name)
	}
	return a
}

// auth returns the Authorization header ulc would send to the target.
func (h *harness) auth(name string) string {
	h.t.Helper()
	t := h.target(name)
	cred, err := t.LoadCredential(nil)
	if err != nil {
		h.t.Fatalf("LoadCredential(%s): %v", name, err)
	}
	if t.Auth == config.AuthBearer {
		return "Bearer " + cred.Token()
	}
	tok, _, err := h.signer(name).Sign(t.URL, time.Now())
	if err != nil {
		h.t.Fatalf("signing for %s: %v", name, err)
	}
	return "Bearer " + tok
}

// signer returns the JWT signer ulc would use for a jwt target.
func (h *harness) signer(name string) *gtr.Signer {
	h.t.Helper()
	t := h.target(name)
	cred, err := t.LoadCredential(nil)
	if err != nil {
		h.t.Fatalf("LoadCredential(%s): %v", name, err)
	}
	return &gtr.Signer{Key: cred.Signer(), Alg: cred.Alg, KeyID: t.JWTKeyID, Iss: t.JWTIss, Sub: t.JWTSub, TTL: t.JWTTTL}
}

// body returns the request body ulc would send to the target for u.
func (h *harness) body(name string, u User) []byte {
	h.t.Helper()
	t := h.target(name)
	return bodyOf(h.t, t.BodyKey, t.Subject, u, t.SubjectIss)
}

func bodyOf(t *testing.T, key, format string, u User, iss string) []byte {
	t.Helper()
	s, err := gtr.NewSubject(format, gtr.Identity{ID: u.ID, Email: u.Email, Issuer: iss})
	if err != nil {
		t.Fatalf("NewSubject: %v", err)
	}
	b, err := gtr.Body(key, s)
	if err != nil {
		t.Fatalf("Body: %v", err)
	}
	return b
}

// revoke sends what ulc would send to the target for u.
func (h *harness) revoke(name string, u User) (int, http.Header, []byte) {
	h.t.Helper()
	return send(h.t, http.MethodPost, h.target(name).URL, "application/json", h.auth(name), h.body(name, u))
}

// send makes one request and returns the answer; the test fails on a
// transport error.
func send(t *testing.T, method, url, contentType, authz string, body []byte) (int, http.Header, []byte) {
	t.Helper()
	resp, err := do(t.Context(), method, url, contentType, authz, body)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, b
}

func do(ctx context.Context, method, url, contentType, authz string, body []byte) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, method, url, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if authz != "" {
		req.Header.Set("Authorization", authz)
	}
	c := &http.Client{Timeout: 10 * time.Second}
	return c.Do(req)
}

func decode(t *testing.T, b []byte) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("answer %q is not JSON: %v", b, err)
	}
	return m
}

func last(t *testing.T, a *App) Received {
	t.Helper()
	rs := a.Received()
	if len(rs) == 0 {
		t.Fatalf("%s received nothing", a.Name())
	}
	return rs[len(rs)-1]
}
