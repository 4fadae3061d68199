package forward

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"ulc/actions"
	"ulc/audit"
	"ulc/config"
)

// SDID is the SD-ID of the structured data element every RFC 5424 line
// carries. 32473 is the private enterprise number RFC 5612 reserves for
// documentation and examples; ulc has no number of its own.
const SDID = "ulc@32473"

// AppName is the APP-NAME of every syslog line, the product of CEF and
// the HEC source.
const AppName = "ulc"

// OCSFVersion is the OCSF schema version the OCSF lines follow: 1.3.0 is
// the first with the Remediation category (class 7001).
const OCSFVersion = "1.3.0"

// Line formats ev as format (config.FormatRFC5424, FormatCEF, FormatOCSF
// or FormatHEC). The syslog formats give a whole RFC 5424 message, without
// the transport's framing; FormatHEC gives one HTTP Event Collector event
// object. Every string in it is printable, one line, and escaped for the
// format.
func Line(format string, ev audit.Chained, m Meta) ([]byte, error) {
	r := newRecord(ev)
	switch format {
	case config.FormatRFC5424:
		return syslog(r, m, structured(r), r.summary()), nil
	case config.FormatCEF:
		return syslog(r, m, "-", cef(r, m)), nil
	case config.FormatOCSF:
		var body strings.Builder
		enc := json.NewEncoder(&body)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(ocsf(r, m)); err != nil {
			return nil, err
		}
		return syslog(r, m, "-", strings.TrimSuffix(body.String(), "\n")), nil
	case config.FormatHEC:
		return hec(r, m), nil
	}
	return nil, fmt.Errorf("forward: unknown format %q", format)
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// Syslog facility 13 is "log audit" (RFC 5424, table 1).
const facilityLogAudit = 13

// severity is the RFC 5424 severity of r: critical (2) for a watch alarm
// (someone got in after the run), warning (4) for a failure or a denied
// attempt the watch saw, notice (5) for run events and results,
// informational (6) otherwise.
func (r record) severity() int {
	switch {
	case r.alarm():
		return 2
	case r.failed(), r.attempt():
		return 4
	case r.Kind == string(actions.KindResult), r.Kind == string(actions.KindRunStarted), r.Kind == string(actions.KindRunFinished):
		return 5
	}
	return 6
}

// syslog is an RFC 5424 message: header, structured data and msg.
func syslog(r record, m Meta, sd, msg string) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, "<%d>1 %s %s %s - %s %s", facilityLogAudit*8+r.severity(),
		r.Time.Format("2006-01-02T15:04:05.000000Z07:00"), headerField(m.Host, 255), AppName,
		headerField(r.Kind, 32), sd)
	if msg != "" {
		b.WriteByte(' ')
		b.WriteString(msg)
	}
	return []byte(b.String())
}

// headerField is s as an RFC 5424 header field: PRINTUSASCII (33 to 126)
// of at most max characters, "-" when empty. Anything else becomes "_".
func headerField(s string, max int) string {
	if s == "" {
		return "-"
	}
	out := []byte(s)
	for i, c := range out {
		if c < 33 || c > 126 {
			out[i] = '_'
		}
	}
	if len(out) > max {
		out = out[:max]
	}
	return string(out)
}

// structured is the one SD-ELEMENT of an RFC 5424 line.
func structured(r record) string {
	var b strings.Builder
	b.WriteString("[" + SDID)
	for _, f := range r.fields() {
		b.WriteString(" " + f.name + `="` + sdEscape(f.value) + `"`)
	}
	b.WriteString("]")
	return b.String()
}

// sdEscape escapes a PARAM-VALUE: '"', '\' and ']' get a backslash
// (RFC 5424, section 6.3.3).
func sdEscape(s string) string { return sdEscaper.Replace(s) }

