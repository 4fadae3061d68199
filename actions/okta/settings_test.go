package okta

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"
	"time"

	"ulc/config"
)

// cleanEnv keeps the operator's real Okta configuration out of a test: no
// OKTA_* variable (unset, not empty: the SDK's env reader chokes on empty
// numbers) and a fresh HOME without ~/.okta/okta.yaml.
func cleanEnv(t testing.TB) string {
	t.Helper()
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "OKTA_") {
			t.Setenv(k, "")
			if err := os.Unsetenv(k); err != nil {
				t.Fatal(err)
			}
		}
	}
	home := t.TempDir()
	t.Setenv("HOME", home)
	return home
}

func envMap(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func writeFile(t *testing.T, path, text string, mode os.FileMode) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(text), mode); err != nil {
		t.Fatal(err)
	}
}

func TestResolveSettingsNoOrg(t *testing.T) {
	home := cleanEnv(t)
	s, ok, err := ResolveSettings(config.Okta{}, envMap(nil), home)
	if err != nil || ok {
		t.Fatalf("ok=%v err=%v, want no org and no error", ok, err)
	}
	if s.OrgURL != "" {
		t.Fatalf("OrgURL = %q", s.OrgURL)
	}
}

func TestResolveSettingsLayers(t *testing.T) {
	home := cleanEnv(t)
	writeFile(t, filepath.Join(home, ".okta", "okta.yaml"), `# the SDK's own file
okta:
  client:
    orgUrl: "https://yaml.okta.com/"
    token: yamltoken123 # trailing comment
    authorizationMode: SSWS
    clientId: 'yaml-client'
    scopes:
      - okta.users.read
      - okta.logs.read
    requestTimeout: 12
    rateLimit:
      maxRetries: 4
      maxBackoff: 9
`, 0o600)

	// okta.yaml alone.
	s, ok, err := ResolveSettings(config.Okta{}, envMap(nil), home)
	if err != nil || !ok {
		t.Fatalf("ok=%v err=%v", ok, err)
	}
	want := Settings{
		OrgURL: "https://yaml.okta.com", Token: "yamltoken123", AuthMode: config.OktaAuthSSWS,
		ClientID: "yaml-client", Scopes: []string{"okta.users.read", "okta.logs.read"},
		RequestTimeout: 12 * time.Second, MaxRetries: 4, MaxBackoff: 9 * time.Second,
		Issuer: "https://yaml.okta.com", OrgURLFrom: "~/.okta/okta.yaml okta.client.orgUrl",
		TokenFrom: "~/.okta/okta.yaml okta.client.token",
	}
	if !reflect.DeepEqual(s, want) {
		t.Fatalf("yaml only:\n got %+v\nwant %+v", s, want)
	}

	// The environment wins over okta.yaml.
	env := map[string]string{
		"OKTA_CLIENT_ORGURL": "https://env.okta.com",
		"OKTA_CLIENT_TOKEN":  "envtoken456",
		"OKTA_CLIENT_SCOPES": "okta.users.read,okta.users.manage",
	}
	s, _, err = ResolveSettings(config.Okta{}, envMap(env), home)
	if err != nil {
		t.Fatal(err)
	}
	if s.OrgURL != "https://env.okta.com" || s.Token != "envtoken456" || s.TokenFrom != "OKTA_CLIENT_TOKEN" ||
		!reflect.DeepEqual(s.Scopes, []string{"okta.users.read", "okta.users.manage"}) || s.MaxRetries != 4 {
		t.Fatalf("env over yaml: %+v", s)
	}

	// The [okta] table wins over both; a table that names no credential
	// keeps the token from the environment.
	tbl := config.Okta{OrgURL: "https://table.okta.com", Issuer: "https://table.okta.com", AuthMode: config.OktaAuthSSWS, Line: 3, File: "targets.toml"}
	s, _, err = ResolveSettings(tbl, envMap(env), home)
	if err != nil {
		t.Fatal(err)
	}
	if s.OrgURL != "https://table.okta.com" || s.OrgURLFrom != "targets.toml [okta] org_url" || s.Token != "envtoken456" || s.AuthMode != config.OktaAuthSSWS {
		t.Fatalf("table over env: %+v", s)
	}
	tbl.TokenEnv = "ULC_OKTA_TOKEN"
	env["ULC_OKTA_TOKEN"] = "tabletoken789"
	s, _, err = ResolveSettings(tbl, envMap(env), home)
	if err != nil {
		t.Fatal(err)
	}
	if s.Token != "tabletoken789" || s.TokenFrom != "targets.toml [okta] token_env ULC_OKTA_TOKEN" {
		t.Fatalf("table token: %+v", s)
	}
	tbl.Issuer = "https://issuer.example/"
	s, _, _ = ResolveSettings(tbl, envMap(env), home)
	if s.Issuer != "https://issuer.example" {
		t.Fatalf("Issuer = %q", s.Issuer)
	}
}

