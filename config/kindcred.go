package config

import (
	"crypto"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"strings"
	"time"

	jose "github.com/go-jose/go-jose/v3"
)

// loadKindCredential loads the credential of a target of a kind other than
// KindGTR. Every error wraps ErrCredential, except for a Target that Parse
// would not have produced.
func (t Target) loadKindCredential(getenv func(string) string) (*Credential, error) {
	var (
		c   *Credential
		err error
	)
	switch t.Kind {
	case KindGoogle:
		c, err = t.loadGoogle()
	case KindMicrosoft:
		c, err = t.loadMicrosoft(getenv)
	case KindSlack:
		c, err = t.loadSlack(getenv)
	case KindCAEP:
		c, err = t.loadCAEP(getenv)
	case KindZoom:
		c, err = t.loadZoom(getenv)
	case KindGitHub:
		c, err = t.loadGitHub(getenv)
	}
	if c != nil {
		c.TargetKind = t.Kind
	}
	return c, err
}

// serviceAccountKey is the part of a Google service-account JSON key that
// ulc reads. Other fields (project_id, client_id, auth_uri, ...) are left
// to the file.
type serviceAccountKey struct {
	Type         string `json:"type"`
	ClientEmail  string `json:"client_email"`
	PrivateKeyID string `json:"private_key_id"`
	PrivateKey   string `json:"private_key"`
	TokenURI     string `json:"token_uri"`
}

// saKeyHelp is how to get a new service-account key, for messages.
const saKeyHelp = "create a JSON key for the service account (Google Cloud console: IAM & Admin → Service accounts → Keys → Add key → JSON)"

func (t Target) loadGoogle() (*Credential, error) {
	if t.CredentialsFile == "" {
		return nil, t.errorf("kind %q needs credentials_file", KindGoogle)
	}
	if t.Admin == "" {
		return nil, t.errorf("kind %q needs admin", KindGoogle)
	}
	path := t.CredentialsFile
	data, pr := readSecretFile("credentials_file", path)
	if pr != nil {
		return nil, t.problem(pr)
	}
	bad := func(format string, args ...any) (*Credential, error) {
		return nil, t.problem(credentialf("credentials_file %s %s", path, fmt.Sprintf(format, args...)))
	}
	var key serviceAccountKey
	// The decoder's own message is not passed on: it can quote the file.
	if err := json.Unmarshal(data, &key); err != nil {
		return bad("is not a service account's JSON key; %s", saKeyHelp)
	}
	switch {
	case key.Type == "":
		return bad("has no type; it should be a service account's JSON key (type \"service_account\"); %s", saKeyHelp)
	case key.Type != "service_account" && keywordRE.MatchString(key.Type):
		return bad("holds a key of type %q, not a service account's (type \"service_account\"); %s", key.Type, saKeyHelp)
	case key.Type != "service_account":
		return bad("is not a service account's key (type \"service_account\"); %s", saKeyHelp)
	case !isEmail(key.ClientEmail):
		return bad("has no valid client_email (the service account's address); %s", saKeyHelp)
	case key.PrivateKeyID == "" || strings.IndexFunc(key.PrivateKeyID, isSpaceOrControl) >= 0 || len(key.PrivateKeyID) > 256:
		return bad("has no valid private_key_id; %s", saKeyHelp)
	case key.PrivateKey == "":
		return bad("has no private_key; %s", saKeyHelp)
	}
	signer, alg, err := ParsePrivateKey([]byte(key.PrivateKey))
	if err != nil {
		return bad("private_key: %v", err)
	}
	if alg != "RS256" {
		return bad("private_key is not an RSA key, which every Google service-account key is; %s", saKeyHelp)
	}
	tokenURL := DefaultGoogleTokenURL
	if key.TokenURI != "" {
		if msg := urlProblem("token_uri", key.TokenURI); msg != "" {
			return bad("has a token_uri that cannot be used: %s", msg)
		}
		tokenURL = key.TokenURI
	}
	fp, err := keyFingerprint(signer)
	if err != nil {
		return bad("private_key: cannot encode the public key")
	}
	return &Credential{
		Kind: AuthServiceAccount, Alg: alg, KeyID: key.PrivateKeyID, Account: key.ClientEmail, TokenURL: tokenURL,
		Fingerprint: fp, secret: &secretMaterial{signer: signer, serviceAccount: data},
	}, nil
}

