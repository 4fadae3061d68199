package microsoft_test

// Contract tests against the trimmed Microsoft Graph users spec
// (shared/connectors/specs/msgraph-users-trimmed.yaml, see its SOURCE.md),
// served by Stoplight Prism:
//
//   - TestContractConnectorAgainstPrismMock sends the connector's Graph calls
//     to `prism mock --errors`, which answers a request that breaks the spec
//     with an error (422/400/401) instead of an example; Prefer headers make
//     it answer the spec's documented error examples, which the connector
//     must classify;
//   - TestContractFakeBehindPrismProxy sends them to the sandbox's fake
//     behind `prism proxy --errors`, which checks the requests and every
//     answer of the fake (500 VIOLATIONS for one that breaks the spec).
//
// The token endpoint is not in the spec (it is Entra ID's, not Graph's):
// the token calls go straight to the fake, whose token endpoint is tested
// against CONNECTORS.md's facts in sandbox/microsoftfake.
//
// The spec is served with one change, made here in a temporary copy: its
// schemas say `additionalProperties: {type: object}` (what the generator
// of Microsoft's per-module documents writes for "open"), which read
// literally makes every "@odata.context" string, in Microsoft's own
// examples as in Graph's answers, a violation. The copy says
// `additionalProperties: true`.
//
// Prism is installed by .ci/install-prism into <repo>/.prism (or named by
// $ULC_PRISM). Without it the tests skip, except under CI=true, where they
// fail. The spec is $ULC_MSGRAPH_SPEC or <repo>/../shared/connectors/specs/.

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"ulc/actions"
	"ulc/internal/prismtest"
	"ulc/sandbox/microsoftfake"
)

// graphSpec returns the served copy of the Graph spec, after checking that
// Prism is installed (the test skips without either, or fails under
// CI=true).
func graphSpec(t *testing.T) string {
	t.Helper()
	prismtest.Binary(t)
	src := prismtest.Spec(t, "ULC_MSGRAPH_SPEC", "shared/connectors/specs/msgraph-users-trimmed.yaml", "the Graph spec")
	data, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	open := regexp.MustCompile(`additionalProperties:\n\s+type: object`)
	if !open.Match(data) {
		t.Fatalf("%s no longer writes additionalProperties as {type: object}: review the copy this test serves", src)
	}
	spec := filepath.Join(t.TempDir(), "msgraph-users.yaml")
	if err := os.WriteFile(spec, open.ReplaceAll(data, []byte("additionalProperties: true")), 0o600); err != nil {
		t.Fatal(err)
	}
	return spec
}

// contract names what Prism holds the exchanges to, for failures.
const contract = "the Graph contract"

// newRecorder sits between the connector and Prism: it strips the /v1.0 of
// Graph's server URL (Prism serves the spec's paths at its root) and keeps
// Prism's answers.
func newRecorder(t *testing.T, upstream string) *prismtest.Recorder {
	t.Helper()
	return prismtest.NewRecorder(t, upstream, prismtest.RewriteRequest(func(out *http.Request) {
		out.URL.Path = strings.TrimPrefix(out.URL.Path, "/v1.0")
		out.URL.RawPath = strings.TrimPrefix(out.URL.RawPath, "/v1.0")
	}))
}

// check fails the test for every exchange since the last check that Prism
// objected to, and when their statuses are not want; then it sets the
// Prefer header of the next ones.
func check(t *testing.T, rec *prismtest.Recorder, what, prefer string, want ...int) {
	t.Helper()
	ws := make([]string, len(want))
	for i, w := range want {
		ws[i] = strconv.Itoa(w)
	}
	rec.Check(t, what, contract, prismtest.StatusOnly, ws...)
	rec.SetPrefer(prefer)
}

// graphVia returns a target whose token endpoint is the fake's and whose
// Graph is the recorder.
func graphVia(t *testing.T, fake *microsoftfake.Server, graphURL string) outcomeRunner {
	t.Helper()
	dir := t.TempDir()
	block, err := fake.TargetTOML("m365", dir)
	if err != nil {
		t.Fatal(err)
	}
	block = regexp.MustCompile(`(?m)^url = .*$`).ReplaceAllString(block, fmt.Sprintf("url = %q", graphURL+"/"))
	f := load(t, dir, block)
	return func(users ...string) map[string]outcome {
		got, _ := run(t, f, users...)
		return got
	}
}

type outcomeRunner func(users ...string) map[string]outcome

