package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/charmbracelet/x/term"
	"github.com/spf13/cobra"

	"ulc/actions"
	"ulc/actions/okta"
	"ulc/backend"
	"ulc/internal/safetext"
)

// revokeOpts are the flags of ulc revoke.
type revokeOpts struct {
	users           []string
	usersFile       string
	reason          string
	ticket          string
	targets         []string
	noOkta          bool
	dryRun          bool
	yes             bool
	json            bool
	forgetDevices   bool
	suspend         bool
	deactivate      bool
	revokeGrants    bool
	universalLogout bool
	watch           time.Duration
}

func newRevokeCmd(e *env) *cobra.Command {
	var o revokeOpts
	c := &cobra.Command{
		Use:   "revoke --user USER --reason TEXT [flags]",
		Short: "Log users out of Okta and every target app, headless (for scripts and playbooks)",
		Long: `Log one or more users out: clear their Okta sessions and tokens, then send
Global Token Revocation to every selected target, recording every step in
the audit log before anything is sent. The Okta connection comes from the
SDK's variables (OKTA_CLIENT_ORGURL, OKTA_CLIENT_TOKEN, ...) or the [okta]
table of targets.toml; --no-okta skips Okta altogether.

A target whose credential is missing or unusable (token_env unset, a key
file that cannot be read) does not stop the run: its steps are recorded as
failed with what to fix, everything else is sent, and 'ulc resume RUN'
sends the rest once it is fixed.

After the run, ulc watches the users for --watch (default 15m; 0 turns it
off, as do --dry-run and --no-okta), the same watch as 'ulc watch RUN'.
` + watchHelp + `

Exit status: 0 when every target answered revoked or not_found; 1 when any
step was rejected, failed or cancelled, or could not be sent; 2 for a usage
or configuration error; 3 when the audit log cannot be written or is
corrupt (nothing was sent); 4 when the watch saw a success for a user after
the run (an alarm: run the containment again and find what it missed).`,
		Example: `  ulc revoke --user neo@example.com --reason "phished, INC-4211" --ticket INC-4211 --yes
  ulc revoke --users-file leavers.txt --reason "offboarding" --no-okta --json --yes
  ulc revoke --user neo@example.com --reason "drill" --dry-run
  ulc revoke --user neo@example.com --reason "phished" --yes --watch 0`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runRevoke(cmd.Context(), e, o)
		},
	}
	f := c.Flags()
	f.StringArrayVarP(&o.users, "user", "u", nil, "user to log out: email, login or Okta id (repeatable)")
	f.StringVar(&o.usersFile, "users-file", "", "file with one user per line (# comments; - for stdin)")
	f.StringVarP(&o.reason, "reason", "r", "", "why (required; recorded in the audit log)")
	f.StringVar(&o.ticket, "ticket", "", "incident or change ticket, recorded with the run")
	f.StringSliceVar(&o.targets, "targets", nil, "comma-separated target names (default: every enabled target)")
	f.BoolVar(&o.noOkta, "no-okta", false, "skip Okta: take each user's email or id from the command line")
	f.BoolVar(&o.dryRun, "dry-run", false, "build and record the exact requests, send nothing")
	f.BoolVarP(&o.yes, "yes", "y", false, "send without asking (required when stdin is not a terminal)")
	e.flags.config(f)
	e.flags.audit(f)
	f.BoolVar(&o.json, "json", false, "print one JSON object per event, then a summary line")
	f.BoolVar(&o.forgetDevices, "forget-devices", false, "when clearing Okta sessions, also forget remembered factors")
	f.BoolVar(&o.suspend, "suspend", false, "suspend the user in Okta first (no new sign-ins)")
	f.BoolVar(&o.deactivate, "deactivate", false, "deactivate the user in Okta after clearing sessions")
	f.BoolVar(&o.revokeGrants, "revoke-grants", false, "also revoke the user's OAuth consent grants in Okta")
	f.BoolVar(&o.universalLogout, "universal-logout", false, "also ask Okta's own Universal Logout to log the user out of every app that trusts Okta (needs Identity Threat Protection)")
	f.DurationVar(&o.watch, "watch", actions.DefaultWatch, "after the run, watch the users' System Log this long for the attacker's return (0: no watch)")
	return c
}

