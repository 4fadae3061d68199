package okta

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	sdk "github.com/okta/okta-sdk-golang/v2/okta"

	"ulc/actions"
	"ulc/config"
	"ulc/internal/safetext"
	"ulc/sandbox/oktafake"
)

// testToken is the SSWS token of the tests; no error may contain it.
const testToken = "00TestTok-do-not-print-7fQ2x9LmZ"

// fixture is a fake Okta org on loopback, with a log of every request line.
type fixture struct {
	fake *oktafake.Server
	url  string

	mu      sync.Mutex
	lines   []string
	retries []string // X-Okta-Retry-Count and X-Okta-Retry-For of each request
}

func newFixture(t *testing.T, o oktafake.Options) *fixture {
	t.Helper()
	cleanEnv(t)
	fx := &fixture{fake: oktafake.New(o)}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fx.mu.Lock()
		fx.lines = append(fx.lines, r.Method+" "+r.RequestURI)
		fx.retries = append(fx.retries, r.Header.Get("X-Okta-Retry-Count")+" "+r.Header.Get("X-Okta-Retry-For"))
		fx.mu.Unlock()
		fx.fake.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	fx.url = srv.URL
	return fx
}

// requests returns the request lines seen since the last call.
func (fx *fixture) requests() []string {
	fx.mu.Lock()
	defer fx.mu.Unlock()
	out := fx.lines
	fx.lines, fx.retries = nil, nil
	return out
}

func (fx *fixture) settings() Settings {
	return Settings{OrgURL: fx.url, Token: testToken, RequestTimeout: 10 * time.Second, MaxBackoff: time.Second}
}

// connect registers testToken with perms and connects with it.
func (fx *fixture) connect(t *testing.T, perms ...oktafake.Permission) *Client {
	t.Helper()
	fx.fake.AddToken(testToken, perms...)
	c, err := Connect(context.Background(), fx.settings())
	if err != nil {
		t.Fatalf("Connect: %v", err)
	}
	fx.requests()
	return c
}

// person finds a cast member.
func (fx *fixture) person(t *testing.T, match func(oktafake.Person) bool) oktafake.Person {
	t.Helper()
	for _, p := range fx.fake.People() {
		if match(p) {
			return p
		}
	}
	t.Fatal("no such person in the fake's cast")
	return oktafake.Person{}
}

func (fx *fixture) byLogin(t *testing.T, login string) oktafake.Person {
	return fx.person(t, func(p oktafake.Person) bool { return strings.EqualFold(p.Login, login) })
}

// noSecret fails when s holds the token.
func noSecret(t *testing.T, s string) {
	t.Helper()
	if strings.Contains(s, testToken) || strings.Contains(s, testToken[8:]) {
		t.Fatalf("message contains the token: %s", s)
	}
}

func TestConnectBadToken(t *testing.T) {
	fx := newFixture(t, oktafake.Options{})
	fx.fake.AddToken("some-other-token")
	_, err := Connect(context.Background(), fx.settings())
	want := "Okta rejected the API token (401 E0000011): check OKTA_CLIENT_TOKEN or [okta] token_file"
	if err == nil || err.Error() != want {
		t.Fatalf("err = %v\nwant %s", err, want)
	}
	// Settings resolved from the environment name the variable.
	s, _, _ := ResolveSettings(config.Okta{}, envMap(map[string]string{"OKTA_CLIENT_ORGURL": fx.url, "OKTA_CLIENT_TOKEN": testToken}), "")
	_, err = Connect(context.Background(), s)
	if err == nil || err.Error() != "Okta rejected the API token (401 E0000011): check OKTA_CLIENT_TOKEN" {
		t.Fatalf("err = %v", err)
	}
	noSecret(t, err.Error())
}

func TestConnectMissingScope(t *testing.T) {
	fx := newFixture(t, oktafake.Options{})
	fx.fake.AddToken(testToken, oktafake.PermLogs)
	_, err := Connect(context.Background(), fx.settings())
	if err == nil || err.Error() != "the Okta credential lacks okta.users.read (403 E0000006)" {
		t.Fatalf("err = %v", err)
	}
}

func TestConnectUnreachable(t *testing.T) {
	cleanEnv(t)
	ln, err := (&net.ListenConfig{}).Listen(context.Background(), "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := "http://" + ln.Addr().String()
	_ = ln.Close()
	_, err = Connect(context.Background(), Settings{OrgURL: addr, Token: testToken, RequestTimeout: 5 * time.Second})
	if err == nil || err.Error() != "cannot reach Okta at "+addr+": connection refused" {
		t.Fatalf("err = %v", err)
	}
}

func TestConnectBadSettings(t *testing.T) {
	cleanEnv(t)
	for name, s := range map[string]Settings{
		"http to a real host":  {OrgURL: "http://acme.okta.com", Token: testToken},
		"no token":             {OrgURL: "https://acme.okta.com"},
		"token with scheme":    {OrgURL: "https://acme.okta.com", Token: "SSWS " + testToken},
		"key mode without key": {OrgURL: "https://acme.okta.com", AuthMode: "private_key", ClientID: "0oa1", Scopes: []string{"okta.users.read"}},
		"key mode bad key":     {OrgURL: "https://acme.okta.com", AuthMode: "private_key", ClientID: "0oa1", Scopes: []string{"okta.users.read"}, PrivateKeyPEM: []byte("not a key")},
		"unknown mode":         {OrgURL: "https://acme.okta.com", AuthMode: "basic", Token: testToken},
	} {
		_, err := Connect(context.Background(), s)
		if err == nil {
			t.Errorf("%s: no error", name)
			continue
		}
		noSecret(t, err.Error())
		if strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: more than one line: %q", name, err)
		}
	}
}

