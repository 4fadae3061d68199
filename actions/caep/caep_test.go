package caep

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"strings"
	"testing"

	jose "github.com/go-jose/go-jose/v3"

	"ulc/actions"
	"ulc/config"
	"ulc/sandbox/caepfake"
)

func TestPushIsAcceptedAndRecorded(t *testing.T) {
	s := startFake(t, caepfake.Options{Users: []string{"alice@example.com"}})
	r := engineRun(t, loadTargets(t, fakeTarget(t, s, "itp")), nil)
	res := r.result(t, 1)
	if res.Outcome != actions.Revoked || res.HTTPStatus != http.StatusAccepted || res.Attempt != 1 || res.Error != "" {
		t.Fatalf("result = %s, want revoked 202 after 1 attempt with no error\n%s", res.Describe(), r.dump())
	}
	if n := s.SignedOut("alice@example.com"); n != 1 {
		t.Errorf("SignedOut = %d, want 1", n)
	}
	ps := s.Pushes()
	if len(ps) != 1 {
		t.Fatalf("pushes = %+v", ps)
	}
	p := ps[0]
	if p.Email != "alice@example.com" || p.Issuer != s.Issuer() || p.Audience != s.URL() || p.KeyID != s.KeyID() ||
		p.InitiatingEntity != "admin" || p.Reason != "phished" || p.Txn != res.RunID {
		t.Errorf("push = %+v", p)
	}
	// The attempt records the jti it sent; the plan records the claims
	// without the per-attempt ones.
	att := r.of(actions.KindAttempt)
	if len(att) != 1 || att[0].RequestID != p.JTI {
		t.Errorf("attempt events %+v, want one with the pushed jti %s", att, p.JTI)
	}
	planned := r.of(actions.KindPlanned)
	var d actions.StepDetail
	if len(planned) != 1 || json.Unmarshal(planned[0].Detail, &d) != nil {
		t.Fatalf("planned events = %+v", planned)
	}
	var cl claims
	if err := json.Unmarshal([]byte(d.Body), &cl); err != nil {
		t.Fatalf("planned body %q: %v", d.Body, err)
	}
	ev := cl.Events[EventSessionRevoked]
	if d.Method != http.MethodPost || d.URL != s.Endpoint() || cl.Jti != "" || cl.Iat != 0 || cl.Txn != p.Txn ||
		cl.SubID.Email != "alice@example.com" || ev.Subject.User.Email != "alice@example.com" || ev.InitiatingEntity != "admin" {
		t.Errorf("planned detail = %+v, claims %+v", d, cl)
	}
	if !strings.Contains(d.Credential, "kid="+s.KeyID()) || !strings.Contains(d.Credential, "sha256:") {
		t.Errorf("planned credential %q, want the key's kid and fingerprint", d.Credential)
	}
	if got := r.plan.Residual()["itp"]; got == "" {
		t.Error("the plan shows no residual for a CAEP target")
	}
}

func TestUnknownUserIsAcceptedButNobodyIsSignedOut(t *testing.T) {
	// What Residual warns of: a receiver answers 202 before it acts.
	s := startFake(t, caepfake.Options{Users: []string{"alice@example.com"}})
	r := engineRun(t, loadTargets(t, fakeTarget(t, s, "itp")), nil, "bob@example.com")
	if res := r.result(t, 1); res.Outcome != actions.Revoked {
		t.Fatalf("result = %s", res.Describe())
	}
	if n := s.SignedOut("bob@example.com"); n != 0 {
		t.Errorf("SignedOut = %d", n)
	}
}