func (t Target) loadMicrosoft(getenv func(string) string) (*Credential, error) {
	if t.ClientID == "" {
		return nil, t.errorf("kind %q needs client_id", KindMicrosoft)
	}
	if t.TokenURL == "" {
		return nil, t.errorf("kind %q needs token_url", KindMicrosoft)
	}
	base := Credential{Account: t.ClientID, TokenURL: t.TokenURL}
	switch t.Auth {
	case AuthClientSecret:
		if (t.ClientSecretEnv == "") == (t.ClientSecretFile == "") {
			return nil, t.errorf("auth = %q needs exactly one of client_secret_env and client_secret_file", AuthClientSecret)
		}
		secret, pr := loadSecret(getenv, clientSecret, t.ClientSecretEnv, t.ClientSecretFile)
		if pr != nil {
			return nil, t.problem(pr)
		}
		c := base
		c.Kind, c.Fingerprint, c.secret = AuthClientSecret, fingerprint([]byte(secret)), &secretMaterial{token: secret}
		return &c, nil
	case AuthClientCertificate:
		if t.ClientCertFile == "" || t.ClientKeyFile == "" {
			return nil, t.errorf("auth = %q needs client_cert_file and client_key_file", AuthClientCertificate)
		}
		cert, pr := loadCertificate(t.ClientCertFile)
		if pr != nil {
			return nil, t.problem(pr)
		}
		data, pr := readSecretFile("client_key_file", t.ClientKeyFile)
		if pr != nil {
			return nil, t.problem(pr)
		}
		signer, alg, err := ParsePrivateKey(data)
		if err != nil {
			return nil, t.problem(credentialf("client_key_file %s: %v", t.ClientKeyFile, err))
		}
		if alg != "RS256" {
			return nil, t.problem(credentialf("client_key_file %s holds an EC key; Entra ID signs in with RSA certificates only, so create an RSA key of at least 2048 bits and its certificate", t.ClientKeyFile))
		}
		if pub, ok := cert.PublicKey.(*rsa.PublicKey); !ok || !pub.Equal(signer.Public()) {
			return nil, t.problem(credentialf("client_key_file %s is not the private key of the certificate in client_cert_file %s; give the key the certificate was made from", t.ClientKeyFile, t.ClientCertFile))
		}
		if now := time.Now(); now.After(cert.NotAfter) {
			return nil, t.problem(credentialf("the certificate in client_cert_file %s expired on %s; make a new one and upload it to the app registration (Certificates & secrets)", t.ClientCertFile, cert.NotAfter.UTC().Format(time.DateOnly)))
		}
		fp, err := keyFingerprint(signer)
		if err != nil {
			return nil, t.problem(credentialf("client_key_file %s: cannot encode the public key", t.ClientKeyFile))
		}
		s256 := sha256.Sum256(cert.Raw)
		s1 := sha1.Sum(cert.Raw)
		c := base
		c.Kind, c.Fingerprint, c.secret = AuthClientCertificate, fp, &secretMaterial{signer: signer}
		c.CertThumbprintS256 = base64.RawURLEncoding.EncodeToString(s256[:])
		c.CertThumbprintSHA1 = base64.RawURLEncoding.EncodeToString(s1[:])
		return &c, nil
	}
	return nil, t.errorf("auth of a kind %q target must be %q or %q, not %s", KindMicrosoft, AuthClientSecret, AuthClientCertificate, quote(t.Auth))
}

// loadCertificate reads the first CERTIFICATE block of a PEM file. A
// certificate is public, so the file may be readable by others.
func loadCertificate(path string) (*x509.Certificate, *problem) {
	data, pr := readFileProblem("client_cert_file", path, "the certificate", maxCAFile, nil)
	if pr != nil {
		return nil, pr
	}
	for rest := data; ; {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			return nil, credentialf("client_cert_file %s holds no PEM certificate (a block \"-----BEGIN CERTIFICATE-----\"); put the certificate registered with the app there", path)
		}
		if block.Type != "CERTIFICATE" {
			continue
		}
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, credentialf("client_cert_file %s: its first certificate is not a valid X.509 certificate", path)
		}
		return cert, nil
	}
}

func (t Target) loadZoom(getenv func(string) string) (*Credential, error) {
	switch {
	case t.AccountID == "":
		return nil, t.errorf("kind %q needs account_id", KindZoom)
	case t.ClientID == "":
		return nil, t.errorf("kind %q needs client_id", KindZoom)
	case t.TokenURL == "":
		return nil, t.errorf("kind %q needs token_url", KindZoom)
	case (t.ClientSecretEnv == "") == (t.ClientSecretFile == ""):
		return nil, t.errorf("kind %q needs exactly one of client_secret_env and client_secret_file", KindZoom)
	}
	secret, pr := loadSecret(getenv, clientSecret, t.ClientSecretEnv, t.ClientSecretFile)
	if pr != nil {
		return nil, t.problem(pr)
	}
	return &Credential{
		Kind: AuthClientSecret, Account: t.ClientID, TokenURL: t.TokenURL,
		Fingerprint: fingerprint([]byte(secret)), secret: &secretMaterial{token: secret},
	}, nil
}

func (t Target) loadSlack(getenv func(string) string) (*Credential, error) {
	token, pr := loadToken(getenv, t.TokenEnv, t.TokenFile)
	if pr != nil {
		return nil, t.problem(pr)
	}
	if token == "" {
		return nil, t.errorf("kind %q needs token_env or token_file", KindSlack)
	}
	return &Credential{Kind: AuthBearer, Fingerprint: fingerprint([]byte(token)), secret: &secretMaterial{token: token}}, nil
}

