package caep

// Contract tests against Okta's published receiver spec (the trimmed copy
// shared/connectors/specs/okta-ssf-receiver-trimmed.yaml, see SOURCE.md
// there), served by Stoplight Prism:
//
//   - TestContractPushAgainstPrismMock sends the connector's pushes to
//     `prism mock --errors`, which answers a request that breaks the spec
//     (method, path, Content-Type, body) with an error instead of 202;
//   - TestContractFakeBehindPrismProxy pushes through `prism proxy
//     --errors` to the loopback receiver (sandbox/caepfake), which checks
//     the requests and every answer of the fake (500 VIOLATIONS for one
//     that breaks the spec).
//
// The spec describes the SET only as a string (its claims are documented
// in separate schemas that Prism does not apply to a JWS), so the claims
// and header are checked by TestEveryRequestHoldsWhatTheProfileAsks
// against CONNECTORS.md §4, and by the fake. Two answers of the fake are
// outside Okta's published operation and are not sent through the proxy:
// 429 (the operation lists 202 and 400 only, though Okta rate-limits every
// endpoint) and err access_denied (RFC 8935 defines it; Okta's enum lists
// the other five codes).
//
// Prism is installed by .ci/install-prism into <repo>/.prism (or named by
// $ULC_PRISM). Without it the tests skip, except under CI=true, where they
// fail. The spec is $ULC_CAEP_SPEC or
// <repo>/../shared/connectors/specs/okta-ssf-receiver-trimmed.yaml.

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"ulc/actions"
	"ulc/internal/prismtest"
	"ulc/sandbox/caepfake"
)

// receiverSpec returns Okta's receiver spec, after checking that Prism is
// installed (the test skips without either, or fails under CI=true).
func receiverSpec(t *testing.T) string {
	t.Helper()
	prismtest.Binary(t)
	return prismtest.Spec(t, "ULC_CAEP_SPEC", "shared/connectors/specs/okta-ssf-receiver-trimmed.yaml", "Okta's receiver spec")
}

// clean fails the test for every exchange Prism found wrong, and returns
// the statuses.
func clean(t *testing.T, what string, xs []prismtest.Exchange) []int {
	t.Helper()
	var got []int
	for _, x := range xs {
		got = append(got, x.Status)
		if x.Faulty() {
			t.Errorf("%s breaks Okta's receiver contract: %s", what, x)
		}
	}
	if len(xs) == 0 {
		t.Errorf("%s: no request reached Prism", what)
	}
	return got
}

func TestContractPushAgainstPrismMock(t *testing.T) {
	spec := receiverSpec(t)
	mock := prismtest.Mock(t, spec)
	rec := prismtest.NewRecorder(t, "")
	rec.SetUpstream(t, mock)
	rec.SetPrefer("")

	// The harness can fail: a push with the wrong media type is refused.
	req, err := http.NewRequestWithContext(context.Background(), http.MethodPost, rec.URL+caepfake.Path, strings.NewReader("x.y.z"))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if xs := rec.Take(); len(xs) != 1 || xs[0].Status == http.StatusAccepted {
		t.Fatalf("Prism took a push as application/json: %+v", xs)
	}

	keyPath, _ := writeKey(t, t.TempDir(), 2048)
	f := loadTargets(t, target("okta-itp", rec.URL+caepfake.Path, keyPath))

	r := engineRun(t, f, nil)
	if got := clean(t, "push", rec.Take()); fmt.Sprint(got) != "[202]" {
		t.Errorf("statuses %v, want [202]", got)
	}
	if res := r.result(t, 1); res.Outcome != actions.Revoked || res.Error != "" {
		t.Errorf("result = %s", res.Describe())
	}

	// Okta's documented 400, as the spec's schema describes it.
	rec.SetUpstream(t, mock)
	rec.SetPrefer("code=400")
	r = engineRun(t, f, nil)
	if got := clean(t, "push answered 400", rec.Take()); fmt.Sprint(got) != "[400]" {
		t.Errorf("statuses %v, want [400]", got)
	}
	res := r.result(t, 1)
	known := map[string]bool{"authentication_failed": true, "invalid_audience": true, "invalid_issuer": true, "invalid_key": true, "invalid_request": true}
	if res.Outcome != actions.Rejected || res.Attempt != 1 || !known[res.ErrorCode] || !strings.HasPrefix(res.Error, "the receiver ") {
		t.Errorf("result = %s (code %q), want rejected with one of Okta's codes", res.Describe(), res.ErrorCode)
	}
}

func TestContractFakeBehindPrismProxy(t *testing.T) {
	spec := receiverSpec(t)
	rec := prismtest.NewRecorder(t, "")
	s := startFake(t, caepfake.Options{Users: []string{"alice@example.com"}, Audience: rec.URL})
	proxy := prismtest.Proxy(t, spec, s.URL())
	rec.SetUpstream(t, proxy)
	rec.SetPrefer("")

	block := replaceKeys(fakeTarget(t, s, "okta-itp"), `url = "`+rec.URL+caepfake.Path+`"`)
	cases := []struct {
		name    string
		block   string
		status  int
		outcome actions.Outcome
		code    string
	}{
		{"accepted", block, http.StatusAccepted, actions.Revoked, ""},
		{"invalid_key", replaceKeys(block, `jwt_key_id = "unknown"`), http.StatusBadRequest, actions.Rejected, "invalid_key"},
		{"invalid_issuer", replaceKeys(block, `jwt_iss = "https://other.test"`), http.StatusBadRequest, actions.Rejected, "invalid_issuer"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := engineRun(t, loadTargets(t, tc.block), nil)
			if got := clean(t, tc.name, rec.Take()); fmt.Sprint(got) != fmt.Sprint([]int{tc.status}) {
				t.Errorf("statuses %v, want [%d]", got, tc.status)
			}
			res := r.result(t, 1)
			if res.Outcome != tc.outcome || res.ErrorCode != tc.code {
				t.Errorf("result = %s (code %q), want %s %q", res.Describe(), res.ErrorCode, tc.outcome, tc.code)
			}
		})
	}
	if n := s.SignedOut("alice@example.com"); n != 1 {
		t.Errorf("SignedOut = %d, want 1", n)
	}
	// The harness can fail: an answer outside Okta's published operation
	// (RFC 8935's access_denied, which Okta's enum lacks) is flagged.
	denied := startFake(t, caepfake.Options{Users: []string{"alice@example.com"}, MissingPermission: true, Audience: rec.URL})
	rec.SetUpstream(t, prismtest.Proxy(t, spec, denied.URL()))
	rec.SetPrefer("")
	engineRun(t, loadTargets(t, replaceKeys(fakeTarget(t, denied, "okta-itp"), `url = "`+rec.URL+caepfake.Path+`"`)), nil)
	// (Prism answers 500 VIOLATIONS, which the engine retries.)
	xs := rec.Take()
	if len(xs) == 0 {
		t.Error("access_denied: no request reached Prism")
	}
	for _, x := range xs {
		if x.Status != http.StatusInternalServerError || x.Problem == nil || !x.Problem.Violations() {
			t.Errorf("Prism passed access_denied as Okta's contract: %+v", x)
		}
	}
	if refs := s.Refusals(); len(refs) != 2 || refs[0].Err != "invalid_key" || refs[1].Err != "invalid_issuer" {
		t.Errorf("refusals = %+v", refs)
	}
}
