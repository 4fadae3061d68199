package apps

import (
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"ulc/actions/gtr"
)

// TestRevokeEveryFlavour sends what ulc sends to each app that answers at
// once, for a user it knows: 204 (200 for files) and no sessions left.
func TestRevokeEveryFlavour(t *testing.T) {
	h := start(t, nil)
	cases := []struct {
		app    string
		user   User
		status int
	}{
		{"chat", trinity, 204},      // email, bearer
		{"wiki", trinity, 204},      // email, bearer
		{"crm", neo, 204},           // opaque, bearer
		{"payroll", trinity, 204},   // iss_sub, bearer
		{"tickets", morpheus, 204},  // email, bearer
		{"files", trinity, 200},     // ok200
		{"vpn", trinity, 204},       // email, jwt ES256
		{"ledger", trinity, 204},    // iss_sub, jwt RS256
		{"legacy-hr", trinity, 204}, // body key "subject"
		{"legacy-hr", neo, 204},     // mixed-case email
		{"mail-archive", neo, 503},  // flaky: first attempt; TestFlaky goes on
	}
	// analytics (slow, 2 s) is left to TestSlow, with a short delay.
	for _, c := range cases {
		a := h.app(c.app)
		before := a.Sessions(c.user.ID)
		if before < 1 {
			t.Fatalf("%s: %s starts with %d sessions, want at least 1", c.app, c.user.Login, before)
		}
		status, hdr, body := h.revoke(c.app, c.user)
		if status != c.status {
			t.Fatalf("%s: status %d (%s), want %d", c.app, status, body, c.status)
		}
		r := last(t, a)
		if r.Status != c.status || !r.AuthOK || r.User != c.user.ID || r.Format != h.target(c.app).Subject || r.BodyKey != h.target(c.app).BodyKey {
			t.Errorf("%s: Received %+v", c.app, r)
		}
		if c.status == 503 {
			if a.Sessions(c.user.ID) != before {
				t.Errorf("%s: a 503 ended sessions", c.app)
			}
			continue
		}
		if got := a.Sessions(c.user.ID); got != 0 {
			t.Errorf("%s: %d sessions left after %d", c.app, got, status)
		}
		if c.status == 200 {
			if ct := hdr.Get("Content-Type"); ct != "application/json" {
				t.Errorf("%s: Content-Type %q", c.app, ct)
			}
			if m := decode(t, body); m["revoked_sessions"] != float64(before) {
				t.Errorf("%s: body %s, want revoked_sessions %d", c.app, body, before)
			}
		} else if len(body) != 0 {
			t.Errorf("%s: 204 with a body %q", c.app, body)
		}
		if c.app == "vpn" && r.JTI == "" {
			t.Errorf("vpn: no jti recorded")
		}
	}

	// Idempotent: a known user with no sessions left still gets 204.
	if status, _, body := h.revoke("chat", trinity); status != 204 {
		t.Errorf("second revocation: %d %s, want 204", status, body)
	}
	// Other users keep their sessions.
	if h.app("chat").Sessions(neo.ID) == 0 {
		t.Errorf("revoking trinity ended neo's sessions")
	}
}

// TestEmailCaseInsensitive: an email in another case names the same user.
func TestEmailCaseInsensitive(t *testing.T) {
	h := start(t, []Spec{{Name: "chat", Subject: SubjectEmail, Auth: AuthBearer}})
	body := bodyOf(t, gtr.BodyKeySubID, gtr.FormatEmail, User{Email: strings.ToUpper(neo.Email)}, "")
	if status, _, b := send(t, "POST", h.target("chat").URL, "application/json", h.auth("chat"), body); status != 204 {
		t.Fatalf("status %d %s, want 204", status, b)
	}
	if n := h.app("chat").Sessions(neo.ID); n != 0 {
		t.Fatalf("%d sessions left", n)
	}
}

func TestUnknownUser(t *testing.T) {
	h := start(t, nil)
	cases := []struct {
		app  string
		body []byte
	}{
		{"crm", h.body("crm", trinity)},    // the demo's 404: no account at crm
		{"chat", h.body("chat", stranger)}, // not in the directory
		{"vpn", h.body("vpn", stranger)},
		{"payroll", bodyOf(t, gtr.BodyKeySubID, gtr.FormatIssSub, trinity, "https://other.okta.fake")}, // another issuer
		{"legacy-hr", h.body("legacy-hr", stranger)},
	}
	for _, c := range cases {
		status, _, body := send(t, "POST", h.target(c.app).URL, "application/json", h.auth(c.app), c.body)
		if status != 404 {
			t.Errorf("%s: status %d (%s), want 404", c.app, status, body)
		}
		if r := last(t, h.app(c.app)); r.Status != 404 || r.User != "" || !r.AuthOK {
			t.Errorf("%s: Received %+v", c.app, r)
		}
	}
	if n := h.app("crm").Sessions(trinity.ID); n != 0 {
		t.Errorf("crm: trinity has %d sessions without an account", n)
	}
}

