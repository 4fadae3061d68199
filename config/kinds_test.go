package config

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// Valid targets of each kind, lines 1 to 4 or 5, as the base of many cases.
var (
	googleT = []string{
		`[[target]]`,
		`name = "google"`,
		`kind = "google"`,
		`credentials_file = "keys/google-sa.json"`,
		`admin = "secops-admin@acme.com"`,
	}
	m365T = []string{
		`[[target]]`,
		`name = "m365"`,
		`kind = "microsoft"`,
		`tenant = "contoso.onmicrosoft.com"`,
		`client_id = "1f0c2d3e-aaaa-bbbb-cccc-0123456789ab"`,
		`client_secret_env = "M365_CLIENT_SECRET"`,
	}
	slackT = []string{
		`[[target]]`,
		`name = "slack"`,
		`kind = "slack"`,
		`token_env = "SLACK_ADMIN_TOKEN"`,
	}
	caepT = []string{
		`[[target]]`,
		`name = "okta-itp"`,
		`kind = "caep"`,
		`url = "https://acme.okta.com/security/api/v1/security-events"`,
		`jwt_key_file = "keys/caep.pem"`,
		`jwt_iss = "https://ulc.acme.com"`,
	}
)

// TestKindsDecoded: the keys of issue 9, exactly as written there, decode
// into the fields a connector reads, with each kind's defaults.
func TestKindsDecoded(t *testing.T) {
	f, err := Parse([]byte(lines(
		`[[target]]`, // 1
		`name = "google"`,
		`kind = "google"`,
		`credentials_file = "keys/google-sa.json"`,
		`admin = "secops-admin@acme.com"`,
		`url = "https://admin.googleapis.com/"`,
		`revoke_oauth_grants = true`,
		``,
		`[[target]]`, // 9
		`name = "m365"`,
		`kind = "microsoft"`,
		`tenant = "contoso.onmicrosoft.com"`,
		`client_id = "1f0c2d3e-aaaa-bbbb-cccc-0123456789ab"`,
		`client_secret_env = "M365_CLIENT_SECRET"`,
		`token_url = "https://login.microsoftonline.com/{tenant}/oauth2/v2.0/token"`,
		`url = "https://graph.microsoft.com/"`,
		``,
		`[[target]]`, // 18
		`name = "slack"`,
		`kind = "slack"`,
		`token_env = "SLACK_ADMIN_TOKEN"`,
		`url = "https://slack.com/api/"`,
		``,
		`[[target]]`, // 24
		`name = "okta-itp"`,
		`kind = "caep"`,
		`url = "https://acme.okta.com/security/api/v1/security-events"`,
		`token_env = "CAEP_PUSH_TOKEN"`,
		`jwt_key_file = "keys/caep.pem"`,
		`jwt_iss = "https://ulc.acme.com"`,
		`jwt_key_id = "ulc-caep-1"`,
	)), "/etc/ulc/targets.toml")
	if err != nil {
		t.Fatal(err)
	}
	common := func(tg Target) Target {
		tg.Timeout, tg.MaxRetryWait, tg.Retries, tg.Concurrency, tg.Enabled = 5*time.Second, 30*time.Second, 2, 4, true
		tg.File = "/etc/ulc/targets.toml"
		return tg
	}
	want := []Target{
		common(Target{Name: "google", Kind: KindGoogle, URL: "https://admin.googleapis.com/", Auth: AuthServiceAccount,
			CredentialsFile: "/etc/ulc/keys/google-sa.json", Admin: "secops-admin@acme.com", RevokeOAuthGrants: true, Line: 1}),
		common(Target{Name: "m365", Kind: KindMicrosoft, URL: "https://graph.microsoft.com/", Auth: AuthClientSecret,
			Tenant: "contoso.onmicrosoft.com", ClientID: "1f0c2d3e-aaaa-bbbb-cccc-0123456789ab", ClientSecretEnv: "M365_CLIENT_SECRET",
			TokenURL: "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token", Line: 9}),
		common(Target{Name: "slack", Kind: KindSlack, URL: "https://slack.com/api/", Auth: AuthBearer, TokenEnv: "SLACK_ADMIN_TOKEN", Line: 18}),
		common(Target{Name: "okta-itp", Kind: KindCAEP, URL: "https://acme.okta.com/security/api/v1/security-events", Auth: AuthJWT,
			TokenEnv: "CAEP_PUSH_TOKEN", JWTKeyFile: "/etc/ulc/keys/caep.pem", JWTIss: "https://ulc.acme.com", JWTKeyID: "ulc-caep-1", Line: 24}),
	}
	if !reflect.DeepEqual(f.Targets, want) {
		t.Errorf("targets =\n%+v\nwant\n%+v", f.Targets, want)
	}
	for _, tg := range f.Targets {
		if tg.EffectiveKind() != tg.Kind {
			t.Errorf("%s: EffectiveKind() = %q, want %q", tg.Name, tg.EffectiveKind(), tg.Kind)
		}
	}
}

