// Package github is the connector of kind "github" targets: it removes the
// SAML single sign-on credential authorizations a user's GitHub login holds
// in an organization of GitHub Enterprise Cloud, so that none of their
// personal access tokens, SSH keys, OAuth app tokens or GitHub App tokens
// reaches the organization's resources any longer.
//
// One step makes these calls, each an attempt in the audit log:
//
//   - "list": GET {url}orgs/{org}/credential-authorizations?login=L&per_page=100
//     (and &page=2, ... while a page is full), which an organization owner
//     may call;
//   - "remove": DELETE {url}orgs/{org}/credential-authorizations/{credential_id}
//     for each authorization of login L the list returned (204).
//
// The GitHub login L is not the Okta login: it comes from the Okta profile
// attribute the target names (login_attribute, such as githubUsername).
// A user whose profile lacks it is not_found, with the sentence saying
// which attribute to fill in; a user without an Okta profile at all (ulc
// revoke --no-okta) is rejected, since nothing names their login.
//
// Every request carries the token in Authorization: Bearer, the media type
// GitHub documents (Accept: application/vnd.github+json) and the REST API
// version (X-GitHub-Api-Version: 2022-11-28), and goes only to the
// target's url. GitHub's rate limits answer 429, or 403 with
// x-ratelimit-remaining: 0 or a "secondary rate limit" message: those are
// retried, after Retry-After or until x-ratelimit-reset.
//
// github.com/google/go-github is not used: it makes its own HTTP calls
// (every call here must go through the Caller, which records each attempt),
// and a cold build with it took 142 s against 80 s for net/http alone on
// the loaded two-core machine (1.8×), for two REST calls whose JSON is a
// few lines below.
package github

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"ulc/actions"
	"ulc/config"
	"ulc/internal/safetext"
)

// APIVersion is the REST API version every request asks for.
const APIVersion = "2022-11-28"

// MediaType is the media type GitHub documents for its REST API.
const MediaType = "application/vnd.github+json"

// Scope is the OAuth scope the removal needs on a classic token (the list
// needs read:org, which admin:org includes).
const Scope = "admin:org"

// perPage is the page size of the list (GitHub's maximum), and maxPages
// bounds the pages read for one login: a person has a few credentials,
// not thousands.
const (
	perPage  = 100
	maxPages = 10
)

// secondaryWait is how long GitHub asks a client to wait after a secondary
// rate limit that names no time: at least a minute.
const secondaryWait = time.Minute

// residual is what the removal leaves alive (CONNECTORS.md, section 5).
const residual = "Only this organization's SSO authorizations end: the user's PATs, SSH keys, OAuth and GitHub App tokens and web sessions stay valid outside it, and they can authorize them again after an SSO sign-in; remove them from the organization (or, with Enterprise Managed Users, revoke their credentials at the enterprise) to be sure."

// loginRE is the shape of a GitHub login: letters, digits and hyphens (and
// the _shortcode suffix of Enterprise Managed Users), at most 39 characters
// before that suffix.
var loginRE = regexp.MustCompile(`^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})(?:_[A-Za-z0-9]{1,40})?$`)

// Connector is the connector of kind "github" targets. The backend
// registers it with actions.Register(config.KindGitHub, github.Connector{}).
type Connector struct{}

var _ actions.Connector = Connector{}

// conn is a kind "github" target opened for one run.
type conn struct {
	t       config.Target
	cred    *config.Credential
	base    *url.URL
	version string
}

