// Package microsoft is the connector of kind "microsoft" targets: it signs
// a user out of Microsoft Entra ID and Microsoft 365 through Microsoft Graph
// v1.0.
//
// One step makes up to three calls, each an attempt in the audit log:
//
//   - "token": the OAuth 2.0 client credentials grant to the target's
//     token_url, form-encoded (never HTTP Basic), with the scope
//     https://graph.microsoft.com/.default and the client secret or a
//     client assertion signed with the certificate's key (PS256, header
//     x5t#S256; claims aud = token_url, iss = sub = client_id, jti, nbf,
//     exp). The access token is kept in memory for the run and shared by
//     its steps; only the step that finds none (or an expired one) asks.
//   - "revoke": POST {url}v1.0/users/{upn}/revokeSignInSessions, which
//     sets the user's signInSessionsValidFromDateTime to now and so
//     invalidates their refresh tokens and session cookies.
//   - "verify": GET {url}v1.0/users/{upn}?$select=signInSessionsValidFromDateTime,
//     the read-back that proves the revocation took effect.
package microsoft

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
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

// Scope is the scope of the token requests: every application permission
// granted to the app registration on Microsoft Graph.
const Scope = "https://graph.microsoft.com/.default"

// Permission is the application permission the sign-out needs, and
// ReadPermission the one the read-back needs.
const (
	Permission     = "User.RevokeSessions.All"
	ReadPermission = "User.Read.All"
)

// assertionType is the client_assertion_type of a certificate credential.
const assertionType = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

// assertionTTL is the lifetime of a client assertion: it is used once, at
// once.
const assertionTTL = 5 * time.Minute

// tokenSkew is how long before its stated expiry an access token is
// replaced, so that none expires between the check and Graph's.
const tokenSkew = 2 * time.Minute

// residual is what a revocation leaves alive (CONNECTORS.md, section 2).
const residual = "Access tokens already issued stay valid until they expire (up to 90 minutes; about 15 at Exchange Online, SharePoint Online and Teams, which evaluate revocation continuously), B2B guest users are not signed out by their home tenant's sessions, and app sessions not tied to Entra refresh tokens may survive: disable the account (accountEnabled false) to stop new sign-ins."

// Connector is the connector of kind "microsoft" targets. The backend
// registers it with actions.Register(config.KindMicrosoft, Connector{}).
type Connector struct{}

// conn is a kind "microsoft" target opened for one run.
type conn struct {
	t       config.Target
	cred    *config.Credential
	version string
	// opened is when the target was opened, as the run was planned: a
	// signInSessionsValidFromDateTime before it was not set by this run.
	opened time.Time

	// tokens is the run's access token, shared by its steps.
	tokens actions.TokenCache
}

// Open implements actions.Connector: it loads the client secret, or the
// certificate and its key.
func (Connector) Open(ctx context.Context, t config.Target, env actions.ConnEnv) (actions.Conn, error) {
	cred, err := t.LoadCredentialContext(ctx, env.Getenv)
	if err != nil {
		return nil, err
	}
	switch cred.Kind {
	case config.AuthClientSecret:
		if cred.Token() == "" {
			return nil, credentialError(t, "the client secret is empty: put the secret's Value from the app registration (Certificates & secrets) in client_secret_env or client_secret_file")
		}
	case config.AuthClientCertificate:
		if _, ok := cred.Signer().Public().(*rsa.PublicKey); !ok {
			return nil, credentialError(t, "client_key_file is not an RSA key: Entra ID accepts RSA certificates only")
		}
	default:
		return nil, credentialError(t, fmt.Sprintf("auth %q is not a Microsoft credential: use client_secret_env, client_secret_file, or client_cert_file with client_key_file", cred.Kind))
	}
	if cred.TokenURL == "" || t.URL == "" {
		return nil, fmt.Errorf("%s: kind %q needs url and token_url", t.Where(), config.KindMicrosoft)
	}
	return &conn{t: t, cred: cred, version: env.Version, opened: time.Now()}, nil
}

