package google_test

// Contract tests against the Admin SDK Directory API's published shape
// (shared/connectors/specs/google-admin-directory-v1-openapi.yaml, an
// OpenAPI conversion of Google's Discovery document; see SOURCE.md),
// served by Stoplight Prism:
//
//   - TestContractConnectorAgainstPrismMock sends the connector's calls
//     (users.signOut, tokens.list, tokens.delete) to `prism mock --errors`,
//     which answers a request that breaks the spec with an error (422, 400,
//     401, 404 NO_PATH_MATCHED) instead of an example;
//   - TestContractFakeBehindPrismProxy sends them to the googlefake behind
//     `prism proxy --errors`, which also checks every answer of the fake
//     (500 VIOLATIONS for one that breaks the spec).
//
// The token endpoint is not in the spec (the Discovery document has no
// operation for it, and OpenAPI 3.0 has no flow for the JWT-bearer grant):
// the token request goes straight to the fake, whose checks follow
// CONNECTORS.md (RFC 7523 assertion: RS256, kid, iss, scope, aud, iat,
// exp, sub), and the fake's own tests prove those.
//
// Prism is installed by .ci/install-prism into <repo>/.prism (or named by
// $ULC_PRISM). Without it the tests skip, except under CI=true, where they
// fail. The spec is $ULC_GOOGLE_SPEC or
// <repo>/../shared/connectors/specs/google-admin-directory-v1-openapi.yaml.

import (
	"net/http"
	"strings"
	"testing"

	"ulc/actions"
	"ulc/internal/prismtest"
	"ulc/sandbox/googlefake"
)

// adminSpec returns the Admin SDK spec, after checking that Prism is
// installed (the test skips without either, or fails under CI=true).
func adminSpec(t *testing.T) string {
	t.Helper()
	prismtest.Binary(t)
	return prismtest.Spec(t, "ULC_GOOGLE_SPEC", "shared/connectors/specs/google-admin-directory-v1-openapi.yaml", "the Admin SDK spec")
}

// contract names what Prism holds the exchanges to, for failures.
const contract = "the Admin SDK's contract"

func TestContractConnectorAgainstPrismMock(t *testing.T) {
	spec := adminSpec(t)
	mock := prismtest.Mock(t, spec)
	rec := prismtest.NewRecorder(t, mock)
	// The token comes from the fake: the spec has no token endpoint.
	fake, err := googlefake.Start(googlefake.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = fake.Close() })
	dir := t.TempDir()
	block, err := fake.TargetTOML("google", dir)
	if err != nil {
		t.Fatal(err)
	}
	block = strings.Replace(block, fake.URL(), rec.URL+"/", 1) + "revoke_oauth_grants = true\nretries = 0\n"
	f := loadTargets(t, dir, block)

	// The harness sees what Prism refuses: no credential, an unknown path.
	for _, bad := range []struct{ method, path, auth string }{
		{"POST", "/admin/directory/v1/users/alice@example.com/signOut", ""},
		{"POST", "/admin/directory/v1/users/alice@example.com/signout", "Bearer x"},
	} {
		req, _ := http.NewRequestWithContext(t.Context(), bad.method, rec.URL+bad.path, nil)
		if bad.auth != "" {
			req.Header.Set("Authorization", bad.auth)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
		if xs := rec.Take(); len(xs) != 1 || !xs[0].Faulty() {
			t.Fatalf("Prism let %s %s (auth %q) pass: %v", bad.method, bad.path, bad.auth, xs)
		}
	}

	// Prism answers tokens.list from the schema: one grant, deleted.
	_, st, _ := run(t, f, alice)
	s := step(t, st, alice, "google")
	if s.Outcome != actions.Revoked {
		t.Errorf("sign-out and grants: %s %q", s.Outcome, s.Error)
	}
	rec.Check(t, "sign-out and grants", contract, prismtest.MethodStatus, "POST 204", "GET 200", "DELETE 204")

	// The spec's error answer (GoogleJsonError) is read as Google's.
	rec.SetPrefer("code=404")
	_, st, _ = run(t, f, alice)
	expect(t, step(t, st, alice, "google"), actions.NotFound, 2, "Resource Not Found: userKey")
	rec.Check(t, "unknown user", contract, prismtest.MethodStatus, "POST 404")
}

func TestContractFakeBehindPrismProxy(t *testing.T) {
	spec := adminSpec(t)
	fake, err := googlefake.Start(googlefake.Options{
		Users: []string{alice, bob}, Groups: []string{"team@example.com"}, Throttle: 1, RevokeOAuthGrants: true,
		Grants: map[string][]googlefake.Grant{alice: {
			{ClientID: "111.apps.googleusercontent.com", DisplayText: "Mail Merge Pro", Scopes: []string{"https://mail.google.com/"}},
			{ClientID: "222.apps.googleusercontent.com", DisplayText: "Drive Sync", Scopes: []string{"https://www.googleapis.com/auth/drive"}},
		}},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = fake.Close() })
	proxy := prismtest.Proxy(t, spec, strings.TrimSuffix(fake.URL(), "/"))
	rec := prismtest.NewRecorder(t, proxy)
	dir := t.TempDir()
	block, err := fake.TargetTOML("google", dir)
	if err != nil {
		t.Fatal(err)
	}
	f := loadTargets(t, dir, strings.Replace(block, fake.URL(), rec.URL+"/", 1))

	// Throttled once (429 with Google's envelope), then signed out, grants
	// listed and deleted.
	_, st, _ := run(t, f, alice)
	expect(t, step(t, st, alice, "google"), actions.Revoked, 6, "deleted 2 grants")
	rec.Check(t, "throttled sign-out and grants", contract, prismtest.MethodStatus, "POST 429", "POST 204", "GET 200", "DELETE 204", "DELETE 204")
	if fake.SignedOut(alice) != 1 || len(fake.Grants(alice)) != 0 {
		t.Errorf("signed out %d times, grants left %v", fake.SignedOut(alice), fake.Grants(alice))
	}

	_, st, _ = run(t, f, "nobody@example.com")
	expect(t, step(t, st, "nobody@example.com", "google"), actions.NotFound, 2)
	rec.Check(t, "unknown user", contract, prismtest.MethodStatus, "POST 404")

	_, st, _ = run(t, f, "team@example.com")
	expect(t, step(t, st, "team@example.com", "google"), actions.Rejected, 2, "Type not supported")
	rec.Check(t, "group address", contract, prismtest.MethodStatus, "POST 400")

	// The other admin-console mistake: bob is no admin, so 403.
	f = loadTargets(t, dir, strings.Replace(strings.Replace(block, fake.URL(), rec.URL+"/", 1),
		"admin = \""+googlefake.DefaultAdmin+"\"", "admin = \""+bob+"\"", 1))
	_, st, _ = run(t, f, alice)
	expect(t, step(t, st, alice, "google"), actions.Rejected, 2, "403 Not Authorized")
	rec.Check(t, "admin without privilege", contract, prismtest.MethodStatus, "POST 403")
}
