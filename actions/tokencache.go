package actions

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// TokenCache is a connector's access token for one run. One step at a time
// asks the token endpoint (a waiting step can be cancelled); when many
// steps start at once, the first requests the token and the others use it.
// A refusal of the credential is kept too, so the run does not send the
// same refused request once per user. The zero value is ready to use.
type TokenCache struct {
	once sync.Once
	lock chan struct{} // a one-slot semaphore

	token   string
	expires time.Time
	refused *Result
	// live is the token too, for Current, which must not wait for the
	// lock (a token request may hold it).
	live atomic.Pointer[string]
}

// TokenFetch requests a new token, as a "token" call of the step asking.
// It returns the token and its lifetime, or, when there is none, the
// step's result; a Rejected result is kept as the credential's refusal.
type TokenFetch func() (tok string, life time.Duration, res Result)

// Get returns the run's token, calling fetch when there is none or the one
// there expires within margin (or is past half its life). fresh says this
// call fetched it. When tok is "", res is the step's result, and earlier
// says it is the refusal of an earlier step: nothing was sent for this one.
func (tc *TokenCache) Get(ctx context.Context, margin time.Duration, fetch TokenFetch) (tok string, fresh, earlier bool, res Result) {
	tc.once.Do(func() { tc.lock = make(chan struct{}, 1) })
	select {
	case tc.lock <- struct{}{}:
		defer func() { <-tc.lock }()
	case <-ctx.Done():
		return "", false, false, Result{Outcome: Cancelled, Error: "cancelled before it was sent: " + retryHint}
	}
	if tc.token != "" && time.Now().Before(tc.expires) {
		return tc.token, false, false, Result{}
	}
	if tc.refused != nil {
		return "", false, true, *tc.refused
	}
	asked := time.Now()
	tok, life, res := fetch()
	if tok == "" {
		if res.Outcome == Rejected {
			r := res
			tc.refused = &r
		}
		return "", false, false, res
	}
	tc.token, tc.expires = tok, asked.Add(max(life-margin, life/2))
	tc.live.Store(&tok)
	return tok, true, false, Result{}
}

// Drop forgets tok, which the API refused, unless a newer token replaced
// it already.
func (tc *TokenCache) Drop(tok string) {
	tc.once.Do(func() { tc.lock = make(chan struct{}, 1) })
	tc.lock <- struct{}{}
	defer func() { <-tc.lock }()
	if tc.token == tok {
		tc.token, tc.expires = "", time.Time{}
	}
}

// Current is the token last issued, or "", without waiting: for removing
// it from text an endpoint echoed.
func (tc *TokenCache) Current() string {
	if p := tc.live.Load(); p != nil {
		return *p
	}
	return ""
}
