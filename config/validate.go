package config

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode"
)

var (
	// nameRE is the shape of target names and tags: safe in a terminal, a
	// command line, a file name and a log line without quoting.
	nameRE = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)
	// envNameRE is the shape of token_env. Upper case only, by convention
	// and on purpose: a token pasted into token_env by mistake almost always
	// has lower-case letters, and then it is refused here, before any later
	// message ("token_env X is not set") could print it.
	envNameRE = regexp.MustCompile(`^[A-Z_][A-Z0-9_]{0,127}$`)
	// keywordRE is what a mistyped keyword ("emial", "private-key") looks
	// like, as opposed to a pasted secret.
	keywordRE = regexp.MustCompile(`^[A-Za-z_-]{0,20}$`)
)

// build validates the decoded file and applies defaults.
func (p *parser) build(doc *rawFile) *File {
	f := &File{Defaults: p.defaults(doc.Defaults), Okta: p.okta(doc.Okta)}
	f.Targets = make([]Target, 0, len(doc.Target))
	firstLine := map[string]int{}
	for i := range doc.Target {
		t := p.target(i, &doc.Target[i], f)
		if t.Name != "" {
			if line, dup := firstLine[t.Name]; dup {
				p.errAt(targetScope(i, &t.Name), "name", "duplicate name: the target at line %d already uses it", line)
			} else {
				firstLine[t.Name] = t.Line
			}
		}
		f.Targets = append(f.Targets, t)
	}
	f.Forwards = p.forwards(doc.Forward)
	return f
}

func (p *parser) defaults(rd *rawDefaults) Defaults {
	d := Defaults{
		Timeout:           defaultTimeout,
		MaxRetryWait:      defaultMaxRetryWait,
		Retries:           defaultRetries,
		Concurrency:       defaultConcurrency,
		TargetConcurrency: defaultTargetConcurrency,
		Subject:           SubjectEmail,
		BodyKey:           BodyKeySubID,
	}
	if rd == nil {
		return d
	}
	sc := defaultsScope
	d.Timeout = p.duration(sc, "timeout", rd.Timeout, d.Timeout, maxTimeout)
	d.MaxRetryWait = p.duration(sc, "max_retry_wait", rd.MaxRetryWait, d.MaxRetryWait, maxRetryWait)
	d.Retries = p.number(sc, "retries", rd.Retries, d.Retries, 0, maxRetries)
	d.Concurrency = p.number(sc, "concurrency", rd.Concurrency, d.Concurrency, 1, maxConcurrency)
	d.TargetConcurrency = p.number(sc, "target_concurrency", rd.TargetConcurrency, d.TargetConcurrency, 1, maxTargetConcurrency)
	d.Subject = p.oneOf(sc, "subject", rd.Subject, d.Subject, SubjectEmail, SubjectOpaque, SubjectIssSub)
	d.BodyKey = p.oneOf(sc, "body_key", rd.BodyKey, d.BodyKey, BodyKeySubID, BodyKeySubject)
	d.JWTIss = p.word(sc, "jwt_iss", rd.JWTIss)
	d.JWTKeyFile = p.path(sc, "jwt_key_file", rd.JWTKeyFile)
	d.JWTKeyID = p.word(sc, "jwt_key_id", rd.JWTKeyID)
	return d
}

