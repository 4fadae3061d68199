package config

import (
	"errors"
	"fmt"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/BurntSushi/toml"
)

// Duration is a time.Duration written in targets.toml as a string that
// time.ParseDuration accepts, such as "5s", "500ms" or "1m30s".
type Duration time.Duration

// UnmarshalText implements encoding.TextUnmarshaler.
func (d *Duration) UnmarshalText(text []byte) error {
	v, err := time.ParseDuration(string(text))
	if err != nil {
		return fmt.Errorf("invalid duration %s (write it like \"5s\", \"500ms\" or \"1m30s\")", quote(string(text)))
	}
	*d = Duration(v)
	return nil
}

// MarshalText implements encoding.TextMarshaler.
func (d Duration) MarshalText() ([]byte, error) {
	return []byte(time.Duration(d).String()), nil
}

// The raw shape of the file. Every scalar is a pointer so that validation
// can tell "not written" (take the default) from "written as zero or empty"
// (an error: retries = 0 is meant, subject = "" is a mistake).
type rawFile struct {
	Defaults *rawDefaults `toml:"defaults"`
	Okta     *rawOkta     `toml:"okta"`
	Target   []rawTarget  `toml:"target"`
	Forward  []rawForward `toml:"forward"`
}

type rawDefaults struct {
	Timeout           *Duration `toml:"timeout"`
	Retries           *int      `toml:"retries"`
	Concurrency       *int      `toml:"concurrency"`
	TargetConcurrency *int      `toml:"target_concurrency"`
	MaxRetryWait      *Duration `toml:"max_retry_wait"`
	Subject           *string   `toml:"subject"`
	BodyKey           *string   `toml:"body_key"`
	JWTIss            *string   `toml:"jwt_iss"`
	JWTKeyFile        *string   `toml:"jwt_key_file"`
	JWTKeyID          *string   `toml:"jwt_key_id"`
}

type rawOkta struct {
	OrgURL         *string   `toml:"org_url"`
	TokenEnv       *string   `toml:"token_env"`
	TokenFile      *string   `toml:"token_file"`
	AuthMode       *string   `toml:"auth_mode"`
	ClientID       *string   `toml:"client_id"`
	PrivateKeyFile *string   `toml:"private_key_file"`
	KeyID          *string   `toml:"key_id"`
	Scopes         *[]string `toml:"scopes"`
	Issuer         *string   `toml:"issuer"`
}

type rawTarget struct {
	Name         *string   `toml:"name"`
	Kind         *string   `toml:"kind"`
	URL          *string   `toml:"url"`
	Subject      *string   `toml:"subject"`
	SubjectIss   *string   `toml:"subject_iss"`
	BodyKey      *string   `toml:"body_key"`
	Auth         *string   `toml:"auth"`
	TokenEnv     *string   `toml:"token_env"`
	TokenFile    *string   `toml:"token_file"`
	JWTKeyFile   *string   `toml:"jwt_key_file"`
	JWTKeyID     *string   `toml:"jwt_key_id"`
	JWTIss       *string   `toml:"jwt_iss"`
	JWTSub       *string   `toml:"jwt_sub"`
	JWTTTL       *Duration `toml:"jwt_ttl"`
	Timeout      *Duration `toml:"timeout"`
	Retries      *int      `toml:"retries"`
	MaxRetryWait *Duration `toml:"max_retry_wait"`
	Concurrency  *int      `toml:"concurrency"`
	CAFile       *string   `toml:"ca_file"`
	Enabled      *bool     `toml:"enabled"`
	Tags         *[]string `toml:"tags"`

	// Kind "google".
	CredentialsFile   *string `toml:"credentials_file"`
	Admin             *string `toml:"admin"`
	RevokeOAuthGrants *bool   `toml:"revoke_oauth_grants"`
	// Kind "microsoft".
	Tenant           *string `toml:"tenant"`
	ClientID         *string `toml:"client_id"`
	ClientSecretEnv  *string `toml:"client_secret_env"`
	ClientSecretFile *string `toml:"client_secret_file"`
	ClientCertFile   *string `toml:"client_cert_file"`
	ClientKeyFile    *string `toml:"client_key_file"`
	TokenURL         *string `toml:"token_url"`
	// Kind "zoom" (with client_id, client_secret_* and token_url).
	AccountID *string `toml:"account_id"`
	// Kind "github" (with token_env or token_file).
	Org            *string `toml:"org"`
	LoginAttribute *string `toml:"login_attribute"`
}

// schema is the set of keys a table accepts and the Go type of each, read
// from the raw struct's toml tags so the structs stay the one definition.
type schema struct {
	keys  []string // in declaration order, for "did you mean"
	types map[string]reflect.Type
}

