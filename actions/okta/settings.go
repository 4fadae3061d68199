package okta

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"ulc/config"
)

// Settings say where the Okta connection comes from, after merging the
// Okta SDK's own sources with the [okta] table of targets.toml. Connect
// passes every one of them to the SDK explicitly, so nothing the SDK would
// otherwise read on its own (a stray OKTA_CLIENT_* variable, an old
// ~/.okta/okta.yaml) can change the org or the credential underneath.
type Settings struct {
	// OrgURL is the org's base URL, such as https://acme.okta.com.
	OrgURL string
	// Token is the SSWS API token (AuthMode "ssws").
	Token string
	// AuthMode is "ssws" or "private_key" (config.OktaAuthSSWS,
	// config.OktaAuthPrivateKey).
	AuthMode string
	// ClientID is the service app's client ID (AuthMode "private_key").
	ClientID string
	// KeyID is the kid header of the client assertion (optional).
	KeyID string
	// PrivateKeyPEM is the service app's private key: PKCS#1 or PKCS#8
	// RSA, or P-256 EC (SEC 1 or PKCS#8).
	PrivateKeyPEM []byte
	// Scopes are the OAuth scopes asked for in private_key mode.
	Scopes []string
	// RequestTimeout bounds one call, 429 waits included (default 30s).
	RequestTimeout time.Duration
	// MaxRetries is how often the SDK retries a 429 (default 2 when 0;
	// a negative value means no retries).
	MaxRetries int
	// MaxBackoff caps one 429 wait and one pacing wait (default 30s).
	MaxBackoff time.Duration

	// Issuer is the iss of iss_sub subjects: [okta] issuer, else OrgURL.
	Issuer string
	// OrgURLFrom, TokenFrom and KeyFrom name where OrgURL, Token and
	// PrivateKeyPEM came from ("OKTA_CLIENT_TOKEN", "[okta] token_file
	// /etc/ulc/okta.token", ...), so messages can say what to fix. They
	// never hold the secret itself.
	OrgURLFrom, TokenFrom, KeyFrom string
}

// Defaults applied by Connect to zero Settings fields.
const (
	// DefaultRequestTimeout bounds one Okta call, 429 waits included.
	DefaultRequestTimeout = 30 * time.Second
	// DefaultMaxRetries is how often a 429 is retried.
	DefaultMaxRetries = 2
	// DefaultMaxBackoff caps one wait for a rate-limit window.
	DefaultMaxBackoff = 30 * time.Second
)

// The environment variables the Okta SDK reads (SDK okta/config.go struct
// tags; the README spells some of them wrongly).
const (
	envOrgURL     = "OKTA_CLIENT_ORGURL"
	envToken      = "OKTA_CLIENT_TOKEN"
	envAuthMode   = "OKTA_CLIENT_AUTHORIZATIONMODE"
	envClientID   = "OKTA_CLIENT_CLIENTID"
	envScopes     = "OKTA_CLIENT_SCOPES"
	envPrivateKey = "OKTA_CLIENT_PRIVATEKEY"
	envKeyID      = "OKTA_CLIENT_PRIVATEKEYID"
	envTimeout    = "OKTA_CLIENT_REQUEST_TIMEOUT"
	envRetries    = "OKTA_CLIENT_RATE_LIMIT_MAX_RETRIES"
	envBackoff    = "OKTA_CLIENT_RATE_LIMIT_MAX_BACKOFF"
)

// yamlPath is where the SDK looks for its configuration file, relative to
// the home directory.
const yamlPath = ".okta/okta.yaml"

// maxSecretFile bounds what is read from a key file or okta.yaml.
const maxSecretFile = 64 << 10