func (t Target) loadGitHub(getenv func(string) string) (*Credential, error) {
	switch {
	case t.Org == "":
		return nil, t.errorf("kind %q needs org", KindGitHub)
	case t.LoginAttribute == "":
		return nil, t.errorf("kind %q needs login_attribute", KindGitHub)
	}
	token, pr := loadToken(getenv, t.TokenEnv, t.TokenFile)
	if pr != nil {
		return nil, t.problem(pr)
	}
	if token == "" {
		return nil, t.errorf("kind %q needs token_env or token_file", KindGitHub)
	}
	return &Credential{Kind: AuthBearer, Account: t.Org, Fingerprint: fingerprint([]byte(token)), secret: &secretMaterial{token: token}}, nil
}

func (t Target) loadCAEP(getenv func(string) string) (*Credential, error) {
	if t.JWTKeyFile == "" {
		return nil, t.errorf("kind %q needs jwt_key_file", KindCAEP)
	}
	data, pr := readSecretFile("jwt_key_file", t.JWTKeyFile)
	if pr != nil {
		return nil, t.problem(pr)
	}
	signer, alg, err := ParsePrivateKey(data)
	if err != nil {
		return nil, t.problem(credentialf("jwt_key_file %s: %v", t.JWTKeyFile, err))
	}
	if alg != "RS256" {
		return nil, t.problem(credentialf("jwt_key_file %s holds a P-256 EC key, but kind %q signs with RS256 (the CAEP interoperability profile); use an RSA key of at least 2048 bits", t.JWTKeyFile, KindCAEP))
	}
	fp, err := keyFingerprint(signer)
	if err != nil {
		return nil, t.problem(credentialf("jwt_key_file %s: cannot encode the public key", t.JWTKeyFile))
	}
	kid := t.JWTKeyID
	if kid == "" {
		jwk := jose.JSONWebKey{Key: signer.Public()}
		sum, err := jwk.Thumbprint(crypto.SHA256)
		if err != nil {
			return nil, t.problem(credentialf("jwt_key_file %s: cannot compute the key's thumbprint", t.JWTKeyFile))
		}
		kid = base64.RawURLEncoding.EncodeToString(sum)
	}
	c := &Credential{Kind: AuthJWT, Alg: alg, KeyID: kid, Fingerprint: fp, secret: &secretMaterial{signer: signer}}
	token, pr := loadToken(getenv, t.TokenEnv, t.TokenFile)
	if pr != nil {
		return nil, t.problem(pr)
	}
	if token != "" {
		c.secret.token = token
		c.TokenFingerprint = fingerprint([]byte(token))
	}
	return c, nil
}

// keyFingerprint is the fingerprint of a signing key: of its public key's
// PKIX DER, as for JWT keys.
func keyFingerprint(signer crypto.Signer) (string, error) {
	der, err := x509.MarshalPKIXPublicKey(signer.Public())
	if err != nil {
		return "", err
	}
	return fingerprint(der), nil
}

// describeKind is describe for the kinds other than KindGTR.
func (c Credential) describeKind() string {
	var b strings.Builder
	switch c.TargetKind {
	case KindGoogle:
		fmt.Fprintf(&b, "service account %s, key %s", c.Account, c.Fingerprint)
		if c.TokenURL != "" && c.TokenURL != DefaultGoogleTokenURL {
			fmt.Fprintf(&b, ", token endpoint %s", c.TokenURL)
		}
	case KindMicrosoft:
		fmt.Fprintf(&b, "client %s", c.Account)
		switch c.Kind {
		case AuthClientSecret:
			fmt.Fprintf(&b, ", secret %s", c.Fingerprint)
		case AuthClientCertificate:
			fmt.Fprintf(&b, ", certificate x5t#S256=%s, key %s", c.CertThumbprintS256, c.Fingerprint)
		}
	case KindSlack:
		fmt.Fprintf(&b, "token %s", c.Fingerprint)
	case KindGitHub:
		fmt.Fprintf(&b, "org %s, token %s", c.Account, c.Fingerprint)
	case KindZoom:
		fmt.Fprintf(&b, "client %s, secret %s", c.Account, c.Fingerprint)
		if c.TokenURL != "" && c.TokenURL != DefaultZoomTokenURL {
			fmt.Fprintf(&b, ", token endpoint %s", c.TokenURL)
		}
	case KindCAEP:
		fmt.Fprintf(&b, "SET %s kid=%s, key %s", c.Alg, c.KeyID, c.Fingerprint)
		if c.TokenFingerprint != "" {
			fmt.Fprintf(&b, ", push token %s", c.TokenFingerprint)
		}
	default:
		fmt.Fprintf(&b, "%s %s", c.TargetKind, c.Kind)
	}
	return b.String()
}
