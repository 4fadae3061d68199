// Package zoom is the connector of kind "zoom" targets: it ends a user's
// Zoom SSO session through the Zoom API v2, as a Server-to-Server OAuth app.
//
// One step makes up to two calls, each an attempt in the audit log:
//
//   - "token": POST token_url (https://zoom.us/oauth/token) with the
//     app's Client ID and Client Secret as HTTP Basic credentials and the
//     form grant_type=account_credentials&account_id=... The access token
//     (an hour's) is kept in memory for the run and shared by its steps;
//     only the step that finds none (or an expired one) asks, one at a
//     time, since Zoom may retire a token when it issues another.
//   - "revoke": DELETE {url}users/{email}/token, which revokes the user's
//     SSO token and so signs them out of their current Zoom session.
package zoom

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"ulc/actions"
	"ulc/config"
	"ulc/internal/safetext"
)

// Scope is the scope the sign-out needs on the Server-to-Server OAuth app
// (classic scopes; user:write:admin covers it).
const Scope = "user:write:admin"

// Zoom's API error codes that ulc reads.
const (
	codeInvalidToken = 124  // the access token is invalid or expired
	codeNoPermission = 200  // the app's owner lacks the admin privilege
	codeNoUser       = 1001 // the user does not exist in the account
	codeNoScope      = 4711 // the access token lacks a scope
)

// tokenSkew is how long before its stated expiry an access token is
// replaced, so that none expires between the check and Zoom's.
const tokenSkew = 2 * time.Minute

// residual is what the sign-out leaves alive (CONNECTORS.md, section 6).
const residual = "Only the SSO session ends: sessions of password (non-SSO) logins and other apps' sessions may survive; deactivate the user (PUT users/{userId}/status {\"action\":\"deactivate\"}) for certainty."

// marketplace is where the app's settings are, for messages.
const marketplace = "Zoom App Marketplace → Manage → the app"

// Connector is the connector of kind "zoom" targets. The backend registers
// it with actions.Register(config.KindZoom, zoom.Connector{}).
type Connector struct{}

var _ actions.Connector = Connector{}

// conn is a kind "zoom" target opened for one run.
type conn struct {
	t       config.Target
	cred    *config.Credential
	version string

	// tokens is the run's access token, shared by its steps.
	tokens actions.TokenCache
}

// Open implements actions.Connector: it loads the app's Client Secret.
func (Connector) Open(ctx context.Context, t config.Target, env actions.ConnEnv) (actions.Conn, error) {
	cred, err := t.LoadCredentialContext(ctx, env.Getenv)
	if err != nil {
		return nil, err
	}
	if cred.Kind != config.AuthClientSecret || cred.Token() == "" {
		return nil, &config.Error{File: t.File, Line: t.Line, Scope: fmt.Sprintf("target %q", t.Name), Err: config.ErrCredential,
			Msg: "kind \"zoom\" needs the Client Secret of the Server-to-Server OAuth app in client_secret_env or client_secret_file"}
	}
	if t.URL == "" || cred.TokenURL == "" || t.AccountID == "" || cred.Account == "" {
		return nil, fmt.Errorf("%s: kind %q needs url, token_url, account_id and client_id", t.Where(), config.KindZoom)
	}
	return &conn{t: t, cred: cred, version: env.Version}, nil
}

// Plan implements actions.Conn: the sign-out of the user by email.
func (c *conn) Plan(u actions.User) (actions.StepDetail, error) {
	email := emailOf(u)
	if email == "" {
		return actions.StepDetail{}, fmt.Errorf("%s, user %s: kind %q signs a user out by email address, and this user has none", c.t.Where(), u.Key(), config.KindZoom)
	}
	return actions.StepDetail{
		Method: http.MethodDelete, URL: c.revokeURL(email), Auth: c.cred.Kind, Credential: c.cred.Fingerprint,
		TimeoutMS: c.t.Timeout.Milliseconds(), Retries: c.t.Retries,
	}, nil
}

func emailOf(u actions.User) string {
	if strings.Contains(u.Email, "@") {
		return u.Email
	}
	return ""
}

// Residual implements actions.Conn.
func (c *conn) Residual() string { return residual }

