package oktafake

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"
)

type testEvent struct {
	UUID           string `json:"uuid"`
	Published      string `json:"published"`
	EventType      string `json:"eventType"`
	DisplayMessage string `json:"displayMessage"`
	Severity       string `json:"severity"`
	Version        string `json:"version"`
	Outcome        struct {
		Result string `json:"result"`
		Reason string `json:"reason"`
	} `json:"outcome"`
	Actor struct {
		ID, Type, AlternateID, DisplayName string
	} `json:"actor"`
	Target []struct {
		ID, Type, AlternateID, DisplayName string
	} `json:"target"`
	Client struct {
		IPAddress           string `json:"ipAddress"`
		GeographicalContext struct {
			City, Country string
			PostalCode    string `json:"postalCode"` // a number here fails the decode, as it does in the SDK
		} `json:"geographicalContext"`
		UserAgent struct{ RawUserAgent, OS, Browser string } `json:"userAgent"`
	} `json:"client"`
	AuthenticationContext struct {
		ExternalSessionID string `json:"externalSessionId"`
	} `json:"authenticationContext"`
	SecurityContext struct {
		AsNumber *int64 `json:"asNumber"`
		IsProxy  *bool  `json:"isProxy"`
	} `json:"securityContext"`
	DebugContext struct {
		DebugData map[string]string `json:"debugData"`
	} `json:"debugContext"`
	Transaction struct{ Type, ID string } `json:"transaction"`
	Request     struct {
		IPChain []struct{ IP, Version string } `json:"ipChain"`
	} `json:"request"`
}

func (f *fixture) logs(path string) []testEvent {
	f.t.Helper()
	_, b := f.do(http.MethodGet, path, "SSWS "+tokAll, "")
	var evs []testEvent
	if err := json.Unmarshal(b, &evs); err != nil {
		f.t.Fatalf("%s: %v: %.300s", path, err, b)
	}
	return evs
}

func published(t *testing.T, e testEvent) time.Time {
	t.Helper()
	p, err := time.Parse(time.RFC3339, e.Published)
	if err != nil {
		t.Fatalf("published %q", e.Published)
	}
	return p
}

func TestLogsBoundedAndOrdered(t *testing.T) {
	f := start(t, Options{Now: fixedNow})
	now := fixedNow()
	since, until := now.Add(-3*24*time.Hour), now.Add(-24*time.Hour)
	window := "&since=" + q(since.Format(time.RFC3339)) + "&until=" + q(until.Format("2006-01-02T15:04:05.000Z"))
	all := f.logs("/api/v1/logs?limit=1000" + window)
	if len(all) < 50 {
		t.Fatalf("only %d events in two days", len(all))
	}
	for i, e := range all {
		p := published(t, e)
		if p.Before(since) || !p.Before(until) {
			t.Fatalf("event %d at %v outside [%v, %v)", i, p, since, until)
		}
		if i > 0 && p.Before(published(t, all[i-1])) {
			t.Fatalf("not ascending at %d", i)
		}
		if e.UUID == "" || e.Version != "0" || e.Transaction.ID == "" || len(e.Request.IPChain) == 0 || e.Outcome.Result == "" {
			t.Fatalf("thin event %+v", e)
		}
	}
	desc := f.logs("/api/v1/logs?limit=1000&sortOrder=DESCENDING" + window)
	if len(desc) != len(all) || desc[0].UUID != all[len(all)-1].UUID {
		t.Errorf("DESCENDING is not the reverse: %d vs %d", len(desc), len(all))
	}

	// Paging a bounded request ends, and gives the same events.
	var paged []testEvent
	next := "/api/v1/logs?limit=37" + window
	for pages := 0; next != ""; pages++ {
		if pages > 100 {
			t.Fatal("bounded paging does not end")
		}
		resp, b := f.get(next, http.StatusOK)
		var evs []testEvent
		if err := json.Unmarshal(b, &evs); err != nil {
			t.Fatal(err)
		}
		paged = append(paged, evs...)
		l := links(t, resp.Header)
		if len(l["self"]) != 1 {
			t.Fatalf("self links %v", l)
		}
		next = ""
		if len(l["next"]) == 1 {
			next = l["next"][0]
			if !strings.Contains(next, "until=") || !strings.Contains(next, "limit=37") {
				t.Fatalf("next link lost parameters: %s", next)
			}
		}
	}
	if len(paged) != len(all) {
		t.Fatalf("paged %d events, want %d", len(paged), len(all))
	}
	for i := range all {
		if paged[i].UUID != all[i].UUID {
			t.Fatalf("paged event %d differs", i)
		}
	}
}

