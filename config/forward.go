package config

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"strings"
)

// Forwarding formats: how each audit event is written for a SIEM.
const (
	// FormatRFC5424 is a syslog message (RFC 5424) whose structured data
	// carries the event's fields.
	FormatRFC5424 = "rfc5424"
	// FormatCEF is ArcSight's Common Event Format, in a syslog message.
	FormatCEF = "cef"
	// FormatOCSF is an Open Cybersecurity Schema Framework 1.x JSON event,
	// in a syslog message.
	FormatOCSF = "ocsf"
	// FormatHEC is a Splunk HTTP Event Collector JSON event, POSTed over
	// HTTPS.
	FormatHEC = "hec"
)

// Forwarding transports: the scheme of a [[forward]] url.
const (
	// SchemeTLS is syslog over TLS with octet counting (RFC 5425).
	SchemeTLS = "tcp+tls"
	// SchemeTCP is syslog over plain TCP with octet counting (RFC 6587);
	// loopback only.
	SchemeTCP = "tcp"
	// SchemeUDP is syslog over UDP (RFC 5426), one message per datagram;
	// loopback only.
	SchemeUDP = "udp"
	// SchemeHTTPS is Splunk's HTTP Event Collector.
	SchemeHTTPS = "https"
	// SchemeHTTP is the HTTP Event Collector in clear; loopback only.
	SchemeHTTP = "http"
)

// Forward is one [[forward]]: a SIEM that receives every audit event.
type Forward struct {
	// Name identifies the destination in `ulc audit forward --name`, the
	// console header and the cursor the audit log keeps for it.
	Name string
	// Format is FormatRFC5424, FormatCEF, FormatOCSF or FormatHEC.
	Format string
	// URL is where events go, as written: tcp+tls://host:port,
	// tcp://127.0.0.1:port, udp://127.0.0.1:port, or an https:// HTTP
	// Event Collector endpoint (its path defaults to
	// /services/collector/event).
	URL string
	// Scheme is the URL's scheme in lower case (SchemeTLS, ...).
	Scheme string
	// Host is the URL's host:port.
	Host string
	// CAFile is the resolved path of a private CA bundle (PEM), or "".
	CAFile string
	// TokenEnv names the environment variable holding the HEC token.
	TokenEnv string
	// TokenFile is the resolved path of the file holding the HEC token.
	TokenFile string
	// Line is the line of the [[forward]] header.
	Line int
	// File is the path of the targets file, for messages.
	File string
}

type rawForward struct {
	Name      *string `toml:"name"`
	Format    *string `toml:"format"`
	URL       *string `toml:"url"`
	CAFile    *string `toml:"ca_file"`
	TokenEnv  *string `toml:"token_env"`
	TokenFile *string `toml:"token_file"`
}

// Forward returns the destination called name.
func (f *File) Forward(name string) (Forward, bool) {
	for _, fw := range f.Forwards {
		if fw.Name == name {
			return fw, true
		}
	}
	return Forward{}, false
}

// Where returns the prefix of every message about fw, such as
// `targets.toml:40: forward "siem"`.
func (fw Forward) Where() string {
	return location(fw.File, fw.Line, fmt.Sprintf("forward %q", fw.Name))
}

// Redacted is the URL without anything but scheme, host and path: what a
// status line may show.
func (fw Forward) Redacted() string {
	u, err := url.Parse(fw.URL)
	if err != nil {
		return fw.Scheme + "://" + fw.Host
	}
	return (&url.URL{Scheme: u.Scheme, Host: u.Host, Path: u.Path}).String()
}

func (fw Forward) errorf(format string, args ...any) *Error {
	return &Error{File: fw.File, Line: fw.Line, Scope: fmt.Sprintf("forward %q", fw.Name), Msg: fmt.Sprintf(format, args...)}
}

// LoadToken returns the HEC token named by token_env or token_file, or ""
// and no error for a destination that needs none. An error wraps
// ErrCredential and never holds the token.
func (fw Forward) LoadToken(getenv func(string) string) (string, error) {
	if getenv == nil {
		getenv = os.Getenv
	}
	token, pr := loadToken(getenv, fw.TokenEnv, fw.TokenFile)
	if pr != nil {
		e := fw.errorf("%s", pr.msg)
		if pr.cred {
			e.Err = ErrCredential
		}
		return "", e
	}
	return token, nil
}

// LoadCA returns the PEM bytes of fw's ca_file, or nil and no error when it
// has none.
func (fw Forward) LoadCA(ctx context.Context) ([]byte, error) {
	if fw.CAFile == "" {
		return nil, nil
	}
	data, err := await(ctx, func() ([]byte, error) {
		data, pr := readFileProblem("ca_file", fw.CAFile, "the CA certificates", maxCAFile, nil)
		if pr != nil {
			e := fw.errorf("%s", pr.msg)
			e.Err = ErrCredential
			return nil, e
		}
		return data, nil
	})
	if data == nil && err != nil && ctx.Err() != nil && errors.Is(err, ctx.Err()) {
		return nil, fmt.Errorf("%s: reading ca_file was interrupted: %w", fw.Where(), err)
	}
	return data, err
}