// TestKindDefaults: without url (and token_url), each API kind gets the
// vendor's endpoints; revoke_oauth_grants is off unless written.
func TestKindDefaults(t *testing.T) {
	tests := []struct {
		src            []string
		url, tokenURL  string
		revokeGrants   bool
		wantAuth, kind string
	}{
		{googleT, "https://admin.googleapis.com/", "", false, AuthServiceAccount, KindGoogle},
		{m365T, "https://graph.microsoft.com/", "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token", false, AuthClientSecret, KindMicrosoft},
		{slackT, "https://slack.com/api/", "", false, AuthBearer, KindSlack},
	}
	for _, tt := range tests {
		tg := parse(t, lines(tt.src...)).Targets[0]
		if tg.URL != tt.url || tg.TokenURL != tt.tokenURL || tg.RevokeOAuthGrants != tt.revokeGrants || tg.Auth != tt.wantAuth || tg.Kind != tt.kind {
			t.Errorf("%s: url %q, token_url %q, revoke_oauth_grants %v, auth %q, kind %q", tt.kind, tg.URL, tg.TokenURL, tg.RevokeOAuthGrants, tg.Auth, tg.Kind)
		}
		if tg.Subject != "" || tg.BodyKey != "" {
			t.Errorf("%s: GTR settings on a %s target: subject %q, body_key %q", tt.kind, tt.kind, tg.Subject, tg.BodyKey)
		}
	}
}

// TestGTRIsTheDefaultKind: a target without kind is a GTR target, and
// writing kind = "gtr" changes nothing but Kind.
func TestGTRIsTheDefaultKind(t *testing.T) {
	implicit := parse(t, lines(todo...)).Targets[0]
	explicit := parse(t, with(todo, `kind = "gtr"`)).Targets[0]
	if implicit.Kind != "" || implicit.EffectiveKind() != KindGTR {
		t.Errorf("without kind: Kind %q, EffectiveKind %q", implicit.Kind, implicit.EffectiveKind())
	}
	if explicit.Kind != KindGTR || explicit.EffectiveKind() != KindGTR {
		t.Errorf("kind = \"gtr\": Kind %q, EffectiveKind %q", explicit.Kind, explicit.EffectiveKind())
	}
	explicit.Kind = ""
	if !reflect.DeepEqual(implicit, explicit) {
		t.Errorf("kind = \"gtr\" decodes differently:\n%+v\n%+v", explicit, implicit)
	}
}

