// Package caep is the connector of kind "caep" targets: for each user it
// pushes one CAEP session-revoked Security Event Token (RFC 8417 as
// profiled by the Shared Signals Framework 1.0 and the CAEP
// interoperability profile) to the receiver's push endpoint (RFC 8935),
// such as Okta Identity Threat Protection's
// POST /security/api/v1/security-events.
//
// The SET is signed with RS256 by the target's jwt_key_file, its header
// carries typ secevent+jwt and kid jwt_key_id, and its claims are iss
// (jwt_iss), a fresh jti and iat for every attempt, aud (the origin of the
// target's url), txn, the top-level sub_id {"format":"email",...} and one
// session-revoked event with the event-level subject Okta's receiver
// requires, event_timestamp, initiating_entity "admin" and reason_admin.
// 202 Accepted is revoked; a 400 {"err","description"} is rejected with the
// err explained.
package caep

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	jose "github.com/go-jose/go-jose/v3"

	"ulc/actions"
	"ulc/config"
	"ulc/internal/safetext"
)

// EventSessionRevoked is the CAEP session-revoked event type.
const EventSessionRevoked = "https://schemas.openid.net/secevent/caep/event-type/session-revoked"

// ContentType is the media type of a pushed SET (RFC 8417 §2.3, RFC 8935).
const ContentType = "application/secevent+jwt"

// JWTType is the typ header of a SET.
const JWTType = "secevent+jwt"

// defaultReason is the reason_admin of a SET sent without a reason (a run
// always has one; a probe gives actions.ProbeReason): the interoperability
// profile wants it non-empty.
const defaultReason = "An administrator signed this user out everywhere with ulc (Universal Logout Console)"

// minRSABits is the smallest key the interoperability profile allows.
const minRSABits = 2048

// Connector signs users out of kind "caep" targets by pushing a CAEP
// session-revoked SET to the receiver. Register it with
// actions.Register(config.KindCAEP, caep.Connector{}).
type Connector struct{}

// conn is a kind "caep" target opened for one run.
type conn struct {
	t       config.Target
	cred    *config.Credential
	key     *rsa.PrivateKey
	aud     string
	version string
	// runID and reason are the run's: the SET's txn and reason_admin.
	runID, reason string
}

// Open implements actions.Connector: it loads the signing key (and the
// optional push token) and derives the SET's aud from the url's origin.
func (Connector) Open(ctx context.Context, t config.Target, env actions.ConnEnv) (actions.Conn, error) {
	cred, err := t.LoadCredentialContext(ctx, env.Getenv)
	if err != nil {
		return nil, err
	}
	key, ok := cred.Signer().(*rsa.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("%s: jwt_key_file %s is not an RSA private key; kind %q signs with RS256, so use an RSA key of at least %d bits: %w",
			t.Where(), t.JWTKeyFile, config.KindCAEP, minRSABits, config.ErrCredential)
	}
	if bits := key.N.BitLen(); bits < minRSABits {
		return nil, fmt.Errorf("%s: jwt_key_file %s holds a %d-bit RSA key; the CAEP interoperability profile wants at least %d bits, so make a new key: %w",
			t.Where(), t.JWTKeyFile, bits, minRSABits, config.ErrCredential)
	}
	aud, err := Audience(t.URL)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", t.Where(), err)
	}
	return &conn{t: t, cred: cred, key: key, aud: aud, version: env.Version, runID: env.RunID, reason: env.Reason}, nil
}

// Audience is the aud of the SETs pushed to endpoint: its origin
// (scheme://host[:port]), which is what Okta's receiver expects (its org
// URL).
func Audience(endpoint string) (string, error) {
	u, err := url.Parse(endpoint)
	if err != nil || u.Scheme == "" || u.Host == "" {
		return "", errors.New("url is not an absolute URL: give the receiver's push endpoint, such as https://acme.okta.com/security/api/v1/security-events")
	}
	return strings.ToLower(u.Scheme) + "://" + strings.ToLower(u.Host), nil
}

