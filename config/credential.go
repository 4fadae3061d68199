package config

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strconv"
	"strings"
)

// maxSecretFile bounds what is read from a token or key file: either holds a
// few kilobytes at most, and a path pointing at something else (a log, a
// device) should fail fast instead of filling memory.
const maxSecretFile = 64 << 10

// Credential is a target's loaded credential. The secret itself sits behind
// an unexported pointer, and every fmt verb prints only String(), so logging
// a Credential (or a struct holding one) cannot leak it.
type Credential struct {
	// Kind is how it authenticates, the Target's Auth: AuthBearer, AuthJWT
	// or AuthNone (kind "gtr"), AuthServiceAccount ("google"),
	// AuthClientSecret or AuthClientCertificate ("microsoft"), AuthBearer
	// ("slack" and "github"), AuthJWT ("caep"), AuthClientSecret ("zoom").
	Kind string
	// TargetKind is the kind of the target it was loaded for: KindGTR,
	// KindGoogle, KindMicrosoft, KindSlack, KindCAEP, KindZoom or
	// KindGitHub.
	TargetKind string
	// Alg is the JWT signing algorithm, "RS256" or "ES256" (always "RS256"
	// for kinds "google" and "caep"); "" otherwise. A kind "microsoft"
	// certificate leaves it to the connector (PS256 or RS256).
	Alg string
	// KeyID is the JWT header kid: jwt_key_id; for kind "google", the
	// key file's private_key_id; for kind "caep" without jwt_key_id, the
	// RFC 7638 SHA-256 thumbprint of the public key (base64url), so the
	// kid is stable and matches the key's JWK.
	KeyID string
	// Account is who the credential authenticates as, not a secret: the
	// service account's client_email (kind "google"), the client_id (kinds
	// "microsoft" and "zoom"), the organization (kind "github"); ""
	// otherwise.
	Account string
	// TokenURL is where the credential is exchanged for an access token:
	// the key file's token_uri (kind "google"; DefaultGoogleTokenURL when
	// it names none), the target's token_url (kinds "microsoft" and
	// "zoom"); "" otherwise.
	TokenURL string
	// CertThumbprintS256 is the base64url SHA-256 of the certificate's DER,
	// for the x5t#S256 JWT header (kind "microsoft" with a certificate).
	CertThumbprintS256 string
	// CertThumbprintSHA1 is the base64url SHA-1 of the certificate's DER,
	// for the x5t JWT header (kind "microsoft" with a certificate).
	CertThumbprintSHA1 string
	// Fingerprint is "sha256:" + the first 12 hex characters of the SHA-256
	// of the token or secret, or of the public key's PKIX DER for a signing
	// key; "" for none. It identifies a credential in the audit log without
	// revealing it.
	Fingerprint string
	// TokenFingerprint is the fingerprint of a kind "caep" target's
	// optional push token (Fingerprint is its signing key's); "" otherwise.
	TokenFingerprint string

	// secret is a pointer so that even printing a struct that embeds a
	// Credential by value shows an address, never the token or key.
	secret *secretMaterial
}

type secretMaterial struct {
	token  string
	signer crypto.Signer
	// serviceAccount is the raw JSON key of a Google service account.
	serviceAccount []byte
}

// Token returns the secret string: the bearer token (Kind AuthBearer), the
// client secret (AuthClientSecret), or a kind "caep" target's optional push
// token; "" otherwise. It is a secret: never log or print it.
func (c *Credential) Token() string {
	if c == nil || c.secret == nil {
		return ""
	}
	return c.secret.token
}

// Signer returns the signing key: of the JWTs (Kind AuthJWT), of the
// service account (AuthServiceAccount), of the certificate
// (AuthClientCertificate); nil otherwise.
func (c *Credential) Signer() crypto.Signer {
	if c == nil || c.secret == nil {
		return nil
	}
	return c.secret.signer
}

// ServiceAccountJSON returns a copy of the Google service account's JSON
// key file as read (Kind AuthServiceAccount; nil otherwise), for
// golang.org/x/oauth2/google.JWTConfigFromJSON. It holds the private key:
// it is a secret, never log, print or store it.
func (c *Credential) ServiceAccountJSON() []byte {
	if c == nil || c.secret == nil || c.secret.serviceAccount == nil {
		return nil
	}
	return bytes.Clone(c.secret.serviceAccount)
}