func TestResolveSettingsPrivateKey(t *testing.T) {
	home := cleanEnv(t)
	pemText := string(pkcs8RSA(t))
	keyFile := filepath.Join(t.TempDir(), "okta.pem")
	writeFile(t, keyFile, pemText, 0o600)

	// Inline PEM with literal \n, as people put it in environment variables.
	env := map[string]string{
		"OKTA_CLIENT_ORGURL":            "https://env.okta.com",
		"OKTA_CLIENT_AUTHORIZATIONMODE": "PrivateKey",
		"OKTA_CLIENT_CLIENTID":          "0oaENV",
		"OKTA_CLIENT_SCOPES":            "okta.users.read okta.users.manage",
		"OKTA_CLIENT_PRIVATEKEY":        strings.ReplaceAll(pemText, "\n", `\n`),
		"OKTA_CLIENT_PRIVATEKEYID":      "kid-1",
	}
	s, ok, err := ResolveSettings(config.Okta{}, envMap(env), home)
	if err != nil || !ok {
		t.Fatalf("ok=%v err=%v", ok, err)
	}
	if s.AuthMode != config.OktaAuthPrivateKey || s.ClientID != "0oaENV" || s.KeyID != "kid-1" ||
		string(s.PrivateKeyPEM) != pemText || s.KeyFrom != "OKTA_CLIENT_PRIVATEKEY" || len(s.Scopes) != 2 {
		t.Fatalf("env private key: %+v", s)
	}

	// A path, as the SDK also allows.
	env["OKTA_CLIENT_PRIVATEKEY"] = keyFile
	s, _, err = ResolveSettings(config.Okta{}, envMap(env), home)
	if err != nil || string(s.PrivateKeyPEM) != pemText {
		t.Fatalf("key path: err=%v", err)
	}

	// The table's key file wins; a key file others can read is refused.
	tbl := config.Okta{OrgURL: "https://t.okta.com", AuthMode: config.OktaAuthPrivateKey, ClientID: "0oaTABLE", PrivateKeyFile: keyFile, Scopes: []string{"okta.users.read"}, Line: 1, File: "t.toml"}
	s, _, err = ResolveSettings(tbl, envMap(env), home)
	if err != nil || s.ClientID != "0oaTABLE" || s.KeyFrom != "t.toml [okta] private_key_file "+keyFile {
		t.Fatalf("table key: %+v err=%v", s, err)
	}
	if err := os.Chmod(keyFile, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, _, err = ResolveSettings(tbl, envMap(env), home); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Fatalf("readable key file: err=%v", err)
	}
}