func TestAuthFailures(t *testing.T) {
	h := start(t, nil)
	now := time.Now()
	vpn, ledger := h.target("vpn"), h.target("ledger")
	vs := h.signer("vpn")

	otherAud, _, err := vs.Sign(ledger.URL, now)
	if err != nil {
		t.Fatal(err)
	}
	expired, err := gtr.SignJWT(vs.Key, vs.Alg, vs.KeyID, gtr.Claims{
		Issuer: vs.Iss, Subject: vs.Sub, Audience: vpn.URL, ID: gtr.NewJTI(),
		IssuedAt: now.Add(-10 * time.Minute).Unix(), NotBefore: now.Add(-10 * time.Minute).Unix(), Expires: now.Add(-6 * time.Minute).Unix(),
	})
	if err != nil {
		t.Fatal(err)
	}
	wrongIss := *vs
	wrongIss.Iss = "someone-else"
	badIss, _, _ := wrongIss.Sign(vpn.URL, now)
	wrongSub := *vs
	wrongSub.Sub = "ledger-client"
	badSub, _, _ := wrongSub.Sign(vpn.URL, now)
	// The RS256 key is valid for ledger, but vpn trusts only the ES256 key.
	otherKey, _, _ := h.signer("ledger").Sign(vpn.URL, now)
	chatToken := strings.TrimPrefix(h.auth("chat"), "Bearer ")
	// Algorithm confusion: an unsigned token, and an HS256 token keyed with
	// the app's own public key (which an attacker can know).
	valid := gtr.Claims{
		Issuer: vs.Iss, Subject: "ledger-client", Audience: ledger.URL, ID: gtr.NewJTI(),
		IssuedAt: now.Unix(), NotBefore: now.Unix(), Expires: now.Add(time.Minute).Unix(),
	}
	ledgerDER, err := x509.MarshalPKIXPublicKey(h.app("ledger").pub)
	if err != nil {
		t.Fatal(err)
	}
	ledgerPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: ledgerDER})
	algNone := handJWT(t, map[string]string{"alg": "none", "typ": gtr.JWTType}, valid, nil)
	hs256 := handJWT(t, map[string]string{"alg": "HS256", "typ": gtr.JWTType}, valid, ledgerPEM)

	cases := []struct {
		name, app, authz string
	}{
		{"missing", "chat", ""},
		{"wrong token", "chat", "Bearer not-the-token"},
		{"token with another scheme", "chat", "Basic " + chatToken},
		{"chat's token at wiki", "wiki", "Bearer " + chatToken},
		{"JWT for another audience", "vpn", "Bearer " + otherAud},
		{"expired JWT", "vpn", "Bearer " + expired},
		{"JWT from another issuer", "vpn", "Bearer " + badIss},
		{"JWT for another client", "vpn", "Bearer " + badSub},
		{"JWT signed with another key", "vpn", "Bearer " + otherKey},
		{"bearer token at a jwt app", "vpn", "Bearer " + chatToken},
		{"unsigned JWT (alg none)", "ledger", "Bearer " + algNone},
		{"HS256 JWT keyed with the public key", "ledger", "Bearer " + hs256},
	}
	for _, c := range cases {
		status, hdr, body := send(t, "POST", h.target(c.app).URL, "application/json", c.authz, h.body(c.app, trinity))
		if status != 401 {
			t.Errorf("%s: status %d (%s), want 401", c.name, status, body)
			continue
		}
		if !strings.HasPrefix(hdr.Get("WWW-Authenticate"), "Bearer") {
			t.Errorf("%s: WWW-Authenticate %q", c.name, hdr.Get("WWW-Authenticate"))
		}
		if r := last(t, h.app(c.app)); r.AuthOK || r.Status != 401 || r.User != "" {
			t.Errorf("%s: Received %+v", c.name, r)
		}
		if h.app(c.app).Sessions(trinity.ID) == 0 {
			t.Fatalf("%s: sessions ended without a valid credential", c.name)
		}
	}

	// A replayed jti: the first use works, the second is refused.
	tok, jti, err := vs.Sign(vpn.URL, now)
	if err != nil {
		t.Fatal(err)
	}
	if status, _, body := send(t, "POST", vpn.URL, "application/json", "Bearer "+tok, h.body("vpn", neo)); status != 204 {
		t.Fatalf("first use of a JWT: %d %s", status, body)
	}
	if status, _, body := send(t, "POST", vpn.URL, "application/json", "Bearer "+tok, h.body("vpn", trinity)); status != 401 {
		t.Fatalf("replayed JWT: %d %s, want 401", status, body)
	}
	if r := last(t, h.app("vpn")); r.JTI != jti || r.AuthOK || r.Status != 401 {
		t.Errorf("replay: Received %+v, want jti %s refused", r, jti)
	}
	if h.app("vpn").Sessions(trinity.ID) == 0 {
		t.Errorf("a replayed JWT ended sessions")
	}

	// No request record holds a credential, in any field or format.
	secrets := []string{chatToken, otherAud, expired, badIss, badSub, otherKey, tok, hs256}
	for _, a := range h.fleet.Apps {
		dump := fmt.Sprintf("%+v %#v", a.Received(), a.Received())
		for _, s := range secrets {
			if strings.Contains(dump, s) {
				t.Fatalf("%s: Received holds a credential", a.Name())
			}
			// Not even the signature part of a JWT.
			if i := strings.LastIndex(s, "."); i > 0 && strings.Contains(dump, s[i+1:]) {
				t.Fatalf("%s: Received holds a JWT signature", a.Name())
			}
		}
	}
	typ := reflect.TypeFor[Received]()
	for i := range typ.NumField() {
		if n := strings.ToLower(typ.Field(i).Name); strings.Contains(n, "token") || strings.Contains(n, "auth") && n != "authok" {
			t.Errorf("Received has a field %s that looks like it holds a credential", typ.Field(i).Name)
		}
	}
}

