// Package forward delivers the audit log to SIEMs: it writes each event as
// an RFC 5424 syslog message, a CEF or OCSF event inside one, or a Splunk
// HTTP Event Collector event, and sends it to every [[forward]]
// destination of targets.toml. The SQLite log is the outbox: a destination's
// cursor moves only once its events were written, a destination that is
// down is retried with backoff, and the run that produces the events never
// waits for any of it. Every line carries the event's seq and hash, so a
// SIEM can drop the duplicates an outage may cause.
package forward

import (
	"encoding/json"
	"strings"
	"time"

	"ulc/actions"
	"ulc/audit"
	"ulc/internal/safetext"
)

// Meta is what every line says about where it comes from.
type Meta struct {
	// Host is the name of the machine ulc runs on.
	Host string
	// Version is ulc's version.
	Version string
}

// record is the part of an audit event that is forwarded, every string
// already made printable: the same fields for every format, so the formats
// never disagree about an event. It never holds a request's body, headers
// or credential fingerprint: the planned step's detail stays in the log.
type record struct {
	Seq        int64
	Hash       string
	PrevHash   string
	Time       time.Time
	Run        string
	Kind       string
	Step       int
	User       string
	Target     string
	Action     string
	Attempt    int
	HTTPStatus int
	Outcome    string
	LatencyMS  int64
	Error      string
	RequestID  string
	ErrorCode  string
	// Run details, on run_started only.
	Operator   string
	Reason     string
	Ticket     string
	Origin     string // the host the run ran on
	DryRun     bool
	ResumeOf   string
	ConfigHash string
	Users      int
	Targets    int
	// Result is the run's tally, on run_finished only.
	Result string
	// Sign is what the watch saw, on watch_sign only: the containment
	// held (attempt) or someone got in after the run (alarm).
	Sign *signRecord
}

// signRecord is a watch sign's Okta System Log event, as forwarded.
type signRecord struct {
	Level, EventType, Result, Reason, App string
	IP, City, Country, Client, UUID       string
	Advice                                string
	AfterS                                int64
}

// text bounds every forwarded string: enough for any id, reason or error,
// and no line a SIEM truncates.
const text = 512

func clean(s string) string { return safetext.Line(s, text) }

// newRecord takes what is forwarded out of ev.
func newRecord(ev audit.Chained) record {
	r := record{
		Seq: ev.Seq, Hash: clean(ev.Hash), PrevHash: clean(ev.PrevHash), Time: ev.Time.UTC(),
		Run: clean(ev.RunID), Kind: clean(string(ev.Kind)), Step: ev.Step, User: clean(ev.User),
		Target: clean(ev.Target), Action: clean(string(ev.Action)), Attempt: ev.Attempt,
		HTTPStatus: ev.HTTPStatus, Outcome: clean(string(ev.Outcome)), LatencyMS: ev.LatencyMS,
		Error: clean(ev.Error), RequestID: clean(ev.RequestID), ErrorCode: clean(ev.ErrorCode),
	}
	switch ev.Kind {
	case actions.KindRunStarted:
		var info actions.RunInfo
		if json.Unmarshal(ev.Detail, &info) == nil {
			r.Operator, r.Reason, r.Ticket = clean(info.Operator), clean(info.Reason), clean(info.Ticket)
			r.Origin, r.DryRun, r.ResumeOf = clean(info.Host), info.DryRun, clean(info.ResumeOf)
			r.ConfigHash, r.Users, r.Targets = clean(info.ConfigDigest), len(info.Users), len(info.Targets)
		}
	case actions.KindRunFinished:
		var counts map[actions.Outcome]int
		if json.Unmarshal(ev.Detail, &counts) == nil {
			r.Result = clean(actions.Tally(counts, nil))
		}
	case actions.KindWatchSign:
		var sg actions.Sign
		if json.Unmarshal(ev.Detail, &sg) == nil {
			r.Sign = &signRecord{
				Level: clean(string(sg.Level)), EventType: clean(sg.EventType), Result: clean(sg.Result),
				Reason: clean(sg.Reason), App: clean(sg.App), IP: clean(sg.IP), City: clean(sg.City),
				Country: clean(sg.Country), Client: clean(sg.Client), UUID: clean(sg.UUID),
				Advice: clean(sg.Advice), AfterS: sg.AfterS,
			}
		}
	}
	return r
}

