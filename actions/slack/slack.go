// Package slack is the connector of kind "slack" targets: it signs a user
// out of a Slack Enterprise Grid org with two Web API calls, both through
// the engine's Caller (so each attempt is in the audit log):
// users.lookupByEmail finds the member by the user's email, then
// admin.users.session.reset wipes that member's sessions on every device.
//
// Slack answers method errors with HTTP 200 and {"ok":false,"error":...};
// this connector reads every body and maps the error codes by meaning:
// users_not_found and user_not_found are not_found; a token or setup the
// call cannot succeed with (not_authed, invalid_auth, missing_scope,
// not_an_admin, feature_not_enabled, ...) is rejected with the fix;
// ratelimited, in a 200 or a 429, is retried after Retry-After;
// internal_error and user_session_reset_failed are failed.
//
// The token travels only in the Authorization: Bearer header, never in a
// body or a URL, and only to the target's url.
//
// github.com/slack-go/slack is not used: its methods send the token as a
// form field and make their own HTTP calls (every call here must go through
// the Caller), it has no admin.users.session.reset, and the two response
// shapes it would contribute are a few lines below.
package slack

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"

	"ulc/actions"
	"ulc/config"
	"ulc/internal/safetext"
)

// The Web API methods the connector calls, and the scopes they need.
const (
	methodLookup = "users.lookupByEmail"
	methodReset  = "admin.users.session.reset"
	scopeLookup  = "users:read.email"
	scopeReset   = "admin.users:write"
)

// residual is what a session reset is not known to end.
const residual = "App OAuth tokens the user authorized (xoxp-) may outlive the session reset, since Slack documents only that sessions are wiped: deactivate the user to be sure."

// Connector opens kind "slack" targets. The backend registers it with
// actions.Register(config.KindSlack, slack.Connector{}).
type Connector struct{}

// conn is a kind "slack" target opened for one run.
type conn struct {
	t       config.Target
	cred    *config.Credential
	base    *url.URL
	version string
}

// Open implements actions.Connector: it loads the target's token
// (token_env or token_file) and checks its url, the Web API root.
func (Connector) Open(ctx context.Context, t config.Target, env actions.ConnEnv) (actions.Conn, error) {
	cred, err := t.LoadCredentialContext(ctx, env.Getenv)
	if err != nil {
		return nil, err
	}
	if cred.Token() == "" {
		return nil, &config.Error{File: t.File, Line: t.Line, Scope: fmt.Sprintf("target %q", t.Name),
			Msg: "kind \"slack\" needs token_env or token_file: a user token of an org admin", Err: config.ErrCredential}
	}
	raw := t.URL
	if raw == "" {
		raw = config.DefaultSlackURL
	}
	if !strings.HasSuffix(raw, "/") {
		raw += "/"
	}
	base, err := url.Parse(raw)
	if err != nil || base.Host == "" || (base.Scheme != "https" && base.Scheme != "http") || base.RawQuery != "" {
		return nil, fmt.Errorf("%s: url must be the Slack Web API root, such as %s", t.Where(), config.DefaultSlackURL)
	}
	return &conn{t: t, cred: cred, base: base, version: env.Version}, nil
}

// methodURL is the URL of a Web API method under the target's root.
func (c *conn) methodURL(method string) string {
	return c.base.JoinPath(method).String()
}

// Plan implements actions.Conn: the reset call, with the lookup that
// finds the user id it sends.
func (c *conn) Plan(u actions.User) (actions.StepDetail, error) {
	if strings.TrimSpace(u.Email) == "" {
		return actions.StepDetail{}, fmt.Errorf("%s, user %s: Slack finds users by email (users.lookupByEmail), and this user has none in the directory", c.t.Where(), u.Key())
	}
	return actions.StepDetail{
		Method: http.MethodPost, URL: c.methodURL(methodReset),
		Body:          "user_id=<id of " + methodLookup + " email=" + u.Email + ">",
		SubjectFormat: "email", Auth: config.AuthBearer, Credential: c.cred.Fingerprint,
		TimeoutMS: c.t.Timeout.Milliseconds(), Retries: c.t.Retries,
	}, nil
}

