package actions

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"

	"ulc/actions/gtr"
	"ulc/config"
)

// gtrConnector speaks Global Token Revocation: one POST of the user's
// subject identifier to the target's endpoint.
type gtrConnector struct{}

// gtrConn is a GTR target opened for a run.
type gtrConn struct {
	cfg     config.Target
	cred    *config.Credential
	signer  *gtr.Signer
	issuer  string
	version string
}

// Open implements Connector.
func (gtrConnector) Open(ctx context.Context, t config.Target, env ConnEnv) (Conn, error) {
	cred, err := t.LoadCredentialContext(ctx, env.Getenv)
	if err != nil {
		return nil, err
	}
	c := &gtrConn{cfg: t, cred: cred, issuer: env.Issuer, version: env.Version}
	if cred.Kind == config.AuthJWT {
		c.signer = &gtr.Signer{Key: cred.Signer(), Alg: cred.Alg, KeyID: cred.KeyID, Iss: t.JWTIss, Sub: t.JWTSub, TTL: t.JWTTTL}
	}
	return c, nil
}

// Plan implements Conn: the exact body, in the target's subject format
// and body key.
func (c *gtrConn) Plan(u User) (StepDetail, error) {
	t := c.cfg
	iss := t.SubjectIss
	if iss == "" {
		iss = c.issuer
	}
	subj, err := gtr.NewSubject(t.Subject, gtr.Identity{ID: u.ID, Email: u.Email, Issuer: iss})
	if err != nil {
		return StepDetail{}, fmt.Errorf("%s, user %s: %v", t.Where(), u.Key(), err)
	}
	body, err := gtr.Body(t.BodyKey, subj)
	if err != nil {
		return StepDetail{}, fmt.Errorf("%s: %v", t.Where(), err)
	}
	return StepDetail{
		Method: http.MethodPost, URL: t.URL, Body: string(body),
		SubjectFormat: t.Subject, BodyKey: t.BodyKey, Auth: t.Auth,
		TimeoutMS: t.Timeout.Milliseconds(), Retries: t.Retries, Credential: c.cred.Fingerprint,
	}, nil
}

// Revoke implements Conn: the answer's status is the outcome.
func (c *gtrConn) Revoke(_ context.Context, s Step, call Caller) Result {
	return call.Do(Call{Name: "revoke", Build: func(ctx context.Context) (*http.Request, string, error) {
		return c.request(ctx, s.Detail.Body)
	}}).Result()
}

// Residual implements Conn: the draft leaves what a receiver ends to it.
func (c *gtrConn) Residual() string { return "" }

// request builds one attempt's request; a JWT is signed afresh for each
// attempt, with a new jti, which is returned to be recorded.
func (c *gtrConn) request(ctx context.Context, body string) (*http.Request, string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.cfg.URL, strings.NewReader(body))
	if err != nil {
		return nil, "", fmt.Errorf("building the request: %v", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "ulc/"+c.version)
	var jti string
	switch c.cred.Kind {
	case config.AuthBearer:
		req.Header.Set("Authorization", "Bearer "+c.cred.Token())
	case config.AuthJWT:
		tok, id, err := c.signer.Sign(c.cfg.URL, time.Now())
		if err != nil {
			return nil, "", fmt.Errorf("signing the JWT: %v", err)
		}
		req.Header.Set("Authorization", "Bearer "+tok)
		jti = id
	}
	return req, jti, nil
}
