package github_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"ulc/actions"
	"ulc/internal/journaltest"
	"ulc/sandbox/githubfake"
)

// The connector is held to CONNECTORS.md section 5 and GitHub's published
// REST API description (testdata/SOURCE.md), against the sandbox's fake and
// httptest servers; contract_test.go runs it against Prism.

const (
	trinity = "trinity@acme.com"
	oracle  = "oracle@acme.com"
)

// TestRemovesEveryAuthorizationOfTheLogin: the list names the user's
// GitHub login from their Okta profile, each of their authorizations is
// removed with its own attempt, another member's are left alone, and every
// request carries the headers GitHub requires.
func TestRemovesEveryAuthorizationOfTheLogin(t *testing.T) {
	fake, f := fakeTarget(t, githubfake.Options{Logins: []string{"trinity-hale", "neo-the-one"}, Credentials: 3}, nil)
	out, evs := run(t, f, directory{trinity: "trinity-hale"}, nil, trinity)
	o := out[trinity]
	expect(t, o, actions.Revoked, "list,remove,remove,remove", "^removed 3 credential authorizations of trinity-hale in whiterabbit$")
	if fake.Authorizations("trinity-hale") != 0 || fake.Removed("trinity-hale") != 3 {
		t.Errorf("trinity-hale holds %d authorizations, %d removed; want 0 and 3", fake.Authorizations("trinity-hale"), fake.Removed("trinity-hale"))
	}
	if fake.Authorizations("neo-the-one") != 3 {
		t.Errorf("another member lost authorizations: %d left", fake.Authorizations("neo-the-one"))
	}
	reqs := fake.Requests()
	if len(reqs) != 4 {
		t.Fatalf("%d requests, want 4", len(reqs))
	}
	if q := reqs[0].Query; reqs[0].Method != "GET" || reqs[0].Path != "/orgs/whiterabbit/credential-authorizations" || q != "login=trinity-hale&per_page=100" {
		t.Errorf("list request %+v", reqs[0])
	}
	for _, r := range reqs {
		if r.Authorization != "Bearer "+fake.Token() || r.Accept != "application/vnd.github+json" || r.APIVersion != "2022-11-28" || r.UserAgent != "ulc/test" {
			t.Errorf("request %s %s has headers %+v", r.Method, r.Path, r)
		}
	}
	for _, r := range reqs[1:] {
		if r.Method != "DELETE" || !strings.HasPrefix(r.Path, "/orgs/whiterabbit/credential-authorizations/") {
			t.Errorf("removal %+v", r)
		}
	}
	if o.res.RequestID == "" {
		t.Error("no X-GitHub-Request-Id recorded")
	}
	// What the plan records: the list with the login, and what follows.
	planned := journaltest.Of(evs, actions.KindPlanned)
	if len(planned) != 1 || !strings.Contains(string(planned[0].Detail), "login=trinity-hale") || !strings.Contains(string(planned[0].Detail), "then DELETE") {
		t.Errorf("planned %s", planned[0].Detail)
	}
	if lines := journaltest.JSONLines(evs); strings.Contains(lines, fake.Token()) {
		t.Error("the audit log holds the token")
	}
}

// TestLoginFromTheProfile: without the attribute the step says which one
// to fill in and sends nothing; without an Okta profile at all (--no-okta)
// it is rejected; a value that is not a GitHub login is refused.
func TestLoginFromTheProfile(t *testing.T) {
	fake, f := fakeTarget(t, githubfake.Options{Logins: []string{"trinity-hale"}}, nil)
	out, _ := run(t, f, directory{trinity: "trinity-hale", "bad@acme.com": "trinity hale; rm"}, nil, oracle, "bad@acme.com")
	expect(t, out[oracle], actions.NotFound, "", `^the user's Okta profile has no githubUsername, .*fill in githubUsername in Okta`)
	expect(t, out["bad@acme.com"], actions.Rejected, "", `^the Okta profile attribute githubUsername holds "trinity hale; rm", which is not a GitHub login`)

	out, _ = run(t, f, nil, nil, trinity)
	expect(t, out[trinity], actions.Rejected, "", `^no Okta profile for this user \(ulc ran without Okta\), so no GitHub login: .*attribute githubUsername; run again with Okta`)
	if n := len(fake.Requests()); n != 0 {
		t.Errorf("%d requests reached GitHub for users without a login", n)
	}
	if fake.Authorizations("trinity-hale") != 2 {
		t.Error("authorizations removed without a login")
	}
}