// Open implements actions.Connector: it loads the token (token_env or
// token_file) and checks url, the REST API root.
func (Connector) Open(ctx context.Context, t config.Target, env actions.ConnEnv) (actions.Conn, error) {
	cred, err := t.LoadCredentialContext(ctx, env.Getenv)
	if err != nil {
		return nil, err
	}
	if cred.Token() == "" {
		return nil, &config.Error{File: t.File, Line: t.Line, Scope: fmt.Sprintf("target %q", t.Name), Err: config.ErrCredential,
			Msg: "kind \"github\" needs token_env or token_file: a token of an organization owner with the scope admin:org"}
	}
	if t.Org == "" || t.LoginAttribute == "" {
		return nil, fmt.Errorf("%s: kind %q needs org and login_attribute", t.Where(), config.KindGitHub)
	}
	raw := t.URL
	if raw == "" {
		raw = config.DefaultGitHubURL
	}
	if !strings.HasSuffix(raw, "/") {
		raw += "/"
	}
	base, err := url.Parse(raw)
	if err != nil || base.Host == "" || (base.Scheme != "https" && base.Scheme != "http") || base.RawQuery != "" {
		return nil, fmt.Errorf("%s: url must be the GitHub REST API root, such as %s", t.Where(), config.DefaultGitHubURL)
	}
	return &conn{t: t, cred: cred, base: base, version: env.Version}, nil
}

// Residual implements actions.Conn.
func (c *conn) Residual() string { return residual }

// login is the user's GitHub login from their Okta profile; ok is false
// when the profile has none.
func (c *conn) login(u actions.User) (string, bool) {
	return u.Profile.Attr(c.t.LoginAttribute)
}

// authorizations is the URL of the organization's credential
// authorizations.
func (c *conn) authorizations() *url.URL {
	return c.base.JoinPath("orgs", c.t.Org, "credential-authorizations")
}

// listURL is the URL of page n of login's credential authorizations.
func (c *conn) listURL(login string, page int) string {
	u := c.authorizations()
	q := url.Values{"login": {login}, "per_page": {strconv.Itoa(perPage)}}
	if page > 1 {
		q.Set("page", strconv.Itoa(page))
	}
	u.RawQuery = q.Encode()
	return u.String()
}

// removeURL is the URL of one credential authorization.
func (c *conn) removeURL(id int64) string {
	return c.authorizations().JoinPath(strconv.FormatInt(id, 10)).String()
}

// Plan implements actions.Conn: the list of the user's authorizations by
// their GitHub login; the removals follow from its answer. A user without
// the login attribute is planned too: the step says so when it runs,
// rather than the whole run being refused.
func (c *conn) Plan(u actions.User) (actions.StepDetail, error) {
	d := actions.StepDetail{
		Method: http.MethodGet, Auth: config.AuthBearer, Credential: c.cred.Fingerprint,
		TimeoutMS: c.t.Timeout.Milliseconds(), Retries: c.t.Retries,
		SubjectFormat: "okta:" + c.t.LoginAttribute,
	}
	login, ok := c.login(u)
	switch {
	case !ok:
		d.URL = c.authorizations().String()
		d.Body = "not sent: no GitHub login in the Okta profile attribute " + c.t.LoginAttribute
	default:
		d.URL = c.listURL(login, 1)
		d.Body = "then DELETE " + c.authorizations().String() + "/{credential_id} for each authorization of " + login
	}
	return d, nil
}

