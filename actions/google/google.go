// Package google signs users out of Google Workspace through the Admin SDK
// Directory API: users.signOut, and with revoke_oauth_grants also
// tokens.list and tokens.delete for each of the user's grants to
// third-party apps.
//
// A service account acts for the target's admin by domain-wide delegation:
// the connector signs a JWT-bearer assertion (RFC 7523) with the service
// account's key, exchanges it at the key's token_uri for an access token
// (one token request per run, refreshed when it expires) and calls the
// Admin SDK with plain net/http. Every call, the token request included,
// goes through the engine's Caller, so the audit log shows each attempt.
package google

import (
	"context"
	"crypto"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	jose "github.com/go-jose/go-jose/v3"
	"github.com/go-jose/go-jose/v3/cryptosigner"
	"github.com/go-jose/go-jose/v3/jwt"

	"ulc/actions"
	"ulc/config"
	"ulc/internal/safetext"
)

// Scope is the only OAuth scope the connector asks for: it covers
// users.signOut, tokens.list and tokens.delete.
const Scope = "https://www.googleapis.com/auth/admin.directory.user.security"

// grantType is the JWT-bearer grant (RFC 7523 §2.1).
const grantType = "urn:ietf:params:oauth:grant-type:jwt-bearer"

// Call names, as the audit log records each attempt.
const (
	CallToken        = "token"
	CallSignOut      = "signOut"
	CallTokensList   = "tokens.list"
	CallTokensDelete = "tokens.delete"
)

// assertionLifetime is the lifetime of each assertion; Google accepts up
// to an hour, and a token request needs seconds.
const assertionLifetime = 10 * time.Minute

// refreshMargin renews the access token this long before it expires, so a
// step never sends one that lapses on the way.
const refreshMargin = time.Minute

// Connector is the connector of kind "google" targets. Register it with
// actions.Register(config.KindGoogle, google.Connector{}).
type Connector struct{}

// conn is a kind "google" target opened for one run.
type conn struct {
	t        config.Target
	api      string // API root, ending in "/"
	account  string // client_email
	clientID string // the numeric OAuth client id, "" when the key has none
	keyID    string
	tokenURL string
	fp       string
	signer   crypto.Signer
	version  string

	tokens actions.TokenCache
}

// Open implements actions.Connector: it loads the service account's key
// (credentials_file). Nothing is sent.
func (Connector) Open(ctx context.Context, t config.Target, env actions.ConnEnv) (actions.Conn, error) {
	cred, err := t.LoadCredentialContext(ctx, env.Getenv)
	if err != nil {
		return nil, err
	}
	if cred.Kind != config.AuthServiceAccount || cred.Signer() == nil {
		return nil, fmt.Errorf("%s: kind %q needs a service account's JSON key in credentials_file: %w", t.Where(), config.KindGoogle, config.ErrCredential)
	}
	if _, ok := cred.Signer().Public().(*rsa.PublicKey); !ok {
		return nil, fmt.Errorf("%s: credentials_file holds no RSA key, which every Google service-account key is: %w", t.Where(), config.ErrCredential)
	}
	api := t.URL
	if api == "" {
		api = config.DefaultGoogleURL
	}
	if !strings.HasSuffix(api, "/") {
		api += "/"
	}
	tokenURL := cred.TokenURL
	if tokenURL == "" {
		tokenURL = config.DefaultGoogleTokenURL
	}
	return &conn{
		t: t, api: api, account: cred.Account, clientID: clientIDOf(cred.ServiceAccountJSON()),
		keyID: cred.KeyID, tokenURL: tokenURL, fp: cred.Fingerprint, signer: cred.Signer(), version: env.Version,
	}, nil
}

// clientIDOf reads the service account's numeric OAuth client id from its
// JSON key: domain-wide delegation is granted to that id.
func clientIDOf(key []byte) string {
	var k struct {
		ClientID string `json:"client_id"`
	}
	if json.Unmarshal(key, &k) != nil || !isDigits(k.ClientID) {
		return ""
	}
	return k.ClientID
}