// alarm reports whether the event is a watch sign of someone getting in
// after the run: the most urgent event ulc forwards.
func (r record) alarm() bool { return r.Sign != nil && r.Sign.Level == string(actions.SignAlarm) }

// attempt reports whether the event is a watch sign of a denied attempt:
// the containment held, but someone is trying.
func (r record) attempt() bool { return r.Sign != nil && r.Sign.Level == string(actions.SignAttempt) }

// failed reports whether the event is one an analyst should look at: a
// step that did not succeed, or an attempt that will be retried.
func (r record) failed() bool {
	switch actions.Outcome(r.Outcome) {
	case actions.Rejected, actions.Failed, actions.Cancelled, actions.Unknown, actions.NotSent:
		return true
	}
	return r.Kind == string(actions.KindRetry)
}

// summary is one line about the event for people: what the SIEM shows as
// the message.
func (r record) summary() string {
	line := r.Kind
	if r.Step != 0 {
		name := r.Target
		if r.Action != "" && r.Action != string(actions.ActionGTR) {
			name = r.Action
		}
		line += " step " + itoa(int64(r.Step)) + " " + name
	}
	if r.User != "" {
		line += " user " + r.User
	}
	if r.Attempt != 0 {
		line += " attempt " + itoa(int64(r.Attempt))
	}
	if r.HTTPStatus != 0 {
		line += " http " + itoa(int64(r.HTTPStatus))
	}
	if r.Outcome != "" {
		line += " " + r.Outcome
	}
	if r.Result != "" {
		line += ": " + r.Result
	}
	if sg := r.Sign; sg != nil {
		line += " " + sg.Level + " " + sg.EventType + " " + sg.Result
		if sg.App != "" {
			line += " to " + sg.App
		}
		if sg.IP != "" {
			line += " from " + sg.IP
		}
		if place := strings.Trim(sg.City+", "+sg.Country, ", "); place != "" {
			line += " " + place
		}
		line += " " + itoa(sg.AfterS) + " s after revocation"
		if sg.Advice != "" {
			line += ": " + sg.Advice
		}
	}
	if r.Reason != "" {
		line += " by " + r.Operator + ": " + r.Reason
	}
	if r.Error != "" {
		line += ": " + r.Error
	}
	return line
}

// fields lists the record's non-empty fields in a fixed order, by the
// names RFC 5424 structured data and the HEC event use.
func (r record) fields() []field {
	var fs []field
	add := func(name, v string) {
		if v != "" {
			fs = append(fs, field{name, v, false})
		}
	}
	num := func(name string, v int64) {
		if v != 0 {
			fs = append(fs, field{name, itoa(v), true})
		}
	}
	num("seq", r.Seq)
	add("hash", r.Hash)
	add("prev_hash", r.PrevHash)
	add("run", r.Run)
	add("kind", r.Kind)
	num("step", int64(r.Step))
	add("user", r.User)
	add("target", r.Target)
	add("action", r.Action)
	num("attempt", int64(r.Attempt))
	num("http_status", int64(r.HTTPStatus))
	add("outcome", r.Outcome)
	num("latency_ms", r.LatencyMS)
	add("error", r.Error)
	add("error_code", r.ErrorCode)
	add("request_id", r.RequestID)
	add("operator", r.Operator)
	add("reason", r.Reason)
	add("ticket", r.Ticket)
	add("origin", r.Origin)
	if r.DryRun {
		fs = append(fs, field{"dry_run", "true", true})
	}
	add("resume_of", r.ResumeOf)
	add("config_digest", r.ConfigHash)
	num("users", int64(r.Users))
	num("targets", int64(r.Targets))
	add("result", r.Result)
	if sg := r.Sign; sg != nil {
		add("sign_level", sg.Level)
		add("okta_event_type", sg.EventType)
		add("okta_result", sg.Result)
		add("okta_reason", sg.Reason)
		add("app", sg.App)
		add("src_ip", sg.IP)
		add("src_city", sg.City)
		add("src_country", sg.Country)
		add("client", sg.Client)
		add("okta_uuid", sg.UUID)
		fs = append(fs, field{"after_revocation_s", itoa(sg.AfterS), true})
		add("advice", sg.Advice)
	}
	return fs
}

// field is one named value of a record; raw values are numbers or
// booleans, written without quotes in JSON.
type field struct {
	name, value string
	raw         bool
}