// Revoke implements actions.Conn: list, then remove each authorization.
func (c *conn) Revoke(_ context.Context, s actions.Step, call actions.Caller) actions.Result {
	login, ok := c.login(*s.User)
	switch {
	case s.User.Profile == nil:
		return actions.Result{Outcome: actions.Rejected, ErrorCode: "no_okta_profile", Error: fmt.Sprintf(
			"no Okta profile for this user (ulc ran without Okta), so no GitHub login: GitHub logins come from the Okta profile attribute %s; run again with Okta, or remove the user's credential authorizations at github.com/organizations/%s/settings/people",
			c.t.LoginAttribute, c.t.Org)}
	case !ok:
		return actions.Result{Outcome: actions.NotFound, ErrorCode: "no_github_login", Error: fmt.Sprintf(
			"the user's Okta profile has no %s, so ulc knows no GitHub login for them and removed nothing at GitHub: if they have one, fill in %s in Okta (Directory → People → the user → Profile), then sign them out of this target again",
			c.t.LoginAttribute, c.t.LoginAttribute)}
	case !loginRE.MatchString(login):
		return actions.Result{Outcome: actions.Rejected, ErrorCode: "invalid_github_login", Error: fmt.Sprintf(
			"the Okta profile attribute %s holds %q, which is not a GitHub login (letters, digits and hyphens): correct it in Okta (Directory → People → the user → Profile), then sign them out of this target again",
			c.t.LoginAttribute, safetext.Line(login, 60))}
	}

	var ids []int64
	var last actions.Answer
	for page := 1; ; page++ {
		a := call.Do(c.call("list", http.MethodGet, c.listURL(login, page)))
		last = a
		if res, ok := c.failed(a, "list"); !ok {
			return res
		}
		var items []authorization
		if err := json.Unmarshal(a.Body, &items); err != nil {
			res := a.Result()
			res.Outcome = actions.Failed
			res.Error = fmt.Sprintf("GitHub answered %d to the list of credential authorizations with a body that is not a list: check that url is the GitHub REST API root, such as %s", a.Status, config.DefaultGitHubURL)
			return res
		}
		for _, it := range items {
			// Only the user's own: a filter the server ignored must not
			// make ulc remove another person's credentials.
			if strings.EqualFold(it.Login, login) && it.CredentialID > 0 {
				ids = append(ids, it.CredentialID)
			}
		}
		if len(items) < perPage || page == maxPages {
			break
		}
	}
	if len(ids) == 0 {
		res := last.Result()
		res.RequestID = requestID(last, res.RequestID)
		if lacksScope(last.Header, "remove") {
			res.Warning = fmt.Sprintf("the token lacks the scope %s (it has %s), which removals need: add it, or put an owner's token that has it in %s", Scope, scopesOf(last.Header), c.tokenWhere())
		}
		res.Outcome, res.Error = actions.NotFound, fmt.Sprintf(
			"GitHub has no SAML SSO credential authorization of %s in %s: nothing to remove there (their credentials outside the organization are untouched)",
			login, c.t.Org)
		return res
	}

	removed, gone := 0, 0
	var firstFail *actions.Result
	for _, id := range ids {
		a := call.Do(c.call("remove", http.MethodDelete, c.removeURL(id)))
		switch {
		case a.Status >= 200 && a.Status < 300:
			removed++
			last = a
		case a.Status == http.StatusNotFound:
			// Removed meanwhile (by the user, another owner or a resumed
			// run): it no longer authorizes anything.
			gone++
			last = a
		default:
			if res, ok := c.failed(a, "remove"); !ok && firstFail == nil {
				firstFail = &res
			}
		}
	}
	if firstFail != nil {
		res := *firstFail
		res.Error = fmt.Sprintf("removed %d of %d authorizations of %s: %s", removed+gone, len(ids), login, res.Error)
		return res
	}
	res := last.Result()
	res.RequestID = requestID(last, res.RequestID)
	// What was removed, as Google's sign-out says what it deleted.
	res.Outcome, res.Error = actions.Revoked, fmt.Sprintf("removed %s of %s in %s", authorizations(removed), login, c.t.Org)
	if gone > 0 {
		res.Error = fmt.Sprintf("removed %s of %s; %d were already gone", authorizations(removed), login, gone)
	}
	return res
}

// authorizations is "1 credential authorization" or "n credential
// authorizations".
func authorizations(n int) string {
	if n == 1 {
		return "1 credential authorization"
	}
	return fmt.Sprintf("%d credential authorizations", n)
}

// authorization is the part of a credential authorization ulc reads.
type authorization struct {
	Login        string `json:"login"`
	CredentialID int64  `json:"credential_id"`
}

// apiError is GitHub's error body.
type apiError struct {
	Message          string `json:"message"`
	DocumentationURL string `json:"documentation_url"`
}