// A stray OKTA_CLIENT_* variable cannot redirect the client.
func TestConnectIgnoresSDKEnvironment(t *testing.T) {
	fx := newFixture(t, oktafake.Options{})
	t.Setenv("OKTA_CLIENT_ORGURL", "https://evil.example.com")
	t.Setenv("OKTA_CLIENT_TOKEN", "stray-token")
	t.Setenv("OKTA_CLIENT_AUTHORIZATIONMODE", "Bearer")
	t.Setenv("OKTA_CLIENT_CACHE_ENABLED", "true")
	c := fx.connect(t)
	if _, err := c.Search(context.Background(), "trinity", 5, ""); err != nil {
		t.Fatal(err)
	}
	if c.OrgURL() != fx.url || c.Issuer() != fx.url {
		t.Fatalf("OrgURL %q Issuer %q", c.OrgURL(), c.Issuer())
	}
	cfg := c.sdk.GetConfig()
	if cfg.Okta.Client.OrgUrl != fx.url || cfg.Okta.Client.Token != testToken || cfg.Okta.Client.AuthorizationMode != "SSWS" || cfg.Okta.Client.Cache.Enabled {
		t.Fatalf("the SDK's environment leaked into the config")
	}
}

func TestResolveUnknownUser(t *testing.T) {
	fx := newFixture(t, oktafake.Options{})
	c := fx.connect(t)
	for _, ref := range []string{"nobody@whiterabbit.fake", "00uNOSUCHUSER0000000"} {
		_, err := c.Resolve(context.Background(), ref)
		if err == nil || err.Error() != `user "`+ref+`" not found in Okta` || !errors.Is(err, ErrNotFound) {
			t.Errorf("%s: err = %v", ref, err)
		}
	}
	for _, ref := range []string{"Thomas Anderson", "", "me", ".."} {
		if _, err := c.Resolve(context.Background(), ref); err == nil {
			t.Errorf("%q: resolved", ref)
		}
	}
	u, err := c.Resolve(context.Background(), "TRINITY@whiterabbit.fake")
	if err != nil || u.Login != "trinity@whiterabbit.fake" || !ValidID(u.ID) || u.Status == "" || u.Name == "" {
		t.Fatalf("trinity: %+v %v", u, err)
	}
}

func TestSearchModes(t *testing.T) {
	fx := newFixture(t, oktafake.Options{})
	c := fx.connect(t)
	ctx := context.Background()
	trinity := fx.byLogin(t, "trinity@whiterabbit.fake")

	// Plain word: q.
	page, err := c.Search(ctx, "trin", 10, "")
	if err != nil || !has(page, trinity.ID) {
		t.Fatalf("plain: %v %+v", err, page)
	}
	wantQuery(t, fx.requests(), "q=trin")

	// Exact email: filter on the login.
	page, err = c.Search(ctx, "trinity@whiterabbit.fake", 10, "")
	if err != nil || len(page.People) != 1 || page.People[0].ID != trinity.ID || page.Total != 1 {
		t.Fatalf("email: %v %+v", err, page)
	}
	wantQuery(t, fx.requests(), "filter=profile.login+eq+%22trinity%40whiterabbit.fake%22")

	// Expression: search, as written.
	expr := `profile.department eq "` + trinity.Department + `"`
	page, err = c.Search(ctx, expr, 200, "")
	if err != nil || !has(page, trinity.ID) {
		t.Fatalf("expression: %v %+v", err, page)
	}
	for _, p := range page.People {
		if p.Department != trinity.Department {
			t.Fatalf("expression matched %s of %q", p.Login, p.Department)
		}
	}
	wantQuery(t, fx.requests(), "search=profile.department+eq+")

	// A quote in a plain search cannot open a filter of its own: it
	// reaches Okta escaped inside the value.
	page, err = c.Search(ctx, `Thomas x"y\z`, 10, "")
	if err != nil || len(page.People) != 0 {
		t.Fatalf("injection: %v %+v", err, page)
	}
	wantQuery(t, fx.requests(), `profile.lastName+sw+%22x%5C%22y%5C%5Cz%22`)
	page, err = c.Search(ctx, `x"or"@whiterabbit.fake`, 10, "")
	if err != nil || len(page.People) != 0 {
		t.Fatalf("injection: %v %+v", err, page)
	}
	wantQuery(t, fx.requests(), `filter=profile.login+eq+%22x%5C%22or%5C%22%40whiterabbit.fake%22`)
}

func TestSearchAmbiguousName(t *testing.T) {
	fx := newFixture(t, oktafake.Options{})
	c := fx.connect(t)
	page, err := c.Search(context.Background(), "Thomas Anderson", 10, "")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, p := range page.People {
		if p.FirstName == "Thomas" && p.LastName == "Anderson" {
			n++
		}
	}
	if n != 2 {
		t.Fatalf("found %d Thomas Andersons, want 2: %+v", n, page.People)
	}
	// Resolve never guesses between them.
	if _, err := c.Resolve(context.Background(), "Thomas Anderson"); err == nil {
		t.Fatal("Resolve accepted a name")
	}
}

