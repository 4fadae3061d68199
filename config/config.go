// Package config reads targets.toml, the registry of the applications ulc
// signs a user out of, and loads their credentials. Each target has a kind,
// the connector that serves it: Global Token Revocation (the default), or a
// vendor's own API (Google Workspace, Microsoft Entra ID, Slack), or a CAEP
// session-revoked event pushed to a receiver.
//
// Decoding is strict because the people reading its errors are SOC analysts
// in the middle of an incident: an unknown key, a plain-http URL or a token
// written inline is refused with one sentence that names the file, the line
// and the target. Parse never reads a secret; credentials are loaded only
// when a run needs them (Target.LoadCredential, Okta.LoadToken) and no error
// message or formatted Credential ever contains one.
package config

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Subject identifier formats (RFC 9493) a target can receive.
const (
	// SubjectEmail sends {"format": "email", "email": ...}.
	SubjectEmail = "email"
	// SubjectOpaque sends {"format": "opaque", "id": ...}.
	SubjectOpaque = "opaque"
	// SubjectIssSub sends {"format": "iss_sub", "iss": ..., "sub": ...}.
	SubjectIssSub = "iss_sub"
)

// Body keys: the JSON property that carries the subject identifier.
const (
	// BodyKeySubID is the key of draft -03 and later.
	BodyKeySubID = "sub_id"
	// BodyKeySubject is the key of drafts -00 to -02, still read by some
	// receivers (Okta's guide examples, Auth0).
	BodyKeySubject = "subject"
)

// Ways a request to a target is authenticated.
const (
	// AuthBearer sends a static token from the environment or a file (kind
	// "gtr" targets that say so, and every kind "slack" target).
	AuthBearer = "bearer"
	// AuthJWT sends a short-lived signed JWT (draft -06 §3.5); for kind
	// "caep" targets, the signed JWT is the Security Event Token itself.
	AuthJWT = "jwt"
	// AuthNone sends no Authorization header (test receivers only).
	AuthNone = "none"
	// AuthServiceAccount exchanges a JWT signed with a Google service
	// account's key for an access token (kind "google").
	AuthServiceAccount = "service_account"
	// AuthClientSecret gets an access token with the OAuth client
	// credentials grant and a client secret (kind "microsoft").
	AuthClientSecret = "client_secret"
	// AuthClientCertificate gets an access token with the client
	// credentials grant and a JWT assertion signed with the key of a
	// certificate registered with the application (kind "microsoft").
	AuthClientCertificate = "client_certificate"
)

// Target kinds: the connector that signs a user out of a target.
const (
	// KindGTR sends a Global Token Revocation request
	// (draft-parecki-oauth-global-token-revocation). It is the kind of a
	// target written without a kind key.
	KindGTR = "gtr"
	// KindGoogle calls the Google Workspace Admin SDK: users.signOut and,
	// with revoke_oauth_grants, tokens.list and tokens.delete.
	KindGoogle = "google"
	// KindMicrosoft calls Microsoft Graph: revokeSignInSessions.
	KindMicrosoft = "microsoft"
	// KindSlack calls the Slack Enterprise Grid API: users.lookupByEmail,
	// then admin.users.session.reset.
	KindSlack = "slack"
	// KindCAEP pushes a CAEP session-revoked Security Event Token to a
	// receiver (RFC 8935).
	KindCAEP = "caep"
	// KindZoom calls the Zoom API with a Server-to-Server OAuth app:
	// DELETE users/{email}/token, which ends the user's SSO session.
	KindZoom = "zoom"
	// KindGitHub calls the GitHub REST API of an organization that uses
	// SAML single sign-on: it lists the credential authorizations of the
	// user's GitHub login (an Okta profile attribute the target names) and
	// removes each.
	KindGitHub = "github"
)

// Kinds returns every target kind, KindGTR first.
func Kinds() []string {
	return []string{KindGTR, KindGoogle, KindMicrosoft, KindSlack, KindCAEP, KindZoom, KindGitHub}
}