// String describes the credential without its secret, such as
// "bearer sha256:3f9a0c2b7d1e", "jwt RS256 kid=ulc-2026 sha256:…" or, for
// the other kinds, "service account sa@p.iam.gserviceaccount.com, key
// sha256:…", "client 1f0c…, secret sha256:…", "token sha256:…" or
// "SET RS256 kid=ulc-caep-1, key sha256:…, push token sha256:…".
func (c *Credential) String() string {
	if c == nil {
		return "<nil>"
	}
	return c.describe()
}

// Format implements fmt.Formatter so that %v, %+v, %#v, %s and %q all print
// String(): the default %+v and %#v would otherwise walk the struct. It has
// a value receiver so that printing a Credential value is covered too.
func (c Credential) Format(s fmt.State, verb rune) {
	if verb == 'q' {
		_, _ = io.WriteString(s, strconv.Quote(c.describe()))
		return
	}
	_, _ = io.WriteString(s, c.describe())
}

func (c Credential) describe() string {
	if c.TargetKind != "" && c.TargetKind != KindGTR {
		return c.describeKind()
	}
	parts := []string{c.Kind}
	if c.Alg != "" {
		parts = append(parts, c.Alg)
	}
	if c.KeyID != "" {
		parts = append(parts, "kid="+c.KeyID)
	}
	if c.Fingerprint != "" {
		parts = append(parts, c.Fingerprint)
	}
	return strings.Join(parts, " ")
}

// LoadCredential is LoadCredentialContext without a deadline.
func (t Target) LoadCredential(getenv func(string) string) (*Credential, error) {
	return t.LoadCredentialContext(context.Background(), getenv)
}

// LoadCredentialContext loads the credential t needs, reading environment
// variables through getenv (os.Getenv when nil) and files from disk: for
// kind "gtr" its bearer token or JWT key; for "google" the service
// account's JSON key; for "microsoft" the client secret, or the certificate
// and its key; for "slack" the token; for "caep" the RSA signing key and
// the optional push token. It sends nothing anywhere. Every
// error starts with t.Where() and never contains the secret. An error that
// means the credential itself is missing or unusable wraps ErrCredential;
// when ctx is done first, the error wraps ctx.Err().
func (t Target) LoadCredentialContext(ctx context.Context, getenv func(string) string) (*Credential, error) {
	c, err := await(ctx, func() (*Credential, error) { return t.loadCredential(getenv) })
	if ctx.Err() != nil && c == nil && errors.Is(err, ctx.Err()) {
		return nil, fmt.Errorf("%s: loading the credential was interrupted: %w", t.Where(), err)
	}
	return c, err
}

func (t Target) loadCredential(getenv func(string) string) (*Credential, error) {
	if getenv == nil {
		getenv = os.Getenv
	}
	switch t.Kind {
	case "", KindGTR:
	case KindGoogle, KindMicrosoft, KindSlack, KindCAEP, KindZoom, KindGitHub:
		return t.loadKindCredential(getenv)
	default:
		return nil, t.errorf("kind must be %s, not %s", quotedList(Kinds(), "or"), quote(t.Kind))
	}
	c, err := t.loadGTRCredential(getenv)
	if c != nil {
		c.TargetKind = KindGTR
	}
	return c, err
}

// loadGTRCredential loads the credential of a kind "gtr" target.
func (t Target) loadGTRCredential(getenv func(string) string) (*Credential, error) {
	switch t.Auth {
	case AuthNone:
		return &Credential{Kind: AuthNone}, nil
	case AuthBearer:
		token, pr := loadToken(getenv, t.TokenEnv, t.TokenFile)
		if pr != nil {
			return nil, t.problem(pr)
		}
		if token == "" {
			return nil, t.errorf("auth = %q needs token_env or token_file", AuthBearer)
		}
		return &Credential{Kind: AuthBearer, Fingerprint: fingerprint([]byte(token)), secret: &secretMaterial{token: token}}, nil
	case AuthJWT:
		if t.JWTKeyFile == "" {
			return nil, t.errorf("auth = %q needs jwt_key_file", AuthJWT)
		}
		data, pr := readSecretFile("jwt_key_file", t.JWTKeyFile)
		if pr != nil {
			return nil, t.problem(pr)
		}
		signer, alg, err := ParsePrivateKey(data)
		if err != nil {
			return nil, t.problem(credentialf("jwt_key_file %s: %v", t.JWTKeyFile, err))
		}
		der, err := x509.MarshalPKIXPublicKey(signer.Public())
		if err != nil {
			return nil, t.problem(credentialf("jwt_key_file %s: cannot encode the public key", t.JWTKeyFile))
		}
		return &Credential{Kind: AuthJWT, Alg: alg, KeyID: t.JWTKeyID, Fingerprint: fingerprint(der), secret: &secretMaterial{signer: signer}}, nil
	}
	return nil, t.errorf("auth must be %q, %q or %q, not %s", AuthBearer, AuthJWT, AuthNone, quote(t.Auth))
}