func TestCacheIsOff(t *testing.T) {
	fx := newFixture(t, oktafake.Options{})
	c := fx.connect(t)
	ctx := context.Background()
	before := fx.fake.Requests()
	for range 2 {
		if _, err := c.Search(ctx, "trinity", 10, ""); err != nil {
			t.Fatal(err)
		}
	}
	if got := fx.fake.Requests() - before; got != 2 {
		t.Fatalf("two searches reached Okta %d times", got)
	}

	trinity := fx.byLogin(t, "trinity@whiterabbit.fake")
	p, err := c.Get(ctx, trinity.ID)
	if err != nil || p.Status != "ACTIVE" {
		t.Fatalf("before: %v %+v", err, p)
	}
	if ans := c.Do(ctx, actions.ActionSuspend, p.User, false); ans.Err != nil || ans.HTTPStatus != 200 || ans.RequestID == "" {
		t.Fatalf("suspend: %+v", ans)
	}
	p, err = c.Get(ctx, trinity.ID)
	if err != nil || p.Status != "SUSPENDED" {
		t.Fatalf("after: %v %+v (stale cache?)", err, p)
	}
}

// After a 429 the SDK retries the same request once, marked as a retry
// of the 429's request id, and the client's own pacing adds no wait of
// its own to it. (How long the SDK waits is measured by
// BenchmarkRateLimit429Retry; a test does not assert wall time.)
func TestRateLimit429ThenSuccess(t *testing.T) {
	fx := newFixture(t, oktafake.Options{})
	c := fx.connect(t)
	clock := newFakeClock(c)
	fx.fake.Force429(1)
	before := fx.fake.Requests()
	page, err := c.Search(context.Background(), "trinity", 5, "")
	if err != nil || len(page.People) == 0 {
		t.Fatalf("after one 429: %v %+v", err, page)
	}
	if got := fx.fake.Requests() - before; got != 2 {
		t.Fatalf("%d requests, want the 429 and its retry", got)
	}
	fx.mu.Lock()
	retries := append([]string(nil), fx.retries...)
	fx.mu.Unlock()
	lines := fx.requests()
	if len(lines) != 2 || lines[0] != lines[1] {
		t.Fatalf("requests %q", lines)
	}
	if len(retries) != 2 || retries[0] != " " || !strings.HasPrefix(retries[1], "1 ") || len(retries[1]) < 10 {
		t.Fatalf("retry headers %q, want none on the first request and count 1 with the 429's request id on the second", retries)
	}
	if w := clock.waits(); len(w) != 0 {
		t.Fatalf("the transport paced the SDK's retry too: waits %v", w)
	}
	if rs := c.RateLimit(); rs.Limit == 0 || rs.Reset.IsZero() {
		t.Fatalf("RateLimit() = %+v", rs)
	}
}

func TestRateLimitExhausted(t *testing.T) {
	fx := newFixture(t, oktafake.Options{})
	fx.fake.AddToken(testToken)
	s := fx.settings()
	s.MaxRetries = -1 // one attempt
	c, err := Connect(context.Background(), s)
	if err != nil {
		t.Fatal(err)
	}
	trinity := fx.byLogin(t, "trinity@whiterabbit.fake")
	fx.fake.Force429(1)
	ans := c.Do(context.Background(), actions.ActionSuspend, actions.User{ID: trinity.ID}, false)
	if ans.HTTPStatus != 429 || ans.Err == nil || ans.RequestID == "" {
		t.Fatalf("answer %+v", ans)
	}
	if !regexp.MustCompile(`^Okta rate limit: the window resets at \d\d:\d\d:\d\d; R to retry then$`).MatchString(ans.Err.Error()) {
		t.Fatalf("Err = %q", ans.Err)
	}
	if p := fx.byLogin(t, "trinity@whiterabbit.fake"); p.Status != "ACTIVE" {
		t.Fatalf("suspended despite the 429: %s", p.Status)
	}
	// The engine classifies it as a failure, not a transport error.
	if o, _ := actions.Classify(ans.HTTPStatus, nil); o != actions.Failed {
		t.Fatalf("classified %s", o)
	}
}

// fakeClock is the pacing clock of a test: sleeping records the wait
// asked for and moves the clock on, at once.
type fakeClock struct {
	mu    sync.Mutex
	t     time.Time
	slept []time.Duration
}

// newFakeClock installs a fake clock, set to now, in c's transport.
func newFakeClock(c *Client) *fakeClock {
	fc := &fakeClock{t: time.Now()}
	if c != nil {
		c.rt.now, c.rt.sleep = fc.now, fc.sleep
	}
	return fc
}

func (fc *fakeClock) now() time.Time {
	fc.mu.Lock()
	defer fc.mu.Unlock()
	return fc.t
}

func (fc *fakeClock) sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	fc.mu.Lock()
	defer fc.mu.Unlock()
	fc.slept = append(fc.slept, d)
	fc.t = fc.t.Add(d)
	return nil
}

func (fc *fakeClock) waits() []time.Duration {
	fc.mu.Lock()
	defer fc.mu.Unlock()
	return append([]time.Duration(nil), fc.slept...)
}

// ratedOrg answers GET /api/v1/users with an empty page and, once limited
// is set, with Okta's rate-limit headers for a budget of limit requests
// per one-second window of clock, answering 429 past the budget.
type ratedOrg struct {
	clock   *fakeClock
	limit   int
	limited atomic.Bool

	mu     sync.Mutex
	window time.Time
	count  int
	served int
	over   int // requests answered 429
}