// Residual implements actions.Conn.
func (c *conn) Residual() string { return residual }

// envelope is the part of a Web API answer the connector reads.
type envelope struct {
	OK       *bool  `json:"ok"`
	Error    string `json:"error"`
	Needed   string `json:"needed"`
	Provided string `json:"provided"`
	User     struct {
		ID    string `json:"id"`
		IsBot bool   `json:"is_bot"`
	} `json:"user"`
}

// decode reads a Web API envelope; ok is false when body is not one.
func decode(body []byte) (envelope, bool) {
	var e envelope
	if json.Unmarshal(body, &e) != nil || e.OK == nil {
		return envelope{}, false
	}
	return e, true
}

// retryRateLimited is Call.Retry: Slack may say ratelimited in a 200 too.
func retryRateLimited(a actions.Answer) (bool, time.Duration) {
	e, ok := decode(a.Body)
	return ok && !*e.OK && e.Error == "ratelimited", 0
}

// Revoke implements actions.Conn: the lookup, then the reset.
func (c *conn) Revoke(_ context.Context, s actions.Step, call actions.Caller) actions.Result {
	email := s.User.Email
	a := call.Do(c.call("lookup", methodLookup, url.Values{"email": {email}}))
	e, res, ok := c.interpret(methodLookup, a)
	if !ok {
		if res.Outcome == actions.NotFound && lacksScope(a.Header, scopeReset) {
			// Nobody to sign out here, but the next user's reset would be
			// refused: say so now (ulc targets check --live sees it too).
			res.Warning = "the token lacks " + scopeReset + ", which resets need: add it to the app's User Token Scopes and reinstall it"
			res.Error += "; note that " + res.Warning
		}
		return res
	}
	id := e.User.ID
	if len(id) > 255 || !userID.MatchString(id) {
		res.Outcome = actions.Failed
		res.Error = fmt.Sprintf("Slack's %s answered ok without a valid user id for %s: check that url is the Slack Web API root, then ulc resume the run", methodLookup, safetext.Line(email, 80))
		return res
	}
	a = call.Do(c.call("reset", methodReset, url.Values{"user_id": {id}}))
	_, res, ok = c.interpret(methodReset, a)
	if !ok {
		return res
	}
	return actions.Result{Outcome: actions.Revoked, HTTPStatus: a.Status, RequestID: res.RequestID}
}

// retryNote says how the engine's retries of a rate-limited call ended,
// from its reason: after how many attempts, or the wait it would not make.
func retryNote(a actions.Answer) string {
	note := fmt.Sprintf("HTTP %d", a.Status)
	if i := strings.LastIndex(a.Reason, "asked to wait"); i >= 0 {
		return note + ", " + a.Reason[i:]
	}
	if i := strings.LastIndex(a.Reason, "(after "); i >= 0 && strings.HasSuffix(a.Reason, ")") {
		return note + ", " + a.Reason[i+1:len(a.Reason)-1]
	}
	return note
}

// lacksScope reports whether Slack's X-OAuth-Scopes header, the scopes of
// the token it received, is there and lacks scope.
func lacksScope(h http.Header, scope string) bool {
	granted := h.Get("X-OAuth-Scopes")
	if granted == "" {
		return false
	}
	for _, g := range strings.Split(granted, ",") {
		if strings.TrimSpace(g) == scope {
			return false
		}
	}
	return true
}

// userID is the shape of a Slack user id, as Slack's spec gives it
// (defs_user_id); ids are about ten characters long, so longer than 255
// is refused too.
var userID = regexp.MustCompile(`^[UW][A-Z0-9]{2,}$`)