// ResolveSettings merges the connection settings, later sources winning
// field by field, in the order the Okta SDK itself uses and then ulc's own:
//
//  1. home/.okta/okta.yaml (skipped when home is ""), read with a small
//     reader for the keys that matter (okta.client.orgUrl, token,
//     authorizationMode, clientId, scopes, privateKey, privateKeyId,
//     requestTimeout, rateLimit.maxRetries, rateLimit.maxBackoff): plain,
//     quoted and block scalars, block and flow lists, comments;
//  2. the OKTA_CLIENT_* environment variables, read through getenv;
//  3. the [okta] table t of targets.toml.
//
// The table's auth_mode counts only when the table also names that mode's
// credential (token_env or token_file for ssws; private_key mode requires
// its own keys), since the parser fills in "ssws" for a table that only
// sets org_url. A private key given to the SDK's sources as a path (as the
// SDK allows) is read from that file, and only in private_key mode. ok is false when no source names an org URL; the error
// never contains a token or key.
func ResolveSettings(t config.Okta, getenv func(string) string, home string) (Settings, bool, error) {
	if getenv == nil {
		getenv = os.Getenv
	}
	var s Settings
	var keyRef, keyRefFrom string // PEM text or a path, and where it came from

	// 1. ~/.okta/okta.yaml
	if home != "" {
		path := filepath.Join(home, filepath.FromSlash(yamlPath))
		kv, found, err := readOktaYAML(path)
		if err != nil {
			return Settings{}, false, err
		}
		if found {
			from := "~/" + yamlPath
			get := func(k string) (string, bool) {
				v, ok := kv.scalars["okta.client."+k]
				return v, ok && v != ""
			}
			if v, ok := get("orgUrl"); ok {
				s.OrgURL, s.OrgURLFrom = v, from+" okta.client.orgUrl"
			}
			if v, ok := get("token"); ok {
				s.Token, s.TokenFrom = v, from+" okta.client.token"
			}
			if v, ok := get("authorizationMode"); ok {
				m, err := authMode(v, from+" okta.client.authorizationMode")
				if err != nil {
					return Settings{}, false, err
				}
				s.AuthMode = m
			}
			if v, ok := get("clientId"); ok {
				s.ClientID = v
			}
			if l, ok := kv.lists["okta.client.scopes"]; ok {
				s.Scopes = l
			} else if v, ok := get("scopes"); ok {
				s.Scopes = splitScopes(v)
			}
			if v, ok := get("privateKey"); ok {
				keyRef, keyRefFrom = v, from+" okta.client.privateKey"
			}
			if v, ok := get("privateKeyId"); ok {
				s.KeyID = v
			}
			if err := numbers(&s, from, get, "requestTimeout", "rateLimit.maxRetries", "rateLimit.maxBackoff"); err != nil {
				return Settings{}, false, err
			}
		}
	}

	// 2. OKTA_CLIENT_* variables.
	env := func(k string) (string, bool) {
		v := strings.TrimSpace(getenv(k))
		return v, v != ""
	}
	if v, ok := env(envOrgURL); ok {
		s.OrgURL, s.OrgURLFrom = v, envOrgURL
	}
	if v, ok := env(envToken); ok {
		s.Token, s.TokenFrom = v, envToken
	}
	if v, ok := env(envAuthMode); ok {
		m, err := authMode(v, envAuthMode)
		if err != nil {
			return Settings{}, false, err
		}
		s.AuthMode = m
	}
	if v, ok := env(envClientID); ok {
		s.ClientID = v
	}
	if v, ok := env(envScopes); ok {
		s.Scopes = splitScopes(v)
	}
	if v, ok := env(envPrivateKey); ok {
		keyRef, keyRefFrom = v, envPrivateKey
	}
	if v, ok := env(envKeyID); ok {
		s.KeyID = v
	}
	envNumber := func(k string) (string, bool) {
		switch k {
		case "requestTimeout":
			return env(envTimeout)
		case "rateLimit.maxRetries":
			return env(envRetries)
		}
		return env(envBackoff)
	}
	if err := numbers(&s, "", envNumber, "requestTimeout", "rateLimit.maxRetries", "rateLimit.maxBackoff"); err != nil {
		return Settings{}, false, err
	}

	// 3. The [okta] table.
	if t.OrgURL != "" {
		s.OrgURL, s.OrgURLFrom = t.OrgURL, tableFrom(t, "org_url")
	}
	token, err := t.LoadToken(getenv)
	if err != nil {
		return Settings{}, false, err
	}
	if token != "" {
		s.Token = token
		if t.TokenEnv != "" {
			s.TokenFrom = tableFrom(t, "token_env "+t.TokenEnv)
		} else {
			s.TokenFrom = tableFrom(t, "token_file "+t.TokenFile)
		}
	}
	switch {
	case t.AuthMode == config.OktaAuthPrivateKey:
		s.AuthMode = config.OktaAuthPrivateKey
	case t.AuthMode == config.OktaAuthSSWS && token != "":
		s.AuthMode = config.OktaAuthSSWS
	}
	if t.ClientID != "" {
		s.ClientID = t.ClientID
	}
	if t.KeyID != "" {
		s.KeyID = t.KeyID
	}
	if len(t.Scopes) > 0 {
		s.Scopes = append([]string(nil), t.Scopes...)
	}
	if t.PrivateKeyFile != "" {
		keyRef, keyRefFrom = "", ""
		data, err := readKeyFile(t.PrivateKeyFile)
		if err != nil {
			return Settings{}, false, fmt.Errorf("%s: %v", tableFrom(t, "private_key_file"), err)
		}
		s.PrivateKeyPEM, s.KeyFrom = data, tableFrom(t, "private_key_file "+t.PrivateKeyFile)
	}
	if s.AuthMode == "" {
		s.AuthMode = config.OktaAuthSSWS
	}
	// A key given to the SDK's sources is read only when it is used.
	if keyRef != "" && s.AuthMode == config.OktaAuthPrivateKey {
		data, err := keyMaterial(keyRef)
		if err != nil {
			return Settings{}, false, fmt.Errorf("%s: %v", keyRefFrom, err)
		}
		s.PrivateKeyPEM, s.KeyFrom = data, keyRefFrom
	}
	s.OrgURL = strings.TrimRight(s.OrgURL, "/")
	s.Issuer = strings.TrimRight(t.Issuer, "/")
	if s.Issuer == "" {
		s.Issuer = s.OrgURL
	}
	if s.OrgURL == "" {
		return s, false, nil
	}
	return s, true, nil
}

