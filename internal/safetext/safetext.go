// Package safetext makes strings from outside (Okta profiles, target app
// answers, error texts of remote servers) harmless to print on a terminal:
// no escape sequences, no control or bidi characters, valid UTF-8, one line,
// bounded length.
package safetext

import (
	"strings"
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

// Clean returns s with what could act on a terminal or hide text removed,
// and nothing else changed: escape sequences and characters that are not
// Printable are dropped, whitespace controls (tab, newline, carriage
// return, ...) and line separators become a space, invalid UTF-8 becomes
// U+FFFD. Unlike Line it keeps every space and has no length limit, so
// text that was printable to begin with comes back byte for byte.
func Clean(s string) string {
	clean := true
	for _, r := range s {
		if r == utf8.RuneError || !Printable(r) || r != ' ' && unicode.IsSpace(r) {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == 0x1b {
			i += size + escapeLen(s[i+size:])
			continue
		}
		i += size
		switch {
		case r != ' ' && unicode.IsSpace(r):
			b.WriteByte(' ')
		case Printable(r):
			b.WriteRune(r)
		}
	}
	return b.String()
}

// Printable reports whether r is safe to write to a terminal: not a C0 or
// C1 control, not a Unicode format character (category Cf: bidi controls,
// zero-width characters, the byte-order mark, tag characters, the soft
// hyphen), not another character that shows nothing (see Invisible), and
// not a private-use or unassigned code point. Whitespace is printable (Line
// turns it into one space); invalid UTF-8, decoded as U+FFFD, shows as the
// replacement character.
func Printable(r rune) bool {
	switch {
	case r < 0x20, r >= 0x7f && r < 0xa0:
		return false
	case unicode.Is(unicode.Cf, r):
		return false // bidi controls (U+202A-202E, U+2066-2069, ...), zero-width, BOM
	case invisible(r):
		return false
	case r == utf8.RuneError:
		return true // shown as the replacement character
	}
	return unicode.IsPrint(r) || unicode.IsSpace(r)
}

// Invisible reports the first character of s that a person reading s on a
// screen would not see, or could not tell from another, and so must not be
// part of an identifier (a user's email or login, a run id) typed or
// pasted by an operator: a control character (tab and newline included), a
// format character (Unicode category Cf, which holds the bidi controls,
// zero-width space and joiners, the byte-order mark U+FEFF, the soft hyphen
// and the tag characters), a space other than U+0020 (no-break, ideographic,
// ...), a line or paragraph separator, a character that renders as nothing
// (Hangul fillers, variation selectors, the combining grapheme joiner, the
// Braille blank), or a private-use or unassigned code point. Invalid UTF-8
// is reported as utf8.RuneError. ok is false when s has none of these.
func Invisible(s string) (r rune, ok bool) {
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size <= 1 {
			return utf8.RuneError, true
		}
		i += size
		if r == ' ' {
			continue
		}
		if !unicode.IsGraphic(r) || unicode.Is(unicode.Zs, r) || invisible(r) {
			return r, true
		}
	}
	return 0, false
}

// invisible reports whether r is a graphic character (a letter, mark or
// symbol by category) that renders as nothing.
func invisible(r rune) bool {
	switch {
	case r == 0x034f: // combining grapheme joiner
		return true
	case r == 0x115f, r == 0x1160, r == 0x3164, r == 0xffa0: // Hangul fillers
		return true
	case r == 0x17b4, r == 0x17b5: // Khmer inherent vowels
		return true
	case r >= 0x180b && r <= 0x180f: // Mongolian free variation selectors (U+180E is Cf)
		return true
	case r == 0x2800: // Braille pattern blank
		return true
	case r >= 0xfe00 && r <= 0xfe0f, r >= 0xe0100 && r <= 0xe01ef: // variation selectors
		return true
	}
	return false
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
