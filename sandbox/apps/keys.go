package apps

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// writeKeys generates the JWT signing keys the specs need, one per
// algorithm, and writes them to dir with mode 0600: RSA 2048 as PKCS#8
// ("PRIVATE KEY") and P-256 as SEC 1 ("EC PRIVATE KEY"), the two encodings
// ulc must read. It returns the public halves by algorithm.
func writeKeys(dir string, specs []Spec) (map[string]*signingKey, error) {
	keys := map[string]*signingKey{}
	for _, s := range specs {
		if s.Auth != AuthJWT {
			continue
		}
		alg := s.Alg
		if alg == "" {
			alg = "RS256"
		}
		if keys[alg] != nil {
			continue
		}
		var (
			block *pem.Block
			k     = &signingKey{
				file:  "ulc-signing-" + strings.ToLower(alg) + ".pem",
				keyID: "ulc-sandbox-" + strings.ToLower(alg),
			}
		)
		switch alg {
		case "RS256":
			priv, err := rsa.GenerateKey(rand.Reader, 2048)
			if err != nil {
				return nil, fmt.Errorf("apps: generating the RSA key: %w", err)
			}
			der, err := x509.MarshalPKCS8PrivateKey(priv)
			if err != nil {
				return nil, fmt.Errorf("apps: encoding the RSA key: %w", err)
			}
			block, k.pub = &pem.Block{Type: "PRIVATE KEY", Bytes: der}, &priv.PublicKey
		case "ES256":
			priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
			if err != nil {
				return nil, fmt.Errorf("apps: generating the P-256 key: %w", err)
			}
			der, err := x509.MarshalECPrivateKey(priv)
			if err != nil {
				return nil, fmt.Errorf("apps: encoding the P-256 key: %w", err)
			}
			block, k.pub = &pem.Block{Type: "EC PRIVATE KEY", Bytes: der}, &priv.PublicKey
		}
		if err := writeSecret(filepath.Join(dir, k.file), pem.EncodeToMemory(block)); err != nil {
			return nil, err
		}
		keys[alg] = k
	}
	return keys, nil
}

// writeSecret writes a token or key file that only its owner can read. It
// writes a fresh 0600 file and renames it into place, so the secret never
// sits in a file with a looser mode, even when one of that name exists.
func writeSecret(path string, data []byte) (err error) {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".tmp-"+filepath.Base(path)+"-*")
	if err != nil {
		return fmt.Errorf("apps: writing %s: %w", path, err)
	}
	// A failed write leaves no temporary copy of the secret behind, and
	// says so when it cannot remove one.
	defer func() {
		if err == nil {
			return
		}
		if rerr := os.Remove(tmp.Name()); rerr != nil && !errors.Is(rerr, fs.ErrNotExist) {
			err = errors.Join(err, fmt.Errorf("apps: removing %s: %w", tmp.Name(), rerr))
		}
	}()
	if err := tmp.Chmod(0o600); err != nil {
		_ = tmp.Close()
		return fmt.Errorf("apps: protecting %s: %w", path, err)
	}
	if _, err := tmp.Write(data); err != nil {
		_ = tmp.Close()
		return fmt.Errorf("apps: writing %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("apps: writing %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("apps: writing %s: %w", path, err)
	}
	return nil
}

// randomToken returns a fresh bearer token: 32 random bytes, base64url.
func randomToken() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("apps: generating a token: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}
