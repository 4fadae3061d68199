package config

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// lines joins its arguments with newlines, so that in a test the N-th
// argument is line N of the file and expected line numbers can be read off.
func lines(l ...string) string { return strings.Join(l, "\n") + "\n" }

// parse parses src as "targets.toml" and fails the test on an error.
func parse(t *testing.T, src string) *File {
	t.Helper()
	f, err := Parse([]byte(src), "targets.toml")
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	return f
}

// A valid target used as the base of many cases; lines 1-4.
var todo = []string{
	`[[target]]`,
	`name = "todo"`,
	`url = "https://todo.example.com/gtr"`,
	`token_env = "TODO_UL_TOKEN"`,
}

func with(base []string, more ...string) string {
	return lines(append(append([]string{}, base...), more...)...)
}

// TestParseErrors checks the exact message an operator sees for each rule:
// file, line, table or target, and what is wrong.
func TestParseErrors(t *testing.T) {
	tests := []struct {
		name string
		src  string
		want string
	}{
		// Unknown keys, everywhere.
		{"unknown top-level key", lines(`verbose = true`), `targets.toml:1: unknown key "verbose"`},
		{"unknown top-level table", lines(`[server]`, `port = 1`), `targets.toml:1: unknown key "server"`},
		{"unknown key in defaults", lines(`[defaults]`, `timeout = "5s"`, `timout = "5s"`),
			`targets.toml:3: [defaults]: unknown key "timout"; did you mean "timeout"?`},
		{"unknown key in target", with(todo, `tokn_env = "X"`),
			`targets.toml:5: target "todo": unknown key "tokn_env"; did you mean "token_env"?`},
		{"unknown key in okta", lines(`[okta]`, `org_url = "https://acme.okta.com"`, `orgurl = "x"`),
			`targets.toml:3: [okta]: unknown key "orgurl"; did you mean "org_url"?`},
		{"unknown key with no near match", with(todo, `colour = "blue"`),
			`targets.toml:5: target "todo": unknown key "colour"`},
		{"unknown sub-table of a target", with(todo, `[target.headers]`, `x = "y"`),
			`targets.toml:5: target "todo": unknown key "headers"`},
		{"unknown key in the second target only", lines(
			`[[target]]`, `name = "a"`, `url = "https://a.example.com/"`, `token_env = "A"`,
			`[[target]]`, `name = "b"`, `url = "https://b.example.com/"`, `token_env = "B"`, `retrys = 1`),
			`targets.toml:9: target "b": unknown key "retrys"; did you mean "retries"?`},
		{"unknown key instead of the credential key: no second message", lines(
			`[[target]]`, `name = "a"`, `url = "https://a.example.com/"`, `token_envv = "A"`),
			`targets.toml:4: target "a": unknown key "token_envv"; did you mean "token_env"?`},
		// There is no way to turn TLS verification off.
		{"no switch turns TLS verification off", with(todo, `insecure_skip_verify = true`),
			`targets.toml:5: target "todo": unknown key "insecure_skip_verify"`},
		{"quoted unknown key", with(todo, `"tokn_env" = "X"`),
			`targets.toml:5: target "todo": unknown key "tokn_env"; did you mean "token_env"?`},

		// Credentials are never inline.
		{"inline token in a target", with(todo, `token = "abc123"`),
			`targets.toml:5: target "todo": inline credentials are not accepted; name an environment variable (token_env) or a file (token_file)`},
		{"inline client_secret in okta", lines(`[okta]`, `client_secret = "abc123"`),
			`targets.toml:2: [okta]: inline credentials are not accepted; name an environment variable (token_env) or a file (token_file)`},
		{"inline private_key in okta", lines(`[okta]`, `private_key = "-----BEGIN..."`),
			`targets.toml:2: [okta]: inline credentials are not accepted; name a file (private_key_file)`},
		{"inline private_key in a target", with(todo, `private_key = "-----BEGIN..."`),
			`targets.toml:5: target "todo": inline credentials are not accepted; name a file (jwt_key_file)`},
		{"inline token without a credential key: one message", lines(
			`[[target]]`, `name = "a"`, `url = "https://a.example.com/"`, `token = "abc123"`),
			`targets.toml:4: target "a": inline credentials are not accepted; name an environment variable (token_env) or a file (token_file)`},
		{"url with userinfo", lines(`[[target]]`, `name = "a"`, `url = "https://alice:hunter2@a.example.com/"`, `token_env = "A"`),
			`targets.toml:3: target "a": url must not contain a user name or password; name the credential with token_env or token_file`},
		{"token pasted into token_env", lines(`[[target]]`, `name = "a"`, `url = "https://a.example.com/"`, `token_env = "eyJhbGciOiJIUzI1NiJ9.x"`),
			`targets.toml:4: target "a": token_env must be the name of an environment variable in upper case (A-Z, 0-9, _), such as TODO_UL_TOKEN, never the token itself`},

		// URLs.
		{"http to a public host", lines(`[[target]]`, `name = "ledger"`, `url = "http://ledger.example.com/gtr"`, `token_env = "A"`),
			`targets.toml:3: target "ledger": url must use https (plain http is allowed only to loopback addresses)`},
		{"http to a private address", lines(`[[target]]`, `name = "a"`, `url = "http://10.0.0.1/gtr"`, `token_env = "A"`),
			`targets.toml:3: target "a": url must use https (plain http is allowed only to loopback addresses)`},
		{"other scheme", lines(`[[target]]`, `name = "a"`, `url = "ftp://a.example.com/gtr"`, `token_env = "A"`),
			`targets.toml:3: target "a": url must use https (plain http is allowed only to loopback addresses)`},
		{"relative url", lines(`[[target]]`, `name = "a"`, `url = "/gtr"`, `token_env = "A"`),
			`targets.toml:3: target "a": url must be an absolute URL, such as https://app.example.com/global-token-revocation`},
		{"url without host", lines(`[[target]]`, `name = "a"`, `url = "https:///gtr"`, `token_env = "A"`),
			`targets.toml:3: target "a": url must include a host name`},
		{"url with fragment", lines(`[[target]]`, `name = "a"`, `url = "https://a.example.com/gtr#x"`, `token_env = "A"`),
			`targets.toml:3: target "a": url must not contain a fragment (#...)`},
		{"missing url", lines(`[[target]]`, `name = "a"`, `token_env = "A"`),
			`targets.toml:1: target "a": url is required`},

		// Names.
		{"missing name", lines(`[[target]]`, `url = "https://a.example.com/"`, `token_env = "A"`),
			`targets.toml:1: target #1: name is required`},
		{"bad name", lines(`[[target]]`, `name = "my app"`, `url = "https://a.example.com/"`, `token_env = "A"`),
			`targets.toml:2: target "my app": name must be 1 to 64 letters, digits, '.', '_' or '-'`},
		{"duplicate names", lines(
			`[[target]]`, `name = "todo"`, `url = "https://a.example.com/"`, `token_env = "A"`,
			``,
			`[[target]]`, `name = "todo"`, `url = "https://b.example.com/"`, `token_env = "B"`),
			`targets.toml:7: target "todo": duplicate name: the target at line 1 already uses it`},

		// Enumerations.
		{"bad subject", with(todo, `subject = "emial"`),
			`targets.toml:5: target "todo": subject must be "email", "opaque" or "iss_sub", not "emial"`},
		{"bad body_key", with(todo, `body_key = "sub"`),
			`targets.toml:5: target "todo": body_key must be "sub_id" or "subject", not "sub"`},
		{"bad auth", with(todo, `auth = "basic"`),
			`targets.toml:5: target "todo": auth must be "bearer", "jwt" or "none", not "basic"`},
		{"bad subject in defaults", lines(`[defaults]`, `subject = "phone"`),
			`targets.toml:2: [defaults]: subject must be "email", "opaque" or "iss_sub", not "phone"`},
		{"a token where a keyword belongs is not echoed", with(todo, `auth = "Bearer eyJhbGciOiJSUzI1NiJ9"`),
			`targets.toml:5: target "todo": auth must be "bearer", "jwt" or "none"`},
		{"subject_iss without iss_sub", with(todo, `subject_iss = "https://acme.okta.com"`),
			`targets.toml:5: target "todo": subject_iss applies only to subject = "iss_sub"`},

		// Credentials.
		{"no credential", lines(`[[target]]`, `name = "a"`, `url = "https://a.example.com/"`),
			`targets.toml:1: target "a": no credential: set token_env or token_file (or auth = "none")`},
		{"bearer without a token", lines(`[[target]]`, `name = "a"`, `url = "https://a.example.com/"`, `auth = "bearer"`),
			`targets.toml:4: target "a": auth = "bearer" needs token_env or token_file`},
		{"both token_env and token_file", with(todo, `token_file = "a.token"`),
			`targets.toml:5: target "todo": set token_env or token_file, not both`},
		{"jwt without its keys", lines(`[[target]]`, `name = "a"`, `url = "https://a.example.com/"`, `auth = "jwt"`),
			strings.Join([]string{
				`targets.toml:4: target "a": auth = "jwt" needs jwt_key_file (here or in [defaults])`,
				`targets.toml:4: target "a": auth = "jwt" needs jwt_iss (here or in [defaults])`,
				`targets.toml:4: target "a": auth = "jwt" needs jwt_sub (our client ID at this application)`,
			}, "\n")},
		{"jwt with defaults but no jwt_sub", lines(
			`[defaults]`, `jwt_iss = "https://acme.okta.com"`, `jwt_key_file = "k.pem"`,
			`[[target]]`, `name = "a"`, `url = "https://a.example.com/"`, `auth = "jwt"`),
			`targets.toml:7: target "a": auth = "jwt" needs jwt_sub (our client ID at this application)`},
		{"token_env with auth = jwt", lines(
			`[[target]]`, `name = "a"`, `url = "https://a.example.com/"`, `auth = "jwt"`,
			`jwt_key_file = "k.pem"`, `jwt_iss = "https://acme.okta.com"`, `jwt_sub = "c1"`, `token_env = "A"`),
			`targets.toml:8: target "a": token_env cannot be used with auth = "jwt"`},
		{"jwt_sub with auth = bearer", with(todo, `auth = "bearer"`, `jwt_sub = "c1"`),
			`targets.toml:6: target "todo": jwt_sub cannot be used with auth = "bearer"`},
		{"token and jwt keys without auth", with(todo, `jwt_sub = "c1"`),
			`targets.toml:5: target "todo": set either token_env or token_file (auth = "bearer") or jwt_* keys (auth = "jwt"), not both`},
		{"token_env with auth = none", with(todo, `auth = "none"`),
			`targets.toml:4: target "todo": token_env cannot be used with auth = "none"`},
		{"empty jwt_sub", lines(`[[target]]`, `name = "a"`, `url = "https://a.example.com/"`,
			`jwt_key_file = "k.pem"`, `jwt_iss = "https://acme.okta.com"`, `jwt_sub = ""`),
			`targets.toml:6: target "a": jwt_sub must not be empty (leave the key out instead)`},
		{"home-relative path", lines(`[[target]]`, `name = "a"`, `url = "https://a.example.com/"`, `token_file = "~/a.token"`),
			`targets.toml:4: target "a": token_file: ~ is not expanded; write the full path, or a path relative to this file`},

		// Durations.
		{"bad duration", with(todo, `timeout = "5 sec"`),
			`targets.toml:5: target "todo": timeout: invalid duration "5 sec" (write it like "5s", "500ms" or "1m30s")`},
		{"duration as a number", with(todo, `timeout = 5`),
			`targets.toml:5: target "todo": timeout must be a duration in quotes, such as "5s", not a whole number`},
		{"zero timeout", with(todo, `timeout = "0s"`),
			`targets.toml:5: target "todo": timeout must be greater than 0`},
		{"negative timeout", lines(`[defaults]`, `timeout = "-1s"`),
			`targets.toml:2: [defaults]: timeout must be greater than 0`},
		{"timeout too long", with(todo, `timeout = "10m"`),
			`targets.toml:5: target "todo": timeout must be at most 5m, not 10m`},
		{"jwt_ttl too long", lines(`[[target]]`, `name = "a"`, `url = "https://a.example.com/"`,
			`jwt_key_file = "k.pem"`, `jwt_iss = "https://acme.okta.com"`, `jwt_sub = "c1"`, `jwt_ttl = "1h"`),
			`targets.toml:7: target "a": jwt_ttl must be at most 5m, not 1h`},
		{"bad max_retry_wait in defaults", lines(`[defaults]`, `max_retry_wait = "soon"`),
			`targets.toml:2: [defaults]: max_retry_wait: invalid duration "soon" (write it like "5s", "500ms" or "1m30s")`},

		// Numbers.
		{"negative retries", with(todo, `retries = -1`),
			`targets.toml:5: target "todo": retries must be between 0 and 10, not -1`},
		{"too many retries", lines(`[defaults]`, `retries = 11`),
			`targets.toml:2: [defaults]: retries must be between 0 and 10, not 11`},
		{"zero concurrency", with(todo, `concurrency = 0`),
			`targets.toml:5: target "todo": concurrency must be between 1 and 1000, not 0`},
		{"global concurrency too high", lines(`[defaults]`, `concurrency = 10001`),
			`targets.toml:2: [defaults]: concurrency must be between 1 and 10000, not 10001`},
		{"target_concurrency zero", lines(`[defaults]`, `target_concurrency = 0`),
			`targets.toml:2: [defaults]: target_concurrency must be between 1 and 1000, not 0`},

		// Types.
		{"retries as a string", with(todo, `retries = "two"`),
			`targets.toml:5: target "todo": retries must be a whole number, not a string`},
		{"enabled as a string", with(todo, `enabled = "no"`),
			`targets.toml:5: target "todo": enabled must be true or false, not a string`},
		{"tags as a string", with(todo, `tags = "hr"`),
			`targets.toml:5: target "todo": tags must be a list of strings, such as ["a", "b"], not a string`},
		{"tags with a number", with(todo, `tags = ["hr", 2]`),
			`targets.toml:5: target "todo": tags must be a list of strings, but item 2 is a whole number`},
		{"bad tag", with(todo, `tags = ["human resources"]`),
			`targets.toml:5: target "todo": tags must be 1 to 64 letters, digits, '.', '_' or '-'`},
		{"url as a number", lines(`[[target]]`, `name = "a"`, `url = 443`),
			`targets.toml:3: target "a": url must be a string in quotes, not a whole number`},
		{"single target table", lines(`[target]`, `name = "a"`),
			`targets.toml:1: write each target as [[target]], with double brackets`},
		{"defaults not a table", lines(`defaults = 5`),
			`targets.toml:1: defaults must be a table, written [defaults] on a line of its own`},

		// [okta].
		{"okta http org_url", lines(`[okta]`, `org_url = "http://acme.okta.com"`),
			`targets.toml:2: [okta]: org_url must use https (plain http is allowed only to loopback addresses)`},
		{"okta org_url with a path", lines(`[okta]`, `org_url = "https://acme.okta.com/admin"`),
			`targets.toml:2: [okta]: org_url must be the org's base URL, such as https://acme.okta.com, without a path`},
		{"okta bad auth_mode", lines(`[okta]`, `auth_mode = "oauth"`),
			`targets.toml:2: [okta]: auth_mode must be "ssws" or "private_key", not "oauth"`},
		{"okta client_id in ssws mode", lines(`[okta]`, `token_env = "OKTA_CLIENT_TOKEN"`, `client_id = "0oa1"`),
			`targets.toml:3: [okta]: client_id applies only to auth_mode = "private_key"`},
		{"okta private_key mode incomplete", lines(`[okta]`, `auth_mode = "private_key"`, `client_id = "0oa1"`),
			strings.Join([]string{
				`targets.toml:2: [okta]: auth_mode = "private_key" needs private_key_file`,
				`targets.toml:2: [okta]: auth_mode = "private_key" needs scopes, such as ["okta.users.read", "okta.users.manage"]`,
			}, "\n")},
		{"okta both token sources", lines(`[okta]`, `token_env = "OKTA_CLIENT_TOKEN"`, `token_file = "okta.token"`),
			`targets.toml:3: [okta]: set token_env or token_file, not both`},

		// Syntax errors keep the library's line.
		{"unterminated string", lines(`[[target]]`, `name = "a"`, `url = "https://a.example.com/`),
			`targets.toml:3: strings cannot contain newlines`},
		{"unquoted string", lines(`[[target]]`, `name = "a"`, `url = https://a.example.com/`),
			`targets.toml:3: expected a value but found a bare word; put strings in double quotes`},
		{"duplicate key", with(todo, `name = "b"`),
			`targets.toml:5: key 'target.name' has already been defined.`},
		{"duplicate unknown key", with(todo, `colour = "a"`, `colour = "b"`),
			`targets.toml:6: key '…' has already been defined.`},

		// Several problems: all of them, in line order.
		{"several problems", lines(
			`[[target]]`, `name = "a"`, `url = "http://a.example.com/"`, `token_env = "A"`, `retries = 99`,
			`[defaults]`, `subject = "x"`),
			strings.Join([]string{
				`targets.toml:3: target "a": url must use https (plain http is allowed only to loopback addresses)`,
				`targets.toml:5: target "a": retries must be between 0 and 10, not 99`,
				`targets.toml:7: [defaults]: subject must be "email", "opaque" or "iss_sub", not "x"`,
			}, "\n")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.src), "targets.toml")
			if err == nil {
				t.Fatalf("Parse succeeded; want error\n%s", tt.want)
			}
			if got := err.Error(); got != tt.want {
				t.Errorf("error:\n got: %s\nwant: %s", got, tt.want)
			}
		})
	}
}