// The default endpoints of the kinds that have one. A target's url (and a
// kind "microsoft" target's token_url) replaces them, for the sandbox, tests
// or a national cloud.
const (
	// DefaultGoogleURL is the root of Google's APIs; the Admin SDK calls
	// go to admin/directory/v1/... under it.
	DefaultGoogleURL = "https://admin.googleapis.com/"
	// DefaultGoogleTokenURL is the token endpoint of a service-account key
	// file that names none (token_uri).
	DefaultGoogleTokenURL = "https://oauth2.googleapis.com/token"
	// DefaultMicrosoftURL is the root of Microsoft Graph; the calls go to
	// v1.0/users/{user}/... under it.
	DefaultMicrosoftURL = "https://graph.microsoft.com/"
	// DefaultMicrosoftTokenURL is the Entra ID token endpoint; {tenant} is
	// replaced with the target's tenant.
	DefaultMicrosoftTokenURL = "https://login.microsoftonline.com/{tenant}/oauth2/v2.0/token"
	// DefaultSlackURL is the root of Slack's Web API; methods are called
	// as its sub-paths, such as admin.users.session.reset.
	DefaultSlackURL = "https://slack.com/api/"
	// DefaultZoomURL is the root of the Zoom API; the calls go to
	// users/{user}/token under it.
	DefaultZoomURL = "https://api.zoom.us/v2/"
	// DefaultZoomTokenURL is Zoom's OAuth token endpoint, where a
	// Server-to-Server OAuth app gets its access token.
	DefaultZoomTokenURL = "https://zoom.us/oauth/token"
	// DefaultGitHubURL is the root of the GitHub REST API; the calls go to
	// orgs/{org}/credential-authorizations under it.
	DefaultGitHubURL = "https://api.github.com/"
)

// Okta authentication modes.
const (
	// OktaAuthSSWS authenticates with an SSWS API token.
	OktaAuthSSWS = "ssws"
	// OktaAuthPrivateKey authenticates as an OAuth service app with a
	// private key (client credentials with private_key_jwt).
	OktaAuthPrivateKey = "private_key"
)

// Built-in defaults and limits. The limits keep one typo from turning a
// revocation run into a flood against a target or an hour-long hang in the
// middle of an incident.
const (
	defaultTimeout           = 5 * time.Second
	defaultMaxRetryWait      = 30 * time.Second
	defaultRetries           = 2
	defaultConcurrency       = 64
	defaultTargetConcurrency = 4
	defaultJWTTTL            = 5 * time.Minute

	maxTimeout           = 5 * time.Minute
	maxRetryWait         = 10 * time.Minute
	maxRetries           = 10
	maxConcurrency       = 10000
	maxTargetConcurrency = 1000
	// maxJWTTTL is the longest lifetime draft -06 §3.5 recommends.
	maxJWTTTL = 5 * time.Minute
)

// File is a decoded and validated targets file.
type File struct {
	// Path is the path the file was loaded from, as given.
	Path string
	// Digest is "sha256:" + the hex SHA-256 of the raw file bytes, so a run
	// can record exactly which configuration it used.
	Digest string
	// Defaults holds [defaults] with the built-in defaults filled in.
	Defaults Defaults
	// Okta holds the [okta] table; its Line is 0 when the table is absent.
	Okta Okta
	// Targets lists every [[target]] in file order, defaults applied.
	Targets []Target
	// Forwards lists every [[forward]] destination (the SIEMs the audit
	// log is delivered to) in file order.
	Forwards []Forward
}

// Defaults is the [defaults] table: values every target inherits unless it
// sets its own.
type Defaults struct {
	// Timeout bounds one attempt of one request.
	Timeout time.Duration
	// MaxRetryWait caps a Retry-After or backoff wait.
	MaxRetryWait time.Duration
	// Retries is the number of extra attempts after a retryable failure.
	Retries int
	// Concurrency is the number of requests in flight across all targets.
	Concurrency int
	// TargetConcurrency is the number of requests in flight to one target.
	TargetConcurrency int
	// Subject is the default subject identifier format.
	Subject string
	// BodyKey is the default body key.
	BodyKey string
	// JWTIss is the default iss of JWTs sent to auth = "jwt" targets.
	JWTIss string
	// JWTKeyFile is the default signing key file (resolved path).
	JWTKeyFile string
	// JWTKeyID is the default kid header of those JWTs.
	JWTKeyID string
}

