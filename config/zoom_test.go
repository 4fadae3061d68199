package config

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// zoomT is a valid kind "zoom" target, lines 1 to 6.
var zoomT = []string{
	`[[target]]`,
	`name = "zoom"`,
	`kind = "zoom"`,
	`account_id = "Ab1_cD2-eF3gH4"`,
	`client_id = "kZ8xQw1RTuGm3yVb2Lp0"`,
	`client_secret_file = "keys/zoom.secret"`,
}

// TestZoomDecoded: the keys of a kind "zoom" target decode into the fields
// the connector reads, with Zoom's endpoints as defaults.
func TestZoomDecoded(t *testing.T) {
	f, err := Parse([]byte(lines(zoomT...)), "/etc/ulc/targets.toml")
	if err != nil {
		t.Fatal(err)
	}
	want := Target{Name: "zoom", Kind: KindZoom, URL: DefaultZoomURL, Auth: AuthClientSecret,
		AccountID: "Ab1_cD2-eF3gH4", ClientID: "kZ8xQw1RTuGm3yVb2Lp0", ClientSecretFile: "/etc/ulc/keys/zoom.secret",
		TokenURL: DefaultZoomTokenURL, Timeout: 5 * time.Second, MaxRetryWait: 30 * time.Second, Retries: 2, Concurrency: 4,
		Enabled: true, Line: 1, File: "/etc/ulc/targets.toml"}
	if got := f.Targets[0]; !reflect.DeepEqual(got, want) {
		t.Errorf("target =\n%+v\nwant\n%+v", got, want)
	}
	if DefaultZoomURL != "https://api.zoom.us/v2/" || DefaultZoomTokenURL != "https://zoom.us/oauth/token" {
		t.Errorf("defaults %q, %q", DefaultZoomURL, DefaultZoomTokenURL)
	}

	// The sandbox's endpoints: loopback http, the API root gets its slash.
	tg := parse(t, with(zoomT[:5], `client_secret_env = "ZOOM_CLIENT_SECRET"`,
		`url = "http://127.0.0.1:8080/v2"`, `token_url = "http://127.0.0.1:8080/oauth/token"`)).Targets[0]
	if tg.URL != "http://127.0.0.1:8080/v2/" || tg.TokenURL != "http://127.0.0.1:8080/oauth/token" ||
		tg.ClientSecretEnv != "ZOOM_CLIENT_SECRET" || tg.ClientSecretFile != "" {
		t.Errorf("sandbox target = %+v", tg)
	}
}