func isDigits(s string) bool {
	if s == "" || len(s) > 40 {
		return false
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

// userKey is the Admin SDK's name for u: the primary email.
func userKey(u actions.User) string {
	if u.Email != "" {
		return u.Email
	}
	if strings.Contains(u.Login, "@") {
		return u.Login
	}
	return ""
}

// userURL is the URL of one of user's resources under the API root.
func (c *conn) userURL(user, rest string) string {
	return c.api + "admin/directory/v1/users/" + url.PathEscape(user) + rest
}

// Plan implements actions.Conn: the users.signOut call for u's primary
// email.
func (c *conn) Plan(u actions.User) (actions.StepDetail, error) {
	key := userKey(u)
	if key == "" {
		return actions.StepDetail{}, fmt.Errorf("%s, user %s: kind %q signs users out by their email address, and Okta gives none for this user", c.t.Where(), u.Key(), config.KindGoogle)
	}
	return actions.StepDetail{
		Method: http.MethodPost, URL: c.userURL(key, "/signOut"), SubjectFormat: "email",
		Auth: config.AuthServiceAccount, Credential: c.fp,
		TimeoutMS: c.t.Timeout.Milliseconds(), Retries: c.t.Retries,
	}, nil
}

// Residual implements actions.Conn: what users.signOut leaves alive.
func (c *conn) Residual() string {
	if c.t.RevokeOAuthGrants {
		return "App passwords, backup codes and the password survive the sign-out until the app passwords are deleted, the backup codes invalidated or the user suspended in the Google Admin console."
	}
	return "OAuth grants (Gmail and Drive apps, third-party apps), app passwords, backup codes and the password survive the sign-out until the grants are deleted (revoke_oauth_grants = true), the app passwords deleted, the backup codes invalidated or the user suspended."
}

// Revoke implements actions.Conn: a token (once per run), users.signOut,
// then with revoke_oauth_grants tokens.list and a tokens.delete per grant.
func (c *conn) Revoke(ctx context.Context, s actions.Step, call actions.Caller) actions.Result {
	user := userKey(*s.User)
	if user == "" {
		return actions.Result{Outcome: actions.Failed, Error: "Okta gives no email address for this user: set it in Okta, then resume the run"}
	}
	tok, res, ok := c.accessToken(ctx, call)
	if !ok {
		return res
	}
	a := call.Do(actions.Call{Name: CallSignOut, Build: c.apiRequest(http.MethodPost, c.userURL(user, "/signOut"), tok)})
	if a.Outcome != actions.Revoked {
		return c.apiFailure(a, tok, user, "sign the user out")
	}
	if !c.t.RevokeOAuthGrants {
		return actions.Result{Outcome: actions.Revoked, HTTPStatus: a.Status, RequestID: a.RequestID}
	}
	return c.revokeGrants(call, tok, user, a)
}

// revokeGrants lists user's grants to third-party apps and deletes each,
// after a successful sign-out (signOut).
func (c *conn) revokeGrants(call actions.Caller, tok, user string, signOut actions.Answer) actions.Result {
	a := call.Do(actions.Call{Name: CallTokensList, ReadBody: true, Build: c.apiRequest(http.MethodGet, c.userURL(user, "/tokens"), tok)})
	if a.Outcome != actions.Revoked {
		r := c.apiFailure(a, tok, user, "list the user's grants to third-party apps")
		r.Error = "Signed out of Google, but " + lowerFirst(r.Error)
		return r
	}
	var list struct {
		Items []struct {
			ClientID    string `json:"clientId"`
			DisplayText string `json:"displayText"`
		} `json:"items"`
	}
	if err := json.Unmarshal(a.Body, &list); err != nil {
		return actions.Result{Outcome: actions.Failed, HTTPStatus: a.Status, RequestID: a.RequestID,
			Error: "Signed out of Google, but its list of the user's grants to third-party apps could not be read: resume the run to try again"}
	}
	deleted, gone := 0, 0
	var names []string
	for _, g := range list.Items {
		if g.ClientID == "" {
			continue
		}
		d := call.Do(actions.Call{Name: CallTokensDelete,
			Build: c.apiRequest(http.MethodDelete, c.userURL(user, "/tokens/"+url.PathEscape(g.ClientID)), tok)})
		switch d.Outcome {
		case actions.Revoked:
			deleted++
			names = append(names, appName(g.DisplayText, g.ClientID))
		case actions.NotFound:
			gone++ // deleted meanwhile: nothing left to revoke
		default:
			r := c.apiFailure(d, tok, user, "delete the grant to "+appName(g.DisplayText, g.ClientID))
			r.Error = fmt.Sprintf("Signed out of Google and deleted %d of %d grants to third-party apps, but %s", deleted, len(list.Items), lowerFirst(r.Error))
			return r
		}
	}
	msg := fmt.Sprintf("Signed out; deleted %d grants to third-party apps", deleted)
	switch {
	case deleted == 1:
		msg = "Signed out; deleted 1 grant to a third-party app"
	case deleted == 0 && gone == 0:
		msg = "Signed out; the user had no grants to third-party apps"
	}
	if len(names) > 0 {
		msg += " (" + strings.Join(names, ", ") + ")"
	}
	if gone > 0 {
		msg += fmt.Sprintf("; %d more were gone already", gone)
	}
	msg += ": app passwords and backup codes remain until revoked in the Admin console"
	return actions.Result{Outcome: actions.Revoked, HTTPStatus: signOut.Status, RequestID: signOut.RequestID, Error: msg}
}

// appName names a third-party app for the operator: its display name,
// else its client id, as printable text.
func appName(display, clientID string) string {
	if n := safetext.Line(display, 40); n != "" {
		return n
	}
	return safetext.Line(clientID, 80)
}

func lowerFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToLower(s[:1]) + s[1:]
}

// apiRequest builds the Build function of one Admin SDK call.
func (c *conn) apiRequest(method, u, tok string) func(context.Context) (*http.Request, string, error) {
	return func(ctx context.Context) (*http.Request, string, error) {
		req, err := http.NewRequestWithContext(ctx, method, u, nil)
		if err != nil {
			return nil, "", errors.New("building the request: check url")
		}
		req.Header.Set("Authorization", "Bearer "+tok)
		req.Header.Set("Accept", "application/json")
		req.Header.Set("User-Agent", "ulc/"+c.version)
		return req, "", nil
	}
}

// googleError is Google's JSON error envelope.
type googleError struct {
	Error struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
		Status  string `json:"status"`
		Errors  []struct {
			Domain  string `json:"domain"`
			Reason  string `json:"reason"`
			Message string `json:"message"`
		} `json:"errors"`
	} `json:"error"`
}