// The escapers, built once: a Replacer is safe for concurrent use.
var (
	sdEscaper    = strings.NewReplacer(`\`, `\\`, `"`, `\"`, `]`, `\]`)
	cefHeaderEsc = strings.NewReplacer(`\`, `\\`, `|`, `\|`, "\r", " ", "\n", " ")
	cefValueEsc  = strings.NewReplacer(`\`, `\\`, `=`, `\=`, "\r", `\r`, "\n", `\n`)
)

// cefHeader escapes a CEF header field: '\' and '|'.
func cefHeader(s string) string { return cefHeaderEsc.Replace(s) }

// cefValue escapes a CEF extension value: '\', '=' and line breaks.
func cefValue(s string) string { return cefValueEsc.Replace(s) }

// cefSeverity is 0 to 10: 10 for a watch alarm, 7 for a failure, 6 for a
// denied attempt the watch saw, 5 for a retry, 1 for a plan, 3 otherwise.
func (r record) cefSeverity() int {
	switch {
	case r.alarm():
		return 10
	case r.Kind == string(actions.KindRetry):
		return 5
	case r.failed():
		return 7
	case r.attempt():
		return 6
	case r.Kind == string(actions.KindPlanned):
		return 1
	}
	return 3
}

// cef is the CEF:0 event of r.
func cef(r record, m Meta) string {
	class := r.Kind
	if r.Action != "" {
		class = r.Action + ":" + r.Kind
	}
	name := r.Kind
	if r.Target != "" {
		name += " " + r.Target
	}
	if r.Outcome != "" {
		name += " " + r.Outcome
	}
	if r.Sign != nil {
		name += " " + r.Sign.Level
	}
	version := m.Version
	if version == "" {
		version = "dev"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "CEF:0|%s|%s|%s|%s|%s|%d|", cefHeader(AppName), cefHeader("Universal Logout Console"),
		cefHeader(version), cefHeader(class), cefHeader(name), r.cefSeverity())
	var ext []string
	add := func(key, v string) {
		if v != "" {
			ext = append(ext, key+"="+cefValue(v))
		}
	}
	num := func(key string, v int64) {
		if v != 0 {
			ext = append(ext, key+"="+itoa(v))
		}
	}
	labelled := func(key, label, v string) {
		if v != "" {
			ext = append(ext, key+"Label="+label, key+"="+cefValue(v))
		}
	}
	labelledNum := func(key, label string, v int64) {
		if v != 0 {
			ext = append(ext, key+"Label="+label, key+"="+itoa(v))
		}
	}
	num("rt", r.Time.UnixMilli())
	add("dvchost", m.Host)
	num("externalId", r.Seq)
	labelled("cs1", "run", r.Run)
	labelled("cs2", "hash", r.Hash)
	labelled("cs3", "prev_hash", r.PrevHash)
	labelledNum("cn1", "step", int64(r.Step))
	labelledNum("cn2", "attempt", int64(r.Attempt))
	labelledNum("cn3", "http_status", int64(r.HTTPStatus))
	add("duser", r.User)
	add("destinationServiceName", r.Target)
	add("act", r.Action)
	add("outcome", r.Outcome)
	add("suser", r.Operator)
	add("shost", r.Origin)
	add("reason", r.Reason)
	labelled("cs4", "ticket", r.Ticket)
	labelled("cs5", "config_digest", r.ConfigHash)
	labelled("cs6", "request_id", r.RequestID)
	if sg := r.Sign; sg != nil {
		add("src", sg.IP)
		add("requestClientApplication", sg.Client)
		add("cat", sg.Level+" "+sg.EventType)
		labelled("flexString1", "okta_uuid", sg.UUID)
		labelled("flexString2", "app", sg.App)
	}
	msg := r.Error
	if r.ErrorCode != "" {
		msg = strings.TrimSpace(msg + " [" + r.ErrorCode + "]")
	}
	if r.Result != "" {
		msg = r.Result
	}
	if r.Sign != nil {
		msg = r.Sign.Advice
	}
	add("msg", msg)
	b.WriteString(strings.Join(ext, " "))
	return b.String()
}

// hec is the HTTP Event Collector event of r: its time in seconds with
// milliseconds, and the record's fields as the event.
func hec(r record, m Meta) []byte {
	var b strings.Builder
	ms := r.Time.UnixMilli()
	fmt.Fprintf(&b, `{"time":%d.%03d,"host":%s,"source":%s,"sourcetype":"ulc:audit","event":{`,
		ms/1000, ms%1000, jsonString(m.Host), jsonString(AppName))
	fmt.Fprintf(&b, `"time":%s`, jsonString(r.Time.Format(time.RFC3339Nano)))
	for _, f := range r.fields() {
		v := f.value
		if !f.raw {
			v = jsonString(v)
		}
		b.WriteString("," + jsonString(f.name) + ":" + v)
	}
	b.WriteString("}}")
	return []byte(b.String())
}

// jsonString is s as a JSON string, without HTML escaping.
func jsonString(s string) string {
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s) // a string always encodes
	return strings.TrimSuffix(b.String(), "\n")
}