func TestThrottledPushIsRetriedAfterRetryAfterThenAccepted(t *testing.T) {
	s := startFake(t, caepfake.Options{Users: []string{"alice@example.com"}, Throttle: 1})
	r := engineRun(t, loadTargets(t, fakeTarget(t, s, "itp")), nil)
	res := r.result(t, 1)
	if res.Outcome != actions.Revoked || res.Attempt != 2 || res.Error != "" {
		t.Fatalf("result = %s, want revoked after 2 attempts\n%s", res.Describe(), r.dump())
	}
	retries := r.of(actions.KindRetry)
	if len(retries) != 1 || retries[0].HTTPStatus != http.StatusTooManyRequests || !strings.Contains(retries[0].Error, "retrying in 1s") {
		t.Errorf("retry events = %+v, want one 429 waiting the 1s Retry-After asked", retries)
	}
	// Each attempt is a new SET: a receiver refuses a replayed jti.
	att := r.of(actions.KindAttempt)
	if len(att) != 2 || att[0].RequestID == att[1].RequestID || att[0].RequestID == "" {
		t.Errorf("attempts = %+v, want two with different jtis", att)
	}
	if n := s.SignedOut("alice@example.com"); n != 1 {
		t.Errorf("SignedOut = %d, want 1", n)
	}
}

func TestThrottledPastTheRetriesFails(t *testing.T) {
	s := startFake(t, caepfake.Options{Users: []string{"alice@example.com"}, Throttle: 3})
	r := engineRun(t, loadTargets(t, fakeTarget(t, s, "itp")), nil)
	res := r.result(t, 1)
	if res.Outcome != actions.Failed || res.Attempt != 3 || res.HTTPStatus != http.StatusTooManyRequests {
		t.Fatalf("result = %s, want failed 429 after 3 attempts", res.Describe())
	}
	if !strings.Contains(res.Error, "rate limited (429)") || !strings.HasSuffix(res.Error, "check the receiver's status") {
		t.Errorf("error %q", res.Error)
	}
}

func TestReceiverRefusalsAreRejectedWithWhatToFix(t *testing.T) {
	s := startFake(t, caepfake.Options{Users: []string{"alice@example.com"}})
	denied := startFake(t, caepfake.Options{Users: []string{"alice@example.com"}, MissingPermission: true})
	tokened := startFake(t, caepfake.Options{Users: []string{"alice@example.com"}, Token: "push-secret"})
	// A proxy on another origin: the SET's aud is the proxy's, not the
	// receiver's.
	up, err := url.Parse(s.URL())
	if err != nil {
		t.Fatal(err)
	}
	proxy := httptest.NewServer(httputil.NewSingleHostReverseProxy(up))
	t.Cleanup(proxy.Close)

	cases := []struct {
		name, block, code, want string
		fake                    *caepfake.Server
	}{
		{"access denied", fakeTarget(t, denied, "itp"), "access_denied",
			"the receiver does not let issuer " + denied.Issuer() + " send this event (access_denied: ", denied},
		{"unknown kid", fakeTarget(t, s, "itp", `jwt_key_id = "not-registered"`), "invalid_key",
			"the receiver does not accept ulc's signing key kid not-registered (invalid_key: ", s},
		{"wrong issuer", fakeTarget(t, s, "itp", `jwt_iss = "https://someone.else"`), "invalid_issuer",
			"the receiver knows no transmitter with issuer https://someone.else (invalid_issuer: ", s},
		{"wrong audience", fakeTarget(t, s, "itp", `url = "`+proxy.URL+caepfake.Path+`"`), "invalid_audience",
			"the receiver is not the audience " + proxy.URL + " (invalid_audience: ", s},
		{"no push token", dropKey(fakeTarget(t, tokened, "itp"), "token_file"), "authentication_failed",
			"the receiver could not authenticate ulc (authentication_failed: ", tokened},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := engineRun(t, loadTargets(t, tc.block), nil)
			res := r.result(t, 1)
			if res.Outcome != actions.Rejected || res.Attempt != 1 || res.HTTPStatus != http.StatusBadRequest || res.ErrorCode != tc.code {
				t.Fatalf("result = %s (code %q), want rejected 400 %s after 1 attempt", res.Describe(), res.ErrorCode, tc.code)
			}
			if !strings.HasPrefix(res.Error, tc.want) {
				t.Errorf("error\n  %q\nwant it to start with\n  %q", res.Error, tc.want)
			}
			if n := tc.fake.SignedOut("alice@example.com"); n != 0 {
				t.Errorf("SignedOut = %d after a refusal", n)
			}
		})
	}
}

