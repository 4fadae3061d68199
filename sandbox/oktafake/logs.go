package oktafake

import (
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// event is one System Log entry. Events are kept sorted by (published, seq);
// seq is the order in which they were written.
type event struct {
	seq       int64
	published time.Time
	text      string // lower-cased searchable text for q
	j         logEventJSON
}

type logEventJSON struct {
	Actor                 *logActor       `json:"actor"`
	Client                *logClient      `json:"client,omitempty"`
	AuthenticationContext *logAuthContext `json:"authenticationContext"`
	DisplayMessage        string          `json:"displayMessage"`
	EventType             string          `json:"eventType"`
	Outcome               *logOutcome     `json:"outcome"`
	Published             string          `json:"published"`
	SecurityContext       *logSecurity    `json:"securityContext"`
	Severity              string          `json:"severity"`
	DebugContext          *logDebug       `json:"debugContext"`
	LegacyEventType       string          `json:"legacyEventType,omitempty"`
	Transaction           *logTransaction `json:"transaction"`
	UUID                  string          `json:"uuid"`
	Version               string          `json:"version"`
	Request               *logRequest     `json:"request"`
	Target                []logActor      `json:"target,omitempty"`
}

// logActor is the shape of both LogActor and LogTarget.
type logActor struct {
	ID          string `json:"id"`
	Type        string `json:"type"`
	AlternateID string `json:"alternateId"`
	DisplayName string `json:"displayName"`
}

type logClient struct {
	UserAgent           *logUserAgent `json:"userAgent,omitempty"`
	Zone                string        `json:"zone,omitempty"`
	Device              string        `json:"device,omitempty"`
	ID                  string        `json:"id,omitempty"`
	IPAddress           string        `json:"ipAddress,omitempty"`
	GeographicalContext *logGeo       `json:"geographicalContext,omitempty"`
}

type logUserAgent struct {
	RawUserAgent string `json:"rawUserAgent"`
	OS           string `json:"os"`
	Browser      string `json:"browser"`
}

type logGeo struct {
	City        string       `json:"city,omitempty"`
	State       string       `json:"state,omitempty"`
	Country     string       `json:"country,omitempty"`
	PostalCode  string       `json:"postalCode,omitempty"`
	Geolocation *logLocation `json:"geolocation,omitempty"`
}

type logLocation struct {
	Lat float64 `json:"lat"`
	Lon float64 `json:"lon"`
}

type logAuthContext struct {
	AuthenticationProvider string `json:"authenticationProvider,omitempty"`
	CredentialProvider     string `json:"credentialProvider,omitempty"`
	CredentialType         string `json:"credentialType,omitempty"`
	Interface              string `json:"interface,omitempty"`
	AuthenticationStep     int    `json:"authenticationStep"`
	ExternalSessionID      string `json:"externalSessionId,omitempty"`
}

type logOutcome struct {
	Result string `json:"result"`
	Reason string `json:"reason,omitempty"`
}

type logSecurity struct {
	AsNumber *int64 `json:"asNumber,omitempty"`
	AsOrg    string `json:"asOrg,omitempty"`
	ISP      string `json:"isp,omitempty"`
	Domain   string `json:"domain,omitempty"`
	IsProxy  *bool  `json:"isProxy,omitempty"`
}

type logDebug struct {
	DebugData map[string]string `json:"debugData"`
}

type logTransaction struct {
	Type   string         `json:"type"`
	ID     string         `json:"id"`
	Detail map[string]any `json:"detail"`
}

type logRequest struct {
	IPChain []logIP `json:"ipChain"`
}

type logIP struct {
	IP                  string  `json:"ip"`
	GeographicalContext *logGeo `json:"geographicalContext,omitempty"`
	Version             string  `json:"version"`
}

// origin is where a request came from: a place and browser for generated
// sign-ins, or the HTTP client for API calls.
type origin struct {
	place *place
	ip    string
	ua    *agent
	zone  string
}

func (o origin) geo() *logGeo {
	if o.place == nil {
		return nil
	}
	p := o.place
	return &logGeo{City: p.city, State: p.state, Country: p.country, PostalCode: p.postal,
		Geolocation: &logLocation{Lat: p.lat, Lon: p.lon}}
}

func (o origin) client() *logClient {
	c := &logClient{IPAddress: o.ip, GeographicalContext: o.geo(), Zone: o.zone}
	if o.ua != nil {
		c.UserAgent = &logUserAgent{RawUserAgent: o.ua.raw, OS: o.ua.os, Browser: o.ua.browser}
		c.Device = o.ua.device
	}
	return c
}

func (o origin) security() *logSecurity {
	if o.place == nil {
		return &logSecurity{}
	}
	p := o.place
	asn, proxy := p.asn, p.proxy
	return &logSecurity{AsNumber: &asn, AsOrg: p.asOrg, ISP: p.isp, Domain: p.domain, IsProxy: &proxy}
}

func (o origin) request() *logRequest {
	version := "V4"
	if strings.Contains(o.ip, ":") {
		version = "V6"
	}
	return &logRequest{IPChain: []logIP{{IP: o.ip, GeographicalContext: o.geo(), Version: version}}}
}

// apiOrigin describes the HTTP client of an API call.
func apiOrigin(r *http.Request) origin {
	ua := r.UserAgent()
	if ua == "" {
		ua = "unknown"
	}
	return origin{ip: clientIP(r), ua: &agent{raw: ua, os: "Unknown", browser: "UNKNOWN", device: "Unknown"}}
}

func userActor(u *user) logActor {
	return logActor{ID: u.id, Type: "User", AlternateID: u.profile.Login, DisplayName: u.profile.DisplayName}
}

func appTarget(a *app) logActor {
	return logActor{ID: a.id, Type: "AppInstance", AlternateID: a.name, DisplayName: a.name}
}

// ev describes an event to write.
type ev struct {
	at       time.Time
	typ      string
	msg      string
	legacy   string
	result   string
	reason   string
	severity string
	actor    logActor
	targets  []logActor
	from     origin
	auth     *logAuthContext
	tx       string
	txDetail map[string]any
	debug    map[string]string
}

// addEvent writes an event to the System Log, keeping the log sorted.
func (s *Server) addEvent(e ev) *event {
	s.eventSeq++
	if e.result == "" {
		e.result = "SUCCESS"
	}
	if e.severity == "" {
		e.severity = "INFO"
	}
	if e.tx == "" {
		e.tx = seededID(s.rng, "", 27)
	}
	if e.auth == nil {
		e.auth = &logAuthContext{}
	}
	if e.txDetail == nil {
		e.txDetail = map[string]any{}
	}
	if e.debug == nil {
		e.debug = map[string]string{}
	}
	at := e.at.UTC().Truncate(time.Millisecond)
	le := &event{seq: s.eventSeq, published: at, j: logEventJSON{
		Actor: &e.actor, Client: e.from.client(), AuthenticationContext: e.auth,
		DisplayMessage: e.msg, EventType: e.typ,
		Outcome:   &logOutcome{Result: e.result, Reason: e.reason},
		Published: oktaTime(at), SecurityContext: e.from.security(), Severity: e.severity,
		DebugContext: &logDebug{DebugData: e.debug}, LegacyEventType: e.legacy,
		Transaction: &logTransaction{Type: "WEB", ID: e.tx, Detail: e.txDetail},
		UUID:        s.uuid(at), Version: "0", Request: e.from.request(), Target: e.targets,
	}}
	le.text = strings.ToLower(strings.Join(le.words(), " "))
	if s.building { // New sorts the history once at the end
		s.events = append(s.events, le)
		return le
	}
	i, _ := slices.BinarySearchFunc(s.events, le, byKey)
	s.events = slices.Insert(s.events, i, le)
	return le
}

func byKey(a, b *event) int { return compareKey(a.key(), b.key()) }

// uuid returns a version-1-looking UUID, as Okta's System Log uses.
func (s *Server) uuid(at time.Time) string {
	ts := uint64(at.UnixNano()/100) + 0x01B21DD213814000
	return fmt.Sprintf("%08x-%04x-1%03x-%04x-%012x", uint32(ts), uint16(ts>>32), uint16(ts>>48)&0x0fff,
		0x8000|s.rng.IntN(0x4000), s.rng.Uint64()&0xffffffffffff)
}

func (e *event) words() []string {
	j := &e.j
	w := []string{j.EventType, j.DisplayMessage, j.Outcome.Result, j.Outcome.Reason, j.Severity,
		j.Actor.ID, j.Actor.AlternateID, j.Actor.DisplayName}
	for _, t := range j.Target {
		w = append(w, t.ID, t.AlternateID, t.DisplayName)
	}
	if c := j.Client; c != nil {
		w = append(w, c.IPAddress)
		if c.GeographicalContext != nil {
			w = append(w, c.GeographicalContext.City, c.GeographicalContext.State, c.GeographicalContext.Country)
		}
		if c.UserAgent != nil {
			w = append(w, c.UserAgent.Browser, c.UserAgent.OS)
		}
	}
	return w
}

// eventKey orders events and is the System Log paging cursor.
type eventKey struct {
	ms  int64
	seq int64
}

func (e *event) key() eventKey { return eventKey{e.published.UnixMilli(), e.seq} }

func compareKey(a, b eventKey) int {
	if a.ms != b.ms {
		return cmpInt(a.ms, b.ms)
	}
	return cmpInt(a.seq, b.seq)
}

func cmpInt(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func (k eventKey) String() string {
	return strconv.FormatInt(k.ms, 10) + "_" + strconv.FormatInt(k.seq, 10)
}

func parseEventKey(s string) (eventKey, bool) {
	a, b, ok := strings.Cut(s, "_")
	if !ok {
		return eventKey{}, false
	}
	ms, err1 := strconv.ParseInt(a, 10, 64)
	seq, err2 := strconv.ParseInt(b, 10, 64)
	if err1 != nil || err2 != nil {
		return eventKey{}, false
	}
	return eventKey{ms, seq}, true
}

// strs and time make an event a SCIM record.
func (e *event) strs(attr string) []string {
	j := &e.j
	one := func(s string) []string {
		if s == "" {
			return nil
		}
		return []string{s}
	}
	if name, ok := strings.CutPrefix(attr, "debugContext.debugData."); ok {
		return one(j.DebugContext.DebugData[name])
	}
	if name, ok := strings.CutPrefix(attr, "target."); ok {
		var out []string
		for _, t := range j.Target {
			if v := t.get(name); v != "" {
				out = append(out, v)
			}
		}
		return out
	}
	if name, ok := strings.CutPrefix(attr, "actor."); ok {
		return one(j.Actor.get(name))
	}
	c := j.Client
	if c == nil {
		c = &logClient{}
	}
	geo := c.GeographicalContext
	if geo == nil {
		geo = &logGeo{}
	}
	ua := c.UserAgent
	if ua == nil {
		ua = &logUserAgent{}
	}
	sc := j.SecurityContext
	switch attr {
	case "eventType":
		return one(j.EventType)
	case "uuid":
		return one(j.UUID)
	case "severity":
		return one(j.Severity)
	case "displayMessage":
		return one(j.DisplayMessage)
	case "legacyEventType":
		return one(j.LegacyEventType)
	case "version":
		return one(j.Version)
	case "outcome.result":
		return one(j.Outcome.Result)
	case "outcome.reason":
		return one(j.Outcome.Reason)
	case "client.ipAddress":
		return one(c.IPAddress)
	case "client.zone":
		return one(c.Zone)
	case "client.device":
		return one(c.Device)
	case "client.id":
		return one(c.ID)
	case "client.userAgent.rawUserAgent":
		return one(ua.RawUserAgent)
	case "client.userAgent.os":
		return one(ua.OS)
	case "client.userAgent.browser":
		return one(ua.Browser)
	case "client.geographicalContext.city":
		return one(geo.City)
	case "client.geographicalContext.state":
		return one(geo.State)
	case "client.geographicalContext.country":
		return one(geo.Country)
	case "client.geographicalContext.postalCode":
		return one(geo.PostalCode)
	case "transaction.id":
		return one(j.Transaction.ID)
	case "transaction.type":
		return one(j.Transaction.Type)
	case "authenticationContext.externalSessionId":
		return one(j.AuthenticationContext.ExternalSessionID)
	case "authenticationContext.credentialType":
		return one(j.AuthenticationContext.CredentialType)
	case "authenticationContext.authenticationProvider":
		return one(j.AuthenticationContext.AuthenticationProvider)
	case "securityContext.asOrg":
		return one(sc.AsOrg)
	case "securityContext.isp":
		return one(sc.ISP)
	case "securityContext.domain":
		return one(sc.Domain)
	case "securityContext.asNumber":
		if sc.AsNumber != nil {
			return one(strconv.FormatInt(*sc.AsNumber, 10))
		}
		return nil
	case "securityContext.isProxy":
		if sc.IsProxy != nil {
			return one(strconv.FormatBool(*sc.IsProxy))
		}
		return nil
	case "request.ipChain.ip":
		var out []string
		for _, ip := range j.Request.IPChain {
			out = append(out, ip.IP)
		}
		return out
	}
	return nil
}

func (e *event) time(string) (time.Time, bool) { return time.Time{}, false }

func (a logActor) get(name string) string {
	switch name {
	case "id":
		return a.ID
	case "type":
		return a.Type
	case "alternateId":
		return a.AlternateID
	case "displayName":
		return a.DisplayName
	}
	return ""
}

// logAttrs are the attributes a System Log filter may name (besides
// debugContext.debugData.*).
var logAttrs = map[string]bool{
	"eventType": true, "uuid": true, "severity": true, "displayMessage": true,
	"legacyEventType": true, "version": true, "outcome.result": true, "outcome.reason": true,
	"actor.id": true, "actor.type": true, "actor.alternateId": true, "actor.displayName": true,
	"target.id": true, "target.type": true, "target.alternateId": true, "target.displayName": true,
	"client.ipAddress": true, "client.zone": true, "client.device": true, "client.id": true,
	"client.userAgent.rawUserAgent": true, "client.userAgent.os": true, "client.userAgent.browser": true,
	"client.geographicalContext.city": true, "client.geographicalContext.state": true,
	"client.geographicalContext.country": true, "client.geographicalContext.postalCode": true,
	"transaction.id": true, "transaction.type": true,
	"authenticationContext.externalSessionId": true, "authenticationContext.credentialType": true,
	"authenticationContext.authenticationProvider": true,
	"securityContext.asOrg":                        true, "securityContext.isp": true, "securityContext.domain": true,
	"securityContext.asNumber": true, "securityContext.isProxy": true, "request.ipChain.ip": true,
}

var logDialect = &dialect{
	name: "logs",
	allowed: func(attr, op string) bool {
		if logAttrs[attr] {
			return true
		}
		name, ok := strings.CutPrefix(attr, "debugContext.debugData.")
		return ok && name != ""
	},
}

// maxLogAge is how far back since may reach (Okta: 180 days).
const maxLogAge = 180 * 24 * time.Hour

func badLogParam(cause string) reply {
	return oktaErr(http.StatusBadRequest, "E0000053", "Invalid syntax", cause)
}

// handleLogs is GET /api/v1/logs.
func (s *Server) handleLogs(c *call) reply {
	q := c.query
	now := s.now()
	asc := true
	switch q.Get("sortOrder") {
	case "", "ASCENDING":
	case "DESCENDING":
		asc = false
	default:
		return badLogParam("sortOrder: must be ASCENDING or DESCENDING")
	}
	limit := 100
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return badLogParam("limit: must be an integer between 0 and 1000")
		}
		limit = min(n, 1000)
	}
	var until time.Time
	hasUntil := q.Get("until") != ""
	if hasUntil {
		t, ok := parseTime(q.Get("until"))
		if !ok {
			return badLogParam("until: The date format in your query is not recognized. Please enter dates using ISO8601 string format.")
		}
		until = t
	}
	polling := !hasUntil && asc
	since := now.Add(-7 * 24 * time.Hour)
	if hasUntil {
		since = until.Add(-7 * 24 * time.Hour)
	}
	if v := q.Get("since"); v != "" {
		t, ok := parseTime(v)
		if !ok {
			return badLogParam("since: The date format in your query is not recognized. Please enter dates using ISO8601 string format.")
		}
		since = t
	}
	if now.Sub(since) > maxLogAge {
		return badLogParam("since: must not be more than 180 days in the past")
	}
	if hasUntil && until.Before(since) {
		return badLogParam("until: must not be before since")
	}
	var after *eventKey
	if v := q.Get("after"); v != "" {
		k, ok := parseEventKey(v)
		if !ok {
			return badLogParam("after: invalid cursor")
		}
		after = &k
	}
	var expr node
	if v := q.Get("filter"); v != "" {
		n, err := parseFilter(v, logDialect)
		if err != nil {
			return badLogParam("filter: " + err.Error())
		}
		expr = n
	}
	var keywords []string
	if v := strings.TrimSpace(q.Get("q")); v != "" {
		keywords = strings.Fields(strings.ToLower(v))
		if len(keywords) > 10 {
			return badLogParam("q: at most 10 keywords")
		}
		for _, k := range keywords {
			if len(k) > 40 {
				return badLogParam("q: a keyword may have at most 40 characters")
			}
		}
	}

	match := func(e *event) bool {
		if e.published.Before(since) {
			return false
		}
		if hasUntil && !e.published.Before(until) {
			return false
		}
		if !hasUntil && !polling && e.published.After(now) {
			return false
		}
		if after != nil {
			c := compareKey(e.key(), *after)
			if (asc && c <= 0) || (!asc && c >= 0) {
				return false
			}
		}
		for _, k := range keywords {
			if !strings.Contains(e.text, k) {
				return false
			}
		}
		return expr == nil || eval(expr, e, logDialect)
	}

	page := make([]*logEventJSON, 0, min(limit, 100))
	more := false
	var last eventKey
	visit := func(e *event) bool {
		if !match(e) {
			return true
		}
		if len(page) == limit {
			more = true
			return false
		}
		page = append(page, &e.j)
		last = e.key()
		return true
	}
	if asc {
		for _, e := range s.events {
			if !visit(e) {
				break
			}
		}
	} else {
		for i := len(s.events) - 1; i >= 0; i-- {
			if !visit(s.events[i]) {
				break
			}
		}
	}

	addLink(c, "self", nil)
	if polling || more {
		cursor := last
		if len(page) == 0 {
			switch {
			case after != nil:
				cursor = *after
			default:
				cursor = eventKey{since.UnixMilli() - 1, 1 << 62}
			}
		}
		addLink(c, "next", map[string]string{"after": cursor.String()})
	}
	return jsonReply(http.StatusOK, page)
}

// parseTime reads an ISO-8601 timestamp (or a date).
func parseTime(s string) (time.Time, bool) {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.000Z0700", "2006-01-02T15:04:05Z0700", "2006-01-02T15:04Z07:00", "2006-01-02T15:04:05", "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}
