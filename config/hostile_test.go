package config

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestPorts: every URL the file accepts has a port from 1 to 65535, or
// none; the error names the target and the line, like the other URL rules.
func TestPorts(t *testing.T) {
	for _, u := range []string{
		"https://a.example.com:1/gtr",
		"https://a.example.com:443/gtr",
		"http://127.0.0.1:65535/gtr",
		"http://[::1]:8443/gtr",
		"http://[::1]/gtr",
	} {
		f := parse(t, lines(`[[target]]`, `name = "a"`, `url = "`+u+`"`, `auth = "none"`))
		if got := f.Targets[0].URL; got != u {
			t.Errorf("URL = %q, want %q", got, u)
		}
	}
	tests := []struct{ url, want string }{
		{"http://127.0.0.1:99999/x", `targets.toml:3: target "a": url has port 99999; a port is a number from 1 to 65535`},
		{"https://a.example.com:0/x", `targets.toml:3: target "a": url has port 0; a port is a number from 1 to 65535`},
		{"https://a.example.com:65536/x", `targets.toml:3: target "a": url has port 65536; a port is a number from 1 to 65535`},
		{"https://a.example.com:99999999999999999999999/x", `targets.toml:3: target "a": url has port 999999999999…; a port is a number from 1 to 65535`},
		{"https://a.example.com:/x", `targets.toml:3: target "a": url has a ':' after the host but no port; write the port, or leave the ':' out`},
		{"http://[::1]:/x", `targets.toml:3: target "a": url has a ':' after the host but no port; write the port, or leave the ':' out`},
		{"http://[::1]:70000/x", `targets.toml:3: target "a": url has port 70000; a port is a number from 1 to 65535`},
		{"https://a.example.com:80a/x", `targets.toml:3: target "a": url has a port that is not a number; a port is a number from 1 to 65535`},
		{"https://a.example.com:-1/x", `targets.toml:3: target "a": url has a port that is not a number; a port is a number from 1 to 65535`},
	}
	for _, tt := range tests {
		_, err := Parse([]byte(lines(`[[target]]`, `name = "a"`, `url = "`+tt.url+`"`, `auth = "none"`)), "targets.toml")
		if err == nil || err.Error() != tt.want {
			t.Errorf("%s:\n got: %v\nwant: %s", tt.url, err, tt.want)
		}
	}
	_, err := Parse([]byte(lines(`[okta]`, `org_url = "https://acme.okta.com:123456"`)), "targets.toml")
	if want := `targets.toml:2: [okta]: org_url has port 123456; a port is a number from 1 to 65535`; err == nil || err.Error() != want {
		t.Errorf("org_url:\n got: %v\nwant: %s", err, want)
	}
}

// deepInline is a targets file whose one value is n inline tables deep.
func deepInline(n int) string {
	return "x = " + strings.Repeat("{a = ", n) + "1" + strings.Repeat("}", n) + "\n"
}

