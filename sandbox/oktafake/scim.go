package oktafake

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// This file is a small SCIM filter language (RFC 7644 §3.4.2.2) as Okta uses
// it for users' search and filter and for the System Log's filter:
// attrPath op "value", attrPath pr, and, or, not, parentheses, quoted
// strings with \" and \\ escapes. Each use has a dialect saying which
// attributes and operators it accepts and how values compare.

// node is a parsed expression: *cmpNode, *logicNode or *notNode.
type node interface{ isNode() }

type cmpNode struct {
	attr  string
	op    string // eq ne co sw ew gt ge lt le pr
	val   string // the literal, unquoted
	lower string // val lower-cased
	isNil bool   // the literal null
	t     time.Time
	isT   bool // attr is a timestamp and val parsed
}

type logicNode struct {
	and  bool
	l, r node
}

type notNode struct{ n node }

func (*cmpNode) isNode()   {}
func (*logicNode) isNode() {}
func (*notNode) isNode()   {}

// record is something an expression can be evaluated against.
type record interface {
	strs(attr string) []string
	time(attr string) (time.Time, bool)
}

// dialect is what one API accepts.
type dialect struct {
	name          string
	caseSensitive bool                       // values compare case-sensitively
	noNot         bool                       // "not" is rejected
	allowed       func(attr, op string) bool // attribute and operator accepted
	isTime        func(attr string) bool     // attribute is a timestamp
}

type token struct {
	kind byte // 'w' word, 's' string, '(' or ')'
	text string
}

func tokenize(s string) ([]token, error) {
	var toks []token
	for i := 0; i < len(s); {
		c := s[i]
		switch c {
		case ' ', '\t', '\n', '\r':
			i++
		case '(', ')':
			toks = append(toks, token{kind: c})
			i++
		case '"':
			var b strings.Builder
			i++
			closed := false
			for i < len(s) {
				c := s[i]
				if c == '\\' {
					if i+1 >= len(s) {
						return nil, errors.New("unterminated escape")
					}
					b.WriteByte(s[i+1])
					i += 2
					continue
				}
				if c == '"' {
					closed = true
					i++
					break
				}
				b.WriteByte(c)
				i++
			}
			if !closed {
				return nil, errors.New("unterminated string")
			}
			toks = append(toks, token{kind: 's', text: b.String()})
		default:
			j := i
			for j < len(s) && !strings.ContainsRune(" \t\r\n()\"", rune(s[j])) {
				j++
			}
			toks = append(toks, token{kind: 'w', text: s[i:j]})
			i = j
		}
	}
	return toks, nil
}

type parser struct {
	toks []token
	pos  int
	d    *dialect
}

// parseFilter parses and validates an expression for a dialect.
func parseFilter(s string, d *dialect) (node, error) {
	toks, err := tokenize(s)
	if err != nil {
		return nil, err
	}
	if len(toks) == 0 {
		return nil, errors.New("empty expression")
	}
	p := &parser{toks: toks, d: d}
	n, err := p.or()
	if err != nil {
		return nil, err
	}
	if p.pos != len(p.toks) {
		return nil, fmt.Errorf("unexpected %q", p.toks[p.pos].text)
	}
	return n, nil
}

func (p *parser) peekWord(w string) bool {
	return p.pos < len(p.toks) && p.toks[p.pos].kind == 'w' && strings.EqualFold(p.toks[p.pos].text, w)
}

func (p *parser) or() (node, error) {
	l, err := p.and()
	if err != nil {
		return nil, err
	}
	for p.peekWord("or") {
		p.pos++
		r, err := p.and()
		if err != nil {
			return nil, err
		}
		l = &logicNode{l: l, r: r}
	}
	return l, nil
}

func (p *parser) and() (node, error) {
	l, err := p.unary()
	if err != nil {
		return nil, err
	}
	for p.peekWord("and") {
		p.pos++
		r, err := p.unary()
		if err != nil {
			return nil, err
		}
		l = &logicNode{and: true, l: l, r: r}
	}
	return l, nil
}

func (p *parser) unary() (node, error) {
	if p.pos >= len(p.toks) {
		return nil, errors.New("unexpected end of expression")
	}
	t := p.toks[p.pos]
	switch {
	case t.kind == '(':
		p.pos++
		n, err := p.or()
		if err != nil {
			return nil, err
		}
		if p.pos >= len(p.toks) || p.toks[p.pos].kind != ')' {
			return nil, errors.New("missing )")
		}
		p.pos++
		return n, nil
	case p.peekWord("not"):
		if p.d.noNot {
			return nil, errors.New("the not operator is not supported")
		}
		p.pos++
		n, err := p.unary()
		if err != nil {
			return nil, err
		}
		return &notNode{n}, nil
	case t.kind == 'w':
		return p.comparison()
	}
	return nil, fmt.Errorf("unexpected %q", t.text)
}

var operators = map[string]bool{"eq": true, "ne": true, "co": true, "sw": true, "ew": true, "gt": true, "ge": true, "lt": true, "le": true, "pr": true}

