package config

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// Keys are generated once: RSA generation is slow under -race.
var (
	rsa2048 = sync.OnceValue(func() *rsa.PrivateKey { return mustRSA(2048) })
	rsa1024 = sync.OnceValue(func() *rsa.PrivateKey { return mustRSA(1024) })
)

func mustRSA(bits int) *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, bits)
	if err != nil {
		panic(err)
	}
	return k
}

func mustEC(t *testing.T, c elliptic.Curve) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(c, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func pemBlock(typ string, der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
}

func pkcs8(t *testing.T, key any) []byte {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pemBlock("PRIVATE KEY", der)
}

func sec1(t *testing.T, key *ecdsa.PrivateKey) []byte {
	t.Helper()
	der, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pemBlock("EC PRIVATE KEY", der)
}

// writeFile writes data to name in dir with mode perm and returns its path.
func writeFile(t *testing.T, dir, name string, data []byte, perm os.FileMode) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, data, perm); err != nil {
		t.Fatal(err)
	}
	// WriteFile's mode is filtered by the umask; set it exactly.
	if err := os.Chmod(path, perm); err != nil {
		t.Fatal(err)
	}
	return path
}

func bearerTarget(env, file string) Target {
	return Target{Name: "todo", Auth: AuthBearer, TokenEnv: env, TokenFile: file, Line: 14, File: "targets.toml"}
}

func jwtTarget(keyFile string) Target {
	return Target{Name: "ledger", Auth: AuthJWT, JWTKeyFile: keyFile, JWTKeyID: "ulc-2026", Line: 9, File: "targets.toml"}
}