// TestErrorIsStructured checks that callers (the console, `ulc targets
// check`) can get at the parts of a message.
func TestErrorIsStructured(t *testing.T) {
	_, err := Parse([]byte(with(todo, `tokn_env = "X"`)), "conf/targets.toml")
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("error %T is not an *Error", err)
	}
	want := Error{File: "conf/targets.toml", Line: 5, Scope: `target "todo"`, Msg: `unknown key "tokn_env"; did you mean "token_env"?`}
	if *e != want {
		t.Errorf("got %+v, want %+v", *e, want)
	}
}

// TestInlineCredentialKeys covers every spelling of an inline credential:
// each gets the specific message, and none echoes the value.
func TestInlineCredentialKeys(t *testing.T) {
	const secret = "Zq7secretValue42"
	for _, key := range []string{"token", "bearer", "password", "secret", "client_secret", "private_key", "api_key", "key", "apiKey", "access-token"} {
		for _, table := range []string{"target", "okta"} {
			src := with(todo, key+` = "`+secret+`"`)
			if table == "okta" {
				src = lines(`[okta]`, key+` = "`+secret+`"`)
			}
			_, err := Parse([]byte(src), "targets.toml")
			if err == nil {
				t.Fatalf("%s in %s: Parse succeeded", key, table)
			}
			if msg := err.Error(); !strings.Contains(msg, "inline credentials are not accepted") || strings.Contains(msg, secret) {
				t.Errorf("%s in %s: got %q", key, table, msg)
			}
		}
	}
}

