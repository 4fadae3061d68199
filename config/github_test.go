package config

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"
)

// githubT is a valid kind "github" target, lines 1 to 6.
var githubT = []string{
	`[[target]]`,
	`name = "github"`,
	`kind = "github"`,
	`org = "acme-corp"`,
	`login_attribute = "githubUsername"`,
	`token_env = "GITHUB_ORG_TOKEN"`,
}

// TestGitHubDecoded: the keys of a kind "github" target decode into the
// fields the connector reads, with GitHub's API root as the default url.
func TestGitHubDecoded(t *testing.T) {
	f, err := Parse([]byte(lines(githubT...)), "/etc/ulc/targets.toml")
	if err != nil {
		t.Fatal(err)
	}
	want := Target{Name: "github", Kind: KindGitHub, URL: DefaultGitHubURL, Auth: AuthBearer,
		Org: "acme-corp", LoginAttribute: "githubUsername", TokenEnv: "GITHUB_ORG_TOKEN",
		Timeout: 5 * time.Second, MaxRetryWait: 30 * time.Second, Retries: 2, Concurrency: 4,
		Enabled: true, Line: 1, File: "/etc/ulc/targets.toml"}
	if got := f.Targets[0]; !reflect.DeepEqual(got, want) {
		t.Errorf("target =\n%+v\nwant\n%+v", got, want)
	}
	if DefaultGitHubURL != "https://api.github.com/" {
		t.Errorf("default url %q", DefaultGitHubURL)
	}
	// The sandbox's API root: loopback http; it gets its slash.
	tg := parse(t, with(githubT[:5], `token_file = "keys/gh.token"`, `url = "http://127.0.0.1:8080/api/v3"`)).Targets[0]
	if tg.URL != "http://127.0.0.1:8080/api/v3/" || tg.TokenFile != "keys/gh.token" || tg.TokenEnv != "" {
		t.Errorf("sandbox target = %+v", tg)
	}
}

// TestGitHubErrors: each rule of a kind "github" target, with the message
// an operator reads.
func TestGitHubErrors(t *testing.T) {
	tests := []struct {
		name, src, want string
	}{
		{"no org", lines(githubT[0], githubT[1], githubT[2], githubT[4], githubT[5]),
			`targets.toml:1: target "github": kind "github" needs org (the GitHub organization that uses SAML single sign-on, as in github.com/ORG)`},
		{"no login_attribute", lines(githubT[0], githubT[1], githubT[2], githubT[3], githubT[5]),
			`targets.toml:1: target "github": kind "github" needs login_attribute (the Okta profile attribute that holds each user's GitHub login, such as githubUsername)`},
		{"no token", lines(githubT[:5]...),
			`targets.toml:1: target "github": kind "github" needs token_env or token_file (a token of an organization owner with the scope admin:org)`},
		{"both tokens", with(githubT, `token_file = "gh.token"`),
			`targets.toml:7: target "github": set token_env or token_file, not both`},
		{"org as a URL", lines(githubT[0], githubT[1], githubT[2], `org = "https://github.com/acme"`, githubT[4], githubT[5]),
			`targets.toml:4: target "github": org must be a GitHub organization name (letters, digits and hyphens, as in github.com/ORG)`},
		{"attribute as a path", lines(githubT[0], githubT[1], githubT[2], githubT[3], `login_attribute = "profile.githubUsername"`, githubT[5]),
			`targets.toml:5: target "github": login_attribute must be the variable name of an Okta profile attribute, such as githubUsername (Okta Admin Console → Directory → Profile Editor)`},
		{"token pasted into token_env", lines(githubT[0], githubT[1], githubT[2], githubT[3], githubT[4], `token_env = "ghp_q8Zr3cretValue0123"`),
			`targets.toml:6: target "github": token_env must be the name of an environment variable in upper case`},
		{"inline token", with(githubT, `token = "ghp_q8Zr3cretValue0123"`),
			`targets.toml:7: target "github": inline credentials are not accepted; name an environment variable (token_env) or a file (token_file)`},
		{"http url to another host", with(githubT, `url = "http://api.github.com/"`),
			`targets.toml:7: target "github": url must use https (plain http is allowed only to loopback addresses)`},
		{"url with a query", with(githubT, `url = "https://api.github.com/?x=1"`),
			`targets.toml:7: target "github": url of a kind "github" target is the API root, such as https://api.github.com/, without a query`},
		{"admin on a github target", with(githubT, `admin = "a@acme.com"`),
			`targets.toml:7: target "github": admin is a key of kind "google" targets; this target is kind "github"`},
		{"org on a slack target", lines(`[[target]]`, `name = "slack"`, `kind = "slack"`, `token_env = "S"`, `org = "acme"`),
			`targets.toml:5: target "slack": org is a key of kind "github" targets; this target is kind "slack"`},
		{"login_attribute on a gtr target", with(todo, `login_attribute = "githubUsername"`),
			`targets.toml:5: target "todo": login_attribute is a key of kind "github" targets; this target is kind "gtr"`},
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
			if strings.Contains(got, "q8Zr3cretValue") {
				t.Errorf("the error repeats the secret: %s", got)
			}
		})
	}
}

// TestLoadGitHub: the token is the credential's Token, the organization
// its Account; the fingerprint, never the token, is what prints.
func TestLoadGitHub(t *testing.T) {
	const token = "ghp_16C7e42F292c6912E7710c838347Ae178B4a"
	sum := sha256.Sum256([]byte(token))
	fp := "sha256:" + hex.EncodeToString(sum[:])[:12]
	dir := t.TempDir()
	base := Target{Name: "github", Kind: KindGitHub, Auth: AuthBearer, Org: "acme-corp", LoginAttribute: "githubUsername",
		URL: DefaultGitHubURL, Line: 70, File: "targets.toml"}
	byEnv, byFile := base, base
	byEnv.TokenEnv = "GITHUB_ORG_TOKEN"
	byFile.TokenFile = writeFile(t, dir, "gh.token", []byte(token+"\n"), 0o600)
	for _, tg := range []Target{byEnv, byFile} {
		c, err := tg.LoadCredential(env(map[string]string{"GITHUB_ORG_TOKEN": token}))
		if err != nil {
			t.Fatal(err)
		}
		if c.Kind != AuthBearer || c.TargetKind != KindGitHub || c.Token() != token || c.Account != "acme-corp" || c.Fingerprint != fp {
			t.Errorf("credential = %s, token ok = %v", c, c.Token() == token)
		}
		if got, want := c.String(), "org acme-corp, token "+fp; got != want {
			t.Errorf("String() = %q, want %q", got, want)
		}
		for _, verb := range []string{"%v", "%+v", "%#v", "%s"} {
			if out := fmt.Sprintf(verb, c); strings.Contains(out, token) {
				t.Errorf("%s prints the token: %s", verb, out)
			}
		}
	}
	_, err := byEnv.LoadCredential(env(nil))
	if want := `targets.toml:70: target "github": token_env GITHUB_ORG_TOKEN is not set: set it`; err == nil || err.Error() != want || !errors.Is(err, ErrCredential) {
		t.Errorf("\n got: %v\nwant: %s (wrapping ErrCredential)", err, want)
	}
	// A Target Parse would not produce is refused, not loaded half-way.
	noOrg := byEnv
	noOrg.Org = ""
	if _, err := noOrg.LoadCredential(env(map[string]string{"GITHUB_ORG_TOKEN": token})); err == nil || !strings.Contains(err.Error(), "needs org") {
		t.Errorf("without org: %v", err)
	}
}
