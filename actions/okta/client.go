// Package okta is ulc's Okta client: it finds users in the Okta directory,
// reads their recent System Log activity and factors, and performs the Okta
// steps of a run (suspend, clear sessions and tokens, revoke grants,
// deactivate). It is built on github.com/okta/okta-sdk-golang/v2 and guards
// against that SDK's traps (PROTOCOL.md §6): the GET cache is always off,
// every setting is passed explicitly so stray OKTA_CLIENT_* variables or an
// old ~/.okta/okta.yaml cannot change the org or credential, path values are
// escaped, private keys of every usual encoding are accepted, rate limits
// are paced before they turn into 429s, and every failure becomes one
// sentence that never contains a token or key.
package okta

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"

	jose "github.com/go-jose/go-jose/v3"
	sdk "github.com/okta/okta-sdk-golang/v2/okta"
	"github.com/okta/okta-sdk-golang/v2/okta/query"

	"ulc/actions"
	"ulc/config"
	"ulc/internal/safetext"
)

// Client is a connection to one Okta org. It is safe for concurrent use.
type Client struct {
	sdk       *sdk.Client
	orgURL    string
	issuer    string
	mode      string
	clientID  string
	tokenFrom string
	timeout   time.Duration
	rt        *rateTransport
	// secrets are scrubbed from every message, as a last line of defence.
	secrets []string
}

// Compile-time checks that Client is what the engine consumes.
var (
	_ actions.Directory = (*Client)(nil)
	_ actions.Okta      = (*Client)(nil)
)

// Connect builds the SDK client for s and checks the credential with one
// cheap call (list one user). Any failure is one sentence, such as
// "Okta rejected the API token (401 E0000011): check OKTA_CLIENT_TOKEN" or
// "cannot reach Okta at https://acme.okta.com: connection refused".
//
// The org URL must use https unless its host is loopback (the sandbox,
// tests). In private_key mode the key may be PKCS#1 or PKCS#8 RSA or P-256
// EC: ulc parses it and hands the SDK a signer (RS256 or ES256, with kid
// when KeyID is set), since the SDK alone accepts only PKCS#1.
func Connect(ctx context.Context, s Settings) (*Client, error) {
	org, insecure, err := checkOrgURL(s.OrgURL)
	if err != nil {
		return nil, err
	}
	if err := sdkEnvProblem(os.LookupEnv); err != nil {
		return nil, err
	}
	lim := limitsOf(s)
	hc, rt, err := newHTTPClient(org, lim)
	if err != nil {
		return nil, err
	}
	c := &Client{orgURL: org, issuer: strings.TrimRight(s.Issuer, "/"), rt: rt, timeout: lim.timeout, tokenFrom: s.TokenFrom}
	if c.issuer == "" {
		c.issuer = org
	}
	auth, err := c.authSetters(s)
	if err != nil {
		return nil, err
	}
	if err := c.open(ctx, append(baseSetters(org, insecure, lim, hc), auth...)); err != nil {
		return nil, err
	}
	return c, nil
}

// limits are the call bounds Connect gives the SDK.
type limits struct {
	timeout, backoff time.Duration
	retries          int
}

// limitsOf applies the defaults to s's zero bounds, and clamps the number
// of 429 retries to 0..10 (a negative MaxRetries means none).
func limitsOf(s Settings) limits {
	lim := limits{timeout: s.RequestTimeout, backoff: s.MaxBackoff, retries: s.MaxRetries}
	if lim.timeout <= 0 {
		lim.timeout = DefaultRequestTimeout
	}
	if lim.backoff <= 0 {
		lim.backoff = DefaultMaxBackoff
	}
	switch {
	case lim.retries == 0:
		lim.retries = DefaultMaxRetries
	case lim.retries < 0:
		lim.retries = 0
	case lim.retries > 10:
		lim.retries = 10
	}
	return lim
}

// newHTTPClient returns the HTTP client the SDK uses for the org, through
// the transport that keeps every request on the org and paces rate limits.
func newHTTPClient(org string, lim limits) (*http.Client, *rateTransport, error) {
	rt, err := newRateTransport(org, lim.timeout)
	if err != nil {
		return nil, nil, err
	}
	return &http.Client{
		Transport: rt,
		// No Timeout here: it would count a paced wait for the next
		// rate-limit window against the request. The transport bounds each
		// request from when it leaves, the token request included.
		// Okta's API does not redirect; following one would forward the
		// credential somewhere unexpected, or turn a POST into a GET. (The
		// transport refuses redirect answers before this is asked.)
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}, rt, nil
}

