package backend

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"time"

	"ulc/actions"
	"ulc/config"
)

// Plan builds the exact requests of r against the registry; nothing is
// recorded or sent. Its errors are ClassUsage.
func (b *Backend) Plan(ctx context.Context, r actions.RunRequest) (*actions.Plan, error) {
	if b.cfg == nil {
		return nil, usagef("no target registry is open")
	}
	var targets []config.Target
	if len(r.Targets) > 0 {
		var err error
		if targets, err = b.cfg.Select(r.Targets); err != nil {
			return nil, classify(ClassUsage, err)
		}
	}
	if len(r.OktaSteps) > 0 {
		if err := b.needOkta(ctx); err != nil {
			return nil, err
		}
	}
	refs := make([]string, 0, len(r.Users)+len(r.Refs))
	for _, u := range r.Users {
		ref := u.ID // resolved afresh: the status may have changed
		if ref == "" {
			ref = u.Key()
		}
		refs = append(refs, ref)
	}
	refs = append(refs, r.Refs...)
	req := actions.Request{
		Users: refs, Reason: r.Reason, Ticket: r.Ticket, Operator: b.opts.Operator, Host: b.opts.Host,
		OktaSteps: r.OktaSteps, ForgetDevices: r.ForgetDevices, Targets: targets,
		Defaults: b.cfg.Defaults, DryRun: r.DryRun, ResumeOf: r.ResumeOf, Skip: r.Skip,
		ConfigPath: absPath(b.cfg.Path), ConfigDigest: b.cfg.Digest, Version: b.opts.Version, Getenv: b.opts.Getenv,
		Issuer: b.cfg.Okta.Issuer, OktaOrg: b.cfg.Okta.OrgURL,
	}
	var dir actions.Directory = actions.StaticDirectory{}
	if b.okta != nil {
		// Many logins are looked up a batch a request, not one by one:
		// at Okta's rate limits a request saved is time saved.
		dir = b.okta.Prefetch(ctx, refs)
		req.Issuer, req.OktaOrg = b.okta.Issuer(), b.okta.OrgURL()
	}
	start := time.Now()
	p, err := actions.BuildPlan(ctx, req, dir)
	if err != nil {
		return nil, classify(ClassUsage, err)
	}
	b.slog.Info("planned", "run", p.RunID, "users", len(p.Info.Users), "steps", len(p.Steps),
		"dry_run", r.DryRun, "resume_of", r.ResumeOf, "ms", time.Since(start).Milliseconds())
	return p, nil
}

// needOkta connects to Okta on demand.
func (b *Backend) needOkta(ctx context.Context) error {
	switch {
	case b.okta != nil:
		return nil
	case b.opts.Okta == OktaOnDemand:
		return b.connectOkta(ctx)
	}
	return usagef("the run has Okta steps but ulc is not connected to Okta: drop --no-okta")
}

// Execute records p in the audit log and performs it, calling observe for
// every event. It returns when the run is over, also when ctx is cancelled;
// every event is durable by then. An audit failure is ClassAudit.
func (b *Backend) Execute(ctx context.Context, p *actions.Plan, observe func(actions.Event)) (*actions.RunState, error) {
	if b.log == nil {
		return nil, &Error{Class: ClassAudit, Err: errors.New("no audit log is open; nothing was sent")}
	}
	x := &actions.Executor{Journal: b.log, Observe: observe}
	if b.okta != nil {
		x.Okta = b.okta
	}
	b.slog.Info("run started", "run", p.RunID, "steps", len(p.Steps))
	start := time.Now()
	st, err := x.Execute(ctx, p)
	if ferr := b.log.Flush(context.WithoutCancel(ctx)); ferr != nil && err == nil {
		err = fmt.Errorf("%w: %v", actions.ErrAudit, ferr)
	}
	if err != nil {
		b.slog.Error("run ended with an error", "run", p.RunID, "err", err.Error())
		if errors.Is(err, actions.ErrAudit) {
			err = &Error{Class: ClassAudit, Err: err}
		}
	}
	if st != nil {
		b.slog.Info("run finished", "run", p.RunID, "result", actions.Tally(st.Counts(), nil), "ms", time.Since(start).Milliseconds())
	}
	return st, err
}

