package apps

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"ulc/config"
)

// TestConfigUsableAsIs: the written targets.toml loads strictly, names every
// app with its settings, and every credential loads, so ulc can run with it.
func TestConfigUsableAsIs(t *testing.T) {
	h := start(t, nil)
	if h.cfg.Defaults.Timeout.String() != "3s" || h.cfg.Defaults.Retries != 2 {
		t.Errorf("defaults: %+v", h.cfg.Defaults)
	}
	if len(h.cfg.Targets) != len(h.fleet.Apps) {
		t.Fatalf("%d targets for %d apps", len(h.cfg.Targets), len(h.fleet.Apps))
	}
	if err := h.cfg.IssuerFallback(""); err != nil {
		t.Errorf("iss_sub targets lack an issuer: %v", err)
	}
	for i, tg := range h.cfg.Targets {
		a := h.fleet.Apps[i]
		s := a.Spec()
		if tg.Name != a.Name() || tg.URL != a.URL() || tg.Subject != s.Subject || tg.Auth != s.Auth || !tg.Enabled {
			t.Errorf("target %+v does not match app %s", tg, a.Name())
		}
		if wantKey := map[bool]string{true: "subject", false: "sub_id"}[s.Behaviour == Legacy]; tg.BodyKey != wantKey {
			t.Errorf("%s: body_key %s, want %s", tg.Name, tg.BodyKey, wantKey)
		}
		if s.Subject == SubjectIssSub && tg.SubjectIss != testIssuer {
			t.Errorf("%s: subject_iss %q", tg.Name, tg.SubjectIss)
		}
		cred, err := tg.LoadCredential(nil)
		if err != nil {
			t.Errorf("%s: LoadCredential: %v", tg.Name, err)
			continue
		}
		file := tg.TokenFile
		if s.Auth == AuthJWT {
			file = tg.JWTKeyFile
			if cred.Alg != s.Alg || tg.JWTIss != JWTIssuer || tg.JWTSub != s.Name+"-client" || tg.JWTKeyID == "" {
				t.Errorf("%s: jwt settings %+v, credential %v", tg.Name, tg, cred)
			}
		}
		if filepath.Dir(file) != h.fleet.Dir {
			t.Errorf("%s: credential file %s outside %s", tg.Name, file, h.fleet.Dir)
		}
		if info, err := os.Stat(file); err != nil || info.Mode().Perm() != 0o600 {
			t.Errorf("%s: %s mode %v (%v), want 0600", tg.Name, file, info.Mode().Perm(), err)
		}
	}

	// The key encodings ulc must read: RSA in PKCS#8, P-256 in SEC 1.
	for file, header := range map[string]string{"ulc-signing-rs256.pem": "-----BEGIN PRIVATE KEY-----", "ulc-signing-es256.pem": "-----BEGIN EC PRIVATE KEY-----"} {
		b, err := os.ReadFile(filepath.Join(h.fleet.Dir, file))
		if err != nil || !strings.HasPrefix(string(b), header) {
			t.Errorf("%s: %v, want a %s block", file, err, header)
		}
	}

	// Each target has a comment saying what the app does.
	raw, err := os.ReadFile(h.fleet.ConfigPath)
	if err != nil {
		t.Fatal(err)
	}
	text := string(raw)
	for _, want := range []string{"# slow: answers after about 2 s", "# flaky: answers 503 twice", "# down: nothing listens", `# legacy: reads only the pre -03 body key "subject"`, "# ok200: answers 200", OktaMarker} {
		if !strings.Contains(text, want) {
			t.Errorf("targets.toml lacks %q", want)
		}
	}
	if strings.Count(text, "\n# ") < len(h.fleet.Apps) {
		t.Errorf("fewer comment lines than targets:\n%s", text)
	}
}

// TestWriteConfigWithOkta: the Okta fake's snippet lands before the targets
// and the file still loads strictly.
func TestWriteConfigWithOkta(t *testing.T) {
	f, err := Start(Options{Dir: t.TempDir(), Users: testUsers, Issuer: "http://127.0.0.1:1234", Specs: []Spec{
		{Name: "chat", Subject: SubjectEmail, Auth: AuthBearer},
		{Name: "payroll", Subject: SubjectIssSub, Auth: AuthBearer},
	}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := f.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	okta := "[okta]\norg_url = \"http://127.0.0.1:1234\"\ntoken_file = \"okta.token\"\n"
	if err := WriteConfig(f, okta); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(f.ConfigPath)
	if err != nil {
		t.Fatalf("config.Load: %v", err)
	}
	if cfg.Okta.OrgURL != "http://127.0.0.1:1234" || cfg.Okta.TokenFile != filepath.Join(f.Dir, "okta.token") {
		t.Errorf("okta: %+v", cfg.Okta)
	}
	if len(cfg.Targets) != 2 || cfg.Targets[1].SubjectIss != "http://127.0.0.1:1234" {
		t.Errorf("targets: %+v", cfg.Targets)
	}
	raw, _ := os.ReadFile(f.ConfigPath)
	if i, j := strings.Index(string(raw), "[okta]"), strings.Index(string(raw), "[[target]]"); i < 0 || i > j {
		t.Errorf("[okta] is not before the targets:\n%s", raw)
	}
	// Writing again without it drops it.
	if err := WriteConfig(f, ""); err != nil {
		t.Fatal(err)
	}
	if cfg, err := config.Load(f.ConfigPath); err != nil || cfg.Okta.Line != 0 {
		t.Errorf("without okta: %v %+v", err, cfg)
	}
}
