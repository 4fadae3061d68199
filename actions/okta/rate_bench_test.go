package okta

import (
	"context"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"ulc/actions"
	"ulc/sandbox/oktafake"
)

// BenchmarkRateLimit429Retry measures, on the wall clock, one search that
// meets a 429: the SDK waits for the window Okta announced (capped by
// MaxBackoff, here 1s) and retries. The wait is the point; the tests
// assert only that the retry happens.
func BenchmarkRateLimit429Retry(b *testing.B) {
	fake := oktafake.New(oktafake.Options{})
	fake.AddToken(testToken)
	c := benchClient(b, fake, Settings{MaxBackoff: time.Second})
	b.ResetTimer()
	for range b.N {
		fake.Force429(1)
		if _, err := c.Search(context.Background(), "trinity", 5, ""); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/search")
}

// BenchmarkPacedSearches measures, on the wall clock, five searches on a
// budget of four a second with no 429 retries allowed: the client waits
// for the window rather than spend the budget and fail.
func BenchmarkPacedSearches(b *testing.B) {
	fake := oktafake.New(oktafake.Options{})
	fake.AddToken(testToken)
	c := benchClient(b, fake, Settings{MaxRetries: -1, MaxBackoff: 3 * time.Second})
	fake.SetRateLimit(4, time.Second)
	b.ResetTimer()
	for range b.N {
		for i := range 5 {
			if _, err := c.Search(context.Background(), "trinity", 5, ""); err != nil {
				b.Fatalf("search %d: %v", i+1, err)
			}
		}
	}
	b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/5-searches")
}

// benchClient connects to fake, served on loopback, with s's bounds.
func benchClient(b *testing.B, fake *oktafake.Server, s Settings) *Client {
	b.Helper()
	cleanEnv(b)
	srv := httptest.NewServer(fake)
	b.Cleanup(srv.Close)
	s.OrgURL, s.Token, s.RequestTimeout = srv.URL, testToken, 10*time.Second
	c, err := Connect(context.Background(), s)
	if err != nil {
		b.Fatal(err)
	}
	return c
}

// BenchmarkBulkLookup10000 looks up 10,000 users at Okta's default budget
// of 600 requests a minute, one GET a user (perUser) and batched by
// Prefetch (batched). The stand-in's windows and the client's waits run on
// one fake clock, so the figure is the time the lookup would take against
// Okta (paced-min: waits plus the time really spent, on the fake clock)
// next to the ideal the budget sets for one request a user
// (ideal-min = 10,000 / 600).
func BenchmarkBulkLookup10000(b *testing.B) {
	const users, budget = 10000, 600
	for _, mode := range []string{"perUser", "batched"} {
		b.Run(mode, func(b *testing.B) {
			cleanEnv(b)
			clock := &benchClock{t: time.Now()}
			fake := oktafake.New(oktafake.Options{People: users, RateClock: clock.now})
			fake.AddToken(testToken)
			people := fake.People()[:users]
			refs := make([]string, len(people))
			for i, p := range people {
				refs[i] = p.Login
			}
			srv := httptest.NewServer(fake)
			b.Cleanup(srv.Close)
			c, err := Connect(context.Background(), Settings{OrgURL: srv.URL, Token: testToken, MaxRetries: -1})
			if err != nil {
				b.Fatal(err)
			}
			c.rt.now, c.rt.sleep = clock.now, clock.sleep
			var paced time.Duration
			b.ResetTimer()
			for range b.N {
				fake.SetRateLimit(budget, time.Minute)
				start := clock.now()
				ctx := context.Background()
				var dir interface {
					Resolve(context.Context, string) (actions.User, error)
				} = c
				if mode == "batched" {
					dir = c.Prefetch(ctx, refs)
				}
				for _, ref := range refs {
					if _, err := dir.Resolve(ctx, ref); err != nil {
						b.Fatal(err)
					}
				}
				paced += clock.now().Sub(start)
			}
			b.ReportMetric(paced.Minutes()/float64(b.N), "paced-min")
			b.ReportMetric(float64(users)/budget, "ideal-min")
		})
	}
}

// benchClock is a fake clock that also moves with the wall clock, so the
// time really spent counts beside the waits it skips.
type benchClock struct {
	mu    sync.Mutex
	t     time.Time
	since time.Time // wall time at t
}

func (c *benchClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.since.IsZero() {
		c.since = time.Now()
	}
	return c.t.Add(time.Since(c.since))
}

func (c *benchClock) sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
	return nil
}
