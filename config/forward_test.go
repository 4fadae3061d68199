package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestParseForward decodes each kind of destination with its defaults.
func TestParseForward(t *testing.T) {
	f := parse(t, with(todo,
		`[[forward]]`, // line 5
		`name = "siem"`,
		`format = "rfc5424"`,
		`url = "tcp+tls://siem.example.com:6514"`,
		`ca_file = "keys/siem-ca.pem"`,
		`[[forward]]`, // line 10
		`name = "splunk"`,
		`format = "hec"`,
		`url = "https://splunk.example.com:8088"`,
		`token_env = "SPLUNK_HEC_TOKEN"`,
		`[[forward]]`, // line 15
		`name = "relay"`,
		`format = "ocsf"`,
		`url = "udp://127.0.0.1:514"`,
	))
	if len(f.Forwards) != 3 {
		t.Fatalf("got %d destinations, want 3", len(f.Forwards))
	}
	siem, splunk, relay := f.Forwards[0], f.Forwards[1], f.Forwards[2]
	if siem.Name != "siem" || siem.Format != FormatRFC5424 || siem.Scheme != SchemeTLS || siem.Host != "siem.example.com:6514" || siem.Line != 5 {
		t.Errorf("siem = %+v", siem)
	}
	if siem.CAFile != filepath.Join(".", "keys/siem-ca.pem") {
		t.Errorf("ca_file resolved to %q", siem.CAFile)
	}
	if splunk.URL != "https://splunk.example.com:8088/services/collector/event" || splunk.TokenEnv != "SPLUNK_HEC_TOKEN" {
		t.Errorf("splunk = %+v (the collector's path is the default)", splunk)
	}
	if relay.Scheme != SchemeUDP || relay.Format != FormatOCSF || relay.Line != 15 {
		t.Errorf("relay = %+v", relay)
	}
	if got, ok := f.Forward("splunk"); !ok || got.Name != "splunk" {
		t.Errorf(`Forward("splunk") = %+v, %v`, got, ok)
	}
	if _, ok := f.Forward("nope"); ok {
		t.Error(`Forward("nope") found a destination`)
	}
}