// TestKindURLs: an API root written without its trailing slash gets one;
// loopback http is accepted for every kind, so the sandbox works.
func TestKindURLs(t *testing.T) {
	tests := []struct {
		base      []string
		url, want string
	}{
		{googleT, "http://127.0.0.1:8080", "http://127.0.0.1:8080/"},
		{googleT, "https://admin.googleapis.com", "https://admin.googleapis.com/"},
		{m365T, "http://[::1]:9000/graph", "http://[::1]:9000/graph/"},
		{slackT, "http://localhost:7000/api/", "http://localhost:7000/api/"},
		{caepT[:4], "http://127.0.0.1:1/events", "http://127.0.0.1:1/events"}, // a push endpoint is kept as written
	}
	for _, tt := range tests {
		src := tt.base
		if tt.base[2] == `kind = "caep"` {
			src = append(slices.Clone(caepT[:3]), caepT[4:]...)
		}
		tg := parse(t, with(src, `url = "`+tt.url+`"`)).Targets[0]
		if tg.URL != tt.want {
			t.Errorf("%s url %q: URL = %q, want %q", tg.Kind, tt.url, tg.URL, tt.want)
		}
	}
}

// TestMicrosoftTokenURL: token_url gets the tenant in place of {tenant}, or
// is kept as written without it.
func TestMicrosoftTokenURL(t *testing.T) {
	for _, tt := range []struct{ raw, want string }{
		{"http://127.0.0.1:8443/{tenant}/oauth2/v2.0/token", "http://127.0.0.1:8443/contoso.onmicrosoft.com/oauth2/v2.0/token"},
		{"https://login.microsoftonline.us/{tenant}/oauth2/v2.0/token", "https://login.microsoftonline.us/contoso.onmicrosoft.com/oauth2/v2.0/token"},
		{"http://127.0.0.1:8443/token", "http://127.0.0.1:8443/token"},
	} {
		tg := parse(t, with(m365T, `token_url = "`+tt.raw+`"`)).Targets[0]
		if tg.TokenURL != tt.want {
			t.Errorf("token_url %q: TokenURL = %q, want %q", tt.raw, tg.TokenURL, tt.want)
		}
	}
	tg := parse(t, lines(`[[target]]`, `name = "m365"`, `kind = "microsoft"`, `tenant = "72f988bf-86f1-41af-91ab-2d7cd011db47"`,
		`client_id = "c"`, `client_cert_file = "certs/m365.pem"`, `client_key_file = "keys/m365.key"`)).Targets[0]
	if tg.Auth != AuthClientCertificate || tg.ClientCertFile != "certs/m365.pem" || tg.ClientKeyFile != "keys/m365.key" ||
		tg.TokenURL != "https://login.microsoftonline.com/72f988bf-86f1-41af-91ab-2d7cd011db47/oauth2/v2.0/token" {
		t.Errorf("certificate target = %+v", tg)
	}
	tg = parse(t, lines(`[[target]]`, `name = "m365"`, `kind = "microsoft"`, `tenant = "contoso.com"`, `client_id = "c"`, `client_secret_file = "secrets/m365"`)).Targets[0]
	if tg.Auth != AuthClientSecret || tg.ClientSecretFile != "secrets/m365" {
		t.Errorf("secret file target = %+v", tg)
	}
}

// TestCAEPInheritsJWTDefaults: jwt_iss, jwt_key_file and jwt_key_id come
// from [defaults] as for GTR JWT targets; a target's own keys win.
func TestCAEPInheritsJWTDefaults(t *testing.T) {
	f := parse(t, lines(
		`[defaults]`,
		`jwt_iss = "https://ulc.acme.com"`,
		`jwt_key_file = "keys/ulc.pem"`,
		`jwt_key_id = "ulc-2026"`,
		`[[target]]`,
		`name = "itp"`,
		`kind = "caep"`,
		`url = "https://acme.okta.com/security/api/v1/security-events"`,
		`[[target]]`,
		`name = "own"`,
		`kind = "caep"`,
		`url = "https://rx.example.com/events"`,
		`jwt_key_file = "keys/caep.pem"`,
		`jwt_key_id = "caep-1"`,
		`token_file = "secrets/push.token"`,
	))
	a, b := f.Targets[0], f.Targets[1]
	if a.JWTIss != "https://ulc.acme.com" || a.JWTKeyFile != "keys/ulc.pem" || a.JWTKeyID != "ulc-2026" || a.TokenEnv != "" || a.TokenFile != "" {
		t.Errorf("inheriting target = %+v", a)
	}
	if b.JWTIss != "https://ulc.acme.com" || b.JWTKeyFile != "keys/caep.pem" || b.JWTKeyID != "caep-1" || b.TokenFile != "secrets/push.token" {
		t.Errorf("overriding target = %+v", b)
	}
}