func (o *ratedOrg) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	if o.limited.Load() {
		now := o.clock.now()
		o.mu.Lock()
		if win := now.Truncate(time.Second); !win.Equal(o.window) {
			o.window, o.count = win, 0
		}
		o.count++
		o.served++
		left := o.limit - o.count
		if left < 0 {
			o.over++
		}
		o.mu.Unlock()
		w.Header().Set("Date", now.UTC().Format(http.TimeFormat))
		w.Header().Set("X-Rate-Limit-Limit", strconv.Itoa(o.limit))
		w.Header().Set("X-Rate-Limit-Remaining", strconv.Itoa(max(left, 0)))
		w.Header().Set("X-Rate-Limit-Reset", strconv.FormatInt(now.Truncate(time.Second).Add(time.Second).Unix(), 10))
		if left < 0 {
			w.WriteHeader(http.StatusTooManyRequests)
			_, _ = w.Write([]byte(`{"errorCode":"E0000047","errorSummary":"API call exceeded rate limit due to too many requests."}`))
			return
		}
	}
	_, _ = w.Write([]byte("[]"))
}

// With a small budget the client waits for the window instead of
// collecting 429s (no retries allowed here, so a 429 would fail a call):
// with 4 requests a window, the 5th and the 9th wait for the reset Okta
// announced (the window's end, measured from the answer's Date, plus the
// Date's rounding second), and no other waits.
func TestRateLimitPacing(t *testing.T) {
	cleanEnv(t)
	org := &ratedOrg{limit: 4}
	srv := httptest.NewServer(org)
	defer srv.Close()
	c, err := Connect(context.Background(), Settings{OrgURL: srv.URL, Token: testToken, MaxRetries: -1, MaxBackoff: 3 * time.Second, RequestTimeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	clock := newFakeClock(c)
	// A whole second, so the windows and the waits are exact.
	clock.t = clock.t.Truncate(time.Second)
	org.clock = clock
	org.limited.Store(true)
	for i := range 9 {
		if _, err := c.Search(context.Background(), "trinity", 5, ""); err != nil {
			t.Fatalf("call %d: %v", i+1, err)
		}
	}
	if got, want := clock.waits(), []time.Duration{2 * time.Second, 2 * time.Second}; !slices.Equal(got, want) {
		t.Fatalf("waits %v, want %v (before the 5th and the 9th call)", got, want)
	}
	org.mu.Lock()
	served, over := org.served, org.over
	org.mu.Unlock()
	if over != 0 || served != 9 {
		t.Fatalf("%d requests, %d over the budget", served, over)
	}
	if rs := c.RateLimit(); rs.Limit != 4 || rs.Reset.IsZero() {
		t.Fatalf("RateLimit() = %+v", rs)
	}
}

// pace waits exactly when the budget is spent, however long the window;
// a cancelled wait is the context's error.
func TestPaceWaits(t *testing.T) {
	const key = "GET /api/v1/users"
	answer := func(rt *rateTransport, remaining int, resetIn time.Duration) {
		now := rt.now()
		h := http.Header{}
		h.Set("Date", now.UTC().Format(http.TimeFormat))
		h.Set("X-Rate-Limit-Limit", "10")
		h.Set("X-Rate-Limit-Remaining", strconv.Itoa(remaining))
		h.Set("X-Rate-Limit-Reset", strconv.FormatInt(now.Add(resetIn).Unix(), 10))
		rt.record(context.Background(), key, &http.Response{StatusCode: 200, Header: h})
	}
	bg := context.Background()
	for _, tc := range []struct {
		name      string
		remaining int
		resetIn   time.Duration
		ctx       func(now time.Time) (context.Context, context.CancelFunc)
		want      []time.Duration
		wantErr   error
	}{
		{name: "budget left", remaining: 5, resetIn: 2 * time.Second},
		{name: "one left", remaining: 1, resetIn: 2 * time.Second},
		{name: "spent", remaining: 0, resetIn: 2 * time.Second, want: []time.Duration{3 * time.Second}},
		{name: "spent, a long window", remaining: 0, resetIn: 59 * time.Second, want: []time.Duration{60 * time.Second}},
		{name: "spent, cancelled", remaining: 0, resetIn: 2 * time.Second, wantErr: context.Canceled,
			ctx: func(time.Time) (context.Context, context.CancelFunc) {
				ctx, cancel := context.WithCancel(bg)
				cancel()
				return ctx, cancel
			}},
	} {
		rt, err := newRateTransport("https://acme.okta.com", 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		clock := &fakeClock{t: time.Now().Truncate(time.Second)}
		rt.now, rt.sleep = clock.now, clock.sleep
		answer(rt, tc.remaining, tc.resetIn)
		ctx, cancel := bg, context.CancelFunc(func() {})
		if tc.ctx != nil {
			ctx, cancel = tc.ctx(clock.now())
		}
		err = rt.pace(ctx, key)
		cancel()
		if !errors.Is(err, tc.wantErr) || (err != nil) != (tc.wantErr != nil) {
			t.Errorf("%s: err = %v, want %v", tc.name, err, tc.wantErr)
		}
		if got := clock.waits(); !slices.Equal(got, tc.want) {
			t.Errorf("%s: waits %v, want %v", tc.name, got, tc.want)
		}
	}

	// Once the window has passed, the budget is whole again.
	rt, _ := newRateTransport("https://acme.okta.com", 5*time.Second)
	clock := &fakeClock{t: time.Now().Truncate(time.Second)}
	rt.now, rt.sleep = clock.now, clock.sleep
	answer(rt, 0, time.Second)
	clock.t = clock.t.Add(3 * time.Second)
	if err := rt.pace(bg, key); err != nil || len(clock.waits()) != 0 {
		t.Fatalf("after the window: err %v, waits %v", err, clock.waits())
	}
}

func TestSearchPaging(t *testing.T) {
	fx := newFixture(t, oktafake.Options{People: 1000})
	c := fx.connect(t)
	total := len(fx.fake.People())
	seen := map[string]bool{}
	calls, cursor := 0, ""
	for {
		page, err := c.Search(context.Background(), "", 200, cursor)
		if err != nil {
			t.Fatal(err)
		}
		calls++
		if len(page.People) > 200 {
			t.Fatalf("page of %d", len(page.People))
		}
		for _, p := range page.People {
			if seen[p.ID] {
				t.Fatalf("%s twice", p.ID)
			}
			seen[p.ID] = true
		}
		if page.Next == "" {
			break
		}
		if calls > 20 {
			t.Fatal("paging does not end")
		}
		cursor = page.Next
	}
	active := 0
	for _, p := range fx.fake.People() {
		if p.Status != "DEPROVISIONED" {
			active++
		}
	}
	if len(seen) != active {
		t.Fatalf("found %d of %d (of %d)", len(seen), active, total)
	}
	if want := (active + 199) / 200; calls != want {
		t.Fatalf("%d calls for %d people", calls, active)
	}
	// One call with a larger limit reads several pages.
	fx.requests()
	page, err := c.Search(context.Background(), "", 500, "")
	if err != nil || len(page.People) < 500 || page.Next == "" || page.Total != -1 {
		t.Fatalf("limit 500: %v, %d people, next %q", err, len(page.People), page.Next)
	}
	if n := len(fx.requests()); n != 3 {
		t.Fatalf("limit 500 took %d requests, want 3 pages", n)
	}
	if _, err := c.Search(context.Background(), "", 10, "/api/v1/logs?x=1"); err == nil {
		t.Fatal("a foreign cursor was followed")
	}
}

func TestGetEscapesLogins(t *testing.T) {
	fx := newFixture(t, oktafake.Options{})
	c := fx.connect(t)
	ctx := context.Background()
	for _, sep := range []string{"/", "+"} {
		want := fx.person(t, func(p oktafake.Person) bool { return strings.Contains(p.Login, sep) })
		p, err := c.Get(ctx, want.Login)
		if err != nil || p.ID != want.ID {
			t.Fatalf("%s: %v %+v", want.Login, err, p)
		}
		u, err := c.Resolve(ctx, want.Login)
		if err != nil || u.ID != want.ID {
			t.Fatalf("resolve %s: %v", want.Login, err)
		}
		for _, line := range fx.requests() {
			if !strings.HasPrefix(line, "GET /api/v1/users") || strings.Count(strings.SplitN(line, "?", 2)[0], "/") > 4 {
				t.Fatalf("%s went to %s", want.Login, line)
			}
		}
	}
	// A ? or / in a ref stays inside the path segment.
	_, err := c.Get(ctx, "neo?limit=1&x=../../logs")
	if !errors.Is(err, ErrNotFound) {
		t.Fatalf("err = %v", err)
	}
	lines := fx.requests()
	if len(lines) != 1 || !strings.HasPrefix(lines[0], "GET /api/v1/users?filter=") {
		t.Fatalf("requests %q", lines)
	}
	_, err = c.Get(ctx, "neo?limit=1")
	lines = fx.requests()
	if !errors.Is(err, ErrNotFound) || len(lines) != 1 || lines[0] != "GET /api/v1/users/neo%3Flimit=1" {
		t.Fatalf("err %v, requests %q", err, lines)
	}
}

func TestDoActions(t *testing.T) {
	fx := newFixture(t, oktafake.Options{})
	c := fx.connect(t)
	ctx := context.Background()
	trinity := fx.byLogin(t, "trinity@whiterabbit.fake")
	u := actions.User{ID: trinity.ID, Login: trinity.Login}

	if fx.fake.Sessions(u.ID) == 0 {
		t.Fatal("the cast's trinity has no sessions to clear")
	}
	for _, forget := range []bool{false, true} {
		ans := c.Do(ctx, actions.ActionClearSessions, u, forget)
		if ans.Err != nil || ans.HTTPStatus != 204 || ans.RequestID == "" {
			t.Fatalf("clear sessions: %+v", ans)
		}
		_, path := actions.OktaRequest(actions.ActionClearSessions, u.ID, forget)
		if lines := fx.requests(); len(lines) != 2 || lines[0] != "DELETE "+path || lines[1] != "GET /api/v1/users/"+u.ID {
			t.Fatalf("requests %q, want DELETE %s and the read-back", lines, path)
		}
		if ans.Verified == nil || !*ans.Verified || !strings.HasPrefix(ans.Evidence, "lastLogin ") {
			t.Fatalf("clear sessions read back %v %q, want verified by lastLogin", ans.Verified, ans.Evidence)
		}
		if n := fx.fake.Sessions(u.ID); n != 0 {
			t.Fatalf("%d sessions left", n)
		}
	}
	if !strings.Contains(func() string { _, p := actions.OktaRequest(actions.ActionClearSessions, u.ID, true); return p }(), "forgetDevices=true") {
		t.Fatal("forgetDevices not in the path")
	}

	ans := c.Do(ctx, actions.ActionRevokeGrants, u, false)
	if ans.Err != nil || ans.HTTPStatus != 204 {
		t.Fatalf("revoke grants: %+v", ans)
	}
	if lines := fx.requests(); len(lines) != 1 || lines[0] != "DELETE /api/v1/users/"+u.ID+"/grants" {
		t.Fatalf("requests %q", lines)
	}

	if ans.Verified != nil {
		t.Fatalf("revoke grants has nothing to read back, yet says verified %v", *ans.Verified)
	}

	ans = c.Do(ctx, actions.ActionSuspend, u, false)
	if ans.Err != nil || ans.HTTPStatus != 200 || fx.byLogin(t, trinity.Login).Status != "SUSPENDED" {
		t.Fatalf("suspend: %+v", ans)
	}
	if ans.Verified == nil || !*ans.Verified || !strings.HasPrefix(ans.Evidence, "status SUSPENDED, lastLogin ") {
		t.Fatalf("suspend read back %v %q, want verified by status and lastLogin", ans.Verified, ans.Evidence)
	}
	fx.requests()
	// Suspending again is done: the user is where the step wants them.
	ans = c.Do(ctx, actions.ActionSuspend, u, false)
	if ans.Err != nil || ans.HTTPStatus != 200 {
		t.Fatalf("suspend again: %+v", ans)
	}
	if lines := fx.requests(); len(lines) != 2 || lines[1] != "GET /api/v1/users/"+u.ID {
		t.Fatalf("requests %q", lines)
	}

	ans = c.Do(ctx, actions.ActionDeactivate, u, false)
	if ans.Err != nil || ans.HTTPStatus != 200 || fx.byLogin(t, trinity.Login).Status != "DEPROVISIONED" {
		t.Fatalf("deactivate: %+v", ans)
	}
	if lines := fx.requests(); len(lines) != 2 || lines[0] != "POST /api/v1/users/"+u.ID+"/lifecycle/deactivate?sendEmail=false" {
		t.Fatalf("requests %q", lines)
	}
	if ans.Verified == nil || !*ans.Verified || !strings.HasPrefix(ans.Evidence, "status DEPROVISIONED") {
		t.Fatalf("deactivate read back %v %q", ans.Verified, ans.Evidence)
	}

	// Okta's refusal comes back as one sentence with its codes.
	other := fx.person(t, func(p oktafake.Person) bool { return p.Status == "ACTIVE" && p.ID != u.ID })
	c.Do(ctx, actions.ActionDeactivate, actions.User{ID: other.ID}, false)
	ans = c.Do(ctx, actions.ActionSuspend, actions.User{ID: other.ID}, false)
	if ans.Err == nil || ans.HTTPStatus != 400 || ans.ErrorCode != "E0000001" || ans.ErrorID == "" ||
		!strings.HasPrefix(ans.Err.Error(), "Okta refused (400 E0000001): ") {
		t.Fatalf("suspend deprovisioned: %+v", ans)
	}
	if !strings.HasSuffix(ans.Err.Error(), "; Okta will not suspend the user in their present status; check it in the Okta admin console") {
		t.Errorf("the refusal does not end in what to do: %q", ans.Err)
	}
	ans = c.Do(ctx, actions.ActionSuspend, actions.User{ID: "00uNOSUCHUSER0000000"}, false)
	if ans.HTTPStatus != 404 || ans.ErrorCode != "E0000007" {
		t.Fatalf("unknown user: %+v", ans)
	}
	if ans = c.Do(ctx, actions.ActionSuspend, actions.User{Login: "x@y"}, false); ans.Err == nil || ans.HTTPStatus != 0 {
		t.Fatalf("no id: %+v", ans)
	}
}

func TestDoNeedsManage(t *testing.T) {
	fx := newFixture(t, oktafake.Options{})
	c := fx.connect(t, oktafake.PermRead)
	trinity := fx.byLogin(t, "trinity@whiterabbit.fake")
	ans := c.Do(context.Background(), actions.ActionClearSessions, actions.User{ID: trinity.ID}, true)
	if ans.HTTPStatus != 403 || ans.ErrorCode != "E0000006" || ans.Err == nil {
		t.Fatalf("answer %+v", ans)
	}
	if !strings.HasSuffix(ans.Err.Error(), "; give the Okta credential okta.users.manage and an admin role over this user, then R to retry") {
		t.Errorf("the refusal does not say what the credential lacks: %q", ans.Err)
	}
	noSecret(t, ans.Err.Error())
}

func TestRevokeViaOkta(t *testing.T) {
	fx := newFixture(t, oktafake.Options{})
	c := fx.connect(t)
	trinity := fx.byLogin(t, "trinity@whiterabbit.fake")
	ans := c.RevokeViaOkta(context.Background(), actions.User{ID: trinity.ID})
	if ans.Err != nil || ans.HTTPStatus/100 != 2 {
		t.Fatalf("answer %+v", ans)
	}
	if lines := fx.requests(); len(lines) != 1 || lines[0] != "POST /oauth2/v1/global-token-revocation" {
		t.Fatalf("requests %q", lines)
	}
	if n := fx.fake.Sessions(trinity.ID); n != 0 {
		t.Fatalf("%d sessions left after Universal Logout", n)
	}
}

// TestUniversalLogoutStep: the run's Okta step goes to Okta's own GTR
// receiver, and an org without Identity Threat Protection (a credential
// without okta.universalLogout.manage) is refused with a sentence.
func TestUniversalLogoutStep(t *testing.T) {
	fx := newFixture(t, oktafake.Options{})
	c := fx.connect(t)
	neo := fx.byLogin(t, "neo@whiterabbit.fake")
	if ans := c.Do(context.Background(), actions.ActionUniversalLogout, actions.User{ID: neo.ID}, false); ans.Err != nil || ans.HTTPStatus != 204 {
		t.Fatalf("answer %+v", ans)
	}
	if lines := fx.requests(); len(lines) != 1 || lines[0] != "POST /oauth2/v1/global-token-revocation" {
		t.Fatalf("requests %q", lines)
	}

	narrow := newFixture(t, oktafake.Options{})
	c = narrow.connect(t, oktafake.PermRead, oktafake.PermManage)
	ans := c.Do(context.Background(), actions.ActionUniversalLogout, actions.User{ID: neo.ID}, false)
	if ans.Err == nil || ans.HTTPStatus != 403 {
		t.Fatalf("without the universal logout permission: %+v", ans)
	}
	noSecret(t, ans.Err.Error())
}

func TestActivity(t *testing.T) {
	fx := newFixture(t, oktafake.Options{})
	c := fx.connect(t)
	trinity := fx.byLogin(t, "trinity@whiterabbit.fake")
	acts, err := c.Activity(context.Background(), trinity.ID, time.Now().Add(-30*24*time.Hour), 100)
	if err != nil {
		t.Fatal(err)
	}
	if len(acts) == 0 {
		t.Fatal("no activity")
	}
	signIns := 0
	for i, a := range acts {
		if i > 0 && a.Time.After(acts[i-1].Time) {
			t.Fatalf("not newest first at %d", i)
		}
		if strings.HasPrefix(a.EventType, "user.session.start") || strings.Contains(a.EventType, "authentication") {
			signIns++
		}
		for _, s := range []string{a.EventType, a.Message, a.Outcome, a.IP, a.City, a.Country, a.Client, a.Device} {
			if s != safetext.Line(s, 0) {
				t.Fatalf("unsanitised %q", s)
			}
		}
	}
	if signIns == 0 {
		t.Fatalf("no sign-ins among %d events", len(acts))
	}
	lines := fx.requests()
	if len(lines) == 0 || !strings.Contains(lines[0], "sortOrder=DESCENDING") || !strings.Contains(lines[0], "until=") ||
		!strings.Contains(lines[0], "filter=actor.id+eq+%22"+trinity.ID+"%22+or+target.id+eq+%22"+trinity.ID+"%22") {
		t.Fatalf("requests %q", lines)
	}
	if _, err := c.Activity(context.Background(), "../x", time.Time{}, 10); err == nil {
		t.Fatal("bad id accepted")
	}
}

func TestFactors(t *testing.T) {
	fx := newFixture(t, oktafake.Options{})
	c := fx.connect(t)
	trinity := fx.byLogin(t, "trinity@whiterabbit.fake")
	fs, err := c.Factors(context.Background(), trinity.ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fs {
		if f.Type == "" || f.Status == "" {
			t.Fatalf("factor %+v", f)
		}
	}
	if _, err := c.Factors(context.Background(), "00uNOSUCHUSER0000000"); err == nil || !strings.Contains(err.Error(), "404") {
		t.Fatalf("err = %v", err)
	}
}

func TestPrivateKeyModes(t *testing.T) {
	fx := newFixture(t, oktafake.Options{})
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	pkcs8, _ := x509.MarshalPKCS8PrivateKey(rsaKey)
	keys := map[string][]byte{
		"pkcs8 rsa": pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pkcs8}),
		"pkcs1 rsa": pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(rsaKey)}),
		"ec p256":   ecP256(t),
	}
	for name, pemBytes := range keys {
		t.Run(name, func(t *testing.T) {
			clientID := "0oa" + strings.ReplaceAll(name, " ", "")
			fx.fake.AddServiceApp(clientID, mustParse(t, pemBytes), oktafake.PermRead, oktafake.PermManage)
			s := Settings{OrgURL: fx.url, AuthMode: "private_key", ClientID: clientID, KeyID: "kid-" + clientID,
				PrivateKeyPEM: pemBytes, Scopes: []string{"okta.users.read", "okta.users.manage"}, RequestTimeout: 10 * time.Second}
			c, err := Connect(context.Background(), s)
			if err != nil {
				t.Fatalf("Connect: %v", err)
			}
			u, err := c.Resolve(context.Background(), "trinity@whiterabbit.fake")
			if err != nil || !ValidID(u.ID) {
				t.Fatalf("Resolve: %v", err)
			}
			if ans := c.Do(context.Background(), actions.ActionRevokeGrants, u, false); ans.Err != nil {
				t.Fatalf("revoke grants: %+v", ans)
			}
			// The access token is fetched once and reused.
			if n := fx.fake.TokenRequests(); n == 0 {
				t.Fatal("no token request")
			}

			// A scope the app was not granted.
			s.Scopes = []string{"okta.users.read", "okta.logs.read"}
			_, err = Connect(context.Background(), s)
			if err == nil || !strings.Contains(err.Error(), "(invalid_scope)") || strings.Contains(err.Error(), "eyJ") {
				t.Fatalf("invalid scope: %v", err)
			}
		})
	}
	// A key the app does not know.
	fx.fake.AddServiceApp("0oaother", mustParse(t, ecP256(t)))
	_, err = Connect(context.Background(), Settings{OrgURL: fx.url, AuthMode: "private_key", ClientID: "0oaother",
		PrivateKeyPEM: ecP256(t), Scopes: []string{"okta.users.read"}})
	if err == nil || !strings.Contains(err.Error(), "invalid_client") || strings.Contains(err.Error(), "eyJ") {
		t.Fatalf("wrong key: %v", err)
	}
}