// Okta is the optional [okta] table. When it is absent (Line == 0) the
// Okta client falls back to the SDK's own environment variables.
type Okta struct {
	// OrgURL is the org's base URL without a trailing slash.
	OrgURL string
	// Issuer is the iss used for iss_sub subjects; it defaults to OrgURL.
	Issuer string
	// TokenEnv names the environment variable holding the SSWS token.
	TokenEnv string
	// TokenFile is the resolved path of a file holding the SSWS token.
	TokenFile string
	// AuthMode is OktaAuthSSWS or OktaAuthPrivateKey; "" when there is no
	// [okta] table (the SDK's environment then decides).
	AuthMode string
	// ClientID is the service app's client ID (private_key mode).
	ClientID string
	// PrivateKeyFile is the resolved path of the service app's key.
	PrivateKeyFile string
	// KeyID is the kid of the service app's key (optional).
	KeyID string
	// Scopes are the OAuth scopes requested in private_key mode.
	Scopes []string
	// Line is the line of the [okta] header, 0 when there is none.
	Line int
	// File is the path of the targets file, for messages.
	File string
}

// Target is one [[target]]: an application ulc signs users out of, through
// the connector of its Kind. The keys of one kind are refused on a target of
// another, so the fields of other kinds are always empty.
type Target struct {
	// Name identifies the target in the console, the audit log and Select.
	Name string
	// Kind is the connector, as written: KindGTR, KindGoogle,
	// KindMicrosoft, KindSlack, KindCAEP, KindZoom or KindGitHub, or "" when
	// the target has no kind key, which means KindGTR. Use EffectiveKind to switch on it.
	Kind string
	// URL is the target's Global Token Revocation endpoint (kind "gtr"),
	// the API root (kinds "google", "microsoft", "slack", "zoom" and
	// "github": the default
	// when not written, and always ending in "/"), or the receiver's push
	// endpoint (kind "caep").
	URL string
	// Subject is the subject identifier format: SubjectEmail,
	// SubjectOpaque or SubjectIssSub. Kind "gtr" only.
	Subject string
	// SubjectIss is the iss of iss_sub subjects. It may be empty after
	// Parse when no issuer is configured; see File.IssuerFallback.
	SubjectIss string
	// BodyKey is BodyKeySubID or BodyKeySubject. Kind "gtr" only.
	BodyKey string
	// Auth is how requests are authenticated: AuthBearer, AuthJWT or
	// AuthNone for kind "gtr"; AuthServiceAccount for "google";
	// AuthClientSecret or AuthClientCertificate for "microsoft";
	// AuthBearer for "slack" and "github"; AuthJWT for "caep".
	Auth string
	// TokenEnv names the environment variable holding the bearer token
	// (kinds "gtr", "slack" and "github", and the optional push token of
	// "caep").
	TokenEnv string
	// TokenFile is the resolved path of the file holding the bearer token.
	TokenFile string
	// JWTKeyFile is the resolved path of the PEM key that signs the JWTs
	// (kind "gtr" with auth = "jwt", and kind "caep").
	JWTKeyFile string
	// JWTKeyID is the JWT header kid (optional).
	JWTKeyID string
	// JWTIss is the JWT iss claim: our issuer.
	JWTIss string
	// JWTSub is the JWT sub claim: our client ID at this application.
	JWTSub string
	// JWTTTL is the lifetime of each JWT.
	JWTTTL time.Duration
	// CredentialsFile is the resolved path of the Google service account's
	// JSON key (kind "google").
	CredentialsFile string
	// Admin is the email address of the Google Workspace admin the service
	// account acts for, by domain-wide delegation: the sub of its token
	// requests (kind "google").
	Admin string
	// RevokeOAuthGrants also deletes the user's grants to third-party apps
	// (kind "google"; false unless written).
	RevokeOAuthGrants bool
	// Tenant is the Entra ID tenant: its domain or its ID (kind
	// "microsoft").
	Tenant string
	// ClientID is the application (client) ID of the app registration
	// (kind "microsoft"), or the Client ID of the Server-to-Server OAuth
	// app (kind "zoom").
	ClientID string
	// ClientSecretEnv names the environment variable holding the client
	// secret (kinds "microsoft" and "zoom").
	ClientSecretEnv string
	// ClientSecretFile is the resolved path of the file holding the client
	// secret (kinds "microsoft" and "zoom").
	ClientSecretFile string
	// ClientCertFile is the resolved path of the PEM certificate registered
	// with the app (kind "microsoft", with ClientKeyFile).
	ClientCertFile string
	// ClientKeyFile is the resolved path of that certificate's PEM private
	// key (kind "microsoft", with ClientCertFile).
	ClientKeyFile string
	// TokenURL is the token endpoint, {tenant} already replaced (kind
	// "microsoft"; DefaultMicrosoftTokenURL when not written; kind "zoom":
	// DefaultZoomTokenURL when not written).
	TokenURL string
	// AccountID is the Zoom account the Server-to-Server OAuth app
	// belongs to: the account_id of its token requests (kind "zoom").
	AccountID string
	// Org is the GitHub organization whose SAML SSO credential
	// authorizations are removed (kind "github").
	Org string
	// LoginAttribute names the Okta profile attribute that holds the
	// user's GitHub login, such as githubUsername (kind "github").
	LoginAttribute string
	// Timeout bounds one attempt.
	Timeout time.Duration
	// MaxRetryWait caps a Retry-After or backoff wait.
	MaxRetryWait time.Duration
	// Retries is the number of extra attempts after a retryable failure.
	Retries int
	// Concurrency is the number of requests in flight to this target.
	Concurrency int
	// CAFile is the resolved path of an extra CA bundle (PEM), or "".
	CAFile string
	// Enabled is false for targets skipped unless asked for by name.
	Enabled bool
	// Tags group targets (e.g. "hr", "finance").
	Tags []string
	// Line is the line of the target's [[target]] header.
	Line int
	// File is the path of the targets file, for messages.
	File string
}

