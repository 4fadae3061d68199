package google_test

import (
	"slices"
	"strings"
	"testing"

	"ulc/actions"
	"ulc/actions/google"
	"ulc/sandbox/googlefake"
)

const (
	alice = "alice@example.com"
	bob   = "bob@example.com"
)

func TestSignOutAgainstTheFake(t *testing.T) {
	fake, f := fakeTarget(t, googlefake.Options{Users: []string{alice}}, nil)
	p, st, j := run(t, f, alice)
	s := step(t, st, alice, "google")
	expect(t, s, actions.Revoked, 2)
	if s.Error != "" {
		t.Errorf("a plain sign-out says %q", s.Error)
	}
	if got := j.Calls(t, s.Step); !slices.Equal(got, []string{google.CallToken, google.CallSignOut}) {
		t.Errorf("calls %v, want token then signOut", got)
	}
	if n := fake.SignedOut(alice); n != 1 {
		t.Errorf("the fake ended alice's sessions %d times, want 1", n)
	}
	if s.Detail.URL != fake.URL()+"admin/directory/v1/users/alice@example.com/signOut" || s.Detail.Method != "POST" {
		t.Errorf("planned %s %s", s.Detail.Method, s.Detail.URL)
	}
	if s.Action != "google" {
		t.Errorf("the planned step's kind is %q", s.Action)
	}
	if r := p.Residual()["google"]; !strings.Contains(r, "OAuth grants") || !strings.Contains(r, "app passwords") {
		t.Errorf("residual %q", r)
	}
}

func TestManyStepsShareOneToken(t *testing.T) {
	users := []string{"u1@example.com", "u2@example.com", "u3@example.com", "u4@example.com", "u5@example.com", "u6@example.com"}
	fake, f := fakeTarget(t, googlefake.Options{Users: users}, nil)
	_, st, _ := run(t, f, users...)
	attempts := 0
	for _, u := range users {
		s := step(t, st, u, "google")
		if s.Outcome != actions.Revoked {
			t.Errorf("%s: %s %q", u, s.Outcome, s.Error)
		}
		attempts += s.Attempts
		if fake.SignedOut(u) != 1 {
			t.Errorf("%s signed out %d times", u, fake.SignedOut(u))
		}
	}
	if n := countPath(fake, "POST", "/token"); n != 1 {
		t.Errorf("%d token requests for %d steps, want 1", n, len(users))
	}
	if attempts != len(users)+1 {
		t.Errorf("%d attempts in all, want %d (one token, one signOut each)", attempts, len(users)+1)
	}
}

func TestUnknownUserIsNotFound(t *testing.T) {
	_, f := fakeTarget(t, googlefake.Options{Users: []string{alice}}, nil)
	_, st, _ := run(t, f, "nobody@example.com")
	s := step(t, st, "nobody@example.com", "google")
	expect(t, s, actions.NotFound, 2, "Google Workspace has no user nobody@example.com", "Resource Not Found: userKey")
	if s.HTTPStatus != 404 {
		t.Errorf("status %d", s.HTTPStatus)
	}
}

func TestGroupAddressIsRejected(t *testing.T) {
	_, f := fakeTarget(t, googlefake.Options{Users: []string{alice}, Groups: []string{"team@example.com"}}, nil)
	_, st, _ := run(t, f, "team@example.com")
	expect(t, step(t, st, "team@example.com", "google"), actions.Rejected, 2,
		"Type not supported: userKey", "set the user's primary Google address as their email in Okta")
}

func TestThrottledSignOutIsRetriedAfterRetryAfter(t *testing.T) {
	fake, f := fakeTarget(t, googlefake.Options{Users: []string{alice}, Throttle: 1}, nil)
	_, st, j := run(t, f, alice)
	s := step(t, st, alice, "google")
	expect(t, s, actions.Revoked, 3)
	if got := j.Calls(t, s.Step); !slices.Equal(got, []string{google.CallToken, google.CallSignOut, google.CallSignOut}) {
		t.Errorf("calls %v", got)
	}
	var retries []string
	for _, ev := range j.Events() {
		if ev.Kind == actions.KindRetry && ev.Step == s.Step {
			retries = append(retries, ev.Error)
			if ev.HTTPStatus != 429 {
				t.Errorf("retry after status %d", ev.HTTPStatus)
			}
		}
	}
	if len(retries) != 1 || !strings.Contains(retries[0], "retrying in 1s") {
		t.Errorf("retry events %q, want one that waits the 1s Google asked for", retries)
	}
	if fake.SignedOut(alice) != 1 {
		t.Errorf("signed out %d times", fake.SignedOut(alice))
	}
}

func TestThrottledUntilTheRetriesRunOutFails(t *testing.T) {
	_, f := fakeTarget(t, googlefake.Options{Users: []string{alice}, Throttle: 10}, func(b string) string {
		return b + "retries = 1\n"
	})
	_, st, _ := run(t, f, alice)
	expect(t, step(t, st, alice, "google"), actions.Failed, 3, "429", "after 2 attempts", "resume the run later")
}