// baseSetters are the SDK settings of every mode. Every setting is given
// explicitly, so nothing the SDK read on its own from the environment or
// okta.yaml survives; the credential's settings come from authSetters.
func baseSetters(org string, insecure bool, lim limits, hc *http.Client) []sdk.ConfigSetter {
	return []sdk.ConfigSetter{
		sdk.WithOrgUrl(org),
		sdk.WithCache(false),
		// 0: the SDK's timeout would span the paced wait and its own 429
		// retries; the transport bounds each request instead.
		sdk.WithRequestTimeout(0),
		sdk.WithConnectionTimeout(seconds(lim.timeout)),
		sdk.WithRateLimitMaxRetries(int32(lim.retries)),
		sdk.WithRateLimitMaxBackOff(seconds(lim.backoff)),
		sdk.WithHttpClientPtr(hc),
		sdk.WithTestingDisableHttpsCheck(insecure),
		sdk.WithUserAgentExtra("ulc"),
		sdk.WithClientAssertion(""),
		sdk.WithPrivateKey(""),
	}
}

// authSetters checks s's credential for its mode and returns the SDK
// settings that use it; it records the mode (and the secret to scrub) on c.
func (c *Client) authSetters(s Settings) ([]sdk.ConfigSetter, error) {
	switch mode := s.AuthMode; mode {
	case "", config.OktaAuthSSWS:
		return c.sswsSetters(s)
	case config.OktaAuthPrivateKey:
		return c.privateKeySetters(s)
	default:
		return nil, fmt.Errorf("unknown Okta auth mode %q: use %q or %q", safeWord(mode), config.OktaAuthSSWS, config.OktaAuthPrivateKey)
	}
}

// sswsSetters checks the API token and returns the SSWS settings.
func (c *Client) sswsSetters(s Settings) ([]sdk.ConfigSetter, error) {
	c.mode = config.OktaAuthSSWS
	token := strings.TrimSpace(s.Token)
	if token == "" {
		return nil, errors.New("no Okta API token: set OKTA_CLIENT_TOKEN, or token_env or token_file in targets.toml [okta]")
	}
	if strings.IndexFunc(token, func(r rune) bool { return r <= ' ' || r >= 0x7f }) >= 0 {
		return nil, fmt.Errorf("the Okta API token from %s contains whitespace, control or non-ASCII characters; give the token alone, without \"SSWS \"", or(s.TokenFrom, "the configuration"))
	}
	c.secrets = append(c.secrets, token)
	return []sdk.ConfigSetter{
		sdk.WithAuthorizationMode("SSWS"), sdk.WithToken(token),
		sdk.WithClientId(""), sdk.WithPrivateKeyId(""),
	}, nil
}

// privateKeySetters checks the service app's settings, parses its key
// (PKCS#1 or PKCS#8 RSA, or P-256 EC) into a signer the SDK can use, and
// returns the PrivateKey settings.
func (c *Client) privateKeySetters(s Settings) ([]sdk.ConfigSetter, error) {
	c.mode = config.OktaAuthPrivateKey
	c.clientID = strings.TrimSpace(s.ClientID)
	if c.clientID == "" {
		return nil, errors.New("private_key mode needs the Okta service app's client ID: set client_id in targets.toml [okta] or OKTA_CLIENT_CLIENTID")
	}
	if len(s.Scopes) == 0 {
		return nil, errors.New("private_key mode needs the Okta scopes to ask for, such as okta.users.read and okta.users.manage: set scopes in targets.toml [okta] or OKTA_CLIENT_SCOPES")
	}
	if len(s.PrivateKeyPEM) == 0 {
		return nil, errors.New("Okta private_key mode needs the service app's private key: set private_key_file in targets.toml [okta] or OKTA_CLIENT_PRIVATEKEY")
	}
	key, alg, err := config.ParsePrivateKey(s.PrivateKeyPEM)
	if err != nil {
		return nil, fmt.Errorf("the Okta private key from %s: %v", or(s.KeyFrom, "the configuration"), err)
	}
	var opts *jose.SignerOptions
	if s.KeyID != "" {
		opts = (&jose.SignerOptions{}).WithHeader("kid", s.KeyID)
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.SignatureAlgorithm(alg), Key: key}, opts)
	if err != nil {
		return nil, fmt.Errorf("the Okta private key from %s cannot sign %s JWTs", or(s.KeyFrom, "the configuration"), alg)
	}
	return []sdk.ConfigSetter{
		sdk.WithAuthorizationMode("PrivateKey"), sdk.WithToken(""),
		sdk.WithClientId(c.clientID), sdk.WithScopes(append([]string(nil), s.Scopes...)),
		sdk.WithPrivateKeySigner(signer), sdk.WithPrivateKeyId(s.KeyID),
	}, nil
}