func runRevoke(ctx context.Context, e *env, o revokeOpts) (err error) {
	users, err := collectUsers(e, o)
	if err != nil {
		return err
	}
	if strings.TrimSpace(o.reason) == "" {
		return usageErr("--reason is required: say why, it is recorded in the audit log")
	}
	if o.watch < 0 {
		return usageErr("--watch must be a duration such as 15m, or 0 for no watch")
	}
	for _, t := range o.targets {
		if err := backend.CheckText(t); err != nil {
			return usageErr("--targets: %v", err)
		}
	}
	mode := backend.OktaRequired
	var steps []actions.Action
	if o.noOkta {
		if o.suspend || o.deactivate || o.revokeGrants || o.forgetDevices || o.universalLogout {
			return usageErr("--suspend, --deactivate, --revoke-grants, --universal-logout and --forget-devices act in Okta: drop --no-okta")
		}
		mode = backend.OktaNone
	} else {
		steps = append(steps, actions.ActionClearSessions)
		if o.suspend {
			steps = append(steps, actions.ActionSuspend)
		}
		if o.revokeGrants {
			steps = append(steps, actions.ActionRevokeGrants)
		}
		if o.universalLogout {
			steps = append(steps, actions.ActionUniversalLogout)
		}
		if o.deactivate {
			steps = append(steps, actions.ActionDeactivate)
		}
	}
	// The audit log is opened (and checked) before anything is planned or
	// sent: a log that cannot be written, or is corrupt, stops the run
	// before the first request.
	b, err := e.open(ctx, backend.Options{ConfigPath: e.flags.configPath, Okta: mode, Audit: backend.AuditWrite})
	if err != nil {
		return err
	}
	defer closeInto(&err, b)
	targets, err := b.Config().Select(o.targets)
	if err != nil {
		return &exitError{code: exitUsage, err: err}
	}
	names := make([]string, len(targets))
	for i, t := range targets {
		names[i] = t.Name
	}
	// A lookup of many users waits for Okta's rate-limit windows; each
	// wait is said once, so a long one is not mistaken for a hang.
	lookups := okta.WithRateWait(ctx, len(users), func(w okta.RateWait) {
		fmt.Fprintln(e.stderr, w.String())
	})
	plan, err := b.Plan(lookups, actions.RunRequest{
		Refs: users, Reason: o.reason, Ticket: o.ticket, OktaSteps: steps,
		ForgetDevices: o.forgetDevices, Targets: names, DryRun: o.dryRun,
	})
	if err != nil {
		return err
	}
	warnUnusable(e, plan)
	if !o.dryRun && !o.yes {
		if err := confirm(e, plan); err != nil {
			return err
		}
	}
	err = executePlan(ctx, e, b, plan, o.json)
	return watchAfter(ctx, e, b, plan, o, err)
}

// watchAfter watches the run's users once the run is over, unless there is
// nothing to watch, and returns the exit status: the watch's when it saw
// an alarm, else the run's.
func watchAfter(ctx context.Context, e *env, b *backend.Backend, plan *actions.Plan, o revokeOpts, runErr error) error {
	switch {
	case o.watch == 0:
		return runErr
	case o.dryRun:
		fmt.Fprintln(e.stderr, "no watch: a dry run sends nothing")
		return runErr
	case o.noOkta:
		fmt.Fprintln(e.stderr, "no watch: with --no-okta ulc reads no System Log")
		return runErr
	case ctx.Err() != nil, backend.ClassOf(runErr) == backend.ClassAudit:
		return runErr // interrupted, or the log cannot be written
	}
	werr := watchRun(ctx, e, b, plan.RunID, o.watch, o.json, "--watch 0 skips it")
	var xe *exitError
	if errors.As(werr, &xe) && xe.code == exitAlarm || runErr == nil {
		return werr
	}
	if werr != nil {
		fmt.Fprintln(e.stderr, "ulc: "+sanitizeMessage(werr.Error()))
	}
	return runErr
}

// warnUnusable says, before anything is sent, which targets cannot be
// sent to and why: their steps are recorded as failed and the rest of the
// run goes ahead.
func warnUnusable(e *env, p *actions.Plan) {
	for _, u := range p.Unusable() {
		fmt.Fprintf(e.stderr, "✗ %s cannot be sent to: %s\n", safetext.Line(u.Target, 40), safetext.Line(u.Reason, 300))
	}
}

// executePlan runs plan, printing its events, then the summary with the
// audit head hash, and turns the result into ulc's exit status.
func executePlan(ctx context.Context, e *env, b *backend.Backend, plan *actions.Plan, asJSON bool) error {
	out := newEventPrinter(e.stdout, asJSON)
	state, execErr := b.Execute(ctx, plan, out.event)
	_, head, headErr := b.Head(context.WithoutCancel(ctx))
	if headErr != nil && execErr == nil {
		execErr = &backend.Error{Class: backend.ClassAudit, Err: fmt.Errorf("%w: %v", actions.ErrAudit, headErr)}
	}
	if state == nil {
		state = actions.NewRunState(plan.RunID)
	}
	out.summary(backend.NewSummary(plan, state, head, b.AuditPath(), execErr))
	switch {
	case execErr != nil:
		return execErr
	case !state.AllSucceeded():
		return &exitError{code: exitFailures}
	}
	return nil
}

