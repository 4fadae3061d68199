// Package safetext makes strings from outside (Okta profiles, target app
// answers, error texts of remote servers) harmless to print on a terminal:
// no escape sequences, no control or bidi characters, valid UTF-8, one line,
// bounded length.
package safetext

import (
	"unicode"
	"unicode/utf8"
)

// Line returns s as a single printable line of at most max runes (0 means no
// limit). Control characters, escape sequences and bidi overrides are
// dropped, runs of whitespace become one space, and invalid UTF-8 becomes
// U+FFFD. A truncated result ends in "…".
func Line(s string, max int) string {
	out := make([]rune, 0, min(len(s), 256))
	space := false
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		// An ESC starts a terminal sequence: skip the whole sequence so no
		// fragment of it ("[31m") is left behind.
		if r == 0x1b {
			i += size + escapeLen(s[i+size:])
			continue
		}
		i += size
		switch {
		case unicode.IsSpace(r):
			space = true
			continue
		case !Printable(r):
			continue
		}
		if space && len(out) > 0 {
			out = append(out, ' ')
		}
		space = false
		out = append(out, r)
		if max > 0 && len(out) > max {
			break
		}
	}
	if max > 0 && len(out) > max {
		out = append(out[:max-1], '…')
	}
	return string(out)
}

// Printable reports whether r is safe to write to a terminal: not a C0 or
// C1 control, not a bidi control, not a zero-width formatting character that
// could hide or reorder text, and not a private-use or unassigned code point.
func Printable(r rune) bool {
	switch {
	case r < 0x20, r >= 0x7f && r < 0xa0:
		return false
	case r >= 0x202a && r <= 0x202e, r >= 0x2066 && r <= 0x2069,
		r == 0x200e, r == 0x200f, r == 0x061c:
		return false // bidi embedding, override and isolate controls
	case r >= 0x200b && r <= 0x200d, r == 0x2060, r == 0xfeff, r == 0x00ad:
		return false // zero-width characters
	case r == utf8.RuneError:
		return true // shown as the replacement character
	}
	return unicode.IsPrint(r) || unicode.IsSpace(r)
}

// escapeLen returns how many bytes of s (the bytes after an ESC) belong to
// the escape sequence: CSI (ESC [ ... final), OSC/DCS/APC/PM/SOS strings
// (ended by BEL or ESC \), or a two-byte escape.
func escapeLen(s string) int {
	if s == "" {
		return 0
	}
	switch s[0] {
	case '[':
		for i := 1; i < len(s); i++ {
			if s[i] >= 0x40 && s[i] <= 0x7e {
				return i + 1
			}
		}
		return len(s)
	case ']', 'P', '_', '^', 'X':
		for i := 1; i < len(s); i++ {
			if s[i] == 0x07 {
				return i + 1
			}
			if s[i] == 0x1b && i+1 < len(s) && s[i+1] == '\\' {
				return i + 2
			}
		}
		return len(s)
	}
	return 1
}