// open builds the SDK client with setters and checks the connection.
func (c *Client) open(ctx context.Context, setters []sdk.ConfigSetter) error {
	_, client, err := sdk.NewClient(ctx, setters...)
	if err != nil {
		return fmt.Errorf("the Okta SDK refused the settings: %s", c.scrub(err.Error()))
	}
	c.sdk = client
	return c.check(ctx)
}

// check lists one user: the cheapest call that proves the org answers and
// the credential may read users.
func (c *Client) check(ctx context.Context) error {
	ctx, tr := withTrace(ctx)
	_, resp, err := c.sdk.User.ListUsers(ctx, query.NewQueryParams(query.WithLimit(1)))
	if err == nil {
		return nil
	}
	td := tr.get()
	status := td.status
	if resp != nil {
		status = resp.StatusCode
	}
	var oe *sdk.Error
	if errors.As(err, &oe) {
		code := oe.ErrorCode
		if code == "" {
			code = or(td.authError, oe.ErrorMessage)
		}
		switch {
		case resp == nil && status == 0 && oe.ErrorMessage != "":
			return errors.New(c.tokenEndpointSentence(oe))
		case status == http.StatusUnauthorized:
			if c.mode == config.OktaAuthPrivateKey {
				return fmt.Errorf("Okta rejected the access token of service app %s (%s)", safetext.Line(c.clientID, 60), statusCode(status, code))
			}
			return fmt.Errorf("Okta rejected the API token (%s): check %s", statusCode(status, code), or(c.tokenFrom, "OKTA_CLIENT_TOKEN or [okta] token_file"))
		case status == http.StatusForbidden:
			return fmt.Errorf("the Okta credential lacks okta.users.read (%s)", statusCode(status, code))
		case status == http.StatusNotFound:
			return fmt.Errorf("%s answered 404 to GET /api/v1/users: check that the org URL is the Okta org's base URL, such as https://acme.okta.com", c.orgURL)
		}
	}
	return errors.New(c.sentence(err, resp, td, "Okta refused the connection check"))
}

// OrgURL returns the org's base URL, without a trailing slash.
func (c *Client) OrgURL() string { return c.orgURL }

// Issuer returns the issuer used for iss_sub subjects: [okta] issuer when
// set, else the org URL.
func (c *Client) Issuer() string { return c.issuer }

// RateLimit returns the rate-limit headers of the last answer Okta gave.
func (c *Client) RateLimit() RateStatus { return c.rt.status() }

// checkOrgURL validates the org URL and reports whether it is plain http to
// a loopback host (allowed for the sandbox only).
func checkOrgURL(raw string) (org string, insecure bool, err error) {
	raw = strings.TrimRight(strings.TrimSpace(raw), "/")
	if raw == "" {
		return "", false, errors.New("no Okta org URL: set OKTA_CLIENT_ORGURL or org_url in targets.toml [okta]")
	}
	u, perr := url.Parse(raw)
	switch {
	case perr != nil || !u.IsAbs() || u.Opaque != "":
		return "", false, errors.New("the Okta org URL must be an absolute URL such as https://acme.okta.com")
	case u.User != nil:
		return "", false, errors.New("the Okta org URL must not contain a user name or password")
	case u.Hostname() == "":
		return "", false, errors.New("the Okta org URL must include a host name")
	case u.Path != "" || u.RawQuery != "" || u.Fragment != "" || strings.ContainsAny(raw, "?#"):
		return "", false, fmt.Errorf("the Okta org URL must be the org's base URL, such as https://%s, without a path", u.Host)
	case strings.Contains(u.Host, "-admin.okta"):
		return "", false, fmt.Errorf("the Okta org URL %s is the admin console's; use it without \"-admin\"", safetext.Line(raw, 120))
	}
	switch strings.ToLower(u.Scheme) {
	case "https":
		return raw, false, nil
	case "http":
		if isLoopback(u.Hostname()) {
			return raw, true, nil
		}
	}
	return "", false, fmt.Errorf("the Okta org URL %s must use https (plain http is allowed only to loopback addresses)", safetext.Line(raw, 120))
}

