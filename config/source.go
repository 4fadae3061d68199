package config

import (
	"slices"
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
	// targets holds the index in headers of each [[target]], in order.
	targets []int
	// forwards holds the index in headers of each [[forward]], in order.
	forwards []int
	// tooDeep is the first line where nesting goes past maxDepth, 0 if none.
	tooDeep int
	// topLines caches topLine, which a registry written as one inline
	// array of targets asks for once per target.
	topLines map[string]int
	// keyLines maps the key a line starts with to those lines, in order;
	// built by findKey on first use.
	keyLines map[string][]int
}

// header is a table header line: [name] or [[name]].
type header struct {
	line  int
	name  string // dotted, quotes and spaces removed
	array bool
}

// maxDepth is how deeply tables, arrays and dotted keys may nest inside one
// another. ulc's schema needs 4 (target = [{tags = ["a"]}]); the TOML
// decoder's time and memory grow with the square of the depth, so a file of
// a few kilobytes nested thousands deep would take minutes and gigabytes.
const maxDepth = 16

func scanSource(data []byte) *source {
	text := strings.TrimPrefix(string(data), "\ufeff")
	s := &source{lines: strings.Split(text, "\n"), topLines: map[string]int{}}
	s.inML = make([]bool, len(s.lines))
	d := depthScan{limit: maxDepth}
	state := mlNone
	for i, line := range s.lines {
		line = strings.TrimSuffix(line, "\r")
		s.lines[i] = line
		s.inML[i] = state != mlNone
		if state == mlNone {
			if h, ok := parseHeader(line); ok {
				h.line = i + 1
				if h.array && h.name == "target" {
					s.targets = append(s.targets, len(s.headers))
				}
				if h.array && h.name == "forward" {
					s.forwards = append(s.forwards, len(s.headers))
				}
				s.headers = append(s.headers, h)
			}
		}
		d.newLine(i+1, state != mlNone)
		state = scanLine(line, state, d.visit)
	}
	s.tooDeep = d.tooDeep
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
// visit, when not nil, is called with every byte outside strings and
// comments, in order.
func scanLine(line string, state mlState, visit func(c byte)) mlState {
	for i := 0; i < len(line); {
		switch state {
		case mlBasic:
			j := indexUnescaped(line[i:], `"""`)
			if j < 0 {
				return mlBasic
			}
			i = closeML(line, i+j+3, '"')
			state = mlNone
			continue
		case mlLiteral:
			j := strings.Index(line[i:], `'''`)
			if j < 0 {
				return mlLiteral
			}
			i = closeML(line, i+j+3, '\'')
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
			if visit != nil {
				visit(c)
			}
			i++
		}
	}
	return state
}

// closeML returns where a multi-line string that has a closing delimiter
// ending at end really ends: TOML lets the content end with one or two
// quotes of the delimiter's kind (""""" is a string of two quotes closed),
// so up to two more quotes belong to it.
func closeML(line string, end int, q byte) int {
	for n := 0; n < 2 && end < len(line) && line[end] == q; n++ {
		end++
	}
	return end
}

// depthScan measures how deeply a file nests, from the bytes scanLine finds
// outside strings and comments, so that a hostile file is refused before
// the TOML decoder sees it. The level of a value is the number of tables,
// arrays and key parts above it: in [a.b] the keys are at level 2, in
// x.y = {z = [1]} the 1 is at level 4, under [[target]] the keys are at
// level 2 (an array, a table). The scan keeps what it needs to tell
// a dot in a key (a level) from one in a number (none): whether it is
// reading a key or a value, and the stack of open arrays and inline tables.
type depthScan struct {
	limit   int
	line    int
	tooDeep int // first line past limit, 0 if none

	frames    []depthFrame // open [ and { of values
	base      int          // level of the current [table]
	key       bool         // reading a key (before '=')
	keyParts  int          // parts of the key read so far
	value     int          // level of the value being read
	header    bool         // inside a [table] or [[table]] header
	headParts int          // parts of the header's name so far
	headArray bool         // the header is [[name]]
	lineStart bool         // nothing but spaces yet on this line
}

// depthFrame is an open array or inline table at level.
type depthFrame struct {
	table bool
	level int
}

// newLine starts line n. A line that starts outside any open array or
// inline table, and not inside a multi-line string, starts with a key or a
// header.
func (d *depthScan) newLine(n int, inString bool) {
	d.line = n
	d.header = false
	if len(d.frames) == 0 && !inString {
		d.key, d.keyParts, d.lineStart = true, 1, true
	}
}

// deeper records that level was reached on the current line.
func (d *depthScan) deeper(level int) {
	if level > d.limit && d.tooDeep == 0 {
		d.tooDeep = d.line
	}
}

// headLevel is the level of the keys under the header being read. Each
// part of an array-of-tables name may be an array with a table in it, so
// it counts twice.
func (d *depthScan) headLevel() int {
	if d.headArray {
		return 2 * d.headParts
	}
	return d.headParts
}

// tableLevel is the level of the keys of the innermost open table.
func (d *depthScan) tableLevel() int {
	if n := len(d.frames); n > 0 {
		return d.frames[n-1].level
	}
	return d.base
}

func (d *depthScan) visit(c byte) {
	if c == ' ' || c == '\t' {
		return
	}
	lineStart := d.lineStart
	d.lineStart = false
	switch {
	case d.header:
		switch c {
		case '[':
			d.headArray = true // [[name]]
		case '.':
			d.headParts++
			d.deeper(d.headLevel())
		case ']':
			d.header, d.base, d.key = false, d.headLevel(), false
		}
	case d.key:
		switch c {
		case '[':
			if lineStart && len(d.frames) == 0 {
				d.header, d.headParts, d.headArray = true, 1, false
			}
		case '.':
			d.keyParts++
			d.deeper(d.tableLevel() + d.keyParts)
		case '=':
			d.key, d.value = false, d.tableLevel()+d.keyParts
			d.deeper(d.value)
		case '}':
			d.pop() // {} or a trailing comma
		}
	default:
		switch c {
		case '[', '{':
			d.frames = append(d.frames, depthFrame{table: c == '{', level: d.value})
			d.deeper(d.value + 1)
			if c == '{' {
				d.key, d.keyParts = true, 1
			} else {
				d.value++
			}
		case ',':
			if n := len(d.frames); n > 0 {
				if f := d.frames[n-1]; f.table {
					d.key, d.keyParts = true, 1
				} else {
					d.value = f.level + 1
				}
			}
		case ']', '}':
			d.pop()
		}
	}
}

// pop closes the innermost array or inline table; a stray closing bracket
// (a syntax error the decoder reports) changes nothing.
func (d *depthScan) pop() {
	n := len(d.frames)
	if n == 0 {
		return
	}
	d.frames = d.frames[:n-1]
	d.key = false
	if n > 1 {
		if f := d.frames[n-2]; !f.table {
			d.value = f.level + 1
		}
	}
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
	if index < 0 || index >= len(s.targets) {
		return 0, false
	}
	return s.targets[index], true
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
	case scopeForward:
		table = "forward"
		if sc.index >= 0 && sc.index < len(s.forwards) {
			hi, ok = s.forwards[sc.index], true
		}
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
	if ln, ok := s.topLines[key]; ok {
		return ln
	}
	ln := s.findTop(key)
	s.topLines[key] = ln
	return ln
}

// findTop is topLine without the cache.
func (s *source) findTop(key string) int {
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
// key (bare or quoted) followed by optional spaces and '=' or '.'. The lines
// are indexed by the key they start with on first use, so that a file with
// thousands of keys to place costs a lookup each, not a scan.
func (s *source) findKey(from, to int, key string) int {
	if s.keyLines == nil {
		s.keyLines = map[string][]int{}
		for i, line := range s.lines {
			if s.inML[i] {
				continue
			}
			if k, ok := leadingKey(line); ok {
				s.keyLines[k] = append(s.keyLines[k], i+1)
			}
		}
	}
	lns := s.keyLines[key]
	j, _ := slices.BinarySearch(lns, from)
	if j < len(lns) && lns[j] <= to {
		return lns[j]
	}
	return 0
}

// leadingKey returns the first part of the key a line starts with, bare or
// quoted (quotes removed, escapes kept as written), when an '=' or a '.'
// follows it.
func leadingKey(line string) (string, bool) {
	t := strings.TrimLeft(line, " \t")
	var key, rest string
	switch {
	case t == "":
		return "", false
	case t[0] == '"' || t[0] == '\'':
		end := strings.IndexByte(t[1:], t[0])
		if end < 0 {
			return "", false
		}
		key, rest = t[1:1+end], t[2+end:]
	default:
		end := strings.IndexAny(t, " \t=.\"'#[]{},")
		if end <= 0 {
			return "", false
		}
		key, rest = t[:end], t[end:]
	}
	rest = strings.TrimLeft(rest, " \t")
	if strings.HasPrefix(rest, "=") || strings.HasPrefix(rest, ".") {
		return key, true
	}
	return "", false
}