func TestConnectNotOkta(t *testing.T) {
	cleanEnv(t)
	for status, want := range map[int]string{
		404: "answered 404 to GET /api/v1/users: check that the org URL is the Okta org's base URL",
		200: `does not look like an Okta org: it answered with "text/html; charset=utf-8"`,
	} {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			w.WriteHeader(status)
			_, _ = w.Write([]byte("<html>hello</html>"))
		}))
		_, err := Connect(context.Background(), Settings{OrgURL: srv.URL, Token: testToken})
		srv.Close()
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%d: err = %v", status, err)
		}
	}
}

// Strings from Okta are made safe to print before they leave the package.
func TestSanitised(t *testing.T) {
	evil := "Ev\x1b[31mil\u202e\nName\x07"
	prof := sdk.UserProfile{"login": evil, "email": evil, "firstName": evil, "lastName": evil, "title": evil, "department": evil, "city": evil, "countryCode": evil}
	p := personFrom(&sdk.User{Id: "00u1\x1b[2J", Status: evil, Profile: &prof})
	for _, s := range []string{p.ID, p.Login, p.Email, p.Name, p.Status, p.FirstName, p.LastName, p.Title, p.Department, p.City, p.Country} {
		if strings.ContainsAny(s, "\x1b\u202e\n\x07") {
			t.Fatalf("unsanitised %q", s)
		}
	}
	a := activityFrom(&sdk.LogEvent{EventType: evil, DisplayMessage: evil, Outcome: &sdk.LogOutcome{Result: evil, Reason: evil},
		Client: &sdk.LogClient{IpAddress: evil, Device: evil, GeographicalContext: &sdk.LogGeographicalContext{City: evil, Country: evil},
			UserAgent: &sdk.LogUserAgent{Browser: evil, Os: evil}}})
	for _, s := range []string{a.EventType, a.Message, a.Outcome, a.IP, a.City, a.Country, a.Client, a.Device} {
		if s == "" || strings.ContainsAny(s, "\x1b\u202e\n\x07") {
			t.Fatalf("unsanitised %q", s)
		}
	}
}

