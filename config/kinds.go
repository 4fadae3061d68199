package config

import (
	"fmt"
	"net/mail"
	"net/url"
	"reflect"
	"regexp"
	"slices"
	"strings"
)

// commonTargetKeys are the keys every kind of target accepts.
var commonTargetKeys = []string{
	"name", "kind", "url", "timeout", "retries", "max_retry_wait", "concurrency", "ca_file", "enabled", "tags",
}

// kindKeys are the keys of each kind beyond commonTargetKeys. A key of a
// kind written on a target of another is refused with a message naming the
// kinds it belongs to.
var kindKeys = map[string][]string{
	KindGTR: {
		"subject", "subject_iss", "body_key", "auth", "token_env", "token_file",
		"jwt_key_file", "jwt_key_id", "jwt_iss", "jwt_sub", "jwt_ttl",
	},
	KindGoogle:    {"credentials_file", "admin", "revoke_oauth_grants"},
	KindMicrosoft: {"tenant", "client_id", "client_secret_env", "client_secret_file", "client_cert_file", "client_key_file", "token_url"},
	KindSlack:     {"token_env", "token_file"},
	KindCAEP:      {"token_env", "token_file", "jwt_key_file", "jwt_iss", "jwt_key_id"},
	KindZoom:      {"account_id", "client_id", "client_secret_env", "client_secret_file", "token_url"},
	KindGitHub:    {"token_env", "token_file", "org", "login_attribute"},
}

// kindSpec is what the parser knows of one kind: which keys it accepts, and
// those keys in the schema's order, for "did you mean" suggestions.
type kindSpec struct {
	keys    map[string]bool
	suggest []string
}

var kindSpecs = func() map[string]kindSpec {
	m := map[string]kindSpec{}
	for kind, extra := range kindKeys {
		spec := kindSpec{keys: map[string]bool{}}
		for _, k := range append(slices.Clone(commonTargetKeys), extra...) {
			spec.keys[k] = true
		}
		for _, k := range targetSchema.keys {
			if spec.keys[k] {
				spec.suggest = append(spec.suggest, k)
			}
		}
		m[kind] = spec
	}
	return m
}()

// knownKind returns k when it is a kind this package knows, "" otherwise.
func knownKind(k string) string {
	if _, ok := kindSpecs[k]; ok {
		return k
	}
	return ""
}

// writtenKeys calls fn with each key set in rt, in the schema's order.
func writtenKeys(rt *rawTarget, fn func(key string)) {
	v := reflect.ValueOf(rt).Elem()
	for i, key := range targetSchema.keys {
		if !v.Field(i).IsNil() {
			fn(key)
		}
	}
}

// kindsOf lists the kinds whose targets accept key, in Kinds order.
func kindsOf(key string) []string {
	var out []string
	for _, k := range Kinds() {
		if kindSpecs[k].keys[key] {
			out = append(out, k)
		}
	}
	return out
}

// quotedList joins quoted words as `"a"`, `"a" or "b"`, `"a", "b" or "c"`
// (with the word given as last).
func quotedList(words []string, last string) string {
	q := make([]string, len(words))
	for i, w := range words {
		q[i] = fmt.Sprintf("%q", w)
	}
	if len(q) == 1 {
		return q[0]
	}
	return strings.Join(q[:len(q)-1], ", ") + " " + last + " " + q[len(q)-1]
}

// targetKind settles the kind of a target. It returns the kind and whether
// it is known; a kind that is not known is reported once, and the target's
// kind-specific keys are then left unchecked (one mistake, one message).
func (p *parser) targetKind(sc scope, rt *rawTarget, t *Target) (string, bool) {
	if rt.Kind == nil {
		return KindGTR, true
	}
	if k := knownKind(*rt.Kind); k != "" {
		t.Kind = k
		return k, true
	}
	list := quotedList(Kinds(), "or")
	if keywordRE.MatchString(*rt.Kind) {
		p.errAt(sc, "kind", "kind must be %s, not %q", list, *rt.Kind)
	} else {
		p.errAt(sc, "kind", "kind must be %s", list)
	}
	return "", false
}