// TestNestingRefusedBeforeDecoding: a file nested thousands deep, which
// the TOML decoder needs minutes and gigabytes for, is refused with the line
// where it goes too deep; ordinary files, including ulc's deepest legal
// shape, still parse.
func TestNestingRefusedBeforeDecoding(t *testing.T) {
	const msg = "tables, arrays and dotted keys are nested more than 16 deep; a targets file needs at most 4"
	tests := []struct{ name, src, want string }{
		{"10,000 inline tables", lines(todo...) + deepInline(10000), "targets.toml:5: " + msg},
		{"10,000 arrays", lines(todo...) + "tags = " + strings.Repeat("[", 10000) + strings.Repeat("]", 10000) + "\n", "targets.toml:5: " + msg},
		{"a dotted key of 10,000 parts", lines(`[defaults]`, `timeout = "5s"`, strings.Repeat("a.", 10000)+"b = 1"), "targets.toml:3: " + msg},
		{"a header of 10,000 parts", lines(`# a comment`, "["+strings.Repeat("a.", 10000)+"b]"), "targets.toml:2: " + msg},
		{"arrays over several lines", lines(`x = [`, strings.Repeat("[\n", 20), "1", strings.Repeat("]\n", 20), `]`), "targets.toml:16: " + msg},
		{"tables and arrays mixed", "x = " + strings.Repeat("[{a.b = ", 9) + "1" + strings.Repeat("}]", 9) + "\n", "targets.toml:1: " + msg},
		// A multi-line string whose content ends in quotes does not hide
		// what follows it from the scan.
		{"after a string ending in quotes", `x = ["""a"""", ` + strings.Repeat("[", 50) + strings.Repeat("]", 50) + "]\n", "targets.toml:1: " + msg},
		{"after a literal ending in quotes", `x = ['''a'''', ` + strings.Repeat("[", 50) + strings.Repeat("]", 50) + "]\n", "targets.toml:1: " + msg},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.src), "targets.toml")
			if err == nil || err.Error() != tt.want {
				t.Errorf("\n got: %v\nwant: %s", err, tt.want)
			}
		})
	}

	// Brackets inside strings and comments are not nesting.
	quiet := strings.Repeat("[{", 100)
	_, err := Parse([]byte(with(todo, `# `+quiet, `tags = ["`+quiet+`", '`+quiet+`', """`, quiet, `"""]`)), "targets.toml")
	if want := `targets.toml:6: target "todo": tags must be 1 to 64 letters, digits, '.', '_' or '-'`; err == nil || err.Error() != want {
		t.Errorf("brackets in strings and comments:\n got: %v\nwant: %s", err, want)
	}
	f := parse(t, with(todo, `subject = "iss_sub"`, `subject_iss = '''`+quiet+`''' # `+quiet))
	if f.Targets[0].SubjectIss != quiet {
		t.Errorf("subject_iss = %q", f.Targets[0].SubjectIss)
	}
	// ulc's deepest shape: an inline array of targets with tags.
	f = parse(t, lines(`target = [{name = "a", url = "https://a.example.com/", auth = "none", tags = ["x", "y"]},`,
		`  {name = "b", url = "https://b.example.com/", auth = "none"}]`))
	if len(f.Targets) != 2 || len(f.Targets[0].Tags) != 2 {
		t.Errorf("targets = %+v", f.Targets)
	}
	// Sixteen levels are allowed (the decoder then reports the unknown key).
	_, err = Parse([]byte(deepInline(15)), "targets.toml")
	if err == nil || err.Error() != `targets.toml:1: unknown key "x"` {
		t.Errorf("15 inline tables: %v", err)
	}
}

// TestSizeCapped: a targets file over 1 MiB is refused, by Parse and Load.
func TestSizeCapped(t *testing.T) {
	const want = "targets.toml: the file is larger than 1 MiB, the most a targets file may be (a registry of thousands of targets needs far less)"
	big := []byte(lines(todo...) + "# " + strings.Repeat("x", 1<<20) + "\n")
	if _, err := Parse(big, "targets.toml"); err == nil || err.Error() != want {
		t.Errorf("Parse:\n got: %v\nwant: %s", err, want)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "targets.toml"), big, 0o600); err != nil {
		t.Fatal(err)
	}
	t.Chdir(dir)
	if _, err := Load("targets.toml"); err == nil || err.Error() != want {
		t.Errorf("Load:\n got: %v\nwant: %s", err, want)
	}
}

// TestCancelledContext: a start-up the operator has cancelled returns the
// context's error, without loading anything.
func TestCancelledContext(t *testing.T) {
	dir := t.TempDir()
	conf := writeFile(t, dir, "targets.toml", []byte(lines(todo...)), 0o600)
	token := writeFile(t, dir, "a.token", []byte("tok_abc123"), 0o600)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()

	if f, err := LoadContext(ctx, conf); f != nil || !errors.Is(err, context.Canceled) || err.Error() != conf+": reading the targets file was interrupted: context canceled" {
		t.Errorf("LoadContext = %v, %v", f, err)
	}
	c, err := bearerTarget("", token).LoadCredentialContext(ctx, nil)
	if c != nil || !errors.Is(err, context.Canceled) || errors.Is(err, ErrCredential) ||
		err.Error() != `targets.toml:14: target "todo": loading the credential was interrupted: context canceled` {
		t.Errorf("LoadCredentialContext = %v, %v", c, err)
	}
	if _, err := (Okta{TokenFile: token, Line: 2, File: "targets.toml"}).LoadTokenContext(ctx, nil); !errors.Is(err, context.Canceled) {
		t.Errorf("LoadTokenContext: %v", err)
	}

	// And with a live context the same calls work.
	if _, err := LoadContext(context.Background(), conf); err != nil {
		t.Errorf("LoadContext: %v", err)
	}
	if c, err := bearerTarget("", token).LoadCredentialContext(context.Background(), nil); err != nil || c.Token() != "tok_abc123" {
		t.Errorf("LoadCredentialContext = %v, %v", c, err)
	}
}