// call is one Web API call: a form POST of args, the token in the
// Authorization header.
func (c *conn) call(name, method string, args url.Values) actions.Call {
	target := c.methodURL(method)
	body := args.Encode()
	return actions.Call{
		Name:     name,
		ReadBody: true,
		Retry:    retryRateLimited,
		Build: func(ctx context.Context) (*http.Request, string, error) {
			req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, strings.NewReader(body))
			if err != nil {
				return nil, "", fmt.Errorf("building the %s request: check url (%v)", method, err)
			}
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.Header.Set("Accept", "application/json")
			req.Header.Set("User-Agent", "ulc/"+c.version)
			req.Header.Set("Authorization", "Bearer "+c.cred.Token())
			return req, "", nil
		},
	}
}

// interpret turns the answer to method into the step's result. ok is true
// when Slack answered ok:true, and e is then its envelope.
func (c *conn) interpret(method string, a actions.Answer) (e envelope, res actions.Result, ok bool) {
	res = a.Result()
	if id := safetext.Line(a.Header.Get("X-Slack-Req-Id"), 80); id != "" {
		res.RequestID = id
	}
	if a.Outcome == actions.Cancelled || a.Status == 0 {
		if res.Error != "" && a.Outcome != actions.Cancelled {
			res.Error = method + ": " + res.Error
		}
		return envelope{}, res, false
	}
	e, isEnvelope := decode(a.Body)
	switch {
	case isEnvelope && *e.OK && a.Status >= 200 && a.Status < 300:
		return e, res, true
	case isEnvelope && !*e.OK && e.Error != "":
		res.ErrorCode = safetext.Line(e.Error, 60)
		res.Outcome, res.Error = c.explain(method, e, a)
		return e, res, false
	case a.Status == http.StatusNotFound:
		res.Outcome = actions.Rejected
		res.Error = fmt.Sprintf("Slack answered 404 to %s: url must be the Web API root, such as %s; fix url", method, config.DefaultSlackURL)
	case a.Status == http.StatusTooManyRequests || a.Status >= 500:
		res.Outcome = actions.Failed
		res.Error = fmt.Sprintf("%s: %s; wait, then ulc resume the run", method, a.Reason)
	case a.Status >= 300 && a.Status < 400:
		res.Outcome = actions.Rejected
		res.Error = fmt.Sprintf("%s: %s", method, a.Sentence()) // "…, not followed: fix url"
	case a.Status == http.StatusUnauthorized || a.Status == http.StatusForbidden:
		res.Outcome = actions.Rejected
		res.Error = fmt.Sprintf("%s was refused (%d): %s", method, a.Status, c.tokenFix())
	default:
		res.Outcome = actions.Rejected
		res.Error = fmt.Sprintf("%s answered %d with a body that is not Slack's JSON: check that url is the Slack Web API root, such as %s", method, a.Status, config.DefaultSlackURL)
	}
	return envelope{}, res, false
}

// tokenFix says where to put a new token.
func (c *conn) tokenFix() string {
	where := "the token"
	switch {
	case c.t.TokenEnv != "":
		where = "token_env " + c.t.TokenEnv
	case c.t.TokenFile != "":
		where = "token_file " + c.t.TokenFile
	}
	return "put a valid user token (xoxp-) of an org admin, with the scopes " + scopeReset + " and " + scopeLookup + ", in " + where
}

// scopeList keeps the characters of Slack scope names, for a message.
var scopeList = regexp.MustCompile(`^[a-z0-9_.:,-]{1,200}$`)