// parseGoogleError returns the message and reason of an error answer,
// as printable text; "" when the body is not Google's envelope.
func parseGoogleError(body []byte) (message, reason string) {
	var e googleError
	if json.Unmarshal(body, &e) != nil {
		return "", ""
	}
	message = e.Error.Message
	if len(e.Error.Errors) > 0 {
		reason = e.Error.Errors[0].Reason
		if message == "" {
			message = e.Error.Errors[0].Message
		}
	}
	return safetext.Line(message, 120), safetext.Line(reason, 40)
}

// apiFailure turns an Admin SDK answer that is not a success into the
// step's result: what Google said and what to fix. doing says what the
// call was for ("sign the user out").
func (c *conn) apiFailure(a actions.Answer, tok, user, doing string) actions.Result {
	r := a.Result()
	if a.Status == 0 || a.Outcome == actions.Cancelled {
		return r // the engine's sentence: timeout, network, cancelled
	}
	message, reason := parseGoogleError(a.Body)
	r.ErrorCode = reason
	said := fmt.Sprintf("%d", a.Status)
	if message != "" {
		said = fmt.Sprintf("%d %s", a.Status, message)
	}
	who := safetext.Line(user, 120)
	switch {
	case a.Status == http.StatusNotFound:
		r.Outcome = actions.NotFound
		r.Error = fmt.Sprintf("Google Workspace has no user %s (%s): nothing to sign out there; if the user has another Google address, set it as their email in Okta", who, said)
	case a.Status == http.StatusBadRequest && strings.Contains(message, "Type not supported"):
		r.Outcome = actions.Rejected
		r.Error = fmt.Sprintf("Google Workspace says %s is not a user's address (%s), most likely a group's: set the user's primary Google address as their email in Okta", who, said)
	case a.Status == http.StatusUnauthorized:
		c.tokens.Drop(tok) // the next step asks for a new one
		r.Outcome = actions.Rejected
		r.Error = fmt.Sprintf("Google refused the access token (%s): resume the run; if it happens again, check that service account %s is enabled in the Google Cloud console", said, c.account)
	case a.Status == http.StatusForbidden && reason == "insufficientPermissions":
		r.Outcome = actions.Rejected
		r.Error = fmt.Sprintf("Google refused to %s (%s): %s", doing, said, c.delegationFix())
	case a.Status == http.StatusForbidden:
		r.Outcome = actions.Rejected
		r.Error = fmt.Sprintf("Google refused to %s (%s): make %s an admin with the Users › Security privilege, or check that client ID %s has domain-wide delegation of admin.directory.user.security",
			doing, said, c.t.Admin, c.clientName())
	case a.Outcome == actions.Failed:
		r.Error = fmt.Sprintf("Google did not %s (%s)%s: resume the run later", doing, said, after(a.Reason))
	default:
		r.Outcome = actions.Rejected
		r.Error = fmt.Sprintf("Google refused to %s (%s): check url and the user's email", doing, said)
	}
	return r
}