func schemaOf(v any) schema {
	rt := reflect.TypeOf(v)
	s := schema{types: map[string]reflect.Type{}}
	for i := range rt.NumField() {
		f := rt.Field(i)
		key := f.Tag.Get("toml")
		typ := f.Type
		for typ.Kind() == reflect.Pointer {
			typ = typ.Elem()
		}
		s.keys = append(s.keys, key)
		s.types[key] = typ
	}
	return s
}

var (
	topSchema      = schemaOf(rawFile{})
	defaultsSchema = schemaOf(rawDefaults{})
	oktaSchema     = schemaOf(rawOkta{})
	targetSchema   = schemaOf(rawTarget{})
	forwardSchema  = schemaOf(rawForward{})
	durationType   = reflect.TypeFor[Duration]()

	// vocabulary is every table and key name this package defines: the
	// fragments of a toml library message that are safe to show.
	vocabulary = func() map[string]bool {
		m := map[string]bool{}
		for _, s := range []schema{topSchema, defaultsSchema, oktaSchema, targetSchema, forwardSchema} {
			for _, k := range s.keys {
				m[k] = true
			}
		}
		return m
	}()
)

// credentialKeys are keys people write when they paste a secret inline. They
// get their own message instead of "unknown key" so that the fix (name an
// environment variable or a file) is obvious. Keys are compared in lower
// case with '_' and '-' removed, so api-key, apiKey and API_KEY all match.
var credentialKeys = map[string]bool{
	"token": true, "bearer": true, "bearertoken": true, "accesstoken": true,
	"apitoken": true, "password": true, "passwd": true, "secret": true,
	"clientsecret": true, "privatekey": true, "apikey": true, "key": true,
}

func isCredentialKey(key string) bool {
	return credentialKeys[keySeparators.Replace(strings.ToLower(key))]
}

// keySeparators drops the separators isCredentialKey ignores. One for the
// package: building a Replacer per key made a file of thousands of unknown
// keys cost hundreds of megabytes.
var keySeparators = strings.NewReplacer("_", "", "-", "")

// scopeKind says which part of the file a key belongs to.
type scopeKind int

const (
	scopeTop scopeKind = iota
	scopeDefaults
	scopeOkta
	scopeTarget
	scopeForward
)

// scope is a table of the file: the top level, [defaults], [okta] or the
// index-th [[target]]. label is how messages name it. targetKind is the
// kind a [[target]] declares, when it is a known one ("" otherwise), so
// that its messages can name the keys of that kind.
type scope struct {
	kind       scopeKind
	index      int
	label      string
	targetKind string
}

var (
	topScope      = scope{kind: scopeTop}
	defaultsScope = scope{kind: scopeDefaults, label: "[defaults]"}
	oktaScope     = scope{kind: scopeOkta, label: "[okta]"}
)

// targetScope names the index-th target by its name when it has a usable
// one, and by its position otherwise.
func targetScope(index int, name *string) scope {
	label := fmt.Sprintf("target #%d", index+1)
	if name != nil && *name != "" {
		label = "target " + quote(*name)
	}
	return scope{kind: scopeTarget, index: index, label: label}
}

// forwardScope names the index-th [[forward]] destination like targetScope.
func forwardScope(index int, name *string) scope {
	label := fmt.Sprintf("forward #%d", index+1)
	if name != nil && *name != "" {
		label = "forward " + quote(*name)
	}
	return scope{kind: scopeForward, index: index, label: label}
}

// parser holds the state of one Parse call.
type parser struct {
	data []byte
	file string // path as given, for messages
	dir  string // directory relative paths are resolved against
	src  *source
	errs errorList
	// typeErrors is set when a value has the wrong type: the struct decode
	// would fail with a message that cannot name the right [[target]].
	typeErrors bool
	// reported holds the dotted paths already reported as unknown keys, so
	// the Undecoded check below does not report them twice.
	reported map[string]bool
	// unknownIn marks targets with an unknown key. Their "no credential"
	// error is left out: the unknown key is most often the misspelled
	// credential key, and one message about one mistake is enough.
	unknownIn map[int]bool
}

func newParser(data []byte, path string) *parser {
	return &parser{
		data:      data,
		file:      path,
		dir:       filepath.Dir(path),
		src:       scanSource(data),
		reported:  map[string]bool{},
		unknownIn: map[int]bool{},
	}
}