// TestCommonKeysOnEveryKind: timeout, retries, concurrency, max_retry_wait,
// ca_file, enabled and tags work the same on every kind.
func TestCommonKeysOnEveryKind(t *testing.T) {
	for _, base := range [][]string{todo, googleT, m365T, slackT, caepT} {
		src := with(base, `timeout = "2s"`, `retries = 5`, `max_retry_wait = "1m"`, `concurrency = 9`,
			`ca_file = "/etc/ssl/internal.pem"`, `enabled = false`, `tags = ["hr"]`)
		tg := parse(t, src).Targets[0]
		if tg.Timeout != 2*time.Second || tg.Retries != 5 || tg.MaxRetryWait != time.Minute || tg.Concurrency != 9 ||
			tg.CAFile != "/etc/ssl/internal.pem" || tg.Enabled || !slices.Equal(tg.Tags, []string{"hr"}) {
			t.Errorf("%s: %+v", tg.EffectiveKind(), tg)
		}
		_, err := Parse([]byte(with(base, `retries = 11`)), "targets.toml")
		want := fmt.Sprintf(`targets.toml:%d: target %q: retries must be between 0 and 10, not 11`, len(base)+1, tg.Name)
		if err == nil || err.Error() != want {
			t.Errorf("%s:\n got: %v\nwant: %s", tg.EffectiveKind(), err, want)
		}
	}
}