// Resume plans a new run, linked to run id (or the only run whose id starts
// with it), of every step that did not succeed there nor in any run that
// already resumed it, directly or through another resume: a resume means
// the same thing from the console and from ulc resume. Nothing is recorded
// or sent. It returns actions.ErrNothingToResume (ClassUsage) when nothing
// is left.
func (b *Backend) Resume(ctx context.Context, id string, dryRun bool) (*actions.Plan, error) {
	if b.log == nil {
		return nil, &Error{Class: ClassAudit, Err: errors.New("no audit log is open")}
	}
	st, err := b.log.Outcomes(ctx, id)
	if err != nil {
		return nil, classify(ClassUsage, err)
	}
	switch {
	case !st.Done && st.Pending() > 0:
		return nil, usagef("run %s is still in progress (pid %d on %s): resume it once it has ended", st.RunID, st.Info.PID, st.Info.Host)
	case st.Info.DryRun:
		return nil, usagef("run %s was a dry run: there is nothing to resume (run it again without dry run)", st.RunID)
	}
	later, err := b.Resumes(ctx, st.RunID)
	if err != nil {
		return nil, classify(ClassAudit, err)
	}
	if st.Unrecorded() > 0 && st.Info.ResumeOf != "" {
		// The run's plan was cut short by a crash: what it would have
		// sent is its users × steps × targets less what succeeded in the
		// runs it resumed, which its plan had left out.
		family, err := b.ancestry(ctx, st)
		if err != nil {
			return nil, classify(ClassAudit, err)
		}
		later = append(later, family...)
	}
	r := actions.ResumeOf(st, later...)
	if r.Steps == 0 {
		return nil, &Error{Class: ClassUsage, Err: fmt.Errorf("run %s: %w", st.RunID, actions.ErrNothingToResume)}
	}
	if b.cfg == nil {
		return nil, usagef("no target registry is open")
	}
	if _, err := b.cfg.Select(r.Targets); err != nil {
		return nil, usagef("the run's targets are no longer all in %s: %v", b.cfg.Path, err)
	}
	if len(r.OktaSteps) > 0 || st.Info.OktaOrg != "" {
		if err := b.needOkta(ctx); err != nil {
			return nil, err
		}
	}
	req := r.Request(st)
	req.DryRun = dryRun
	return b.Plan(ctx, req)
}

// ancestry returns the runs st resumed, up to the first of the chain, and
// every other run that resumed any of them.
func (b *Backend) ancestry(ctx context.Context, st *actions.RunState) ([]*actions.RunState, error) {
	var out []*actions.RunState
	root := st
	for seen := map[string]bool{st.RunID: true}; root.Info.ResumeOf != "" && !seen[root.Info.ResumeOf]; {
		seen[root.Info.ResumeOf] = true
		up, err := b.log.Outcomes(ctx, root.Info.ResumeOf)
		if err != nil {
			return nil, err
		}
		out = append(out, up)
		root = up
	}
	if root == st {
		return nil, nil
	}
	others, err := b.Resumes(ctx, root.RunID)
	if err != nil {
		return nil, err
	}
	for _, o := range others {
		if o.RunID != st.RunID && !slices.ContainsFunc(out, func(x *actions.RunState) bool { return x.RunID == o.RunID }) {
			out = append(out, o)
		}
	}
	return out, nil
}

// Resumes returns the runs that resumed run id, and the runs that resumed
// those, oldest first.
func (b *Backend) Resumes(ctx context.Context, id string) ([]*actions.RunState, error) {
	runs, err := b.log.Runs(ctx, RunFilter{})
	if err != nil {
		return nil, err
	}
	var out []*actions.RunState
	want := map[string]bool{id: true}
	// Runs come newest first; walk oldest first so chains resolve in order.
	for i := len(runs) - 1; i >= 0; i-- {
		r := runs[i]
		if !want[r.Info.ResumeOf] {
			continue
		}
		want[r.RunID] = true
		st, err := b.log.Outcomes(ctx, r.RunID)
		if err != nil {
			return nil, err
		}
		out = append(out, st)
	}
	return out, nil
}

// Probe checks a target's reachability and credential with a request for a
// user that cannot exist. Nothing is recorded: a probe revokes nobody.
func (b *Backend) Probe(ctx context.Context, t config.Target) actions.ProbeResult {
	iss := ""
	if b.okta != nil {
		iss = b.okta.Issuer()
	} else if b.cfg != nil {
		iss = b.cfg.Okta.Issuer
	}
	start := time.Now()
	r := actions.Probe(ctx, t, iss, b.opts.Getenv)
	b.slog.Info("probe", "target", t.Name, "outcome", string(r.Outcome), "http", r.HTTPStatus, "ms", time.Since(start).Milliseconds())
	return r
}

// Residuals returns, per enabled target of the registry, what stays alive
// at the application after its sign-out, for the console to show before
// sending. Nothing is sent.
func (b *Backend) Residuals(ctx context.Context) map[string]string {
	out := map[string]string{}
	if b.cfg == nil {
		return out
	}
	for _, t := range b.cfg.Targets {
		if !t.Enabled {
			continue
		}
		if r := actions.ResidualOf(ctx, t, b.opts.Getenv); r != "" {
			out[t.Name] = r
		}
	}
	return out
}

// absPath is path made absolute, as a run records its targets.toml: a
// resume from another directory finds the same file. path itself when it
// cannot be.
func absPath(path string) string {
	if abs, err := filepath.Abs(path); err == nil {
		return abs
	}
	return path
}