func (p *parser) okta(ro *rawOkta) Okta {
	o := Okta{File: p.file}
	if ro == nil {
		return o
	}
	sc := oktaScope
	o.Line = p.src.lineOf(sc, "")
	if ro.OrgURL != nil {
		o.OrgURL = p.orgURL(sc, "org_url", *ro.OrgURL)
	}
	o.Issuer = p.word(sc, "issuer", ro.Issuer)
	if o.Issuer == "" {
		o.Issuer = o.OrgURL
	}
	o.AuthMode = p.oneOf(sc, "auth_mode", ro.AuthMode, OktaAuthSSWS, OktaAuthSSWS, OktaAuthPrivateKey)
	o.TokenEnv = p.envName(sc, "token_env", ro.TokenEnv)
	o.TokenFile = p.path(sc, "token_file", ro.TokenFile)
	o.ClientID = p.word(sc, "client_id", ro.ClientID)
	o.PrivateKeyFile = p.path(sc, "private_key_file", ro.PrivateKeyFile)
	o.KeyID = p.word(sc, "key_id", ro.KeyID)
	if ro.Scopes != nil {
		o.Scopes = *ro.Scopes
		for _, s := range o.Scopes {
			if s == "" || strings.IndexFunc(s, isSpaceOrControl) >= 0 {
				p.errAt(sc, "scopes", "scopes must be scope names without spaces, such as \"okta.users.manage\"")
				break
			}
		}
	}

	if ro.TokenEnv != nil && ro.TokenFile != nil {
		p.errAt(sc, "token_file", "set token_env or token_file, not both")
	}
	switch o.AuthMode {
	case OktaAuthSSWS:
		for _, key := range present(keySet{
			{"client_id", ro.ClientID != nil}, {"private_key_file", ro.PrivateKeyFile != nil},
			{"key_id", ro.KeyID != nil}, {"scopes", ro.Scopes != nil},
		}) {
			p.errAt(sc, key, "%s applies only to auth_mode = %q", key, OktaAuthPrivateKey)
		}
	case OktaAuthPrivateKey:
		for _, key := range present(keySet{{"token_env", ro.TokenEnv != nil}, {"token_file", ro.TokenFile != nil}}) {
			p.errAt(sc, key, "%s applies only to auth_mode = %q", key, OktaAuthSSWS)
		}
		if ro.ClientID == nil {
			p.errAt(sc, "auth_mode", "auth_mode = %q needs client_id (the service app's client ID)", OktaAuthPrivateKey)
		}
		if ro.PrivateKeyFile == nil {
			p.errAt(sc, "auth_mode", "auth_mode = %q needs private_key_file", OktaAuthPrivateKey)
		}
		if len(o.Scopes) == 0 {
			p.errAt(sc, "auth_mode", "auth_mode = %q needs scopes, such as [\"okta.users.read\", \"okta.users.manage\"]", OktaAuthPrivateKey)
		}
	}
	return o
}

func (p *parser) target(i int, rt *rawTarget, f *File) Target {
	sc := targetScope(i, rt.Name)
	if rt.Kind != nil {
		sc.targetKind = knownKind(*rt.Kind)
	}
	d := f.Defaults
	t := Target{File: p.file, Line: p.src.lineOf(sc, "")}

	switch {
	case rt.Name == nil:
		p.errAt(sc, "", "name is required")
	case !nameRE.MatchString(*rt.Name):
		p.errAt(sc, "name", "name must be 1 to 64 letters, digits, '.', '_' or '-'")
	default:
		t.Name = *rt.Name
	}
	kind, known := p.targetKind(sc, rt, &t)
	if known {
		p.foreignKeys(sc, rt, kind)
	}
	t.URL = p.targetURL(sc, kind, rt.URL)

	if kind == KindGTR {
		t.Subject = p.oneOf(sc, "subject", rt.Subject, d.Subject, SubjectEmail, SubjectOpaque, SubjectIssSub)
		t.BodyKey = p.oneOf(sc, "body_key", rt.BodyKey, d.BodyKey, BodyKeySubID, BodyKeySubject)
		switch {
		case rt.SubjectIss != nil && t.Subject != SubjectIssSub:
			p.errAt(sc, "subject_iss", "subject_iss applies only to subject = %q", SubjectIssSub)
		case rt.SubjectIss != nil:
			t.SubjectIss = p.word(sc, "subject_iss", rt.SubjectIss)
		case t.Subject == SubjectIssSub:
			// May still be empty: File.IssuerFallback can supply it later.
			t.SubjectIss = f.Okta.Issuer
		}
	}

	t.Timeout = p.duration(sc, "timeout", rt.Timeout, d.Timeout, maxTimeout)
	t.MaxRetryWait = p.duration(sc, "max_retry_wait", rt.MaxRetryWait, d.MaxRetryWait, maxRetryWait)
	t.Retries = p.number(sc, "retries", rt.Retries, d.Retries, 0, maxRetries)
	t.Concurrency = p.number(sc, "concurrency", rt.Concurrency, d.TargetConcurrency, 1, maxTargetConcurrency)
	t.CAFile = p.path(sc, "ca_file", rt.CAFile)
	t.Enabled = rt.Enabled == nil || *rt.Enabled
	if rt.Tags != nil {
		t.Tags = *rt.Tags
		for _, tag := range t.Tags {
			if !nameRE.MatchString(tag) {
				p.errAt(sc, "tags", "tags must be 1 to 64 letters, digits, '.', '_' or '-'")
				break
			}
		}
	}
	switch {
	case kind == KindGTR:
		p.auth(i, sc, rt, &t, d)
	case known:
		p.kindTarget(kind, sc, rt, &t, d, p.unknownIn[i])
	}
	return t
}