// foreignKeys refuses the keys rt sets that belong to other kinds than
// kind, such as admin on a kind "slack" target.
func (p *parser) foreignKeys(sc scope, rt *rawTarget, kind string) {
	spec := kindSpecs[kind]
	writtenKeys(rt, func(key string) {
		if !spec.keys[key] {
			p.errAt(sc, key, "%s is a key of kind %s targets; this target is kind %q", key, quotedList(kindsOf(key), "and"), kind)
		}
	})
}

// targetURL validates the url of a target of kind (or of a target whose
// kind is not known, when kind is "").
func (p *parser) targetURL(sc scope, kind string, raw *string) string {
	var def string
	switch kind {
	case KindGoogle:
		def = DefaultGoogleURL
	case KindMicrosoft:
		def = DefaultMicrosoftURL
	case KindSlack:
		def = DefaultSlackURL
	case KindZoom:
		def = DefaultZoomURL
	case KindGitHub:
		def = DefaultGitHubURL
	}
	if raw == nil {
		switch kind {
		case KindGTR:
			p.errAt(sc, "", "url is required")
		case KindCAEP:
			p.errAt(sc, "", "url is required: the receiver's push endpoint, such as https://acme.okta.com/security/api/v1/security-events")
		}
		return def
	}
	if msg := urlProblem("url", *raw); msg != "" {
		p.errAt(sc, "url", "%s", msg)
		return ""
	}
	if def == "" {
		return *raw
	}
	// An API root: the connector appends the method's path to it.
	u, _ := url.Parse(*raw)
	if u.RawQuery != "" || u.ForceQuery {
		p.errAt(sc, "url", "url of a kind %q target is the API root, such as %s, without a query", kind, def)
		return ""
	}
	if !strings.HasSuffix(*raw, "/") {
		return *raw + "/"
	}
	return *raw
}

// tenantRE is the shape of an Entra ID tenant: a domain name or a GUID.
var tenantRE = regexp.MustCompile(`^[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?$`)

// kindTarget validates the keys of a target of a kind other than KindGTR
// and fills t with them. suppress says the target has an unknown key, most
// often a misspelling of a required one: then "needs ..." is not said too.
func (p *parser) kindTarget(kind string, sc scope, rt *rawTarget, t *Target, d Defaults, suppress bool) {
	needs := func(key, format string, args ...any) {
		if !suppress {
			p.errAt(sc, key, format, args...)
		}
	}
	switch kind {
	case KindGoogle:
		t.Auth = AuthServiceAccount
		t.CredentialsFile = p.path(sc, "credentials_file", rt.CredentialsFile)
		if rt.CredentialsFile == nil {
			needs("", "kind %q needs credentials_file (the service account's JSON key)", KindGoogle)
		}
		switch {
		case rt.Admin == nil:
			needs("", "kind %q needs admin (the email address of the admin the service account acts for, by domain-wide delegation)", KindGoogle)
		case !isEmail(*rt.Admin):
			p.errAt(sc, "admin", "admin must be the email address of the admin the service account acts for, such as secops-admin@acme.com")
		default:
			t.Admin = *rt.Admin
		}
		t.RevokeOAuthGrants = rt.RevokeOAuthGrants != nil && *rt.RevokeOAuthGrants

	case KindMicrosoft:
		p.microsoft(sc, rt, t, needs)

	case KindZoom:
		p.zoom(sc, rt, t, needs)

	case KindGitHub:
		p.github(sc, rt, t, needs)

	case KindSlack:
		t.Auth = AuthBearer
		t.TokenEnv = p.envName(sc, "token_env", rt.TokenEnv)
		t.TokenFile = p.path(sc, "token_file", rt.TokenFile)
		switch {
		case rt.TokenEnv != nil && rt.TokenFile != nil:
			p.errAt(sc, "token_file", "set token_env or token_file, not both")
		case rt.TokenEnv == nil && rt.TokenFile == nil:
			needs("", "kind %q needs token_env or token_file (a user token of an org admin, with the scopes admin.users:write and users:read.email)", KindSlack)
		}

	case KindCAEP:
		t.Auth = AuthJWT
		t.TokenEnv = p.envName(sc, "token_env", rt.TokenEnv)
		t.TokenFile = p.path(sc, "token_file", rt.TokenFile)
		if rt.TokenEnv != nil && rt.TokenFile != nil {
			p.errAt(sc, "token_file", "set token_env or token_file, not both")
		}
		t.JWTKeyFile = or(p.path(sc, "jwt_key_file", rt.JWTKeyFile), d.JWTKeyFile)
		t.JWTKeyID = or(p.word(sc, "jwt_key_id", rt.JWTKeyID), d.JWTKeyID)
		t.JWTIss = or(p.word(sc, "jwt_iss", rt.JWTIss), d.JWTIss)
		if t.JWTKeyFile == "" && rt.JWTKeyFile == nil {
			needs("", "kind %q needs jwt_key_file (here or in [defaults]): the RSA key that signs the Security Event Tokens", KindCAEP)
		}
		if t.JWTIss == "" && rt.JWTIss == nil {
			needs("", "kind %q needs jwt_iss (here or in [defaults]): the issuer the receiver knows ulc by", KindCAEP)
		}
	}
}