// after keeps the engine's note on retries ("after 3 attempts") or waits
// from its reason.
func after(reason string) string {
	if i := strings.Index(reason, " (after "); i >= 0 {
		return reason[i:]
	}
	if i := strings.Index(reason, "; asked to wait"); i >= 0 {
		return reason[i:]
	}
	return ""
}

// delegationFix is the Admin-console step that grants the service account
// its scope.
func (c *conn) delegationFix() string {
	return fmt.Sprintf("authorise client ID %s for scope %s in the Google Admin console (Security › API controls › Domain-wide delegation)",
		c.clientName(), Scope)
}

// clientName names the service account as the Admin console knows it:
// its numeric client id, else its address.
func (c *conn) clientName() string {
	if c.clientID == "" {
		return c.account
	}
	return c.clientID
}

// tokenRequest builds one attempt's token request: a freshly signed
// assertion, so a retry never reuses an old one.
func (c *conn) tokenRequest(ctx context.Context) (*http.Request, string, error) {
	now := time.Now()
	assertion, err := c.assertion(now)
	if err != nil {
		return nil, "", err
	}
	form := url.Values{"grant_type": {grantType}, "assertion": {assertion}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.tokenURL, strings.NewReader(form.Encode()))
	if err != nil {
		return nil, "", errors.New("building the token request: check token_uri in credentials_file")
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "ulc/"+c.version)
	return req, "", nil
}

// claims are the claims of the assertion (RFC 7523 §3, as Google reads
// them): the service account, the one scope, the token endpoint, the
// admin acted for.
type claims struct {
	Iss   string `json:"iss"`
	Scope string `json:"scope"`
	Aud   string `json:"aud"`
	Iat   int64  `json:"iat"`
	Exp   int64  `json:"exp"`
	Sub   string `json:"sub"`
}

// assertion signs the JWT-bearer assertion: RS256, typ JWT, kid the key's
// private_key_id.
func (c *conn) assertion(now time.Time) (string, error) {
	var k any = c.signer
	if _, ok := c.signer.(*rsa.PrivateKey); !ok {
		k = cryptosigner.Opaque(c.signer)
	}
	opts := (&jose.SignerOptions{}).WithType("JWT")
	if c.keyID != "" {
		opts = opts.WithHeader("kid", c.keyID)
	}
	sg, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: k}, opts)
	if err != nil {
		return "", errors.New("preparing the assertion's signer failed: create a new JSON key for the service account")
	}
	// A little in the past, so a clock slightly ahead of Google's is
	// not refused.
	iat := now.Add(-10 * time.Second)
	tok, err := jwt.Signed(sg).Claims(claims{
		Iss: c.account, Scope: Scope, Aud: c.tokenURL, Sub: c.t.Admin,
		Iat: iat.Unix(), Exp: iat.Add(assertionLifetime).Unix(),
	}).CompactSerialize()
	if err != nil {
		return "", errors.New("signing the assertion failed: create a new JSON key for the service account")
	}
	return tok, nil
}