func TestResolveSettingsErrors(t *testing.T) {
	home := cleanEnv(t)
	for name, env := range map[string]map[string]string{
		"bearer mode":   {"OKTA_CLIENT_ORGURL": "https://x.okta.com", "OKTA_CLIENT_AUTHORIZATIONMODE": "Bearer"},
		"bad timeout":   {"OKTA_CLIENT_ORGURL": "https://x.okta.com", "OKTA_CLIENT_REQUEST_TIMEOUT": "soon"},
		"missing key":   {"OKTA_CLIENT_ORGURL": "https://x.okta.com", "OKTA_CLIENT_AUTHORIZATIONMODE": "PrivateKey", "OKTA_CLIENT_PRIVATEKEY": "/nonexistent/key.pem"},
		"garbage key":   {"OKTA_CLIENT_ORGURL": "https://x.okta.com", "OKTA_CLIENT_AUTHORIZATIONMODE": "PrivateKey", "OKTA_CLIENT_PRIVATEKEY": "line1\nline2"},
		"negative wait": {"OKTA_CLIENT_ORGURL": "https://x.okta.com", "OKTA_CLIENT_RATE_LIMIT_MAX_BACKOFF": "-1"},
	} {
		if _, _, err := ResolveSettings(config.Okta{}, envMap(env), home); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	// An unused key setting is not read.
	if _, ok, err := ResolveSettings(config.Okta{}, envMap(map[string]string{"OKTA_CLIENT_ORGURL": "https://x.okta.com", "OKTA_CLIENT_PRIVATEKEY": "/nonexistent"}), home); err != nil || !ok {
		t.Errorf("ssws with a stray key path: ok=%v err=%v", ok, err)
	}
	// A token in a table's token_env is never echoed.
	tbl := config.Okta{OrgURL: "https://x.okta.com", AuthMode: config.OktaAuthSSWS, TokenEnv: "SECRET_TOK", Line: 1}
	_, _, err := ResolveSettings(tbl, envMap(map[string]string{"SECRET_TOK": "SSWS hunter2secret"}), home)
	if err == nil || strings.Contains(err.Error(), "hunter2secret") {
		t.Fatalf("err = %v", err)
	}
}

func TestOktaYAMLSubset(t *testing.T) {
	y, err := decodeOktaYAML([]byte(`---
okta:
  client:
    orgUrl: https://a.okta.com   # comment
    scopes: [okta.users.read, "okta.logs.read"]
    privateKey: |
      -----BEGIN PRIVATE KEY-----
      abc
      -----END PRIVATE KEY-----
    privateKeyId: "k#1"
  testing:
    disableHttpsCheck: false
`))
	if err != nil {
		t.Fatal(err)
	}
	c := y.Okta.Client
	if c.OrgURL != "https://a.okta.com" || c.PrivateKeyID != "k#1" ||
		c.PrivateKey != "-----BEGIN PRIVATE KEY-----\nabc\n-----END PRIVATE KEY-----\n" ||
		!reflect.DeepEqual([]string(c.Scopes), []string{"okta.users.read", "okta.logs.read"}) {
		t.Fatalf("parsed %#v", c)
	}
	for _, bad := range []string{"okta: {client: x}", "okta:\n  - a\n  b c", "key \"x\": 1", "okta:\n  client:\n    token: \"unterminated\n"} {
		if _, err := decodeOktaYAML([]byte(bad)); err == nil {
			t.Errorf("%q: no error", bad)
		} else if strings.Contains(err.Error(), "unterminated\"") || !strings.Contains(err.Error(), "line ") {
			t.Errorf("%q: error echoes content or names no line: %v", bad, err)
		}
	}
}

// YAML the old line reader refused or misread, and the SDK itself reads:
// a flow list over several lines, quoted keys, anchors and aliases, a
// block scalar with an indentation indicator, a folded scalar's final
// newline, scopes as one string.
func TestOktaYAMLBeyondTheOldSubset(t *testing.T) {
	y, err := decodeOktaYAML([]byte(`okta:
  client:
    "orgUrl": 'https://b.okta.com'
    scopes: [okta.users.read,
             okta.users.manage]
    clientId: &app 0oaAPP
    privateKeyId: *app
    privateKey: |2
        indented
      less
    token: >
      folded
      token
`))
	if err != nil {
		t.Fatal(err)
	}
	c := y.Okta.Client
	if c.OrgURL != "https://b.okta.com" || c.ClientID != "0oaAPP" || c.PrivateKeyID != "0oaAPP" ||
		c.PrivateKey != "  indented\nless\n" || c.Token != "folded token\n" ||
		!reflect.DeepEqual([]string(c.Scopes), []string{"okta.users.read", "okta.users.manage"}) {
		t.Fatalf("parsed %#v", c)
	}
	y, err = decodeOktaYAML([]byte("okta:\n  client:\n    scopes: okta.users.read, okta.logs.read\n"))
	if err != nil || !reflect.DeepEqual([]string(y.Okta.Client.Scopes), []string{"okta.users.read", "okta.logs.read"}) {
		t.Fatalf("scopes as a string: %v %#v", err, y.Okta.Client.Scopes)
	}
	// A misspelt key the SDK would ignore, silently using another org.
	_, err = decodeOktaYAML([]byte("okta:\n  client:\n    orgURL: https://c.okta.com\n"))
	if err == nil || err.Error() != "line 3 has a key the Okta SDK does not read (misspelt?)" {
		t.Fatalf("misspelt key: %v", err)
	}
	// A value of the wrong kind: the message does not quote it.
	_, err = decodeOktaYAML([]byte("okta:\n  client:\n    token: [s3cr3tvalue]\n"))
	if err == nil || strings.Contains(err.Error(), "s3cr3t") || !strings.HasPrefix(err.Error(), "line 3 ") {
		t.Fatalf("wrong kind: %v", err)
	}
	// An empty file is an empty configuration.
	if _, err := decodeOktaYAML([]byte("# nothing yet\n")); err != nil {
		t.Fatal(err)
	}
}

// The file's errors name it; one larger than the cap is not read.
func TestOktaYAMLFileErrors(t *testing.T) {
	home := cleanEnv(t)
	path := filepath.Join(home, ".okta", "okta.yaml")
	writeFile(t, path, "okta:\n  client:\n    token: \"hunter2secret\n", 0o600)
	_, _, err := ResolveSettings(config.Okta{}, envMap(nil), home)
	if err == nil || !strings.HasPrefix(err.Error(), "~/.okta/okta.yaml line ") || strings.Contains(err.Error(), "hunter2") {
		t.Fatalf("bad yaml: %v", err)
	}
	writeFile(t, path, "okta:\n  client:\n    token: x\n"+strings.Repeat("# padding\n", 7000), 0o600)
	_, _, err = ResolveSettings(config.Okta{}, envMap(nil), home)
	if err == nil || err.Error() != "~/.okta/okta.yaml is larger than 64 KiB" {
		t.Fatalf("large yaml: %v", err)
	}
	writeFile(t, path, "okta:\n  client:\n    requestTimeout: 99999\n", 0o600)
	_, _, err = ResolveSettings(config.Okta{}, envMap(map[string]string{"OKTA_CLIENT_ORGURL": "https://x.okta.com"}), home)
	if err == nil || !strings.Contains(err.Error(), "~/.okta/okta.yaml okta.client.requestTimeout must be a whole number") {
		t.Fatalf("bad number: %v", err)
	}
}

func TestSDKEnvProblem(t *testing.T) {
	look := func(m map[string]string) func(string) (string, bool) {
		return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
	}
	if err := sdkEnvProblem(look(map[string]string{"OKTA_CLIENT_CACHE_ENABLED": "true", "OKTA_CLIENT_REQUEST_TIMEOUT": "5"})); err != nil {
		t.Fatal(err)
	}
	for _, m := range []map[string]string{{"OKTA_CLIENT_CACHE_ENABLED": ""}, {"OKTA_CLIENT_RATE_LIMIT_MAX_RETRIES": "many"}} {
		if err := sdkEnvProblem(look(m)); err == nil {
			t.Errorf("%v: no error", m)
		}
	}
}

func TestCheckOrgURL(t *testing.T) {
	for raw, want := range map[string]string{
		"https://acme.okta.com/":      "",
		"http://127.0.0.1:8080":       "",
		"http://localhost:1":          "",
		"http://acme.okta.com":        "must use https",
		"https://acme.okta.com/x":     "without a path",
		"https://u:p@acme.okta.com":   "user name or password",
		"acme.okta.com":               "absolute URL",
		"https://acme-admin.okta.com": "-admin",
		"":                            "no Okta org URL",
	} {
		_, _, err := checkOrgURL(raw)
		switch {
		case want == "" && err != nil:
			t.Errorf("%q: %v", raw, err)
		case want != "" && (err == nil || !strings.Contains(err.Error(), want)):
			t.Errorf("%q: err = %v, want %q", raw, err, want)
		}
	}
}

func TestQuoteAndExpression(t *testing.T) {
	if got := quote(`a"b\c`); got != `"a\"b\\c"` {
		t.Fatalf("quote = %s", got)
	}
	for q, want := range map[string]bool{
		`profile.department eq "Engineering"`:       true,
		`status eq "SUSPENDED"`:                     true,
		`profile.title pr`:                          true,
		`lastUpdated gt "2026-01-01T00:00:00.000Z"`: true,
		`id eq "00u1"`:                              true,
		"Thomas Anderson":                           false,
		"John Pratt":                                false,
		"trinity":                                   false,
	} {
		if got := expression.MatchString(q); got != want {
			t.Errorf("%q: expression = %v", q, got)
		}
	}
}

func TestBucketKey(t *testing.T) {
	for path, want := range map[string]string{
		"/api/v1/users":                             "GET /api/v1/users",
		"/api/v1/users/00u1abcdEFGH2345ijkl":        "GET /api/v1/users/*",
		"/api/v1/users/neo%40whiterabbit.fake":      "GET /api/v1/users/*",
		"/api/v1/users/00u1abcdEFGH2345ijkl/grants": "GET /api/v1/users/*/grants",
	} {
		if got := bucketKey("GET", path); got != want {
			t.Errorf("%s: %s", path, got)
		}
	}
	if got := bucketKey("POST", "/api/v1/users/00u1abcdEFGH2345ijkl/lifecycle/suspend"); got != "WRITE /api/v1/users/*/lifecycle/suspend" {
		t.Errorf("post: %s", got)
	}
}

// A named pipe in place of the private key is refused at once: opening it
// must not block start-up until someone writes to it.
func TestResolveSettingsKeyFileIsAPipe(t *testing.T) {
	home := cleanEnv(t)
	fifo := filepath.Join(t.TempDir(), "okta.pem")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Skipf("no named pipes here: %v", err)
	}
	env := map[string]string{
		"OKTA_CLIENT_ORGURL": "https://env.okta.com", "OKTA_CLIENT_AUTHORIZATIONMODE": "PrivateKey",
		"OKTA_CLIENT_CLIENTID": "0oaENV", "OKTA_CLIENT_SCOPES": "okta.users.read", "OKTA_CLIENT_PRIVATEKEY": fifo,
	}
	tbl := config.Okta{OrgURL: "https://t.okta.com", AuthMode: config.OktaAuthPrivateKey, ClientID: "0oaTABLE",
		PrivateKeyFile: fifo, Scopes: []string{"okta.users.read"}, Line: 1, File: "t.toml"}
	for name, c := range map[string]struct {
		t   config.Okta
		env map[string]string
	}{"OKTA_CLIENT_PRIVATEKEY": {config.Okta{}, env}, "[okta] private_key_file": {tbl, map[string]string{}}} {
		done := make(chan error, 1)
		go func() {
			_, _, err := ResolveSettings(c.t, envMap(c.env), home)
			done <- err
		}()
		select {
		case err := <-done:
			if err == nil || !strings.Contains(err.Error(), "not a regular file") {
				t.Errorf("%s names a pipe: err = %v, want 'not a regular file'", name, err)
			}
		case <-time.After(30 * time.Second):
			t.Fatalf("%s names a pipe: ResolveSettings is still blocked after 30s", name)
		}
	}
}
