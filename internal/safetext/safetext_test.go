package safetext

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestLine(t *testing.T) {
	cases := []struct{ in, want string }{
		{"plain text", "plain text"},
		{"red \x1b[31mALERT\x1b[0m done", "red ALERT done"},
		{"title \x1b]0;pwned\x07 after", "title after"},
		{"osc8 \x1b]8;;https://evil.example\x1b\\link\x1b]8;;\x1b\\", "osc8 link"},
		{"line1\nline2\r\n\tline3", "line1 line2 line3"},
		{"bell\x07 backspace\b", "bell backspace"},
		{"bidi \u202egnp.exe\u202c ok", "bidi gnp.exe ok"},
		{"zero\u200bwidth", "zerowidth"},
		{"bad \xff\xfe utf8", "bad \ufffd\ufffd utf8"},
		{"c1 \u009b31m", "c1 31m"},
		{"  trim  me  ", "trim me"},
		{"naïve café 日本", "naïve café 日本"},
	}
	for _, c := range cases {
		if got := Line(c.in, 0); got != c.want {
			t.Errorf("Line(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestLineTruncates(t *testing.T) {
	got := Line(strings.Repeat("a", 1<<20), 10)
	if got != "aaaaaaaaa…" || utf8.RuneCountInString(got) != 10 {
		t.Fatalf("got %q", got)
	}
	if got := Line("exactly10!", 10); got != "exactly10!" {
		t.Fatalf("got %q", got)
	}
}

func FuzzLine(f *testing.F) {
	for _, s := range []string{"", "\x1b[2J\x1b[H", "\x1b]52;c;ZXZpbA==\x07", "a\u202eb", "\xc3\x28", strings.Repeat("é", 50)} {
		f.Add(s, 20)
	}
	f.Fuzz(func(t *testing.T, s string, max int) {
		if max < 0 || max > 1000 {
			max = 0
		}
		got := Line(s, max)
		if !utf8.ValidString(got) {
			t.Fatalf("invalid UTF-8 out of %q", s)
		}
		for _, r := range got {
			if r == 0x1b || r == '\n' || r == '\r' || !Printable(r) {
				t.Fatalf("unsafe rune %U in %q", r, got)
			}
		}
		if max > 0 && utf8.RuneCountInString(got) > max {
			t.Fatalf("%d runes, max %d", utf8.RuneCountInString(got), max)
		}
	})
}