func TestNoDomainWideDelegationNamesClientAndScope(t *testing.T) {
	users := []string{alice, bob, "carol@example.com"}
	fake, f := fakeTarget(t, googlefake.Options{Users: users, MissingPermission: true}, nil)
	_, st, _ := run(t, f, users...)
	sent := 0
	for _, u := range users {
		s := step(t, st, u, "google")
		if s.Outcome != actions.Rejected {
			t.Errorf("%s: %s %q", u, s.Outcome, s.Error)
		}
		for _, w := range []string{"unauthorized_client", "client ID " + fake.ClientID(), google.Scope, "Domain-wide delegation"} {
			if !strings.Contains(s.Error, w) {
				t.Errorf("%s: %q does not say %q", u, s.Error, w)
			}
		}
		sent += s.Attempts
	}
	if n := countPath(fake, "POST", "/token"); n != 1 || sent != 1 {
		t.Errorf("the refused token was asked for %d times (%d attempts), want once", n, sent)
	}
	if fake.SignedOut(alice) != 0 {
		t.Error("signed out without a token")
	}
}

func TestAdminWithoutPrivilegeIsRejected(t *testing.T) {
	// bob exists but is not the admin the fake grants the API to: the
	// token is issued, the call refused with 403.
	_, f := fakeTarget(t, googlefake.Options{Users: []string{alice, bob}}, func(b string) string {
		return strings.Replace(b, "admin = \""+googlefake.DefaultAdmin+"\"", "admin = \""+bob+"\"", 1)
	})
	_, st, _ := run(t, f, alice)
	expect(t, step(t, st, alice, "google"), actions.Rejected, 2,
		"403 Not Authorized to access this resource/api", "make "+bob+" an admin", "domain-wide delegation")
}

func TestAdminUnknownToTheWorkspaceIsRejected(t *testing.T) {
	_, f := fakeTarget(t, googlefake.Options{Users: []string{alice}}, func(b string) string {
		return strings.Replace(b, "admin = \""+googlefake.DefaultAdmin+"\"", "admin = \"ghost@example.com\"", 1)
	})
	_, st, _ := run(t, f, alice)
	expect(t, step(t, st, alice, "google"), actions.Rejected, 1, "invalid_grant", "admin ghost@example.com is not a user of the Workspace")
}

func TestRevokeOAuthGrants(t *testing.T) {
	grants := map[string][]googlefake.Grant{alice: {
		{ClientID: "111.apps.googleusercontent.com", DisplayText: "Mail Merge Pro", Scopes: []string{"https://mail.google.com/"}},
		{ClientID: "222.apps.googleusercontent.com", DisplayText: "Drive Sync", Scopes: []string{"https://www.googleapis.com/auth/drive"}},
	}}
	fake, f := fakeTarget(t, googlefake.Options{Users: []string{alice, bob}, Grants: grants, RevokeOAuthGrants: true}, nil)
	p, st, j := run(t, f, alice, bob)
	// One of the two steps asks for the run's token, the other uses it.
	s, b := step(t, st, alice, "google"), step(t, st, bob, "google")
	withToken := func(s *actions.StepState, calls ...string) []string {
		if slices.Contains(j.Calls(t, s.Step), google.CallToken) {
			return append([]string{google.CallToken}, calls...)
		}
		return calls
	}
	want := withToken(s, google.CallSignOut, google.CallTokensList, google.CallTokensDelete, google.CallTokensDelete)
	expect(t, s, actions.Revoked, len(want), "deleted 2 grants to third-party apps", "Mail Merge Pro", "Drive Sync")
	if got := j.Calls(t, s.Step); !slices.Equal(got, want) {
		t.Errorf("calls %v, want %v", got, want)
	}
	if left := fake.Grants(alice); len(left) != 0 {
		t.Errorf("grants left: %v", left)
	}
	wantBob := withToken(b, google.CallSignOut, google.CallTokensList)
	expect(t, b, actions.Revoked, len(wantBob), "no grants to third-party apps")
	if n := countPath(fake, "POST", "/token"); n != 1 {
		t.Errorf("%d token requests, want 1", n)
	}
	if r := p.Residual()["google"]; strings.Contains(r, "OAuth grants") || !strings.Contains(r, "App passwords") {
		t.Errorf("residual with revoke_oauth_grants: %q", r)
	}
}

func TestUserWithoutEmailIsAPlanProblem(t *testing.T) {
	_, f := fakeTarget(t, googlefake.Options{Users: []string{alice}}, nil)
	req := actions.Request{Users: []string{"00u1abcdEFGH2345"}, Reason: "test", Targets: f.Targets, Defaults: f.Defaults}
	_, err := actions.BuildPlan(t.Context(), req, actions.StaticDirectory{})
	if err == nil || !strings.Contains(err.Error(), "email address") {
		t.Errorf("plan error %v, want one about the missing email", err)
	}
}