// The engine runs several users' Okta steps at once.
func TestConcurrentUse(t *testing.T) {
	fx := newFixture(t, oktafake.Options{People: 20})
	c := fx.connect(t)
	people := fx.fake.People()[:8]
	var wg sync.WaitGroup
	errs := make(chan error, 2*len(people))
	for _, p := range people {
		wg.Add(2)
		go func() {
			defer wg.Done()
			if ans := c.Do(context.Background(), actions.ActionClearSessions, actions.User{ID: p.ID}, false); ans.Err != nil {
				errs <- ans.Err
			}
		}()
		go func() {
			defer wg.Done()
			if _, err := c.Get(context.Background(), p.ID); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	for _, p := range people {
		if n := fx.fake.Sessions(p.ID); n != 0 {
			t.Errorf("%s has %d sessions", p.Login, n)
		}
	}
}

func pkcs8RSA(t *testing.T) []byte {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
}

func ecP256(t *testing.T) []byte {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalECPrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der})
}

// parseKey returns the public half of a PEM private key.
func parseKey(pemBytes []byte) (any, error) {
	block, _ := pem.Decode(pemBytes)
	if block == nil {
		return nil, errors.New("no PEM")
	}
	if k, err := x509.ParsePKCS8PrivateKey(block.Bytes); err == nil {
		return k.(crypto.Signer).Public(), nil
	}
	if k, err := x509.ParsePKCS1PrivateKey(block.Bytes); err == nil {
		return k.Public(), nil
	}
	k, err := x509.ParseECPrivateKey(block.Bytes)
	if err != nil {
		return nil, err
	}
	return k.Public(), nil
}

