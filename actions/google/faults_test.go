package google_test

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"ulc/actions"
	"ulc/sandbox/googlefake"
)

// seen is what a recording server received.
type seen struct {
	mu   sync.Mutex
	reqs []string // method, path, every header and the body
	hits atomic.Int32
}

func (s *seen) text() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return strings.Join(s.reqs, "\n")
}

// recording starts a server that records every request and answers with h.
func recording(t *testing.T, h func(w http.ResponseWriter, r *http.Request, n int)) (*httptest.Server, *seen) {
	t.Helper()
	rec := &seen{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := int(rec.hits.Add(1))
		body, _ := io.ReadAll(r.Body)
		var b strings.Builder
		fmt.Fprintf(&b, "%s %s\n", r.Method, r.URL.RequestURI())
		for k, vs := range r.Header {
			fmt.Fprintf(&b, "%s: %s\n", k, strings.Join(vs, ","))
		}
		b.Write(body)
		rec.mu.Lock()
		rec.reqs = append(rec.reqs, b.String())
		rec.mu.Unlock()
		h(w, r, n)
	}))
	t.Cleanup(srv.Close)
	return srv, rec
}

// keyAt writes a service account's JSON key whose token_uri is tokenURL
// into dir and returns its path and the key's JSON.
func keyAt(t *testing.T, dir, tokenURL string) (string, []byte) {
	t.Helper()
	fake, err := googlefake.Start(googlefake.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = fake.Close() }()
	var key map[string]string
	if err := json.Unmarshal(fake.ServiceAccountJSON(), &key); err != nil {
		t.Fatal(err)
	}
	key["token_uri"] = tokenURL
	data, _ := json.Marshal(key)
	path := filepath.Join(dir, "sa.json")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return path, data
}

func googleBlock(api, keyPath string, extra ...string) string {
	return fmt.Sprintf("[[target]]\nname = \"google\"\nkind = \"google\"\nurl = %q\ncredentials_file = %q\nadmin = \"secops-admin@example.com\"\n%s\n",
		api, keyPath, strings.Join(extra, "\n"))
}

func tokenOK(w http.ResponseWriter, tok string) {
	w.Header().Set("Content-Type", "application/json")
	fmt.Fprintf(w, `{"access_token":%q,"expires_in":3599,"token_type":"Bearer"}`, tok)
}

func googleErr(w http.ResponseWriter, code int, msg, reason string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	fmt.Fprintf(w, `{"error":{"code":%d,"message":%q,"errors":[{"domain":"global","reason":%q,"message":%q}]}}`, code, msg, reason, msg)
}