// TestNothingToRemove: a login with no authorization in the organization
// is not_found after the list.
func TestNothingToRemove(t *testing.T) {
	_, f := fakeTarget(t, githubfake.Options{Logins: []string{"neo-the-one"}}, nil)
	out, _ := run(t, f, directory{trinity: "trinity-hale"}, nil, trinity)
	expect(t, out[trinity], actions.NotFound, "list", `^GitHub has no SAML SSO credential authorization of trinity-hale in whiterabbit: nothing to remove`)
}

// TestEveryPageIsRead: more authorizations than a page holds are all
// removed.
func TestEveryPageIsRead(t *testing.T) {
	fake, f := fakeTarget(t, githubfake.Options{Logins: []string{"trinity-hale"}, Credentials: 103}, nil)
	out, _ := run(t, f, directory{trinity: "trinity-hale"}, nil, trinity)
	expect(t, out[trinity], actions.Revoked, "list,list,"+repeat("remove", 103), "^removed 103 credential authorizations of trinity-hale in whiterabbit$")
	if n := fake.Authorizations("trinity-hale"); n != 0 {
		t.Errorf("%d authorizations left", n)
	}
}

// TestRefusals: each documented refusal, with the sentence that says what
// to fix; nothing is removed.
func TestRefusals(t *testing.T) {
	tests := []struct {
		name  string
		o     githubfake.Options
		edit  func(block, dir string) string
		want  actions.Outcome
		calls string
		re    string
	}{
		{"token without admin:org", githubfake.Options{MissingPermission: true}, nil, actions.Rejected, "list,remove,remove",
			`^removed 0 of 2 authorizations of trinity-hale: the token lacks the scope admin:org \(it has read:org, repo\) that the removal of a credential authorization needs \(403\): add it to the token, or put an owner's token that has it in token_file$`},
		{"token not authorized for SSO", githubfake.Options{SSORequired: true}, nil, actions.Rejected, "list",
			`not authorized for the organization's SAML SSO \(403\): authorize it .*Configure SSO → Authorize whiterabbit`},
		{"unknown organization", githubfake.Options{Org: "other-org"}, func(b, _ string) string {
			return strings.Replace(b, `org = "other-org"`, `org = "whiterabbit"`, 1)
		}, actions.Rejected, "list", `^GitHub answered 404 to the list of credential authorizations of whiterabbit: .*not one of its owners, or it does not use SAML`},
		{"wrong token", githubfake.Options{}, func(b, dir string) string {
			writeToken(t, dir, "ghp_thisIsNotTheOwnersTokenAtAll000000")
			return b
		}, actions.Rejected, "list", `^GitHub does not accept the token \(401: Bad credentials\): put a token of an owner of whiterabbit with the scope admin:org`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.o.Logins = []string{"trinity-hale"}
			fake, f := fakeTarget(t, tt.o, tt.edit)
			out, evs := run(t, f, directory{trinity: "trinity-hale"}, nil, trinity)
			expect(t, out[trinity], tt.want, tt.calls, tt.re)
			if fake.Removed("trinity-hale") != 0 {
				t.Error("an authorization was removed")
			}
			if strings.Contains(journaltest.JSONLines(evs), fake.Token()) {
				t.Error("the audit log holds the token")
			}
		})
	}
}

// writeToken replaces the token file TargetTOML wrote.
func writeToken(t *testing.T, dir, tok string) {
	t.Helper()
	if err := writeFile(dir+"/github.token", tok+"\n"); err != nil {
		t.Fatal(err)
	}
}

// TestThrottledThenSuccess: a secondary rate limit (429, Retry-After) is
// retried and recorded as a retry.
func TestThrottledThenSuccess(t *testing.T) {
	fake, f := fakeTarget(t, githubfake.Options{Logins: []string{"trinity-hale"}, Throttle: 1}, nil)
	out, _ := run(t, f, directory{trinity: "trinity-hale"}, nil, trinity)
	o := out[trinity]
	expect(t, o, actions.Revoked, "list,list,remove,remove", "^removed 2 credential authorizations of trinity-hale in whiterabbit$")
	if len(journaltest.Of(o.evs, actions.KindRetry)) != 1 || fake.Removed("trinity-hale") != 2 {
		t.Errorf("retries %d, removed %d", len(journaltest.Of(o.evs, actions.KindRetry)), fake.Removed("trinity-hale"))
	}
}