// microsoft validates the keys of a kind "microsoft" target.
func (p *parser) microsoft(sc scope, rt *rawTarget, t *Target, needs func(key, format string, args ...any)) {
	switch {
	case rt.Tenant == nil:
		needs("", "kind %q needs tenant (the tenant's domain, such as contoso.onmicrosoft.com, or its ID)", KindMicrosoft)
	case !tenantRE.MatchString(*rt.Tenant):
		p.errAt(sc, "tenant", "tenant must be the tenant's domain, such as contoso.onmicrosoft.com, or its ID (a GUID)")
	default:
		t.Tenant = *rt.Tenant
	}
	t.ClientID = p.word(sc, "client_id", rt.ClientID)
	if rt.ClientID == nil {
		needs("", "kind %q needs client_id (the application (client) ID of the app registration)", KindMicrosoft)
	}

	t.ClientSecretEnv = p.envName(sc, "client_secret_env", rt.ClientSecretEnv)
	t.ClientSecretFile = p.path(sc, "client_secret_file", rt.ClientSecretFile)
	t.ClientCertFile = p.path(sc, "client_cert_file", rt.ClientCertFile)
	t.ClientKeyFile = p.path(sc, "client_key_file", rt.ClientKeyFile)
	ways := present(keySet{
		{"client_secret_env", rt.ClientSecretEnv != nil},
		{"client_secret_file", rt.ClientSecretFile != nil},
		{"client_cert_file", rt.ClientCertFile != nil || rt.ClientKeyFile != nil},
	})
	switch len(ways) {
	case 0:
		needs("", "kind %q needs a client credential: client_secret_env, client_secret_file, or client_cert_file with client_key_file", KindMicrosoft)
	case 1:
		switch {
		case ways[0] == "client_secret_env" || ways[0] == "client_secret_file":
			t.Auth = AuthClientSecret
		case rt.ClientKeyFile == nil:
			p.errAt(sc, "client_cert_file", "client_cert_file needs client_key_file (the certificate's private key)")
		case rt.ClientCertFile == nil:
			p.errAt(sc, "client_key_file", "client_key_file needs client_cert_file (the certificate registered with the app)")
		default:
			t.Auth = AuthClientCertificate
		}
	default:
		second := ways[1]
		if second == "client_cert_file" && rt.ClientCertFile == nil {
			second = "client_key_file"
		}
		p.errAt(sc, second, "set one client credential: client_secret_env, client_secret_file, or client_cert_file with client_key_file, not several")
	}

	raw := DefaultMicrosoftTokenURL
	key := ""
	if rt.TokenURL != nil {
		raw, key = *rt.TokenURL, "token_url"
	}
	if strings.Contains(raw, "{tenant}") {
		if t.Tenant == "" {
			return // the tenant's own error says it all
		}
		raw = strings.ReplaceAll(raw, "{tenant}", url.PathEscape(t.Tenant))
	}
	switch {
	case strings.ContainsAny(raw, "{}"):
		p.errAt(sc, key, "token_url may hold no placeholder other than {tenant}")
	default:
		if msg := urlProblem("token_url", raw); msg != "" {
			p.errAt(sc, key, "%s", msg)
			return
		}
		t.TokenURL = raw
	}
}

