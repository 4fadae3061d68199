package actions_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"ulc/actions"
)

// throttled answers the first n requests with status and Retry-After
// retryAfter ("" for none), then 404: a healthy target that has no such
// user.
func throttled(n, status int, retryAfter string) func(http.ResponseWriter, *http.Request, int) {
	return func(w http.ResponseWriter, _ *http.Request, i int) {
		if i <= n {
			if retryAfter != "" {
				w.Header().Set("Retry-After", retryAfter)
			}
			w.WriteHeader(status)
			return
		}
		w.WriteHeader(http.StatusNotFound)
	}
}

// TestProbeWaitsOutAThrottle: a target that throttles the check (429 or 503
// with Retry-After) is asked again after the wait it named, within the
// target's retries, so a throttled but healthy target reads ok; one that
// stays throttled, or asks for a wait longer than a check waits, says so in
// one sentence with what to do; a 503 without Retry-After, an app that is
// failing, is not asked again.
func TestProbeWaitsOutAThrottle(t *testing.T) {
	cases := []struct {
		name    string
		handler func(http.ResponseWriter, *http.Request, int)
		extra   string
		outcome actions.Outcome
		hits    int32
		says    string
	}{
		{"429 once", throttled(1, 429, "0"), "", actions.NotFound, 2, "reachable, credential accepted"},
		{"503 with Retry-After once", throttled(1, 503, "0"), "", actions.NotFound, 2, "reachable, credential accepted"},
		{"429 without Retry-After once", throttled(1, 429, ""), "", actions.NotFound, 2, "reachable, credential accepted"},
		{"429 throughout", throttled(99, 429, "0"), "", actions.Failed, 3,
			"reachable, but it answered rate limited (429) 3 times, so the credential is not proven yet: check again in a few minutes"},
		{"429 with retries = 0", throttled(1, 429, "0"), "retries = 0", actions.Failed, 1, "rate limited (429) once"},
		{"429 asking for two minutes", throttled(1, 429, "120"), "", actions.Failed, 1,
			"asked to wait 2m0s, longer than a check waits (2s), so the credential is not proven yet"},
		{"503 without Retry-After", throttled(1, 503, ""), "", actions.Failed, 1, "server error (503)"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rc := newReceiver(t, c.handler)
			f := setup(t, bearerTarget("app", rc.URL+"/gtr", c.extra))
			res := actions.Probe(context.Background(), f.Targets[0], "", getenv)
			if res.Outcome != c.outcome || rc.hits.Load() != c.hits || !strings.Contains(res.Verdict, c.says) {
				t.Errorf("%s %q after %d requests; want %s saying %q after %d", res.Outcome, res.Verdict, rc.hits.Load(), c.outcome, c.says, c.hits)
			}
			if strings.Contains(res.Verdict, "R to retry") || strings.Contains(res.Verdict, "resume") {
				t.Errorf("the verdict says to retry a run: %q", res.Verdict)
			}
		})
	}
}