// stub is a GitHub stand-in whose answers a test writes; it counts calls.
type stub struct {
	mu    sync.Mutex
	calls []string
	srv   *httptest.Server
}

func newStub(t *testing.T, h func(n int, w http.ResponseWriter, r *http.Request)) *stub {
	t.Helper()
	s := &stub{}
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.calls = append(s.calls, r.Method+" "+r.URL.Path)
		n := len(s.calls)
		s.mu.Unlock()
		if r.Header.Get("Authorization") != "Bearer "+token {
			w.WriteHeader(http.StatusUnauthorized)
			fmt.Fprint(w, `{"message":"Bad credentials"}`)
			return
		}
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		h(n, w, r)
	}))
	t.Cleanup(s.srv.Close)
	return s
}

const oneAuthorization = `[{"login":"trinity-hale","credential_id":7,"credential_type":"SSH key","credential_authorized_at":"2026-01-01T00:00:00Z","credential_accessed_at":null,"authorized_credential_id":null}]`

// TestPrimaryRateLimit: a 403 with x-ratelimit-remaining: 0 is GitHub's
// primary rate limit, not a refusal: it is retried once x-ratelimit-reset
// has passed. One that outlasts max_retry_wait fails, saying when it ends.
func TestPrimaryRateLimit(t *testing.T) {
	s := newStub(t, func(n int, w http.ResponseWriter, r *http.Request) {
		switch {
		case n == 1:
			w.Header().Set("X-Ratelimit-Remaining", "0")
			w.Header().Set("X-Ratelimit-Reset", strconv.FormatInt(time.Now().Add(time.Second).Unix(), 10))
			w.WriteHeader(http.StatusForbidden)
			fmt.Fprint(w, `{"message":"API rate limit exceeded for user ID 1.","documentation_url":"https://docs.github.com/rest/overview/rate-limits-for-the-rest-api"}`)
		case r.Method == http.MethodGet:
			fmt.Fprint(w, oneAuthorization)
		default:
			w.WriteHeader(http.StatusNoContent)
		}
	})
	out, _ := run(t, urlTarget(t, s.srv.URL+"/"), directory{trinity: "trinity-hale"}, nil, trinity)
	expect(t, out[trinity], actions.Revoked, "list,list,remove", "^removed 1 credential authorization of trinity-hale in acme$")

	late := newStub(t, func(_ int, w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("X-Ratelimit-Remaining", "0")
		w.Header().Set("X-Ratelimit-Reset", strconv.FormatInt(time.Now().Add(time.Hour).Unix(), 10))
		w.WriteHeader(http.StatusForbidden)
		fmt.Fprint(w, `{"message":"API rate limit exceeded for user ID 1."}`)
	})
	out, _ = run(t, urlTarget(t, late.srv.URL+"/"), directory{trinity: "trinity-hale"}, nil, trinity)
	expect(t, out[trinity], actions.Failed, "list", `^GitHub kept rate-limiting the list of credential authorizations \(403: API rate limit exceeded for user ID 1\); asked to wait .*longer than max_retry_wait 3s: resume the run once the limit resets \(at \d\d:\d\d:\d\d UTC\)$`)
}

// TestServerErrors: 5xx is retried, then failed; a removal that fails
// leaves the others removed and says how many were.
func TestServerErrors(t *testing.T) {
	s := newStub(t, func(_ int, w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusBadGateway)
		fmt.Fprint(w, `{"message":"Server Error"}`)
	})
	out, _ := run(t, urlTarget(t, s.srv.URL+"/"), directory{trinity: "trinity-hale"}, nil, trinity)
	expect(t, out[trinity], actions.Failed, "list,list,list", `^GitHub failed on the list of credential authorizations \(502: Server Error\) \(after 3 attempts\): resume the run later$`)

	partial := newStub(t, func(_ int, w http.ResponseWriter, r *http.Request) {
		switch {
		case r.Method == http.MethodGet:
			fmt.Fprint(w, `[{"login":"trinity-hale","credential_id":7},{"login":"trinity-hale","credential_id":8},{"login":"trinity-hale","credential_id":9}]`)
		case strings.HasSuffix(r.URL.Path, "/8"):
			w.WriteHeader(http.StatusInternalServerError)
		case strings.HasSuffix(r.URL.Path, "/9"):
			w.WriteHeader(http.StatusNotFound) // removed meanwhile
		default:
			w.WriteHeader(http.StatusNoContent)
		}
	})
	out, _ = run(t, urlTarget(t, partial.srv.URL+"/"), directory{trinity: "trinity-hale"}, nil, trinity)
	expect(t, out[trinity], actions.Failed, "list,remove,remove,remove,remove,remove", `^removed 2 of 3 authorizations of trinity-hale: GitHub failed on the removal`)
}

