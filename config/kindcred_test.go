package config

import (
	"bytes"
	"crypto"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// serviceAccountJSON is a Google service-account key file as the Cloud
// console writes it, with fields changed by edit.
func serviceAccountJSON(t *testing.T, keyPEM []byte, edit func(m map[string]any)) []byte {
	t.Helper()
	m := map[string]any{
		"type":                        "service_account",
		"project_id":                  "acme-secops",
		"private_key_id":              "8f3a9c0b1d2e4f5a6b7c8d9e0f1a2b3c4d5e6f70",
		"private_key":                 string(keyPEM),
		"client_email":                "ulc@acme-secops.iam.gserviceaccount.com",
		"client_id":                   "112233445566778899001",
		"auth_uri":                    "https://accounts.google.com/o/oauth2/auth",
		"token_uri":                   "https://oauth2.googleapis.com/token",
		"auth_provider_x509_cert_url": "https://www.googleapis.com/oauth2/v1/certs",
		"universe_domain":             "googleapis.com",
	}
	if edit != nil {
		edit(m)
	}
	data, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func googleTarget(file string) Target {
	return Target{Name: "google", Kind: KindGoogle, Auth: AuthServiceAccount, CredentialsFile: file, Admin: "secops-admin@acme.com", Line: 30, File: "targets.toml"}
}

func microsoftSecretTarget(env, file string) Target {
	return Target{Name: "m365", Kind: KindMicrosoft, Auth: AuthClientSecret, Tenant: "contoso.onmicrosoft.com", ClientID: "1f0c2d3e-0000-4000-8000-0123456789ab",
		ClientSecretEnv: env, ClientSecretFile: file, TokenURL: "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token", Line: 40, File: "targets.toml"}
}

func microsoftCertTarget(cert, key string) Target {
	t := microsoftSecretTarget("", "")
	t.Auth, t.ClientCertFile, t.ClientKeyFile = AuthClientCertificate, cert, key
	return t
}

func slackTarget(env, file string) Target {
	return Target{Name: "slack", Kind: KindSlack, Auth: AuthBearer, TokenEnv: env, TokenFile: file, Line: 50, File: "targets.toml"}
}

func caepTarget(key, kid string) Target {
	return Target{Name: "okta-itp", Kind: KindCAEP, Auth: AuthJWT, URL: "https://acme.okta.com/security/api/v1/security-events",
		JWTKeyFile: key, JWTKeyID: kid, JWTIss: "https://ulc.acme.com", Line: 60, File: "targets.toml"}
}

// selfSigned makes a certificate for key, valid from notBefore to notAfter.
func selfSigned(t *testing.T, key *rsa.PrivateKey, notBefore, notAfter time.Time) []byte {
	t.Helper()
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: "ulc m365"},
		NotBefore: notBefore, NotAfter: notAfter,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

func pubFingerprint(t *testing.T, pub crypto.PublicKey) string {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(der)
	return "sha256:" + hex.EncodeToString(sum[:])[:12]
}

func TestLoadGoogleServiceAccount(t *testing.T) {
	dir := t.TempDir()
	keyPEM := pkcs8(t, rsa2048())
	data := serviceAccountJSON(t, keyPEM, nil)
	path := writeFile(t, dir, "google-sa.json", data, 0o600)
	c, err := googleTarget(path).LoadCredential(nil)
	if err != nil {
		t.Fatal(err)
	}
	fp := pubFingerprint(t, &rsa2048().PublicKey)
	if c.Kind != AuthServiceAccount || c.TargetKind != KindGoogle || c.Alg != "RS256" || c.KeyID != "8f3a9c0b1d2e4f5a6b7c8d9e0f1a2b3c4d5e6f70" ||
		c.Account != "ulc@acme-secops.iam.gserviceaccount.com" || c.TokenURL != DefaultGoogleTokenURL || c.Fingerprint != fp {
		t.Errorf("credential = %+v", *c)
	}
	if !rsa2048().PublicKey.Equal(c.Signer().Public()) {
		t.Error("Signer does not hold the key from the file")
	}
	if c.Token() != "" {
		t.Error("a service account credential has a token")
	}
	got := c.ServiceAccountJSON()
	if !bytes.Equal(got, data) {
		t.Error("ServiceAccountJSON is not the file as read")
	}
	got[0] = 'X'
	if !bytes.Equal(c.ServiceAccountJSON(), data) {
		t.Error("ServiceAccountJSON hands out the credential's own bytes")
	}
	if got, want := c.String(), "service account ulc@acme-secops.iam.gserviceaccount.com, key "+fp; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}

	// A key file pointed at the sandbox: its token_uri is honoured and shown.
	local := writeFile(t, dir, "local.json", serviceAccountJSON(t, keyPEM, func(m map[string]any) { m["token_uri"] = "http://127.0.0.1:8085/token" }), 0o600)
	c, err = googleTarget(local).LoadCredential(nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.TokenURL != "http://127.0.0.1:8085/token" || !strings.HasSuffix(c.String(), ", token endpoint http://127.0.0.1:8085/token") {
		t.Errorf("TokenURL = %q, String() = %q", c.TokenURL, c.String())
	}
	// No token_uri at all: Google's.
	none := writeFile(t, dir, "none.json", serviceAccountJSON(t, keyPEM, func(m map[string]any) { delete(m, "token_uri") }), 0o600)
	if c, err = googleTarget(none).LoadCredential(nil); err != nil || c.TokenURL != DefaultGoogleTokenURL {
		t.Errorf("without token_uri: %v, %v", c, err)
	}
	// PKCS#1 is accepted too (older tools write it).
	pkcs1 := writeFile(t, dir, "pkcs1.json", serviceAccountJSON(t, pemBlock("RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(rsa2048())), nil), 0o600)
	if _, err := googleTarget(pkcs1).LoadCredential(nil); err != nil {
		t.Errorf("PKCS#1 key: %v", err)
	}
}

func TestLoadGoogleErrors(t *testing.T) {
	dir := t.TempDir()
	keyPEM := pkcs8(t, rsa2048())
	// The body of the PEM block: no error may hold any of it.
	keyBody := strings.Split(string(keyPEM), "\n")[3]
	file := func(name string, data []byte, perm os.FileMode) string {
		return writeFile(t, dir, name, data, perm)
	}
	sa := func(edit func(m map[string]any)) []byte { return serviceAccountJSON(t, keyPEM, edit) }
	help := "; create a JSON key for the service account (Google Cloud console: IAM & Admin → Service accounts → Keys → Add key → JSON)"
	tests := []struct {
		name string
		path string
		want string // after `targets.toml:30: target "google": credentials_file <path> `
	}{
		{"readable by others", file("open.json", sa(nil), 0o644), "is readable by other users (mode 0644); run chmod 600 " + filepath.Join(dir, "open.json")},
		{"missing", filepath.Join(dir, "missing.json"), "does not exist: put the service account's JSON key there"},
		{"a directory", dir, "is a directory, not a regular file; put the service account's JSON key in a regular file"},
		{"not JSON", file("p12.json", []byte("0\x82\x0a\x00"+keyBody), 0o600), "is not a service account's JSON key" + help},
		{"JSON of the wrong shape", file("shape.json", []byte(`{"type": 5}`), 0o600), "is not a service account's JSON key" + help},
		{"no type", file("notype.json", sa(func(m map[string]any) { delete(m, "type") }), 0o600), `has no type; it should be a service account's JSON key (type "service_account")` + help},
		{"a user's credentials", file("user.json", sa(func(m map[string]any) { m["type"] = "authorized_user" }), 0o600),
			`holds a key of type "authorized_user", not a service account's (type "service_account")` + help},
		{"a strange type is not echoed", file("strange.json", sa(func(m map[string]any) { m["type"] = keyBody }), 0o600), `is not a service account's key (type "service_account")` + help},
		{"no client_email", file("noemail.json", sa(func(m map[string]any) { delete(m, "client_email") }), 0o600), "has no valid client_email (the service account's address)" + help},
		{"no private_key_id", file("nokid.json", sa(func(m map[string]any) { m["private_key_id"] = "" }), 0o600), "has no valid private_key_id" + help},
		{"no private_key", file("nokey.json", sa(func(m map[string]any) { delete(m, "private_key") }), 0o600), "has no private_key" + help},
		{"private_key not PEM", file("badkey.json", sa(func(m map[string]any) { m["private_key"] = keyBody }), 0o600),
			`private_key: no PEM private key found (expected a block such as "-----BEGIN PRIVATE KEY-----")`},
		{"private_key EC", file("ec.json", sa(func(m map[string]any) { m["private_key"] = string(pkcs8(t, mustEC(t, elliptic.P256()))) }), 0o600),
			"private_key is not an RSA key, which every Google service-account key is" + help},
		{"private_key RSA 1024", file("small.json", sa(func(m map[string]any) { m["private_key"] = string(pkcs8(t, rsa1024())) }), 0o600),
			"private_key: the RSA key has 1024 bits; at least 2048 are required"},
		{"token_uri over http", file("http.json", sa(func(m map[string]any) { m["token_uri"] = "http://oauth2.example.com/token" }), 0o600),
			"has a token_uri that cannot be used: token_uri must use https (plain http is allowed only to loopback addresses)"},
		{"token_uri with userinfo", file("userinfo.json", sa(func(m map[string]any) { m["token_uri"] = "https://u:" + keyBody[:8] + "@oauth2.example.com/token" }), 0o600),
			"has a token_uri that cannot be used: token_uri must not contain a user name or password; name the credential with token_env or token_file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := googleTarget(tt.path).LoadCredential(nil)
			if err == nil {
				t.Fatalf("LoadCredential succeeded: %v", c)
			}
			want := `targets.toml:30: target "google": credentials_file ` + tt.path + " " + tt.want
			if got := err.Error(); got != want {
				t.Errorf("\n got: %s\nwant: %s", got, want)
			}
			if strings.Contains(err.Error(), keyBody[:16]) {
				t.Errorf("error leaks key material: %s", err)
			}
			if !errors.Is(err, ErrCredential) {
				t.Error("the error does not wrap ErrCredential")
			}
		})
	}
}

func TestLoadMicrosoftSecret(t *testing.T) {
	const secret = "abc8Q~Zr.q_-S3cretValue9"
	c, err := microsoftSecretTarget("M365_CLIENT_SECRET", "").LoadCredential(env(map[string]string{"M365_CLIENT_SECRET": secret + "\n"}))
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256([]byte(secret))
	fp := "sha256:" + hex.EncodeToString(sum[:])[:12]
	if c.Kind != AuthClientSecret || c.TargetKind != KindMicrosoft || c.Token() != secret || c.Signer() != nil || c.Fingerprint != fp ||
		c.Account != "1f0c2d3e-0000-4000-8000-0123456789ab" || c.TokenURL != "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token" {
		t.Errorf("credential = %s, secret ok = %v", c, c.Token() == secret)
	}
	if got, want := c.String(), "client 1f0c2d3e-0000-4000-8000-0123456789ab, secret "+fp; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
	dir := t.TempDir()
	c, err = microsoftSecretTarget("", writeFile(t, dir, "m365.secret", []byte(secret+"\n"), 0o600)).LoadCredential(nil)
	if err != nil || c.Token() != secret {
		t.Errorf("from a file: %v, secret ok = %v", err, c != nil && c.Token() == secret)
	}

	open := writeFile(t, dir, "open.secret", []byte(secret), 0o640)
	empty := writeFile(t, dir, "empty.secret", []byte("\n"), 0o600)
	missing := filepath.Join(dir, "missing.secret")
	tests := []struct {
		name   string
		target Target
		env    map[string]string
		want   string
	}{
		{"env not set", microsoftSecretTarget("M365_CLIENT_SECRET", ""), nil, "client_secret_env M365_CLIENT_SECRET is not set: set it"},
		{"env with a space inside", microsoftSecretTarget("M365_CLIENT_SECRET", ""), map[string]string{"M365_CLIENT_SECRET": secret + " " + secret},
			"client_secret_env M365_CLIENT_SECRET holds a secret with whitespace, control or non-ASCII characters inside it, which would corrupt the token request"},
		{"file readable by the group", microsoftSecretTarget("", open), nil, "client_secret_file " + open + " is readable by other users (mode 0640); run chmod 600 " + open},
		{"file empty", microsoftSecretTarget("", empty), nil, "client_secret_file " + empty + " is empty: put the secret in it"},
		{"file missing", microsoftSecretTarget("", missing), nil, "client_secret_file " + missing + " does not exist: put the client secret there"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tt.target.LoadCredential(env(tt.env))
			want := `targets.toml:40: target "m365": ` + tt.want
			if err == nil || err.Error() != want {
				t.Fatalf("\n got: %v\nwant: %s", err, want)
			}
			if strings.Contains(err.Error(), secret) || !errors.Is(err, ErrCredential) {
				t.Errorf("leaks the secret or does not wrap ErrCredential: %v", err)
			}
		})
	}
}

func TestLoadMicrosoftCertificate(t *testing.T) {
	dir := t.TempDir()
	now := time.Now()
	der := selfSigned(t, rsa2048(), now.Add(-time.Hour), now.Add(365*24*time.Hour))
	// A certificate is public: a file others can read is fine.
	certPath := writeFile(t, dir, "m365.crt", append(pemBlock("CERTIFICATE", der), pemBlock("CERTIFICATE", der)...), 0o644)
	keyPath := writeFile(t, dir, "m365.key", pkcs8(t, rsa2048()), 0o600)
	c, err := microsoftCertTarget(certPath, keyPath).LoadCredential(nil)
	if err != nil {
		t.Fatal(err)
	}
	s256, s1 := sha256.Sum256(der), sha1.Sum(der)
	fp := pubFingerprint(t, &rsa2048().PublicKey)
	if c.Kind != AuthClientCertificate || c.TargetKind != KindMicrosoft || c.Token() != "" || c.Fingerprint != fp ||
		c.CertThumbprintS256 != base64.RawURLEncoding.EncodeToString(s256[:]) || c.CertThumbprintSHA1 != base64.RawURLEncoding.EncodeToString(s1[:]) ||
		c.Account != "1f0c2d3e-0000-4000-8000-0123456789ab" || c.TokenURL == "" {
		t.Errorf("credential = %+v", *c)
	}
	if !rsa2048().PublicKey.Equal(c.Signer().Public()) {
		t.Error("Signer does not hold the certificate's key")
	}
	if got, want := c.String(), "client 1f0c2d3e-0000-4000-8000-0123456789ab, certificate x5t#S256="+c.CertThumbprintS256+", key "+fp; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}

	other := mustRSA(2048)
	expired := writeFile(t, dir, "expired.crt", pemBlock("CERTIFICATE", selfSigned(t, rsa2048(), time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2025, 1, 2, 0, 0, 0, 0, time.UTC))), 0o644)
	keyOnly := writeFile(t, dir, "keyonly.crt", pkcs8(t, rsa2048()), 0o600)
	garbled := writeFile(t, dir, "garbled.crt", pemBlock("CERTIFICATE", []byte("not DER")), 0o644)
	otherKey := writeFile(t, dir, "other.key", pkcs8(t, other), 0o600)
	ecKey := writeFile(t, dir, "ec.key", pkcs8(t, mustEC(t, elliptic.P256())), 0o600)
	openKey := writeFile(t, dir, "open.key", pkcs8(t, rsa2048()), 0o644)
	tests := []struct {
		name       string
		cert, key  string
		want       string
		credential bool
	}{
		{"no certificate in the file", keyOnly, keyPath, "client_cert_file " + keyOnly + ` holds no PEM certificate (a block "-----BEGIN CERTIFICATE-----"); put the certificate registered with the app there`, true},
		{"a garbled certificate", garbled, keyPath, "client_cert_file " + garbled + ": its first certificate is not a valid X.509 certificate", true},
		{"certificate missing", filepath.Join(dir, "nope.crt"), keyPath, "client_cert_file " + filepath.Join(dir, "nope.crt") + " does not exist: put the certificate there", true},
		{"key of another certificate", certPath, otherKey, "client_key_file " + otherKey + " is not the private key of the certificate in client_cert_file " + certPath + "; give the key the certificate was made from", true},
		{"EC key", certPath, ecKey, "client_key_file " + ecKey + " holds an EC key; Entra ID signs in with RSA certificates only, so create an RSA key of at least 2048 bits and its certificate", true},
		{"key readable by others", certPath, openKey, "client_key_file " + openKey + " is readable by other users (mode 0644); run chmod 600 " + openKey, true},
		{"expired certificate", expired, keyPath, "the certificate in client_cert_file " + expired + " expired on 2025-01-02; make a new one and upload it to the app registration (Certificates & secrets)", true},
		{"a target Parse would refuse", "", keyPath, `auth = "client_certificate" needs client_cert_file and client_key_file`, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := microsoftCertTarget(tt.cert, tt.key).LoadCredential(nil)
			want := `targets.toml:40: target "m365": ` + tt.want
			if err == nil || err.Error() != want {
				t.Fatalf("\n got: %v\nwant: %s", err, want)
			}
			if errors.Is(err, ErrCredential) != tt.credential {
				t.Errorf("errors.Is(err, ErrCredential) = %v, want %v", !tt.credential, tt.credential)
			}
		})
	}
}