// explain maps an ok:false error code of method to an outcome and the
// sentence an operator reads.
func (c *conn) explain(method string, e envelope, a actions.Answer) (actions.Outcome, string) {
	code := safetext.Line(e.Error, 60)
	switch e.Error {
	case "users_not_found":
		return actions.NotFound, "Slack has no member with this email address (users_not_found): nothing to sign out there, unless their Slack account uses another address"
	case "user_not_found":
		return actions.NotFound, "Slack found no member with the id the lookup gave (user_not_found): check that the token belongs to the Enterprise Grid org that holds this user"
	case "not_authed":
		return actions.Rejected, "Slack received no token (not_authed): " + c.tokenFix()
	case "invalid_auth":
		return actions.Rejected, "Slack does not know this token (invalid_auth): " + c.tokenFix()
	case "token_revoked":
		return actions.Rejected, "The Slack token was revoked (token_revoked): reinstall the app on the org and " + c.tokenFix()
	case "token_expired":
		return actions.Rejected, "The Slack token has expired (token_expired): turn off token rotation for this app or issue a new token, and " + c.tokenFix()
	case "account_inactive":
		return actions.Rejected, "The Slack token's user is deactivated (account_inactive): " + c.tokenFix()
	case "missing_scope":
		needed := scopeReset
		if method == methodLookup {
			needed = scopeLookup
		}
		if scopeList.MatchString(e.Needed) {
			needed = e.Needed
		}
		has := ""
		if scopeList.MatchString(e.Provided) {
			has = "; it has " + e.Provided
		}
		return actions.Rejected, fmt.Sprintf("The Slack token lacks the scope %s for %s (missing_scope%s): add %s under OAuth & Permissions → User Token Scopes, reinstall the app on the org and replace the token", needed, method, has, needed)
	case "not_allowed_token_type":
		return actions.Rejected, fmt.Sprintf("Slack does not take this kind of token for %s (not_allowed_token_type): use the user token (xoxp-) an org admin gets by installing the app on the org, not a bot token (xoxb-)", method)
	case "not_an_admin":
		return actions.Rejected, "The Slack token's user is not an org admin or owner (not_an_admin): have an Org Admin or Owner install the app on the Enterprise Grid org and use their user token"
	case "feature_not_enabled":
		return actions.Rejected, "admin.users.session.reset needs Slack Enterprise Grid (feature_not_enabled): point this target at a Grid org's admin token, or sign the user out at Slack by hand"
	case "enterprise_is_restricted", "no_permission":
		return actions.Rejected, fmt.Sprintf("Slack does not let this token call %s (%s): install the app on the Enterprise Grid org itself, not on one workspace, and use that token", method, code)
	case "cannot_reset_bot":
		return actions.Rejected, "This Slack member is a bot, whose sessions cannot be reset (cannot_reset_bot): check that the user's email is not shared with a bot, and deactivate the bot at Slack if it is compromised"
	case "cannot_reset_primary_owner":
		return actions.Rejected, "This Slack member is the org's primary owner, whose sessions the API may not reset (cannot_reset_primary_owner): have the primary owner sign out of all sessions at Slack, or transfer primary ownership first"
	case "unknown_method":
		return actions.Rejected, fmt.Sprintf("Slack does not know %s at this url (unknown_method): url must be the Web API root, such as %s; fix url", method, config.DefaultSlackURL)
	case "ratelimited":
		return actions.Failed, fmt.Sprintf("Slack kept answering ratelimited to %s (%s): wait a minute, then ulc resume the run", method, retryNote(a))
	case "internal_error", "fatal_error", "request_timeout", "service_unavailable":
		return actions.Failed, fmt.Sprintf("Slack failed on %s (%s): try again later with ulc resume", method, code)
	case "user_session_reset_failed":
		return actions.Failed, "Slack could not reset the member's sessions (user_session_reset_failed): try again later with ulc resume, or reset them in Slack's admin dashboard"
	}
	if strings.HasPrefix(e.Error, "invalid_") || e.Error == "missing_post_type" {
		return actions.Rejected, fmt.Sprintf("Slack refused the %s request (%s): ulc sent something Slack does not accept; report it with the request id", method, code)
	}
	return actions.Failed, fmt.Sprintf("Slack answered %s to %s: look the code up at https://api.slack.com/methods/%s, then ulc resume the run", code, method, method)
}
