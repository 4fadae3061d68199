package okta

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"gopkg.in/yaml.v3"

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
	// RequestTimeout bounds one request from when it leaves until its
	// answer is read (default 30s); a paced wait for the next rate-limit
	// window comes before it and is not counted.
	RequestTimeout time.Duration
	// MaxRetries is how often the SDK retries a 429 (default 2 when 0;
	// a negative value means no retries).
	MaxRetries int
	// MaxBackoff caps the SDK's wait after a 429 (default 30s); the retry
	// then still waits, paced, until the window Okta announced has reset.
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
	// DefaultRequestTimeout bounds one Okta request from when it leaves.
	DefaultRequestTimeout = 30 * time.Second
	// DefaultMaxRetries is how often a 429 is retried.
	DefaultMaxRetries = 2
	// DefaultMaxBackoff caps the SDK's wait after a 429.
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
//  1. home/.okta/okta.yaml (skipped when home is ""), decoded as YAML
//     (at most 64 KiB; a key the SDK does not know is an error), of which
//     ulc honours okta.client.orgUrl, token, authorizationMode, clientId,
//     scopes (a list, or one comma or space separated string),
//     privateKey, privateKeyId, requestTimeout, rateLimit.maxRetries and
//     rateLimit.maxBackoff;
//  2. the OKTA_CLIENT_* environment variables, read through getenv;
//  3. the [okta] table t of targets.toml.
//
// The table's auth_mode counts only when the table also names that mode's
// credential (token_env or token_file for ssws; private_key mode requires
// its own keys), since the parser fills in "ssws" for a table that only
// sets org_url. A private key given to the SDK's sources as a path (as the
// SDK allows) is read from that file, and only in private_key mode. ok is
// false when no source names an org URL; the error never contains a token
// or key.
func ResolveSettings(t config.Okta, getenv func(string) string, home string) (Settings, bool, error) {
	if getenv == nil {
		getenv = os.Getenv
	}
	var r resolution
	if err := r.applyYAML(home); err != nil {
		return Settings{}, false, err
	}
	if err := r.applyEnv(getenv); err != nil {
		return Settings{}, false, err
	}
	if err := r.applyTable(t, getenv); err != nil {
		return Settings{}, false, err
	}
	if err := r.finish(t); err != nil {
		return Settings{}, false, err
	}
	return r.s, r.s.OrgURL != "", nil
}

// resolution is ResolveSettings' work in progress: the settings so far,
// and a private key named by the SDK's sources (PEM text or a path, and
// where it came from), which is read only at the end and only when the
// mode is private_key.
type resolution struct {
	s                  Settings
	keyRef, keyRefFrom string
}

// applyYAML applies home/.okta/okta.yaml, when home is set and the file
// exists.
func (r *resolution) applyYAML(home string) error {
	if home == "" {
		return nil
	}
	y, found, err := readOktaYAML(filepath.Join(home, filepath.FromSlash(yamlPath)))
	if err != nil || !found {
		return err
	}
	s := &r.s
	from := "~/" + yamlPath
	yc := y.Okta.Client
	if v := yc.OrgURL; v != "" {
		s.OrgURL, s.OrgURLFrom = v, from+" okta.client.orgUrl"
	}
	if v := yc.Token; v != "" {
		s.Token, s.TokenFrom = v, from+" okta.client.token"
	}
	if v := yc.AuthorizationMode; v != "" {
		m, err := authMode(v, from+" okta.client.authorizationMode")
		if err != nil {
			return err
		}
		s.AuthMode = m
	}
	if v := yc.ClientID; v != "" {
		s.ClientID = v
	}
	if len(yc.Scopes) > 0 {
		s.Scopes = []string(yc.Scopes)
	}
	if v := yc.PrivateKey; v != "" {
		r.keyRef, r.keyRefFrom = v, from+" okta.client.privateKey"
	}
	if v := yc.PrivateKeyID; v != "" {
		s.KeyID = v
	}
	nums := map[string]string{"requestTimeout": yc.RequestTimeout, "rateLimit.maxRetries": yc.RateLimit.MaxRetries, "rateLimit.maxBackoff": yc.RateLimit.MaxBackoff}
	get := func(k string) (string, bool) { return nums[k], nums[k] != "" }
	return numbers(s, from, get, "requestTimeout", "rateLimit.maxRetries", "rateLimit.maxBackoff")
}

