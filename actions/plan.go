package actions

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"ulc/config"
	"ulc/internal/safetext"
)

// Directory resolves what an operator typed (an email, a login or an Okta
// user id) into a user.
type Directory interface {
	Resolve(ctx context.Context, ref string) (User, error)
}

// oktaID matches an Okta object id; anything else is not sent as a path.
var oktaID = regexp.MustCompile(`^[A-Za-z0-9]{8,40}$`)

// StaticDirectory resolves users without asking Okta (ulc revoke --no-okta):
// a value with an @ is taken as the user's email (and login), anything that
// looks like an Okta id as the id.
type StaticDirectory struct{}

// Resolve implements Directory.
func (StaticDirectory) Resolve(_ context.Context, ref string) (User, error) {
	ref = strings.TrimSpace(ref)
	switch {
	case strings.Contains(ref, "@"):
		return User{Email: ref, Login: ref}, nil
	case oktaID.MatchString(ref):
		return User{ID: ref}, nil
	}
	return User{}, fmt.Errorf("user %q: without Okta, give an email address or an Okta user id", ref)
}

// Request is what an operator asks for: users × steps × targets.
type Request struct {
	// Users as typed: emails, logins or Okta ids.
	Users []string
	// Reason is required; Ticket is optional.
	Reason, Ticket string
	// Operator and Host name who ran it and where.
	Operator, Host string
	// OktaSteps are the Okta actions to take, before the fan-out.
	OktaSteps []Action
	// ForgetDevices makes clear-sessions also forget remembered factors.
	ForgetDevices bool
	// Targets are the target applications to send GTR to, in order.
	Targets []config.Target
	// Defaults holds the run-wide limits from targets.toml.
	Defaults config.Defaults
	// Issuer is the IdP issuer for iss_sub subjects without subject_iss.
	Issuer string
	// OktaOrg is the Okta org URL, recorded with the run.
	OktaOrg string
	// DryRun builds and records the plan and sends nothing.
	DryRun bool
	// ResumeOf links a resumed run to the run it continues.
	ResumeOf string
	// Skip, when set, leaves out the steps it reports true for: a resumed
	// run skips what already succeeded. target is OktaTarget for Okta steps.
	Skip func(u User, a Action, target string) bool
	// ConfigPath, ConfigDigest and Version are recorded with the run.
	ConfigPath, ConfigDigest, Version string
	// Getenv reads credentials named by token_env; nil means os.Getenv.
	Getenv func(string) string
}

// Step is one request of a plan: an Okta action on a user, or one GTR
// request to one target for one user.
type Step struct {
	// N is the 1-based step number within the run.
	N int
	// User is the user the step acts on: the plan's one copy of that user,
	// shared by all their steps.
	User *User
	// Action is what the step does.
	Action Action
	// Target is the target name, or OktaTarget.
	Target string
	// Detail is the exact request, as recorded in the audit log.
	Detail StepDetail
	// Blocked, when not empty, says why the step cannot be sent and what
	// to do about it: its target's credential is missing or unusable
	// ("token_env CHAT_UL_TOKEN is not set (or empty): set it, then ulc
	// resume RUN"). Execute records such a step as planned, then failed
	// with this reason, and sends nothing for it; the other steps run.
	Blocked string
}

// UnusableTarget is a target of a plan whose steps cannot be sent.
type UnusableTarget struct {
	// Target is the target's name.
	Target string
	// Reason is the Blocked text of its steps: what is wrong with its
	// credential, and what to do.
	Reason string
}

// Plan is a fully resolved run: every request is built before anything is
// recorded or sent.
type Plan struct {
	// RunID identifies the run.
	RunID string
	// Created is when the plan was made.
	Created time.Time
	// Info is recorded with the run.
	Info RunInfo
	// Steps in execution order: per user the Okta steps, then the
	// targets' steps; a user's steps are numbered together.
	Steps []Step

	concurrency int
	targets     map[string]*runTarget
}

// runTarget is a target opened by its connector, with its HTTP client, or,
// when its credential could not be loaded, the reason its steps are blocked.
type runTarget struct {
	cfg     config.Target
	blocked string
	conn    Conn
	client  *http.Client
	sem     chan struct{}
	// details caches the encoded attempt details of its calls (see
	// callDetail); detailCount counts what was stored.
	details     sync.Map
	detailCount atomic.Int64
}

// NewRunID returns a new run id: sortable by time, short enough to type.
func NewRunID(now time.Time) string {
	b := make([]byte, 3)
	_, _ = rand.Read(b)
	return now.UTC().Format("20060102-150405") + "-" + hex.EncodeToString(b)
}