// auth settles how requests to a target are authenticated: auth as written,
// or inferred from which credential keys are present.
func (p *parser) auth(i int, sc scope, rt *rawTarget, t *Target, d Defaults) {
	tokenKeys := present(keySet{{"token_env", rt.TokenEnv != nil}, {"token_file", rt.TokenFile != nil}})
	jwtKeys := present(keySet{
		{"jwt_key_file", rt.JWTKeyFile != nil}, {"jwt_key_id", rt.JWTKeyID != nil},
		{"jwt_iss", rt.JWTIss != nil}, {"jwt_sub", rt.JWTSub != nil}, {"jwt_ttl", rt.JWTTTL != nil},
	})

	auth := ""
	if rt.Auth != nil {
		auth = p.oneOf(sc, "auth", rt.Auth, "", AuthBearer, AuthJWT, AuthNone)
	} else {
		switch {
		case len(tokenKeys) > 0 && len(jwtKeys) > 0:
			p.errAt(sc, jwtKeys[0], "set either token_env or token_file (auth = %q) or jwt_* keys (auth = %q), not both", AuthBearer, AuthJWT)
		case len(tokenKeys) > 0:
			auth = AuthBearer
		case len(jwtKeys) > 0:
			auth = AuthJWT
		case !p.unknownIn[i]:
			p.errAt(sc, "", "no credential: set token_env or token_file (or auth = %q)", AuthNone)
		}
	}
	t.Auth = auth

	refuse := func(keys []string) {
		for _, key := range keys {
			p.errAt(sc, key, "%s cannot be used with auth = %q", key, auth)
		}
	}
	switch auth {
	case AuthBearer:
		refuse(jwtKeys)
		t.TokenEnv = p.envName(sc, "token_env", rt.TokenEnv)
		t.TokenFile = p.path(sc, "token_file", rt.TokenFile)
		switch len(tokenKeys) {
		case 0:
			p.errAt(sc, "auth", "auth = %q needs token_env or token_file", AuthBearer)
		case 2:
			p.errAt(sc, "token_file", "set token_env or token_file, not both")
		}
	case AuthJWT:
		refuse(tokenKeys)
		t.JWTKeyFile = or(p.path(sc, "jwt_key_file", rt.JWTKeyFile), d.JWTKeyFile)
		t.JWTKeyID = or(p.word(sc, "jwt_key_id", rt.JWTKeyID), d.JWTKeyID)
		t.JWTIss = or(p.word(sc, "jwt_iss", rt.JWTIss), d.JWTIss)
		t.JWTSub = p.word(sc, "jwt_sub", rt.JWTSub)
		t.JWTTTL = p.duration(sc, "jwt_ttl", rt.JWTTTL, defaultJWTTTL, maxJWTTTL)
		if t.JWTKeyFile == "" && rt.JWTKeyFile == nil {
			p.errAt(sc, "auth", "auth = %q needs jwt_key_file (here or in [defaults])", AuthJWT)
		}
		if t.JWTIss == "" && rt.JWTIss == nil {
			p.errAt(sc, "auth", "auth = %q needs jwt_iss (here or in [defaults])", AuthJWT)
		}
		if rt.JWTSub == nil {
			p.errAt(sc, "auth", "auth = %q needs jwt_sub (our client ID at this application)", AuthJWT)
		}
	case AuthNone:
		refuse(tokenKeys)
		refuse(jwtKeys)
	}
}

