package okta

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"ulc/sandbox/oktafake"
)

// statusServer serves fake on loopback and counts its answers by status.
func statusServer(t *testing.T, fake *oktafake.Server) (string, func() map[int]int) {
	t.Helper()
	var mu sync.Mutex
	counts := map[int]int{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		fake.ServeHTTP(rec, r)
		mu.Lock()
		counts[rec.status]++
		mu.Unlock()
	}))
	t.Cleanup(srv.Close)
	return srv.URL, func() map[int]int {
		mu.Lock()
		defer mu.Unlock()
		out := map[int]int{}
		for k, v := range counts {
			out[k] = v
		}
		return out
	}
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	w.status = code
	w.ResponseWriter.WriteHeader(code)
}

// 50 users looked up at a budget of 10 a minute: every lookup succeeds
// although no 429 retry is allowed, Okta never answers 429, and each of
// the four waits for the next window (about a minute each, far past the
// request timeout) is announced once with how far the lookup got. The
// stand-in's windows and the client's waits run on one fake clock.
func TestBulkLookupPacedByWindows(t *testing.T) {
	cleanEnv(t)
	clock := &fakeClock{t: time.Now()}
	fake := oktafake.New(oktafake.Options{People: 60, RateClock: clock.now})
	fake.AddToken(testToken)
	url, statuses := statusServer(t, fake)
	c, err := Connect(context.Background(), Settings{OrgURL: url, Token: testToken, MaxRetries: -1, RequestTimeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	c.rt.now, c.rt.sleep = clock.now, clock.sleep
	fake.SetRateLimit(10, time.Minute)

	var logins []string
	for _, p := range fake.People() {
		if len(logins) < 50 {
			logins = append(logins, p.Login)
		}
	}
	var waits []RateWait
	ctx := WithRateWait(context.Background(), len(logins), func(w RateWait) { waits = append(waits, w) })
	for i, login := range logins {
		u, err := c.Resolve(ctx, login)
		if err != nil {
			t.Fatalf("lookup %d of %s: %v", i+1, login, err)
		}
		if u.Login != login {
			t.Fatalf("lookup %d: got %s, want %s", i+1, u.Login, login)
		}
	}
	if n := statuses()[http.StatusTooManyRequests]; n != 0 {
		t.Fatalf("Okta answered 429 %d times", n)
	}
	if len(waits) != 4 {
		t.Fatalf("%d waits announced, want 4 (before lookups 11, 21, 31, 41): %+v", len(waits), waits)
	}
	line := regexp.MustCompile(`^Okta's rate limit for /api/v1/users/\{id\}: waiting \d+ s for the next window \(\d+ of 50 users looked up\)$`)
	for i, w := range waits {
		if w.Done != 10*(i+1) || w.Total != 50 {
			t.Errorf("wait %d at %d of %d users, want %d of 50", i+1, w.Done, w.Total, 10*(i+1))
		}
		if w.Wait < 30*time.Second || w.Wait > 62*time.Second {
			t.Errorf("wait %d of %v, want the rest of a one-minute window", i+1, w.Wait)
		}
		if !line.MatchString(w.String()) {
			t.Errorf("wait %d said %q", i+1, w.String())
		}
	}
	if got := clock.waits(); len(got) != 4 {
		t.Fatalf("slept %v, want one sleep per window", got)
	}
}

// The request timeout starts when the request leaves: a wait for the next
// window longer than the timeout is not cut short by it. Real clock: a
// window of two seconds and a timeout of one.
func TestPacedWaitOutlastsRequestTimeout(t *testing.T) {
	cleanEnv(t)
	fake := oktafake.New(oktafake.Options{})
	fake.AddToken(testToken)
	url, statuses := statusServer(t, fake)
	c, err := Connect(context.Background(), Settings{OrgURL: url, Token: testToken, MaxRetries: -1, RequestTimeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	fake.SetRateLimit(1, 2*time.Second)
	var waits []RateWait
	ctx := WithRateWait(context.Background(), 2, func(w RateWait) { waits = append(waits, w) })
	for i, login := range []string{"trinity@whiterabbit.fake", "neo@whiterabbit.fake"} {
		if _, err := c.Resolve(ctx, login); err != nil {
			t.Fatalf("lookup %d: %v", i+1, err)
		}
	}
	if n := statuses()[http.StatusTooManyRequests]; n != 0 {
		t.Fatalf("Okta answered 429 %d times", n)
	}
	if len(waits) != 1 {
		t.Fatalf("%d waits announced, want 1", len(waits))
	}
}

// ctrl+c during a wait for the window ends it with the context's error, and
// the request is not sent.
func TestPacedWaitCancelled(t *testing.T) {
	cleanEnv(t)
	clock := &fakeClock{t: time.Now()}
	fake := oktafake.New(oktafake.Options{RateClock: clock.now})
	fake.AddToken(testToken)
	url, statuses := statusServer(t, fake)
	c, err := Connect(context.Background(), Settings{OrgURL: url, Token: testToken, MaxRetries: -1})
	if err != nil {
		t.Fatal(err)
	}
	c.rt.now, c.rt.sleep = clock.now, clock.sleep
	fake.SetRateLimit(1, time.Minute)
	if _, err := c.Resolve(context.Background(), "trinity@whiterabbit.fake"); err != nil {
		t.Fatal(err)
	}
	sent := statuses()[http.StatusOK]
	ctx, cancel := context.WithCancel(context.Background())
	ctx = WithRateWait(ctx, 1, func(RateWait) { cancel() })
	_, err = c.Resolve(ctx, "neo@whiterabbit.fake")
	if !errors.Is(err, context.Canceled) && (err == nil || !regexp.MustCompile(`cancelled`).MatchString(err.Error())) {
		t.Fatalf("err = %v, want cancelled", err)
	}
	if got := statuses(); got[http.StatusOK] != sent || got[http.StatusTooManyRequests] != 0 {
		t.Fatalf("answers %v after the cancelled wait, want %d OK and no 429", got, sent)
	}
}

// Prefetch asks for 50 logins in three filter requests (20, 20, 10), so at
// a budget of 10 a minute nothing waits; the directory answers each of them
// as Resolve would, and the refs a batch cannot answer (an id, a login in
// another case, an unknown login, an email that is not a login) go through
// Resolve one by one with the answer Resolve gives.
func TestPrefetchBatchesLogins(t *testing.T) {
	cleanEnv(t)
	clock := &fakeClock{t: time.Now()}
	fake := oktafake.New(oktafake.Options{People: 60, RateClock: clock.now})
	fake.AddToken(testToken)
	var mu sync.Mutex
	var lines []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		lines = append(lines, r.Method+" "+r.URL.Path)
		mu.Unlock()
		fake.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	c, err := Connect(context.Background(), Settings{OrgURL: srv.URL, Token: testToken, MaxRetries: -1})
	if err != nil {
		t.Fatal(err)
	}
	c.rt.now, c.rt.sleep = clock.now, clock.sleep
	fake.SetRateLimit(10, time.Minute)
	mu.Lock()
	lines = nil
	mu.Unlock()

	people := fake.People()[:50]
	refs := make([]string, 0, len(people))
	for _, p := range people {
		refs = append(refs, p.Login)
	}
	var waits []RateWait
	ctx := WithRateWait(context.Background(), len(refs), func(w RateWait) { waits = append(waits, w) })
	dir := c.Prefetch(ctx, refs)
	mu.Lock()
	sent := append([]string(nil), lines...)
	lines = nil
	mu.Unlock()
	if len(sent) != 3 {
		t.Fatalf("Prefetch of 50 logins sent %d requests, want 3: %q", len(sent), sent)
	}
	for _, l := range sent {
		if l != "GET /api/v1/users" {
			t.Fatalf("Prefetch sent %q", l)
		}
	}
	for _, p := range people {
		u, err := dir.Resolve(ctx, p.Login)
		if err != nil || u.ID != p.ID || u.Login != p.Login || u.Status != p.Status {
			t.Fatalf("%s: %+v, %v; want %s %s", p.Login, u, err, p.ID, p.Status)
		}
	}
	mu.Lock()
	again := len(lines)
	mu.Unlock()
	if again != 0 || len(waits) != 0 || len(clock.waits()) != 0 {
		t.Fatalf("%d more requests and waits %v after the prefetch, want none", again, clock.waits())
	}

	// Refs a batch does not answer are resolved one by one, as before.
	trinity, _ := fake.Person("trinity@whiterabbit.fake")
	fake.SetRateLimit(100, time.Minute)
	mixed := []string{trinity.ID, "TRINITY@whiterabbit.fake", "nobody@whiterabbit.fake", people[0].Login}
	dir = c.Prefetch(context.Background(), mixed)
	for _, ref := range mixed[:2] {
		if u, err := dir.Resolve(context.Background(), ref); err != nil || u.ID != trinity.ID {
			t.Errorf("%s: %+v, %v; want %s", ref, u, err, trinity.ID)
		}
	}
	if _, err := dir.Resolve(context.Background(), "nobody@whiterabbit.fake"); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown login: %v, want not found", err)
	}
}

// A batch Okta refuses leaves its logins to Resolve, one request each:
// the plan gets the same users, only slower.
func TestPrefetchRefusedBatchFallsBack(t *testing.T) {
	cleanEnv(t)
	fake := oktafake.New(oktafake.Options{})
	fake.AddToken(testToken)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("filter") != "" {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusBadRequest)
			_, _ = w.Write([]byte(`{"errorCode":"E0000031","errorSummary":"Invalid search criteria.","errorId":"oaeX","errorCauses":[]}`))
			return
		}
		fake.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	c, err := Connect(context.Background(), Settings{OrgURL: srv.URL, Token: testToken, MaxRetries: -1})
	if err != nil {
		t.Fatal(err)
	}
	logins := []string{"trinity@whiterabbit.fake", "neo@whiterabbit.fake"}
	dir := c.Prefetch(context.Background(), logins)
	for _, l := range logins {
		want, _ := fake.Person(l)
		if u, err := dir.Resolve(context.Background(), l); err != nil || u.ID != want.ID {
			t.Errorf("%s: %+v, %v; want %s", l, u, err, want.ID)
		}
	}
}

// A search expression Okta refuses is answered with Okta's whole message:
// its summary and every cause, which say what to fix.
func TestSearchRefusalGivesOktasCauses(t *testing.T) {
	cleanEnv(t)
	fake := oktafake.New(oktafake.Options{})
	fake.AddToken(testToken)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("search") == "" || r.Header.Get("Authorization") != "SSWS "+testToken {
			fake.ServeHTTP(w, r) // the connection check, and any credential check
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		_, _ = w.Write([]byte(`{"errorCode":"E0000031","errorSummary":"Invalid search criteria.","errorId":"oaeX",` +
			`"errorCauses":[{"errorSummary":"Invalid search criteria: profile.departement is not a valid attribute"}]}`))
	}))
	t.Cleanup(srv.Close)
	c, err := Connect(context.Background(), Settings{OrgURL: srv.URL, Token: testToken, MaxRetries: -1})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Search(context.Background(), `profile.departement eq "Security"`, 20, "")
	if err == nil {
		t.Fatal("a refused search expression gave no error")
	}
	for _, want := range []string{"400", "E0000031", "Invalid search criteria", "profile.departement is not a valid attribute"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("the refusal %q lacks %q", err, want)
		}
	}
	if strings.Contains(err.Error(), testToken) {
		t.Error("the refusal shows the token")
	}
}