// credentialError is a credential problem of t, wrapping
// config.ErrCredential so that only t's steps are blocked.
func credentialError(t config.Target, msg string) error {
	return &config.Error{File: t.File, Line: t.Line, Scope: fmt.Sprintf("target %q", t.Name), Msg: msg, Err: config.ErrCredential}
}

// Plan implements actions.Conn: the sign-out of the user's
// userPrincipalName, which ulc takes to be their email address.
func (c *conn) Plan(u actions.User) (actions.StepDetail, error) {
	upn := upnOf(u)
	if upn == "" {
		return actions.StepDetail{}, fmt.Errorf("%s, user %s: kind %q signs a user out by userPrincipalName, and this user has no email address", c.t.Where(), u.Key(), config.KindMicrosoft)
	}
	return actions.StepDetail{
		Method: http.MethodPost, URL: c.revokeURL(upn), Auth: c.cred.Kind, Credential: c.cred.Fingerprint,
		TimeoutMS: c.t.Timeout.Milliseconds(), Retries: c.t.Retries,
	}, nil
}

// upnOf is the user's userPrincipalName as ulc guesses it: the email.
func upnOf(u actions.User) string {
	if strings.Contains(u.Email, "@") {
		return u.Email
	}
	return ""
}

// Residual implements actions.Conn.
func (c *conn) Residual() string { return residual }

func (c *conn) revokeURL(upn string) string {
	return c.t.URL + "v1.0/users/" + url.PathEscape(upn) + "/revokeSignInSessions"
}

func (c *conn) verifyURL(upn string) string {
	return c.t.URL + "v1.0/users/" + url.PathEscape(upn) + "?$select=signInSessionsValidFromDateTime"
}

// Revoke implements actions.Conn: token (when the run has none yet),
// revoke, verify.
func (c *conn) Revoke(ctx context.Context, s actions.Step, call actions.Caller) actions.Result {
	upn := upnOf(*s.User)
	if upn == "" {
		return actions.Result{Outcome: actions.Failed, Error: "this user has no email address to use as userPrincipalName: sign them out in the Entra admin center (Users → the user → Revoke sessions)"}
	}
	tok, fresh, res := c.accessToken(ctx, call)
	if tok == "" {
		return res
	}
	ans := call.Do(c.graphCall("revoke", http.MethodPost, c.revokeURL(upn), tok))
	if ans.Status == http.StatusUnauthorized && !fresh {
		// The run's token was refused (expired early, or revoked): ask
		// for a new one once.
		c.tokens.Drop(tok)
		if tok, _, res = c.accessToken(ctx, call); tok == "" {
			return res
		}
		ans = call.Do(c.graphCall("revoke", http.MethodPost, c.revokeURL(upn), tok))
	}
	res = c.revokeResult(ans, upn)
	if res.Outcome != actions.Revoked {
		return res
	}
	res.Error, res.Verified, res.Evidence = c.verify(call, upn, tok, ans)
	return res
}

// graphCall is one Graph call with the access token.
func (c *conn) graphCall(name, method, u, tok string) actions.Call {
	return actions.Call{Name: name, ReadBody: true, Build: func(ctx context.Context) (*http.Request, string, error) {
		req, err := http.NewRequestWithContext(ctx, method, u, nil)
		if err != nil {
			return nil, "", fmt.Errorf("building the Graph request: %v", err)
		}
		req.Header.Set("Authorization", "Bearer "+tok)
		req.Header.Set("Accept", "application/json")
		req.Header.Set("User-Agent", "ulc/"+c.version)
		if method == http.MethodPost {
			req.ContentLength = 0
		}
		return req, "", nil
	}}
}

// graphError is Graph's OData error envelope.
type graphError struct {
	Error struct {
		Code       string `json:"code"`
		Message    string `json:"message"`
		InnerError struct {
			RequestID string `json:"request-id"`
			Date      string `json:"date"`
		} `json:"innerError"`
	} `json:"error"`
}

