package backend

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	"ulc/internal/safetext"
)

// maxUsersLine bounds one line of a users file: an email address is at most
// 254 characters; a longer line is not a user.
const maxUsersLine = 4096

// ReadUsers reads one user per line (email, login or Okta id) from r, which
// is named name in errors. Blank lines and # comments are skipped; a leading
// UTF-8 byte-order mark (Excel and Windows exports start with one) is
// dropped. A line with spaces, or with an invisible character that would
// make the apps receive a different identifier than the one shown, is an
// error naming the file and line: never a silent wrong answer.
func ReadUsers(r io.Reader, name string) ([]string, error) {
	var users []string
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 1024), maxUsersLine)
	for line := 1; sc.Scan(); line++ {
		b := sc.Bytes()
		if line == 1 {
			b = bytes.TrimPrefix(b, []byte("\uFEFF"))
		}
		s := strings.TrimSpace(string(b))
		if i := strings.Index(s, "#"); i >= 0 {
			s = strings.TrimSpace(s[:i])
		}
		if s == "" {
			continue
		}
		where := fmt.Sprintf("%s:%d", safetext.Line(name, 80), line)
		if strings.ContainsAny(s, " \t") {
			return nil, usagef("%s: one user per line, got %q", where, safetext.Line(s, 80))
		}
		if err := CheckText(s); err != nil {
			return nil, usagef("%s: %v", where, err)
		}
		users = append(users, s)
	}
	if err := sc.Err(); err != nil {
		if err == bufio.ErrTooLong {
			return nil, usagef("%s: a line is longer than %d bytes: this is not a list of users", safetext.Line(name, 80), maxUsersLine)
		}
		return nil, usagef("%s: %v", safetext.Line(name, 80), err)
	}
	return users, nil
}

// CheckText refuses a value from the command line or a users file (a user,
// a run id, a target name) that is not valid UTF-8 or holds an invisible
// character (a Unicode format character such as a zero-width
// space or a byte-order mark, a bidi control, a control character): the
// apps would receive a different email than the one on screen, answer 404,
// and the user would be reported not found.
func CheckText(s string) error {
	r, ok := safetext.Invisible(s)
	switch {
	case !ok:
		return nil
	case r == utf8.RuneError && !utf8.ValidString(s):
		return fmt.Errorf("%q is not valid UTF-8", safetext.Line(s, 80))
	}
	return fmt.Errorf("%q holds an invisible character %U: retype it (it may come from a copy and paste or a spreadsheet export)",
		safetext.Line(s, 80), r)
}
