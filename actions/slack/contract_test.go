package slack_test

// Contract tests against Slack's published Web API spec (the Prism-servable
// trim in shared/connectors/specs, see its SOURCE.md), served by Stoplight
// Prism, in the manner of actions/okta/contract_test.go:
//
//   - TestContractConnectorAgainstPrismMock runs the connector, through the
//     real engine, against `prism mock --errors`, which answers a request
//     that breaks the spec with 422 (or 400/404) instead of an example;
//   - TestContractFakeBehindPrismProxy runs the connector against the
//     sandbox's slackfake behind `prism proxy --errors`, which checks the
//     requests and also every answer of the fake (500 VIOLATIONS for an
//     answer that breaks the spec).
//
// Slack has no token endpoint (the admin's user token is issued when the app
// is installed), so there is nothing of the kind to check here. The spec's
// variant has no security scheme (ulc edit (4) in SOURCE.md): Prism does not
// check the token, the fake does, and slack_test.go proves it.
//
// Prism is installed by .ci/install-prism into <repo>/.prism (or named by
// $ULC_PRISM). Without it the tests skip, except under CI=true, where they
// fail. The spec is $ULC_SLACK_SPEC or
// <repo>/../shared/connectors/specs/slack-web-session-prism.json.

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"testing"

	"ulc/actions"
	"ulc/internal/prismtest"
	"ulc/sandbox/slackfake"
)

// slackSpec returns Slack's spec, after checking that Prism is installed
// (the test skips without either, or fails under CI=true).
func slackSpec(t *testing.T) string {
	t.Helper()
	prismtest.Binary(t)
	return prismtest.Spec(t, "ULC_SLACK_SPEC", "shared/connectors/specs/slack-web-session-prism.json", "Slack's spec")
}

// contract names what Prism holds the exchanges to, for failures.
const contract = "Slack's contract"

// newRecorder passes every request on to Prism unchanged and keeps Prism's
// verdict; an error envelope errorShim moved off 200 gets its status back,
// so the connector sees what Slack sends.
func newRecorder(t *testing.T, upstream string) *prismtest.Recorder {
	t.Helper()
	return prismtest.NewRecorder(t, upstream, prismtest.RewriteAnswer(func(resp *http.Response) {
		if resp.Header.Get(movedHeader) != "" {
			resp.StatusCode, resp.Status = http.StatusOK, "200 OK"
			resp.Header.Del(movedHeader)
		}
	}))
}

// movedHeader marks an answer errorShim moved from 200 to 400.
const movedHeader = "X-Ulc-Moved-From-200"

// errorShim sits between Prism's proxy and the fake. Slack sends its error
// envelopes ({"ok":false,"error":...}) with HTTP 200, as SOURCE.md notes,
// but the spec documents them as the "default" response and its 200 schema
// requires ok:true. The shim moves an ok:false answer of 200 to 400 on its
// way into Prism, so that Prism checks it against the spec's documented
// error schema (the error codes of users.lookupByEmail are an enum there,
// with no other property allowed), and the recorder restores 200 on the
// way out.
func errorShim(t *testing.T, upstream string) string {
	t.Helper()
	target, err := url.Parse(upstream)
	if err != nil {
		t.Fatal(err)
	}
	rp := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(target)
			pr.Out.URL.Path = strings.TrimSuffix(target.Path, "/") + pr.In.URL.Path
		},
		ModifyResponse: func(resp *http.Response) error {
			if resp.StatusCode != http.StatusOK {
				return nil
			}
			body, err := io.ReadAll(resp.Body)
			_ = resp.Body.Close()
			if err != nil {
				return err
			}
			resp.Body = io.NopCloser(bytes.NewReader(body))
			var e struct{ OK *bool }
			if json.Unmarshal(body, &e) == nil && e.OK != nil && !*e.OK {
				resp.StatusCode, resp.Status = http.StatusBadRequest, "400 Bad Request"
				resp.Header.Set(movedHeader, "1")
			}
			return nil
		},
	}
	srv := httptest.NewServer(rp)
	t.Cleanup(srv.Close)
	return srv.URL
}

func TestContractConnectorAgainstPrismMock(t *testing.T) {
	spec := slackSpec(t)
	// Answers generated from the schemas (-d): the spec's own example user
	// lacks four properties its schema requires (title, phone, skype,
	// fields), which --errors would turn into a 500.
	mock := prismtest.Mock(t, spec, "-d")

	// The mock does validate: a reset without user_id is refused.
	req, err := http.NewRequestWithContext(context.Background(), http.MethodPost, mock+"/admin.users.session.reset",
		strings.NewReader("web_only=sometimes"))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusUnprocessableEntity {
		t.Fatalf("prism mock answered %d to a reset without user_id, want 422: it is not validating requests", resp.StatusCode)
	}

	// Prism serves the spec's paths at its root (without basePath /api).
	rec := newRecorder(t, mock)
	o := run(t, load(t, envTarget("slack", rec.URL+"/")), "alice@example.com", secretEnv)
	o.check(t, actions.Revoked, 200, "lookup reset")
	rec.Check(t, "the connector's calls", contract, prismtest.PathStatus, "/users.lookupByEmail 200", "/admin.users.session.reset 200")
}

func TestContractFakeBehindPrismProxy(t *testing.T) {
	spec := slackSpec(t)
	cases := []struct {
		name    string
		opt     slackfake.Options
		user    string
		outcome actions.Outcome
		want    []string
	}{
		{name: "reset", opt: slackfake.Options{}, user: "alice@example.com", outcome: actions.Revoked,
			want: []string{"/users.lookupByEmail 200", "/admin.users.session.reset 200"}},
		{name: "users_not_found", user: "nobody@example.com", outcome: actions.NotFound,
			want: []string{"/users.lookupByEmail 200"}},
		{name: "throttled once", opt: slackfake.Options{Throttle: 1}, user: "alice@example.com", outcome: actions.Revoked,
			want: []string{"/users.lookupByEmail 200", "/admin.users.session.reset 429", "/admin.users.session.reset 200"}},
		{name: "missing permission", opt: slackfake.Options{MissingPermission: true}, user: "alice@example.com", outcome: actions.Rejected,
			want: []string{"/users.lookupByEmail 200", "/admin.users.session.reset 200"}},
		{name: "bot", opt: slackfake.Options{Bots: []string{"bot@example.com"}}, user: "bot@example.com", outcome: actions.Rejected,
			want: []string{"/users.lookupByEmail 200", "/admin.users.session.reset 200"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			c.opt.Users = append(c.opt.Users, "alice@example.com")
			fake := startFake(t, c.opt)
			// The fake's root is .../api/; Prism appends the spec's paths
			// to the upstream URL.
			rec := newRecorder(t, prismtest.Proxy(t, spec, errorShim(t, strings.TrimSuffix(fake.URL(), "/"))))
			tok := fake.Token()
			o := run(t, load(t, envTarget("slack", rec.URL+"/")), c.user, func(k string) string {
				if k == "SLACK_T" {
					return tok
				}
				return ""
			})
			if o.step.Outcome != c.outcome {
				t.Errorf("outcome %s (%q), want %s", o.step.Outcome, o.step.Error, c.outcome)
			}
			rec.Check(t, "the fake's answers", contract, prismtest.PathStatus, c.want...)
			if len(fake.Requests()) != len(c.want) {
				t.Errorf("the fake got %d requests, want %d: Prism did not pass them all on", len(fake.Requests()), len(c.want))
			}
		})
	}
}