func (c *conn) revokeURL(email string) string {
	return c.t.URL + "users/" + url.PathEscape(email) + "/token"
}

// Revoke implements actions.Conn: token (when the run has none yet), then
// revoke.
func (c *conn) Revoke(ctx context.Context, s actions.Step, call actions.Caller) actions.Result {
	email := emailOf(*s.User)
	if email == "" {
		return actions.Result{Outcome: actions.Failed, Error: "this user has no email address to name them to Zoom: end their sessions in the Zoom admin portal (User Management → Users)"}
	}
	tok, fresh, res := c.accessToken(ctx, call)
	if tok == "" {
		return res
	}
	ans := call.Do(c.revokeCall(email, tok))
	if ans.Status == http.StatusUnauthorized && !fresh {
		// The run's token was refused (expired early, or retired when
		// another was issued): ask for a new one once.
		c.tokens.Drop(tok)
		if tok, _, res = c.accessToken(ctx, call); tok == "" {
			return res
		}
		ans = call.Do(c.revokeCall(email, tok))
	}
	return c.revokeResult(ans, email)
}

// revokeCall is the sign-out with the access token.
func (c *conn) revokeCall(email, tok string) actions.Call {
	u := c.revokeURL(email)
	return actions.Call{Name: "revoke", ReadBody: true, Build: func(ctx context.Context) (*http.Request, string, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodDelete, u, nil)
		if err != nil {
			return nil, "", fmt.Errorf("building the Zoom request: %v", err)
		}
		req.Header.Set("Authorization", "Bearer "+tok)
		req.Header.Set("Accept", "application/json")
		req.Header.Set("User-Agent", "ulc/"+c.version)
		return req, "", nil
	}}
}

// apiError is the Zoom API's error body.
type apiError struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
}

// parseAPIError reads the code and message of a Zoom answer, and fills in
// the result's ErrorCode, and its RequestID from x-zm-trackingid.
func parseAPIError(a actions.Answer, res *actions.Result) (code int, msg string) {
	if res.RequestID == "" && a.Header != nil {
		res.RequestID = safetext.Line(a.Header.Get("x-zm-trackingid"), 120)
	}
	var e apiError
	if json.Unmarshal(a.Body, &e) != nil {
		return 0, ""
	}
	if e.Code != 0 {
		res.ErrorCode = fmt.Sprint(e.Code)
	}
	return e.Code, safetext.Line(e.Message, 160)
}

// revokeResult classifies the answer to the sign-out.
func (c *conn) revokeResult(a actions.Answer, email string) actions.Result {
	res := a.Result()
	if a.Outcome == actions.Cancelled || a.Status == 0 {
		if res.Outcome == actions.Failed {
			res.Error = c.scrub(a.Reason) + ": the sign-out may not have reached Zoom; resume the run, or end the user's sessions in the Zoom admin portal"
		}
		return res
	}
	code, msg := parseAPIError(a, &res)
	msg = c.scrub(msg)
	what := statusCode(a.Status, code)
	switch st := a.Status; {
	case st >= 200 && st < 300:
		// Zoom answers 204; any 2xx is success.
		res.Outcome, res.Error = actions.Revoked, ""
	case code == codeNoUser && (st == http.StatusNotFound || st == http.StatusBadRequest):
		res.Outcome = actions.NotFound
		res.Error = fmt.Sprintf("Zoom has no user %s in this account (%s): if they use another email address at Zoom, end their sessions in the Zoom admin portal (User Management → Users)", safetext.Line(email, 120), what)
	case code == codeNoScope:
		res.Outcome = actions.Rejected
		res.Error = fmt.Sprintf("Zoom refused the sign-out (%s%s): add the scope %s to the app (%s → Scopes) and activate it again", what, detail(msg), Scope, marketplace)
	case code == codeNoPermission || st == http.StatusForbidden:
		res.Outcome = actions.Rejected
		res.Error = fmt.Sprintf("Zoom denied the sign-out (%s%s): the app needs the scope %s, and the user who created it an admin role that may edit users (Zoom admin portal → User Management → Roles)", what, detail(msg), Scope)
	case st == http.StatusUnauthorized:
		res.Outcome = actions.Rejected
		res.Error = fmt.Sprintf("Zoom refused the access token (%s%s): check that url is the API root of the account token_url issues tokens for (such as %s), and that the app is activated (%s)", what, detail(msg), config.DefaultZoomURL, marketplace)
	case st >= 300 && st < 400:
		res.Outcome = actions.Rejected
		res.Error = c.scrub(a.Sentence()) // "…, not followed: fix url"
	case st == http.StatusTooManyRequests:
		res.Outcome = actions.Failed
		res.Error = fmt.Sprintf("Zoom kept rate-limiting the sign-out (%s)%s: resume the run in a few minutes", what, retried(a.Reason))
	case st >= 500:
		res.Outcome = actions.Failed
		res.Error = fmt.Sprintf("Zoom failed to sign the user out (%s%s)%s: resume the run later, or end the user's sessions in the Zoom admin portal", what, detail(msg), retried(a.Reason))
	case st >= 400:
		res.Outcome = actions.Rejected
		res.Error = fmt.Sprintf("Zoom refused the sign-out request (%s%s): check url (the API root, such as %s)", what, detail(msg), config.DefaultZoomURL)
	default:
		res.Outcome = actions.Failed
		res.Error = fmt.Sprintf("Zoom gave an answer ulc does not know (%d): end the user's sessions in the Zoom admin portal", st)
	}
	return res
}