// tableFrom names a key of the [okta] table for messages.
func tableFrom(t config.Okta, key string) string {
	file := t.File
	if file == "" {
		file = "targets.toml"
	}
	return fmt.Sprintf("%s [okta] %s", file, key)
}

// authMode maps the SDK's mode names (and ulc's) to ulc's.
func authMode(v, from string) (string, error) {
	switch strings.ToLower(v) {
	case "ssws":
		return config.OktaAuthSSWS, nil
	case "privatekey", "private_key":
		return config.OktaAuthPrivateKey, nil
	}
	return "", fmt.Errorf("%s = %q is not supported by ulc: use SSWS (an API token) or PrivateKey (a service app)", from, safeWord(v))
}

// numbers reads the request timeout and rate-limit settings, in seconds as
// the SDK has them. from is "" for the environment.
func numbers(s *Settings, from string, get func(string) (string, bool), keys ...string) error {
	for _, k := range keys {
		v, ok := get(k)
		if !ok {
			continue
		}
		name := from + " okta.client." + k
		if from == "" {
			name = map[string]string{"requestTimeout": envTimeout, "rateLimit.maxRetries": envRetries, "rateLimit.maxBackoff": envBackoff}[k]
		}
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 || n > 3600 {
			return fmt.Errorf("%s must be a whole number between 0 and 3600, not %q", name, safeWord(v))
		}
		switch k {
		case "requestTimeout":
			s.RequestTimeout = time.Duration(n) * time.Second
		case "rateLimit.maxRetries":
			s.MaxRetries = n
			if n == 0 {
				s.MaxRetries = -1 // an explicit 0: no retries
			}
		case "rateLimit.maxBackoff":
			s.MaxBackoff = time.Duration(n) * time.Second
		}
	}
	return nil
}

// splitScopes splits OKTA_CLIENT_SCOPES, which the SDK reads as a comma
// separated list; spaces separate too, as in an OAuth scope parameter.
func splitScopes(v string) []string {
	var out []string
	for _, f := range strings.FieldsFunc(v, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' }) {
		out = append(out, f)
	}
	return out
}

// keyMaterial returns the PEM key given inline or, as the SDK also allows,
// as the path of a file. Literal \n sequences become newlines, as in the SDK.
func keyMaterial(ref string) ([]byte, error) {
	if strings.Contains(ref, "-----BEGIN") {
		return []byte(strings.ReplaceAll(ref, `\n`, "\n")), nil
	}
	if strings.ContainsAny(ref, "\n\r") || len(ref) > 4096 {
		return nil, errors.New("the private key is neither PEM text nor a file path")
	}
	return readKeyFile(ref)
}