// call is one REST call with the token.
func (c *conn) call(name, method, target string) actions.Call {
	return actions.Call{
		Name: name, ReadBody: true, Retry: rateLimited,
		Build: func(ctx context.Context) (*http.Request, string, error) {
			req, err := http.NewRequestWithContext(ctx, method, target, nil)
			if err != nil {
				return nil, "", fmt.Errorf("building the GitHub request: check url and org (%v)", err)
			}
			req.Header.Set("Authorization", "Bearer "+c.cred.Token())
			req.Header.Set("Accept", MediaType)
			req.Header.Set("X-GitHub-Api-Version", APIVersion)
			req.Header.Set("User-Agent", "ulc/"+c.version)
			return req, "", nil
		},
	}
}

// rateLimited is Call.Retry: GitHub's primary rate limit answers 403 or 429
// with x-ratelimit-remaining: 0 and the reset time in x-ratelimit-reset
// (epoch seconds); a secondary rate limit answers 403 or 429 with
// Retry-After, or only a message, after which GitHub asks to wait at least
// a minute.
func rateLimited(a actions.Answer) (bool, time.Duration) {
	if a.Status != http.StatusForbidden && a.Status != http.StatusTooManyRequests {
		return false, 0
	}
	h := a.Header
	if h == nil {
		h = http.Header{}
	}
	if h.Get("Retry-After") != "" {
		return true, 0 // the engine waits as asked
	}
	if h.Get("X-Ratelimit-Remaining") == "0" {
		if reset, err := strconv.ParseInt(h.Get("X-Ratelimit-Reset"), 10, 64); err == nil {
			return true, max(time.Until(time.Unix(reset, 0)), time.Second)
		}
		return true, secondaryWait
	}
	if strings.Contains(strings.ToLower(messageOf(a.Body)), "secondary rate limit") {
		return true, secondaryWait
	}
	return false, 0
}

// messageOf is the message of a GitHub error body, or "".
func messageOf(body []byte) string {
	var e apiError
	if json.Unmarshal(body, &e) != nil {
		return ""
	}
	return e.Message
}

// failed classifies an answer that is not a success of call name: ok is
// true when the answer is a 2xx and the step goes on.
func (c *conn) failed(a actions.Answer, name string) (actions.Result, bool) {
	res := a.Result()
	res.RequestID = requestID(a, res.RequestID)
	if a.Outcome == actions.Cancelled {
		return res, false
	}
	what := "the list of credential authorizations"
	if name == "remove" {
		what = "the removal of a credential authorization"
	}
	if a.Status == 0 {
		res.Outcome = actions.Failed
		res.Error = fmt.Sprintf("%s: %s; resume the run, or remove the authorizations at github.com/organizations/%s/settings/people", what, c.scrub(a.Reason), c.t.Org)
		return res, false
	}
	if a.Status >= 200 && a.Status < 300 {
		return res, true
	}
	msg := c.scrub(safetext.Line(messageOf(a.Body), 160))
	status := fmt.Sprint(a.Status)
	if msg != "" {
		status += ": " + strings.TrimSuffix(msg, ".")
	}
	limited, _ := rateLimited(a)
	switch st := a.Status; {
	case st == http.StatusTooManyRequests || limited:
		res.Outcome = actions.Failed
		res.Error = fmt.Sprintf("GitHub kept rate-limiting %s (%s)%s: resume the run once the limit resets%s", what, status, retried(a.Reason), resetNote(a.Header))
	case st >= 500:
		res.Outcome = actions.Failed
		res.Error = fmt.Sprintf("GitHub failed on %s (%s)%s: resume the run later", what, status, retried(a.Reason))
	case st >= 300 && st < 400:
		res.Outcome = actions.Rejected
		res.Error = fmt.Sprintf("%s: %s", what, c.scrub(a.Sentence())) // "…, not followed: fix url"
	case st == http.StatusUnauthorized:
		res.Outcome = actions.Rejected
		res.Error = fmt.Sprintf("GitHub does not accept the token (%s): %s", status, c.tokenFix())
	case st == http.StatusForbidden && a.Header.Get("X-Github-Sso") != "":
		res.Outcome = actions.Rejected
		res.ErrorCode = "sso_required"
		res.Error = fmt.Sprintf("GitHub refused the token for %s because it is not authorized for the organization's SAML SSO (403): authorize it (GitHub → Settings → Developer settings → the token → Configure SSO → Authorize %s), then resume the run", c.t.Org, c.t.Org)
	case st == http.StatusForbidden && lacksScope(a.Header, name):
		res.Outcome = actions.Rejected
		res.ErrorCode = "missing_scope"
		res.Error = fmt.Sprintf("the token lacks the scope %s (it has %s) that %s needs (403): add it to the token, or put an owner's token that has it in %s", Scope, scopesOf(a.Header), what, c.tokenWhere())
	case st == http.StatusForbidden:
		res.Outcome = actions.Rejected
		res.Error = fmt.Sprintf("GitHub refused %s (%s): the token must belong to an owner of %s and have the scope %s; %s", what, status, c.t.Org, Scope, c.tokenFix())
	case st == http.StatusNotFound:
		// A removal's 404 is handled by Revoke; this is the list's.
		res.Outcome = actions.Rejected
		res.Error = fmt.Sprintf("GitHub answered 404 to %s of %s: the organization does not exist, the token's user is not one of its owners, or it does not use SAML single sign-on (GitHub Enterprise Cloud); check org and the token", what, c.t.Org)
	default:
		res.Outcome = actions.Rejected
		res.Error = fmt.Sprintf("GitHub refused %s (%s): check url (the REST API root, such as %s) and org", what, status, config.DefaultGitHubURL)
	}
	return res, false
}