// TestLoadCA reads a ca_file's PEM bytes through the same checks.
func TestLoadCA(t *testing.T) {
	dir := t.TempDir()
	pem := []byte("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n")
	ca := writeFile(t, dir, "ca.pem", pem, 0o644)
	got, err := Target{Name: "a", CAFile: ca}.LoadCA(context.Background())
	if err != nil || string(got) != string(pem) {
		t.Errorf("LoadCA = %q, %v", got, err)
	}
	if got, err := (Target{Name: "a"}).LoadCA(context.Background()); got != nil || err != nil {
		t.Errorf("LoadCA without ca_file = %q, %v", got, err)
	}
	missing := filepath.Join(dir, "missing.pem")
	_, err = Target{Name: "a", CAFile: missing, Line: 3, File: "targets.toml"}.LoadCA(context.Background())
	if want := `targets.toml:3: target "a": ca_file ` + missing + ` does not exist: put the CA certificates there`; err == nil || err.Error() != want || !errors.Is(err, ErrCredential) {
		t.Errorf("\n got: %v\nwant: %s", err, want)
	}
}

// BenchmarkDeepFile is what a hostile 10,000-deep file costs now that it is
// refused before decoding (before, 30-40 s and 5 GB).
func BenchmarkDeepFile(b *testing.B) {
	src := []byte(lines(todo...) + deepInline(10000))
	b.SetBytes(int64(len(src)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse(src, "targets.toml"); err == nil {
			b.Fatal("accepted")
		}
	}
}

// BenchmarkLargeRegistry parses a registry of 5,000 targets (about 550 KB).
func BenchmarkLargeRegistry(b *testing.B) {
	var sb strings.Builder
	sb.WriteString("[defaults]\ntimeout = \"5s\"\n")
	for i := range 5000 {
		sb.WriteString("[[target]]\nname = \"app-")
		sb.WriteString(strconv.Itoa(i))
		sb.WriteString("\"\nurl = \"https://app.example.com/gtr\"\ntoken_env = \"APP_UL_TOKEN\"\ntags = [\"hr\"]\n")
	}
	src := []byte(sb.String())
	b.SetBytes(int64(len(src)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse(src, "targets.toml"); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkLargestFiles parses the costliest files the caps still let
// through: 1 MiB of values nested 15 deep, of 15-part dotted keys, of one
// wide array, and of targets, valid or each with a mistake. It reports the
// bytes allocated per parse next to the time.
func BenchmarkLargestFiles(b *testing.B) {
	fill := func(unit func(i int) string) []byte {
		var sb strings.Builder
		for i := 0; sb.Len() < maxTargetsFile-200; i++ {
			sb.WriteString(unit(i))
		}
		return []byte(sb.String())
	}
	cases := []struct {
		name string
		data []byte
	}{
		{"inline-tables-15-deep", fill(func(i int) string {
			return "x" + strconv.Itoa(i) + " = " + strings.Repeat("{a = ", 14) + "1" + strings.Repeat("}", 14) + "\n"
		})},
		{"arrays-15-deep", fill(func(i int) string {
			return "x" + strconv.Itoa(i) + " = " + strings.Repeat("[", 14) + "1" + strings.Repeat("]", 14) + "\n"
		})},
		{"dotted-keys-15-parts", fill(func(i int) string { return strings.Repeat("a.", 14) + "x" + strconv.Itoa(i) + " = 1\n" })},
		{"one-wide-array", []byte("x = [" + strings.Repeat("{a = 1},", maxTargetsFile/8-10) + "]\n")},
		{"valid-targets", fill(func(i int) string {
			return "[[target]]\nname = \"app-" + strconv.Itoa(i) + "\"\nurl = \"https://app.example.com/gtr\"\ntoken_env = \"APP_UL_TOKEN\"\n"
		})},
		{"targets-each-with-a-mistake", fill(func(i int) string {
			return "[[target]]\nnme = \"app-" + strconv.Itoa(i) + "\"\n"
		})},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			b.SetBytes(int64(len(c.data)))
			b.ReportAllocs()
			for b.Loop() {
				_, _ = Parse(c.data, "targets.toml")
			}
		})
	}
}