// TestParseForwardErrors checks the message of each rule, with its line.
func TestParseForwardErrors(t *testing.T) {
	fw := func(more ...string) string {
		return with(todo, append([]string{`[[forward]]`, `name = "siem"`}, more...)...)
	}
	tests := []struct {
		name, src, want string
	}{
		{"unknown key", fw(`format = "cef"`, `url = "tcp+tls://s.example.com:6514"`, `fromat = "x"`),
			`targets.toml:9: forward "siem": unknown key "fromat"; did you mean "format"?`},
		{"inline token", fw(`format = "hec"`, `url = "https://s.example.com"`, `token = "abc"`),
			`targets.toml:9: forward "siem": inline credentials are not accepted; name an environment variable (token_env) or a file (token_file)`},
		{"no format", fw(`url = "tcp+tls://s.example.com:6514"`),
			`targets.toml:5: forward "siem": format is required: "rfc5424", "cef", "ocsf" or "hec"`},
		{"bad format", fw(`format = "leef"`, `url = "tcp+tls://s.example.com:6514"`),
			`targets.toml:7: forward "siem": format must be "rfc5424", "cef", "ocsf" or "hec", not "leef"`},
		{"no url", fw(`format = "cef"`),
			`targets.toml:5: forward "siem": url is required, such as url = "tcp+tls://siem.example.com:6514"`},
		{"plain tcp to a remote host", fw(`format = "cef"`, `url = "tcp://siem.example.com:514"`),
			`targets.toml:8: forward "siem": url must use tcp+tls:// (tcp:// and udp:// are allowed only to loopback addresses, such as a local relay)`},
		{"udp to a remote host", fw(`format = "rfc5424"`, `url = "udp://10.0.0.1:514"`),
			`targets.toml:8: forward "siem": url must use tcp+tls:// (tcp:// and udp:// are allowed only to loopback addresses, such as a local relay)`},
		{"no port", fw(`format = "rfc5424"`, `url = "tcp+tls://siem.example.com"`),
			`targets.toml:8: forward "siem": url must name the port, such as tcp+tls://siem.example.com:6514`},
		{"path on syslog", fw(`format = "rfc5424"`, `url = "tcp+tls://siem.example.com:6514/x"`),
			`targets.toml:8: forward "siem": url of a syslog destination is host:port, without a path or query`},
		{"hec over http", fw(`format = "hec"`, `url = "http://splunk.example.com:8088"`, `token_env = "T"`),
			`targets.toml:8: forward "siem": url of a format = "hec" destination must use https (plain http only to loopback addresses)`},
		{"syslog format over https", fw(`format = "ocsf"`, `url = "https://s.example.com"`),
			`targets.toml:8: forward "siem": url https:// is for format = "hec"; syslog formats use tcp+tls://host:port`},
		{"hec without token", fw(`format = "hec"`, `url = "https://s.example.com"`),
			`targets.toml:7: forward "siem": format = "hec" needs the collector's token: name it with token_env or token_file`},
		{"token on syslog", fw(`format = "cef"`, `url = "tcp+tls://s.example.com:6514"`, `token_env = "T"`),
			`targets.toml:9: forward "siem": token_env applies only to format = "hec" (syslog destinations authenticate with TLS)`},
		{"both tokens", fw(`format = "hec"`, `url = "https://s.example.com"`, `token_env = "T"`, `token_file = "t"`),
			`targets.toml:10: forward "siem": set token_env or token_file, not both`},
		{"ca_file on plain tcp", fw(`format = "cef"`, `url = "tcp://127.0.0.1:514"`, `ca_file = "ca.pem"`),
			`targets.toml:9: forward "siem": ca_file applies only to tcp+tls:// and https:// destinations`},
		{"token in token_env", fw(`format = "hec"`, `url = "https://s.example.com"`, `token_env = "abc-123-secret"`),
			`targets.toml:9: forward "siem": token_env must be the name of an environment variable in upper case (A-Z, 0-9, _), such as TODO_UL_TOKEN, never the token itself`},
		{"password in url", fw(`format = "cef"`, `url = "tcp+tls://u:hunter2@s.example.com:6514"`),
			`targets.toml:8: forward "siem": url must not contain a user name or password; name the token with token_env or token_file`},
		{"single brackets", lines(`[forward]`, `name = "x"`),
			`targets.toml:1: write each destination as [[forward]], with double brackets`},
		{"duplicate name", with(todo,
			`[[forward]]`, `name = "siem"`, `format = "cef"`, `url = "tcp://127.0.0.1:514"`,
			`[[forward]]`, `name = "siem"`, `format = "cef"`, `url = "tcp://127.0.0.1:515"`),
			`targets.toml:10: forward "siem": duplicate name: the destination at line 5 already uses it`},
		{"no name", with(todo, `[[forward]]`, `format = "cef"`, `url = "tcp://127.0.0.1:514"`),
			`targets.toml:5: forward #1: name is required, such as name = "siem"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.src), "targets.toml")
			if err == nil {
				t.Fatalf("Parse accepted:\n%s", tt.src)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error:\n%v\nwant a line:\n%s", err, tt.want)
			}
			for _, secret := range []string{"hunter2", "abc-123-secret", `"abc"`} {
				if strings.Contains(err.Error(), secret) {
					t.Errorf("error shows %s: %v", secret, err)
				}
			}
		})
	}
}

// TestForwardLoadToken reads the HEC token from the environment or a
// private file, and never puts it in an error.
func TestForwardLoadToken(t *testing.T) {
	dir := t.TempDir()
	tokenPath := filepath.Join(dir, "hec.token")
	if err := os.WriteFile(tokenPath, []byte("file-token-0123\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	f := parse(t, with(todo,
		`[[forward]]`, `name = "a"`, `format = "hec"`, `url = "https://s.example.com"`, `token_env = "HEC_TOKEN"`,
		`[[forward]]`, `name = "b"`, `format = "hec"`, `url = "https://s.example.com"`, `token_file = "`+tokenPath+`"`,
	))
	env := map[string]string{"HEC_TOKEN": "env-token-0123"}
	got, err := f.Forwards[0].LoadToken(func(k string) string { return env[k] })
	if err != nil || got != "env-token-0123" {
		t.Errorf("token_env: %q, %v", got, err)
	}
	got, err = f.Forwards[1].LoadToken(func(string) string { return "" })
	if err != nil || got != "file-token-0123" {
		t.Errorf("token_file: %q, %v", got, err)
	}
	_, err = f.Forwards[0].LoadToken(func(string) string { return "" })
	if !errors.Is(err, ErrCredential) || !strings.Contains(err.Error(), `forward "a": token_env HEC_TOKEN is not set`) {
		t.Errorf("unset variable: %v", err)
	}
	if err := os.Chmod(tokenPath, 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = f.Forwards[1].LoadToken(nil)
	if !errors.Is(err, ErrCredential) || strings.Contains(err.Error(), "file-token") {
		t.Errorf("file open to others: %v", err)
	}
}