// TestSyntaxErrorsDoNotEchoSecrets: the toml library quotes what it could
// not parse, which on a "token = ..." line is the secret itself.
func TestSyntaxErrorsDoNotEchoSecrets(t *testing.T) {
	for _, tc := range []struct{ value, secret string }{
		{`s3cretTokenValue`, "s3cretTokenValue"},         // a bare word
		{`0123456789123`, "0123456789123"},               // a leading zero
		{`99999999999999999999999`, "99999999999999999"}, // out of range
		{`1979-13-45T99:99:99Z`, "1979-13-45"},           // a bad date
		{`"abc\qdef123456"`, "def123456"},                // a bad escape
		{`"unterminated12345`, "unterminated12345"},      // no closing quote
	} {
		src := lines(`[[target]]`, `name = "a"`, `token = `+tc.value)
		_, err := Parse([]byte(src), "targets.toml")
		if err == nil {
			t.Fatalf("%s: Parse succeeded", tc.value)
		}
		if msg := err.Error(); strings.Contains(msg, tc.secret) || !strings.HasPrefix(msg, "targets.toml:3: ") {
			t.Errorf("%s: got %q", tc.value, msg)
		}
	}
}

func TestHTTPAllowedOnlyToLoopback(t *testing.T) {
	for _, u := range []string{
		"http://127.0.0.1:8080/gtr",
		"http://127.10.0.1/gtr",
		"http://[::1]:9000/gtr",
		"http://localhost:8080/gtr",
		"http://LOCALHOST/gtr",
		"https://todo.example.com/gtr?tenant=acme",
	} {
		f := parse(t, lines(`[[target]]`, `name = "a"`, `url = "`+u+`"`, `auth = "none"`))
		if got := f.Targets[0].URL; got != u {
			t.Errorf("URL = %q, want %q", got, u)
		}
	}
	for _, u := range []string{"http://localhost.example.com/", "http://128.0.0.1/", "http://[::2]/", "http://0.0.0.0/"} {
		_, err := Parse([]byte(lines(`[[target]]`, `name = "a"`, `url = "`+u+`"`, `auth = "none"`)), "targets.toml")
		if err == nil || !strings.Contains(err.Error(), "url must use https") {
			t.Errorf("%s: got %v, want the https error", u, err)
		}
	}
}