func TestContractConnectorAgainstPrismMock(t *testing.T) {
	spec := graphSpec(t)
	mock := prismtest.Mock(t, spec)
	rec := newRecorder(t, mock)
	// The harness sees a request that breaks the spec: Prism must object.
	req, _ := http.NewRequestWithContext(context.Background(), http.MethodPost, rec.URL+"/v1.0/users/alice@example.com/revokeSignInSessions", nil)
	if resp, err := http.DefaultClient.Do(req); err == nil {
		_ = resp.Body.Close()
	}
	if xs := rec.Take(); len(xs) != 1 || xs[0].Status != 401 || xs[0].Problem == nil && !strings.Contains(xs[0].Violations, "Invalid security scheme") {
		t.Fatalf("Prism did not refuse a call without Authorization: %+v", xs)
	}

	fake, err := microsoftfake.Start(microsoftfake.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = fake.Close() }()
	revoke := graphVia(t, fake, rec.URL)
	const u = "alice@example.com"

	got := revoke(u)
	// The spec's example user was signed out long before this run.
	expect(t, got[u], actions.Revoked, "token,revoke,verify", `^revoked \(Graph accepted the sign-out\), but signInSessionsValidFromDateTime reads 2026-01-01T00:00:00Z, before this run`)
	var d actions.ResultDetail
	if err := json.Unmarshal(got[u].res.Detail, &d); err != nil || d.Verified == nil || *d.Verified {
		t.Errorf("a read-back before the run records %s, want verified false", got[u].res.Detail)
	}
	check(t, rec, "revoke and verify", "code=404, example=notFound", 200, 200)

	got = revoke(u)
	expect(t, got[u], actions.NotFound, "token,revoke", `^Entra ID has no user whose userPrincipalName is alice@example.com \(404 Request_ResourceNotFound\)`)
	check(t, rec, "404 notFound", "code=403, example=denied", 404)

	got = revoke(u)
	expect(t, got[u], actions.Rejected, "token,revoke", `\(403 Authorization_RequestDenied\): grant the app registration the Microsoft Graph application permission User\.RevokeSessions\.All`)
	check(t, rec, "403 denied", "code=429, example=throttled", 403)

	got = revoke(u)
	expect(t, got[u], actions.Failed, "token,revoke,revoke,revoke", `^Graph kept throttling the sign-out \(429 TooManyRequests\) \(after 3 attempts\)`)
	check(t, rec, "429 throttled", "", 429, 429, 429)
}

func TestContractFakeBehindPrismProxy(t *testing.T) {
	spec := graphSpec(t)
	const alice, mallory = "alice@contoso.com", "mallory@contoso.com"
	open, err := microsoftfake.Start(microsoftfake.Options{Users: []string{alice}, Throttle: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = open.Close() }()
	denied, err := microsoftfake.Start(microsoftfake.Options{Users: []string{alice}, MissingPermission: true})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = denied.Close() }()
	recOpen := newRecorder(t, prismtest.Proxy(t, spec, open.URL()+"v1.0"))
	recDenied := newRecorder(t, prismtest.Proxy(t, spec, denied.URL()+"v1.0"))

	got := graphVia(t, open, recOpen.URL)(alice)
	expect(t, got[alice], actions.Revoked, "token,revoke,revoke,verify", `\(verified\)$`)
	check(t, recOpen, "throttled, then revoke and verify", "", 429, 200, 200)
	if open.SignedOut(alice) != 1 {
		t.Errorf("the fake signed alice out %d times, want 1", open.SignedOut(alice))
	}

	got = graphVia(t, open, recOpen.URL)(mallory)
	expect(t, got[mallory], actions.NotFound, "token,revoke", `\(404 Request_ResourceNotFound\)`)
	check(t, recOpen, "unknown user", "", 404)

	got = graphVia(t, denied, recDenied.URL)(alice)
	expect(t, got[alice], actions.Rejected, "token,revoke", `User\.RevokeSessions\.All`)
	check(t, recDenied, "missing permission", "", 403)

	// A token the fake never issued: Graph's 401 envelope.
	req, _ := http.NewRequestWithContext(context.Background(), http.MethodGet, recOpen.URL+"/v1.0/users/"+alice+"?$select=signInSessionsValidFromDateTime", nil)
	req.Header.Set("Authorization", "Bearer not-a-token")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	check(t, recOpen, "unknown token", "", 401)
}
