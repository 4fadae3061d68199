package config

import (
	"cmp"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode"
)

// Error is one problem with a targets file or a target's credential. Its
// text is one sentence that starts with where the problem is, such as
// `targets.toml:14: target "todo": unknown key "tokn_env"`. It never holds a
// secret.
type Error struct {
	// File is the path of the targets file, as given.
	File string
	// Line is the 1-based line of the problem, 0 when unknown.
	Line int
	// Scope is what the problem is in: `target "todo"`, "[defaults]",
	// "[okta]", or "" for the top level of the file.
	Scope string
	// Msg says what is wrong, and where it helps, what to do.
	Msg string
	// Err is the kind of problem, for errors.Is: ErrCredential when a
	// credential is missing or unusable, nil otherwise.
	Err error
}

// Unwrap returns e.Err, so errors.Is(err, ErrCredential) finds it.
func (e *Error) Unwrap() error { return e.Err }

// Error returns "file:line: scope: message".
func (e *Error) Error() string {
	return location(e.File, e.Line, e.Scope) + ": " + e.Msg
}

// location formats "file:line: scope", leaving out the parts not known.
func location(file string, line int, scope string) string {
	var b strings.Builder
	b.WriteString(file)
	if line > 0 {
		b.WriteString(":")
		b.WriteString(strconv.Itoa(line))
	}
	if scope != "" {
		if b.Len() > 0 {
			b.WriteString(": ")
		}
		b.WriteString(scope)
	}
	return b.String()
}

// errorList collects the problems of one file so an operator can fix them
// all in one go instead of discovering them one run at a time.
type errorList []*Error

// err returns nil for no problems, the *Error itself for one, and otherwise
// an error joining them in line order, one per line of text.
func (l errorList) err() error {
	switch len(l) {
	case 0:
		return nil
	case 1:
		return l[0]
	}
	slices.SortStableFunc(l, func(a, b *Error) int { return cmp.Compare(a.Line, b.Line) })
	errs := make([]error, len(l))
	for i, e := range l {
		errs[i] = e
	}
	return errors.Join(errs...)
}

// quote quotes a user-supplied value for a message, shortened so that a
// pasted blob cannot flood the screen. Never call it on a secret.
func quote(s string) string {
	const limit = 64
	if r := []rune(s); len(r) > limit {
		return strconv.Quote(string(r[:limit])) + "…"
	}
	return strconv.Quote(s)
}

// quotedFragment matches the quoted parts of the toml library's syntax
// messages ("..." as written by %q, and '...'), and numberish matches the
// bare numbers and dates it prints unquoted ("… is out of range for int64").
var (
	quotedFragment = regexp.MustCompile(`"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'`)
	numberish      = regexp.MustCompile(`(?:^|\s)[-+]?[0-9][0-9A-Za-z_.:+-]{3,}`)
	hexByte        = regexp.MustCompile(`^0x[0-9a-f]{2}$`)
)

// redactSyntax makes a message of the toml library safe to show. The library
// quotes the text it choked on, and on a line such as `token = s3cret` (a
// credential written inline and unquoted) that text is the secret. Quoted
// fragments are kept only when they are a single character, such as '\n' or
// ']', or a key this package knows; everything else becomes "…". The line
// number still points the operator at the exact place.
func redactSyntax(msg string, vocabulary map[string]bool) string {
	if strings.HasPrefix(msg, "expected value but found \"") {
		// A bare word where a value belongs: almost always a string written
		// without quotes (url = https://...), so say that.
		return "expected a value but found a bare word; put strings in double quotes"
	}
	msg = quotedFragment.ReplaceAllStringFunc(msg, func(q string) string {
		inner := q[1 : len(q)-1]
		if len([]rune(inner)) <= 2 || hexByte.MatchString(inner) || knownKeyPath(inner, vocabulary) {
			return q
		}
		return q[:1] + "…" + q[:1]
	})
	// The library capitalises some messages ("Invalid integer", "Key ...");
	// ours start in lower case after the "file:line: " prefix.
	if r := []rune(msg); len(r) > 1 && unicode.IsUpper(r[0]) && unicode.IsLower(r[1]) {
		msg = string(unicode.ToLower(r[0])) + string(r[1:])
	}
	msg = numberish.ReplaceAllStringFunc(msg, func(n string) string {
		if hexByte.MatchString(strings.TrimSpace(n)) {
			return n // "invalid UTF-8 byte: 0xff" names a byte, not a value
		}
		if strings.HasPrefix(n, " ") || strings.HasPrefix(n, "\t") {
			return n[:1] + "a value"
		}
		return "a value"
	})
	return msg
}

// knownKeyPath reports whether s is a key or dotted key path made only of
// table and key names this package defines, so it can be shown safely.
func knownKeyPath(s string, vocabulary map[string]bool) bool {
	for part := range strings.SplitSeq(s, ".") {
		if !vocabulary[part] {
			return false
		}
	}
	return s != ""
}

// suggest returns the known key closest to an unknown one, or "" when none is
// close enough to be a plausible typo.
func suggest(key string, known []string) string {
	limit := 2
	if len(key) <= 4 {
		limit = 1
	}
	best, bestDist := "", limit+1
	for _, k := range known {
		if d := editDistance(key, k); d < bestDist {
			best, bestDist = k, d
		}
	}
	return best
}

// editDistance is the Levenshtein distance between a and b.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// errorFor builds an *Error; the parser's helpers use it.
func errorFor(file string, line int, scope, format string, args ...any) *Error {
	return &Error{File: file, Line: line, Scope: scope, Msg: fmt.Sprintf(format, args...)}
}