// oneOf returns *v if it is one of allowed, def if v is nil; otherwise it
// records an error and returns def, so one typo gives one message.
func (p *parser) oneOf(sc scope, key string, v *string, def string, allowed ...string) string {
	if v == nil {
		return def
	}
	for _, a := range allowed {
		if *v == a {
			return a
		}
	}
	quoted := make([]string, len(allowed))
	for i, a := range allowed {
		quoted[i] = fmt.Sprintf("%q", a)
	}
	list := strings.Join(quoted[:len(quoted)-1], ", ") + " or " + quoted[len(quoted)-1]
	// Echo the value only when it looks like a mistyped keyword: someone
	// who writes auth = "Bearer eyJ..." has pasted a token.
	if keywordRE.MatchString(*v) {
		p.errAt(sc, key, "%s must be %s, not %q", key, list, *v)
	} else {
		p.errAt(sc, key, "%s must be %s", key, list)
	}
	return def
}

// duration returns *v, or def if v is nil, checking 0 < *v <= limit.
func (p *parser) duration(sc scope, key string, v *Duration, def, limit time.Duration) time.Duration {
	if v == nil {
		return def
	}
	d := time.Duration(*v)
	switch {
	case d <= 0:
		p.errAt(sc, key, "%s must be greater than 0", key)
		return def
	case d > limit:
		p.errAt(sc, key, "%s must be at most %s, not %s", key, shortDuration(limit), shortDuration(d))
		return def
	}
	return d
}

// number returns *v, or def if v is nil, checking lo <= *v <= hi.
func (p *parser) number(sc scope, key string, v *int, def, lo, hi int) int {
	if v == nil {
		return def
	}
	if *v < lo || *v > hi {
		p.errAt(sc, key, "%s must be between %d and %d, not %d", key, lo, hi, *v)
		return def
	}
	return *v
}

// word returns a string that ends up in a header, a claim or a subject
// identifier (issuers, client IDs, key IDs): it must be non-empty and free
// of whitespace and control characters.
func (p *parser) word(sc scope, key string, v *string) string {
	if v == nil {
		return ""
	}
	switch {
	case *v == "":
		p.errAt(sc, key, "%s must not be empty (leave the key out instead)", key)
	case strings.IndexFunc(*v, isSpaceOrControl) >= 0:
		p.errAt(sc, key, "%s must not contain spaces or control characters", key)
	default:
		return *v
	}
	return ""
}

// path returns a file path resolved against the targets file's directory.
func (p *parser) path(sc scope, key string, v *string) string {
	if v == nil {
		return ""
	}
	switch s := *v; {
	case s == "":
		p.errAt(sc, key, "%s must not be empty (leave the key out instead)", key)
	case strings.IndexFunc(s, unicode.IsControl) >= 0:
		p.errAt(sc, key, "%s must not contain control characters", key)
	case s == "~" || strings.HasPrefix(s, "~/"):
		p.errAt(sc, key, "%s: ~ is not expanded; write the full path, or a path relative to this file", key)
	case filepath.IsAbs(s):
		return filepath.Clean(s)
	default:
		return filepath.Join(p.dir, s)
	}
	return ""
}