func TestEmptyFilesHaveNoTargets(t *testing.T) {
	for _, src := range []string{"", "# only a comment\n", lines(`[defaults]`, `timeout = "1s"`), "\ufeff\r\n"} {
		f := parse(t, src)
		if len(f.Targets) != 0 {
			t.Errorf("%q: %d targets, want 0", src, len(f.Targets))
		}
		if sel, err := f.Select(nil); err != nil || len(sel) != 0 {
			t.Errorf("%q: Select(nil) = %v, %v", src, sel, err)
		}
	}
}

func TestDefaultsApplied(t *testing.T) {
	f := parse(t, lines(todo...))
	wantDefaults := Defaults{
		Timeout: 5 * time.Second, MaxRetryWait: 30 * time.Second, Retries: 2,
		Concurrency: 64, TargetConcurrency: 4, Subject: SubjectEmail, BodyKey: BodyKeySubID,
	}
	if f.Defaults != wantDefaults {
		t.Errorf("Defaults = %+v, want %+v", f.Defaults, wantDefaults)
	}
	want := Target{
		Name: "todo", URL: "https://todo.example.com/gtr", Subject: SubjectEmail, BodyKey: BodyKeySubID,
		Auth: AuthBearer, TokenEnv: "TODO_UL_TOKEN", Timeout: 5 * time.Second, MaxRetryWait: 30 * time.Second,
		Retries: 2, Concurrency: 4, Enabled: true, Line: 1, File: "targets.toml",
	}
	if !reflect.DeepEqual(f.Targets[0], want) {
		t.Errorf("target =\n%+v\nwant\n%+v", f.Targets[0], want)
	}
	if f.Okta.Line != 0 || f.Okta.AuthMode != "" {
		t.Errorf("Okta = %+v, want the zero table", f.Okta)
	}
}