// subjectID is an SSF subject identifier of format email.
type subjectID struct {
	Format string `json:"format"`
	Email  string `json:"email"`
}

// eventSubject is the event-level subject of Okta's session-revoked schema.
type eventSubject struct {
	User subjectID `json:"user"`
}

// sessionRevoked is the session-revoked event.
type sessionRevoked struct {
	Subject          eventSubject      `json:"subject"`
	EventTimestamp   int64             `json:"event_timestamp,omitempty"`
	InitiatingEntity string            `json:"initiating_entity"`
	ReasonAdmin      map[string]string `json:"reason_admin"`
}

// claims are the SET's claims. The plan records them without jti, iat and
// event_timestamp, which each attempt sets afresh.
type claims struct {
	Iss    string                    `json:"iss"`
	Jti    string                    `json:"jti,omitempty"`
	Iat    int64                     `json:"iat,omitempty"`
	Aud    string                    `json:"aud"`
	Txn    string                    `json:"txn,omitempty"`
	SubID  subjectID                 `json:"sub_id"`
	Events map[string]sessionRevoked `json:"events"`
}

// Plan implements actions.Conn: the SET's claims as the audit log records
// them (each attempt adds a fresh jti, iat and event_timestamp), sent to
// url. The user is named by email.
func (c *conn) Plan(u actions.User) (actions.StepDetail, error) {
	email := strings.TrimSpace(u.Email)
	if email == "" || !strings.Contains(email, "@") {
		return actions.StepDetail{}, fmt.Errorf("%s, user %s: kind %q names the user by email address, and the directory has none for this user: add one to the user's profile",
			c.t.Where(), u.Key(), config.KindCAEP)
	}
	// txn ties the SET to the run that sent it: the receiver's log and
	// ulc's audit log name the same transaction.
	txn := c.runID
	if txn == "" { // opened without a run id (a probe gives "ulc-check-…")
		var err error
		if txn, err = randomID(); err != nil {
			return actions.StepDetail{}, fmt.Errorf("%s: %v", c.t.Where(), err)
		}
	}
	reason := c.reason
	if reason == "" {
		reason = defaultReason
	}
	sub := subjectID{Format: "email", Email: email}
	cl := claims{
		Iss: c.t.JWTIss, Aud: c.aud, Txn: txn, SubID: sub,
		Events: map[string]sessionRevoked{EventSessionRevoked: {
			Subject: eventSubject{User: sub}, InitiatingEntity: "admin",
			ReasonAdmin: map[string]string{"en": reason},
		}},
	}
	body, err := json.Marshal(cl)
	if err != nil {
		return actions.StepDetail{}, fmt.Errorf("%s: encoding the SET: %v", c.t.Where(), err)
	}
	auth := "jwt"
	if c.cred.Token() != "" {
		auth = "jwt+bearer"
	}
	return actions.StepDetail{
		Method: http.MethodPost, URL: c.t.URL, Body: string(body), SubjectFormat: "email", Auth: auth,
		Credential: c.cred.String(), TimeoutMS: c.t.Timeout.Milliseconds(), Retries: c.t.Retries,
	}, nil
}

// Revoke implements actions.Conn: one push of the planned SET, signed
// afresh for each attempt.
func (c *conn) Revoke(_ context.Context, s actions.Step, call actions.Caller) actions.Result {
	var cl claims
	if err := json.Unmarshal([]byte(s.Detail.Body), &cl); err != nil || cl.Events[EventSessionRevoked].Subject.User.Email == "" {
		return actions.Result{Outcome: actions.Failed, Error: "the planned SET could not be read back from the plan: plan the run again"}
	}
	ans := call.Do(actions.Call{Name: "push", Build: func(ctx context.Context) (*http.Request, string, error) {
		return c.request(ctx, cl, time.Now())
	}})
	return c.result(ans)
}