// LoadCA returns the PEM bytes of t's ca_file, or nil and no error when t
// has none. The file must be a regular file of at most 1 MiB; an error
// means this target cannot be reached as configured, starts with t.Where()
// and wraps ErrCredential (the trust anchor is part of what the target's
// requests need, like its token). When ctx is done first, the error wraps
// ctx.Err().
func (t Target) LoadCA(ctx context.Context) ([]byte, error) {
	if t.CAFile == "" {
		return nil, nil
	}
	data, err := await(ctx, func() ([]byte, error) {
		data, pr := readFileProblem("ca_file", t.CAFile, "the CA certificates", maxCAFile, nil)
		if pr != nil {
			return nil, t.problem(pr)
		}
		return data, nil
	})
	if data == nil && err != nil && ctx.Err() != nil && errors.Is(err, ctx.Err()) {
		return nil, fmt.Errorf("%s: reading ca_file was interrupted: %w", t.Where(), err)
	}
	return data, err
}

// LoadToken is LoadTokenContext without a deadline.
func (o Okta) LoadToken(getenv func(string) string) (string, error) {
	return o.LoadTokenContext(context.Background(), getenv)
}

// LoadTokenContext returns the SSWS API token named by token_env or
// token_file, or "" and no error when neither is set (the Okta SDK then
// looks in its own environment variables and okta.yaml). An error that means
// the token is missing or unusable wraps ErrCredential; when ctx is done
// first, the error wraps ctx.Err().
func (o Okta) LoadTokenContext(ctx context.Context, getenv func(string) string) (string, error) {
	if getenv == nil {
		getenv = os.Getenv
	}
	token, err := await(ctx, func() (string, error) {
		token, pr := loadToken(getenv, o.TokenEnv, o.TokenFile)
		if pr != nil {
			return "", o.problem(pr)
		}
		return token, nil
	})
	if err != nil && ctx.Err() != nil && errors.Is(err, ctx.Err()) {
		return "", fmt.Errorf("%s: loading the Okta token was interrupted: %w", location(o.File, o.Line, "[okta]"), err)
	}
	return token, err
}

// ReadPrivateKey returns the PEM bytes of the [okta] private_key_file, or
// nil and no error when there is none. It applies the checks of every
// secret file: a regular file, at most 64 KiB, not open to other users. An
// error wraps ErrCredential (or ctx.Err() when ctx is done first) and never
// holds key material; ParsePrivateKey turns the bytes into a signer.
func (o Okta) ReadPrivateKey(ctx context.Context) ([]byte, error) {
	if o.PrivateKeyFile == "" {
		return nil, nil
	}
	data, err := await(ctx, func() ([]byte, error) {
		data, pr := readSecretFile("private_key_file", o.PrivateKeyFile)
		if pr != nil {
			return nil, o.problem(pr)
		}
		return data, nil
	})
	if data == nil && err != nil && ctx.Err() != nil && errors.Is(err, ctx.Err()) {
		return nil, fmt.Errorf("%s: reading private_key_file was interrupted: %w", location(o.File, o.Line, "[okta]"), err)
	}
	return data, err
}

// problem is what is wrong with a credential, worded without its scope so
// that a target and the [okta] table can both prefix theirs. cred says that
// the credential itself is missing or unusable (ErrCredential), as opposed
// to a setting Parse would have refused.
type problem struct {
	msg  string
	cred bool
}

// credentialf returns a problem of the credential itself.
func credentialf(format string, args ...any) *problem {
	return &problem{msg: fmt.Sprintf(format, args...), cred: true}
}