func TestDefaultsInheritedAndOverridden(t *testing.T) {
	f, err := Parse([]byte(lines(
		`[defaults]`, // 1
		`timeout = "2s"`,
		`retries = 0`,
		`max_retry_wait = "10s"`,
		`concurrency = 8`,
		`target_concurrency = 2`,
		`subject = "opaque"`,
		`body_key = "subject"`,
		`jwt_iss = "https://acme.okta.com"`,
		`jwt_key_file = "keys/ulc.pem"`, // 10
		`jwt_key_id = "ulc-2026"`,
		``,
		`[[target]]`, // 13: inherits everything
		`name = "inherits"`,
		`url = "https://a.example.com/gtr"`,
		`jwt_sub = "client-a"`,
		``,
		`[[target]]`, // 18: overrides everything
		`name = "overrides"`,
		`url = "https://b.example.com/gtr"`,
		`token_file = "/run/secrets/b.token"`,
		`subject = "email"`,
		`body_key = "sub_id"`,
		`timeout = "1s"`,
		`retries = 3`,
		`max_retry_wait = "1m"`,
		`concurrency = 1`,
		`ca_file = "ca.pem"`,
		`enabled = false`,
		`tags = ["hr", "finance"]`,
	)), "/etc/ulc/targets.toml")
	if err != nil {
		t.Fatal(err)
	}
	wantDefaults := Defaults{
		Timeout: 2 * time.Second, MaxRetryWait: 10 * time.Second, Retries: 0, Concurrency: 8, TargetConcurrency: 2,
		Subject: SubjectOpaque, BodyKey: BodyKeySubject, JWTIss: "https://acme.okta.com",
		JWTKeyFile: "/etc/ulc/keys/ulc.pem", JWTKeyID: "ulc-2026",
	}
	if f.Defaults != wantDefaults {
		t.Errorf("Defaults = %+v\nwant %+v", f.Defaults, wantDefaults)
	}
	want := []Target{{
		Name: "inherits", URL: "https://a.example.com/gtr", Subject: SubjectOpaque, BodyKey: BodyKeySubject,
		Auth: AuthJWT, JWTKeyFile: "/etc/ulc/keys/ulc.pem", JWTKeyID: "ulc-2026", JWTIss: "https://acme.okta.com",
		JWTSub: "client-a", JWTTTL: 5 * time.Minute, Timeout: 2 * time.Second, MaxRetryWait: 10 * time.Second,
		Retries: 0, Concurrency: 2, Enabled: true, Line: 13, File: "/etc/ulc/targets.toml",
	}, {
		Name: "overrides", URL: "https://b.example.com/gtr", Subject: SubjectEmail, BodyKey: BodyKeySubID,
		Auth: AuthBearer, TokenFile: "/run/secrets/b.token", Timeout: time.Second, MaxRetryWait: time.Minute,
		Retries: 3, Concurrency: 1, CAFile: "/etc/ulc/ca.pem", Enabled: false, Tags: []string{"hr", "finance"},
		Line: 18, File: "/etc/ulc/targets.toml",
	}}
	if !reflect.DeepEqual(f.Targets, want) {
		t.Errorf("targets =\n%+v\nwant\n%+v", f.Targets, want)
	}
}