// Residual implements actions.Conn.
func (c *conn) Residual() string {
	return "Up to the receiver: 202 means it accepted the session-revoked event, not that it ended the sessions, so confirm in the receiver's own log (Okta: System Log event security.events.provider.receive_event)."
}

// request builds one attempt: the SET with a fresh jti, iat and
// event_timestamp, signed, POSTed to url. It returns the jti to record.
func (c *conn) request(ctx context.Context, cl claims, now time.Time) (*http.Request, string, error) {
	jti, err := randomID()
	if err != nil {
		return nil, "", err
	}
	cl.Jti, cl.Iat = jti, now.Unix()
	ev := cl.Events[EventSessionRevoked]
	ev.EventTimestamp = now.Unix()
	cl.Events = map[string]sessionRevoked{EventSessionRevoked: ev}
	set, err := sign(c.key, c.cred.KeyID, cl)
	if err != nil {
		return nil, "", err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.t.URL, strings.NewReader(set))
	if err != nil {
		return nil, "", fmt.Errorf("building the request: %v", err)
	}
	req.Header.Set("Content-Type", ContentType)
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "ulc/"+c.version)
	if tok := c.cred.Token(); tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	return req, jti, nil
}

// sign returns the compact JWS of cl: RS256, typ secevent+jwt, kid.
func sign(key *rsa.PrivateKey, kid string, cl claims) (string, error) {
	payload, err := json.Marshal(cl)
	if err != nil {
		return "", fmt.Errorf("encoding the SET: %v", err)
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: jose.JSONWebKey{Key: key, KeyID: kid}},
		(&jose.SignerOptions{}).WithType(JWTType))
	if err != nil {
		return "", errors.New("signing the SET: the key cannot sign RS256")
	}
	obj, err := signer.Sign(payload)
	if err != nil {
		return "", errors.New("signing the SET failed")
	}
	return obj.CompactSerialize()
}

// randomID is 16 random bytes in hex: a jti or a txn.
func randomID() (string, error) {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return "", errors.New("no randomness for the SET's jti")
	}
	return hex.EncodeToString(b), nil
}

// pushError is the RFC 8935 §2.3 error body.
type pushError struct {
	Err         string `json:"err"`
	Description string `json:"description"`
}

// result turns the push's last answer into the step's result.
func (c *conn) result(a actions.Answer) actions.Result {
	r := a.Result()
	if a.Status == 0 || a.Outcome == actions.Cancelled {
		return r
	}
	switch s := a.Status; {
	case s >= 200 && s < 300:
		r.Outcome, r.Error = actions.Revoked, ""
	case s >= 300 && s < 400:
		// Only where it points, not its path or query: a redirect can
		// carry anything, a token included.
		r.Outcome, r.Error = actions.Rejected, fmt.Sprintf("the receiver redirected the push (%d) to %s, which ulc does not follow: set url to the push endpoint itself", s, redirectOrigin(a.Header))
	case s == http.StatusBadRequest:
		var pe pushError
		_ = json.Unmarshal(bytes.TrimSpace(a.Body), &pe)
		code := safetext.Line(pe.Err, 40)
		r.Outcome, r.ErrorCode, r.Error = actions.Rejected, code, c.explain(code, safetext.Line(pe.Description, 160))
	case s == http.StatusUnauthorized:
		r.Outcome, r.Error = actions.Rejected, "the receiver did not accept ulc's push as authenticated (401): "+c.tokenAdvice()
	case s == http.StatusForbidden:
		r.Outcome, r.Error = actions.Rejected, fmt.Sprintf("the receiver does not let ulc push to it (403): allow the transmitter with issuer %s in the receiver's configuration", c.t.JWTIss)
	case s == http.StatusNotFound:
		// A push endpoint has no users to miss: 404 means url is wrong.
		r.Outcome, r.Error = actions.Rejected, "the receiver has no push endpoint at url (404): set url to its push endpoint, such as https://{yourOktaDomain}/security/api/v1/security-events"
	case s == http.StatusUnsupportedMediaType:
		r.Outcome, r.Error = actions.Rejected, "the receiver does not take application/secevent+jwt (415): set url to an RFC 8935 push endpoint"
	case s == http.StatusTooManyRequests || s >= 500:
		r.Error = "the push failed: " + a.Reason + "; run ulc resume on this run later, or check the receiver's status"
	}
	return r
}