// TestKindErrors checks the exact message of each rule of the new kinds.
func TestKindErrors(t *testing.T) {
	tests := []struct {
		name string
		src  string
		want string
	}{
		// The kind itself.
		{"unknown kind", with(todo, `kind = "okta"`),
			`targets.toml:5: target "todo": kind must be "gtr", "google", "microsoft", "slack", "caep", "zoom" or "github", not "okta"`},
		{"a pasted value as kind is not echoed", with(todo, `kind = "https://x.example.com/a?b=c"`),
			`targets.toml:5: target "todo": kind must be "gtr", "google", "microsoft", "slack", "caep", "zoom" or "github"`},
		{"kind as a number", with(todo, `kind = 1`),
			`targets.toml:5: target "todo": kind must be a string in quotes, not a whole number`},
		{"unknown kind: its keys are not checked as well", lines(`[[target]]`, `name = "b"`, `kind = "box"`, `enterprise_id = "x"`),
			strings.Join([]string{
				`targets.toml:3: target "b": kind must be "gtr", "google", "microsoft", "slack", "caep", "zoom" or "github", not "box"`,
				`targets.toml:4: target "b": unknown key "enterprise_id"`,
			}, "\n")},

		// Keys of another kind.
		{"admin on a slack target", with(slackT, `admin = "a@acme.com"`),
			`targets.toml:5: target "slack": admin is a key of kind "google" targets; this target is kind "slack"`},
		{"tenant on a gtr target", with(todo, `tenant = "contoso.com"`),
			`targets.toml:5: target "todo": tenant is a key of kind "microsoft" targets; this target is kind "gtr"`},
		{"credentials_file on an explicit gtr target", with(todo, `kind = "gtr"`, `credentials_file = "k.json"`),
			`targets.toml:6: target "todo": credentials_file is a key of kind "google" targets; this target is kind "gtr"`},
		{"token_env on a google target", with(googleT, `token_env = "X"`),
			`targets.toml:6: target "google": token_env is a key of kind "gtr", "slack", "caep" and "github" targets; this target is kind "google"`},
		{"jwt_key_file on a microsoft target", with(m365T, `jwt_key_file = "k.pem"`),
			`targets.toml:7: target "m365": jwt_key_file is a key of kind "gtr" and "caep" targets; this target is kind "microsoft"`},
		{"client_id on a caep target", with(caepT, `client_id = "c"`),
			`targets.toml:7: target "okta-itp": client_id is a key of kind "microsoft" and "zoom" targets; this target is kind "caep"`},
		{"revoke_oauth_grants on a microsoft target", with(m365T, `revoke_oauth_grants = true`),
			`targets.toml:7: target "m365": revoke_oauth_grants is a key of kind "google" targets; this target is kind "microsoft"`},

		// Unknown keys and inline credentials name the keys of the kind.
		{"misspelt key: suggestion from the kind", with(googleT, `credential_file = "k.json"`),
			`targets.toml:6: target "google": unknown key "credential_file"; did you mean "credentials_file"?`},
		{"misspelt secret key: no second message", lines(`[[target]]`, `name = "m365"`, `kind = "microsoft"`,
			`tenant = "contoso.com"`, `client_id = "c"`, `client_secret_en = "S"`),
			`targets.toml:6: target "m365": unknown key "client_secret_en"; did you mean "client_secret_env"?`},
		{"inline client_secret on microsoft", with(m365T, `client_secret = "abc123"`),
			`targets.toml:7: target "m365": inline credentials are not accepted; name an environment variable (client_secret_env) or a file (client_secret_file)`},
		{"inline private_key on microsoft", with(m365T, `private_key = "-----BEGIN"`),
			`targets.toml:7: target "m365": inline credentials are not accepted; name a file (client_key_file)`},
		{"inline private_key on google", with(googleT, `private_key = "-----BEGIN"`),
			`targets.toml:6: target "google": inline credentials are not accepted; name a file (credentials_file) holding the service account's JSON key`},
		{"inline token on slack", with(slackT, `token = "xoxp-1"`),
			`targets.toml:5: target "slack": inline credentials are not accepted; name an environment variable (token_env) or a file (token_file)`},
		{"inline private_key on caep", with(caepT, `private_key = "-----BEGIN"`),
			`targets.toml:7: target "okta-itp": inline credentials are not accepted; name a file (jwt_key_file)`},

		// URLs, as strict as GTR's.
		{"google url over http", with(googleT, `url = "http://admin.googleapis.com/"`),
			`targets.toml:6: target "google": url must use https (plain http is allowed only to loopback addresses)`},
		{"slack url with a bad port", with(slackT, `url = "https://slack.com:99999/api/"`),
			`targets.toml:5: target "slack": url has port 99999; a port is a number from 1 to 65535`},
		{"microsoft url with userinfo", with(m365T, `url = "https://u:p@graph.microsoft.com/"`),
			`targets.toml:7: target "m365": url must not contain a user name or password; name the credential with token_env or token_file`},
		{"API root with a query", with(googleT, `url = "https://admin.googleapis.com/?alt=json"`),
			`targets.toml:6: target "google": url of a kind "google" target is the API root, such as https://admin.googleapis.com/, without a query`},
		{"caep without url", lines(caepT[0], caepT[1], caepT[2], caepT[4], caepT[5]),
			`targets.toml:1: target "okta-itp": url is required: the receiver's push endpoint, such as https://acme.okta.com/security/api/v1/security-events`},
		{"caep url over http", with(caepT[:3], `url = "http://acme.okta.com/security/api/v1/security-events"`, caepT[4], caepT[5]),
			`targets.toml:4: target "okta-itp": url must use https (plain http is allowed only to loopback addresses)`},

		// google.
		{"google without credentials_file", lines(googleT[0], googleT[1], googleT[2], googleT[4]),
			`targets.toml:1: target "google": kind "google" needs credentials_file (the service account's JSON key)`},
		{"google without admin", lines(googleT[:4]...),
			`targets.toml:1: target "google": kind "google" needs admin (the email address of the admin the service account acts for, by domain-wide delegation)`},
		{"google admin not an email", lines(append(slices.Clone(googleT[:4]), `admin = "secops-admin"`)...),
			`targets.toml:5: target "google": admin must be the email address of the admin the service account acts for, such as secops-admin@acme.com`},
		{"google admin with a display name", lines(append(slices.Clone(googleT[:4]), `admin = "SecOps <secops-admin@acme.com>"`)...),
			`targets.toml:5: target "google": admin must be the email address of the admin the service account acts for, such as secops-admin@acme.com`},
		{"google revoke_oauth_grants as a string", with(googleT, `revoke_oauth_grants = "yes"`),
			`targets.toml:6: target "google": revoke_oauth_grants must be true or false, not a string`},
		{"google empty credentials_file", lines(append(slices.Clone(googleT[:3]), `credentials_file = ""`, googleT[4])...),
			`targets.toml:4: target "google": credentials_file must not be empty (leave the key out instead)`},

		// microsoft.
		{"microsoft without tenant", lines(m365T[0], m365T[1], m365T[2], m365T[4], m365T[5]),
			`targets.toml:1: target "m365": kind "microsoft" needs tenant (the tenant's domain, such as contoso.onmicrosoft.com, or its ID)`},
		{"microsoft bad tenant", lines(m365T[0], m365T[1], m365T[2], `tenant = "contoso/../x"`, m365T[4], m365T[5]),
			`targets.toml:4: target "m365": tenant must be the tenant's domain, such as contoso.onmicrosoft.com, or its ID (a GUID)`},
		{"microsoft without client_id", lines(m365T[0], m365T[1], m365T[2], m365T[3], m365T[5]),
			`targets.toml:1: target "m365": kind "microsoft" needs client_id (the application (client) ID of the app registration)`},
		{"microsoft without a client credential", lines(m365T[:5]...),
			`targets.toml:1: target "m365": kind "microsoft" needs a client credential: client_secret_env, client_secret_file, or client_cert_file with client_key_file`},
		{"microsoft with a secret and a secret file", with(m365T, `client_secret_file = "s"`),
			`targets.toml:7: target "m365": set one client credential: client_secret_env, client_secret_file, or client_cert_file with client_key_file, not several`},
		{"microsoft with a secret and a key", with(m365T, `client_key_file = "k.pem"`),
			`targets.toml:7: target "m365": set one client credential: client_secret_env, client_secret_file, or client_cert_file with client_key_file, not several`},
		{"microsoft certificate without its key", with(m365T[:5], `client_cert_file = "c.pem"`),
			`targets.toml:6: target "m365": client_cert_file needs client_key_file (the certificate's private key)`},
		{"microsoft key without its certificate", with(m365T[:5], `client_key_file = "k.pem"`),
			`targets.toml:6: target "m365": client_key_file needs client_cert_file (the certificate registered with the app)`},
		{"microsoft secret pasted into client_secret_env", with(m365T[:5], `client_secret_env = "abc8Q~x.y_z"`),
			`targets.toml:6: target "m365": client_secret_env must be the name of an environment variable in upper case (A-Z, 0-9, _), such as TODO_UL_TOKEN, never the token itself`},
		{"microsoft token_url over http", with(m365T, `token_url = "http://login.microsoftonline.com/{tenant}/oauth2/v2.0/token"`),
			`targets.toml:7: target "m365": token_url must use https (plain http is allowed only to loopback addresses)`},
		{"microsoft token_url with another placeholder", with(m365T, `token_url = "https://login.microsoftonline.com/{tenant_id}/oauth2/v2.0/token"`),
			`targets.toml:7: target "m365": token_url may hold no placeholder other than {tenant}`},
		{"microsoft token_url with a bad port", with(m365T, `token_url = "https://login.microsoftonline.com:0/{tenant}/token"`),
			`targets.toml:7: target "m365": token_url has port 0; a port is a number from 1 to 65535`},
		{"microsoft empty client_id", lines(m365T[0], m365T[1], m365T[2], m365T[3], `client_id = ""`, m365T[5]),
			`targets.toml:5: target "m365": client_id must not be empty (leave the key out instead)`},

		// slack.
		{"slack without a token", lines(slackT[:3]...),
			`targets.toml:1: target "slack": kind "slack" needs token_env or token_file (a user token of an org admin, with the scopes admin.users:write and users:read.email)`},
		{"slack with both token keys", with(slackT, `token_file = "slack.token"`),
			`targets.toml:5: target "slack": set token_env or token_file, not both`},
		{"slack token pasted into token_env", lines(slackT[0], slackT[1], slackT[2], `token_env = "xoxp-1234-abcd"`),
			`targets.toml:4: target "slack": token_env must be the name of an environment variable in upper case (A-Z, 0-9, _), such as TODO_UL_TOKEN, never the token itself`},

		// caep.
		{"caep without jwt_key_file", lines(caepT[0], caepT[1], caepT[2], caepT[3], caepT[5]),
			`targets.toml:1: target "okta-itp": kind "caep" needs jwt_key_file (here or in [defaults]): the RSA key that signs the Security Event Tokens`},
		{"caep without jwt_iss", lines(caepT[:5]...),
			`targets.toml:1: target "okta-itp": kind "caep" needs jwt_iss (here or in [defaults]): the issuer the receiver knows ulc by`},
		{"caep with both token keys", with(caepT, `token_env = "CAEP_PUSH_TOKEN"`, `token_file = "push.token"`),
			`targets.toml:8: target "okta-itp": set token_env or token_file, not both`},
		{"caep jwt_key_id with a space", with(caepT, `jwt_key_id = "ulc caep"`),
			`targets.toml:7: target "okta-itp": jwt_key_id must not contain spaces or control characters`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.src), "targets.toml")
			if err == nil {
				t.Fatalf("Parse accepted:\n%s", tt.src)
			}
			if got := err.Error(); got != tt.want {
				t.Errorf("\n got: %s\nwant: %s", got, tt.want)
			}
		})
	}
}

