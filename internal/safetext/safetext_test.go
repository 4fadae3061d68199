package safetext

import (
	"strings"
	"testing"
	"unicode"
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

// Every format character (category Cf) is dropped, whatever plane it is
// in: none of them is meant to be seen, and several reorder or hide text.
func TestLineDropsEveryFormatCharacter(t *testing.T) {
	n := 0
	for _, rng := range unicode.Cf.R16 {
		for r := rune(rng.Lo); r <= rune(rng.Hi); r += rune(rng.Stride) {
			checkDropped(t, r)
			n++
		}
	}
	for _, rng := range unicode.Cf.R32 {
		for r := rune(rng.Lo); r <= rune(rng.Hi); r += rune(rng.Stride) {
			checkDropped(t, r)
			n++
		}
	}
	if n < 150 {
		t.Errorf("only %d format characters were tried; the table looks wrong", n)
	}
}

func checkDropped(t *testing.T, r rune) {
	t.Helper()
	if Printable(r) {
		t.Errorf("Printable(%U) = true; want false (category Cf)", r)
	}
	if got := Line("a"+string(r)+"b", 0); got != "ab" {
		t.Errorf("Line(a %U b) = %q; want \"ab\"", r, got)
	}
	if got, ok := Invisible("a" + string(r) + "b"); !ok || got != r {
		t.Errorf("Invisible(a %U b) = %U, %v; want %U, true", r, got, ok, r)
	}
}

func TestInvisible(t *testing.T) {
	cases := []struct {
		name string
		in   string
		want rune // 0: none
	}{
		{"plain email", "alice@corp.example", 0},
		{"empty", "", 0},
		{"inner ASCII space", "Alice Smith", 0},
		{"accents and CJK", "josé.日本@corp.example", 0},
		{"emoji with its selector", "☺\ufe0f", 0xfe0f},
		{"byte-order mark first", "\ufeffalice@corp.example", 0xfeff},
		{"zero-width space", "ali\u200bce@corp.example", 0x200b},
		{"zero-width joiner", "a\u200db", 0x200d},
		{"word joiner", "a\u2060b", 0x2060},
		{"soft hyphen", "ali\u00adce", 0x00ad},
		{"right-to-left override", "alice\u202egpj.exe", 0x202e},
		{"left-to-right mark", "\u200ealice", 0x200e},
		{"first strong isolate", "a\u2068b", 0x2068},
		{"arabic letter mark", "a\u061cb", 0x061c},
		{"tag character", "a\U000e0041b", 0xe0041},
		{"no-break space at the end", "alice@corp.example\u00a0", 0x00a0},
		{"ideographic space", "a\u3000b", 0x3000},
		{"line separator", "a\u2028b", 0x2028},
		{"tab", "alice\t", '\t'},
		{"newline", "alice\n", '\n'},
		{"escape", "neo\x1b]52;c;ZXZpbA==\x07@corp.example", 0x1b},
		{"DEL", "a\x7f", 0x7f},
		{"C1 CSI", "a\u009b31m", 0x9b},
		{"Hangul filler", "a\u3164b", 0x3164},
		{"combining grapheme joiner", "a\u034fb", 0x034f},
		{"braille blank", "a\u2800b", 0x2800},
		{"Mongolian vowel separator", "a\u180eb", 0x180e},
		{"private use", "a\ue000b", 0xe000},
		{"unassigned", "a\U0003fffeb", 0x3fffe},
		{"invalid UTF-8", "a\xffb", utf8.RuneError},
		{"first of several", "\u200b\ufeff", 0x200b},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, ok := Invisible(c.in)
			if ok != (c.want != 0) || got != c.want {
				t.Errorf("Invisible(%q) = %U, %v; want %U, %v", c.in, got, ok, c.want, c.want != 0)
			}
			// Whatever Invisible reports, Line does not print.
			if ok && strings.ContainsRune(Line(c.in, 0), got) && got != utf8.RuneError {
				t.Errorf("Line(%q) kept %U", c.in, got)
			}
		})
	}
}

func TestClean(t *testing.T) {
	cases := []struct{ in, want string }{
		{"plain  text, two spaces kept ", "plain  text, two spaces kept "},
		{"", ""},
		{"=HYPERLINK(\"x\")", "=HYPERLINK(\"x\")"},
		{"clip \x1b]52;c;ZXZpbA==\x07 board", "clip  board"},
		{"osc8 \x1b]8;;https://evil.example\x1b\\link", "osc8 link"},
		{"red \x1b[31mALERT\x1b[0m", "red ALERT"},
		{"line1\nline2\r\n\tx", "line1 line2   x"},
		{"bidi \u202egnp.exe\u202c", "bidi gnp.exe"},
		{"\ufeffbom first", "bom first"},
		{"zero\u200bwidth", "zerowidth"},
		{"c1 \u009b31m", "c1 31m"},
		{"bad \xff utf8", "bad \ufffd utf8"},
		{"naïve café 日本 ☺", "naïve café 日本 ☺"},
		{"sep\u2028arator", "sep arator"},
	}
	for _, c := range cases {
		if got := Clean(c.in); got != c.want {
			t.Errorf("Clean(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func FuzzClean(f *testing.F) {
	for _, s := range []string{"", "\x1b[2J", "\x1b]52;c;ZXZpbA==\x07", "a\u202eb", "\xc3\x28", "a\tb\nc"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := Clean(s)
		if !utf8.ValidString(got) {
			t.Fatalf("invalid UTF-8 out of %q", s)
		}
		for _, r := range got {
			if !Printable(r) || r != ' ' && unicode.IsSpace(r) {
				t.Fatalf("unsafe rune %U in %q", r, got)
			}
		}
		if Clean(got) != got {
			t.Fatalf("Clean is not idempotent on %q", s)
		}
	})
}