func TestPushTokenIsSentOnlyToTheReceiver(t *testing.T) {
	s := startFake(t, caepfake.Options{Users: []string{"alice@example.com"}, Token: "push-secret"})
	r := engineRun(t, loadTargets(t, fakeTarget(t, s, "itp")), nil)
	if res := r.result(t, 1); res.Outcome != actions.Revoked {
		t.Fatalf("result = %s", res.Describe())
	}
	if got := s.Authorizations(); len(got) != 1 || got[0] != "Bearer push-secret" {
		t.Errorf("Authorization headers %q", got)
	}
}

// TestAnswersOfAnyReceiver covers every documented RFC 8935 error code
// and the HTTP answers a push endpoint can give, against plain servers.
func TestAnswersOfAnyReceiver(t *testing.T) {
	keyPath, _ := writeKey(t, t.TempDir(), 2048)
	cases := []struct {
		name     string
		h        func(http.ResponseWriter, *http.Request, int)
		outcome  actions.Outcome
		attempts int
		code     string
		want     string // the start of the sentence
		suffix   string // its end: what to do
	}{
		{"202", func(w http.ResponseWriter, _ *http.Request, _ int) { w.WriteHeader(http.StatusAccepted) },
			actions.Revoked, 1, "", "", ""},
		{"invalid_request", answer400("invalid_request", "Failed claim validation in security event token. 'events.x': The field cannot be left blank"),
			actions.Rejected, 1, "invalid_request", "the receiver could not take the SET as sent (invalid_request: Failed claim validation", "with an email subject"},
		{"invalid_key", answer400("invalid_key", "unknown kid"),
			actions.Rejected, 1, "invalid_key", "the receiver does not accept ulc's signing key kid k1 (invalid_key: unknown kid)", "under that kid (jwt_key_id)"},
		{"invalid_issuer", answer400("invalid_issuer", "no provider"),
			actions.Rejected, 1, "invalid_issuer", "the receiver knows no transmitter with issuer https://ulc.test (invalid_issuer: no provider)", "create one for this issuer"},
		{"invalid_audience", answer400("invalid_audience", "bad aud"),
			actions.Rejected, 1, "invalid_audience", "the receiver is not the audience http://127.0.0.1:", "aud is url's origin)"},
		{"authentication_failed", answer400("authentication_failed", "who are you"),
			actions.Rejected, 1, "authentication_failed", "the receiver could not authenticate ulc (authentication_failed: who are you): if the receiver wants a push token", "trusts the key kid k1"},
		{"access_denied", answer400("access_denied", "not allowed"),
			actions.Rejected, 1, "access_denied", "the receiver does not let issuer https://ulc.test send this event (access_denied: not allowed)", "stream configuration"},
		{"unknown code", answer400("something_new", ""),
			actions.Rejected, 1, "something_new", "the receiver refused the SET (something_new)", "(issuer https://ulc.test, kid k1)"},
		{"400 without the error object", func(w http.ResponseWriter, _ *http.Request, _ int) {
			http.Error(w, "<html>bad</html>", http.StatusBadRequest)
		}, actions.Rejected, 1, "", "the receiver refused the SET (400)", "(issuer https://ulc.test, kid k1)"},
		{"hostile description", answer400("invalid_request", "\x1b[2Jgone\u202e"),
			actions.Rejected, 1, "invalid_request", "the receiver could not take the SET as sent (invalid_request: ", "with an email subject"},
		{"401", func(w http.ResponseWriter, _ *http.Request, _ int) { w.WriteHeader(http.StatusUnauthorized) },
			actions.Rejected, 1, "", "the receiver did not accept ulc's push as authenticated (401)", "set token_env or token_file"},
		{"403", func(w http.ResponseWriter, _ *http.Request, _ int) { w.WriteHeader(http.StatusForbidden) },
			actions.Rejected, 1, "", "the receiver does not let ulc push to it (403)", "in the receiver's configuration"},
		{"404 is a wrong url, not a missing user", func(w http.ResponseWriter, _ *http.Request, _ int) { w.WriteHeader(http.StatusNotFound) },
			actions.Rejected, 1, "", "the receiver has no push endpoint at url (404)", "/security/api/v1/security-events"},
		{"415", func(w http.ResponseWriter, _ *http.Request, _ int) { w.WriteHeader(http.StatusUnsupportedMediaType) },
			actions.Rejected, 1, "", "the receiver does not take application/secevent+jwt (415)", "RFC 8935 push endpoint"},
		{"503 three times", func(w http.ResponseWriter, _ *http.Request, _ int) { w.WriteHeader(http.StatusServiceUnavailable) },
			actions.Failed, 3, "", "the push failed: server error (503) (after 3 attempts); run ulc resume", "check the receiver's status"},
		{"500 then 202", func(w http.ResponseWriter, _ *http.Request, n int) {
			if n == 1 {
				w.WriteHeader(http.StatusInternalServerError)
				return
			}
			w.WriteHeader(http.StatusAccepted)
		}, actions.Revoked, 2, "", "", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rc := newRecorder(t, tc.h)
			r := engineRun(t, loadTargets(t, target("rx", rc.URL+"/events", keyPath)), nil)
			res := r.result(t, 1)
			if res.Outcome != tc.outcome || res.Attempt != tc.attempts || res.ErrorCode != tc.code {
				t.Fatalf("result = %s (code %q), want %s after %d attempts, code %q\n%s", res.Describe(), res.ErrorCode, tc.outcome, tc.attempts, tc.code, r.dump())
			}
			if rc.count() != tc.attempts {
				t.Errorf("the receiver saw %d requests, want %d", rc.count(), tc.attempts)
			}
			if !strings.HasPrefix(res.Error, tc.want) || !strings.HasSuffix(res.Error, tc.suffix) {
				t.Errorf("error\n  %q\nwant it to start with\n  %q\nand end with\n  %q", res.Error, tc.want, tc.suffix)
			}
			if strings.ContainsAny(res.Error, "\x1b\u202e\n") {
				t.Errorf("error %q carries control or bidi characters from the receiver", res.Error)
			}
			for _, ct := range rc.types {
				if ct != ContentType {
					t.Errorf("Content-Type %q, want %s", ct, ContentType)
				}
			}
		})
	}
}