// statusCode is "400 code 4711", or "400".
func statusCode(status, code int) string {
	if code == 0 {
		return fmt.Sprint(status)
	}
	return fmt.Sprintf("%d code %d", status, code)
}

// detail is ": msg", or "".
func detail(msg string) string {
	if msg == "" {
		return ""
	}
	return ": " + strings.TrimSuffix(msg, ".")
}

// retried carries the engine's "(after N attempts)" over from a reason.
func retried(reason string) string {
	if i := strings.Index(reason, " (after "); i >= 0 {
		if j := strings.Index(reason[i:], ")"); j >= 0 {
			return reason[i : i+j+1]
		}
	}
	if i := strings.Index(reason, "; asked to wait "); i >= 0 {
		return reason[i:]
	}
	return ""
}

// scrub removes the client secret and the access token from text taken
// from an answer, in case an endpoint echoes what it was sent.
func (c *conn) scrub(s string) string {
	for _, secret := range []string{c.cred.Token(), c.tokens.Current()} {
		if len(secret) >= 8 {
			s = strings.ReplaceAll(s, secret, "[redacted]")
		}
	}
	return s
}

// accessToken returns the run's access token, asking the token endpoint
// for one (as this step's "token" call) when there is none or it is about
// to expire. fresh says this step asked for it. When there is no token,
// res says why.
func (c *conn) accessToken(ctx context.Context, call actions.Caller) (tok string, fresh bool, res actions.Result) {
	tok, fresh, earlier, res := c.tokens.Get(ctx, tokenSkew, func() (string, time.Duration, actions.Result) {
		return c.tokenResult(call.Do(actions.Call{Name: "token", ReadBody: true, Build: c.tokenRequest}))
	})
	if earlier {
		res.HTTPStatus = 0
		res.Error = "not sent (the credential was refused earlier in this run): " + res.Error
	}
	return tok, fresh, res
}

// tokenRequest builds one attempt of the token request: Server-to-Server
// OAuth's account_credentials grant, the app's credentials in HTTP Basic.
func (c *conn) tokenRequest(ctx context.Context) (*http.Request, string, error) {
	form := url.Values{"grant_type": {"account_credentials"}, "account_id": {c.t.AccountID}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.cred.TokenURL, strings.NewReader(form.Encode()))
	if err != nil {
		return nil, "", fmt.Errorf("building the token request: %v", err)
	}
	req.SetBasicAuth(c.cred.Account, c.cred.Token())
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "ulc/"+c.version)
	return req, "", nil
}

// tokenAnswer is the token endpoint's success body.
type tokenAnswer struct {
	AccessToken string `json:"access_token"`
	TokenType   string `json:"token_type"`
	ExpiresIn   int64  `json:"expires_in"`
}

// tokenRefusal is the token endpoint's error body.
type tokenRefusal struct {
	Error  string `json:"error"`
	Reason string `json:"reason"`
}