// zoomAccountRE is the shape of a Zoom account ID, as the App Marketplace
// shows it (letters, digits, - and _).
var zoomAccountRE = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// zoom validates the keys of a kind "zoom" target: a Server-to-Server
// OAuth app's account ID, client ID and client secret.
func (p *parser) zoom(sc scope, rt *rawTarget, t *Target, needs func(key, format string, args ...any)) {
	t.Auth = AuthClientSecret
	switch {
	case rt.AccountID == nil:
		needs("", "kind %q needs account_id (the Account ID of the Server-to-Server OAuth app, on its App Credentials page in the Zoom App Marketplace)", KindZoom)
	case !zoomAccountRE.MatchString(*rt.AccountID):
		p.errAt(sc, "account_id", "account_id must be the Account ID of the Server-to-Server OAuth app (letters, digits, - and _), as its App Credentials page shows it")
	default:
		t.AccountID = *rt.AccountID
	}
	t.ClientID = p.word(sc, "client_id", rt.ClientID)
	if rt.ClientID == nil {
		needs("", "kind %q needs client_id (the Client ID of the Server-to-Server OAuth app)", KindZoom)
	}
	t.ClientSecretEnv = p.envName(sc, "client_secret_env", rt.ClientSecretEnv)
	t.ClientSecretFile = p.path(sc, "client_secret_file", rt.ClientSecretFile)
	switch {
	case rt.ClientSecretEnv != nil && rt.ClientSecretFile != nil:
		p.errAt(sc, "client_secret_file", "set client_secret_env or client_secret_file, not both")
	case rt.ClientSecretEnv == nil && rt.ClientSecretFile == nil:
		needs("", "kind %q needs client_secret_env or client_secret_file (the Client Secret of the Server-to-Server OAuth app)", KindZoom)
	}
	t.TokenURL = DefaultZoomTokenURL
	if rt.TokenURL != nil {
		t.TokenURL = ""
		if msg := urlProblem("token_url", *rt.TokenURL); msg != "" {
			p.errAt(sc, "token_url", "%s", msg)
			return
		}
		t.TokenURL = *rt.TokenURL
	}
}

// githubOrgRE is the shape of a GitHub organization name: letters,
// digits and single hyphens, at most 39 characters, as GitHub allows.
var githubOrgRE = regexp.MustCompile(`^[A-Za-z0-9](?:[A-Za-z0-9]|-[A-Za-z0-9]){0,38}$`)

// oktaAttributeRE is the shape of an Okta profile attribute's variable
// name, such as githubUsername: a letter, then letters, digits and _.
var oktaAttributeRE = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_]{0,99}$`)

// github validates the keys of a kind "github" target: the organization,
// the Okta attribute that holds the user's GitHub login, and the token.
func (p *parser) github(sc scope, rt *rawTarget, t *Target, needs func(key, format string, args ...any)) {
	t.Auth = AuthBearer
	switch {
	case rt.Org == nil:
		needs("", "kind %q needs org (the GitHub organization that uses SAML single sign-on, as in github.com/ORG)", KindGitHub)
	case !githubOrgRE.MatchString(*rt.Org):
		p.errAt(sc, "org", "org must be a GitHub organization name (letters, digits and hyphens, as in github.com/ORG)")
	default:
		t.Org = *rt.Org
	}
	switch {
	case rt.LoginAttribute == nil:
		needs("", "kind %q needs login_attribute (the Okta profile attribute that holds each user's GitHub login, such as githubUsername)", KindGitHub)
	case !oktaAttributeRE.MatchString(*rt.LoginAttribute):
		p.errAt(sc, "login_attribute", "login_attribute must be the variable name of an Okta profile attribute, such as githubUsername (Okta Admin Console → Directory → Profile Editor)")
	default:
		t.LoginAttribute = *rt.LoginAttribute
	}
	t.TokenEnv = p.envName(sc, "token_env", rt.TokenEnv)
	t.TokenFile = p.path(sc, "token_file", rt.TokenFile)
	switch {
	case rt.TokenEnv != nil && rt.TokenFile != nil:
		p.errAt(sc, "token_file", "set token_env or token_file, not both")
	case rt.TokenEnv == nil && rt.TokenFile == nil:
		needs("", "kind %q needs token_env or token_file (a token of an organization owner with the scope admin:org)", KindGitHub)
	}
}

// isEmail reports whether s is a bare email address, such as
// admin@acme.com (no display name, no angle brackets).
func isEmail(s string) bool {
	a, err := mail.ParseAddress(s)
	return err == nil && a.Name == "" && a.Address == s && strings.IndexFunc(s, isSpaceOrControl) < 0
}
