package config

import (
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/BurntSushi/toml"
)

// credentialLine finds a value written for a credential key, quoted or bare.
var credentialLine = regexp.MustCompile(`(?m)^[ \t]*(?:token|bearer|password|secret|client_secret|private_key|api_key|key)[ \t]*=[ \t]*(?:"([^"\\\r\n]*)"|'([^'\r\n]*)'|([^\s#"'\[{]+))`)

// secretsIn returns the values written for credential keys that a leak check
// can rely on: at least 8 characters with a digit (no fixed message text has
// such a word), and written only once in data (so an echo can come only from
// that line).
func secretsIn(data string) []string {
	var out []string
	for _, m := range credentialLine.FindAllStringSubmatch(data, -1) {
		v := m[1] + m[2] + m[3]
		if len(v) >= 8 && strings.ContainsAny(v, "0123456789") && strings.Count(data, v) == 1 {
			out = append(out, v)
		}
	}
	return out
}

// FuzzParse: Parse never panics, whatever it is given; what it accepts obeys
// the rules; and no error ever repeats a value given for a token key.
func FuzzParse(f *testing.F) {
	f.Add(lines(todo...))
	f.Add(with(todo, `token = "tok3nValue123"`))
	f.Add(lines(`[[target]]`, `name = "x"`, `token = tok3nBare99`))
	f.Add(lines(`[[target]]`, `name = "x"`, `token = 0123456789`))
	f.Add(lines(`[[target]]`, `name = "x"`, `token = 123456789012345678901234`))
	f.Add(lines(`[[target]]`, `name = "x"`, `password = 2026-13-45T10:00:00Z`))
	f.Add(lines(`[okta]`, `org_url = "https://acme.okta.com/"`, `api_key = "abc123def456"`))
	f.Add(lines(`[defaults]`, `timeout = "5s"`, `retries = 2`, `jwt_iss = "https://acme.okta.com"`, `jwt_key_file = "k.pem"`,
		`[[target]]`, `name = "l"`, `url = "http://127.0.0.1:8080/gtr"`, `jwt_sub = "c"`, `subject = "iss_sub"`, `subject_iss = "i"`))
	f.Add(lines(`[[target]]`, `name = "a"`, `url = "https://u:p4ssw0rd9@a.example.com/"`, `token_file = "a"`, `[target.x]`, `y = 1`))
	f.Add("target = [{name = 'a', url = 'https://a.example.com/', auth = 'none'}]\n")
	f.Add("\ufeff[[target]]\r\nname = \"\"\"a\r\n[[target]]\"\"\"\r\n")

	f.Fuzz(func(t *testing.T, data string) {
		file, err := Parse([]byte(data), "targets.toml")
		if err != nil {
			if strings.Contains(data, `"""`) || strings.Contains(data, `'''`) {
				return // a "token = ..." line may be text inside a string
			}
			for _, s := range secretsIn(data) {
				if strings.Contains(err.Error(), s) {
					t.Fatalf("error repeats the token %q:\n%v", s, err)
				}
			}
			return
		}
		seen := map[string]bool{}
		for _, tg := range file.Targets {
			if !nameRE.MatchString(tg.Name) || seen[tg.Name] {
				t.Fatalf("accepted a bad or duplicate name %q", tg.Name)
			}
			seen[tg.Name] = true
			u, err := url.Parse(tg.URL)
			if err != nil || u.User != nil || (u.Scheme != "https" && (u.Scheme != "http" || !isLoopback(u.Hostname()))) {
				t.Fatalf("accepted URL %q", tg.URL)
			}
			if tg.EffectiveKind() != KindGTR {
				continue // the other kinds' rules are FuzzParseKinds'
			}
			switch tg.Auth {
			case AuthBearer:
				if (tg.TokenEnv == "") == (tg.TokenFile == "") {
					t.Fatalf("bearer target %q without exactly one token source", tg.Name)
				}
			case AuthJWT:
				if tg.JWTKeyFile == "" || tg.JWTIss == "" || tg.JWTSub == "" {
					t.Fatalf("jwt target %q without its keys", tg.Name)
				}
			case AuthNone:
			default:
				t.Fatalf("target %q has auth %q", tg.Name, tg.Auth)
			}
			if tg.Timeout <= 0 || tg.Retries < 0 || tg.Concurrency < 1 {
				t.Fatalf("target %q has out-of-range numbers", tg.Name)
			}
		}
	})
}

// treeDepth is how deeply a decoded value nests: 0 for a scalar, one more
// than its deepest element for a table or an array.
func treeDepth(v any) int {
	d := 0
	switch v := v.(type) {
	case map[string]any:
		for _, e := range v {
			d = max(d, treeDepth(e))
		}
	case []map[string]any:
		for _, e := range v {
			d = max(d, treeDepth(e))
		}
	case []any:
		for _, e := range v {
			d = max(d, treeDepth(e))
		}
	default:
		return 0
	}
	return d + 1
}

// FuzzDepthScan: the nesting pre-scan never lets through what the decoder
// then builds deeper than maxDepth, whatever strings, comments and brackets
// the text mixes; it is what stands between a hostile file and a decoder
// whose cost grows with the square of the depth.
func FuzzDepthScan(f *testing.F) {
	f.Add(lines(todo...))
	f.Add("x = [[[[1]]]]\n")
	f.Add("a.b.c = {d.e = [{f = 1}]}\n")
	f.Add("[[a.b]]\n[[a.b.c]]\nx = 1\n")
	f.Add("x = [\"\"\"a\"\"\"\", [[1]]]\n")
	f.Add("x = ['''a'''', [[1]]]\n")
	f.Add("x = [ # ]]]\n [[1]],\n]\n")
	f.Add("x = \"\"\"\n[[[\n\"\"\"\ny = [[[]]]\n")
	f.Add(`"a.b".c = {"]" = ['[', "\"[", [{}]]}` + "\n")
	// Right at the limit, in each way of nesting.
	f.Add(deepInline(15))
	f.Add("x = " + strings.Repeat("[", 15) + strings.Repeat("]", 15) + "\n")
	f.Add("[" + strings.Repeat("a.", 14) + "b]\nc = 1\n")
	f.Add("[[" + strings.Repeat("a.", 7) + "b]]\nc = 1\n")
	f.Add(strings.Repeat("a.", 15) + "b = 1\n")
	f.Fuzz(func(t *testing.T, data string) {
		if scanSource([]byte(data)).tooDeep > 0 {
			return
		}
		var v map[string]any
		if _, err := toml.Decode(data, &v); err != nil {
			return
		}
		if d := treeDepth(v); d > maxDepth {
			t.Fatalf("the scan let through a file %d deep", d)
		}
	})
}