// forwards validates the [[forward]] tables.
func (p *parser) forwards(raw []rawForward) []Forward {
	out := make([]Forward, 0, len(raw))
	firstLine := map[string]int{}
	for i := range raw {
		fw := p.forward(i, &raw[i])
		if fw.Name != "" {
			if line, dup := firstLine[fw.Name]; dup {
				p.errAt(forwardScope(i, &fw.Name), "name", "duplicate name: the destination at line %d already uses it", line)
			} else {
				firstLine[fw.Name] = fw.Line
			}
		}
		out = append(out, fw)
	}
	return out
}

func (p *parser) forward(i int, rf *rawForward) Forward {
	sc := forwardScope(i, rf.Name)
	fw := Forward{File: p.file, Line: p.src.lineOf(sc, "")}
	switch {
	case rf.Name == nil:
		p.errAt(sc, "", "name is required, such as name = \"siem\"")
	case !nameRE.MatchString(*rf.Name):
		p.errAt(sc, "name", "name must be 1 to 64 letters, digits, '.', '_' or '-'")
	default:
		fw.Name = *rf.Name
	}
	if rf.Format == nil {
		p.errAt(sc, "", "format is required: %q, %q, %q or %q", FormatRFC5424, FormatCEF, FormatOCSF, FormatHEC)
	} else {
		fw.Format = p.oneOf(sc, "format", rf.Format, "", FormatRFC5424, FormatCEF, FormatOCSF, FormatHEC)
	}
	if rf.URL == nil {
		p.errAt(sc, "", "url is required, such as url = \"tcp+tls://siem.example.com:6514\"")
	} else if msg := forwardURLProblem(*rf.URL, fw.Format); msg != "" {
		p.errAt(sc, "url", "%s", msg)
	} else {
		u, _ := url.Parse(*rf.URL)
		fw.URL, fw.Scheme, fw.Host = *rf.URL, strings.ToLower(u.Scheme), u.Host
		if fw.Scheme == SchemeHTTPS || fw.Scheme == SchemeHTTP {
			if u.Path == "" || u.Path == "/" {
				u.Path = "/services/collector/event"
				fw.URL = u.String()
			}
		}
	}
	fw.CAFile = p.path(sc, "ca_file", rf.CAFile)
	if rf.CAFile != nil && fw.Scheme != "" && fw.Scheme != SchemeTLS && fw.Scheme != SchemeHTTPS {
		p.errAt(sc, "ca_file", "ca_file applies only to tcp+tls:// and https:// destinations")
	}
	fw.TokenEnv = p.envName(sc, "token_env", rf.TokenEnv)
	fw.TokenFile = p.path(sc, "token_file", rf.TokenFile)
	hasToken := rf.TokenEnv != nil || rf.TokenFile != nil
	switch {
	case rf.TokenEnv != nil && rf.TokenFile != nil:
		p.errAt(sc, "token_file", "set token_env or token_file, not both")
	case fw.Format == FormatHEC && !hasToken && rf.Format != nil:
		p.errAt(sc, "format", "format = %q needs the collector's token: name it with token_env or token_file", FormatHEC)
	case fw.Format != FormatHEC && fw.Format != "" && hasToken:
		key := "token_env"
		if rf.TokenEnv == nil {
			key = "token_file"
		}
		p.errAt(sc, key, "%s applies only to format = %q (syslog destinations authenticate with TLS)", key, FormatHEC)
	}
	return fw
}

// forwardURLProblem says what is wrong with a [[forward]] url for format,
// or returns "". Like urlProblem, it never echoes the URL.
func forwardURLProblem(raw, format string) string {
	u, err := url.Parse(raw)
	switch {
	case err != nil && strings.Contains(raw, "@"), err == nil && u.User != nil:
		return "url must not contain a user name or password; name the token with token_env or token_file"
	case err != nil:
		return "url is not a valid URL"
	case !u.IsAbs() || u.Opaque != "":
		return "url must be an absolute URL, such as tcp+tls://siem.example.com:6514"
	case u.Hostname() == "":
		return "url must include a host name"
	case u.Fragment != "" || strings.Contains(raw, "#"):
		return "url must not contain a fragment (#...)"
	}
	if msg := portProblem("url", u.Host); msg != "" {
		return msg
	}
	scheme := strings.ToLower(u.Scheme)
	if format == FormatHEC {
		switch {
		case scheme == SchemeHTTPS:
			return ""
		case scheme == SchemeHTTP && isLoopback(u.Hostname()):
			return ""
		}
		return fmt.Sprintf("url of a format = %q destination must use https (plain http only to loopback addresses)", FormatHEC)
	}
	switch scheme {
	case SchemeTLS, SchemeTCP, SchemeUDP:
	case SchemeHTTPS, SchemeHTTP:
		return fmt.Sprintf("url %s:// is for format = %q; syslog formats use tcp+tls://host:port", scheme, FormatHEC)
	default:
		return "url must be tcp+tls://host:port (tcp:// and udp:// only to loopback addresses)"
	}
	if u.Port() == "" {
		return "url must name the port, such as tcp+tls://siem.example.com:6514"
	}
	if (u.Path != "" && u.Path != "/") || u.RawQuery != "" {
		return "url of a syslog destination is host:port, without a path or query"
	}
	if scheme != SchemeTLS && !isLoopback(u.Hostname()) {
		return "url must use tcp+tls:// (tcp:// and udp:// are allowed only to loopback addresses, such as a local relay)"
	}
	if ip := net.ParseIP(u.Hostname()); ip != nil && ip.IsUnspecified() {
		return "url must name a host, not the unspecified address"
	}
	return ""
}