func TestBadRequests(t *testing.T) {
	h := start(t, []Spec{
		{Name: "chat", Subject: SubjectEmail, Auth: AuthBearer},
		{Name: "crm", Subject: SubjectOpaque, Auth: AuthBearer},
		{Name: "legacy-hr", Subject: SubjectEmail, Auth: AuthBearer, Behaviour: Legacy},
	})
	chat := h.target("chat")
	cases := []struct {
		name, app, method, ct string
		body                  []byte
		status                int
	}{
		{"sub_id at the legacy app", "legacy-hr", "POST", "application/json", bodyOf(t, gtr.BodyKeySubID, gtr.FormatEmail, trinity, ""), 400},
		{"subject at a modern app", "chat", "POST", "application/json", bodyOf(t, gtr.BodyKeySubject, gtr.FormatEmail, trinity, ""), 400},
		{"opaque at an email app", "chat", "POST", "application/json", bodyOf(t, gtr.BodyKeySubID, gtr.FormatOpaque, trinity, ""), 400},
		{"email at an opaque app", "crm", "POST", "application/json", bodyOf(t, gtr.BodyKeySubID, gtr.FormatEmail, trinity, ""), 400},
		{"iss_sub at an email app", "chat", "POST", "application/json", bodyOf(t, gtr.BodyKeySubID, gtr.FormatIssSub, trinity, testIssuer), 400},
		{"non-JSON content type", "chat", "POST", "text/plain", h.body("chat", trinity), 400},
		{"form content type", "chat", "POST", "application/x-www-form-urlencoded", h.body("chat", trinity), 400},
		{"no content type", "chat", "POST", "", h.body("chat", trinity), 400},
		{"malformed JSON", "chat", "POST", "application/json", []byte(`{"sub_id":`), 400},
		{"extra member", "chat", "POST", "application/json", []byte(`{"sub_id":{"format":"email","email":"trinity@whiterabbit.fake","id":"x"}}`), 400},
		{"two keys", "chat", "POST", "application/json", []byte(`{"sub_id":{"format":"email","email":"trinity@whiterabbit.fake"},"subject":{"format":"email","email":"trinity@whiterabbit.fake"}}`), 400},
		{"unknown format", "chat", "POST", "application/json", []byte(`{"sub_id":{"format":"phone_number","phone_number":"+12065550100"}}`), 400},
		{"too large", "chat", "POST", "application/json", []byte(`{"sub_id":{"format":"email","email":"` + strings.Repeat("a", MaxBody) + `@x.fake"}}`), 413},
		{"GET", "chat", "GET", "", nil, 405},
		{"DELETE", "chat", "DELETE", "application/json", nil, 405},
	}
	for _, c := range cases {
		status, hdr, body := send(t, c.method, h.target(c.app).URL, c.ct, h.auth(c.app), c.body)
		if status != c.status {
			t.Errorf("%s: status %d (%s), want %d", c.name, status, body, c.status)
			continue
		}
		if m := decode(t, body); m["error"] == nil {
			t.Errorf("%s: no error in %s", c.name, body)
		}
		if c.status == 405 && hdr.Get("Allow") != "POST" {
			t.Errorf("%s: Allow %q", c.name, hdr.Get("Allow"))
		}
		if h.app(c.app).Sessions(trinity.ID) == 0 {
			t.Fatalf("%s: sessions ended by a bad request", c.name)
		}
	}
	// The content type may carry parameters.
	if status, _, body := send(t, "POST", chat.URL, "application/json; charset=utf-8", h.auth("chat"), h.body("chat", trinity)); status != 204 {
		t.Errorf("application/json; charset=utf-8: %d %s", status, body)
	}
	// What the legacy app read is recorded.
	rs := h.app("legacy-hr").Received()
	if r := rs[0]; r.BodyKey != gtr.BodyKeySubID || r.Format != gtr.FormatEmail || r.Status != 400 || !r.AuthOK {
		t.Errorf("legacy-hr: Received %+v", r)
	}
}