// parseGraphError reads the error code and message of a Graph answer, and
// fills in the result's ErrorCode and RequestID from it.
func parseGraphError(a actions.Answer, res *actions.Result) (code, msg string) {
	var e graphError
	if json.Unmarshal(a.Body, &e) != nil {
		return "", ""
	}
	code = safetext.Line(e.Error.Code, 60)
	msg = safetext.Line(e.Error.Message, 160)
	res.ErrorCode = code
	if res.RequestID == "" {
		res.RequestID = safetext.Line(e.Error.InnerError.RequestID, 80)
	}
	return code, msg
}

// revokeResult classifies the answer to the sign-out.
func (c *conn) revokeResult(a actions.Answer, upn string) actions.Result {
	res := a.Result()
	if a.Outcome == actions.Cancelled || a.Status == 0 {
		if res.Outcome == actions.Failed {
			res.Error = c.scrub(a.Reason) + ": the sign-out may not have reached Graph; resume the run, or revoke the user's sessions in the Entra admin center"
		}
		return res
	}
	code, msg := parseGraphError(a, &res)
	what := statusCode(a.Status, code)
	switch st := a.Status; {
	case st >= 200 && st < 300:
		// Graph answers 200 {"value": true}, though the action is meant to
		// answer 204 (a known issue): any 2xx is success.
		res.Outcome, res.Error = actions.Revoked, ""
	case st == http.StatusNotFound:
		res.Outcome = actions.NotFound
		res.Error = fmt.Sprintf("Entra ID has no user whose userPrincipalName is %s (%s): if their UPN is not their email address, revoke their sessions in the Entra admin center (Users → the user → Revoke sessions)", safetext.Line(upn, 120), what)
	case st == http.StatusForbidden:
		res.Outcome = actions.Rejected
		res.Error = fmt.Sprintf("Graph denied the sign-out (%s): grant the app registration the Microsoft Graph application permission %s and grant admin consent (Entra admin center → App registrations → the app → API permissions)", what, Permission)
	case st == http.StatusUnauthorized:
		res.Outcome = actions.Rejected
		res.Error = fmt.Sprintf("Graph refused the access token (%s%s): check that token_url is the token endpoint of the tenant and cloud url belongs to", what, detail(msg))
	case st >= 300 && st < 400:
		res.Outcome = actions.Rejected
		res.Error = c.scrub(a.Sentence()) // "…, not followed: fix url"
	case st == http.StatusTooManyRequests:
		res.Outcome = actions.Failed
		res.Error = fmt.Sprintf("Graph kept throttling the sign-out (%s)%s: resume the run in a few minutes", what, retried(a.Reason))
	case st >= 500:
		res.Outcome = actions.Failed
		res.Error = fmt.Sprintf("Graph failed to sign the user out (%s%s)%s: resume the run later, or revoke the user's sessions in the Entra admin center", what, detail(msg), retried(a.Reason))
	case st >= 400:
		res.Outcome = actions.Rejected
		res.Error = fmt.Sprintf("Graph refused the sign-out request (%s%s): check url (the Graph root, such as %s)", what, detail(msg), config.DefaultMicrosoftURL)
	default:
		res.Outcome = actions.Failed
		res.Error = fmt.Sprintf("Graph gave an answer ulc does not know (%d): revoke the user's sessions in the Entra admin center", st)
	}
	return res
}

