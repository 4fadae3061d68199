package apps

import (
	"strings"
	"time"
)

// Compromised is the login of the demo's compromised user. She has an
// account at every default app except crm (so the demo shows one 404), and
// is always among the users the demo passes in.
const Compromised = "trinity@whiterabbit.fake"

// cast are the logins of the demo's leading characters: accounts at every
// default app (save Compromised at crm), so their revocations show the
// behaviours and not random 404s.
var cast = map[string]bool{
	Compromised:                 true,
	"neo@whiterabbit.fake":      true,
	"morpheus@whiterabbit.fake": true,
}

// isCast reports whether u is one of the leading characters.
func isCast(u User) bool { return cast[strings.ToLower(loginOf(u))] }

// accounts returns a Knows for app: the cast, plus every other user except
// those whose login hashes into one of oneIn buckets (so about 1/oneIn of
// them get a 404). Deterministic: the same login gets the same answer on
// every run.
func accounts(app string, oneIn uint32) func(User) bool {
	return func(u User) bool {
		return isCast(u) || hash(u, "account/"+app)%oneIn != 0
	}
}

// DefaultSpecs returns the thirteen demo apps: a mix of subject formats, auth
// methods and behaviours, so one revocation shows a slow app, one that fails
// and then succeeds on retry, one that is down, and a few users unknown
// here and there.
func DefaultSpecs() []Spec {
	allButTrinity := func(u User) bool {
		return !strings.EqualFold(loginOf(u), Compromised) && accounts("crm", 3)(u)
	}
	return []Spec{
		{Name: "chat", Subject: SubjectEmail, Auth: AuthBearer, Behaviour: Normal},
		{Name: "wiki", Subject: SubjectEmail, Auth: AuthBearer, Behaviour: Normal, Knows: accounts("wiki", 4)},
		{Name: "crm", Subject: SubjectOpaque, Auth: AuthBearer, Behaviour: Normal, Knows: allButTrinity},
		{Name: "payroll", Subject: SubjectIssSub, Auth: AuthBearer, Behaviour: Normal},
		{Name: "tickets", Subject: SubjectEmail, Auth: AuthBearer, Behaviour: Normal, Knows: accounts("tickets", 5)},
		{Name: "files", Subject: SubjectEmail, Auth: AuthBearer, Behaviour: OK200, Knows: accounts("files", 4)},
		{Name: "vpn", Subject: SubjectEmail, Auth: AuthJWT, Alg: "ES256", Behaviour: Normal},
		{Name: "ledger", Subject: SubjectIssSub, Auth: AuthJWT, Alg: "RS256", Behaviour: Normal, Knows: accounts("ledger", 2)},
		{Name: "analytics", Subject: SubjectEmail, Auth: AuthBearer, Behaviour: Slow, Delay: 2 * time.Second, Knows: accounts("analytics", 4)},
		{Name: "reports", Subject: SubjectEmail, Auth: AuthBearer, Behaviour: Slow, Delay: time.Minute, Timeout: time.Second},
		{Name: "mail-archive", Subject: SubjectEmail, Auth: AuthBearer, Behaviour: Flaky},
		{Name: "legacy-hr", Subject: SubjectEmail, Auth: AuthBearer, Behaviour: Legacy},
		{Name: "build-farm", Subject: SubjectOpaque, Auth: AuthBearer, Behaviour: Down, Knows: accounts("build-farm", 2)},
	}
}