// TestOrder: the draft's order, so a request wrong in several ways gets the
// earliest answer: method, content type, credential, body, user.
func TestOrder(t *testing.T) {
	h := start(t, []Spec{{Name: "chat", Subject: SubjectEmail, Auth: AuthBearer}})
	url := h.target("chat").URL
	junk := []byte("not json")
	for _, c := range []struct {
		method, ct, authz string
		body              []byte
		status            int
	}{
		{"GET", "text/plain", "", junk, 405},
		{"POST", "text/plain", "", junk, 400},
		{"POST", "application/json", "Bearer wrong", junk, 401},
		{"POST", "application/json", h.auth("chat"), junk, 400},
		{"POST", "application/json", h.auth("chat"), h.body("chat", stranger), 404},
	} {
		if status, _, body := send(t, c.method, url, c.ct, c.authz, c.body); status != c.status {
			t.Errorf("%+v: %d %s", c, status, body)
		}
	}
}

func TestSlow(t *testing.T) {
	const delay = 300 * time.Millisecond
	h := start(t, []Spec{
		{Name: "analytics", Subject: SubjectEmail, Auth: AuthBearer, Behaviour: Slow, Delay: delay},
		{Name: "stuck", Subject: SubjectEmail, Auth: AuthBearer, Behaviour: Slow, Delay: time.Hour},
	})
	begin := time.Now()
	status, _, body := h.revoke("analytics", trinity)
	if took := time.Since(begin); status != 204 || took < delay {
		t.Fatalf("status %d %s after %s, want 204 after at least %s", status, body, took, delay)
	}
	// A bad credential is refused at once: slowness comes after auth. An
	// app that would take an hour answers it at all only if so (send's
	// client gives up long before).
	if status, _, body := send(t, "POST", h.target("stuck").URL, "application/json", "Bearer x", h.body("stuck", trinity)); status != 401 {
		t.Fatalf("bad credential at a slow app: %d %s, want 401", status, body)
	}
	if d := h.app("analytics").Spec().Delay; d != delay {
		t.Errorf("Spec().Delay = %s", d)
	}
	// The default slow app waits about 2 s, within the written 3 s
	// timeout; the hanging one waits far past its own timeout.
	for _, s := range DefaultSpecs() {
		switch {
		case s.Behaviour != Slow:
		case s.Timeout > 0:
			if s.Delay < 10*s.Timeout {
				t.Errorf("%s: delay %s is not far past its timeout %s", s.Name, s.Delay, s.Timeout)
			}
		case s.Delay < time.Second || s.Delay > 2500*time.Millisecond:
			t.Errorf("%s: delay %s", s.Name, s.Delay)
		}
	}
}