// BuildPlan resolves every user, loads every selected target's credential
// and builds the exact requests. It sends nothing. All problems are reported
// together, each naming its user or target. A target whose credential is
// missing or unusable is not a problem of the whole run: its steps are
// planned as blocked (Step.Blocked, Plan.Unusable) and the rest goes ahead.
func BuildPlan(ctx context.Context, req Request, dir Directory) (*Plan, error) {
	if err := req.check(); err != nil {
		return nil, err
	}
	getenv := req.Getenv
	if getenv == nil {
		getenv = os.Getenv
	}
	now := time.Now().UTC()
	p := &Plan{
		RunID:       NewRunID(now),
		Created:     now,
		concurrency: max(req.Defaults.Concurrency, 1),
		targets:     map[string]*runTarget{},
	}
	users, problems := resolveUsers(ctx, dir, req.Users)
	env := ConnEnv{Getenv: getenv, Issuer: req.Issuer, Version: req.Version, RunID: p.RunID, Reason: strings.TrimSpace(req.Reason)}
	problems = append(problems, p.loadTargets(ctx, req.Targets, env)...)
	okta := oktaOrder(req.OktaSteps)
	// A plan of many users keeps of each profile only the attributes its
	// targets name users by, and holds its steps in one allocation.
	attrs := profileAttrs(req.Targets)
	for i := range users {
		users[i].Profile = users[i].Profile.Only(attrs)
	}
	p.Steps = make([]Step, 0, len(users)*(len(okta)+len(req.Targets)))
	// User by user, so a user's steps are numbered together and the plan
	// can be recorded, and sent, in order, a bounded chunk at a time.
	for i := range users {
		u := &users[i]
		problems = append(problems, p.planOkta(req, u, okta)...)
		problems = append(problems, p.planFanOut(req, u)...)
	}
	if len(problems) > 0 {
		return nil, errors.Join(problems...)
	}
	if len(p.Steps) == 0 {
		return nil, errors.New("nothing to do: every step was left out")
	}
	if len(p.Steps) < cap(p.Steps)/2 {
		// A resume leaves most steps out: keep only what it sends.
		p.Steps = slices.Clone(p.Steps)
	}
	p.Info = req.runInfo(users, okta)
	p.Info.Steps = len(p.Steps)
	p.Info.Residual = p.Residual()
	return p, nil
}

// profileAttrs lists the profile attributes targets name users by.
func profileAttrs(targets []config.Target) []string {
	var names []string
	for _, t := range targets {
		if t.LoginAttribute != "" && !slices.Contains(names, t.LoginAttribute) {
			names = append(names, t.LoginAttribute)
		}
	}
	return names
}

// check refuses a request that cannot make a run: no reason, no user, or
// nothing to do.
func (req Request) check() error {
	switch {
	case strings.TrimSpace(req.Reason) == "":
		return errors.New("a reason is required: say why this user is being logged out")
	case len(req.Users) == 0:
		return errors.New("no user given")
	case len(req.Targets) == 0 && len(req.OktaSteps) == 0:
		return errors.New("nothing to do: no target selected and no Okta step")
	}
	return nil
}

// resolveUsers resolves each reference through dir, in order. The same
// person named twice (by id, or by login or email in any case) gets one set
// of steps. Every reference that does not resolve is a problem.
func resolveUsers(ctx context.Context, dir Directory, refs []string) ([]User, []error) {
	var problems []error
	users := make([]User, 0, len(refs))
	seen := map[string]bool{}
	for _, ref := range refs {
		u, err := dir.Resolve(ctx, ref)
		if err != nil {
			problems = append(problems, err)
			continue
		}
		k := u.ID
		if k == "" {
			k = strings.ToLower(u.Key())
		}
		if seen[k] {
			continue
		}
		seen[k] = true
		users = append(users, u)
	}
	return users, problems
}

// loadTargets loads each target's credential and client into p.targets. A
// target selected twice, or one that cannot be used for another reason than
// its credential (or start-up being interrupted), is a problem; one whose
// credential or CA file is missing or unusable (config.ErrCredential) is
// kept, blocked with the reason.
func (p *Plan) loadTargets(ctx context.Context, targets []config.Target, env ConnEnv) []error {
	var problems []error
	shared := sharedClient()
	for _, t := range targets {
		if _, dup := p.targets[t.Name]; dup {
			problems = append(problems, fmt.Errorf("target %q selected twice", t.Name))
			continue
		}
		rt, err := newRunTarget(ctx, t, env, shared)
		if err != nil {
			if !credentialProblem(err) {
				problems = append(problems, err)
				continue
			}
			// One target's missing credential must not keep the user
			// signed in everywhere else: its steps are planned as
			// blocked, and the rest of the run goes ahead.
			rt = &runTarget{cfg: t, blocked: blockedReason(err, p.RunID)}
		}
		p.targets[t.Name] = rt
	}
	return problems
}