func TestOktaTable(t *testing.T) {
	f, err := Parse([]byte(lines(
		`[okta]`,
		`org_url = "https://acme.okta.com/"`,
		`auth_mode = "private_key"`,
		`client_id = "0oa1example"`,
		`private_key_file = "okta.pem"`,
		`key_id = "kid1"`,
		`scopes = ["okta.users.read", "okta.users.manage"]`,
		``,
		`[[target]]`,
		`name = "app"`,
		`url = "https://app.example.com/gtr"`,
		`subject = "iss_sub"`,
		`auth = "none"`,
	)), "cfg/targets.toml")
	if err != nil {
		t.Fatal(err)
	}
	want := Okta{
		OrgURL: "https://acme.okta.com", Issuer: "https://acme.okta.com", AuthMode: OktaAuthPrivateKey,
		ClientID: "0oa1example", PrivateKeyFile: filepath.Join("cfg", "okta.pem"), KeyID: "kid1",
		Scopes: []string{"okta.users.read", "okta.users.manage"}, Line: 1, File: "cfg/targets.toml",
	}
	if !reflect.DeepEqual(f.Okta, want) {
		t.Errorf("Okta = %+v\nwant %+v", f.Okta, want)
	}
	if got := f.Targets[0].SubjectIss; got != "https://acme.okta.com" {
		t.Errorf("SubjectIss = %q, want the org URL", got)
	}
}