// TestZoomErrors: each rule of a kind "zoom" target, with the message an
// operator reads.
func TestZoomErrors(t *testing.T) {
	tests := []struct {
		name, src, want string
	}{
		{"no account_id", lines(zoomT[0], zoomT[1], zoomT[2], zoomT[4], zoomT[5]),
			`targets.toml:1: target "zoom": kind "zoom" needs account_id (the Account ID of the Server-to-Server OAuth app, on its App Credentials page in the Zoom App Marketplace)`},
		{"no client_id", lines(zoomT[0], zoomT[1], zoomT[2], zoomT[3], zoomT[5]),
			`targets.toml:1: target "zoom": kind "zoom" needs client_id (the Client ID of the Server-to-Server OAuth app)`},
		{"no secret", lines(zoomT[:5]...),
			`targets.toml:1: target "zoom": kind "zoom" needs client_secret_env or client_secret_file (the Client Secret of the Server-to-Server OAuth app)`},
		{"both secrets", with(zoomT, `client_secret_env = "ZOOM_CLIENT_SECRET"`),
			`targets.toml:6: target "zoom": set client_secret_env or client_secret_file, not both`},
		{"account_id with a space", lines(zoomT[0], zoomT[1], zoomT[2], `account_id = "Ab1 cD2"`, zoomT[4], zoomT[5]),
			`targets.toml:4: target "zoom": account_id must be the Account ID of the Server-to-Server OAuth app (letters, digits, - and _), as its App Credentials page shows it`},
		{"secret pasted into client_secret_env", lines(zoomT[0], zoomT[1], zoomT[2], zoomT[3], zoomT[4], `client_secret_env = "q8Zr-s3cretValue"`),
			`targets.toml:6: target "zoom": client_secret_env must be the name of an environment variable in upper case (A-Z, 0-9, _), such as TODO_UL_TOKEN, never the token itself`},
		{"inline secret", with(zoomT, `client_secret = "q8Zr-s3cretValue"`),
			`targets.toml:7: target "zoom": inline credentials are not accepted; name an environment variable (client_secret_env) or a file (client_secret_file)`},
		{"http token_url to another host", with(zoomT, `token_url = "http://zoom.us/oauth/token"`),
			`targets.toml:7: target "zoom": token_url must use https (plain http is allowed only to loopback addresses)`},
		{"url with a query", with(zoomT, `url = "https://api.zoom.us/v2/?x=1"`),
			`targets.toml:7: target "zoom": url of a kind "zoom" target is the API root, such as https://api.zoom.us/v2/, without a query`},
		{"tenant on a zoom target", with(zoomT, `tenant = "contoso.com"`),
			`targets.toml:7: target "zoom": tenant is a key of kind "microsoft" targets; this target is kind "zoom"`},
		{"token_env on a zoom target", with(zoomT, `token_env = "ZOOM_TOKEN"`),
			`targets.toml:7: target "zoom": token_env is a key of kind "gtr", "slack", "caep" and "github" targets; this target is kind "zoom"`},
		{"account_id on a microsoft target", with(m365T, `account_id = "Ab1"`),
			`targets.toml:7: target "m365": account_id is a key of kind "zoom" targets; this target is kind "microsoft"`},
		{"account_id on a gtr target", with(todo, `account_id = "Ab1"`),
			`targets.toml:5: target "todo": account_id is a key of kind "zoom" targets; this target is kind "gtr"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.src), "targets.toml")
			if err == nil {
				t.Fatal("Parse accepted the file")
			}
			got := err.Error()
			if !strings.Contains(got, tt.want) {
				t.Errorf("\n got: %s\nwant: %s", got, tt.want)
			}
			if strings.Contains(got, "q8Zr-s3cretValue") {
				t.Errorf("the error repeats the secret: %s", got)
			}
		})
	}
}

func zoomTarget(env, file string) Target {
	return Target{Name: "zoom", Kind: KindZoom, Auth: AuthClientSecret, AccountID: "Ab1_cD2-eF3gH4", ClientID: "kZ8xQw1RTuGm3yVb2Lp0",
		ClientSecretEnv: env, ClientSecretFile: file, TokenURL: DefaultZoomTokenURL, URL: DefaultZoomURL, Line: 70, File: "targets.toml"}
}

// TestLoadZoom: the client secret is the credential's Token, the client ID
// its Account; the fingerprint, never the secret, is what prints.
func TestLoadZoom(t *testing.T) {
	const secret = "Zm9vYmFyX3NlY3JldF8xMjM0NTY"
	sum := sha256.Sum256([]byte(secret))
	fp := "sha256:" + hex.EncodeToString(sum[:])[:12]
	dir := t.TempDir()
	for _, tg := range []Target{
		zoomTarget("ZOOM_CLIENT_SECRET", ""),
		zoomTarget("", writeFile(t, dir, "zoom.secret", []byte(secret+"\n"), 0o600)),
	} {
		c, err := tg.LoadCredential(env(map[string]string{"ZOOM_CLIENT_SECRET": secret}))
		if err != nil {
			t.Fatal(err)
		}
		if c.Kind != AuthClientSecret || c.TargetKind != KindZoom || c.Token() != secret || c.Signer() != nil ||
			c.Account != "kZ8xQw1RTuGm3yVb2Lp0" || c.TokenURL != DefaultZoomTokenURL || c.Fingerprint != fp {
			t.Errorf("credential = %s, secret ok = %v", c, c.Token() == secret)
		}
		if got, want := c.String(), "client kZ8xQw1RTuGm3yVb2Lp0, secret "+fp; got != want {
			t.Errorf("String() = %q, want %q", got, want)
		}
		for _, verb := range []string{"%v", "%+v", "%#v", "%s"} {
			if out := fmt.Sprintf(verb, c); strings.Contains(out, secret) {
				t.Errorf("%s prints the secret: %s", verb, out)
			}
		}
	}
	sandbox := zoomTarget("ZOOM_CLIENT_SECRET", "")
	sandbox.TokenURL = "http://127.0.0.1:9/oauth/token"
	if c, err := sandbox.LoadCredential(env(map[string]string{"ZOOM_CLIENT_SECRET": secret})); err != nil ||
		c.String() != "client kZ8xQw1RTuGm3yVb2Lp0, secret "+fp+", token endpoint http://127.0.0.1:9/oauth/token" {
		t.Errorf("sandbox credential = %v, %v", c, err)
	}

	open := writeFile(t, dir, "open.secret", []byte(secret), 0o644)
	missing := filepath.Join(dir, "missing.secret")
	for _, tt := range []struct {
		name   string
		target Target
		want   string
	}{
		{"env not set", zoomTarget("ZOOM_CLIENT_SECRET", ""), "client_secret_env ZOOM_CLIENT_SECRET is not set: set it"},
		{"file readable by others", zoomTarget("", open), "client_secret_file " + open + " is readable by other users (mode 0644); run chmod 600 " + open},
		{"file missing", zoomTarget("", missing), "client_secret_file " + missing + " does not exist: put the client secret there"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tt.target.LoadCredential(env(nil))
			want := `targets.toml:70: target "zoom": ` + tt.want
			if err == nil || err.Error() != want {
				t.Fatalf("\n got: %v\nwant: %s", err, want)
			}
			if strings.Contains(err.Error(), secret) || !errors.Is(err, ErrCredential) {
				t.Errorf("leaks the secret or does not wrap ErrCredential: %v", err)
			}
		})
	}

	// A Target Parse would not produce is refused, not loaded half-way.
	noAccount := zoomTarget("ZOOM_CLIENT_SECRET", "")
	noAccount.AccountID = ""
	if _, err := noAccount.LoadCredential(env(map[string]string{"ZOOM_CLIENT_SECRET": secret})); err == nil || !strings.Contains(err.Error(), "needs account_id") {
		t.Errorf("without account_id: %v", err)
	}
}
