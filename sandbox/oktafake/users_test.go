package oktafake

import (
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestQuickFindQ(t *testing.T) {
	f := start(t, Options{})
	us := f.users("/api/v1/users?q=thomas")
	if got := logins(us); !slices.Equal(got, []string{"neo@whiterabbit.fake", "thomas.anderson@whiterabbit.fake"}) {
		t.Errorf("q=thomas: %v", got)
	}
	if got := logins(f.users("/api/v1/users?q=ANDERSON")); len(got) != 2 {
		t.Errorf("q=ANDERSON (case-insensitive, last name): %v", got)
	}
	if got := logins(f.users("/api/v1/users?q=trinity%40white")); !slices.Equal(got, []string{"trinity@whiterabbit.fake"}) {
		t.Errorf("q on email prefix: %v", got)
	}
	if got := f.users("/api/v1/users?q=Thomas+Anderson"); len(got) != 0 {
		t.Errorf("q matches single fields only, got %v", logins(got))
	}
	if got := f.users("/api/v1/users?q=cypher"); len(got) != 0 {
		t.Errorf("q must omit DEPROVISIONED users: %v", logins(got))
	}
	if got := f.users("/api/v1/users?q=hale"); len(got) != 1 {
		t.Errorf("q=hale: %v", logins(got))
	}
	f2 := start(t, Options{People: 1000})
	resp, b := f2.get("/api/v1/users?q=a", http.StatusOK)
	var us2 []testUser
	_ = json.Unmarshal(b, &us2)
	if len(us2) != 10 {
		t.Errorf("q default limit: got %d users, want 10", len(us2))
	}
	if l := links(t, resp.Header); len(l["self"]) != 1 || len(l["next"]) != 0 {
		t.Errorf("q has no paging: %v", l)
	}
	if got := f2.users("/api/v1/users?q=a&limit=25"); len(got) != 25 {
		t.Errorf("q with limit=25: %d", len(got))
	}
}

func TestSearchSemantics(t *testing.T) {
	f := start(t, Options{})
	cases := []struct {
		expr string
		want []string // logins; nil means "check count only"
		n    int
	}{
		{`profile.firstName eq "thomas" and profile.lastName eq "ANDERSON"`, []string{"neo@whiterabbit.fake", "thomas.anderson@whiterabbit.fake"}, 2},
		{`profile.lastName eq "Bryant"`, []string{"tank@whiterabbit.fake", "dozer@whiterabbit.fake", "zee@whiterabbit.fake"}, 3},
		{`status eq "DEPROVISIONED"`, []string{"cypher@whiterabbit.fake", "rhineheart@whiterabbit.fake"}, 2},
		{`status eq "suspended"`, []string{"agent.smith@whiterabbit.fake"}, 1},
		{`profile.login co "+"`, []string{"ghost+contractor@whiterabbit.fake"}, 1},
		{`profile.login co "/"`, []string{"svc/construct@whiterabbit.fake"}, 1},
		{`profile.email sw "AGENT." and (status eq "STAGED" or status eq "PROVISIONED")`, []string{"agent.brown@whiterabbit.fake", "agent.jones@whiterabbit.fake"}, 2},
		{`profile.department eq "Finance" and profile.city eq "Dublin"`, []string{"thomas.anderson@whiterabbit.fake"}, 1},
		{`profile.lastName eq "O\"Brien"`, []string{}, 0},
		{`profile.FirstName eq "Thomas"`, []string{}, 0}, // property names are case-sensitive
		{`id eq "` + f.person("trinity").ID + `"`, []string{"trinity@whiterabbit.fake"}, 1},
		{`profile.nickName pr`, []string{"neo@whiterabbit.fake"}, 1},
		{`type.id eq "` + userTypeID + `" and profile.title sw "chief"`, nil, 4},
		{`created gt "2000-01-01T00:00:00.000Z" and status eq "LOCKED_OUT"`, []string{"switch@whiterabbit.fake", "merovingian@whiterabbit.fake"}, 2},
	}
	for _, c := range cases {
		got := logins(f.users("/api/v1/users?search=" + q(c.expr)))
		if len(got) != c.n || (c.want != nil && !slices.Equal(got, c.want)) {
			t.Errorf("search %s: got %v, want %v (%d)", c.expr, got, c.want, c.n)
		}
	}

	// (status lt "STAGED" or status gt "STAGED") is Okta's "ne": everyone not STAGED, DEPROVISIONED included.
	all := f.users("/api/v1/users?search=" + q(`id pr`))
	notStaged := f.users("/api/v1/users?search=" + q(`(status lt "STAGED" or status gt "STAGED")`))
	staged := 0
	for _, u := range all {
		if u.Status == "STAGED" {
			staged++
		}
	}
	if len(all) != len(f.s.People()) || len(notStaged) != len(all)-staged || staged != 3 {
		t.Errorf("all %d, not staged %d, staged %d", len(all), len(notStaged), staged)
	}

	for _, bad := range []string{
		`status eq`, `status ne "ACTIVE"`, `profile.department co "Sec"`, `foo eq "x"`, `Profile.firstName eq "x"`,
		`(status eq "ACTIVE"`, `status eq "ACTIVE" nand id pr`, `not status eq "ACTIVE"`, `profile.lastName eq "unterminated`,
		`created gt "yesterday"`, `status eq ACTIVE`,
	} {
		resp, b := f.do(http.MethodGet, "/api/v1/users?search="+q(bad), "SSWS "+tokAll, "")
		okErr(t, resp, b, http.StatusBadRequest, "E0000031")
	}
}

func TestSearchSortAndPaging(t *testing.T) {
	f := start(t, Options{People: 300})
	expr := q(`profile.department eq "Engineering"`)
	whole := f.users("/api/v1/users?search=" + expr + "&sortBy=profile.lastName&sortOrder=desc&limit=200")
	var paged []testUser
	next := "/api/v1/users?search=" + expr + "&sortBy=profile.lastName&sortOrder=desc&limit=7"
	pages := 0
	for next != "" {
		resp, b := f.get(next, http.StatusOK)
		var us []testUser
		if err := json.Unmarshal(b, &us); err != nil {
			t.Fatal(err)
		}
		paged = append(paged, us...)
		next = ""
		if l := links(t, resp.Header)["next"]; len(l) == 1 {
			next = l[0]
			if !strings.Contains(next, "sortBy=profile.lastName") || !strings.Contains(next, "limit=7") {
				t.Fatalf("next link lost parameters: %s", next)
			}
		}
		pages++
	}
	if len(whole) < 50 || len(whole) > 200 || pages != (len(whole)+6)/7 {
		t.Fatalf("%d engineers in %d pages", len(whole), pages)
	}
	if !slices.EqualFunc(whole, paged, func(a, b testUser) bool { return a.ID == b.ID }) {
		t.Errorf("paged search differs from the whole list")
	}
	for i := 1; i < len(whole); i++ {
		a, b := strings.ToLower(whole[i-1].Profile.LastName), strings.ToLower(whole[i].Profile.LastName)
		if a < b || (a == b && whole[i-1].ID < whole[i].ID) {
			t.Fatalf("not sorted by lastName desc at %d: %s %s", i, a, b)
		}
	}
}

func TestFilterSemantics(t *testing.T) {
	f := start(t, Options{})
	trinity := f.person("trinity")
	cases := []struct {
		expr string
		want []string
	}{
		{`profile.login eq "trinity@whiterabbit.fake"`, []string{"trinity@whiterabbit.fake"}},
		{`profile.login eq "TRINITY@whiterabbit.fake"`, nil}, // values are case-sensitive
		{`profile.email eq "neo@whiterabbit.fake" or profile.email eq "seraph@whiterabbit.fake"`, []string{"neo@whiterabbit.fake", "seraph@whiterabbit.fake"}},
		{`status eq "LOCKED_OUT"`, []string{"switch@whiterabbit.fake", "merovingian@whiterabbit.fake"}},
		{`status eq "DEPROVISIONED" and profile.lastName eq "Reagan"`, []string{"cypher@whiterabbit.fake"}},
		{`profile.firstName eq "Thomas" and profile.lastName eq "Anderson"`, []string{"neo@whiterabbit.fake", "thomas.anderson@whiterabbit.fake"}},
		{`profile.firstName eq "thomas"`, nil},
		{`id eq "` + trinity.ID + `"`, []string{"trinity@whiterabbit.fake"}},
		{`lastUpdated gt "2000-01-01T00:00:00.000Z" and profile.login eq "svc/construct@whiterabbit.fake"`, []string{"svc/construct@whiterabbit.fake"}},
		{`lastUpdated lt "2000-01-01T00:00:00.000Z"`, nil},
	}
	for _, c := range cases {
		if got := logins(f.users("/api/v1/users?filter=" + q(c.expr))); !slices.Equal(got, c.want) && (len(got) != 0 || len(c.want) != 0) {
			t.Errorf("filter %s: got %v, want %v", c.expr, got, c.want)
		}
	}
	for _, bad := range []string{
		`profile.department eq "Security"`, `status sw "A"`, `profile.login co "trin"`, `created gt "2000-01-01T00:00:00.000Z"`,
		`not (status eq "ACTIVE")`, `lastUpdated gt "soon"`, `status pr`,
	} {
		resp, b := f.do(http.MethodGet, "/api/v1/users?filter="+q(bad), "SSWS "+tokAll, "")
		okErr(t, resp, b, http.StatusBadRequest, "E0000031")
	}
}

func TestListPagingFollowsLinks(t *testing.T) {
	f := start(t, Options{People: 1000})
	want := 0
	for _, p := range f.s.People() {
		if p.Status != "DEPROVISIONED" {
			want++
		}
	}
	before := f.s.Requests()
	seen := map[string]bool{}
	next := f.ts.URL + "/api/v1/users?limit=200"
	pages := 0
	for next != "" {
		resp, b := f.get(next, http.StatusOK)
		var us []testUser
		if err := json.Unmarshal(b, &us); err != nil {
			t.Fatal(err)
		}
		for _, u := range us {
			if seen[u.ID] || u.Status == "DEPROVISIONED" {
				t.Fatalf("page %d: duplicate or deprovisioned %s", pages, u.ID)
			}
			seen[u.ID] = true
		}
		l := links(t, resp.Header)
		if len(l["self"]) != 1 || len(l["next"]) > 1 || len(resp.Header.Values("Link")) != len(l["self"])+len(l["next"]) {
			t.Fatalf("Link lines %q", resp.Header.Values("Link"))
		}
		if l["self"][0] != next {
			t.Errorf("self %s, want %s", l["self"][0], next)
		}
		next = ""
		if len(l["next"]) == 1 {
			next = l["next"][0]
			u, err := url.Parse(next)
			if err != nil || u.Host != strings.TrimPrefix(f.ts.URL, "http://") || u.Query().Get("limit") != "200" || u.Query().Get("after") == "" {
				t.Fatalf("next link %s", next)
			}
			if len(us) != 200 {
				t.Fatalf("a page before the last has %d users", len(us))
			}
		}
		pages++
	}
	if len(seen) != want || pages != (want+199)/200 {
		t.Errorf("saw %d users in %d pages, want %d", len(seen), pages, want)
	}
	if got := f.s.Requests() - before; got != pages {
		t.Errorf("Requests() grew by %d for %d pages", got, pages)
	}

	if got := f.users("/api/v1/users?limit=5000"); len(got) != 200 {
		t.Errorf("limit is capped at 200, got %d", len(got))
	}
	if got := f.users("/api/v1/users"); len(got) != 200 {
		t.Errorf("default limit is 200, got %d", len(got))
	}
	for _, bad := range []string{"abc", "0", "-3"} {
		resp, b := f.do(http.MethodGet, "/api/v1/users?limit="+bad, "SSWS "+tokAll, "")
		okErr(t, resp, b, http.StatusBadRequest, "E0000001")
	}
	// The filter list pages too, and includes DEPROVISIONED users.
	n := 0
	next = "/api/v1/users?limit=50&filter=" + q(`status eq "DEPROVISIONED" or status eq "SUSPENDED"`)
	for next != "" {
		resp, b := f.get(next, http.StatusOK)
		var us []testUser
		_ = json.Unmarshal(b, &us)
		n += len(us)
		next = ""
		if l := links(t, resp.Header)["next"]; len(l) == 1 {
			next = l[0]
		}
	}
	want = 0
	for _, p := range f.s.People() {
		if p.Status == "DEPROVISIONED" || p.Status == "SUSPENDED" {
			want++
		}
	}
	if n != want || want < 20 {
		t.Errorf("filtered paging: %d users, want %d", n, want)
	}
}

func TestGetUser(t *testing.T) {
	f := start(t, Options{})
	trinity := f.person("trinity@whiterabbit.fake")
	for _, key := range []string{trinity.ID, "trinity@whiterabbit.fake", "Trinity@WhiteRabbit.fake", "trinity"} {
		resp, b := f.get("/api/v1/users/"+url.PathEscape(key), http.StatusOK)
		var u testUser
		if err := json.Unmarshal(b, &u); err != nil || u.ID != trinity.ID {
			t.Errorf("GET %s: %s", key, b)
		}
		if resp.Header.Get("ETag") == "" || resp.Header.Get("Content-Type") != "application/json" {
			t.Errorf("headers %v", resp.Header)
		}
		if u.Links["suspend"].Href == "" || !strings.HasPrefix(u.Links["self"].Href, f.ts.URL+"/api/v1/users/") {
			t.Errorf("links %v", u.Links)
		}
	}
	for path, login := range map[string]string{
		"/api/v1/users/svc%2Fconstruct@whiterabbit.fake":    "svc/construct@whiterabbit.fake",
		"/api/v1/users/ghost%2Bcontractor@whiterabbit.fake": "ghost+contractor@whiterabbit.fake",
		"/api/v1/users/ghost+contractor@whiterabbit.fake":   "ghost+contractor@whiterabbit.fake",
		"/api/v1/users/thomas.anderson":                     "thomas.anderson@whiterabbit.fake",
		"/api/v1/users/" + url.PathEscape(trinity.ID):       "trinity@whiterabbit.fake",
		"/api/v1/users/cypher@whiterabbit.fake":             "cypher@whiterabbit.fake",
	} {
		_, b := f.get(path, http.StatusOK)
		var u testUser
		if err := json.Unmarshal(b, &u); err != nil || u.Profile.Login != login {
			t.Errorf("GET %s: %s", path, b)
		}
	}
	resp, b := f.do(http.MethodGet, "/api/v1/users/nobody@whiterabbit.fake", "SSWS "+tokAll, "")
	e := okErr(t, resp, b, http.StatusNotFound, "E0000007")
	if e.ErrorSummary != "Not found: Resource not found: nobody@whiterabbit.fake (User)" {
		t.Errorf("summary %q", e.ErrorSummary)
	}
	// An unescaped "/" changes the path, as with the SDK's unescaped ids.
	resp, b = f.do(http.MethodGet, "/api/v1/users/svc/construct@whiterabbit.fake", "SSWS "+tokAll, "")
	okErr(t, resp, b, http.StatusNotFound, "E0000008")
	// me is the admin behind the API token.
	_, b = f.get("/api/v1/users/me", http.StatusOK)
	if !strings.Contains(string(b), `"login":"seraph@whiterabbit.fake"`) {
		t.Errorf("me: %s", b)
	}
}

func TestLifecycleRules(t *testing.T) {
	f := start(t, Options{})
	neo := f.person("neo")
	base := "/api/v1/users/" + neo.ID + "/lifecycle/"
	since := time.Now().Add(-time.Second).UTC().Format(time.RFC3339)

	if b := f.send(http.MethodPost, base+"suspend", http.StatusOK); string(b) != "{}" {
		t.Errorf("suspend body %s", b)
	}
	if got := f.person("neo").Status; got != "SUSPENDED" {
		t.Fatalf("status %s", got)
	}
	resp, b := f.do(http.MethodPost, base+"suspend", "SSWS "+tokAll, "")
	if e := okErr(t, resp, b, http.StatusBadRequest, "E0000001"); e.ErrorSummary != "Cannot suspend a user that is not active" {
		t.Errorf("summary %q", e.ErrorSummary)
	}
	f.send(http.MethodPost, base+"unsuspend", http.StatusOK)
	resp, b = f.do(http.MethodPost, base+"unsuspend", "SSWS "+tokAll, "")
	okErr(t, resp, b, http.StatusBadRequest, "E0000001")
	f.send(http.MethodPost, base+"unlock", http.StatusOK) // ACTIVE: nothing to unlock, still fine

	sw := f.person("switch")
	f.send(http.MethodPost, "/api/v1/users/"+sw.ID+"/lifecycle/unlock", http.StatusOK)
	if got := f.person("switch").Status; got != "ACTIVE" {
		t.Errorf("unlocked switch is %s", got)
	}
	resp, b = f.do(http.MethodPost, "/api/v1/users/kid@whiterabbit.fake/lifecycle/unlock", "SSWS "+tokAll, "")
	okErr(t, resp, b, http.StatusBadRequest, "E0000001")
	resp, b = f.do(http.MethodPost, "/api/v1/users/kid@whiterabbit.fake/lifecycle/suspend", "SSWS "+tokAll, "")
	okErr(t, resp, b, http.StatusBadRequest, "E0000001")

	if f.s.Sessions(neo.ID) == 0 {
		t.Fatal("neo should have a session")
	}
	f.send(http.MethodPost, base+"deactivate?sendEmail=false", http.StatusOK)
	if p := f.person("neo"); p.Status != "DEPROVISIONED" || f.s.Sessions(neo.ID) != 0 {
		t.Errorf("after deactivate: %s with %d sessions", p.Status, f.s.Sessions(neo.ID))
	}
	resp, b = f.do(http.MethodPost, base+"deactivate", "SSWS "+tokAll, "")
	okErr(t, resp, b, http.StatusBadRequest, "E0000001")
	resp, b = f.do(http.MethodPost, "/api/v1/users/trinity/lifecycle/deactivate?sendEmail=perhaps", "SSWS "+tokAll, "")
	okErr(t, resp, b, http.StatusBadRequest, "E0000001")
	resp, b = f.do(http.MethodGet, base+"suspend", "SSWS "+tokAll, "")
	okErr(t, resp, b, http.StatusMethodNotAllowed, "E0000022")
	resp, b = f.do(http.MethodPost, base+"explode", "SSWS "+tokAll, "")
	okErr(t, resp, b, http.StatusNotFound, "E0000008")

	evs := f.logs("/api/v1/logs?since=" + q(since) + "&filter=" + q(`target.id eq "`+neo.ID+`"`))
	var types []string
	for _, e := range evs {
		types = append(types, e.EventType)
	}
	want := []string{"user.lifecycle.suspend", "user.lifecycle.unsuspend", "user.lifecycle.deactivate"}
	for _, w := range want {
		if !slices.Contains(types, w) {
			t.Errorf("events %v lack %s", types, w)
		}
	}
	if n := strings.Count(strings.Join(types, " "), "user.session.end"); n == 0 {
		t.Errorf("deactivation ended no sessions: %v", types)
	}
}

func TestDeleteUser(t *testing.T) {
	f := start(t, Options{})
	dozer := f.person("dozer")
	f.send(http.MethodDelete, "/api/v1/users/"+dozer.ID, http.StatusNoContent)
	if got := f.person("dozer").Status; got != "DEPROVISIONED" {
		t.Fatalf("first delete deactivates, status %s", got)
	}
	f.send(http.MethodDelete, "/api/v1/users/"+dozer.ID, http.StatusNoContent)
	resp, b := f.do(http.MethodGet, "/api/v1/users/"+dozer.ID, "SSWS "+tokAll, "")
	okErr(t, resp, b, http.StatusNotFound, "E0000007")
	if _, ok := f.s.Person("dozer"); ok {
		t.Error("deleted user still in People")
	}
}

func TestClearSessionsWritesEvents(t *testing.T) {
	f := start(t, Options{})
	trinity := f.person("trinity")
	n := f.s.Sessions(trinity.ID)
	if n < 2 {
		t.Fatalf("trinity has %d sessions, want her own and the attacker's", n)
	}
	clients := f.clients(trinity.ID)
	tokens := 0
	for _, c := range clients {
		var ts []map[string]any
		_, b := f.get("/api/v1/users/"+trinity.ID+"/clients/"+c+"/tokens", http.StatusOK)
		_ = json.Unmarshal(b, &ts)
		tokens += len(ts)
	}
	if tokens == 0 {
		t.Fatalf("trinity holds no refresh tokens (clients %v)", clients)
	}
	since := time.Now().Add(-time.Second).UTC().Format(time.RFC3339)

	resp, b := f.do(http.MethodDelete, "/api/v1/users/"+trinity.ID+"/sessions?oauthTokens=yes", "SSWS "+tokAll, "")
	okErr(t, resp, b, http.StatusBadRequest, "E0000001")
	if b := f.send(http.MethodDelete, "/api/v1/users/"+trinity.ID+"/sessions?oauthTokens=true&forgetDevices=false", http.StatusNoContent); len(b) != 0 {
		t.Errorf("204 with a body: %s", b)
	}
	if got := f.s.Sessions(trinity.ID); got != 0 {
		t.Errorf("%d sessions left", got)
	}
	for _, c := range clients {
		_, b := f.get("/api/v1/users/"+trinity.ID+"/clients/"+c+"/tokens", http.StatusOK)
		if string(b) != "[]" {
			t.Errorf("tokens of %s survive oauthTokens=true: %s", c, b)
		}
	}
	evs := f.logs("/api/v1/logs?since=" + q(since) + "&filter=" + q(`target.id eq "`+trinity.ID+`" and (eventType eq "user.session.clear" or eventType sw "user.session.end")`))
	clears, ends := 0, 0
	tx := ""
	for _, e := range evs {
		if tx == "" {
			tx = e.Transaction.ID
		}
		if e.Transaction.ID != tx || tx == "" {
			t.Errorf("transaction ids differ: %q %q", tx, e.Transaction.ID)
		}
		switch e.EventType {
		case "user.session.clear":
			clears++
			if e.DebugContext.DebugData["oauthTokens"] != "true" || e.DebugContext.DebugData["forgetDevices"] != "false" {
				t.Errorf("debugData %v", e.DebugContext.DebugData)
			}
			if e.Actor.AlternateID != "seraph@whiterabbit.fake" {
				t.Errorf("actor %+v", e.Actor)
			}
		case "user.session.end":
			ends++
		}
	}
	if clears != 1 || ends != n {
		t.Errorf("%d clear and %d end events, want 1 and %d", clears, ends, n)
	}
	// Clearing again still logs the admin's action, with nothing to end.
	f.send(http.MethodDelete, "/api/v1/users/"+trinity.ID+"/sessions", http.StatusNoContent)
}

func (f *fixture) clients(userID string) []string {
	f.t.Helper()
	_, b := f.get("/api/v1/users/"+userID+"/clients", http.StatusOK)
	var cs []struct {
		ClientID string `json:"client_id"`
		Name     string `json:"client_name"`
	}
	if err := json.Unmarshal(b, &cs); err != nil {
		f.t.Fatal(err)
	}
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = c.ClientID
	}
	return out
}