// oktaOrder returns the Okta steps in the order a run performs them (that
// of OktaActions), whatever order they were asked in.
func oktaOrder(steps []Action) []Action {
	okta := slices.Clone(steps)
	slices.SortFunc(okta, func(a, b Action) int {
		return slices.Index(OktaActions, a) - slices.Index(OktaActions, b)
	})
	return okta
}

// planOkta appends u's Okta steps to p, leaving out those req.Skip
// reports. An unknown step, or a user without an Okta id, is a problem.
func (p *Plan) planOkta(req Request, u *User, okta []Action) []error {
	var problems []error
	for _, a := range okta {
		if req.Skip != nil && req.Skip(*u, a, OktaTarget) {
			continue
		}
		if !slices.Contains(OktaActions, a) {
			problems = append(problems, fmt.Errorf("unknown Okta step %q", a))
			continue
		}
		if !oktaID.MatchString(u.ID) {
			problems = append(problems, fmt.Errorf("user %s: Okta steps need the user's Okta id", u.Key()))
			break
		}
		method, path := OktaRequest(a, u.ID, req.ForgetDevices)
		p.Steps = append(p.Steps, Step{
			N: len(p.Steps) + 1, User: u, Action: a, Target: OktaTarget,
			Detail: StepDetail{Method: method, URL: path, Auth: "okta"},
		})
	}
	return problems
}

// planFanOut appends one step per loaded target for u to p, in target
// order, leaving out those req.Skip reports. A subject or body that cannot
// be built is a problem. A blocked target's steps carry its reason.
func (p *Plan) planFanOut(req Request, u *User) []error {
	var problems []error
	// Targets that speak the same protocol send a user the same body:
	// the steps share one copy of it.
	bodies := map[string]string{}
	for _, t := range req.Targets {
		rt := p.targets[t.Name]
		action := ActionOf(t)
		if rt == nil || req.Skip != nil && req.Skip(*u, action, t.Name) {
			continue
		}
		detail := StepDetail{URL: t.URL, TimeoutMS: t.Timeout.Milliseconds(), Retries: t.Retries}
		if rt.conn != nil {
			d, err := rt.conn.Plan(*u)
			if err != nil {
				problems = append(problems, err)
				continue
			}
			if b, ok := bodies[d.Body]; ok {
				d.Body = b
			} else {
				bodies[d.Body] = d.Body
			}
			detail = d
		}
		p.Steps = append(p.Steps, Step{
			N: len(p.Steps) + 1, User: u, Action: action, Target: t.Name,
			Detail: detail, Blocked: rt.blocked,
		})
	}
	return problems
}

// runInfo is what the run records about itself: the request's who, why and
// what, with the resolved users and the ordered Okta steps.
func (req Request) runInfo(users []User, okta []Action) RunInfo {
	names := make([]string, 0, len(req.Targets))
	for _, t := range req.Targets {
		names = append(names, t.Name)
	}
	return RunInfo{
		Reason: strings.TrimSpace(req.Reason), Ticket: strings.TrimSpace(req.Ticket),
		Operator: req.Operator, Host: req.Host, PID: os.Getpid(), Version: req.Version,
		ConfigPath: req.ConfigPath, ConfigDigest: req.ConfigDigest, OktaOrg: req.OktaOrg,
		DryRun: req.DryRun, ResumeOf: req.ResumeOf, Users: users, Targets: names,
		OktaSteps: okta, ForgetDevices: req.ForgetDevices,
	}
}

// OktaRequest returns the method and path of an Okta step, as sent and as
// recorded. id must be a validated Okta id.
func OktaRequest(a Action, id string, forgetDevices bool) (method, path string) {
	base := "/api/v1/users/" + id
	switch a {
	case ActionSuspend:
		return http.MethodPost, base + "/lifecycle/suspend"
	case ActionDeactivate:
		return http.MethodPost, base + "/lifecycle/deactivate?sendEmail=false"
	case ActionClearSessions:
		return http.MethodDelete, fmt.Sprintf("%s/sessions?oauthTokens=true&forgetDevices=%t", base, forgetDevices)
	case ActionRevokeGrants:
		return http.MethodDelete, base + "/grants"
	case ActionUniversalLogout:
		return http.MethodPost, "/oauth2/v1/global-token-revocation"
	}
	return "", ""
}

// Unusable lists the targets of the plan whose steps cannot be sent
// (Step.Blocked), once each, in the order of the plan's steps, which is the
// registry order of the request's targets. It is empty when every step can
// be sent. The console's Confirm and the command line show it before
// anything is sent.
func (p *Plan) Unusable() []UnusableTarget {
	var out []UnusableTarget
	seen := map[string]bool{}
	for _, s := range p.Steps {
		if s.Blocked == "" || seen[s.Target] {
			continue
		}
		seen[s.Target] = true
		out = append(out, UnusableTarget{Target: s.Target, Reason: s.Blocked})
	}
	return out
}

