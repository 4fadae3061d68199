package github_test

// Contract tests against GitHub's published REST API description (the two
// operations trimmed into testdata, see testdata/SOURCE.md), served by
// Stoplight Prism, as for the other connectors:
//
//   - TestContractConnectorAgainstPrismMock runs the connector, through the
//     real engine, against `prism mock --errors`, which answers a request
//     that breaks the description with 422 (or 400/404) instead of an
//     example;
//   - TestContractFakeBehindPrismProxy runs the connector against the
//     sandbox's githubfake behind `prism proxy --errors`, which checks the
//     requests and also every answer of the fake (500 VIOLATIONS for an
//     answer that breaks the description).
//
// The description documents 200 and 204 and a 404 for these operations,
// not GitHub's 401, 403 and 429, so those are held to GitHub's
// documentation in github_test.go instead. Prism is installed by
// .ci/install-prism into <repo>/.prism (or named by $ULC_PRISM); without it
// the tests skip, except under CI=true, where they fail.

import (
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"ulc/actions"
	"ulc/internal/prismtest"
	"ulc/sandbox/githubfake"
)

// githubSpec returns the trimmed description, after checking that Prism is
// installed (the test skips without it, or fails under CI=true).
func githubSpec(t *testing.T) string {
	t.Helper()
	prismtest.Binary(t)
	spec, err := filepath.Abs(filepath.Join("testdata", "credential-authorizations.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	return spec
}

const contract = "GitHub's REST API description"

func TestContractConnectorAgainstPrismMock(t *testing.T) {
	mock := prismtest.Mock(t, githubSpec(t))

	// The mock does validate: a credential_id that is not an integer is
	// refused.
	req, err := http.NewRequestWithContext(t.Context(), http.MethodDelete, mock+"/orgs/acme/credential-authorizations/abc", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusUnprocessableEntity {
		t.Fatalf("prism mock answered %d to a removal of credential abc, want 422: it is not validating requests", resp.StatusCode)
	}

	// The spec's example lists octocat's two authorizations: both are
	// removed, one call each. GitHub's media type is a vendor type of
	// JSON, which it answers as application/json, the only content the
	// description lists; Prism does not match the two, so the recorder
	// asks Prism for application/json (the fake's tests check what ulc
	// sends).
	asJSON := prismtest.RewriteRequest(func(out *http.Request) {
		if out.Header.Get("Accept") == "application/vnd.github+json" {
			out.Header.Set("Accept", "application/json")
		}
	})
	rec := prismtest.NewRecorder(t, mock, asJSON)
	out, _ := run(t, urlTarget(t, rec.URL+"/"), directory{trinity: "octocat"}, nil, trinity)
	expect(t, out[trinity], actions.Revoked, "list,remove,remove", "^removed 2 credential authorizations of octocat in acme$")
	rec.Check(t, "the connector's calls", contract, prismtest.MethodStatus, "GET 200", "DELETE 204", "DELETE 204")

	// The documented 404 of a removal: the authorization is gone already,
	// which leaves nothing to remove.
	gone := prismtest.NewRecorder(t, mock, prismtest.RewriteRequest(func(out *http.Request) {
		out.Header.Set("Accept", "application/json")
		if out.Method == http.MethodDelete {
			out.Header.Set("Prefer", "code=404")
		}
	}))
	out, _ = run(t, urlTarget(t, gone.URL+"/"), directory{trinity: "octocat"}, nil, trinity)
	expect(t, out[trinity], actions.Revoked, "list,remove,remove", "^removed 0 credential authorizations of octocat; 2 were already gone$")
	gone.Check(t, "the connector's calls", contract, prismtest.MethodStatus, "GET 200", "DELETE 404", "DELETE 404")
}

func TestContractFakeBehindPrismProxy(t *testing.T) {
	spec := githubSpec(t)
	cases := []struct {
		name    string
		opt     githubfake.Options
		login   string
		outcome actions.Outcome
		want    []string
	}{
		{name: "two authorizations", login: "trinity-hale", outcome: actions.Revoked,
			want: []string{"GET 200", "DELETE 204", "DELETE 204"}},
		{name: "none for this login", login: "nobody-here", outcome: actions.NotFound,
			want: []string{"GET 200"}},
		{name: "two pages", opt: githubfake.Options{Credentials: 101}, login: "trinity-hale", outcome: actions.Revoked,
			want: append([]string{"GET 200", "GET 200"}, strings.Split(strings.Repeat("DELETE 204,", 101), ",")[:101]...)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			c.opt.Logins = []string{"trinity-hale", "neo-the-one"}
			fake, f := fakeTarget(t, c.opt, nil)
			rec := prismtest.NewRecorder(t, prismtest.Proxy(t, spec, strings.TrimSuffix(fake.URL(), "/")))
			f.Targets[0].URL = rec.URL + "/"
			out, _ := run(t, f, directory{trinity: c.login}, nil, trinity)
			if o := out[trinity]; o.res.Outcome != c.outcome {
				t.Errorf("outcome %s (%q), want %s", o.res.Outcome, o.res.Error, c.outcome)
			}
			rec.Check(t, "the fake's answers", contract, prismtest.MethodStatus, c.want...)
			if len(fake.Requests()) != len(c.want) {
				t.Errorf("the fake got %d requests, want %d: Prism did not pass them all on", len(fake.Requests()), len(c.want))
			}
		})
	}
}