func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// sdkEnvProblem finds OKTA_* variables the SDK's environment reader
// (envconfig) cannot parse: it would print "error parsing" on stdout, in
// the middle of the console, and drop the rest of its settings.
func sdkEnvProblem(lookup func(string) (string, bool)) error {
	typed := map[string]string{
		"OKTA_CLIENT_CACHE_ENABLED":          "bool",
		"OKTA_TESTING_DISABLE_HTTPS_CHECK":   "bool",
		"OKTA_CLIENT_CACHE_DEFAULT_TTL":      "int",
		"OKTA_CLIENT_CACHE_DEFAULT_TTI":      "int",
		"OKTA_CLIENT_PROXY_PORT":             "int",
		"OKTA_CLIENT_CONNECTION_TIMEOUT":     "int",
		"OKTA_CLIENT_REQUEST_TIMEOUT":        "int",
		"OKTA_CLIENT_RATE_LIMIT_MAX_RETRIES": "int",
		"OKTA_CLIENT_RATE_LIMIT_MAX_BACKOFF": "int",
	}
	for name, kind := range typed {
		v, ok := lookup(name)
		if !ok {
			continue
		}
		var err error
		if kind == "bool" {
			_, err = strconv.ParseBool(v)
		} else {
			_, err = strconv.ParseInt(v, 0, 32)
		}
		if err != nil {
			return fmt.Errorf("the environment variable %s=%q is not a valid %s; fix or unset it (the Okta SDK reads it)", name, safeWord(v), map[string]string{"bool": "true/false value", "int": "whole number"}[kind])
		}
	}
	return nil
}

func seconds(d time.Duration) int64 {
	s := int64((d + time.Second - 1) / time.Second)
	return max(s, 1)
}

