package oktafake

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

var (
	rsaOnce sync.Once
	rsaKey  *rsa.PrivateKey
)

func testRSAKey(t *testing.T) *rsa.PrivateKey {
	rsaOnce.Do(func() {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			t.Fatal(err)
		}
		rsaKey = k
	})
	return rsaKey
}

// assertion signs client-assertion claims the way okta-sdk-golang does
// (RS256, iss = sub = client id, aud = token endpoint, iat, exp = +1h).
func assertion(t *testing.T, key crypto.Signer, alg string, claims map[string]any) string {
	t.Helper()
	enc := func(v any) string {
		b, _ := json.Marshal(v)
		return base64.RawURLEncoding.EncodeToString(b)
	}
	input := enc(map[string]string{"alg": alg, "typ": "JWT"}) + "." + enc(claims)
	sum := sha256.Sum256([]byte(input))
	var sig []byte
	var err error
	switch k := key.(type) {
	case *rsa.PrivateKey:
		sig, err = rsa.SignPKCS1v15(rand.Reader, k, crypto.SHA256, sum[:])
	case *ecdsa.PrivateKey:
		var r, s interface{ FillBytes([]byte) []byte }
		rr, ss, e := ecdsa.Sign(rand.Reader, k, sum[:])
		r, s, err = rr, ss, e
		sig = make([]byte, 64)
		r.FillBytes(sig[:32])
		s.FillBytes(sig[32:])
	}
	if err != nil {
		t.Fatal(err)
	}
	return input + "." + base64.RawURLEncoding.EncodeToString(sig)
}

func claimsFor(f *fixture, clientID string) map[string]any {
	now := time.Now()
	return map[string]any{"iss": clientID, "sub": clientID, "aud": f.ts.URL + "/oauth2/v1/token", "iat": now.Unix(), "exp": now.Add(time.Hour).Unix()}
}

type tokenAnswer struct {
	TokenType   string `json:"token_type"`
	ExpiresIn   int    `json:"expires_in"`
	AccessToken string `json:"access_token"`
	Scope       string `json:"scope"`
	Error       string `json:"error"`
	Description string `json:"error_description"`
}