func mustParse(t *testing.T, pemBytes []byte) any {
	t.Helper()
	k, err := parseKey(pemBytes)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func has(p Page, id string) bool {
	for _, x := range p.People {
		if x.ID == id {
			return true
		}
	}
	return false
}

func wantQuery(t *testing.T, lines []string, part string) {
	t.Helper()
	for _, l := range lines {
		if strings.Contains(l, part) {
			return
		}
	}
	t.Fatalf("no request with %q in %q", part, lines)
}

// TestPagingThroughJoinedLinkLines: when an intermediary joins Okta's Link
// lines into one, paging still follows rel="next" to the end, instead of
// reading the first page forever.
func TestPagingThroughJoinedLinkLines(t *testing.T) {
	cleanEnv(t)
	fake := oktafake.New(oktafake.Options{People: 300})
	fake.AddToken(testToken)
	joiner := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := httptest.NewRecorder()
		fake.ServeHTTP(rec, r)
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		if links := rec.Header().Values("Link"); len(links) > 1 {
			w.Header().Set("Link", strings.Join(links, ", "))
		}
		w.WriteHeader(rec.Code)
		_, _ = w.Write(rec.Body.Bytes())
	})
	srv := httptest.NewServer(joiner)
	defer srv.Close()
	c, err := Connect(context.Background(), Settings{OrgURL: srv.URL, Token: testToken, RequestTimeout: 10 * time.Second, MaxBackoff: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	cursor := ""
	for pages := 0; pages < 20; pages++ {
		page, err := c.Search(context.Background(), `status eq "ACTIVE"`, 100, cursor)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range page.People {
			seen[p.ID] = true
		}
		if cursor = page.Next; cursor == "" {
			break
		}
	}
	if cursor != "" || len(seen) < 300 {
		t.Fatalf("paged to %d people, cursor %q: the walk did not finish", len(seen), cursor)
	}
}