func TestLogsFilterAndQ(t *testing.T) {
	f := start(t, Options{})
	trinity := f.person("trinity")
	window := "&limit=1000&since=" + q(time.Now().Add(-31*24*time.Hour).UTC().Format(time.RFC3339)) + "&until=" + q(time.Now().Add(time.Minute).UTC().Format(time.RFC3339))

	fails := f.logs("/api/v1/logs?filter=" + q(`eventType eq "user.session.start" and outcome.result eq "FAILURE"`) + window)
	if len(fails) < 5 {
		t.Errorf("%d failed sign-ins", len(fails))
	}
	for _, e := range fails {
		if e.EventType != "user.session.start" || e.Outcome.Result != "FAILURE" || e.Outcome.Reason == "" {
			t.Errorf("filtered event %+v", e)
		}
	}
	mine := f.logs("/api/v1/logs?filter=" + q(`actor.id eq "`+trinity.ID+`" or target.id eq "`+trinity.ID+`"`) + window)
	types := map[string]int{}
	countries := map[string]bool{}
	for _, e := range mine {
		types[e.EventType]++
		if c := e.Client.GeographicalContext.Country; c != "" {
			countries[c] = true
		}
	}
	for _, want := range []string{"user.session.start", "user.authentication.sso", "user.mfa.factor.activate", "policy.evaluate_sign_on", "user.authentication.auth_via_mfa", "user.mfa.okta_verify.deny_push", "user.risk.change"} {
		if types[want] == 0 {
			t.Errorf("trinity has no %s: %v", want, types)
		}
	}
	if !countries["Netherlands"] || !countries["United States"] {
		t.Errorf("countries %v", countries)
	}

	nl := f.logs("/api/v1/logs?q=" + q("amsterdam trinity") + window)
	if len(nl) == 0 {
		t.Fatal("no events for q=amsterdam trinity")
	}
	for _, e := range nl {
		if e.Client.GeographicalContext.City != "Amsterdam" || e.Client.IPAddress != attackerIP {
			t.Errorf("q matched %+v", e)
		}
		if e.SecurityContext.IsProxy == nil || !*e.SecurityContext.IsProxy || e.SecurityContext.AsNumber == nil {
			t.Errorf("attacker securityContext %+v", e.SecurityContext)
		}
	}
	enroll := f.logs("/api/v1/logs?filter=" + q(`eventType eq "user.mfa.factor.activate" and client.geographicalContext.country eq "Netherlands"`) + window)
	if len(enroll) != 1 || enroll[0].Target[1].DisplayName != "Google Authenticator" {
		t.Errorf("factor enrolment from NL: %+v", enroll)
	}
	co := f.logs("/api/v1/logs?filter=" + q(`eventType sw "user.lifecycle." and not (eventType co "create" or eventType eq "user.lifecycle.activate")`) + window)
	for _, e := range co {
		if !strings.HasPrefix(e.EventType, "user.lifecycle.") || strings.Contains(e.EventType, "create") {
			t.Errorf("sw/not: %s", e.EventType)
		}
	}
	if len(co) < 2 {
		t.Errorf("lifecycle events %d", len(co))
	}

	for _, bad := range []string{
		"/api/v1/logs?since=yesterday", "/api/v1/logs?until=2026-13-45", "/api/v1/logs?filter=" + q(`eventType eq`),
		"/api/v1/logs?filter=" + q(`published gt "2020-01-01T00:00:00Z"`), "/api/v1/logs?filter=" + q(`nonsense eq "x"`),
		"/api/v1/logs?sortOrder=UP", "/api/v1/logs?limit=x", "/api/v1/logs?since=" + q(time.Now().Add(-200*24*time.Hour).UTC().Format(time.RFC3339)),
		"/api/v1/logs?q=" + q(strings.Repeat("x", 41)), "/api/v1/logs?after=nope",
	} {
		resp, b := f.do(http.MethodGet, bad, "SSWS "+tokAll, "")
		okErr(t, resp, b, http.StatusBadRequest, "E0000053")
	}
	if got := f.logs("/api/v1/logs?limit=5000" + strings.Replace(window, "&limit=1000", "", 1)); len(got) != 1000 {
		t.Errorf("limit caps at 1000, got %d", len(got))
	}
	if got := f.logs("/api/v1/logs?sortOrder=DESCENDING"); len(got) != 100 {
		t.Errorf("default limit 100, got %d", len(got))
	}
}

func TestLogsPolling(t *testing.T) {
	f := start(t, Options{})
	since := time.Now().UTC().Format(time.RFC3339Nano)
	resp, b := f.get("/api/v1/logs?sortOrder=ASCENDING&since="+q(since), http.StatusOK)
	if string(b) != "[]" {
		t.Fatalf("nothing should have happened yet: %.200s", b)
	}
	next := links(t, resp.Header)["next"]
	if len(next) != 1 {
		t.Fatalf("a polling request always has a next link, even empty: %v", resp.Header.Values("Link"))
	}
	// Still empty: the next link comes back, unchanged in meaning.
	resp, b = f.get(next[0], http.StatusOK)
	if string(b) != "[]" || len(links(t, resp.Header)["next"]) != 1 {
		t.Fatalf("second poll %s %v", b, resp.Header.Values("Link"))
	}
	next = links(t, resp.Header)["next"]

	tank := f.person("tank")
	f.send(http.MethodDelete, "/api/v1/users/"+tank.ID+"/sessions", http.StatusNoContent)
	resp, b = f.get(next[0], http.StatusOK)
	var evs []testEvent
	if err := json.Unmarshal(b, &evs); err != nil || len(evs) < 2 || evs[0].EventType != "user.session.clear" {
		t.Fatalf("poll after clearing: %.300s", b)
	}
	for _, e := range evs {
		if e.Target[0].ID != tank.ID || e.Client.IPAddress != "127.0.0.1" || e.Client.UserAgent.RawUserAgent == "" {
			t.Errorf("API event %+v", e)
		}
	}
	next = links(t, resp.Header)["next"]
	if len(next) != 1 {
		t.Fatal("no next link after a full poll")
	}
	if _, b = f.get(next[0], http.StatusOK); string(b) != "[]" {
		t.Errorf("events delivered twice: %.200s", b)
	}
	// A bounded request has no next link on its last page.
	resp, _ = f.get("/api/v1/logs?since="+q(since)+"&until="+q(time.Now().Add(time.Minute).UTC().Format(time.RFC3339)), http.StatusOK)
	if l := links(t, resp.Header); len(l["next"]) != 0 {
		t.Errorf("bounded request with next: %v", l)
	}
}
