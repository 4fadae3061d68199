package okta

import (
	"context"
	"net/http/httptest"
	"testing"
	"time"

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