func TestGrantsClientsFactors(t *testing.T) {
	f := start(t, Options{People: 50})
	neo := f.person("neo")
	var grants []struct {
		ID, ClientID, ScopeID, Issuer, UserID, Status string
	}
	_, b := f.get("/api/v1/users/"+neo.ID+"/grants?limit=200", http.StatusOK)
	if err := json.Unmarshal(b, &grants); err != nil || len(grants) == 0 {
		t.Fatalf("grants %s", b)
	}
	for _, g := range grants {
		if g.Issuer != f.ts.URL || g.UserID != neo.ID || g.Status != "ACTIVE" || g.ScopeID == "" || !strings.HasPrefix(g.ID, "oag") {
			t.Errorf("grant %+v", g)
		}
	}
	if len(f.clients(neo.ID)) == 0 {
		t.Error("no clients")
	}
	_, b = f.get("/api/v1/users/"+neo.ID+"/grants/"+grants[0].ID, http.StatusOK)
	if !strings.Contains(string(b), grants[0].ID) {
		t.Errorf("one grant: %s", b)
	}
	f.send(http.MethodDelete, "/api/v1/users/"+neo.ID+"/grants", http.StatusNoContent)
	if _, b := f.get("/api/v1/users/"+neo.ID+"/grants", http.StatusOK); string(b) != "[]" {
		t.Errorf("grants after revoke: %s", b)
	}
	resp, b := f.do(http.MethodGet, "/api/v1/users/"+neo.ID+"/grants/"+grants[0].ID, "SSWS "+tokAll, "")
	okErr(t, resp, b, http.StatusNotFound, "E0000007")

	// Trinity's factors include the Google Authenticator enrolled from Amsterdam today.
	var factors []struct {
		FactorType, Provider, Status, Created string
	}
	_, b = f.get("/api/v1/users/trinity/factors", http.StatusOK)
	if err := json.Unmarshal(b, &factors); err != nil {
		t.Fatal(err)
	}
	fresh := false
	for _, fa := range factors {
		c, err := time.Parse(time.RFC3339, fa.Created)
		if err != nil {
			t.Fatalf("created %q", fa.Created)
		}
		if fa.FactorType == "token:software:totp" && fa.Provider == "GOOGLE" && time.Since(c) < 12*time.Hour {
			fresh = true
		}
	}
	if !fresh || len(factors) < 2 {
		t.Errorf("trinity's factors %s", b)
	}

	// A generated person's details appear on first use and stay put.
	gen := f.s.People()[len(cast)+3]
	_, b1 := f.get("/api/v1/users/"+gen.ID+"/factors", http.StatusOK)
	_, b2 := f.get("/api/v1/users/"+gen.ID+"/factors", http.StatusOK)
	if string(b1) != string(b2) {
		t.Error("generated factors changed between calls")
	}
	resp, b = f.do(http.MethodGet, "/api/v1/users/"+neo.ID+"/clients/0oaNOPE/tokens", "SSWS "+tokAll, "")
	okErr(t, resp, b, http.StatusNotFound, "E0000007")
}