func env(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func TestLoadBearerFromEnv(t *testing.T) {
	const token = "tok_8f3a9c0b1d2e"
	c, err := bearerTarget("TODO_UL_TOKEN", "").LoadCredential(env(map[string]string{"TODO_UL_TOKEN": "  " + token + "\n"}))
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256([]byte(token))
	if c.Kind != AuthBearer || c.Token() != token || c.Signer() != nil || c.Fingerprint != "sha256:"+hex.EncodeToString(sum[:])[:12] {
		t.Errorf("credential = %s, token ok = %v", c, c.Token() == token)
	}
	if got, want := c.String(), "bearer "+c.Fingerprint; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
}

func TestLoadBearerFromFile(t *testing.T) {
	dir := t.TempDir()
	const token = "tok_file_5e6f7a8b"
	good := writeFile(t, dir, "good.token", []byte(token+"\n"), 0o600)
	c, err := bearerTarget("", good).LoadCredential(nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.Token() != token {
		t.Error("token not read from the file")
	}
}

func TestLoadCredentialErrors(t *testing.T) {
	dir := t.TempDir()
	const secret = "s3cret_T0ken_value"
	open := writeFile(t, dir, "open.token", []byte(secret), 0o644)
	groupWritable := writeFile(t, dir, "gw.token", []byte(secret), 0o620)
	empty := writeFile(t, dir, "empty.token", []byte(" \n"), 0o600)
	spaced := writeFile(t, dir, "spaced.token", []byte(secret+" "+secret), 0o600)
	prefixed := writeFile(t, dir, "prefixed.token", []byte("Bearer "+secret), 0o600)
	missing := filepath.Join(dir, "missing.token")
	big := writeFile(t, dir, "big.token", []byte(strings.Repeat("a", 70<<10)), 0o600)

	tests := []struct {
		name   string
		target Target
		env    map[string]string
		want   string
	}{
		{"env not set", bearerTarget("TODO_UL_TOKEN", ""), nil,
			`targets.toml:14: target "todo": token_env TODO_UL_TOKEN is not set: set it`},
		{"env blank", bearerTarget("TODO_UL_TOKEN", ""), map[string]string{"TODO_UL_TOKEN": "  "},
			`targets.toml:14: target "todo": token_env TODO_UL_TOKEN is not set: set it`},
		{"env with a newline inside", bearerTarget("TODO_UL_TOKEN", ""), map[string]string{"TODO_UL_TOKEN": secret + "\n" + secret},
			`targets.toml:14: target "todo": token_env TODO_UL_TOKEN holds a token with whitespace, control or non-ASCII characters inside it, which would corrupt the Authorization header`},
		{"env with the scheme", bearerTarget("TODO_UL_TOKEN", ""), map[string]string{"TODO_UL_TOKEN": "Bearer " + secret},
			`targets.toml:14: target "todo": token_env TODO_UL_TOKEN starts with "Bearer "; give only the token, ulc adds the scheme`},
		{"token in the token_env field", bearerTarget(secret, ""), nil,
			`targets.toml:14: target "todo": token_env must be the name of an environment variable in upper case, never the token itself`},
		{"file missing", bearerTarget("", missing), nil,
			`targets.toml:14: target "todo": token_file ` + missing + ` does not exist: put the token there`},
		{"file readable by others", bearerTarget("", open), nil,
			`targets.toml:14: target "todo": token_file ` + open + ` is readable by other users (mode 0644); run chmod 600 ` + open},
		{"file writable by group", bearerTarget("", groupWritable), nil,
			`targets.toml:14: target "todo": token_file ` + groupWritable + ` is writable by other users (mode 0620); run chmod 600 ` + groupWritable},
		{"file empty", bearerTarget("", empty), nil,
			`targets.toml:14: target "todo": token_file ` + empty + ` is empty: put the token in it`},
		{"file with a space inside", bearerTarget("", spaced), nil,
			`targets.toml:14: target "todo": token_file ` + spaced + ` holds a token with whitespace, control or non-ASCII characters inside it, which would corrupt the Authorization header`},
		{"file with the scheme", bearerTarget("", prefixed), nil,
			`targets.toml:14: target "todo": token_file ` + prefixed + ` starts with "Bearer "; give only the token, ulc adds the scheme`},
		{"file is a directory", bearerTarget("", dir), nil,
			`targets.toml:14: target "todo": token_file ` + dir + ` is a directory, not a regular file; put the token in a regular file`},
		{"file too big", bearerTarget("", big), nil,
			`targets.toml:14: target "todo": token_file ` + big + ` is larger than 64 KiB; it should hold only the token`},
		{"key file missing", jwtTarget(missing), nil,
			`targets.toml:9: target "ledger": jwt_key_file ` + missing + ` does not exist: put the private key there`},
		{"key file readable by others", jwtTarget(open), nil,
			`targets.toml:9: target "ledger": jwt_key_file ` + open + ` is readable by other users (mode 0644); run chmod 600 ` + open},
		{"key file without a key", jwtTarget(writeFile(t, dir, "notakey.pem", []byte(secret), 0o600)), nil,
			`targets.toml:9: target "ledger": jwt_key_file ` + filepath.Join(dir, "notakey.pem") + `: no PEM private key found (expected a block such as "-----BEGIN PRIVATE KEY-----")`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := tt.target.LoadCredential(env(tt.env))
			if err == nil {
				t.Fatalf("LoadCredential succeeded: %v", c)
			}
			if got := err.Error(); got != tt.want {
				t.Errorf("error:\n got: %s\nwant: %s", got, tt.want)
			}
			if strings.Contains(err.Error(), secret) {
				t.Errorf("error leaks the secret: %s", err)
			}
			// Only a Target that Parse would refuse is not a credential
			// problem: everything else is this target's credential alone.
			wantCred := tt.name != "token in the token_env field"
			if got := errors.Is(err, ErrCredential); got != wantCred {
				t.Errorf("errors.Is(err, ErrCredential) = %v, want %v", got, wantCred)
			}
		})
	}
}

func TestLoadJWTKeys(t *testing.T) {
	dir := t.TempDir()
	p256 := mustEC(t, elliptic.P256())
	ecParams := pem.EncodeToMemory(&pem.Block{Type: "EC PARAMETERS", Bytes: []byte{0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07}})
	tests := []struct {
		name string
		pem  []byte
		alg  string
		pub  crypto.PublicKey
	}{
		{"RSA PKCS#1", pemBlock("RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(rsa2048())), "RS256", &rsa2048().PublicKey},
		{"RSA PKCS#8", pkcs8(t, rsa2048()), "RS256", &rsa2048().PublicKey},
		{"EC SEC 1", sec1(t, p256), "ES256", &p256.PublicKey},
		{"EC SEC 1 after EC PARAMETERS (openssl ecparam -genkey)", append(ecParams, sec1(t, p256)...), "ES256", &p256.PublicKey},
		{"EC PKCS#8", pkcs8(t, p256), "ES256", &p256.PublicKey},
		{"PKCS#8 mislabelled as RSA PRIVATE KEY", pemBlock("RSA PRIVATE KEY", mustDER(x509.MarshalPKCS8PrivateKey(rsa2048()))), "RS256", &rsa2048().PublicKey},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := writeFile(t, dir, fmt.Sprintf("key%d.pem", i), tt.pem, 0o600)
			c, err := jwtTarget(path).LoadCredential(nil)
			if err != nil {
				t.Fatal(err)
			}
			der, _ := x509.MarshalPKIXPublicKey(tt.pub)
			sum := sha256.Sum256(der)
			if c.Kind != AuthJWT || c.Alg != tt.alg || c.KeyID != "ulc-2026" || c.Fingerprint != "sha256:"+hex.EncodeToString(sum[:])[:12] {
				t.Errorf("credential = %s", c)
			}
			if c.Token() != "" {
				t.Error("a jwt credential has a bearer token")
			}
			if pub, ok := c.Signer().Public().(interface{ Equal(crypto.PublicKey) bool }); !ok || !pub.Equal(tt.pub) {
				t.Error("Signer does not hold the key from the file")
			}
			if got, want := c.String(), "jwt "+tt.alg+" kid=ulc-2026 "+c.Fingerprint; got != want {
				t.Errorf("String() = %q, want %q", got, want)
			}
		})
	}
}

func mustDER(der []byte, err error) []byte {
	if err != nil {
		panic(err)
	}
	return der
}

func TestParsePrivateKeyRejects(t *testing.T) {
	_, ed, _ := ed25519.GenerateKey(rand.Reader)
	p384 := mustEC(t, elliptic.P384())
	cert := pemBlock("CERTIFICATE", []byte("not really a certificate"))
	tests := []struct {
		name string
		pem  []byte
		want string
	}{
		{"P-384", sec1(t, p384), "only P-256 (ES256) EC keys are supported, not P-384"},
		{"P-384 in PKCS#8", pkcs8(t, p384), "only P-256 (ES256) EC keys are supported, not P-384"},
		{"RSA 1024", pemBlock("RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(rsa1024())), "the RSA key has 1024 bits; at least 2048 are required"},
		{"Ed25519", pkcs8(t, ed), "keys of type Ed25519 are not supported; use an RSA key (RS256) or a P-256 EC key (ES256)"},
		{"garbage in a key block", pemBlock("PRIVATE KEY", []byte("garbage that is not DER")), `the "PRIVATE KEY" PEM block is not a valid RSA or EC private key`},
		{"encrypted PKCS#8", pemBlock("ENCRYPTED PRIVATE KEY", []byte{1, 2, 3}), "encrypted private keys are not supported; store it unencrypted in a file only ulc's user can read (chmod 600)"},
		{"legacy encrypted PEM", pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Headers: map[string]string{"Proc-Type": "4,ENCRYPTED", "DEK-Info": "AES-128-CBC,00"}, Bytes: []byte{1}}),
			"encrypted private keys are not supported; store it unencrypted in a file only ulc's user can read (chmod 600)"},
		{"OpenSSH", pemBlock("OPENSSH PRIVATE KEY", []byte{1}), "keys in OpenSSH format are not supported; convert it to PEM with: ssh-keygen -p -m PEM -f <file>"},
		{"certificate only", cert, "the file holds a public key or certificate but no private key"},
		{"empty", nil, `no PEM private key found (expected a block such as "-----BEGIN PRIVATE KEY-----")`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			signer, alg, err := ParsePrivateKey(tt.pem)
			if err == nil {
				t.Fatalf("ParsePrivateKey accepted it (%s)", alg)
			}
			if signer != nil || err.Error() != tt.want {
				t.Errorf("error:\n got: %v\nwant: %s", err, tt.want)
			}
		})
	}
}