// parse checks the file's nesting, then runs three passes over one decode:
// the toml library decodes the text (syntax errors, with their line) into a
// map of undecoded values; each is seen as a generic value and checked
// against the schema (unknown keys and wrong types, with lines found in the
// source text, since the library keeps one position for a key shared by
// every [[target]]); then the same values are decoded into the typed
// structs, which are validated.
func (p *parser) parse() (*File, error) {
	if p.src.tooDeep > 0 {
		return nil, &Error{File: p.file, Line: p.src.tooDeep, Msg: fmt.Sprintf("tables, arrays and dotted keys are nested more than %d deep; a targets file needs at most 4", maxDepth)}
	}
	var top map[string]toml.Primitive
	md, err := toml.Decode(string(p.data), &top)
	if err != nil {
		return nil, p.syntaxError(err)
	}
	generic := make(map[string]any, len(top))
	for key, prim := range top {
		var v any
		if err := md.PrimitiveDecode(prim, &v); err != nil {
			return nil, p.decodeBug(err)
		}
		generic[key] = v
	}
	p.checkGeneric(generic)
	if p.typeErrors {
		return nil, p.errs.err()
	}

	var doc rawFile
	if prim, ok := top["defaults"]; ok {
		doc.Defaults = new(rawDefaults)
		err = md.PrimitiveDecode(prim, doc.Defaults)
	}
	if prim, ok := top["okta"]; ok && err == nil {
		doc.Okta = new(rawOkta)
		err = md.PrimitiveDecode(prim, doc.Okta)
	}
	if prim, ok := top["target"]; ok && err == nil {
		err = md.PrimitiveDecode(prim, &doc.Target)
	}
	if prim, ok := top["forward"]; ok && err == nil {
		err = md.PrimitiveDecode(prim, &doc.Forward)
	}
	if err != nil {
		return nil, p.decodeBug(err)
	}
	p.checkUndecoded(md.Undecoded())
	f := p.build(&doc)
	if err := p.errs.err(); err != nil {
		return nil, err
	}
	return f, nil
}

// decodeBug answers a decode error after checkGeneric has seen every value,
// which means a bug here; still with a safe message rather than the
// library's.
func (p *parser) decodeBug(err error) error {
	return &Error{File: p.file, Msg: "cannot decode: " + redactSyntax(err.Error(), vocabulary)}
}

// syntaxError turns the toml library's error into "file:line: message",
// with anything the library quoted from the file redacted.
func (p *parser) syntaxError(err error) error {
	var pe toml.ParseError
	if errors.As(err, &pe) {
		return &Error{File: p.file, Line: pe.Position.Line, Msg: redactSyntax(pe.Message, vocabulary)}
	}
	return &Error{File: p.file, Msg: redactSyntax(err.Error(), vocabulary)}
}

// errAt records a problem with key in sc, at the line where key is written
// (or the table's header when key is "" or cannot be found).
func (p *parser) errAt(sc scope, key, format string, args ...any) {
	p.errs = append(p.errs, errorFor(p.file, p.src.lineOf(sc, key), sc.label, format, args...))
}

// checkGeneric walks the generically decoded file: every key must be known,
// and every value must have the type its field expects.
func (p *parser) checkGeneric(generic map[string]any) {
	for _, key := range sortedKeys(generic) {
		v := generic[key]
		switch key {
		case "defaults", "okta":
			sc, sch := defaultsScope, defaultsSchema
			if key == "okta" {
				sc, sch = oktaScope, oktaSchema
			}
			m, ok := v.(map[string]any)
			if !ok {
				p.errAt(topScope, key, "%s must be a table, written [%s] on a line of its own", key, key)
				p.typeErrors = true
				continue
			}
			p.checkTable(sc, key, m, sch)
		case "target":
			tables, ok := asTables(v)
			if !ok {
				if _, single := v.(map[string]any); single {
					p.errAt(topScope, key, "write each target as [[target]], with double brackets")
				} else {
					p.errAt(topScope, key, "target must be a list of tables, each written [[target]]")
				}
				p.typeErrors = true
				continue
			}
			for i, m := range tables {
				var name *string
				if s, ok := m["name"].(string); ok {
					name = &s
				}
				sc := targetScope(i, name)
				sc.targetKind = KindGTR
				if _, written := m["kind"]; written {
					k, _ := m["kind"].(string)
					sc.targetKind = knownKind(k)
				}
				p.checkTable(sc, key, m, targetSchema)
			}
		case "forward":
			tables, ok := asTables(v)
			if !ok {
				if _, single := v.(map[string]any); single {
					p.errAt(topScope, key, "write each destination as [[forward]], with double brackets")
				} else {
					p.errAt(topScope, key, "forward must be a list of tables, each written [[forward]]")
				}
				p.typeErrors = true
				continue
			}
			for i, m := range tables {
				var name *string
				if s, ok := m["name"].(string); ok {
					name = &s
				}
				p.checkTable(forwardScope(i, name), key, m, forwardSchema)
			}
		default:
			p.unknownKey(topScope, key, toml.Key{key}.String(), topSchema)
		}
	}
}