// TestSlowGivesUpWhenTheCallerDoes: a caller that times out leaves no
// logout behind and the request is recorded as unanswered.
func TestSlowGivesUpWhenTheCallerDoes(t *testing.T) {
	h := start(t, []Spec{{Name: "analytics", Subject: SubjectEmail, Auth: AuthBearer, Behaviour: Slow, Delay: 5 * time.Second}})
	req, err := http.NewRequestWithContext(t.Context(), "POST", h.target("analytics").URL, strings.NewReader(string(h.body("analytics", trinity))))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", h.auth("analytics"))
	c := &http.Client{Timeout: 200 * time.Millisecond}
	if resp, err := c.Do(req); err == nil {
		resp.Body.Close()
		t.Fatalf("answered %d before the delay", resp.StatusCode)
	}
	deadline := time.Now().Add(3 * time.Second)
	for len(h.app("analytics").Received()) == 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if r := last(t, h.app("analytics")); r.Status != 0 || !r.AuthOK {
		t.Errorf("Received %+v, want status 0", r)
	}
	if h.app("analytics").Sessions(trinity.ID) == 0 {
		t.Errorf("sessions ended though the caller gave up")
	}
}

func TestFlaky(t *testing.T) {
	h := start(t, []Spec{{Name: "mail-archive", Subject: SubjectEmail, Auth: AuthBearer, Behaviour: Flaky}})
	for i, want := range []int{503, 503, 204, 204} {
		if status, _, body := h.revoke("mail-archive", trinity); status != want {
			t.Fatalf("attempt %d: %d %s, want %d", i+1, status, body, want)
		}
		if i < 2 && h.app("mail-archive").Sessions(trinity.ID) == 0 {
			t.Fatalf("attempt %d: a 503 ended sessions", i+1)
		}
	}
	if n := h.app("mail-archive").Sessions(trinity.ID); n != 0 {
		t.Errorf("%d sessions left", n)
	}
	// The count is per user: neo starts afresh.
	if status, _, _ := h.revoke("mail-archive", neo); status != 503 {
		t.Errorf("neo's first attempt: %d, want 503", status)
	}
	// An unknown user: 503, 503, then 404.
	for i, want := range []int{503, 503, 404} {
		if status, _, _ := h.revoke("mail-archive", stranger); status != want {
			t.Errorf("stranger attempt %d: %d, want %d", i+1, status, want)
		}
	}
}

func TestRateLimited(t *testing.T) {
	h := start(t, []Spec{{Name: "hr-portal", Subject: SubjectOpaque, Auth: AuthBearer, Behaviour: RateLimited}})
	status, hdr, body := h.revoke("hr-portal", trinity)
	if status != 429 || hdr.Get("Retry-After") != "1" {
		t.Fatalf("first: %d Retry-After %q %s, want 429 with Retry-After 1", status, hdr.Get("Retry-After"), body)
	}
	if status, _, body := h.revoke("hr-portal", trinity); status != 204 {
		t.Fatalf("second: %d %s, want 204", status, body)
	}
	if status, _, _ := h.revoke("hr-portal", neo); status != 429 {
		t.Errorf("neo's first: %d, want 429", status)
	}
}

func TestDown(t *testing.T) {
	h := start(t, nil)
	a := h.app("build-farm")
	if a.Spec().Behaviour != Down || a.URL() == "" {
		t.Fatalf("build-farm: %+v %q", a.Spec(), a.URL())
	}
	resp, err := do(t.Context(), "POST", a.URL(), "application/json", h.auth("build-farm"), h.body("build-farm", trinity))
	if err == nil {
		resp.Body.Close()
	}
	if !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("build-farm: %v, want connection refused", err)
	}
	if len(a.Received()) != 0 {
		t.Errorf("a down app received %d requests", len(a.Received()))
	}
	if a.Sessions(trinity.ID) == 0 {
		t.Errorf("a down app has no sessions to survive the run")
	}
}

func TestSessionsEndpoint(t *testing.T) {
	h := start(t, []Spec{{Name: "chat", Subject: SubjectEmail, Auth: AuthBearer}})
	base := strings.TrimSuffix(h.target("chat").URL, Path)
	want := h.app("chat").Sessions(trinity.ID)
	status, _, body := send(t, "GET", base+"/sessions?user="+trinity.ID, "", "", nil)
	if m := decode(t, body); status != 200 || m["sessions"] != float64(want) || m["known"] != true || m["user"] != trinity.ID {
		t.Fatalf("%d %s, want %d sessions", status, body, want)
	}
	h.revoke("chat", trinity)
	if _, _, body := send(t, "GET", base+"/sessions?user="+trinity.ID, "", "", nil); decode(t, body)["sessions"] != float64(0) {
		t.Fatalf("after revocation: %s", body)
	}
	if _, _, body := send(t, "GET", base+"/sessions?user="+stranger.ID, "", "", nil); decode(t, body)["known"] != false {
		t.Fatalf("stranger: %s", body)
	}
	if status, _, _ := send(t, "GET", base+"/sessions", "", "", nil); status != 400 {
		t.Fatalf("no user: %d", status)
	}
}