func (p *parser) comparison() (node, error) {
	attr := p.toks[p.pos].text
	p.pos++
	if !validAttr(attr) {
		return nil, fmt.Errorf("invalid attribute %q", attr)
	}
	if p.pos >= len(p.toks) || p.toks[p.pos].kind != 'w' {
		return nil, fmt.Errorf("missing operator after %s", attr)
	}
	op := strings.ToLower(p.toks[p.pos].text)
	p.pos++
	if !operators[op] {
		return nil, fmt.Errorf("unknown operator %q", op)
	}
	n := &cmpNode{attr: attr, op: op}
	if op != "pr" {
		if p.pos >= len(p.toks) {
			return nil, fmt.Errorf("missing value after %s %s", attr, op)
		}
		v := p.toks[p.pos]
		p.pos++
		switch {
		case v.kind == 's':
			n.val = v.text
		case v.kind == 'w' && (v.text == "true" || v.text == "false" || isNumber(v.text)):
			n.val = v.text
		case v.kind == 'w' && v.text == "null":
			n.isNil = true
		default:
			return nil, fmt.Errorf("invalid value %q", v.text)
		}
		n.lower = strings.ToLower(n.val)
	}
	if !p.d.allowed(attr, op) {
		return nil, fmt.Errorf("%s %s is not supported", attr, op)
	}
	if p.d.isTime != nil && p.d.isTime(attr) && op != "pr" && !n.isNil {
		t, ok := parseTime(n.val)
		if !ok {
			return nil, fmt.Errorf("%s needs an ISO-8601 timestamp, not %q", attr, n.val)
		}
		n.t, n.isT = t, true
	}
	return n, nil
}

func validAttr(a string) bool {
	if a == "" || a[0] == '.' || a[len(a)-1] == '.' || strings.Contains(a, "..") {
		return false
	}
	for _, r := range a {
		if !(r == '.' || r == '_' || r == '-' || r == ':' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
			return false
		}
	}
	return true
}

func isNumber(s string) bool {
	if s == "" {
		return false
	}
	for i, r := range s {
		if !(r >= '0' && r <= '9' || r == '.' || (i == 0 && r == '-')) {
			return false
		}
	}
	return true
}

// eval evaluates n against a record.
func eval(n node, rec record, d *dialect) bool {
	switch n := n.(type) {
	case *logicNode:
		if n.and {
			return eval(n.l, rec, d) && eval(n.r, rec, d)
		}
		return eval(n.l, rec, d) || eval(n.r, rec, d)
	case *notNode:
		return !eval(n.n, rec, d)
	case *cmpNode:
		return compare(n, rec, d)
	}
	return false
}

func compare(n *cmpNode, rec record, d *dialect) bool {
	if n.isT {
		t, ok := rec.time(n.attr)
		if !ok {
			return n.op == "ne"
		}
		t = t.Truncate(time.Millisecond)
		want := n.t.Truncate(time.Millisecond)
		switch n.op {
		case "eq":
			return t.Equal(want)
		case "ne":
			return !t.Equal(want)
		case "gt":
			return t.After(want)
		case "ge":
			return !t.Before(want)
		case "lt":
			return t.Before(want)
		case "le":
			return !t.After(want)
		}
		return false
	}
	vals := rec.strs(n.attr)
	if n.op == "pr" {
		return len(vals) > 0
	}
	if n.isNil {
		switch n.op {
		case "eq":
			return len(vals) == 0
		case "ne":
			return len(vals) > 0
		}
		return false
	}
	if n.op == "ne" {
		for _, v := range vals {
			if matchOp("eq", v, n, d) {
				return false
			}
		}
		return true
	}
	for _, v := range vals {
		if matchOp(n.op, v, n, d) {
			return true
		}
	}
	return false
}

func matchOp(op, v string, n *cmpNode, d *dialect) bool {
	want := n.val
	if !d.caseSensitive {
		if op == "eq" {
			return strings.EqualFold(v, want)
		}
		v, want = strings.ToLower(v), n.lower
	}
	switch op {
	case "eq":
		return v == want
	case "co":
		return strings.Contains(v, want)
	case "sw":
		return strings.HasPrefix(v, want)
	case "ew":
		return strings.HasSuffix(v, want)
	case "gt":
		return v > want
	case "ge":
		return v >= want
	case "lt":
		return v < want
	case "le":
		return v <= want
	}
	return false
}

// userTimeAttrs are the timestamp attributes of a user.
var userTimeAttrs = map[string]bool{"created": true, "activated": true, "statusChanged": true, "lastUpdated": true, "lastLogin": true, "passwordChanged": true}

// searchDialect is GET /api/v1/users?search=.
var searchDialect = &dialect{
	name:  "search",
	noNot: true,
	allowed: func(attr, op string) bool {
		if op == "ne" || op == "ew" {
			return false
		}
		if name, ok := strings.CutPrefix(attr, "profile."); ok {
			if op == "co" {
				switch name {
				case "firstName", "lastName", "email", "login":
					return true
				}
				return false
			}
			return name != "" && !strings.Contains(name, ".")
		}
		if op == "co" {
			return false
		}
		switch attr {
		case "id", "status", "type.id":
			return true
		}
		return userTimeAttrs[attr]
	},
	isTime: func(attr string) bool { return userTimeAttrs[attr] },
}

// filterDialect is GET /api/v1/users?filter=.
var filterDialect = &dialect{
	name:          "filter",
	caseSensitive: true,
	noNot:         true,
	allowed: func(attr, op string) bool {
		switch attr {
		case "status", "id", "profile.login", "profile.email", "profile.firstName", "profile.lastName":
			return op == "eq"
		case "lastUpdated":
			switch op {
			case "eq", "gt", "ge", "lt", "le":
				return true
			}
		}
		return false
	},
	isTime: func(attr string) bool { return attr == "lastUpdated" },
}