// statusCode is "403 Authorization_RequestDenied", or "403".
func statusCode(status int, code string) string {
	if code == "" {
		return fmt.Sprint(status)
	}
	return fmt.Sprintf("%d %s", status, code)
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

// verify reads signInSessionsValidFromDateTime back after a revocation
// Graph accepted. It returns the sentence the result shows when the
// read-back did not confirm the sign-out (else ""), whether it did (nil when
// it could not be read), and what it read. The outcome stays revoked
// whatever it reads: Graph accepted the sign-out.
func (c *conn) verify(call actions.Caller, upn, tok string, revoked actions.Answer) (string, *bool, string) {
	a := call.Do(c.graphCall("verify", http.MethodGet, c.verifyURL(upn), tok))
	var res actions.Result
	code, _ := parseGraphError(a, &res)
	if a.Status < 200 || a.Status > 299 {
		why := c.scrub(a.Reason)
		switch {
		case a.Status == http.StatusForbidden:
			why = fmt.Sprintf("%s; grant the app the application permission %s to verify", statusCode(a.Status, code), ReadPermission)
		case a.Status != 0:
			why = statusCode(a.Status, code)
		}
		return fmt.Sprintf("revoked (Graph accepted the sign-out), but the read-back of signInSessionsValidFromDateTime failed (%s): the outcome stands; check the user in the Entra admin center to confirm", why), nil, ""
	}
	var u struct {
		ValidFrom *string `json:"signInSessionsValidFromDateTime"`
	}
	if err := json.Unmarshal(a.Body, &u); err != nil || u.ValidFrom == nil {
		return "revoked (Graph accepted the sign-out), but the read-back had no signInSessionsValidFromDateTime: the outcome stands; check the user in the Entra admin center to confirm", nil, ""
	}
	raw := safetext.Line(*u.ValidFrom, 40)
	from, err := time.Parse(time.RFC3339Nano, *u.ValidFrom)
	if err != nil {
		return fmt.Sprintf("revoked (Graph accepted the sign-out), but the read-back signInSessionsValidFromDateTime %q is not a date: the outcome stands; check the user in the Entra admin center to confirm", raw), nil, ""
	}
	if since := c.since(revoked); from.Before(since) {
		no := false
		return fmt.Sprintf("revoked (Graph accepted the sign-out), but signInSessionsValidFromDateTime reads %s, before this run (%s): Entra ID may not have applied it yet; check the user in the Entra admin center in a few minutes, and resume the run if it has not changed",
			from.UTC().Format(time.RFC3339), since.UTC().Format(time.RFC3339)), &no, "signInSessionsValidFromDateTime " + from.UTC().Format(time.RFC3339)
	}
	yes := true
	return "", &yes, "signInSessionsValidFromDateTime " + from.UTC().Format(time.RFC3339) + ", at or after the run"
}

// since is the earliest signInSessionsValidFromDateTime this step's
// sign-out can have set: the run's start, by Graph's clock when its answer
// carries a Date (so a skewed local clock does not matter), else by ours
// less a minute. Graph keeps the value to the second.
func (c *conn) since(revoked actions.Answer) time.Time {
	start := c.opened.Add(-time.Minute)
	if d, err := http.ParseTime(revoked.Header.Get("Date")); err == nil {
		// The answer's Date is after the sign-out by at most the
		// round trip; a second covers the truncation of both.
		start = d.Add(-revoked.Latency - time.Second)
	}
	return start.Truncate(time.Second)
}

// scrub removes the credential and the access token from text taken from
// an answer, in case an endpoint echoes what it was sent.
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
		res.Error = "not sent, as the same credential was refused earlier in this run: " + res.Error
	}
	return tok, fresh, res
}