func TestSessionByID(t *testing.T) {
	f := start(t, Options{})
	since := time.Now().Add(-time.Second).UTC().Format(time.RFC3339)
	neo := f.person("neo")
	evs := f.logs("/api/v1/logs?sortOrder=DESCENDING&limit=1&filter=" + q(`eventType eq "user.session.start" and actor.id eq "`+neo.ID+`" and outcome.result eq "SUCCESS"`))
	if len(evs) != 1 {
		t.Fatalf("no session.start for neo")
	}
	id := evs[0].AuthenticationContext.ExternalSessionID
	_, b := f.get("/api/v1/sessions/"+id, http.StatusOK)
	var se struct{ ID, UserID, Login, Status string }
	if err := json.Unmarshal(b, &se); err != nil || se.ID != id || se.UserID != neo.ID || se.Status != "ACTIVE" {
		t.Fatalf("session %s", b)
	}
	before := f.s.Sessions(neo.ID)
	f.send(http.MethodDelete, "/api/v1/sessions/"+id, http.StatusNoContent)
	if f.s.Sessions(neo.ID) != before-1 {
		t.Error("session not ended")
	}
	resp, b := f.do(http.MethodGet, "/api/v1/sessions/"+id, "SSWS "+tokAll, "")
	okErr(t, resp, b, http.StatusNotFound, "E0000007")
	if evs := f.logs("/api/v1/logs?since=" + q(since) + "&filter=" + q(`authenticationContext.externalSessionId eq "`+id+`"`)); len(evs) != 1 || evs[0].EventType != "user.session.end" {
		t.Errorf("end event %+v", evs)
	}
}