// credentialProblem reports whether err means that one target's credential
// (or the CA it trusts) is missing or unusable, as opposed to a request or
// configuration that is wrong as a whole, or start-up being interrupted.
func credentialProblem(err error) bool {
	return errors.Is(err, config.ErrCredential)
}

// blockedReason is the Blocked text of a target whose credential failed to
// load with err: the credential's own sentence, which says what is wrong
// and what to do (the step already names its target, so the file, line and
// target are left out), then the run to resume once that is done.
func blockedReason(err error, runID string) string {
	msg := err.Error()
	var ce *config.Error
	if errors.As(err, &ce) && ce.Msg != "" {
		msg = ce.Msg
	}
	return safetext.Line(msg, 300) + ", then ulc resume " + runID
}

// newRunTarget picks t's HTTP client (the shared one, or one of its own
// when t trusts an extra CA) and opens t with its kind's connector, which
// loads its credentials. An error that means a credential or the CA file is
// missing or unusable wraps config.ErrCredential; when ctx is done first,
// the error wraps ctx.Err().
func newRunTarget(ctx context.Context, t config.Target, env ConnEnv, shared *http.Client) (*runTarget, error) {
	connector, err := connectorFor(t)
	if err != nil {
		return nil, err
	}
	rt := &runTarget{cfg: t, client: shared, sem: make(chan struct{}, max(t.Concurrency, 1))}
	pem, err := t.LoadCA(ctx)
	if err != nil {
		return nil, err
	}
	if pem != nil {
		pool, err := x509.SystemCertPool()
		if err != nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, &config.Error{
				File: t.File, Line: t.Line, Scope: fmt.Sprintf("target %q", t.Name),
				Msg: fmt.Sprintf("ca_file %s holds no PEM certificate: put the CA's certificates there, in PEM", t.CAFile),
				Err: config.ErrCredential,
			}
		}
		rt.client = newClient(pool, max(t.Concurrency, 1))
	}
	env.Client = rt.client
	if rt.conn, err = connector.Open(ctx, t, env); err != nil {
		return nil, err
	}
	return rt, nil
}

// sharedClient is the HTTP client of every target without a ca_file. One
// per process, so a console that runs many revocations reuses connections
// instead of opening a thousand new ones each time.
var sharedClient = sync.OnceValue(func() *http.Client { return newClient(nil, 1024) })

// newClient returns the HTTP client GTR requests go through: TLS 1.2 or
// later with certificate verification always on, and no redirect ever
// followed. roots nil means the system roots.
func newClient(roots *x509.CertPool, perHost int) *http.Client {
	return &http.Client{
		Transport: &http.Transport{
			Proxy:               http.ProxyFromEnvironment,
			DialContext:         (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
			TLSClientConfig:     &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: roots},
			TLSHandshakeTimeout: 10 * time.Second,
			ForceAttemptHTTP2:   true,
			MaxIdleConns:        max(perHost, 100),
			MaxIdleConnsPerHost: perHost,
			IdleConnTimeout:     30 * time.Second,
		},
		// A POST must not turn into a GET or carry its credential elsewhere.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// Events returns the events that record the plan: run_started, then one
// planned event per step. Execute records them a bounded chunk at a time
// (see PlanEvents).
func (p *Plan) Events() []Event {
	return append([]Event{p.StartEvent()}, p.PlanEvents(0, len(p.Steps))...)
}

// StartEvent is the run's run_started event; its detail is Info, which
// says how many steps the plan holds, so a log that lost the end of a plan
// to a crash says so.
func (p *Plan) StartEvent() Event {
	info, _ := json.Marshal(p.Info)
	return Event{RunID: p.RunID, Time: p.Created, Kind: KindRunStarted, Detail: info}
}

// PlanEvents returns the planned events of steps [from, to) of the plan.
func (p *Plan) PlanEvents(from, to int) []Event {
	evs := make([]Event, 0, to-from)
	for _, s := range p.Steps[from:to] {
		d, _ := json.Marshal(s.Detail)
		evs = append(evs, Event{
			RunID: p.RunID, Time: p.Created, Kind: KindPlanned, Step: s.N,
			User: s.User.Key(), Target: s.Target, Action: s.Action, Detail: d,
		})
	}
	return evs
}

// Residual returns, per target of the plan, what stays alive at the
// application after its steps succeed (its connector's Residual), for the
// operator to follow up before the incident is closed. Targets with
// nothing known to survive are left out.
func (p *Plan) Residual() map[string]string {
	out := map[string]string{}
	for name, rt := range p.targets {
		if rt.conn != nil {
			if r := rt.conn.Residual(); r != "" {
				out[name] = r
			}
		}
	}
	return out
}