// tokenRequest builds one attempt of the token request; a certificate
// credential signs a new assertion (with a new jti, recorded with the
// attempt) each time.
func (c *conn) tokenRequest(ctx context.Context) (*http.Request, string, error) {
	form := url.Values{
		"grant_type": {"client_credentials"},
		"client_id":  {c.cred.Account},
		"scope":      {Scope},
	}
	var jti string
	switch c.cred.Kind {
	case config.AuthClientSecret:
		form.Set("client_secret", c.cred.Token())
	case config.AuthClientCertificate:
		assertion, id, err := c.assertion(time.Now())
		if err != nil {
			return nil, "", err
		}
		form.Set("client_assertion_type", assertionType)
		form.Set("client_assertion", assertion)
		jti = id
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.cred.TokenURL, strings.NewReader(form.Encode()))
	if err != nil {
		return nil, "", fmt.Errorf("building the token request: %v", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "ulc/"+c.version)
	return req, jti, nil
}

// assertion signs a client assertion for the token endpoint: PS256 with
// the certificate's SHA-256 thumbprint in x5t#S256, as Entra ID documents
// for the v2.0 endpoint.
func (c *conn) assertion(now time.Time) (token, jti string, err error) {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	jti = base64.RawURLEncoding.EncodeToString(b)
	var key any = c.cred.Signer()
	if _, ok := key.(*rsa.PrivateKey); !ok {
		key = cryptosigner.Opaque(c.cred.Signer())
	}
	opts := (&jose.SignerOptions{}).WithType("JWT").WithHeader("x5t#S256", c.cred.CertThumbprintS256)
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.PS256, Key: key}, opts)
	if err != nil {
		return "", "", fmt.Errorf("preparing the client assertion: %v", err)
	}
	claims := jwt.Claims{
		Issuer: c.cred.Account, Subject: c.cred.Account, Audience: jwt.Audience{c.cred.TokenURL}, ID: jti,
		IssuedAt: jwt.NewNumericDate(now), NotBefore: jwt.NewNumericDate(now), Expiry: jwt.NewNumericDate(now.Add(assertionTTL)),
	}
	token, err = jwt.Signed(signer).Claims(claims).CompactSerialize()
	if err != nil {
		return "", "", fmt.Errorf("signing the client assertion: %v", err)
	}
	return token, jti, nil
}

// tokenAnswer is the token endpoint's success body.
type tokenAnswer struct {
	AccessToken string          `json:"access_token"`
	TokenType   string          `json:"token_type"`
	ExpiresIn   json.RawMessage `json:"expires_in"`
}

// tokenRefusal is the token endpoint's error body.
type tokenRefusal struct {
	Error         string `json:"error"`
	Description   string `json:"error_description"`
	Codes         []int  `json:"error_codes"`
	TraceID       string `json:"trace_id"`
	CorrelationID string `json:"correlation_id"`
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
	if a.Status >= 200 && a.Status < 300 {
		var t tokenAnswer
		if err := json.Unmarshal(a.Body, &t); err != nil || t.AccessToken == "" {
			res.Outcome = actions.Failed
			res.Error = fmt.Sprintf("token_url answered %d without an access token: check that token_url is the tenant's OAuth 2.0 v2.0 token endpoint", a.Status)
			return "", 0, res
		}
		if t.TokenType != "" && !strings.EqualFold(t.TokenType, "Bearer") {
			res.Outcome = actions.Failed
			res.Error = fmt.Sprintf("token_url issued a %q token, not a Bearer token: check that token_url is the tenant's OAuth 2.0 v2.0 token endpoint", safetext.Line(t.TokenType, 30))
			return "", 0, res
		}
		return t.AccessToken, expiresIn(t.ExpiresIn), actions.Result{}
	}
	var e tokenRefusal
	_ = json.Unmarshal(a.Body, &e)
	code := aadsts(e)
	res.ErrorCode = code
	res.RequestID = safetext.Line(e.TraceID, 80)
	res.ErrorID = safetext.Line(e.CorrelationID, 80)
	res.Outcome = actions.Rejected
	switch st := a.Status; {
	case st == http.StatusTooManyRequests || st >= 500:
		res.Outcome = actions.Failed
		res.Error = fmt.Sprintf("the token endpoint failed (%s)%s: resume the run later", statusCode(st, code), retried(a.Reason))
	case st >= 300 && st < 400:
		res.Error = c.scrub(a.Reason) + ": fix token_url"
	case st == http.StatusNotFound:
		res.Error = "token_url answered 404: it is not a token endpoint; use https://login.microsoftonline.com/{tenant}/oauth2/v2.0/token (the default) or your cloud's"
	default:
		res.Error = c.refusal(st, e, code)
	}
	return "", 0, res
}

// aadsts is the AADSTS code of a refusal ("AADSTS7000215"), else its OAuth
// error ("invalid_client").
func aadsts(e tokenRefusal) string {
	if len(e.Codes) > 0 {
		return fmt.Sprintf("AADSTS%d", e.Codes[0])
	}
	if code, _, ok := strings.Cut(e.Description, ":"); ok && strings.HasPrefix(code, "AADSTS") && len(code) < 20 {
		return safetext.Line(code, 20)
	}
	return safetext.Line(e.Error, 40)
}