// requestID is GitHub's X-GitHub-Request-Id of an answer, else def.
func requestID(a actions.Answer, def string) string {
	if id := safetext.Line(a.Header.Get("X-Github-Request-Id"), 80); id != "" {
		return id
	}
	return def
}

// lacksScope reports whether GitHub's X-OAuth-Scopes header (the scopes of
// a classic token) is there and lacks what call name needs. Fine-grained
// tokens carry no such header.
func lacksScope(h http.Header, name string) bool {
	granted, ok := h["X-Oauth-Scopes"]
	if !ok {
		return false
	}
	for _, g := range strings.Split(strings.Join(granted, ","), ",") {
		switch strings.TrimSpace(g) {
		case Scope:
			return false
		case "read:org", "write:org":
			if name == "list" {
				return false
			}
		}
	}
	return true
}

// scopesOf names the scopes a classic token has, for a message.
func scopesOf(h http.Header) string {
	s := safetext.Line(strings.TrimSpace(h.Get("X-Oauth-Scopes")), 200)
	if s == "" {
		return "none"
	}
	return s
}

// resetNote says when GitHub's rate limit resets, from x-ratelimit-reset.
func resetNote(h http.Header) string {
	reset, err := strconv.ParseInt(h.Get("X-Ratelimit-Reset"), 10, 64)
	if err != nil || reset <= 0 {
		return ""
	}
	return " (at " + time.Unix(reset, 0).UTC().Format("15:04:05 UTC") + ")"
}

// retried carries the engine's "(after N attempts)" or its "asked to wait"
// over from a reason.
func retried(reason string) string {
	if i := strings.Index(reason, "; asked to wait "); i >= 0 {
		return reason[i:]
	}
	if i := strings.LastIndex(reason, " (after "); i >= 0 && strings.HasSuffix(reason, ")") {
		return reason[i:]
	}
	return ""
}

// tokenWhere names where the token comes from: token_env NAME, or
// token_file (the target names its path, which can be long).
func (c *conn) tokenWhere() string {
	if c.t.TokenEnv != "" {
		return "token_env " + c.t.TokenEnv
	}
	return "token_file"
}

// tokenFix says where to put a usable token.
func (c *conn) tokenFix() string {
	return fmt.Sprintf("put a token of an owner of %s with the scope %s, authorized for the organization's SSO, in %s", c.t.Org, Scope, c.tokenWhere())
}

// scrub removes the token from text taken from an answer, in case an
// endpoint echoes what it was sent.
func (c *conn) scrub(s string) string {
	if tok := c.cred.Token(); len(tok) >= 8 {
		s = strings.ReplaceAll(s, tok, "[redacted]")
	}
	return s
}
