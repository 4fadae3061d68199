package okta

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"

	sdk "github.com/okta/okta-sdk-golang/v2/okta"

	"ulc/actions"
)

// Every failure of an Okta step ends in what the operator does next.
func TestOktaStepReasonsEndInTheNextStep(t *testing.T) {
	refused := errors.New("Okta refused")
	for _, tc := range []struct {
		a      actions.Action
		status int
		err    error
		want   string
	}{
		{actions.ActionClearSessions, 401, refused, "check the Okta credential (the API token, or the service app's key), then R to retry"},
		{actions.ActionClearSessions, 403, refused, "give the Okta credential okta.users.manage and an admin role over this user, then R to retry"},
		{actions.ActionUniversalLogout, 403, refused, "give the Okta credential okta.universalLogout.manage"},
		{actions.ActionSuspend, 404, refused, "the user is no longer in Okta: nothing is left to sign out there"},
		{actions.ActionUniversalLogout, 404, refused, "the org may lack Identity Threat Protection"},
		{actions.ActionRevokeGrants, 429, refused, "R to retry then"},
		{actions.ActionDeactivate, 503, refused, "Okta is failing; R to retry in a minute"},
		{actions.ActionSuspend, 400, refused, "Okta will not suspend the user in their present status"},
		{actions.ActionDeactivate, 400, refused, "Okta will not deactivate the user in their present status"},
		{actions.ActionRevokeGrants, 400, refused, "check the user in the Okta admin console, then R to retry"},
		{actions.ActionClearSessions, 0, fmt.Errorf("dial: %w", errors.New("connection refused")), "check the org URL and the network to Okta, then R to retry"},
		{actions.ActionClearSessions, 0, context.DeadlineExceeded, "Okta is slow or out of reach; R to retry"},
		{actions.ActionSuspend, 0, context.Canceled, "R to retry"},
		// These say what to do themselves.
		{actions.ActionSuspend, 302, &refusal{status: 302, msg: "redirect"}, ""},
		{actions.ActionSuspend, 0, &sdk.Error{ErrorMessage: "invalid_scope"}, ""},
	} {
		got := nextStep(tc.a, tc.status, tc.err)
		if tc.want == "" && got != "" || !strings.HasPrefix(got, tc.want) {
			t.Errorf("%s %d %v: next step %q, want %q", tc.a, tc.status, tc.err, got, tc.want)
		}
	}
}

// A long refusal is shortened so its next step fits in the audit log's
// reason.
func TestWithNextKeepsTheNextStep(t *testing.T) {
	next := "give the Okta credential okta.users.manage and an admin role over this user, then R to retry"
	got := withNext("Okta refused (403 E0000006): "+strings.Repeat("no ", 300), next)
	if n := utf8.RuneCountInString(got); n > maxReason || !strings.HasSuffix(got, "…; "+next) {
		t.Fatalf("%d runes: %q", n, got)
	}
	if got := withNext("Okta at https://x did not answer in time (request timeout 30s)", "R to retry"); got != "Okta at https://x did not answer in time (request timeout 30s): R to retry" {
		t.Fatalf("%q", got)
	}
}