func TestSubjectIssuer(t *testing.T) {
	target := func(extra ...string) []string {
		return append([]string{`[[target]]`, `name = "app"`, `url = "https://app.example.com/gtr"`, `auth = "none"`, `subject = "iss_sub"`}, extra...)
	}
	tests := []struct {
		name, src, want string
	}{
		{"okta issuer", lines(append([]string{`[okta]`, `org_url = "https://acme.okta.com"`, `issuer = "https://id.acme.com"`}, target()...)...), "https://id.acme.com"},
		{"okta org_url", lines(append([]string{`[okta]`, `org_url = "https://acme.okta.com"`}, target()...)...), "https://acme.okta.com"},
		{"subject_iss wins", lines(append([]string{`[okta]`, `issuer = "https://id.acme.com"`}, target(`subject_iss = "https://other.example.com"`)...)...), "https://other.example.com"},
		{"none known yet", lines(target()...), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := parse(t, tt.src).Targets[0].SubjectIss; got != tt.want {
				t.Errorf("SubjectIss = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestIssuerFallback(t *testing.T) {
	src := lines(
		`[[target]]`, `name = "a"`, `url = "https://a.example.com/"`, `auth = "none"`, `subject = "iss_sub"`,
		`[[target]]`, `name = "b"`, `url = "https://b.example.com/"`, `auth = "none"`, `subject = "iss_sub"`, `subject_iss = "https://b.example.com"`,
		`[[target]]`, `name = "c"`, `url = "https://c.example.com/"`, `auth = "none"`,
	)
	f := parse(t, src)
	err := f.IssuerFallback("")
	want := `targets.toml:1: target "a": subject = "iss_sub" needs an issuer: set subject_iss, or issuer or org_url in [okta]`
	if err == nil || err.Error() != want {
		t.Errorf("IssuerFallback(\"\") = %v, want %s", err, want)
	}
	if err := f.IssuerFallback("https://acme.okta.com"); err != nil {
		t.Fatal(err)
	}
	got := []string{f.Targets[0].SubjectIss, f.Targets[1].SubjectIss, f.Targets[2].SubjectIss}
	if !reflect.DeepEqual(got, []string{"https://acme.okta.com", "https://b.example.com", ""}) {
		t.Errorf("issuers = %q", got)
	}
	if err := f.IssuerFallback(""); err != nil {
		t.Errorf("after the fallback: %v", err)
	}
}

func TestAuthInferred(t *testing.T) {
	base := []string{`[[target]]`, `name = "a"`, `url = "https://a.example.com/"`}
	for _, tc := range []struct {
		extra []string
		want  string
	}{
		{[]string{`token_env = "A"`}, AuthBearer},
		{[]string{`token_file = "a.token"`}, AuthBearer},
		{[]string{`jwt_key_file = "k.pem"`, `jwt_iss = "https://acme.okta.com"`, `jwt_sub = "c"`}, AuthJWT},
		{[]string{`auth = "none"`}, AuthNone},
	} {
		if got := parse(t, with(base, tc.extra...)).Targets[0].Auth; got != tc.want {
			t.Errorf("%v: Auth = %q, want %q", tc.extra, got, tc.want)
		}
	}
}

func TestTargetLinesAndWhere(t *testing.T) {
	f := parse(t, lines(
		`# a comment mentioning [[target]]`,
		`[defaults]`,
		`timeout = "1s"`,
		`[[target]]`, // 4
		`name = "a"`,
		`url = "https://a.example.com/"`,
		`token_env = "A"`,
		`tags = [`,
		`  "x",`,
		`]`,
		`  [[target]]  # indented, with a comment`, // 11
		`name = "b"`,
		`url = "https://b.example.com/"`,
		`token_env = "B"`,
	))
	if f.Targets[0].Line != 4 || f.Targets[1].Line != 11 {
		t.Errorf("lines = %d, %d; want 4, 11", f.Targets[0].Line, f.Targets[1].Line)
	}
	if got, want := f.Targets[1].Where(), `targets.toml:11: target "b"`; got != want {
		t.Errorf("Where = %q, want %q", got, want)
	}
}

func TestLinesIgnoreMultilineStrings(t *testing.T) {
	// A [[target]] inside a multi-line string is text, not a header, so the
	// unknown key of the real second target is still placed correctly.
	src := lines(
		`[[target]]`,
		`name = "a"`,
		`url = "https://a.example.com/"`,
		`auth = "none"`,
		`tags = ["""x`,
		`[[target]]`,
		`"""]`,
		`[[target]]`, // 8
		`name = "b"`,
		`url = "https://b.example.com/"`,
		`auth = "none"`,
		`colour = "red"`, // 12
	)
	_, err := Parse([]byte(src), "targets.toml")
	if err == nil {
		t.Fatal("Parse succeeded")
	}
	// The tag is refused too (it has a newline); only the line of the
	// unknown key matters here.
	if !strings.Contains(err.Error(), `targets.toml:12: target "b": unknown key "colour"`) {
		t.Errorf("got %v", err)
	}
}

func TestInlineArrayOfTargets(t *testing.T) {
	f := parse(t, lines(`target = [{name = "a", url = "https://a.example.com/", auth = "none"}]`))
	if len(f.Targets) != 1 || f.Targets[0].Name != "a" {
		t.Errorf("targets = %+v", f.Targets)
	}
}

func TestCRLF(t *testing.T) {
	src := strings.ReplaceAll(with(todo, `colour = "x"`), "\n", "\r\n")
	_, err := Parse([]byte(src), "targets.toml")
	if err == nil || err.Error() != `targets.toml:5: target "todo": unknown key "colour"` {
		t.Errorf("got %v", err)
	}
}

func TestDigest(t *testing.T) {
	src := lines(todo...)
	sum := sha256.Sum256([]byte(src))
	if got, want := parse(t, src).Digest, "sha256:"+hex.EncodeToString(sum[:]); got != want {
		t.Errorf("Digest = %q, want %q", got, want)
	}
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "targets.toml")
	if err := os.WriteFile(path, []byte(lines(`[[target]]`, `name = "a"`, `url = "https://a.example.com/"`, `token_file = "secrets/a.token"`)), 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if f.Path != path || f.Targets[0].TokenFile != filepath.Join(dir, "secrets", "a.token") {
		t.Errorf("Path = %q, TokenFile = %q", f.Path, f.Targets[0].TokenFile)
	}
	missing := filepath.Join(dir, "missing.toml")
	if _, err := Load(missing); err == nil || err.Error() != missing+": cannot read the file: no such file or directory" {
		t.Errorf("Load(missing) = %v", err)
	}
}

// TestExampleFile keeps the documented example at the repository root valid.
func TestExampleFile(t *testing.T) {
	f, err := Load(filepath.Join("..", "targets.toml"))
	if err != nil {
		t.Fatalf("the example targets.toml does not parse:\n%v", err)
	}
	var names []string
	auths := map[string]bool{}
	legacy, disabled := false, false
	for _, tg := range f.Targets {
		names = append(names, tg.Name)
		auths[tg.Auth] = true
		legacy = legacy || tg.BodyKey == BodyKeySubject
		disabled = disabled || !tg.Enabled
		if !strings.Contains(tg.URL, ".example.com/") {
			t.Errorf("%s: URL %q is not on an example.com host", tg.Name, tg.URL)
		}
	}
	if len(f.Targets) < 3 || !auths[AuthBearer] || !auths[AuthJWT] || !legacy || !disabled {
		t.Errorf("the example should show bearer, jwt, body_key = \"subject\" and a disabled target; it has %v", names)
	}
	// Its credentials are placeholders: loading one fails with a clear message.
	_, err = f.Targets[0].LoadCredential(func(string) string { return "" })
	if err == nil || !strings.Contains(err.Error(), "is not set") {
		t.Errorf("LoadCredential = %v", err)
	}
}