func TestClose(t *testing.T) {
	f, err := Start(Options{Dir: t.TempDir(), Users: testUsers, Specs: []Spec{{Name: "chat", Subject: SubjectEmail, Auth: AuthBearer}}})
	if err != nil {
		t.Fatal(err)
	}
	url := f.App("chat").URL()
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	resp, err := do(t.Context(), "POST", url, "application/json", "", nil)
	if err == nil {
		resp.Body.Close()
	}
	if !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("after Close: %v, want connection refused", err)
	}
	if f.App("nope") != nil {
		t.Fatal("App of an unknown name is not nil")
	}
}

func TestStartRefuses(t *testing.T) {
	ok := Spec{Name: "chat", Subject: SubjectEmail, Auth: AuthBearer}
	cases := []struct {
		name string
		o    Options
		says string
	}{
		{"no dir", Options{Users: testUsers, Specs: []Spec{ok}}, "Dir"},
		{"iss_sub without issuer", Options{Dir: t.TempDir(), Specs: []Spec{{Name: "p", Subject: SubjectIssSub, Auth: AuthBearer}}}, "Issuer"},
		{"duplicate user", Options{Dir: t.TempDir(), Users: []User{trinity, trinity}, Specs: []Spec{ok}}, "two users"},
		{"duplicate app", Options{Dir: t.TempDir(), Specs: []Spec{ok, ok}}, "two specs"},
		{"bad name", Options{Dir: t.TempDir(), Specs: []Spec{{Name: "a b", Subject: SubjectEmail, Auth: AuthBearer}}}, "name"},
		{"bad subject", Options{Dir: t.TempDir(), Specs: []Spec{{Name: "a", Subject: "phone_number", Auth: AuthBearer}}}, "subject"},
		{"bad auth", Options{Dir: t.TempDir(), Specs: []Spec{{Name: "a", Subject: SubjectEmail, Auth: "none"}}}, "auth"},
		{"bad alg", Options{Dir: t.TempDir(), Specs: []Spec{{Name: "a", Subject: SubjectEmail, Auth: AuthJWT, Alg: "HS256"}}}, "alg"},
		{"bad behaviour", Options{Dir: t.TempDir(), Specs: []Spec{{Name: "a", Subject: SubjectEmail, Auth: AuthBearer, Behaviour: "sulky"}}}, "behaviour"},
	}
	for _, c := range cases {
		f, err := Start(c.o)
		if err == nil {
			_ = f.Close()
			t.Errorf("%s: Start succeeded", c.name)
		} else if !strings.Contains(err.Error(), c.says) {
			t.Errorf("%s: %v, want it to mention %q", c.name, err, c.says)
		}
	}
}

// TestConcurrent: many callers at once, as a bulk run does (run with -race).
func TestConcurrent(t *testing.T) {
	h := start(t, []Spec{
		{Name: "chat", Subject: SubjectEmail, Auth: AuthBearer},
		{Name: "mail-archive", Subject: SubjectEmail, Auth: AuthBearer, Behaviour: Flaky},
	})
	type job struct {
		url   string
		u     User
		authz string
		body  []byte
	}
	var jobs []job
	for _, app := range []string{"chat", "mail-archive"} {
		for _, u := range testUsers {
			for range 3 {
				jobs = append(jobs, job{h.target(app).URL, u, h.auth(app), h.body(app, u)})
			}
		}
	}
	ctx := t.Context()
	var wg sync.WaitGroup
	errs := make(chan error, len(jobs))
	for _, j := range jobs {
		wg.Go(func() {
			// Only plain values here: h.target may call t.Fatal, which
			// must not run outside the test's goroutine.
			resp, err := do(ctx, "POST", j.url, "application/json", j.authz, j.body)
			if err != nil {
				errs <- err
				return
			}
			resp.Body.Close()
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	for _, u := range testUsers {
		for _, app := range []string{"chat", "mail-archive"} {
			if n := h.app(app).Sessions(u.ID); n != 0 {
				t.Errorf("%s: %s has %d sessions after three attempts", app, u.Login, n)
			}
		}
	}
	if n := len(h.app("chat").Received()); n != 3*len(testUsers) {
		t.Errorf("chat recorded %d requests, want %d", n, 3*len(testUsers))
	}
}
