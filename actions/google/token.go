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

// tokenCache holds the run's access token. One step at a time may ask for
// a token (lock is a one-slot semaphore, so a waiting step can be
// cancelled): when many steps start at once, the first requests it and the
// others use it. A refusal (our credential is wrong) is kept too, so the
// run does not send the same refused request once per user.
type tokenCache struct {
	lock    chan struct{}
	token   string
	expires time.Time
	refused *actions.Result
}

func newTokenCache() tokenCache { return tokenCache{lock: make(chan struct{}, 1)} }

// drop forgets tok, which the API refused, unless a newer token replaced
// it already.
func (tc *tokenCache) drop(tok string) {
	tc.lock <- struct{}{}
	defer func() { <-tc.lock }()
	if tc.token == tok {
		tc.token, tc.expires = "", time.Time{}
	}
}

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
	tc := &c.tokens
	select {
	case tc.lock <- struct{}{}:
		defer func() { <-tc.lock }()
	case <-ctx.Done():
		return "", actions.Result{Outcome: actions.Cancelled, Error: "cancelled before it was sent"}, false
	}
	if tc.token != "" && time.Now().Before(tc.expires) {
		return tc.token, actions.Result{}, true
	}
	if tc.refused != nil {
		return "", *tc.refused, false
	}
	a := call.Do(actions.Call{Name: CallToken, ReadBody: true, Build: c.tokenRequest})
	var ta tokenAnswer
	parsed := json.Unmarshal(a.Body, &ta) == nil
	if a.Outcome == actions.Revoked {
		if !parsed || ta.AccessToken == "" || !strings.EqualFold(ta.TokenType, "Bearer") && ta.TokenType != "" {
			return "", actions.Result{Outcome: actions.Failed, HTTPStatus: a.Status, RequestID: a.RequestID,
				Error: fmt.Sprintf("the token endpoint %s answered %d without an access token: check token_uri in credentials_file", c.tokenURL, a.Status)}, false
		}
		life := time.Duration(ta.ExpiresIn) * time.Second
		if life <= 0 {
			life = time.Hour // Google's tokens last an hour
		}
		tc.token = ta.AccessToken
		tc.expires = time.Now().Add(max(life-refreshMargin, life/2))
		return tc.token, actions.Result{}, true
	}
	r := c.tokenFailure(a, ta)
	if r.Outcome == actions.Rejected {
		tc.refused = &r
	}
	return "", r, false
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
