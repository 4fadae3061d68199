package tomlstr

import (
	"testing"

	"github.com/BurntSushi/toml"
)

// Whatever the string, the quoted form decodes back to it.
func TestQuoteRoundTrips(t *testing.T) {
	for _, s := range []string{"", "chat", `C:\keys\a "b"`, "line\nbreak\ttab\x7f", "http://127.0.0.1:8080/{tenant}/x"} {
		var v struct{ K string }
		if _, err := toml.Decode("K = "+Quote(s), &v); err != nil || v.K != s {
			t.Errorf("Quote(%q) = %s decodes to %q, %v", s, Quote(s), v.K, err)
		}
	}
}