// applyEnv applies the OKTA_CLIENT_* variables that are set and not blank.
func (r *resolution) applyEnv(getenv func(string) string) error {
	s := &r.s
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
			return err
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
		r.keyRef, r.keyRefFrom = v, envPrivateKey
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
	return numbers(s, "", envNumber, "requestTimeout", "rateLimit.maxRetries", "rateLimit.maxBackoff")
}

// applyTable applies the [okta] table t. Its auth_mode ssws counts only
// with a token of the table's own; its private_key_file replaces any key
// the SDK's sources named, and is read now.
func (r *resolution) applyTable(t config.Okta, getenv func(string) string) error {
	s := &r.s
	if t.OrgURL != "" {
		s.OrgURL, s.OrgURLFrom = t.OrgURL, tableFrom(t, "org_url")
	}
	token, err := t.LoadToken(getenv)
	if err != nil {
		return err
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
		r.keyRef, r.keyRefFrom = "", ""
		data, err := readKeyFile(t.PrivateKeyFile)
		if err != nil {
			return fmt.Errorf("%s: %v", tableFrom(t, "private_key_file"), err)
		}
		s.PrivateKeyPEM, s.KeyFrom = data, tableFrom(t, "private_key_file "+t.PrivateKeyFile)
	}
	return nil
}

// finish defaults the mode to ssws, reads the key the SDK's sources named
// when the mode uses it, and sets the issuer ([okta] issuer, else the org
// URL), both without a trailing slash.
func (r *resolution) finish(t config.Okta) error {
	s := &r.s
	if s.AuthMode == "" {
		s.AuthMode = config.OktaAuthSSWS
	}
	if r.keyRef != "" && s.AuthMode == config.OktaAuthPrivateKey {
		data, err := keyMaterial(r.keyRef)
		if err != nil {
			return fmt.Errorf("%s: %v", r.keyRefFrom, err)
		}
		s.PrivateKeyPEM, s.KeyFrom = data, r.keyRefFrom
	}
	s.OrgURL = strings.TrimRight(s.OrgURL, "/")
	s.Issuer = strings.TrimRight(t.Issuer, "/")
	if s.Issuer == "" {
		s.Issuer = s.OrgURL
	}
	return nil
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
	return append(out, strings.FieldsFunc(v, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' })...)
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
	// O_NONBLOCK: a named pipe in place of the key must not block the
	// open (and with it ulc's start-up) until someone writes to it.
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("the key file %s does not exist", path)
		}
		return nil, fmt.Errorf("the key file %s cannot be read: %v", path, unwrapPath(err))
	}
	defer func() { _ = f.Close() }()
	info, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("the key file %s cannot be read: %v", path, unwrapPath(err))
	}
	if info.IsDir() {
		return nil, fmt.Errorf("the key file %s is a directory", path)
	}
	if !info.Mode().IsRegular() {
		return nil, fmt.Errorf("the key file %s is not a regular file (%s); put the private key in a regular file", path, info.Mode().Type())
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

// oktaYAML is the SDK's okta.yaml (SDK okta/config.go, struct config),
// every key the SDK reads. Values ulc uses are strings, so that a number
// keeps the text the operator wrote for the message when it is out of
// range, and an empty value counts as unset; the others are only accepted.
// Decoding refuses a key the SDK does not know: the SDK would ignore a
// misspelt orgUrl and quietly use another org.
type oktaYAML struct {
	Okta struct {
		Client struct {
			Cache             any    `yaml:"cache"`
			Proxy             any    `yaml:"proxy"`
			ConnectionTimeout any    `yaml:"connectionTimeout"`
			RequestTimeout    string `yaml:"requestTimeout"`
			RateLimit         struct {
				MaxRetries string `yaml:"maxRetries"`
				MaxBackoff string `yaml:"maxBackoff"`
			} `yaml:"rateLimit"`
			OrgURL            string     `yaml:"orgUrl"`
			Token             string     `yaml:"token"`
			AuthorizationMode string     `yaml:"authorizationMode"`
			ClientID          string     `yaml:"clientId"`
			Scopes            yamlScopes `yaml:"scopes"`
			PrivateKey        string     `yaml:"privateKey"`
			PrivateKeyID      string     `yaml:"privateKeyId"`
			ClientAssertion   any        `yaml:"clientAssertion"`
		} `yaml:"client"`
		Testing any `yaml:"testing"`
	} `yaml:"okta"`
}

// yamlScopes is okta.client.scopes: a list, or one string of scopes
// separated by commas or spaces (as OKTA_CLIENT_SCOPES).
type yamlScopes []string

// UnmarshalYAML implements yaml.Unmarshaler.
func (s *yamlScopes) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		*s = splitScopes(n.Value)
		return nil
	}
	var list []string
	if err := n.Decode(&list); err != nil {
		return err
	}
	*s = list
	return nil
}

