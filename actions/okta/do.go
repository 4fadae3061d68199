package okta

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	sdk "github.com/okta/okta-sdk-golang/v2/okta"
	"github.com/okta/okta-sdk-golang/v2/okta/query"

	"ulc/actions"
	"ulc/internal/safetext"
)

// Do implements actions.Okta: it performs one Okta step for u, whose ID
// must be a valid Okta id, and reports Okta's answer.
//
//   - suspend: POST …/lifecycle/suspend. A user who is already SUSPENDED
//     counts as done (HTTPStatus 200, no error), since that is the state
//     the step wants; the request id is then that of the status check.
//   - deactivate: POST …/lifecycle/deactivate?sendEmail=false; a user who
//     is already DEPROVISIONED counts as done the same way.
//   - revoke grants: DELETE …/grants.
//   - clear sessions: DELETE …/sessions?oauthTokens=true&forgetDevices=…,
//     sent through the SDK's request executor because the SDK has no
//     forgetDevices option (Okta's default is true on Identity Engine).
//
// Each path is the one actions.OktaRequest records in the plan. After a
// suspend, a deactivate or a clear of sessions that Okta accepted, the user
// is read back (see readBack).
func (c *Client) Do(ctx context.Context, a actions.Action, u actions.User, forgetDevices bool) (ans actions.OktaAnswer) {
	if !ValidID(u.ID) {
		return actions.OktaAnswer{Err: fmt.Errorf("user %s has no valid Okta id; resolve the user through Okta first", safetext.Line(u.Key(), 120))}
	}
	tctx, tr := withTrace(ctx)
	var (
		resp *sdk.Response
		err  error
	)
	// Okta keeps lastLogin to the second; a second of slack either side
	// covers the rounding and a clock a little apart from Okta's.
	since := time.Now().Add(-time.Second)
	var already *sdk.User // the user as read when already in the wanted state
	defer func() {
		if ans.Err != nil {
			// Every refusal ends in what the operator does next.
			ans.Err = errors.New(withNext(ans.Err.Error(), nextStep(a, ans.HTTPStatus, err)))
		}
		switch {
		case already != nil:
			ans.Verified, ans.Evidence = verdict(already, a, since)
		case ans.Err == nil && ans.HTTPStatus != 0:
			ans.Verified, ans.Evidence = c.readBack(ctx, a, u.ID, since)
		}
	}()
	switch a {
	case actions.ActionSuspend:
		resp, err = c.sdk.User.SuspendUser(tctx, u.ID)
		if err != nil {
			if already = c.alreadyIn(ctx, resp, u.ID, "SUSPENDED", tr); already != nil {
				return c.answer(nil, nil, tr)
			}
		}
	case actions.ActionDeactivate:
		resp, err = c.sdk.User.DeactivateUser(tctx, u.ID, query.NewQueryParams(query.WithSendEmail(false)))
		if err != nil {
			if already = c.alreadyIn(ctx, resp, u.ID, "DEPROVISIONED", tr); already != nil {
				return c.answer(nil, nil, tr)
			}
		}
	case actions.ActionRevokeGrants:
		resp, err = c.sdk.User.RevokeUserGrants(tctx, u.ID)
	case actions.ActionClearSessions:
		method, path := actions.OktaRequest(a, u.ID, forgetDevices)
		resp, err = c.raw(tctx, method, path, nil)
	case actions.ActionUniversalLogout:
		body := map[string]any{"sub_id": map[string]string{"format": "opaque", "id": u.ID}}
		resp, err = c.raw(tctx, http.MethodPost, "/oauth2/v1/global-token-revocation", body)
	default:
		return actions.OktaAnswer{Err: fmt.Errorf("unknown Okta action %q", safetext.Line(string(a), 60))}
	}
	return c.answer(resp, err, tr)
}

// RevokeViaOkta asks Okta's own Global Token Revocation receiver
// (POST /oauth2/v1/global-token-revocation, scope
// okta.universalLogout.manage, Identity Threat Protection) to revoke all of
// u's tokens and sessions and to log u out of every app that trusts Okta's
// Universal Logout. The subject is {"format": "opaque", "id": <Okta id>}.
func (c *Client) RevokeViaOkta(ctx context.Context, u actions.User) actions.OktaAnswer {
	return c.Do(ctx, actions.ActionUniversalLogout, u, false)
}

// maxReason is the length of a step's reason in the audit log (the
// engine keeps 300 characters): the next step must fit in it.
const maxReason = 300

// withNext is Okta's refusal s followed by next, the operator's next step;
// s is shortened if the two would not fit in maxReason characters, so the
// next step is never what is cut off.
func withNext(s, next string) string {
	if next == "" {
		return s
	}
	sep := ": "
	if strings.Contains(s, ": ") {
		sep = "; " // "Okta refused (403 E0000006): You do not …; grant …"
	}
	s = strings.TrimRight(s, ". ")
	room := maxReason - utf8.RuneCountInString(sep+next)
	return safetext.Line(s, max(room, 20)) + sep + next
}