// Load is LoadContext without a deadline.
func Load(path string) (*File, error) {
	return LoadContext(context.Background(), path)
}

// LoadContext reads the targets file at path and parses it with Parse. The
// file must be a regular file of at most 1 MiB; a named pipe, a device or a
// directory is refused without waiting on it. When ctx is done before the
// file is read and decoded, LoadContext returns at once with an error that
// wraps ctx.Err().
func LoadContext(ctx context.Context, path string) (*File, error) {
	f, err := await(ctx, func() (*File, error) {
		data, err := readRegular(path, maxTargetsFile, nil)
		if err != nil {
			var tl *tooLarge
			if errors.As(err, &tl) {
				return nil, tooLargeError(path)
			}
			return nil, &Error{File: path, Msg: "cannot read the file: " + systemReason(err).Error()}
		}
		return Parse(data, path)
	})
	if f == nil && err != nil && ctx.Err() != nil && errors.Is(err, ctx.Err()) {
		return nil, fmt.Errorf("%s: reading the targets file was interrupted: %w", path, err)
	}
	return f, err
}

// tooLargeError is the error of a targets file over maxTargetsFile.
func tooLargeError(path string) *Error {
	return &Error{File: path, Msg: fmt.Sprintf("the file is larger than %s, the most a targets file may be (a registry of thousands of targets needs far less)", sizeString(maxTargetsFile))}
}

// Parse decodes data strictly and validates it. path is used in messages and
// to resolve relative file paths (token_file, jwt_key_file, ca_file,
// private_key_file, credentials_file, client_secret_file, client_cert_file,
// client_key_file) against its directory; Parse reads none of those files.
// The error, if any, lists every problem found, one sentence per line.
// Data over 1 MiB, or nested deeper than 16 levels (tables, arrays and
// dotted keys inside one another), is refused before it is decoded.
func Parse(data []byte, path string) (*File, error) {
	if len(data) > maxTargetsFile {
		return nil, tooLargeError(path)
	}
	p := newParser(data, path)
	f, err := p.parse()
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(data)
	f.Path = path
	f.Digest = "sha256:" + hex.EncodeToString(sum[:])
	return f, nil
}