func TestAnswersOfTheTokenEndpointAndTheAPI(t *testing.T) {
	const tok = "ya29.test-access-token-93b1"
	cases := []struct {
		name     string
		token    func(w http.ResponseWriter, r *http.Request, n int)
		api      func(w http.ResponseWriter, r *http.Request, n int)
		outcome  actions.Outcome
		attempts int
		want     []string
	}{
		{"token endpoint down", func(w http.ResponseWriter, _ *http.Request, _ int) { w.WriteHeader(503) }, nil,
			actions.Failed, 3, []string{"token endpoint did not issue a token (503)", "after 3 attempts", "resume the run later"}},
		{"token endpoint 500 then a token", func(w http.ResponseWriter, _ *http.Request, n int) {
			if n == 1 {
				w.WriteHeader(500)
				return
			}
			tokenOK(w, tok)
		}, func(w http.ResponseWriter, _ *http.Request, _ int) { w.WriteHeader(204) }, actions.Revoked, 3, nil},
		{"token answer without a token", func(w http.ResponseWriter, _ *http.Request, _ int) {
			w.Header().Set("Content-Type", "application/json")
			_, _ = io.WriteString(w, `{"token_type":"Bearer"}`)
		}, nil, actions.Failed, 1, []string{"without an access token", "check token_uri"}},
		{"key deleted", func(w http.ResponseWriter, _ *http.Request, _ int) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(400)
			_, _ = io.WriteString(w, `{"error":"invalid_grant","error_description":"Invalid JWT Signature."}`)
		}, nil, actions.Rejected, 1, []string{"400 invalid_grant: Invalid JWT Signature.", "create a new JSON key"}},
		{"clock off", func(w http.ResponseWriter, _ *http.Request, _ int) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(400)
			_, _ = io.WriteString(w, `{"error":"invalid_grant","error_description":"Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe. Check your iat and exp values in the JWT claim."}`)
		}, nil, actions.Rejected, 1, []string{"clock"}},
		{"api token refused", func(w http.ResponseWriter, _ *http.Request, _ int) { tokenOK(w, tok) },
			func(w http.ResponseWriter, _ *http.Request, _ int) {
				googleErr(w, 401, "Invalid Credentials", "authError")
			},
			actions.Rejected, 2, []string{"401 Invalid Credentials", "resume the run"}},
		{"api server error", func(w http.ResponseWriter, _ *http.Request, _ int) { tokenOK(w, tok) },
			func(w http.ResponseWriter, _ *http.Request, _ int) {
				googleErr(w, 500, "Backend Error", "backendError")
			},
			actions.Failed, 4, []string{"500 Backend Error", "after 3 attempts", "resume the run later"}},
		{"api not found", func(w http.ResponseWriter, _ *http.Request, _ int) { tokenOK(w, tok) },
			func(w http.ResponseWriter, _ *http.Request, _ int) {
				googleErr(w, 404, "Resource Not Found: userKey", "notFound")
			}, actions.NotFound, 2, []string{"has no user alice@example.com"}},
		{"api forbidden", func(w http.ResponseWriter, _ *http.Request, _ int) { tokenOK(w, tok) },
			func(w http.ResponseWriter, _ *http.Request, _ int) {
				googleErr(w, 403, "Not Authorized to access this resource/api", "forbidden")
			}, actions.Rejected, 2, []string{"403 Not Authorized", "secops-admin@example.com an admin"}},
		{"api redirect not followed", func(w http.ResponseWriter, _ *http.Request, _ int) { tokenOK(w, tok) },
			func(w http.ResponseWriter, r *http.Request, _ int) {
				http.Redirect(w, r, "http://127.0.0.1:1/elsewhere", http.StatusTemporaryRedirect)
			}, actions.Rejected, 2, []string{"307", "check url"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tokenSrv, tokenSeen := recording(t, tc.token)
			api := tc.api
			if api == nil {
				api = func(w http.ResponseWriter, _ *http.Request, _ int) {
					t.Errorf("the API was called without a token")
					w.WriteHeader(500)
				}
			}
			apiSrv, apiSeen := recording(t, api)
			dir := t.TempDir()
			keyPath, _ := keyAt(t, dir, tokenSrv.URL+"/token")
			f := loadTargets(t, dir, googleBlock(apiSrv.URL+"/", keyPath))
			_, st, _ := run(t, f, alice)
			s := step(t, st, alice, "google")
			expect(t, s, tc.outcome, tc.attempts, tc.want...)
			if tc.outcome == actions.Revoked && !strings.Contains(apiSeen.text(), "Authorization: Bearer "+tok) {
				t.Errorf("the API did not get the token:\n%s", apiSeen.text())
			}
			if strings.Contains(apiSeen.text(), "assertion") || strings.Contains(apiSeen.text(), "eyJ") {
				t.Errorf("the assertion reached the API:\n%s", apiSeen.text())
			}
			if strings.Contains(tokenSeen.text(), "Authorization") || strings.Contains(tokenSeen.text(), tok) {
				t.Errorf("the token endpoint got an Authorization header or the access token:\n%s", tokenSeen.text())
			}
			if strings.Contains(s.Error, tok) {
				t.Errorf("the sentence holds the access token: %q", s.Error)
			}
		})
	}
}