func or(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// statusCode formats "401 E0000011", or just "401" without a code.
func statusCode(status int, code string) string {
	code = safetext.Line(code, 40)
	switch {
	case status == 0 && code == "":
		return "no status"
	case status == 0:
		return code
	case code == "":
		return strconv.Itoa(status)
	}
	return fmt.Sprintf("%d %s", status, code)
}

// tokenEndpointSentence explains a failure of the private-key token
// request (OAuth error shape: error, error_description).
func (c *Client) tokenEndpointSentence(oe *sdk.Error) string {
	desc := strings.TrimRight(c.scrub(safetext.Line(or(oe.ErrorDescription, oe.ErrorSummary), 200)), ". ")
	code := safetext.Line(or(oe.ErrorMessage, oe.ErrorCode), 40)
	app := safetext.Line(c.clientID, 60)
	var s string
	switch oe.ErrorMessage {
	case "invalid_scope":
		s = fmt.Sprintf("Okta refused the scopes service app %s asked for (invalid_scope)", app)
		if desc != "" {
			s += ": " + desc
		}
		return s + "; grant them on the app's Okta API Scopes tab, or fix scopes"
	case "invalid_client":
		s = fmt.Sprintf("Okta rejected the client assertion of service app %s (invalid_client)", app)
		if desc != "" {
			s += ": " + desc
		}
		return s + "; check client_id, the public key registered for the app, and key_id"
	case "invalid_dpop_proof", "use_dpop_nonce":
		return fmt.Sprintf("service app %s requires DPoP, which the Okta SDK cannot do (%s): turn off \"Require DPoP\" for it", app, code)
	}
	s = fmt.Sprintf("Okta's token endpoint refused service app %s (%s)", app, code)
	if desc != "" {
		s += ": " + desc
	}
	return s
}

// sentence turns an SDK error into one line for the operator. refused
// prefixes Okta's own error answers ("Okta refused (400 E0000001): ...").
func (c *Client) sentence(err error, resp *sdk.Response, td traceData, refused string) string {
	var oe *sdk.Error
	var ref *refusal
	switch {
	case err == nil:
		return ""
	case errors.As(err, &ref):
		return ref.msg
	case errors.As(err, &oe) && resp == nil && td.status == 0 && oe.ErrorMessage != "":
		return c.tokenEndpointSentence(oe)
	case errors.As(err, &oe):
		status := td.status
		if resp != nil {
			status = resp.StatusCode
		}
		code := or(oe.ErrorCode, or(td.authError, oe.ErrorMessage))
		summary := or(oe.ErrorSummary, oe.ErrorDescription)
		// The SDK appends the request id to 500 summaries; it is recorded
		// on its own already.
		summary, _, _ = strings.Cut(summary, ", x-okta-request-id=")
		for _, cause := range oe.ErrorCauses {
			if v, ok := cause["errorSummary"].(string); ok && v != "" && v != summary {
				summary = strings.TrimRight(summary, ". ") + "; " + v
			}
		}
		verb := refused
		if status >= 500 {
			verb = "Okta failed"
		}
		s := fmt.Sprintf("%s (%s)", verb, statusCode(status, code))
		// Okta's whole summary and causes: a refused search expression
		// is fixed from what Okta says about it.
		if summary = c.scrub(safetext.Line(summary, 600)); summary != "" {
			s += ": " + summary
		}
		return s
	case isTooMany(err):
		return rateSentence(td)
	case errors.Is(err, context.DeadlineExceeded):
		return fmt.Sprintf("Okta at %s did not answer in time (request timeout %s)", c.orgURL, c.timeout)
	case errors.Is(err, context.Canceled):
		return "cancelled before Okta answered"
	}
	msg := err.Error()
	if ct, ok := strings.CutPrefix(msg, "could not build a response for type: "); ok {
		return fmt.Sprintf("%s does not look like an Okta org: it answered with %q, not Okta's JSON API", c.orgURL, safetext.Line(ct, 60))
	}
	var ue *url.Error
	var ne net.Error
	var oerr *net.OpError
	if errors.As(err, &ue) || errors.As(err, &oerr) || errors.As(err, &ne) || errors.Is(err, syscall.ECONNREFUSED) {
		return fmt.Sprintf("cannot reach Okta at %s: %s", c.orgURL, c.scrub(netReason(err)))
	}
	return c.scrub(safetext.Line("Okta call failed: "+msg, 300))
}

// rateSentence explains a 429 that outlasted the SDK's retries.
func rateSentence(td traceData) string {
	if !td.reset.IsZero() {
		return "Okta rate limit: the window resets at " + td.reset.Local().Format("15:04:05")
	}
	return "Okta rate limit: too many requests, try again in a minute"
}

// isTooMany reports the SDK's bare error after the last 429.
func isTooMany(err error) bool { return err != nil && err.Error() == "too many requests" }

// netReason returns the innermost reason of a transport error, without the
// URL (*url.Error would repeat it, and the token request's URL carries the
// client assertion).
func netReason(err error) string {
	var dns *net.DNSError
	var unknownCA x509.UnknownAuthorityError
	var hostErr x509.HostnameError
	var certErr *tls.CertificateVerificationError
	var invalid x509.CertificateInvalidError
	switch {
	case errors.As(err, &dns):
		if dns.IsNotFound {
			return "no such host " + safetext.Line(dns.Name, 100)
		}
		return "DNS lookup failed: " + safetext.Line(dns.Err, 100)
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.Is(err, syscall.ECONNRESET):
		return "connection reset"
	case errors.Is(err, syscall.EHOSTUNREACH), errors.Is(err, syscall.ENETUNREACH):
		return "no route to host"
	case errors.As(err, &unknownCA), errors.As(err, &hostErr), errors.As(err, &invalid), errors.As(err, &certErr):
		return "its TLS certificate is not trusted: " + safetext.Line(tlsReason(err), 160)
	case errors.Is(err, context.DeadlineExceeded):
		return "timed out"
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return "timed out"
	}
	for {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
			continue
		}
		break
	}
	var oe *net.OpError
	if errors.As(err, &oe) && oe.Err != nil {
		err = oe.Err
	}
	return safetext.Line(err.Error(), 160)
}

func tlsReason(err error) string {
	var ue *url.Error
	for errors.As(err, &ue) {
		err = ue.Err
	}
	return err.Error()
}

// jwtLike matches a compact JWS; assertionParam a client_assertion in a URL.
var (
	jwtLike        = regexp.MustCompile(`eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*`)
	assertionParam = regexp.MustCompile(`client_assertion=[^&\s"']+`)
)

// scrub removes the credential, any JWT and any client assertion from s.
func (c *Client) scrub(s string) string {
	for _, sec := range c.secrets {
		if len(sec) >= 6 {
			s = strings.ReplaceAll(s, sec, "[redacted]")
		}
	}
	s = assertionParam.ReplaceAllString(s, "client_assertion=[redacted]")
	return jwtLike.ReplaceAllString(s, "[redacted JWT]")
}