// readOktaYAML reads and decodes the SDK's okta.yaml at path. found is
// false when the file does not exist. An error names the file and the
// line, never the content (it may hold the token).
func readOktaYAML(path string) (y oktaYAML, found bool, err error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return y, false, nil
	}
	if err != nil {
		return y, false, fmt.Errorf("~/%s cannot be read: %v", yamlPath, unwrapPath(err))
	}
	defer func() { _ = f.Close() }()
	data, err := io.ReadAll(io.LimitReader(f, maxSecretFile+1))
	if err != nil {
		return y, false, fmt.Errorf("~/%s cannot be read: %v", yamlPath, unwrapPath(err))
	}
	if len(data) > maxSecretFile {
		return y, false, fmt.Errorf("~/%s is larger than %d KiB", yamlPath, maxSecretFile>>10)
	}
	if y, err = decodeOktaYAML(data); err != nil {
		return y, false, fmt.Errorf("~/%s %s; fix it, or remove the file and use OKTA_CLIENT_* or targets.toml [okta]", yamlPath, err)
	}
	return y, true, nil
}

// decodeOktaYAML decodes the first document of an okta.yaml; an empty file
// is an empty configuration.
func decodeOktaYAML(data []byte) (oktaYAML, error) {
	var y oktaYAML
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&y); err != nil && !errors.Is(err, io.EOF) {
		return oktaYAML{}, errors.New(yamlProblem(err))
	}
	return y, nil
}

// yamlLine finds the line number in a yaml.v3 error.
var yamlLine = regexp.MustCompile(`\bline (\d+)\b`)

// yamlFixedPhrase matches the scanner's and parser's own fixed reasons,
// which hold no text of the file.
var yamlFixedPhrase = regexp.MustCompile(`^[a-zA-Z ,'-]{1,100}$`)

// yamlProblem says what is wrong with an okta.yaml, by line, without
// repeating the file's content: yaml.v3 quotes values in some messages.
func yamlProblem(err error) string {
	var te *yaml.TypeError
	if errors.As(err, &te) && len(te.Errors) > 0 {
		msg := te.Errors[0]
		var what string
		switch {
		case strings.Contains(msg, "not found in type"):
			what = "has a key the Okta SDK does not read (misspelt?)"
		case strings.Contains(msg, "already set"):
			what = "sets a key twice"
		default:
			what = "has a value of the wrong kind (a list or a map where one value belongs, or the reverse)"
		}
		if m := yamlLine.FindStringSubmatch(msg); m != nil {
			return "line " + m[1] + " " + what
		}
		return what
	}
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	where, reason := "", msg
	if m := yamlLine.FindStringSubmatchIndex(msg); m != nil && m[0] == 0 {
		where = "line " + msg[m[2]:m[3]] + " "
		reason = strings.TrimPrefix(strings.TrimSpace(msg[m[1]:]), ": ")
	}
	if !yamlFixedPhrase.MatchString(reason) {
		return where + "is not valid YAML"
	}
	return where + "is not valid YAML: " + reason
}