func TestLoadSlackToken(t *testing.T) {
	const token = "xoxp-1234567890-0987654321-abcdef"
	c, err := slackTarget("SLACK_ADMIN_TOKEN", "").LoadCredential(env(map[string]string{"SLACK_ADMIN_TOKEN": token}))
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256([]byte(token))
	fp := "sha256:" + hex.EncodeToString(sum[:])[:12]
	if c.Kind != AuthBearer || c.TargetKind != KindSlack || c.Token() != token || c.Fingerprint != fp || c.String() != "token "+fp {
		t.Errorf("credential = %s", c)
	}
	dir := t.TempDir()
	tests := []struct {
		name   string
		target Target
		env    map[string]string
		want   string
	}{
		{"env not set", slackTarget("SLACK_ADMIN_TOKEN", ""), nil, "token_env SLACK_ADMIN_TOKEN is not set: set it"},
		{"with the scheme", slackTarget("SLACK_ADMIN_TOKEN", ""), map[string]string{"SLACK_ADMIN_TOKEN": "Bearer " + token},
			`token_env SLACK_ADMIN_TOKEN starts with "Bearer "; give only the token, ulc adds the scheme`},
		{"file readable by others", slackTarget("", writeFile(t, dir, "slack.token", []byte(token), 0o604)), nil,
			"token_file " + filepath.Join(dir, "slack.token") + " is readable by other users (mode 0604); run chmod 600 " + filepath.Join(dir, "slack.token")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tt.target.LoadCredential(env(tt.env))
			want := `targets.toml:50: target "slack": ` + tt.want
			if err == nil || err.Error() != want {
				t.Fatalf("\n got: %v\nwant: %s", err, want)
			}
			if strings.Contains(err.Error(), token) || !errors.Is(err, ErrCredential) {
				t.Errorf("leaks the token or does not wrap ErrCredential: %v", err)
			}
		})
	}
}