func TestScale100k(t *testing.T) {
	if testing.Short() {
		t.Skip("builds 100,000 people")
	}
	t0 := time.Now()
	f := start(t, Options{People: 100000})
	built := time.Since(t0)
	people := f.s.People()
	if len(people) != 100000+len(cast) {
		t.Fatalf("%d people", len(people))
	}
	p := people[len(people)-1]
	t1 := time.Now()
	_, b := f.get("/api/v1/users/"+url.PathEscape(p.Login), http.StatusOK)
	if !strings.Contains(string(b), p.ID) {
		t.Fatalf("get by login: %s", b)
	}
	if got := f.users("/api/v1/users?filter=" + q(`profile.login eq "`+p.Login+`"`)); len(got) != 1 || got[0].ID != p.ID {
		t.Errorf("filter by login: %v", logins(got))
	}
	if got := f.users("/api/v1/users?search=" + q(`profile.email eq "`+strings.ToUpper(p.Email)+`"`)); len(got) != 1 {
		t.Errorf("search by email: %v", logins(got))
	}
	if got := f.users("/api/v1/users?q=" + q(p.LastName)); len(got) != 10 {
		t.Errorf("q by last name: %d", len(got))
	}
	t.Logf("built 100,000 people in %v; four lookups in %v", built, time.Since(t1))
}

func TestDeterministic(t *testing.T) {
	a := New(Options{Seed: 7, People: 20, Now: fixedNow})
	b := New(Options{Seed: 7, People: 20, Now: fixedNow})
	c := New(Options{Seed: 8, People: 20, Now: fixedNow})
	if !slices.Equal(a.People(), b.People()) {
		t.Error("same seed, different people")
	}
	if slices.Equal(a.People(), c.People()) {
		t.Error("different seeds, same people")
	}
	if len(a.events) != len(b.events) {
		t.Fatal("different histories")
	}
	for i := range a.events {
		ja, _ := json.Marshal(a.events[i].j)
		jb, _ := json.Marshal(b.events[i].j)
		if string(ja) != string(jb) {
			t.Fatalf("event %d differs:\n%s\n%s", i, ja, jb)
		}
	}
	if p := a.People()[0]; p.Login != "trinity@whiterabbit.fake" || p.Status != "ACTIVE" || p.LastLogin.After(fixedNow()) {
		t.Errorf("first person %+v", p)
	}
}