// TestGTROnlyKeysRefusedOnOtherKinds: every GTR-only key on every other
// kind is refused with the sentence that says whose key it is, at its line.
func TestGTROnlyKeysRefusedOnOtherKinds(t *testing.T) {
	gtrOnly := map[string]string{
		"subject": `"email"`, "subject_iss": `"https://acme.okta.com"`, "body_key": `"sub_id"`,
		"auth": `"bearer"`, "jwt_sub": `"c1"`, "jwt_ttl": `"1m"`,
	}
	for _, base := range [][]string{googleT, m365T, slackT, caepT} {
		kind := strings.Trim(strings.TrimPrefix(base[2], "kind = "), `"`)
		name := strings.Trim(strings.TrimPrefix(base[1], "name = "), `"`)
		for _, key := range sortedKeys(gtrOnly) {
			_, err := Parse([]byte(with(base, key+" = "+gtrOnly[key])), "targets.toml")
			want := fmt.Sprintf(`targets.toml:%d: target %q: %s is a key of kind "gtr" targets; this target is kind %q`, len(base)+1, name, key, kind)
			if err == nil || err.Error() != want {
				t.Errorf("%s on %s:\n got: %v\nwant: %s", key, kind, err, want)
			}
		}
	}
}

// TestEveryTargetKeyHasAnOwner: each key of the target schema is common
// or belongs to at least one kind, so no key is refused on every kind.
func TestEveryTargetKeyHasAnOwner(t *testing.T) {
	for _, key := range targetSchema.keys {
		if !slices.Contains(commonTargetKeys, key) && len(kindsOf(key)) == 0 {
			t.Errorf("key %q belongs to no kind", key)
		}
	}
	for kind, keys := range kindKeys {
		for _, key := range keys {
			if _, ok := targetSchema.types[key]; !ok {
				t.Errorf("kind %q lists %q, which the schema does not define", kind, key)
			}
		}
	}
	if got := Kinds(); len(got) != len(kindKeys) || got[0] != KindGTR {
		t.Errorf("Kinds() = %v", got)
	}
}