func TestRedirectIsNotFollowedAndNoCredentialLeaves(t *testing.T) {
	dir := t.TempDir()
	keyPath, keyPEM := writeKey(t, dir, 2048)
	tokPath := dir + "/push-token"
	const secret = "push-token-must-not-leak-7f3a"
	if err := os.WriteFile(tokPath, []byte(secret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	elsewhere := newRecorder(t, func(w http.ResponseWriter, _ *http.Request, _ int) { w.WriteHeader(http.StatusAccepted) })
	rx := newRecorder(t, func(w http.ResponseWriter, r *http.Request, _ int) {
		http.Redirect(w, r, elsewhere.URL+"/steal?t="+secret, http.StatusTemporaryRedirect)
	})
	r := engineRun(t, loadTargets(t, target("rx", rx.URL+"/events", keyPath, `token_file = "`+tokPath+`"`)), nil)
	res := r.result(t, 1)
	if res.Outcome != actions.Rejected || res.Attempt != 1 || res.HTTPStatus != http.StatusTemporaryRedirect {
		t.Fatalf("result = %s, want rejected 307 after 1 attempt", res.Describe())
	}
	if want := "the receiver redirected the push (307) to " + elsewhere.URL + ", which ulc does not follow: set url to the push endpoint itself"; res.Error != want {
		t.Errorf("error\n  %q\nwant\n  %q", res.Error, want)
	}
	if n := elsewhere.count(); n != 0 {
		t.Errorf("the redirect was followed: the other host got %d requests (Authorization %q)", n, elsewhere.auths)
	}
	if got := rx.auths; len(got) != 1 || got[0] != "Bearer "+secret {
		t.Errorf("the receiver got Authorization %q, want the push token", got)
	}
	// Nothing the engine records or shows holds the token or the key.
	all, err := json.Marshal(r.events)
	if err != nil {
		t.Fatal(err)
	}
	keyBody := strings.Split(string(keyPEM), "\n")[3] // a line of the key's base64
	for _, needle := range []string{secret, keyBody} {
		if strings.Contains(string(all), needle) {
			t.Errorf("an event holds a secret (%.12s...)", needle)
		}
	}
}

func TestEveryRequestHoldsWhatTheProfileAsks(t *testing.T) {
	keyPath, _ := writeKey(t, t.TempDir(), 2048)
	var got []string
	var hdrs []http.Header
	rc := newRecorder(t, func(w http.ResponseWriter, r *http.Request, _ int) {
		var b strings.Builder
		buf := make([]byte, 4096)
		for {
			n, err := r.Body.Read(buf)
			b.Write(buf[:n])
			if err != nil {
				break
			}
		}
		got = append(got, b.String())
		hdrs = append(hdrs, r.Header.Clone())
		w.WriteHeader(http.StatusAccepted)
	})
	f := loadTargets(t, target("rx", rc.URL+"/events", keyPath))
	r := engineRun(t, f, nil)
	if res := r.result(t, 1); res.Outcome != actions.Revoked {
		t.Fatalf("result = %s", res.Describe())
	}
	if len(got) != 1 {
		t.Fatalf("requests = %d", len(got))
	}
	if h := hdrs[0]; h.Get("Accept") != "application/json" || h.Get("Authorization") != "" || h.Get("User-Agent") != "ulc/test" {
		t.Errorf("headers = %v", h)
	}
	jws, err := jose.ParseSigned(got[0])
	if err != nil {
		t.Fatalf("body is not a JWS: %v", err)
	}
	hd := jws.Signatures[0].Protected
	if hd.Algorithm != "RS256" || hd.KeyID != "k1" || hd.ExtraHeaders[jose.HeaderType] != "secevent+jwt" {
		t.Errorf("header = %+v", hd)
	}
	cred, err := f.Targets[0].LoadCredential(nil)
	if err != nil {
		t.Fatal(err)
	}
	payload, err := jws.Verify(cred.Signer().Public())
	if err != nil {
		t.Fatalf("signature: %v", err)
	}
	var m map[string]any
	if err := json.Unmarshal(payload, &m); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"iss", "jti", "iat", "aud", "txn", "sub_id", "events"} {
		if m[k] == nil {
			t.Errorf("claim %s missing: %s", k, payload)
		}
	}
	for _, k := range []string{"sub", "exp"} {
		if m[k] != nil {
			t.Errorf("claim %s present: a SET has none", k)
		}
	}
	if m["aud"] != rc.URL {
		t.Errorf("aud %v, want the url's origin %s", m["aud"], rc.URL)
	}
	ev, _ := m["events"].(map[string]any)[EventSessionRevoked].(map[string]any)
	if ev == nil || ev["event_timestamp"] == nil || ev["initiating_entity"] != "admin" || ev["reason_admin"].(map[string]any)["en"] == "" {
		t.Errorf("event = %v", ev)
	}
	sub, _ := ev["subject"].(map[string]any)["user"].(map[string]any)
	if sub["format"] != "email" || sub["email"] != "alice@example.com" {
		t.Errorf("event subject = %v", ev["subject"])
	}
}

func TestJWKSIsTheKeyAReceiverTrusts(t *testing.T) {
	s := startFake(t, caepfake.Options{Users: []string{"alice@example.com"}})
	keyPath, _ := writeKey(t, t.TempDir(), 3072)
	block := replaceKeys(fakeTarget(t, s, "itp"), `jwt_key_file = "`+keyPath+`"`, `jwt_key_id = "ulc-caep-2"`)
	f := loadTargets(t, block)
	cred, err := f.Targets[0].LoadCredential(nil)
	if err != nil {
		t.Fatal(err)
	}
	jwks, err := JWKS(cred, "")
	if err != nil {
		t.Fatal(err)
	}
	var raw struct {
		Keys []map[string]any `json:"keys"`
	}
	if err := json.Unmarshal(jwks, &raw); err != nil || len(raw.Keys) != 1 {
		t.Fatalf("JWKS %s: %v", jwks, err)
	}
	k := raw.Keys[0]
	if k["kty"] != "RSA" || k["kid"] != "ulc-caep-2" || k["alg"] != "RS256" || k["use"] != "sig" || k["n"] == nil || k["e"] == nil {
		t.Errorf("JWK = %v", k)
	}
	for _, private := range []string{"d", "p", "q", "dp", "dq", "qi"} {
		if _, ok := k[private]; ok {
			t.Errorf("the JWKS holds the private parameter %q", private)
		}
	}
	// Before the receiver is given it, it refuses the key; after, it takes it.
	if res := engineRun(t, f, nil).result(t, 1); res.Outcome != actions.Rejected || res.ErrorCode != "invalid_key" {
		t.Fatalf("before Trust: %s", res.Describe())
	}
	if err := s.Trust(jwks); err != nil {
		t.Fatal(err)
	}
	if res := engineRun(t, f, nil).result(t, 1); res.Outcome != actions.Revoked {
		t.Fatalf("after Trust: %s", res.Describe())
	}
	if other, err := JWKS(cred, "other"); err != nil || !strings.Contains(string(other), `"kid": "other"`) {
		t.Errorf("JWKS with a kid: %s %v", other, err)
	}
	if _, err := JWKS(nil, ""); err == nil {
		t.Error("JWKS of no credential")
	}
}

func TestUserWithoutEmailIsAPlanProblem(t *testing.T) {
	register()
	keyPath, _ := writeKey(t, t.TempDir(), 2048)
	f := loadTargets(t, target("rx", "http://127.0.0.1:9/events", keyPath))
	req := actions.Request{Users: []string{"00uabcdefgh12345"}, Reason: "phished", Targets: f.Targets, Defaults: f.Defaults}
	_, err := actions.BuildPlan(t.Context(), req, actions.StaticDirectory{})
	if err == nil || !strings.Contains(err.Error(), "names the user by email address") {
		t.Fatalf("plan error %v", err)
	}
}

func TestUnreachableReceiverFails(t *testing.T) {
	keyPath, _ := writeKey(t, t.TempDir(), 2048)
	gone := httptest.NewServer(http.NotFoundHandler())
	u := gone.URL
	gone.Close()
	r := engineRun(t, loadTargets(t, target("rx", u+"/events", keyPath)), nil)
	if res := r.result(t, 1); res.Outcome != actions.Failed || res.Attempt != 3 || res.HTTPStatus != 0 {
		t.Fatalf("result = %s, want failed after 3 attempts without an answer", res.Describe())
	}
}

func TestSmallRSAKeyIsACredentialProblem(t *testing.T) {
	keyPath, _ := writeKey(t, t.TempDir(), 1024)
	f := loadTargets(t, target("rx", "http://127.0.0.1:9/events", keyPath))
	_, err := Connector{}.Open(t.Context(), f.Targets[0], actions.ConnEnv{})
	if err == nil {
		t.Fatal("a 1024-bit key was taken")
	}
	if !strings.Contains(err.Error(), "2048") {
		t.Errorf("error %q does not say what size to use", err)
	}
	if !errors.Is(err, config.ErrCredential) {
		t.Errorf("error %q does not wrap config.ErrCredential", err)
	}
}

func TestResidualIsOneSentence(t *testing.T) {
	got := (&conn{}).Residual()
	if !strings.HasPrefix(got, "Up to the receiver") || !strings.HasSuffix(got, ".") || strings.Count(got, ". ") != 0 {
		t.Errorf("Residual = %q", got)
	}
}

func TestAudienceIsTheOrigin(t *testing.T) {
	for in, want := range map[string]string{
		"https://acme.okta.com/security/api/v1/security-events": "https://acme.okta.com",
		"HTTPS://Acme.Okta.com:8443/x?y":                        "https://acme.okta.com:8443",
		"http://127.0.0.1:4104/security/api/v1/security-events": "http://127.0.0.1:4104",
	} {
		if got, err := Audience(in); err != nil || got != want {
			t.Errorf("Audience(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := Audience("/relative"); err == nil {
		t.Error("a relative url has an audience")
	}
}