func TestLoadNone(t *testing.T) {
	c, err := Target{Name: "sandbox", Auth: AuthNone}.LoadCredential(nil)
	if err != nil || c.Kind != AuthNone || c.Fingerprint != "" || c.String() != "none" || c.Token() != "" || c.Signer() != nil {
		t.Errorf("LoadCredential = %s, %v", c, err)
	}
}

// TestCredentialNeverPrintsItsSecret formats credentials every way a log
// line might: the token and the private key must never appear.
func TestCredentialNeverPrintsItsSecret(t *testing.T) {
	const token = "tok_NeverPrintMe_7731"
	bearer, err := bearerTarget("T", "").LoadCredential(env(map[string]string{"T": token}))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	key := rsa2048()
	keyFile := writeFile(t, dir, "k.pem", pemBlock("RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(key)), 0o600)
	jwt, err := jwtTarget(keyFile).LoadCredential(nil)
	if err != nil {
		t.Fatal(err)
	}
	// Decimal digits of the private exponent and a prime: what %v of an
	// *rsa.PrivateKey would print.
	keySecrets := []string{key.D.String()[:24], key.Primes[0].String()[:24]}

	type holder struct {
		Name string
		Cred Credential // by value, as a careless struct might hold it
		Ptr  *Credential
	}
	for _, c := range []*Credential{bearer, jwt} {
		outputs := []string{
			fmt.Sprintf("%v %+v %#v %s", c, c, c, c),
			fmt.Sprintf("%v %+v %#v %s %q %x", *c, *c, *c, *c, *c, *c),
			fmt.Sprintf("%v %+v %#v", holder{"h", *c, c}, holder{"h", *c, c}, holder{"h", *c, c}),
			fmt.Sprint(c, *c), fmt.Sprintln(c, *c), c.String(),
			fmt.Sprintf("%v", []any{c, *c}),
		}
		for _, out := range outputs {
			for _, s := range append([]string{token}, keySecrets...) {
				if strings.Contains(out, s) {
					t.Errorf("%s: formatted credential leaks a secret: %s", c.Kind, out)
				}
			}
			if !strings.Contains(out, c.Fingerprint) {
				t.Errorf("%s: formatted credential lacks its fingerprint: %s", c.Kind, out)
			}
		}
	}
}

func TestOktaLoadToken(t *testing.T) {
	dir := t.TempDir()
	file := writeFile(t, dir, "okta.token", []byte("00abcOktaToken\n"), 0o600)
	tests := []struct {
		name    string
		okta    Okta
		env     map[string]string
		want    string
		wantErr string
	}{
		{"neither set", Okta{}, nil, "", ""},
		{"from env", Okta{TokenEnv: "OKTA_CLIENT_TOKEN"}, map[string]string{"OKTA_CLIENT_TOKEN": "00abcOktaToken"}, "00abcOktaToken", ""},
		{"from file", Okta{TokenFile: file}, nil, "00abcOktaToken", ""},
		{"env missing", Okta{TokenEnv: "OKTA_CLIENT_TOKEN", Line: 20, File: "targets.toml"}, nil, "",
			"targets.toml:20: [okta]: token_env OKTA_CLIENT_TOKEN is not set: set it"},
		{"with the SSWS scheme", Okta{TokenEnv: "OKTA_CLIENT_TOKEN", Line: 20, File: "targets.toml"}, map[string]string{"OKTA_CLIENT_TOKEN": "SSWS 00abcOktaToken"}, "",
			`targets.toml:20: [okta]: token_env OKTA_CLIENT_TOKEN starts with "SSWS "; give only the token, ulc adds the scheme`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.okta.LoadToken(env(tt.env))
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("err = %v, want %s", err, tt.wantErr)
				}
				if strings.Contains(err.Error(), "00abcOktaToken") {
					t.Errorf("error leaks the token: %v", err)
				}
				if !errors.Is(err, ErrCredential) {
					t.Errorf("errors.Is(%v, ErrCredential) = false", err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("LoadToken = %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}