// tokenResult reads the token endpoint's answer: the access token and its
// lifetime, or the result of a step that cannot go on.
func (c *conn) tokenResult(a actions.Answer) (string, time.Duration, actions.Result) {
	res := a.Result()
	if a.Outcome == actions.Cancelled {
		return "", 0, res
	}
	if a.Status == 0 {
		res.Outcome = actions.Failed
		res.Error = "no access token from token_url (" + c.scrub(a.Reason) + "): check token_url, then resume the run"
		return "", 0, res
	}
	if res.RequestID == "" && a.Header != nil {
		res.RequestID = safetext.Line(a.Header.Get("x-zm-trackingid"), 120)
	}
	if a.Status >= 200 && a.Status < 300 {
		var t tokenAnswer
		if err := json.Unmarshal(a.Body, &t); err != nil || t.AccessToken == "" {
			res.Outcome = actions.Failed
			res.Error = fmt.Sprintf("token_url answered %d without an access token: check that token_url is Zoom's OAuth token endpoint, %s", a.Status, config.DefaultZoomTokenURL)
			return "", 0, res
		}
		if t.TokenType != "" && !strings.EqualFold(t.TokenType, "bearer") {
			res.Outcome = actions.Failed
			res.Error = fmt.Sprintf("token_url issued a %q token, not a bearer token: check that token_url is Zoom's OAuth token endpoint, %s", safetext.Line(t.TokenType, 30), config.DefaultZoomTokenURL)
			return "", 0, res
		}
		life := time.Hour
		if t.ExpiresIn > 0 {
			life = time.Duration(min(t.ExpiresIn, 24*3600)) * time.Second
		}
		return t.AccessToken, life, actions.Result{}
	}
	var e tokenRefusal
	_ = json.Unmarshal(a.Body, &e)
	oauthErr := safetext.Line(e.Error, 40)
	reason := c.scrub(safetext.Line(e.Reason, 160))
	res.ErrorCode = oauthErr
	what := fmt.Sprint(a.Status)
	if oauthErr != "" {
		what += " " + oauthErr
	}
	res.Outcome = actions.Rejected
	id, acct := safetext.Line(c.cred.Account, 60), safetext.Line(c.t.AccountID, 60)
	prefix := fmt.Sprintf("Zoom refused the token request (%s)", what)
	switch st := a.Status; {
	case st == http.StatusTooManyRequests || st >= 500:
		res.Outcome = actions.Failed
		res.Error = fmt.Sprintf("the token endpoint failed (%s)%s: resume the run later", what, retried(a.Reason))
	case st >= 300 && st < 400:
		res.Error = c.scrub(a.Reason) + ": fix token_url"
	case st == http.StatusNotFound:
		res.Error = "token_url answered 404: it is not a token endpoint; use " + config.DefaultZoomTokenURL + " (the default)"
	case oauthErr == "invalid_client":
		res.Error = fmt.Sprintf("%s: the Client ID %s or Client Secret is wrong; copy both from the app's App Credentials page (Zoom App Marketplace → Manage) into client_id and %s", prefix, id, c.secretWhere())
	case strings.Contains(strings.ToLower(e.Reason), "account"):
		res.Error = fmt.Sprintf("%s: the Account ID %s is not the app's; copy it from the app's App Credentials page (%s) into account_id", prefix, acct, marketplace)
	case oauthErr == "unsupported_grant_type":
		res.Error = fmt.Sprintf("%s: the app with Client ID %s is not a Server-to-Server OAuth app; create one (%s) and use its credentials", prefix, id, "Zoom App Marketplace → Develop → Build App → Server-to-Server OAuth")
	default:
		res.Error = fmt.Sprintf("Zoom refused the token request (%s%s): check client_id, account_id and the Client Secret against the app's App Credentials page, and that the app is activated (%s → Activation)", what, detail(reason), marketplace)
	}
	return "", 0, res
}

// secretWhere names where the client secret comes from, for messages:
// the key (a file's path can be long; the target names it).
func (c *conn) secretWhere() string {
	if c.t.ClientSecretEnv != "" {
		return "client_secret_env " + c.t.ClientSecretEnv
	}
	return "client_secret_file"
}
