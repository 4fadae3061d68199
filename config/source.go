package config

import (
	"strings"
)

// source is the text of a targets file, scanned for the lines messages need.
// The toml library reports a line only for syntax errors, and keeps one
// position for a key that every [[target]] shares, so where a key of the
// third target is written has to be found here. The scan is deliberately
// simple: it knows table headers, comments and strings (so a "[[target]]"
// inside a multi-line string is not a header) and nothing else.
type source struct {
	lines   []string // lines[0] is line 1
	inML    []bool   // the line starts inside a multi-line string
	headers []header
}

// header is a table header line: [name] or [[name]].
type header struct {
	line  int
	name  string // dotted, quotes and spaces removed
	array bool
}

func scanSource(data []byte) *source {
	text := strings.TrimPrefix(string(data), "\ufeff")
	s := &source{lines: strings.Split(text, "\n")}
	s.inML = make([]bool, len(s.lines))
	state := mlNone
	for i, line := range s.lines {
		line = strings.TrimSuffix(line, "\r")
		s.lines[i] = line
		s.inML[i] = state != mlNone
		if state == mlNone {
			if h, ok := parseHeader(line); ok {
				h.line = i + 1
				s.headers = append(s.headers, h)
			}
		}
		state = scanLine(line, state)
	}
	return s
}

// mlState is whether a line ends inside a multi-line string.
type mlState int

const (
	mlNone mlState = iota
	mlBasic
	mlLiteral
)

// scanLine follows strings and comments through one line and returns whether
// it ends inside a multi-line string (three double or three single quotes).
func scanLine(line string, state mlState) mlState {
	for i := 0; i < len(line); {
		switch state {
		case mlBasic:
			j := indexUnescaped(line[i:], `"""`)
			if j < 0 {
				return mlBasic
			}
			i += j + 3
			state = mlNone
			continue
		case mlLiteral:
			j := strings.Index(line[i:], `'''`)
			if j < 0 {
				return mlLiteral
			}
			i += j + 3
			state = mlNone
			continue
		}
		switch c := line[i]; {
		case c == '#':
			return mlNone
		case strings.HasPrefix(line[i:], `"""`):
			state, i = mlBasic, i+3
		case strings.HasPrefix(line[i:], `'''`):
			state, i = mlLiteral, i+3
		case c == '"':
			j := indexUnescaped(line[i+1:], `"`)
			if j < 0 {
				return mlNone // unterminated; the toml library reports it
			}
			i += j + 2
		case c == '\'':
			j := strings.IndexByte(line[i+1:], '\'')
			if j < 0 {
				return mlNone
			}
			i += j + 2
		default:
			i++
		}
	}
	return state
}

// indexUnescaped is strings.Index that skips backslash escapes.
func indexUnescaped(s, sub string) int {
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' {
			i++
			continue
		}
		if strings.HasPrefix(s[i:], sub) {
			return i
		}
	}
	return -1
}

// parseHeader recognises "[name]" and "[[name]]" (a line whose trimmed form
// starts with '[').
func parseHeader(line string) (header, bool) {
	t := strings.TrimSpace(line)
	if !strings.HasPrefix(t, "[") {
		return header{}, false
	}
	h := header{array: strings.HasPrefix(t, "[[")}
	open, closing := "[", "]"
	if h.array {
		open, closing = "[[", "]]"
	}
	end := strings.Index(t, closing)
	if end < 0 {
		return header{}, false
	}
	parts := strings.Split(t[len(open):end], ".")
	for i, part := range parts {
		parts[i] = strings.Trim(strings.TrimSpace(part), `"'`)
	}
	h.name = strings.Join(parts, ".")
	return h, true
}

// targetHeader returns the index of the header of the index-th [[target]].
func (s *source) targetHeader(index int) (int, bool) {
	n := 0
	for i, h := range s.headers {
		if h.array && h.name == "target" {
			if n == index {
				return i, true
			}
			n++
		}
	}
	return 0, false
}

// tableHeader returns the index of the [name] header.
func (s *source) tableHeader(name string) (int, bool) {
	for i, h := range s.headers {
		if !h.array && h.name == name {
			return i, true
		}
	}
	return 0, false
}

// span returns the last line of the table whose header is headers[hi]: the
// line before the next header that is not one of its sub-tables.
func (s *source) span(hi int) int {
	name := s.headers[hi].name
	for _, h := range s.headers[hi+1:] {
		if !strings.HasPrefix(h.name, name+".") {
			return h.line - 1
		}
	}
	return len(s.lines)
}

// lineOf returns the line where key is written in sc; with key "" or when it
// cannot be found, the line of sc's header; 0 when nothing fits.
func (s *source) lineOf(sc scope, key string) int {
	var hi int
	var ok bool
	var table string
	switch sc.kind {
	case scopeTop:
		return s.topLine(key)
	case scopeDefaults:
		table = "defaults"
		hi, ok = s.tableHeader(table)
	case scopeOkta:
		table = "okta"
		hi, ok = s.tableHeader(table)
	case scopeTarget:
		table = "target"
		hi, ok = s.targetHeader(sc.index)
	}
	if !ok {
		// Written inline (defaults = {...}) or with dotted keys
		// (defaults.timeout = "5s"): point at that.
		return s.topLine(table)
	}
	h := s.headers[hi]
	if key == "" {
		return h.line
	}
	if ln := s.findKey(h.line+1, s.span(hi), key); ln > 0 {
		return ln
	}
	for _, sub := range s.headers[hi+1:] {
		if sub.line > s.span(hi) {
			break
		}
		if sub.name == table+"."+key || strings.HasPrefix(sub.name, table+"."+key+".") {
			return sub.line
		}
	}
	return h.line
}

// topLine finds a key of the top level, before the first header, or a table
// header of that name.
func (s *source) topLine(key string) int {
	last := len(s.lines)
	if len(s.headers) > 0 {
		last = s.headers[0].line - 1
	}
	if ln := s.findKey(1, last, key); ln > 0 {
		return ln
	}
	for _, h := range s.headers {
		if h.name == key || strings.HasPrefix(h.name, key+".") {
			return h.line
		}
	}
	return 0
}

// findKey returns the first line in [from, to] whose trimmed form starts with
// key (bare or quoted) followed by optional spaces and '=' or '.'.
func (s *source) findKey(from, to int, key string) int {
	for ln := from; ln <= to && ln <= len(s.lines); ln++ {
		if s.inML[ln-1] {
			continue
		}
		t := strings.TrimSpace(s.lines[ln-1])
		rest, ok := "", false
		for _, form := range []string{key, `"` + key + `"`, `'` + key + `'`} {
			if strings.HasPrefix(t, form) {
				rest, ok = t[len(form):], true
				break
			}
		}
		if !ok {
			continue
		}
		rest = strings.TrimLeft(rest, " \t")
		if strings.HasPrefix(rest, "=") || strings.HasPrefix(rest, ".") {
			return ln
		}
	}
	return 0
}