// readKeyFile reads a private key file, refusing one that other users can
// read or write (a key every account on the host can read is not one to
// keep using quietly).
func readKeyFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("the key file %s does not exist", path)
		}
		return nil, fmt.Errorf("the key file %s cannot be read: %v", path, unwrapPath(err))
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("the key file %s cannot be read: %v", path, unwrapPath(err))
	}
	if info.IsDir() {
		return nil, fmt.Errorf("the key file %s is a directory", path)
	}
	if runtime.GOOS != "windows" && info.Mode().Perm()&0o066 != 0 {
		return nil, fmt.Errorf("the key file %s is open to other users (mode %04o); run chmod 600 %s", path, info.Mode().Perm(), path)
	}
	data, err := io.ReadAll(io.LimitReader(f, maxSecretFile+1))
	if err != nil {
		return nil, fmt.Errorf("the key file %s cannot be read: %v", path, unwrapPath(err))
	}
	if len(data) > maxSecretFile {
		return nil, fmt.Errorf("the key file %s is larger than %d KiB; it should hold only the key", path, maxSecretFile>>10)
	}
	return data, nil
}

func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// safeWord shortens and cleans a configuration value for a message. It is
// used only on values that are not secrets (modes, numbers).
func safeWord(v string) string {
	if len(v) > 40 {
		v = v[:40] + "…"
	}
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return -1
		}
		return r
	}, v)
}

// oktaYAML holds what readOktaYAML understood: scalars and lists by their
// dotted path, such as "okta.client.orgUrl".
type oktaYAML struct {
	scalars map[string]string
	lists   map[string][]string
}

// readOktaYAML reads the SDK's okta.yaml. found is false when the file does
// not exist. The reader knows only the YAML the SDK's documentation shows:
// nested maps by indentation, plain and quoted scalars, "|" and ">" block
// scalars, "- item" and "[a, b]" lists, comments. Anything else is an error
// that names the line, never its content (it may hold the token).
func readOktaYAML(path string) (oktaYAML, bool, error) {
	out := oktaYAML{scalars: map[string]string{}, lists: map[string][]string{}}
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return out, false, nil
	}
	if err != nil {
		return out, false, fmt.Errorf("~/%s cannot be read: %v", yamlPath, unwrapPath(err))
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxSecretFile+1))
	if err != nil {
		return out, false, fmt.Errorf("~/%s cannot be read: %v", yamlPath, unwrapPath(err))
	}
	if len(data) > maxSecretFile {
		return out, false, fmt.Errorf("~/%s is larger than %d KiB", yamlPath, maxSecretFile>>10)
	}
	if err := parseOktaYAML(string(data), &out); err != nil {
		return out, false, fmt.Errorf("~/%s %v; ulc reads only simple \"key: value\" lines and lists there (or remove the file and use OKTA_CLIENT_* or targets.toml [okta])", yamlPath, err)
	}
	return out, true, nil
}

type yamlLevel struct {
	indent int
	key    string
}