// commentedCode matches a commented-out line of TOML in the example file:
// a [[target]] header or a key = value line.
var commentedCode = regexp.MustCompile(`^# (\[\[target\]\]|[a-z_]+ = .*)$`)

// TestExampleFileKinds keeps the commented examples of the other kinds at
// the end of the repository's targets.toml valid: uncommented, they decode
// into one target of each kind, beside the active GTR targets.
func TestExampleFileKinds(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "targets.toml"))
	if err != nil {
		t.Fatal(err)
	}
	text := string(data)
	_, examples, found := strings.Cut(text, "\n# Other kinds of target.")
	if !found {
		t.Fatal(`targets.toml has no "# Other kinds of target." section`)
	}
	var b strings.Builder
	b.WriteString(text)
	for line := range strings.SplitSeq(examples, "\n") {
		if m := commentedCode.FindStringSubmatch(line); m != nil {
			b.WriteString(m[1] + "\n")
		}
	}
	f, err := Parse([]byte(b.String()), filepath.Join("..", "targets.toml"))
	if err != nil {
		t.Fatalf("the uncommented examples do not parse:\n%v", err)
	}
	kinds := map[string]Target{}
	for _, tg := range f.Targets {
		kinds[tg.EffectiveKind()] = tg
	}
	for _, k := range Kinds() {
		if _, ok := kinds[k]; !ok {
			t.Errorf("no example of kind %q", k)
		}
	}
	if g := kinds[KindGoogle]; !g.RevokeOAuthGrants || g.Admin == "" || g.CredentialsFile == "" {
		t.Errorf("google example = %+v", g)
	}
	if m := kinds[KindMicrosoft]; m.TokenURL != "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token" {
		t.Errorf("microsoft example token URL = %q", m.TokenURL)
	}
	if g := kinds[KindGitHub]; g.Org != "acme" || g.LoginAttribute != "githubUsername" || g.TokenEnv == "" || g.URL != DefaultGitHubURL {
		t.Errorf("github example = %+v", g)
	}
	if c := kinds[KindCAEP]; c.TokenEnv == "" || c.JWTKeyID != "ulc-caep-1" {
		t.Errorf("caep example = %+v", c)
	}
}