// TestOnlyTheUsersOwn: a server that ignored the login filter does not
// make ulc remove another member's credentials.
func TestOnlyTheUsersOwn(t *testing.T) {
	var removed []string
	var mu sync.Mutex
	s := newStub(t, func(_ int, w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet {
			fmt.Fprint(w, `[{"login":"neo-the-one","credential_id":5},{"login":"Trinity-Hale","credential_id":6}]`)
			return
		}
		mu.Lock()
		removed = append(removed, r.URL.Path)
		mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	})
	out, _ := run(t, urlTarget(t, s.srv.URL+"/"), directory{trinity: "trinity-hale"}, nil, trinity)
	expect(t, out[trinity], actions.Revoked, "list,remove", "^removed 1 credential authorization of trinity-hale in acme$")
	if len(removed) != 1 || removed[0] != "/orgs/acme/credential-authorizations/6" {
		t.Errorf("removed %v, want only credential 6", removed)
	}
}

// TestProbe: ulc targets check --live lists the authorizations of a login
// that cannot exist: a healthy target answers with none.
func TestProbe(t *testing.T) {
	fake, f := fakeTarget(t, githubfake.Options{Logins: []string{"trinity-hale"}}, nil)
	r := actions.Probe(t.Context(), f.Targets[0], "", nil)
	if r.Outcome != actions.NotFound || r.HTTPStatus != 200 {
		t.Errorf("probe %+v", r)
	}
	reqs := fake.Requests()
	if len(reqs) != 1 || reqs[0].Method != "GET" || !strings.Contains(reqs[0].Query, "login=ulc-check-") {
		t.Errorf("probe sent %+v", reqs)
	}
	if fake.Authorizations("trinity-hale") != 2 {
		t.Error("the probe removed something")
	}
}

// TestRedirectIsNotFollowed: a 3xx is refused with the engine's sentence,
// which says to fix url, and the token does not follow it.
func TestRedirectIsNotFollowed(t *testing.T) {
	elsewhere := newStub(t, func(_ int, w http.ResponseWriter, _ *http.Request) { fmt.Fprint(w, oneAuthorization) })
	s := newStub(t, func(_ int, w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, elsewhere.srv.URL+r.URL.Path, http.StatusFound)
	})
	out, _ := run(t, urlTarget(t, s.srv.URL+"/"), directory{trinity: "trinity-hale"}, nil, trinity)
	expect(t, out[trinity], actions.Rejected, "list", `^the list of credential authorizations: redirected .*not followed: fix url$`)
	if len(elsewhere.calls) != 0 {
		t.Errorf("the redirect was followed: %v", elsewhere.calls)
	}
}

// TestProbeWarnsOfAMissingScope: a token that may list but not remove
// passes the probe's call, and the probe says it cannot sign users out.
func TestProbeWarnsOfAMissingScope(t *testing.T) {
	_, f := fakeTarget(t, githubfake.Options{Logins: []string{"trinity-hale"}, MissingPermission: true}, nil)
	r := actions.Probe(t.Context(), f.Targets[0], "", nil)
	if r.Outcome != actions.NotFound || !strings.Contains(r.Warning, "lacks the scope admin:org (it has read:org, repo)") ||
		!strings.HasPrefix(r.Verdict, "reachable, but the credential cannot sign users out: ") {
		t.Errorf("probe %+v", r)
	}
	_, ok := fakeTarget(t, githubfake.Options{Logins: []string{"trinity-hale"}}, nil)
	if r := actions.Probe(t.Context(), ok.Targets[0], "", nil); r.Warning != "" {
		t.Errorf("a token with admin:org warned: %+v", r)
	}
}