// asTables accepts both [[target]] tables and an inline array of tables.
func asTables(v any) ([]map[string]any, bool) {
	switch v := v.(type) {
	case []map[string]any:
		return v, true
	case []any:
		out := make([]map[string]any, 0, len(v))
		for _, e := range v {
			m, ok := e.(map[string]any)
			if !ok {
				return nil, false
			}
			out = append(out, m)
		}
		return out, true
	}
	return nil, false
}

// checkTable checks the keys and value types of one table.
func (p *parser) checkTable(sc scope, table string, m map[string]any, sch schema) {
	for _, key := range sortedKeys(m) {
		typ, ok := sch.types[key]
		if !ok {
			p.unknownKey(sc, key, toml.Key{table, key}.String(), sch)
			continue
		}
		if msg := typeProblem(key, m[key], typ); msg != "" {
			p.errAt(sc, key, "%s", msg)
			p.typeErrors = true
		}
	}
}

// unknownKey reports a key that sc does not define. The value is never
// shown: it may be a credential pasted in the wrong place.
func (p *parser) unknownKey(sc scope, key, path string, sch schema) {
	p.reported[path] = true
	if sc.kind == scopeTarget {
		p.unknownIn[sc.index] = true
	}
	if isCredentialKey(key) {
		p.errAt(sc, key, "inline credentials are not accepted; name %s", credentialHint(sc, key))
		return
	}
	known := sch.keys
	if sc.kind == scopeTarget && sc.targetKind != "" {
		known = kindSpecs[sc.targetKind].suggest
	}
	msg := "unknown key " + quote(key)
	if s := suggest(key, known); s != "" {
		msg += fmt.Sprintf("; did you mean %q?", s)
	}
	p.errAt(sc, key, "%s", msg)
}

// credentialHint says which keys name a credential in sc, for a credential
// written inline under key.
func credentialHint(sc scope, key string) string {
	private := strings.Contains(strings.ToLower(key), "private")
	switch {
	case sc.kind == scopeOkta && private:
		return "a file (private_key_file)"
	case sc.kind != scopeTarget:
		return "an environment variable (token_env) or a file (token_file)"
	}
	switch sc.targetKind {
	case KindGoogle:
		return "a file (credentials_file) holding the service account's JSON key"
	case KindMicrosoft:
		if private {
			return "a file (client_key_file)"
		}
		return "an environment variable (client_secret_env) or a file (client_secret_file)"
	case KindZoom:
		return "an environment variable (client_secret_env) or a file (client_secret_file)"
	}
	if private {
		return "a file (jwt_key_file)"
	}
	return "an environment variable (token_env) or a file (token_file)"
}

// checkUndecoded is a second line of defence behind checkGeneric: any key
// the typed decode did not consume is refused, whatever the reason.
func (p *parser) checkUndecoded(keys []toml.Key) {
	for _, k := range keys {
		covered := false
		for i := 1; i <= len(k); i++ {
			if p.reported[k[:i].String()] {
				covered = true
				break
			}
		}
		if covered {
			continue
		}
		p.reported[k.String()] = true
		p.errAt(topScope, k[0], "unknown key %s", quote(k.String()))
	}
}

// typeProblem says what is wrong when v (as decoded into a generic map) does
// not fit a field of type typ, or returns "".
func typeProblem(key string, v any, typ reflect.Type) string {
	if typ == durationType {
		s, ok := v.(string)
		if !ok {
			return fmt.Sprintf("%s must be a duration in quotes, such as \"5s\", not %s", key, tomlType(v))
		}
		var d Duration
		if err := d.UnmarshalText([]byte(s)); err != nil {
			return key + ": " + err.Error()
		}
		return ""
	}
	want, ok := "", false
	switch typ.Kind() {
	case reflect.String:
		want = "a string in quotes"
		_, ok = v.(string)
	case reflect.Int:
		want = "a whole number"
		_, ok = v.(int64)
	case reflect.Bool:
		want = "true or false"
		_, ok = v.(bool)
	case reflect.Slice:
		list, isList := v.([]any)
		if !isList {
			return fmt.Sprintf("%s must be a list of strings, such as [\"a\", \"b\"], not %s", key, tomlType(v))
		}
		for i, e := range list {
			if _, isString := e.(string); !isString {
				return fmt.Sprintf("%s must be a list of strings, but item %d is %s", key, i+1, tomlType(e))
			}
		}
		return ""
	}
	if ok {
		return ""
	}
	return fmt.Sprintf("%s must be %s, not %s", key, want, tomlType(v))
}

// tomlType names the TOML type of a generically decoded value.
func tomlType(v any) string {
	switch v.(type) {
	case string:
		return "a string"
	case int64:
		return "a whole number"
	case float64:
		return "a decimal number"
	case bool:
		return "true or false"
	case time.Time:
		return "a date or time"
	case []map[string]any:
		return "a list of tables"
	case []any:
		return "a list"
	case map[string]any:
		return "a table"
	}
	return "a value of another type"
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