// nextStep says what to do after Okta step a failed with HTTP status
// (0: no answer) and error err.
func nextStep(a actions.Action, status int, err error) string {
	var ref *refusal
	var oe *sdk.Error
	switch {
	case err == nil:
		return "" // no request was made: the reason says why
	case errors.As(err, &ref):
		return "" // a refused redirect says what to check
	case errors.Is(err, context.Canceled):
		return "R to retry"
	case errors.Is(err, context.DeadlineExceeded):
		return "Okta is slow or out of reach; R to retry"
	case status == 0 && errors.As(err, &oe):
		return "" // the token endpoint's refusal says what to fix
	case status == 0:
		return "check the org URL and the network to Okta, then R to retry"
	case status == http.StatusUnauthorized:
		return "check the Okta credential (the API token, or the service app's key), then R to retry"
	case status == http.StatusForbidden:
		need := "okta.users.manage"
		if a == actions.ActionUniversalLogout {
			need = "okta.universalLogout.manage (and the org Identity Threat Protection)"
		}
		return "give the Okta credential " + need + " and an admin role over this user, then R to retry"
	case status == http.StatusNotFound && a == actions.ActionUniversalLogout:
		return "the org may lack Identity Threat Protection, or the user is gone; check in the Okta admin console"
	case status == http.StatusNotFound:
		return "the user is no longer in Okta: nothing is left to sign out there"
	case status == http.StatusTooManyRequests:
		return "R to retry then"
	case status >= 500:
		return "Okta is failing; R to retry in a minute"
	case status >= 400:
		switch a {
		case actions.ActionSuspend:
			return "Okta will not suspend the user in their present status; check it in the Okta admin console"
		case actions.ActionDeactivate:
			return "Okta will not deactivate the user in their present status; check it in the Okta admin console"
		case actions.ActionUniversalLogout:
			return "check that the org has Identity Threat Protection with Universal Logout"
		}
		return "check the user in the Okta admin console, then R to retry"
	}
	return ""
}

// readBack reads the user after step a succeeded and reports whether the
// step took effect: the status it wants (SUSPENDED after a suspend,
// DEPROVISIONED after a deactivate) and no sign-in (lastLogin) after the
// step began. nil when the step has nothing to read back or the read
// failed (the outcome stands either way).
func (c *Client) readBack(ctx context.Context, a actions.Action, id string, since time.Time) (*bool, string) {
	switch a {
	case actions.ActionSuspend, actions.ActionDeactivate, actions.ActionClearSessions:
	default:
		return nil, ""
	}
	tctx, _ := withTrace(ctx)
	u, _, err := c.sdk.User.GetUser(tctx, id)
	if err != nil || u == nil {
		return nil, ""
	}
	return verdict(u, a, since)
}

// verdict says whether user u, as read after step a, shows the step took
// effect, and what was read.
func verdict(u *sdk.User, a actions.Action, since time.Time) (*bool, string) {
	want := ""
	switch a {
	case actions.ActionSuspend:
		want = "SUSPENDED"
	case actions.ActionDeactivate:
		want = "DEPROVISIONED"
	}
	status := safetext.Line(u.Status, 40)
	ok := want == "" || status == want
	evidence := "status " + status
	if want == "" {
		evidence = ""
	}
	last := "lastLogin never"
	if u.LastLogin != nil {
		last = "lastLogin " + u.LastLogin.UTC().Format(time.RFC3339)
		if u.LastLogin.After(since) {
			ok = false
			last += ", after the step began"
		}
	}
	if evidence != "" {
		evidence += ", "
	}
	evidence += last
	return &ok, evidence
}

// raw sends a request the SDK has no method for, with the SDK's auth, 429
// retries and error handling.
func (c *Client) raw(ctx context.Context, method, path string, body any) (*sdk.Response, error) {
	re := c.sdk.CloneRequestExecutor()
	req, err := re.WithAccept("application/json").WithContentType("application/json").NewRequest(method, path, body)
	if err != nil {
		return nil, err
	}
	return re.Do(ctx, req, nil)
}

// alreadyIn returns the user when a refused lifecycle change was refused
// because the user is already in the wanted state, else nil. It reads the
// user afresh (the cache is off) and leaves that answer in tr.
func (c *Client) alreadyIn(ctx context.Context, resp *sdk.Response, id, status string, tr *trace) *sdk.User {
	if resp == nil || resp.StatusCode < 400 || resp.StatusCode >= 500 ||
		resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden ||
		resp.StatusCode == http.StatusTooManyRequests {
		return nil
	}
	check := &trace{}
	u, _, err := c.sdk.User.GetUser(context.WithValue(ctx, traceKey{}, check), id)
	if err != nil || u == nil || u.Status != status {
		return nil
	}
	d := check.get()
	tr.mu.Lock()
	tr.d = d
	tr.mu.Unlock()
	return u
}

// answer fills an OktaAnswer from what the call returned and what the
// transport saw.
func (c *Client) answer(resp *sdk.Response, err error, tr *trace) actions.OktaAnswer {
	td := tr.get()
	var ans actions.OktaAnswer
	switch {
	case resp != nil:
		ans.HTTPStatus = resp.StatusCode
		ans.RequestID = safetext.Line(resp.Header.Get("X-Okta-Request-Id"), 80)
	case isTooMany(err):
		// The SDK drops the last 429's response; the transport kept it.
		ans.HTTPStatus, ans.RequestID = http.StatusTooManyRequests, td.requestID
	case err == nil:
		ans.HTTPStatus, ans.RequestID = td.status, td.requestID
	}
	if err == nil {
		return ans
	}
	var ref *refusal
	if errors.As(err, &ref) && ans.HTTPStatus == 0 {
		// A redirect the transport refused: Okta did answer, with a 3xx.
		ans.HTTPStatus, ans.RequestID = ref.status, td.requestID
	}
	var oe *sdk.Error
	if errors.As(err, &oe) {
		ans.ErrorCode = safetext.Line(oe.ErrorCode, 40)
		ans.ErrorID = safetext.Line(oe.ErrorId, 80)
	}
	ans.Err = errors.New(c.sentence(err, resp, td, "Okta refused"))
	return ans
}