// problem turns pr into an *Error about t.
func (t Target) problem(pr *problem) *Error {
	e := t.errorf("%s", pr.msg)
	if pr.cred {
		e.Err = ErrCredential
	}
	return e
}

// problem turns pr into an *Error about the [okta] table.
func (o Okta) problem(pr *problem) *Error {
	e := o.errorf("%s", pr.msg)
	if pr.cred {
		e.Err = ErrCredential
	}
	return e
}

// loadToken reads a token from the environment variable env or the file
// path (whichever is set) and checks that it can go into a header as is. It
// returns a problem instead of an error so callers can prefix their scope.
func loadToken(getenv func(string) string, env, path string) (string, *problem) {
	return loadSecret(getenv, tokenSource, env, path)
}

// secretSource names the keys of one secret string and what it is, for
// messages: the bearer token (token_env, token_file) or a client secret
// (client_secret_env, client_secret_file).
type secretSource struct {
	envKey, fileKey string
	what            string // "token", "secret"
	// breaks says what a character a header cannot carry would break.
	breaks string
}

var (
	tokenSource  = secretSource{"token_env", "token_file", "token", "the Authorization header"}
	clientSecret = secretSource{"client_secret_env", "client_secret_file", "secret", "the token request"}
)

// loadSecret reads a secret string from the environment variable env or the
// file path (whichever is set) and checks that it can be sent as is.
func loadSecret(getenv func(string) string, src secretSource, env, path string) (string, *problem) {
	var from, token string
	switch {
	case env != "":
		if !envNameRE.MatchString(env) {
			// Not a variable name: possibly the secret itself, so don't echo.
			return "", &problem{msg: fmt.Sprintf("%s must be the name of an environment variable in upper case, never the %s itself", src.envKey, src.what)}
		}
		from = src.envKey + " " + env
		token = strings.TrimSpace(getenv(env))
		if token == "" {
			return "", credentialf("%s is not set: set it", from)
		}
	case path != "":
		from = src.fileKey + " " + path
		data, pr := readSecretFile(src.fileKey, path)
		if pr != nil {
			return "", pr
		}
		token = strings.TrimSpace(string(data))
		if token == "" {
			return "", credentialf("%s is empty: put the %s in it", from, src.what)
		}
	default:
		return "", nil
	}
	if first, _, found := strings.Cut(token, " "); found && (strings.EqualFold(first, "Bearer") || strings.EqualFold(first, "SSWS")) {
		return "", credentialf("%s starts with %q; give only the %s, ulc adds the scheme", from, first+" ", src.what)
	}
	if strings.IndexFunc(token, func(r rune) bool { return r <= ' ' || r >= 0x7f }) >= 0 {
		return "", credentialf("%s holds a %s with whitespace, control or non-ASCII characters inside it, which would corrupt %s", from, src.what, src.breaks)
	}
	return token, nil
}

// readSecretFile reads a token or key file: a regular file of at most
// maxSecretFile bytes that other users can neither read nor write. key names
// the setting in messages.
func readSecretFile(key, path string) ([]byte, *problem) {
	what := "the private key"
	switch key {
	case "token_file":
		what = "the token"
	case "client_secret_file":
		what = "the client secret"
	case "credentials_file":
		what = "the service account's JSON key"
	}
	return readFileProblem(key, path, what, maxSecretFile, secretPerm)
}

// readFileProblem reads the file a setting names through readRegular and
// words whatever goes wrong as a problem of the credential: key and path
// lead the sentence, what names the file's expected content in the remedy,
// and the content itself never appears.
func readFileProblem(key, path, what string, limit int64, check func(fs.FileInfo) error) ([]byte, *problem) {
	data, err := readRegular(path, limit, check)
	if err == nil {
		return data, nil
	}
	var (
		nr *notRegular
		tl *tooLarge
		oo *openToOthers
	)
	switch {
	case errors.As(err, &nr):
		return nil, credentialf("%s %s is %s, not a regular file; put %s in a regular file", key, path, nr.kind, what)
	case errors.As(err, &tl):
		return nil, credentialf("%s %s is larger than %s; it should hold only %s", key, path, sizeString(tl.limit), what)
	case errors.As(err, &oo):
		return nil, credentialf("%s %s is %s by other users (mode %04o); run chmod 600 %s", key, path, oo.what, oo.perm, path)
	case errors.Is(err, fs.ErrNotExist):
		return nil, credentialf("%s %s does not exist: put %s there", key, path, what)
	}
	return nil, credentialf("%s %s cannot be read: %v", key, path, systemReason(err))
}