// redirectOrigin is the scheme and host of a redirect's Location, or
// "another address" when it has none.
func redirectOrigin(h http.Header) string {
	u, err := url.Parse(h.Get("Location"))
	if err != nil || u.Host == "" {
		return "another address"
	}
	return safetext.Line(u.Scheme+"://"+u.Host, 80)
}

// explain is the sentence of a 400 with RFC 8935 error code code and the
// receiver's description desc (both already sanitised).
func (c *conn) explain(code, desc string) string {
	tag := code
	if tag == "" {
		tag = "400"
	}
	if desc != "" {
		tag += ": " + desc
	}
	switch code {
	case "invalid_key":
		return fmt.Sprintf("the receiver does not accept ulc's signing key kid %s (%s): register the public key that ulc caep jwks prints with the receiver under that kid (jwt_key_id)", c.cred.KeyID, tag)
	case "invalid_issuer":
		return fmt.Sprintf("the receiver knows no transmitter with issuer %s (%s): set jwt_iss to the issuer the receiver's security events provider was created with, or create one for this issuer", c.t.JWTIss, tag)
	case "invalid_audience":
		return fmt.Sprintf("the receiver is not the audience %s (%s): set url to this receiver's own push endpoint (the SET's aud is url's origin)", c.aud, tag)
	case "authentication_failed":
		return fmt.Sprintf("the receiver could not authenticate ulc (%s): %s, and check that it trusts the key kid %s", tag, c.tokenAdvice(), c.cred.KeyID)
	case "access_denied":
		return fmt.Sprintf("the receiver does not let issuer %s send this event (%s): allow session-revoked events from this transmitter in the receiver's stream configuration", c.t.JWTIss, tag)
	case "invalid_request":
		return fmt.Sprintf("the receiver could not take the SET as sent (%s): check that it accepts CAEP session-revoked events with an email subject", tag)
	}
	return fmt.Sprintf("the receiver refused the SET (%s): check the receiver's configuration of this transmitter (issuer %s, kid %s)", tag, c.t.JWTIss, c.cred.KeyID)
}

// tokenAdvice says where the push token comes from, to check it.
func (c *conn) tokenAdvice() string {
	switch {
	case c.t.TokenEnv != "":
		return "check the push token in token_env " + c.t.TokenEnv + " (the stream's authorization header)"
	case c.t.TokenFile != "":
		return "check the push token in token_file " + c.t.TokenFile + " (the stream's authorization header)"
	}
	return "if the receiver wants a push token (the stream's authorization header), set token_env or token_file"
}

// JWKS returns the public JWK Set (RFC 7517) a receiver is configured
// with to verify the SETs signed by cred: its RSA public key, with kid
// keyID (cred.KeyID when empty), alg RS256 and use sig. It holds no
// secret.
func JWKS(cred *config.Credential, keyID string) ([]byte, error) {
	if cred == nil || cred.Signer() == nil {
		return nil, errors.New("no signing key is loaded: a kind \"caep\" target needs jwt_key_file")
	}
	pub, ok := cred.Signer().Public().(*rsa.PublicKey)
	if !ok {
		return nil, errors.New("the signing key is not an RSA key; kind \"caep\" signs with RS256")
	}
	if keyID == "" {
		keyID = cred.KeyID
	}
	set := jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: pub, KeyID: keyID, Algorithm: string(jose.RS256), Use: "sig"}}}
	out, err := json.MarshalIndent(set, "", "  ")
	if err != nil {
		return nil, errors.New("encoding the JWK Set failed")
	}
	return append(out, '\n'), nil
}