func TestExpiredTokenIsRenewed(t *testing.T) {
	var issued atomic.Int32
	tokenSrv, _ := recording(t, func(w http.ResponseWriter, _ *http.Request, _ int) {
		n := issued.Add(1)
		w.Header().Set("Content-Type", "application/json")
		// A token that lasts one second: the connector keeps it half of
		// that, at most.
		fmt.Fprintf(w, `{"access_token":"ya29.short-%d","expires_in":1,"token_type":"Bearer"}`, n)
	})
	var mu sync.Mutex
	var used []string
	apiSrv, _ := recording(t, func(w http.ResponseWriter, r *http.Request, n int) {
		mu.Lock()
		used = append(used, r.Header.Get("Authorization"))
		mu.Unlock()
		if n == 1 {
			// The first step outlives the token, so the second must not
			// send it.
			time.Sleep(700 * time.Millisecond)
		}
		w.WriteHeader(204)
	})
	dir := t.TempDir()
	keyPath, _ := keyAt(t, dir, tokenSrv.URL+"/token")
	f := loadTargets(t, dir, googleBlock(apiSrv.URL+"/", keyPath, "concurrency = 1"))
	_, st, _ := run(t, f, alice, bob)
	for _, u := range []string{alice, bob} {
		if s := step(t, st, u, "google"); s.Outcome != actions.Revoked {
			t.Errorf("%s: %s %q", u, s.Outcome, s.Error)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if issued.Load() != 2 || len(used) != 2 || used[0] == used[1] {
		t.Errorf("%d tokens issued, the API saw %q: want a new token for the second step", issued.Load(), used)
	}
}

func TestTokenRequestOnTheWire(t *testing.T) {
	fake, err := googlefake.Start(googlefake.Options{Users: []string{alice}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = fake.Close() })
	// The recording server stands in front of the fake's token endpoint,
	// so the test sees the request and the fake still checks it.
	// The front stands before the fake's token endpoint: the test reads
	// the request, and the fake still checks it.
	var form url.Values
	var ctype, auth string
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		form, _ = url.ParseQuery(string(body))
		ctype, auth = r.Header.Get("Content-Type"), r.Header.Get("Authorization")
		req, _ := http.NewRequestWithContext(r.Context(), http.MethodPost, fake.TokenURL(), strings.NewReader(string(body)))
		req.Header.Set("Content-Type", ctype)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			w.WriteHeader(502)
			return
		}
		defer resp.Body.Close()
		w.Header().Set("Content-Type", resp.Header.Get("Content-Type"))
		w.WriteHeader(resp.StatusCode)
		_, _ = io.Copy(w, resp.Body)
	}))
	t.Cleanup(front.Close)
	dir := t.TempDir()
	block, err := fake.TargetTOML("google", dir)
	if err != nil {
		t.Fatal(err)
	}
	// The key now names the front as its token_uri, so the assertion's aud
	// is the front's URL, which the fake refuses as Google would.
	keyPath := filepath.Join(dir, "google-service-account.json")
	data, _ := os.ReadFile(keyPath)
	var key map[string]string
	_ = json.Unmarshal(data, &key)
	key["token_uri"] = front.URL + "/token"
	data, _ = json.Marshal(key)
	if err := os.WriteFile(keyPath, data, 0o600); err != nil {
		t.Fatal(err)
	}
	f := loadTargets(t, dir, block)
	_, st, _ := run(t, f, alice)
	if ctype != "application/x-www-form-urlencoded" || auth != "" {
		t.Errorf("token request Content-Type %q, Authorization %q", ctype, auth)
	}
	if got := form.Get("grant_type"); got != "urn:ietf:params:oauth:grant-type:jwt-bearer" {
		t.Errorf("grant_type %q", got)
	}
	parts := strings.Split(form.Get("assertion"), ".")
	if len(parts) != 3 {
		t.Fatalf("assertion %q is not a compact JWS", form.Get("assertion"))
	}
	var claims map[string]any
	if err := json.Unmarshal(b64(t, parts[1]), &claims); err != nil {
		t.Fatal(err)
	}
	var header map[string]any
	if err := json.Unmarshal(b64(t, parts[0]), &header); err != nil {
		t.Fatal(err)
	}
	if header["alg"] != "RS256" || header["typ"] != "JWT" || header["kid"] != key["private_key_id"] {
		t.Errorf("header %v", header)
	}
	if claims["iss"] != fake.ClientEmail() || claims["sub"] != googlefake.DefaultAdmin ||
		claims["scope"] != googlefake.Scope || claims["aud"] != front.URL+"/token" {
		t.Errorf("claims %v", claims)
	}
	iat, _ := claims["iat"].(float64)
	exp, _ := claims["exp"].(float64)
	if exp <= iat || exp-iat > 3600 {
		t.Errorf("iat %v exp %v: the lifetime must be positive and at most an hour", iat, exp)
	}
	// The fake refused the audience (it is not its own URL): the same
	// check Google makes.
	expect(t, step(t, st, alice, "google"), actions.Rejected, 1, "Failed audience check", "check token_uri")
}

func b64(t *testing.T, s string) []byte {
	t.Helper()
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		t.Fatalf("base64url %q: %v", s, err)
	}
	return b
}
