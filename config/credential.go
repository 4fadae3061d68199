package config

import (
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
	"runtime"
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
	// Kind is AuthBearer, AuthJWT or AuthNone.
	Kind string
	// Alg is the JWT signing algorithm, "RS256" or "ES256"; "" otherwise.
	Alg string
	// KeyID is the JWT header kid, if any.
	KeyID string
	// Fingerprint is "sha256:" + the first 12 hex characters of the SHA-256
	// of the token, or of the public key's PKIX DER for a JWT key; "" for
	// none. It identifies a credential in the audit log without revealing it.
	Fingerprint string

	// secret is a pointer so that even printing a struct that embeds a
	// Credential by value shows an address, never the token or key.
	secret *secretMaterial
}

type secretMaterial struct {
	token  string
	signer crypto.Signer
}

// Token returns the bearer token (Kind AuthBearer only; "" otherwise).
func (c *Credential) Token() string {
	if c == nil || c.secret == nil {
		return ""
	}
	return c.secret.token
}

// Signer returns the JWT signing key (Kind AuthJWT only; nil otherwise).
func (c *Credential) Signer() crypto.Signer {
	if c == nil || c.secret == nil {
		return nil
	}
	return c.secret.signer
}

// String describes the credential without its secret, such as
// "bearer sha256:3f9a0c2b7d1e" or "jwt RS256 kid=ulc-2026 sha256:…".
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

// LoadCredential loads the credential t needs, reading environment variables
// through getenv (os.Getenv when nil) and files from disk. Every error starts
// with t.Where() and never contains the secret.
func (t Target) LoadCredential(getenv func(string) string) (*Credential, error) {
	if getenv == nil {
		getenv = os.Getenv
	}
	switch t.Auth {
	case AuthNone:
		return &Credential{Kind: AuthNone}, nil
	case AuthBearer:
		token, msg := loadToken(getenv, t.TokenEnv, t.TokenFile)
		if msg != "" {
			return nil, t.errorf("%s", msg)
		}
		if token == "" {
			return nil, t.errorf("auth = %q needs token_env or token_file", AuthBearer)
		}
		return &Credential{Kind: AuthBearer, Fingerprint: fingerprint([]byte(token)), secret: &secretMaterial{token: token}}, nil
	case AuthJWT:
		if t.JWTKeyFile == "" {
			return nil, t.errorf("auth = %q needs jwt_key_file", AuthJWT)
		}
		data, msg := readSecretFile("jwt_key_file", t.JWTKeyFile)
		if msg != "" {
			return nil, t.errorf("%s", msg)
		}
		signer, alg, err := ParsePrivateKey(data)
		if err != nil {
			return nil, t.errorf("jwt_key_file %s: %v", t.JWTKeyFile, err)
		}
		der, err := x509.MarshalPKIXPublicKey(signer.Public())
		if err != nil {
			return nil, t.errorf("jwt_key_file %s: cannot encode the public key", t.JWTKeyFile)
		}
		return &Credential{Kind: AuthJWT, Alg: alg, KeyID: t.JWTKeyID, Fingerprint: fingerprint(der), secret: &secretMaterial{signer: signer}}, nil
	}
	return nil, t.errorf("auth must be %q, %q or %q, not %s", AuthBearer, AuthJWT, AuthNone, quote(t.Auth))
}

// LoadToken returns the SSWS API token named by token_env or token_file, or
// "" and no error when neither is set (the Okta SDK then looks in its own
// environment variables and okta.yaml).
func (o Okta) LoadToken(getenv func(string) string) (string, error) {
	if getenv == nil {
		getenv = os.Getenv
	}
	token, msg := loadToken(getenv, o.TokenEnv, o.TokenFile)
	if msg != "" {
		return "", o.errorf("%s", msg)
	}
	return token, nil
}

// loadToken reads a token from the environment variable env or the file
// path (whichever is set) and checks that it can go into a header as is. It
// returns a message instead of an error so callers can prefix their scope.
func loadToken(getenv func(string) string, env, path string) (token, msg string) {
	var from string
	switch {
	case env != "":
		if !envNameRE.MatchString(env) {
			// Not a variable name: possibly the token itself, so don't echo.
			return "", "token_env must be the name of an environment variable in upper case, never the token itself"
		}
		from = "token_env " + env
		token = strings.TrimSpace(getenv(env))
		if token == "" {
			return "", from + " is not set (or empty)"
		}
	case path != "":
		from = "token_file " + path
		data, msg := readSecretFile("token_file", path)
		if msg != "" {
			return "", msg
		}
		token = strings.TrimSpace(string(data))
		if token == "" {
			return "", from + " is empty"
		}
	default:
		return "", ""
	}
	if first, _, found := strings.Cut(token, " "); found && (strings.EqualFold(first, "Bearer") || strings.EqualFold(first, "SSWS")) {
		return "", fmt.Sprintf("%s starts with %q; give only the token, ulc adds the scheme", from, first+" ")
	}
	if strings.IndexFunc(token, func(r rune) bool { return r <= ' ' || r >= 0x7f }) >= 0 {
		return "", from + " holds a token with whitespace, control or non-ASCII characters inside it, which would corrupt the Authorization header"
	}
	return token, ""
}

// readSecretFile reads a token or key file, refusing one that other users
// can read or write: a credential that has leaked to every account on the
// host is not one to keep using quietly. key names the setting in messages.
func readSecretFile(key, path string) ([]byte, string) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fileProblem(key, path, err)
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return nil, fileProblem(key, path, err)
	}
	if info.IsDir() {
		return nil, fmt.Sprintf("%s %s is a directory, not a file", key, path)
	}
	// Permission bits mean little on Windows; everywhere else they are the
	// only thing keeping the secret private.
	if runtime.GOOS != "windows" {
		perm := info.Mode().Perm()
		switch {
		case perm&0o044 != 0:
			return nil, fmt.Sprintf("%s %s is readable by other users (mode %04o); run chmod 600 %s", key, path, perm, path)
		case perm&0o022 != 0:
			return nil, fmt.Sprintf("%s %s is writable by other users (mode %04o); run chmod 600 %s", key, path, perm, path)
		}
	}
	data, err := io.ReadAll(io.LimitReader(f, maxSecretFile+1))
	if err != nil {
		return nil, fileProblem(key, path, err)
	}
	if len(data) > maxSecretFile {
		return nil, fmt.Sprintf("%s %s is larger than %d KiB; it should hold only the credential", key, path, maxSecretFile>>10)
	}
	return data, ""
}

// fileProblem words an error from opening or reading a secret file. Only the
// system's reason is kept (the *PathError would repeat the path).
func fileProblem(key, path string, err error) string {
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Sprintf("%s %s: no such file", key, path)
	}
	var pe *fs.PathError
	if errors.As(err, &pe) {
		err = pe.Err
	}
	return fmt.Sprintf("%s %s cannot be read: %v", key, path, err)
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
