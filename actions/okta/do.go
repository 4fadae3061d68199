package okta

import (
	"context"
	"errors"
	"fmt"
	"net/http"

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
// Each path is the one actions.OktaRequest records in the plan.
func (c *Client) Do(ctx context.Context, a actions.Action, u actions.User, forgetDevices bool) actions.OktaAnswer {
	if !ValidID(u.ID) {
		return actions.OktaAnswer{Err: fmt.Errorf("user %s has no valid Okta id; resolve the user through Okta first", safetext.Line(u.Key(), 120))}
	}
	tctx, tr := withTrace(ctx)
	var (
		resp *sdk.Response
		err  error
	)
	switch a {
	case actions.ActionSuspend:
		resp, err = c.sdk.User.SuspendUser(tctx, u.ID)
		if err != nil && c.alreadyIn(ctx, resp, u.ID, "SUSPENDED", tr) {
			return c.answer(nil, nil, tr)
		}
	case actions.ActionDeactivate:
		resp, err = c.sdk.User.DeactivateUser(tctx, u.ID, query.NewQueryParams(query.WithSendEmail(false)))
		if err != nil && c.alreadyIn(ctx, resp, u.ID, "DEPROVISIONED", tr) {
			return c.answer(nil, nil, tr)
		}
	case actions.ActionRevokeGrants:
		resp, err = c.sdk.User.RevokeUserGrants(tctx, u.ID)
	case actions.ActionClearSessions:
		method, path := actions.OktaRequest(a, u.ID, forgetDevices)
		resp, err = c.raw(tctx, method, path, nil)
	case actions.ActionUniversalLogout:
		return c.RevokeViaOkta(ctx, u)
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
	if !ValidID(u.ID) {
		return actions.OktaAnswer{Err: fmt.Errorf("user %s has no valid Okta id; resolve the user through Okta first", safetext.Line(u.Key(), 120))}
	}
	tctx, tr := withTrace(ctx)
	body := map[string]any{"sub_id": map[string]string{"format": "opaque", "id": u.ID}}
	resp, err := c.raw(tctx, http.MethodPost, "/oauth2/v1/global-token-revocation", body)
	return c.answer(resp, err, tr)
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

// alreadyIn reports whether a refused lifecycle change was refused because
// the user is already in the wanted state. It reads the user afresh (the
// cache is off) and leaves that answer in tr.
func (c *Client) alreadyIn(ctx context.Context, resp *sdk.Response, id, status string, tr *trace) bool {
	if resp == nil || resp.StatusCode < 400 || resp.StatusCode >= 500 ||
		resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden ||
		resp.StatusCode == http.StatusTooManyRequests {
		return false
	}
	check := &trace{}
	u, _, err := c.sdk.User.GetUser(context.WithValue(ctx, traceKey{}, check), id)
	if err != nil || u == nil || u.Status != status {
		return false
	}
	d := check.get()
	tr.mu.Lock()
	tr.d = d
	tr.mu.Unlock()
	return true
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