func fingerprint(b []byte) string {
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:])[:12]
}

// ParsePrivateKey parses a PEM private key for signing JWTs: RSA in PKCS#1
// ("RSA PRIVATE KEY") or PKCS#8 ("PRIVATE KEY"), or P-256 EC in SEC 1 ("EC
// PRIVATE KEY") or PKCS#8. Other blocks in the file (EC PARAMETERS, a
// certificate) are skipped. It returns the key and its JWT algorithm, "RS256"
// or "ES256". RSA keys under 2048 bits and EC curves other than P-256 are
// refused. Errors never contain key material.
func ParsePrivateKey(pemBytes []byte) (crypto.Signer, string, error) {
	rest := pemBytes
	sawPublic := false
	for {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		switch block.Type {
		case "RSA PRIVATE KEY", "PRIVATE KEY", "EC PRIVATE KEY":
			if _, encrypted := block.Headers["DEK-Info"]; encrypted {
				return nil, "", errEncryptedKey
			}
			key, err := parseKeyBlock(block)
			if err != nil {
				return nil, "", err
			}
			return checkSigningKey(key)
		case "ENCRYPTED PRIVATE KEY":
			return nil, "", errEncryptedKey
		case "OPENSSH PRIVATE KEY":
			return nil, "", errors.New("keys in OpenSSH format are not supported; convert it to PEM with: ssh-keygen -p -m PEM -f <file>")
		case "PUBLIC KEY", "RSA PUBLIC KEY", "CERTIFICATE":
			sawPublic = true
		}
	}
	if sawPublic {
		return nil, "", errors.New("the file holds a public key or certificate but no private key")
	}
	return nil, "", errors.New(`no PEM private key found (expected a block such as "-----BEGIN PRIVATE KEY-----")`)
}

var errEncryptedKey = errors.New("encrypted private keys are not supported; store it unencrypted in a file only ulc's user can read (chmod 600)")

// parseKeyBlock parses a private key block, trying the encoding its type
// names first and then the others, since mislabelled blocks are common. The
// x509 errors are not passed on: they can describe the DER structure.
func parseKeyBlock(block *pem.Block) (any, error) {
	pkcs1 := func(der []byte) (any, error) { return x509.ParsePKCS1PrivateKey(der) }
	sec1 := func(der []byte) (any, error) { return x509.ParseECPrivateKey(der) }
	parsers := []func([]byte) (any, error){x509.ParsePKCS8PrivateKey, pkcs1, sec1}
	switch block.Type {
	case "RSA PRIVATE KEY":
		parsers = []func([]byte) (any, error){pkcs1, x509.ParsePKCS8PrivateKey, sec1}
	case "EC PRIVATE KEY":
		parsers = []func([]byte) (any, error){sec1, x509.ParsePKCS8PrivateKey, pkcs1}
	}
	for _, parse := range parsers {
		if key, err := parse(block.Bytes); err == nil {
			return key, nil
		}
	}
	return nil, fmt.Errorf("the %q PEM block is not a valid RSA or EC private key", block.Type)
}

// checkSigningKey accepts the keys and sizes ulc signs JWTs with.
func checkSigningKey(key any) (crypto.Signer, string, error) {
	switch k := key.(type) {
	case *rsa.PrivateKey:
		if bits := k.N.BitLen(); bits < 2048 {
			return nil, "", fmt.Errorf("the RSA key has %d bits; at least 2048 are required", bits)
		}
		return k, "RS256", nil
	case *ecdsa.PrivateKey:
		if k.Curve != elliptic.P256() {
			return nil, "", fmt.Errorf("only P-256 (ES256) EC keys are supported, not %s", k.Curve.Params().Name)
		}
		return k, "ES256", nil
	case ed25519.PrivateKey:
		return nil, "", errors.New("keys of type Ed25519 are not supported; use an RSA key (RS256) or a P-256 EC key (ES256)")
	}
	return nil, "", fmt.Errorf("keys of type %T are not supported; use an RSA key (RS256) or a P-256 EC key (ES256)", key)
}
