package actions

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Steps that start at once share one token request; a dropped token is
// requested again; a refused credential is asked for once per run.
func TestTokenCache(t *testing.T) {
	var tc TokenCache
	var fetches atomic.Int32
	fetch := func() (string, time.Duration, Result) {
		n := fetches.Add(1)
		time.Sleep(10 * time.Millisecond) // long enough for the others to wait
		return "tok-" + string(rune('0'+n)), time.Hour, Result{}
	}
	var wg sync.WaitGroup
	toks := make([]string, 8)
	fresh := make([]bool, 8)
	for i := range toks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			toks[i], fresh[i], _, _ = tc.Get(context.Background(), time.Minute, fetch)
		}()
	}
	wg.Wait()
	nFresh := 0
	for i, tok := range toks {
		if tok != "tok-1" {
			t.Errorf("step %d got %q, want the one token tok-1", i, tok)
		}
		if fresh[i] {
			nFresh++
		}
	}
	if fetches.Load() != 1 || nFresh != 1 || tc.Current() != "tok-1" {
		t.Fatalf("%d fetches, %d fresh, current %q: want 1, 1, tok-1", fetches.Load(), nFresh, tc.Current())
	}

	tc.Drop("tok-1")
	if tok, fresh, _, _ := tc.Get(context.Background(), time.Minute, fetch); tok != "tok-2" || !fresh {
		t.Fatalf("after Drop: %q fresh=%v, want a new token", tok, fresh)
	}

	var refused TokenCache
	deny := func() (string, time.Duration, Result) {
		fetches.Add(1)
		return "", 0, Result{Outcome: Rejected, HTTPStatus: 401, Error: "the secret is wrong"}
	}
	before := fetches.Load()
	_, _, earlier, res := refused.Get(context.Background(), time.Minute, deny)
	if earlier || res.Outcome != Rejected {
		t.Fatalf("first refusal: earlier=%v %+v", earlier, res)
	}
	_, _, earlier, res = refused.Get(context.Background(), time.Minute, deny)
	if !earlier || res.Error != "the secret is wrong" || fetches.Load() != before+1 {
		t.Fatalf("second step: earlier=%v %+v after %d requests; want the kept refusal and no request", earlier, res, fetches.Load()-before)
	}
}

// A step waiting for another's token request can be cancelled.
func TestTokenCacheWaitIsCancellable(t *testing.T) {
	var tc TokenCache
	release := make(chan struct{})
	started := make(chan struct{})
	go tc.Get(context.Background(), time.Minute, func() (string, time.Duration, Result) {
		close(started)
		<-release
		return "tok", time.Hour, Result{}
	})
	<-started
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	tok, _, _, res := tc.Get(ctx, time.Minute, func() (string, time.Duration, Result) {
		t.Error("a cancelled step fetched a token")
		return "", 0, Result{}
	})
	close(release)
	if tok != "" || res.Outcome != Cancelled {
		t.Fatalf("cancelled wait: %q %+v", tok, res)
	}
}