// token asks for an access token with the parameters in the query string
// and an empty form body, as the SDK does.
func (f *fixture) token(jwt, scope string) (int, tokenAnswer) {
	f.t.Helper()
	v := url.Values{}
	v.Set("grant_type", "client_credentials")
	v.Set("scope", scope)
	v.Set("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer")
	v.Set("client_assertion", jwt)
	req, err := http.NewRequestWithContext(f.t.Context(), http.MethodPost, f.ts.URL+"/oauth2/v1/token?"+v.Encode(), nil)
	if err != nil {
		f.t.Fatal(err)
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := f.ts.Client().Do(req)
	if err != nil {
		f.t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		f.t.Errorf("token endpoint Content-Type %q", ct)
	}
	var a tokenAnswer
	if err := json.NewDecoder(resp.Body).Decode(&a); err != nil {
		f.t.Fatal(err)
	}
	return resp.StatusCode, a
}

func TestPrivateKeyTokenFlow(t *testing.T) {
	f := start(t, Options{})
	key := testRSAKey(t)
	f.s.AddServiceApp("0oaulcconsole", &key.PublicKey, PermRead, PermManage, PermLogs)

	status, a := f.token(assertion(t, key, "RS256", claimsFor(f, "0oaulcconsole")), "okta.users.read okta.users.manage")
	if status != http.StatusOK || a.TokenType != "Bearer" || a.ExpiresIn != 3600 || a.AccessToken == "" || a.Scope != "okta.users.read okta.users.manage" {
		t.Fatalf("token: %d %+v", status, a)
	}
	bearer := "Bearer " + a.AccessToken
	trinity := f.person("trinity")
	if resp, b := f.do(http.MethodGet, "/api/v1/users/"+trinity.ID, bearer, ""); resp.StatusCode != http.StatusOK {
		t.Fatalf("GET with bearer: %d %s", resp.StatusCode, b)
	}
	if resp, b := f.do(http.MethodDelete, "/api/v1/users/"+trinity.ID+"/sessions", bearer, ""); resp.StatusCode != http.StatusNoContent {
		t.Fatalf("clear with bearer: %d %s", resp.StatusCode, b)
	}
	// The System Log names the service app as the actor.
	evs := f.logs("/api/v1/logs?sortOrder=DESCENDING&limit=50&filter=" + q(`eventType eq "user.session.clear"`))
	if len(evs) == 0 || evs[0].Actor.ID != "0oaulcconsole" || evs[0].Actor.Type != "PublicClientApp" {
		t.Errorf("actor %+v", evs)
	}
	// logs were not requested, so the token cannot read them.
	resp, b := f.do(http.MethodGet, "/api/v1/logs", bearer, "")
	okErr(t, resp, b, http.StatusForbidden, "E0000006")
	if got := resp.Header.Get("WWW-Authenticate"); got != `Bearer error="insufficient_scope", error_description="The access token provided does not contain the required scopes."` {
		t.Errorf("WWW-Authenticate %q", got)
	}

	// Parameters in a form body work too.
	form := url.Values{"grant_type": {"client_credentials"}, "scope": {"okta.logs.read"},
		"client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"},
		"client_assertion":      {assertion(t, key, "RS256", claimsFor(f, "0oaulcconsole"))}}
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, f.ts.URL+"/oauth2/v1/token", strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp2, err := f.ts.Client().Do(req)
	if err != nil {
		t.Fatalf("form body: %v", err)
	}
	resp2.Body.Close()
	if resp2.StatusCode != http.StatusOK {
		t.Fatalf("form body: %s", resp2.Status)
	}
	if f.s.TokenRequests() != 2 {
		t.Errorf("TokenRequests %d", f.s.TokenRequests())
	}

	// Refusals.
	other, _ := rsa.GenerateKey(rand.Reader, 1024)
	expired := claimsFor(f, "0oaulcconsole")
	expired["exp"] = time.Now().Add(-time.Minute).Unix()
	farFuture := claimsFor(f, "0oaulcconsole")
	farFuture["exp"] = time.Now().Add(3 * time.Hour).Unix()
	wrongAud := claimsFor(f, "0oaulcconsole")
	wrongAud["aud"] = f.ts.URL + "/oauth2/default/v1/token"
	subDiffers := claimsFor(f, "0oaulcconsole")
	subDiffers["sub"] = "someone"
	for name, jwt := range map[string]string{
		"other key":     assertion(t, other, "RS256", claimsFor(f, "0oaulcconsole")),
		"expired":       assertion(t, key, "RS256", expired),
		"far future":    assertion(t, key, "RS256", farFuture),
		"wrong aud":     assertion(t, key, "RS256", wrongAud),
		"sub differs":   assertion(t, key, "RS256", subDiffers),
		"unknown app":   assertion(t, key, "RS256", claimsFor(f, "0oastranger")),
		"not a jwt":     "abc.def",
		"alg none":      strings.Join(strings.Split(assertion(t, key, "RS256", claimsFor(f, "0oaulcconsole")), ".")[:2], ".") + ".",
		"ES256 claimed": assertion(t, key, "ES256", claimsFor(f, "0oaulcconsole")),
	} {
		status, a := f.token(jwt, "okta.users.read")
		if status != http.StatusUnauthorized || a.Error != "invalid_client" || a.Description == "" {
			t.Errorf("%s: %d %+v", name, status, a)
		}
	}
	status, a = f.token(assertion(t, key, "RS256", claimsFor(f, "0oaulcconsole")), "okta.users.read okta.universalLogout.manage")
	if status != http.StatusBadRequest || a.Error != "invalid_scope" || !strings.Contains(a.Description, "okta.universalLogout.manage") {
		t.Errorf("ungranted scope: %d %+v", status, a)
	}
	status, a = f.token(assertion(t, key, "RS256", claimsFor(f, "0oaulcconsole")), "")
	if status != http.StatusBadRequest || a.Error != "invalid_scope" {
		t.Errorf("no scope: %d %+v", status, a)
	}
}