// Select returns the targets a run is sent to. With no names it returns every
// enabled target in file order. Otherwise it returns exactly the named
// targets in the given order, disabled ones included, since the operator
// asked for them explicitly; an unknown or repeated name is an error.
func (f *File) Select(names []string) ([]Target, error) {
	if len(names) == 0 {
		out := make([]Target, 0, len(f.Targets))
		for _, t := range f.Targets {
			if t.Enabled {
				out = append(out, t)
			}
		}
		return out, nil
	}
	byName := make(map[string]int, len(f.Targets))
	for i, t := range f.Targets {
		byName[t.Name] = i
	}
	out := make([]Target, 0, len(names))
	seen := make(map[string]bool, len(names))
	for _, name := range names {
		i, ok := byName[name]
		if !ok {
			return nil, &Error{File: f.Path, Msg: fmt.Sprintf("unknown target %s; %s", quote(name), f.knownTargets())}
		}
		if seen[name] {
			return nil, &Error{File: f.Path, Msg: fmt.Sprintf("target %q is selected twice", name)}
		}
		seen[name] = true
		out = append(out, f.Targets[i])
	}
	return out, nil
}

// knownTargets lists the target names for an "unknown target" message,
// shortened so that a registry of a thousand apps stays one readable line.
func (f *File) knownTargets() string {
	if len(f.Targets) == 0 {
		return "the file defines no targets"
	}
	const show = 20
	names := make([]string, 0, show)
	for i, t := range f.Targets {
		if i == show {
			break
		}
		names = append(names, t.Name)
	}
	s := "known targets: " + strings.Join(names, ", ")
	if n := len(f.Targets) - show; n > 0 {
		s += fmt.Sprintf(" and %d more", n)
	}
	return s
}

// IssuerFallback completes iss_sub targets that have no issuer yet: no
// subject_iss, and neither [okta] issuer nor [okta] org_url. Those are allowed
// to pass Parse because the issuer may come from elsewhere, typically the org
// URL in the Okta SDK's environment (OKTA_CLIENT_ORGURL) when targets.toml
// has no [okta] table. Such targets get iss; if iss is empty, or after
// filling, the error names every iss_sub target still without an issuer, so
// calling IssuerFallback("") is the check that all issuers are known.
func (f *File) IssuerFallback(iss string) error {
	var errs errorList
	for i := range f.Targets {
		t := &f.Targets[i]
		if t.Subject != SubjectIssSub || t.SubjectIss != "" {
			continue
		}
		if iss != "" {
			t.SubjectIss = iss
			continue
		}
		errs = append(errs, t.errorf("subject = %q needs an issuer: set subject_iss, or issuer or org_url in [okta]", SubjectIssSub))
	}
	return errs.err()
}

// EffectiveKind returns the kind of connector that serves t: t.Kind, or
// KindGTR when t has no kind key.
func (t Target) EffectiveKind() string {
	if t.Kind == "" {
		return KindGTR
	}
	return t.Kind
}

// Where returns the prefix of every message about t, such as
// `targets.toml:14: target "todo"`.
func (t Target) Where() string {
	return location(t.File, t.Line, fmt.Sprintf("target %q", t.Name))
}

// errorf returns an *Error about t.
func (t Target) errorf(format string, args ...any) *Error {
	return &Error{File: t.File, Line: t.Line, Scope: fmt.Sprintf("target %q", t.Name), Msg: fmt.Sprintf(format, args...)}
}

// errorf returns an *Error about the [okta] table.
func (o Okta) errorf(format string, args ...any) *Error {
	return &Error{File: o.File, Line: o.Line, Scope: "[okta]", Msg: fmt.Sprintf(format, args...)}
}
