// Package tomlstr quotes strings for the targets.toml blocks the sandbox's
// fakes write.
package tomlstr

import (
	"fmt"
	"strings"
)

// Quote returns s as a TOML basic string. Names, URLs and file names here
// are printable ASCII; anything else is escaped.
func Quote(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, `\u%04X`, r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}