// collectUsers gathers --user values and --users-file lines.
func collectUsers(e *env, o revokeOpts) ([]string, error) {
	var users []string
	for _, u := range o.users {
		u = strings.TrimSpace(u)
		if u == "" {
			return nil, usageErr("--user must not be empty")
		}
		if err := backend.CheckText(u); err != nil {
			return nil, usageErr("--user: %v", err)
		}
		users = append(users, u)
	}
	if o.usersFile != "" {
		var r io.Reader
		if o.usersFile == "-" {
			r = e.stdin
		} else {
			f, err := os.Open(o.usersFile)
			if err != nil {
				return nil, usageErr("--users-file: %v", err)
			}
			defer func() { _ = f.Close() }() // read only: the scan reports read errors
			r = f
		}
		more, err := backend.ReadUsers(r, o.usersFile)
		if err != nil {
			return nil, fmt.Errorf("--users-file %w", err)
		}
		users = append(users, more...)
	}
	if len(users) == 0 {
		return nil, usageErr("no user given: use --user (repeatable) or --users-file")
	}
	return users, nil
}

// confirm shows the plan and asks for "yes" on a terminal; it refuses when
// nobody can answer.
func confirm(e *env, p *actions.Plan) error {
	f, ok := e.stdin.(*os.File)
	if !ok || !term.IsTerminal(f.Fd()) {
		return usageErr("refusing to send without --yes: stdin is not a terminal (use --dry-run to see the plan)")
	}
	fmt.Fprintf(e.stderr, "About to log out %d user(s) across %d target(s), %d request(s):\n",
		len(p.Info.Users), len(p.Info.Targets), len(p.Steps))
	for _, u := range p.Info.Users {
		fmt.Fprintf(e.stderr, "  user    %s\n", safetext.Line(u.Key(), 80))
	}
	for _, t := range p.Info.Targets {
		fmt.Fprintf(e.stderr, "  target  %s\n", t)
	}
	fmt.Fprintf(e.stderr, "Reason: %s\nType yes to send: ", safetext.Line(p.Info.Reason, 200))
	line, _ := bufio.NewReader(e.stdin).ReadString('\n')
	if strings.TrimSpace(line) != "yes" {
		return usageErr("not confirmed; nothing was sent")
	}
	return nil
}

// eventPrinter writes a run's events as they happen: JSON lines, or one
// human-readable line per finished step.
type eventPrinter struct {
	mu   sync.Mutex
	w    io.Writer
	json bool
	enc  *json.Encoder
}

func newEventPrinter(w io.Writer, asJSON bool) *eventPrinter {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	return &eventPrinter{w: w, json: asJSON, enc: enc}
}

// jsonEvent is an event line of --json output.
type jsonEvent struct {
	Type string `json:"type"`
	actions.Event
}

func (p *eventPrinter) event(ev actions.Event) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.json {
		// Seq is known only once the audit writer commits; leave it out
		// rather than print it for some events and not others.
		ev.Seq = 0
		_ = p.enc.Encode(jsonEvent{Type: "event", Event: ev})
		return
	}
	switch ev.Kind {
	case actions.KindRunStarted:
		fmt.Fprintf(p.w, "run %s\n", ev.RunID)
	case actions.KindRetry:
		fmt.Fprintf(p.w, "  %-9s %-22s %-28s %s\n", "retry", ev.Target, safetext.Line(ev.User, 28), ev.Error)
	case actions.KindResult:
		status := "-"
		if ev.HTTPStatus != 0 {
			status = fmt.Sprint(ev.HTTPStatus)
		}
		name := ev.Target
		if ev.Action.Okta() {
			name = string(ev.Action)
		}
		fmt.Fprintf(p.w, "  %-9s %-22s %-28s %3s %5dms  %s\n", ev.Outcome, name, safetext.Line(ev.User, 28), status, ev.StepMillis(), ev.Error)
	}
}

func (p *eventPrinter) summary(s backend.Summary) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.json {
		_ = p.enc.Encode(s)
		return
	}
	fmt.Fprintf(p.w, "\nrun %s: %s\n", s.RunID, s.Result)
	fmt.Fprintf(p.w, "audit log %s, head %s\n", s.AuditDB, s.AuditHead)
}
