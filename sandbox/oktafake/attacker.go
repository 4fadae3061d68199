package oktafake

import (
	"slices"
	"strings"
	"time"
)

// The sandbox's story goes on after Trinity's run: her attacker comes back.
// Some seconds after the first containment step Okta logs for her (a clear
// of sessions, a suspend, a deactivate, a Global Token Revocation), the fake
// logs a sign-in from Amsterdam that is denied (the containment held) and
// then a successful refresh-token grant to Dock Control, an OAuth app that
// no target of the sandbox's targets.toml signs out (the containment
// missed it). The events are stamped with the fake's clock and appear in
// the System Log only once that clock has reached them, so a test that
// drives the clock sees them exactly when it says.
const (
	// AttackerDeniedAfter is when the denied sign-in is logged, after
	// Trinity's first containment step.
	AttackerDeniedAfter = 8 * time.Second
	// AttackerGrantAfter is when the token grant is logged.
	AttackerGrantAfter = 20 * time.Second
)

// containment lists the event types of the steps that start the story.
var containment = []string{"user.session.clear", "user.lifecycle.suspend", "user.lifecycle.deactivate", "user.authentication.universal_logout"}

// pendingEvent is an event written to the log once the clock reaches it.
type pendingEvent struct {
	e ev
}

// afterContainment starts the attacker's return when e is the first
// containment step Trinity gets. Called with s.mu held.
func (s *Server) afterContainment(e ev) {
	if s.attackerBack || !slices.Contains(containment, e.typ) {
		return
	}
	u := s.byLogin["trinity@"+Domain]
	if u == nil || !slices.ContainsFunc(e.targets, func(t logActor) bool { return t.ID == u.id }) {
		return
	}
	s.attackerBack = true
	bad := origin{place: amsterdam, ip: attackerIP, ua: attackerAgent}
	t0 := e.at
	s.pending = append(s.pending, pendingEvent{ev{at: t0.Add(AttackerDeniedAfter), typ: "user.session.start", msg: "User login to Okta",
		legacy: "core.user_auth.login_failed", result: "FAILURE", reason: "VERIFICATION_ERROR", severity: "WARN",
		actor: userActor(u), from: bad,
		auth:  &logAuthContext{AuthenticationProvider: "OKTA_AUTHENTICATION_PROVIDER", CredentialType: "PASSWORD"},
		debug: map[string]string{"requestUri": "/idp/idx/identify", "threatSuspected": "true", "risk": "{level=HIGH, reasons=Anomalous Location, New Device}"}}})
	dock := s.appNamed("Dock Control")
	client := logActor{ID: "0oa1wh1teRabb1tDCK", Type: "PublicClientApp", AlternateID: "Dock Control", DisplayName: "Dock Control"}
	if dock != nil {
		client.ID = dock.id
	}
	s.pending = append(s.pending, pendingEvent{ev{at: t0.Add(AttackerGrantAfter), typ: "app.oauth2.token.grant.refresh_token",
		msg: "OAuth2 refresh token is granted", legacy: "app.oauth2.token.grant.refresh_token_success",
		actor: client, targets: []logActor{userActor(u), {ID: seededID(s.rng, "oar", 17), Type: "refresh_token", AlternateID: "refresh_token", DisplayName: "Refresh Token"}},
		from:  bad,
		debug: map[string]string{"grantType": "refresh_token", "grantedScopes": "openid profile offline_access", "requestUri": "/oauth2/v1/token"}}})
}

// appNamed returns the app called name, or nil.
func (s *Server) appNamed(name string) *app {
	for _, a := range s.apps {
		if strings.EqualFold(a.name, name) {
			return a
		}
	}
	return nil
}

// release writes the pending events whose time has come. Called with s.mu
// held.
func (s *Server) release() {
	if len(s.pending) == 0 {
		return
	}
	now := s.now()
	keep := s.pending[:0]
	for _, p := range s.pending {
		if p.e.at.After(now) {
			keep = append(keep, p)
			continue
		}
		s.addEvent(p.e)
	}
	s.pending = keep
}

// LogSignIn writes a sign-in of the user with this id or login to the
// System Log, stamped now: a success or a denial (INVALID_CREDENTIALS) from
// the attacker's address in Amsterdam, for tests and drills of the watch.
// It reports false for an unknown user.
func (s *Server) LogSignIn(idOrLogin string, success bool) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	u := s.lookup(idOrLogin)
	if u == nil {
		return false
	}
	e := ev{at: s.now(), typ: "user.session.start", msg: "User login to Okta", legacy: "core.user_auth.login_success",
		actor: userActor(u), from: origin{place: amsterdam, ip: attackerIP, ua: attackerAgent},
		auth: &logAuthContext{AuthenticationProvider: "OKTA_AUTHENTICATION_PROVIDER", CredentialType: "PASSWORD"}}
	if !success {
		e.legacy, e.result, e.reason, e.severity = "core.user_auth.login_failed", "FAILURE", "INVALID_CREDENTIALS", "WARN"
	}
	s.addEvent(e)
	return true
}

// Advance moves the fake's clock d ahead of the clock it was made with:
// what is stamped from now on is d later, and the attacker's return,
// pending on that clock, comes at once when d covers it. Tests and drills
// of the watch see the story without waiting for it.
func (s *Server) Advance(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	prev := s.now
	s.now = func() time.Time { return prev().Add(d) }
}
