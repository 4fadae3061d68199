// Package gtr holds the wire format of Global Token Revocation
// (draft-parecki-oauth-global-token-revocation): RFC 9493 subject
// identifiers, the request body, the signed-JWT authentication profile of
// draft -06 §3.5, and the classification of answers. It is shared by the
// engine (the sending side) and the sandbox (the receiving side).
package gtr

import (
	"encoding/json"
	"fmt"
	"net/mail"
	"sort"
	"strings"
	"unicode"
	"unicode/utf8"
)

// The RFC 9493 subject identifier formats ulc sends.
const (
	FormatEmail  = "email"
	FormatOpaque = "opaque"
	FormatIssSub = "iss_sub"
)

// The body keys: sub_id since draft -03, subject in drafts -00 to -02.
const (
	BodyKeySubID   = "sub_id"
	BodyKeySubject = "subject"
)

// members lists, per format, the members RFC 9493 §3.2 requires; a subject
// identifier must hold exactly these plus "format".
var members = map[string][]string{
	FormatEmail:  {"email"},
	FormatOpaque: {"id"},
	FormatIssSub: {"iss", "sub"},
}

// Subject is an RFC 9493 Subject Identifier: "format" plus the members that
// format requires, all strings for the formats ulc supports.
type Subject map[string]string

// Format returns the subject's format.
func (s Subject) Format() string { return s["format"] }

// Validate checks RFC 9493 §3: a known format, every required member present
// and non-empty, and no member the format does not describe.
func (s Subject) Validate() error {
	f := s["format"]
	req, ok := members[f]
	if !ok {
		return fmt.Errorf("unsupported subject format %q (want email, opaque or iss_sub)", f)
	}
	for _, m := range req {
		v := s[m]
		if strings.TrimSpace(v) == "" {
			return fmt.Errorf("subject format %s needs a non-empty %q", f, m)
		}
		// JSON would silently replace invalid UTF-8, so the app would be
		// asked about someone else; control characters have no place in
		// an identifier either.
		if !utf8.ValidString(v) || strings.IndexFunc(v, unicode.IsControl) >= 0 {
			return fmt.Errorf("subject member %q is not valid text (invalid UTF-8 or control characters)", m)
		}
	}
	if len(s) != len(req)+1 {
		var extra []string
		for k := range s {
			if k != "format" && !contains(req, k) {
				extra = append(extra, k)
			}
		}
		sort.Strings(extra)
		return fmt.Errorf("subject format %s must not carry %s", f, strings.Join(extra, ", "))
	}
	if f == FormatEmail {
		a, err := mail.ParseAddress(s["email"])
		if err != nil || a.Address != s["email"] || a.Name != "" {
			return fmt.Errorf("subject email %q is not a plain address (addr-spec)", s["email"])
		}
	}
	return nil
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}

// Identity is what is known about a user for building subjects.
type Identity struct {
	// ID is the user's id at the identity provider (the Okta user id).
	ID string
	// Email is the user's primary email address.
	Email string
	// Issuer is the identity provider's issuer URL, for iss_sub.
	Issuer string
}

// NewSubject builds and validates the subject identifier of the given format
// for a user: email → the user's email; opaque → the IdP user id; iss_sub →
// the IdP issuer and user id.
func NewSubject(format string, who Identity) (Subject, error) {
	var s Subject
	switch format {
	case FormatEmail:
		if who.Email == "" {
			return nil, fmt.Errorf("subject format email: the user has no email address")
		}
		s = Subject{"format": format, "email": who.Email}
	case FormatOpaque:
		if who.ID == "" {
			return nil, fmt.Errorf("subject format opaque: the user's Okta id is unknown (give the id, or resolve the user through Okta)")
		}
		s = Subject{"format": format, "id": who.ID}
	case FormatIssSub:
		if who.ID == "" {
			return nil, fmt.Errorf("subject format iss_sub: the user's Okta id is unknown (give the id, or resolve the user through Okta)")
		}
		if who.Issuer == "" {
			return nil, fmt.Errorf("subject format iss_sub: no issuer known (set subject_iss, or [okta] issuer or org_url)")
		}
		s = Subject{"format": format, "iss": who.Issuer, "sub": who.ID}
	default:
		return nil, fmt.Errorf("unsupported subject format %q (want email, opaque or iss_sub)", format)
	}
	return s, s.Validate()
}

// Body returns the exact JSON request body: {"<key>": <subject>}, with the
// subject's members in a stable order.
func Body(key string, s Subject) ([]byte, error) {
	if key != BodyKeySubID && key != BodyKeySubject {
		return nil, fmt.Errorf("unsupported body key %q (want sub_id or subject)", key)
	}
	if err := s.Validate(); err != nil {
		return nil, err
	}
	return json.Marshal(map[string]Subject{key: s})
}

// ParseBody decodes a request body as a receiver does: exactly one of
// sub_id or subject, holding a valid subject identifier. It reports which key
// was used.
func ParseBody(data []byte) (key string, s Subject, err error) {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(data, &raw); err != nil {
		return "", nil, fmt.Errorf("body is not a JSON object: %v", err)
	}
	if len(raw) != 1 {
		return "", nil, fmt.Errorf("body must have exactly one member, sub_id")
	}
	for k, v := range raw {
		key = k
		if k != BodyKeySubID && k != BodyKeySubject {
			return k, nil, fmt.Errorf("unrecognized member %q", k)
		}
		if err := json.Unmarshal(v, &s); err != nil {
			return k, nil, fmt.Errorf("%s is not a subject identifier object of strings", k)
		}
	}
	return key, s, s.Validate()
}