// parseOktaYAML is the small YAML subset reader behind readOktaYAML.
func parseOktaYAML(text string, out *oktaYAML) error {
	lines := strings.Split(strings.ReplaceAll(text, "\r\n", "\n"), "\n")
	var stack []yamlLevel
	path := func(key string) string {
		parts := make([]string, 0, len(stack)+1)
		for _, l := range stack {
			parts = append(parts, l.key)
		}
		return strings.Join(append(parts, key), ".")
	}
	listKey, listIndent := "", -1 // the key whose "- item" lines follow
	for i := 0; i < len(lines); i++ {
		raw := lines[i]
		trimmed := strings.TrimSpace(raw)
		if trimmed == "" || strings.HasPrefix(trimmed, "#") || trimmed == "---" || trimmed == "..." {
			continue
		}
		if strings.ContainsRune(raw, '\t') && strings.TrimLeft(raw, " \t") != strings.TrimLeft(raw, " ") {
			return fmt.Errorf("line %d: indent with spaces, not tabs", i+1)
		}
		indent := len(raw) - len(strings.TrimLeft(raw, " "))
		if strings.HasPrefix(trimmed, "- ") || trimmed == "-" {
			if listKey == "" || indent < listIndent {
				return fmt.Errorf("line %d: a list item outside a list", i+1)
			}
			v, err := yamlScalar(strings.TrimSpace(strings.TrimPrefix(trimmed, "-")))
			if err != nil {
				return fmt.Errorf("line %d: %v", i+1, err)
			}
			out.lists[listKey] = append(out.lists[listKey], v)
			continue
		}
		listKey, listIndent = "", -1
		key, rest, found := strings.Cut(trimmed, ":")
		if !found || key == "" || strings.ContainsAny(key, " \"'{}[]") {
			return fmt.Errorf("line %d: not a \"key: value\" line", i+1)
		}
		if rest != "" && rest[0] != ' ' {
			return fmt.Errorf("line %d: not a \"key: value\" line", i+1)
		}
		for len(stack) > 0 && stack[len(stack)-1].indent >= indent {
			stack = stack[:len(stack)-1]
		}
		value := strings.TrimSpace(stripComment(rest))
		switch {
		case value == "":
			// A map or a list follows.
			listKey, listIndent = path(key), indent
			stack = append(stack, yamlLevel{indent: indent, key: key})
		case value == "|" || value == "|-" || value == ">" || value == ">-" || value == "|+" || value == ">+":
			var block []string
			blockIndent := -1
			for i+1 < len(lines) {
				next := lines[i+1]
				nt := strings.TrimSpace(next)
				ni := len(next) - len(strings.TrimLeft(next, " "))
				if nt != "" && ni <= indent {
					break
				}
				i++
				if nt == "" {
					block = append(block, "")
					continue
				}
				if blockIndent < 0 {
					blockIndent = ni
				}
				if ni < blockIndent {
					return fmt.Errorf("line %d: a block scalar line is indented less than its first line", i+1)
				}
				block = append(block, next[blockIndent:])
			}
			sep := "\n"
			if value[0] == '>' {
				sep = " "
			}
			text := strings.TrimRight(strings.Join(block, sep), "\n ")
			if value[0] == '|' && !strings.HasSuffix(value, "-") {
				text += "\n"
			}
			out.scalars[path(key)] = text
		case strings.HasPrefix(value, "["):
			if !strings.HasSuffix(value, "]") {
				return fmt.Errorf("line %d: a flow list must end on the same line", i+1)
			}
			var items []string
			for _, it := range strings.Split(value[1:len(value)-1], ",") {
				it = strings.TrimSpace(it)
				if it == "" {
					continue
				}
				v, err := yamlScalar(it)
				if err != nil {
					return fmt.Errorf("line %d: %v", i+1, err)
				}
				items = append(items, v)
			}
			out.lists[path(key)] = items
		case strings.HasPrefix(value, "{"):
			return fmt.Errorf("line %d: flow maps are not supported", i+1)
		default:
			v, err := yamlScalar(value)
			if err != nil {
				return fmt.Errorf("line %d: %v", i+1, err)
			}
			out.scalars[path(key)] = v
		}
	}
	return nil
}

// stripComment removes a trailing " # comment" outside quotes.
func stripComment(s string) string {
	var quote byte
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			} else if c == '\\' && quote == '"' {
				i++
			}
		case c == '"' || c == '\'':
			quote = c
		case c == '#' && (i == 0 || s[i-1] == ' '):
			return s[:i]
		}
	}
	return s
}

// yamlScalar decodes a plain, single-quoted or double-quoted scalar.
func yamlScalar(v string) (string, error) {
	switch {
	case strings.HasPrefix(v, `"`):
		if len(v) < 2 || !strings.HasSuffix(v, `"`) {
			return "", errors.New("an unterminated double-quoted string")
		}
		s, err := strconv.Unquote(v)
		if err != nil {
			return "", errors.New("a double-quoted string with an escape ulc does not read")
		}
		return s, nil
	case strings.HasPrefix(v, "'"):
		if len(v) < 2 || !strings.HasSuffix(v, "'") {
			return "", errors.New("an unterminated single-quoted string")
		}
		return strings.ReplaceAll(v[1:len(v)-1], "''", "'"), nil
	case strings.HasPrefix(v, "&"), strings.HasPrefix(v, "*"), strings.HasPrefix(v, "!"):
		return "", errors.New("anchors, aliases and tags are not supported")
	}
	return v, nil
}