func TestES256ServiceApp(t *testing.T) {
	f := start(t, Options{})
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	f.s.AddServiceApp("0oaecdsa", &key.PublicKey) // no scopes listed: all granted
	status, a := f.token(assertion(t, key, "ES256", claimsFor(f, "0oaecdsa")), "okta.logs.read")
	if status != http.StatusOK {
		t.Fatalf("ES256: %d %+v", status, a)
	}
	if resp, b := f.do(http.MethodGet, "/api/v1/logs?limit=1", "Bearer "+a.AccessToken, ""); resp.StatusCode != http.StatusOK {
		t.Errorf("logs: %d %s", resp.StatusCode, b)
	}
	resp, b := f.do(http.MethodGet, "/api/v1/users", "Bearer "+a.AccessToken, "")
	okErr(t, resp, b, http.StatusForbidden, "E0000006")
}

func TestOktaGTRReceiver(t *testing.T) {
	f := start(t, Options{})
	key := testRSAKey(t)
	f.s.AddServiceApp("0oagtr", &key.PublicKey, PermUniversalLogout, PermRead)
	status, a := f.token(assertion(t, key, "RS256", claimsFor(f, "0oagtr")), "okta.universalLogout.manage")
	if status != http.StatusOK {
		t.Fatalf("token %d %+v", status, a)
	}
	bearer := "Bearer " + a.AccessToken
	trinity := f.person("trinity")
	body := func(sub map[string]string) string {
		b, _ := json.Marshal(map[string]any{"sub_id": sub})
		return string(b)
	}
	resp, b := f.do(http.MethodPost, "/oauth2/v1/global-token-revocation", bearer, body(map[string]string{"format": "opaque", "id": trinity.ID}))
	if resp.StatusCode != http.StatusNoContent || len(b) != 0 {
		t.Fatalf("GTR: %d %s", resp.StatusCode, b)
	}
	if f.s.Sessions(trinity.ID) != 0 {
		t.Error("GTR left sessions")
	}
	evs := f.logs("/api/v1/logs?sortOrder=DESCENDING&limit=20&filter=" + q(`target.id eq "`+trinity.ID+`"`))
	if len(evs) == 0 || (evs[len(evs)-1].EventType != "user.authentication.universal_logout" && !strings.Contains(evs[0].EventType, "session.end")) {
		t.Errorf("events %v", evs)
	}

	neo := f.person("neo")
	resp, _ = f.do(http.MethodPost, "/oauth2/v1/global-token-revocation", bearer, body(map[string]string{"format": "iss_sub", "iss": f.ts.URL, "sub": neo.ID}))
	if resp.StatusCode != http.StatusNoContent || f.s.Sessions(neo.ID) != 0 {
		t.Errorf("iss_sub: %d", resp.StatusCode)
	}
	for name, bad := range map[string]string{
		"email":       body(map[string]string{"format": "email", "email": "trinity@whiterabbit.fake"}),
		"unknown":     body(map[string]string{"format": "opaque", "id": "00uNOBODY0000000000"}),
		"login":       body(map[string]string{"format": "opaque", "id": "trinity@whiterabbit.fake"}),
		"foreign iss": body(map[string]string{"format": "iss_sub", "iss": "https://idp.example.com", "sub": neo.ID}),
		"no sub_id":   `{"subject":{"format":"opaque","id":"` + neo.ID + `"}}`,
	} {
		resp, b := f.do(http.MethodPost, "/oauth2/v1/global-token-revocation", bearer, bad)
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("%s: %d %s", name, resp.StatusCode, b)
		}
	}
	resp, b = f.do(http.MethodPost, "/oauth2/v1/global-token-revocation", bearer, "{not json")
	okErr(t, resp, b, http.StatusBadRequest, "E0000003")
	resp, b = f.do(http.MethodPost, "/oauth2/v1/global-token-revocation", "SSWS "+tokRead, body(map[string]string{"format": "opaque", "id": neo.ID}))
	okErr(t, resp, b, http.StatusForbidden, "E0000006")
	resp, b = f.do(http.MethodGet, "/oauth2/v1/global-token-revocation", bearer, "")
	okErr(t, resp, b, http.StatusMethodNotAllowed, "E0000022")
}
