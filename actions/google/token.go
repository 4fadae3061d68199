package google

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	"ulc/actions"
	"ulc/internal/safetext"
)

// tokenAnswer is the token endpoint's JSON answer, success or error.
type tokenAnswer struct {
	AccessToken string `json:"access_token"`
	ExpiresIn   int64  `json:"expires_in"`
	TokenType   string `json:"token_type"`
	Error       string `json:"error"`
	Description string `json:"error_description"`
}

// accessToken returns the run's access token, requesting one through call
// (a "token" attempt of this step) when there is none or it is about to
// expire. When ok is false, res is the step's result.
func (c *conn) accessToken(ctx context.Context, call actions.Caller) (tok string, res actions.Result, ok bool) {
	tok, _, _, res = c.tokens.Get(ctx, refreshMargin, func() (string, time.Duration, actions.Result) {
		return c.fetchToken(call)
	})
	return tok, res, tok != ""
}

// fetchToken asks the token endpoint for an access token.
func (c *conn) fetchToken(call actions.Caller) (string, time.Duration, actions.Result) {
	a := call.Do(actions.Call{Name: CallToken, ReadBody: true, Build: c.tokenRequest})
	var ta tokenAnswer
	parsed := json.Unmarshal(a.Body, &ta) == nil
	if a.Outcome != actions.Revoked {
		return "", 0, c.tokenFailure(a, ta)
	}
	if !parsed || ta.AccessToken == "" || !strings.EqualFold(ta.TokenType, "Bearer") && ta.TokenType != "" {
		return "", 0, actions.Result{Outcome: actions.Failed, HTTPStatus: a.Status, RequestID: a.RequestID,
			Error: fmt.Sprintf("the token endpoint %s answered %d without an access token: check token_uri in credentials_file", c.tokenURL, a.Status)}
	}
	life := time.Duration(ta.ExpiresIn) * time.Second
	if life <= 0 {
		life = time.Hour // Google's tokens last an hour
	}
	return ta.AccessToken, life, actions.Result{}
}

// tokenFailure is the result of a step whose token request failed: what
// the token endpoint said, and what to fix.
func (c *conn) tokenFailure(a actions.Answer, ta tokenAnswer) actions.Result {
	r := a.Result()
	if a.Status == 0 || a.Outcome == actions.Cancelled {
		if r.Error != "" {
			r.Error = "token endpoint " + c.tokenURL + ": " + r.Error
		}
		return r
	}
	code := safetext.Line(ta.Error, 40)
	desc := safetext.Line(ta.Description, 160)
	r.ErrorCode = code
	said := fmt.Sprintf("%d", a.Status)
	if code != "" {
		said = fmt.Sprintf("%d %s", a.Status, code)
		if desc != "" {
			said += ": " + desc
		}
	}
	sa := "service account " + c.account
	switch {
	case a.Status == http.StatusTooManyRequests || a.Status >= 500:
		r.Error = fmt.Sprintf("Google's token endpoint did not issue a token (%s)%s: resume the run later", said, after(a.Reason))
	case code == "unauthorized_client":
		r.Outcome = actions.Rejected
		r.Error = fmt.Sprintf("Google refused a token for %s (%d %s): %s", c.t.Admin, a.Status, code, c.delegationFix())
	case code == "invalid_grant" && strings.Contains(desc, "Invalid email or User ID"):
		r.Outcome = actions.Rejected
		r.Error = fmt.Sprintf("Google refused a token for %s (%s): admin %s is not a user of the Workspace; set admin to the address of a Workspace admin", sa, said, c.t.Admin)
	case code == "invalid_grant" && strings.Contains(desc, "timeframe"):
		r.Outcome = actions.Rejected
		r.Error = fmt.Sprintf("Google refused a token for %s (%s): set this machine's clock right (NTP)", sa, said)
	case code == "invalid_grant" && strings.Contains(desc, "audience"):
		r.Outcome = actions.Rejected
		r.Error = fmt.Sprintf("Google refused a token for %s (%s): check token_uri in credentials_file", sa, said)
	case code == "invalid_grant" || code == "invalid_client":
		r.Outcome = actions.Rejected
		r.Error = fmt.Sprintf("Google refused a token for %s (%s): the key in credentials_file may be deleted or the service account disabled; create a new JSON key (Google Cloud console: IAM & Admin › Service accounts › Keys)", sa, said)
	default:
		r.Outcome = actions.Rejected
		r.Error = fmt.Sprintf("Google's token endpoint %s refused the token request for %s (%s): check token_uri in credentials_file", c.tokenURL, sa, said)
	}
	return r
}