// BenchmarkKindsRegistry parses a registry of 5,000 targets, the five kinds
// in turn, and the same with a key of another kind on every target (5,000
// errors, each found and placed on its line).
func BenchmarkKindsRegistry(b *testing.B) {
	bodies := []string{
		"url = \"https://app.example.com/gtr\"\ntoken_env = \"APP_UL_TOKEN\"\n",
		"kind = \"google\"\ncredentials_file = \"keys/sa.json\"\nadmin = \"a@acme.com\"\n",
		"kind = \"microsoft\"\ntenant = \"contoso.com\"\nclient_id = \"c\"\nclient_secret_env = \"M365_CLIENT_SECRET\"\n",
		"kind = \"slack\"\ntoken_env = \"SLACK_ADMIN_TOKEN\"\n",
		"kind = \"caep\"\nurl = \"https://rx.example.com/events\"\njwt_key_file = \"keys/caep.pem\"\njwt_iss = \"https://ulc.acme.com\"\n",
	}
	build := func(extra string) []byte {
		var sb strings.Builder
		for i := range 5000 {
			fmt.Fprintf(&sb, "[[target]]\nname = \"app-%d\"\n%s%s", i, bodies[i%len(bodies)], extra)
		}
		return []byte(sb.String())
	}
	for _, c := range []struct {
		name  string
		data  []byte
		valid bool
	}{
		{"valid", build(""), true},
		{"each-with-a-foreign-key", build("revoke_oauth_grants = true\nsubject = \"email\"\n"), false},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.SetBytes(int64(len(c.data)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Parse(c.data, "targets.toml"); (err == nil) != c.valid {
					b.Fatalf("err = %v", err)
				}
			}
		})
	}
}