// refusal says what to fix for a token endpoint refusal.
func (c *conn) refusal(status int, e tokenRefusal, code string) string {
	secretWhere := "client_secret_file"
	if c.t.ClientSecretEnv != "" {
		secretWhere = "client_secret_env " + c.t.ClientSecretEnv
	} else if c.t.ClientSecretFile != "" {
		secretWhere = "client_secret_file " + c.t.ClientSecretFile
	}
	id, tenant := safetext.Line(c.cred.Account, 60), safetext.Line(c.t.Tenant, 80)
	prefix := fmt.Sprintf("Entra ID refused the token request (%s)", statusCode(status, code))
	switch code {
	case "AADSTS7000215":
		return prefix + ": the client secret is wrong; put the secret's Value (not its Secret ID) from App registrations → the app → Certificates & secrets in " + secretWhere
	case "AADSTS7000222":
		return prefix + ": the client secret has expired; create a new one under App registrations → the app → Certificates & secrets and put its Value in " + secretWhere
	case "AADSTS700016":
		return fmt.Sprintf("%s: tenant %s has no application with client_id %s; check client_id (App registrations → the app → Application (client) ID) and tenant", prefix, tenant, id)
	case "AADSTS90002", "AADSTS900023":
		return fmt.Sprintf("%s: tenant %s does not exist; check tenant (its primary domain or Directory (tenant) ID)", prefix, tenant)
	case "AADSTS700027":
		return prefix + ": the certificate is not registered with the app, or the assertion's signature failed; upload the certificate in client_cert_file under App registrations → the app → Certificates & secrets → Certificates"
	case "AADSTS700024":
		return prefix + ": the client assertion is not within its valid time range; correct this machine's clock"
	case "AADSTS7000229", "AADSTS65001", "AADSTS500011":
		return prefix + ": the app has no service principal or consent in the tenant; have an admin grant consent (Enterprise applications → the app → Permissions → Grant admin consent)"
	case "AADSTS7000112", "AADSTS7000111":
		return prefix + ": the application is disabled; enable it (Enterprise applications → the app → Properties → Enabled for users to sign in)"
	case "AADSTS70011", "AADSTS1002012":
		return fmt.Sprintf("%s: the scope %s was refused; check that token_url is Entra ID's v2.0 token endpoint", prefix, Scope)
	}
	switch e.Error {
	case "invalid_client":
		if c.cred.Kind == config.AuthClientCertificate {
			return prefix + ": the client certificate was refused; upload the certificate in client_cert_file to the app registration (Certificates & secrets)"
		}
		return prefix + ": the client secret was refused; check " + secretWhere + " holds a current secret's Value"
	case "unauthorized_client":
		return fmt.Sprintf("%s: the client %s may not use the client credentials grant in tenant %s; check client_id and tenant, and have an admin grant consent to the app", prefix, id, tenant)
	}
	return fmt.Sprintf("%s%s: check client_id, tenant and the credential against the app registration", prefix, detail(c.scrub(firstSentence(e.Description))))
}

// firstSentence is the first sentence of an AADSTS description, without
// the trace and correlation ids that follow it.
func firstSentence(s string) string {
	s = safetext.Line(s, 200)
	if i := strings.Index(s, ". "); i >= 0 {
		s = s[:i+1]
	}
	return s
}

// expiresIn reads expires_in: a number (v2.0) or a string of one (v1.0),
// defaulting to five minutes when absent or nonsense.
func expiresIn(raw json.RawMessage) time.Duration {
	var n json.Number
	s := strings.Trim(string(raw), `"`)
	n = json.Number(s)
	if v, err := n.Int64(); err == nil && v > 0 {
		return time.Duration(min(v, 24*3600)) * time.Second
	}
	return 5 * time.Minute
}

var _ actions.Connector = Connector{}