// envName returns the name of an environment variable. The value is never
// echoed: when it is not a variable name it is most likely the secret.
func (p *parser) envName(sc scope, key string, v *string) string {
	if v == nil {
		return ""
	}
	if !envNameRE.MatchString(*v) {
		p.errAt(sc, key, "%s must be the name of an environment variable in upper case (A-Z, 0-9, _), such as TODO_UL_TOKEN, never the token itself", key)
		return ""
	}
	return *v
}

// orgURL validates [okta] org_url and strips its trailing slash, which the
// Okta SDK refuses.
func (p *parser) orgURL(sc scope, key, raw string) string {
	if msg := urlProblem(key, raw); msg != "" {
		p.errAt(sc, key, "%s", msg)
		return ""
	}
	u, _ := url.Parse(raw)
	if (u.Path != "" && u.Path != "/") || u.RawQuery != "" {
		p.errAt(sc, key, "%s must be the org's base URL, such as https://acme.okta.com, without a path", key)
		return ""
	}
	return strings.TrimRight(raw, "/")
}

// urlProblem says what is wrong with a URL, or returns "". The URL itself is
// never part of the message: it may carry a password or a token.
func urlProblem(key, raw string) string {
	u, err := url.Parse(raw)
	var ue *url.Error
	switch {
	case err != nil && strings.Contains(raw, "@"):
		return key + " must not contain a user name or password; name the credential with token_env or token_file"
	case errors.As(err, &ue) && strings.HasPrefix(ue.Err.Error(), "invalid port"):
		return key + " has a port that is not a number; a port is a number from 1 to 65535"
	case err != nil:
		return key + " is not a valid URL"
	case u.User != nil:
		return key + " must not contain a user name or password; name the credential with token_env or token_file"
	case !u.IsAbs() || u.Opaque != "":
		return key + " must be an absolute URL, such as https://app.example.com/global-token-revocation"
	case u.Hostname() == "":
		return key + " must include a host name"
	case u.Fragment != "" || strings.Contains(raw, "#"):
		return key + " must not contain a fragment (#...)"
	}
	if msg := portProblem(key, u.Host); msg != "" {
		return msg
	}
	switch strings.ToLower(u.Scheme) {
	case "https":
		return ""
	case "http":
		if isLoopback(u.Hostname()) {
			return ""
		}
	}
	return key + " must use https (plain http is allowed only to loopback addresses)"
}

// portProblem checks the port of a URL's host (host:port, [v6]:port or a
// bare host): url.Parse lets any run of digits through, and an empty one.
func portProblem(key, host string) string {
	var port string
	var hasPort bool
	if strings.HasPrefix(host, "[") {
		end := strings.IndexByte(host, ']')
		if end < 0 {
			return "" // url.Parse has refused it already
		}
		port, hasPort = strings.CutPrefix(host[end+1:], ":")
	} else {
		_, port, hasPort = strings.Cut(host, ":")
	}
	switch {
	case !hasPort:
		return ""
	case port == "":
		return key + " has a ':' after the host but no port; write the port, or leave the ':' out"
	case strings.Trim(port, "0123456789") != "":
		return key + " has a port that is not a number; a port is a number from 1 to 65535"
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		if len(port) > 12 {
			port = port[:12] + "…"
		}
		return fmt.Sprintf("%s has port %s; a port is a number from 1 to 65535", key, port)
	}
	return ""
}

// isLoopback reports whether host is localhost or a loopback IP literal:
// the only places a request may go in clear (the sandbox, tests).
func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func isSpaceOrControl(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }

// keySet lists keys of a table and whether each was written.
type keySet []struct {
	key string
	set bool
}

// present returns the keys that were written, in the order listed.
func present(ks keySet) []string {
	var out []string
	for _, k := range ks {
		if k.set {
			out = append(out, k.key)
		}
	}
	return out
}

// or returns a if it is not empty, else b.
func or(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// shortDuration formats d without trailing zero units: 5m, not 5m0s.
func shortDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = s[:len(s)-2]
	}
	if strings.HasSuffix(s, "h0m") {
		s = s[:len(s)-2]
	}
	return s
}