// jwkThumbprint is the RFC 7638 SHA-256 thumbprint of an RSA public key,
// computed from the RFC's text rather than by the code under test.
func jwkThumbprint(pub *rsa.PublicKey) string {
	enc := base64.RawURLEncoding
	e := big.NewInt(int64(pub.E)).Bytes()
	sum := sha256.Sum256([]byte(`{"e":"` + enc.EncodeToString(e) + `","kty":"RSA","n":"` + enc.EncodeToString(pub.N.Bytes()) + `"}`))
	return enc.EncodeToString(sum[:])
}

func TestLoadCAEPKey(t *testing.T) {
	dir := t.TempDir()
	keyPath := writeFile(t, dir, "caep.pem", pemBlock("RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(rsa2048())), 0o600)
	fp := pubFingerprint(t, &rsa2048().PublicKey)

	c, err := caepTarget(keyPath, "ulc-caep-1").LoadCredential(nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.Kind != AuthJWT || c.TargetKind != KindCAEP || c.Alg != "RS256" || c.KeyID != "ulc-caep-1" || c.Fingerprint != fp || c.Token() != "" || c.TokenFingerprint != "" {
		t.Errorf("credential = %+v", *c)
	}
	if !rsa2048().PublicKey.Equal(c.Signer().Public()) {
		t.Error("Signer does not hold the key from the file")
	}
	if got, want := c.String(), "SET RS256 kid=ulc-caep-1, key "+fp; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}

	// Without jwt_key_id, the kid is the key's RFC 7638 thumbprint.
	c, err = caepTarget(keyPath, "").LoadCredential(nil)
	if err != nil {
		t.Fatal(err)
	}
	if want := jwkThumbprint(&rsa2048().PublicKey); c.KeyID != want {
		t.Errorf("KeyID = %q, want the thumbprint %q", c.KeyID, want)
	}

	// With a push token.
	const token = "push_7d1e3f9a0c2b"
	withToken := caepTarget(keyPath, "ulc-caep-1")
	withToken.TokenEnv = "CAEP_PUSH_TOKEN"
	c, err = withToken.LoadCredential(env(map[string]string{"CAEP_PUSH_TOKEN": token}))
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256([]byte(token))
	tfp := "sha256:" + hex.EncodeToString(sum[:])[:12]
	if c.Token() != token || c.TokenFingerprint != tfp || c.Fingerprint != fp || c.String() != "SET RS256 kid=ulc-caep-1, key "+fp+", push token "+tfp {
		t.Errorf("credential = %s", c)
	}
	if _, err := withToken.LoadCredential(env(nil)); err == nil || err.Error() != `targets.toml:60: target "okta-itp": token_env CAEP_PUSH_TOKEN is not set: set it` || !errors.Is(err, ErrCredential) {
		t.Errorf("push token not set: %v", err)
	}

	ec := writeFile(t, dir, "ec.pem", sec1(t, mustEC(t, elliptic.P256())), 0o600)
	small := writeFile(t, dir, "small.pem", pkcs8(t, rsa1024()), 0o600)
	open := writeFile(t, dir, "open.pem", pkcs8(t, rsa2048()), 0o644)
	for _, tt := range []struct{ path, want string }{
		{ec, "jwt_key_file " + ec + ` holds a P-256 EC key, but kind "caep" signs with RS256 (the CAEP interoperability profile); use an RSA key of at least 2048 bits`},
		{small, "jwt_key_file " + small + ": the RSA key has 1024 bits; at least 2048 are required"},
		{open, "jwt_key_file " + open + " is readable by other users (mode 0644); run chmod 600 " + open},
	} {
		_, err := caepTarget(tt.path, "k").LoadCredential(nil)
		want := `targets.toml:60: target "okta-itp": ` + tt.want
		if err == nil || err.Error() != want || !errors.Is(err, ErrCredential) {
			t.Errorf("\n got: %v\nwant: %s", err, want)
		}
	}
}

// TestKindCredentialsFromParse: the paths of a parsed file are resolved
// against its directory, so loading needs nothing else.
func TestKindCredentialsFromParse(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "google-sa.json", serviceAccountJSON(t, pkcs8(t, rsa2048()), nil), 0o600)
	writeFile(t, dir, "caep.pem", pkcs8(t, rsa2048()), 0o600)
	writeFile(t, dir, "m365.secret", []byte("s3cret"), 0o600)
	f, err := Parse([]byte(lines(
		`[[target]]`, `name = "google"`, `kind = "google"`, `credentials_file = "google-sa.json"`, `admin = "a@acme.com"`,
		`[[target]]`, `name = "m365"`, `kind = "microsoft"`, `tenant = "contoso.com"`, `client_id = "c"`, `client_secret_file = "m365.secret"`,
		`[[target]]`, `name = "caep"`, `kind = "caep"`, `url = "https://rx.example.com/events"`, `jwt_key_file = "caep.pem"`, `jwt_iss = "https://ulc.acme.com"`,
	)), filepath.Join(dir, "targets.toml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, tg := range f.Targets {
		c, err := tg.LoadCredential(env(nil))
		if err != nil || c.TargetKind != tg.Kind || c.Kind != tg.Auth {
			t.Errorf("%s: %v, %v", tg.Name, c, err)
		}
	}
}

// TestKindCredentialsDoNotPrintSecrets: every fmt verb, and a struct that
// holds the credential, print only the description.
func TestKindCredentialsDoNotPrintSecrets(t *testing.T) {
	dir := t.TempDir()
	keyPEM := pkcs8(t, rsa2048())
	keyBody := strings.Split(string(keyPEM), "\n")[3]
	const secret, push = "abc8Q~S3cretValue9zz", "push_7d1e3f9a0c2b"
	google, err := googleTarget(writeFile(t, dir, "sa.json", serviceAccountJSON(t, keyPEM, nil), 0o600)).LoadCredential(nil)
	if err != nil {
		t.Fatal(err)
	}
	m365, err := microsoftSecretTarget("S", "").LoadCredential(env(map[string]string{"S": secret}))
	if err != nil {
		t.Fatal(err)
	}
	caepT := caepTarget(writeFile(t, dir, "caep.pem", keyPEM, 0o600), "")
	caepT.TokenEnv = "P"
	caep, err := caepT.LoadCredential(env(map[string]string{"P": push}))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []*Credential{google, m365, caep} {
		holder := struct{ C Credential }{*c}
		for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q"} {
			for _, v := range []any{c, *c, holder} {
				out := fmt.Sprintf(verb, v)
				for _, s := range []string{keyBody[:16], secret, push, "private_key"} {
					if strings.Contains(out, s) {
						t.Errorf("%s %s: %s leaks a secret: %s", c.TargetKind, verb, fmt.Sprintf("%T", v), out)
					}
				}
				if !strings.Contains(out, c.Fingerprint) {
					t.Errorf("%s %s: output lacks the fingerprint: %s", c.TargetKind, verb, out)
				}
			}
		}
	}
}

// TestLoadCredentialOfUnknownKind: a Target that Parse would refuse is not
// a credential problem.
func TestLoadCredentialOfUnknownKind(t *testing.T) {
	_, err := Target{Name: "b", Kind: "box", Line: 3, File: "targets.toml"}.LoadCredential(nil)
	want := `targets.toml:3: target "b": kind must be "gtr", "google", "microsoft", "slack", "caep", "zoom" or "github", not "box"`
	if err == nil || err.Error() != want || errors.Is(err, ErrCredential) {
		t.Errorf("\n got: %v\nwant: %s", err, want)
	}
	// A GTR credential says so, whether the kind is written or not.
	for _, kind := range []string{"", KindGTR} {
		c, err := Target{Name: "a", Kind: kind, Auth: AuthNone}.LoadCredential(nil)
		if err != nil || c.TargetKind != KindGTR || c.String() != "none" {
			t.Errorf("kind %q: %v, %v", kind, c, err)
		}
	}
}
