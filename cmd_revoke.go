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
	"text/tabwriter"

	"github.com/charmbracelet/x/term"
	"github.com/spf13/cobra"

	"ulc/actions"
	"ulc/actions/okta"
	"ulc/audit"
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
	configPath      string
	auditPath       string
	json            bool
	forgetDevices   bool
	suspend         bool
	deactivate      bool
	revokeGrants    bool
	universalLogout bool
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

Exit status: 0 when every target answered revoked or not_found; 1 when any
step was rejected, failed or cancelled; 2 for a usage or configuration
error; 3 when the audit log cannot be written (nothing was sent).`,
		Example: `  ulc revoke --user neo@example.com --reason "phished, INC-4211" --ticket INC-4211 --yes
  ulc revoke --users-file leavers.txt --reason "offboarding" --no-okta --json --yes
  ulc revoke --user neo@example.com --reason "drill" --dry-run`,
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
	f.StringVarP(&o.configPath, "config", "c", "targets.toml", "target registry")
	f.StringVar(&o.auditPath, "audit-db", "", "audit log file (env ULC_AUDIT_DB; default $XDG_DATA_HOME/ulc/audit.db)")
	f.BoolVar(&o.json, "json", false, "print one JSON object per event, then a summary line")
	f.BoolVar(&o.forgetDevices, "forget-devices", false, "when clearing Okta sessions, also forget remembered factors")
	f.BoolVar(&o.suspend, "suspend", false, "suspend the user in Okta first (no new sign-ins)")
	f.BoolVar(&o.deactivate, "deactivate", false, "deactivate the user in Okta after clearing sessions")
	f.BoolVar(&o.revokeGrants, "revoke-grants", false, "also revoke the user's OAuth consent grants in Okta")
	f.BoolVar(&o.universalLogout, "universal-logout", false, "also ask Okta's own Universal Logout to log the user out of every app that trusts Okta (needs Identity Threat Protection)")
	return c
}

func runRevoke(ctx context.Context, e *env, o revokeOpts) error {
	users, err := collectUsers(e, o)
	if err != nil {
		return err
	}
	if strings.TrimSpace(o.reason) == "" {
		return usageErr("--reason is required: say why, it is recorded in the audit log")
	}
	cfg, err := loadConfig(o.configPath)
	if err != nil {
		return err
	}
	targets, err := cfg.Select(o.targets)
	if err != nil {
		return &exitError{code: exitUsage, err: err}
	}

	var dir actions.Directory = actions.StaticDirectory{}
	var oktaClient *okta.Client
	var steps []actions.Action
	issuer, org := cfg.Okta.Issuer, cfg.Okta.OrgURL
	if o.noOkta {
		if o.suspend || o.deactivate || o.revokeGrants || o.forgetDevices || o.universalLogout {
			return usageErr("--suspend, --deactivate, --revoke-grants, --universal-logout and --forget-devices act in Okta: drop --no-okta")
		}
	} else {
		oktaClient, err = connectOkta(ctx, e, cfg)
		if err != nil {
			return err
		}
		dir, issuer, org = oktaClient, oktaClient.Issuer(), oktaClient.OrgURL()
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
	req := actions.Request{
		Users: users, Reason: o.reason, Ticket: o.ticket,
		Operator: operator(), Host: hostname(),
		OktaSteps: steps, ForgetDevices: o.forgetDevices,
		Targets: targets, Defaults: cfg.Defaults, Issuer: issuer, OktaOrg: org,
		DryRun: o.dryRun, ConfigPath: o.configPath, ConfigDigest: cfg.Digest, Version: buildVersion(),
		Getenv: e.getenv,
	}
	plan, err := actions.BuildPlan(ctx, req, dir)
	if err != nil {
		return &exitError{code: exitUsage, err: err}
	}
	if !o.dryRun && !o.yes {
		if err := confirm(e, plan); err != nil {
			return err
		}
	}

	log, err := openAudit(e, o.auditPath)
	if err != nil {
		return err
	}
	defer log.Close()
	return executePlan(ctx, e, plan, log, oktaClient, o.json)
}

// openAudit opens the audit log at path (default: defaultAuditPath); a
// failure is exit status 3, before anything was sent.
func openAudit(e *env, path string) (*audit.Log, error) {
	if path == "" {
		path = defaultAuditPath(e.getenv)
	}
	log, err := audit.Open(path)
	if err != nil {
		return nil, &exitError{code: exitAudit, err: fmt.Errorf("%v; nothing was sent", err)}
	}
	return log, nil
}

// executePlan runs plan, printing its events, then the summary with the
// audit head hash, and turns the result into ulc's exit status.
func executePlan(ctx context.Context, e *env, plan *actions.Plan, log *audit.Log, oktaClient *okta.Client, asJSON bool) error {
	out := newEventPrinter(e.stdout, asJSON)
	x := &actions.Executor{Journal: log, Observe: out.event}
	if oktaClient != nil {
		x.Okta = oktaClient
	}
	state, execErr := x.Execute(ctx, plan)
	flushErr := log.Flush(context.WithoutCancel(ctx))
	_, head, headErr := log.Head(context.WithoutCancel(ctx))
	if err := errors.Join(flushErr, headErr); err != nil && execErr == nil {
		execErr = fmt.Errorf("%w: %v", actions.ErrAudit, err)
	}
	out.summary(state, head, log.Path(), execErr)
	switch {
	case errors.Is(execErr, actions.ErrAudit):
		return &exitError{code: exitAudit, err: execErr}
	case execErr != nil:
		return &exitError{code: exitFailures, err: execErr}
	case !state.AllSucceeded():
		return &exitError{code: exitFailures}
	}
	return nil
}

// collectUsers gathers --user values and --users-file lines.
func collectUsers(e *env, o revokeOpts) ([]string, error) {
	users := append([]string(nil), o.users...)
	if o.usersFile != "" {
		var r io.Reader
		if o.usersFile == "-" {
			r = e.stdin
		} else {
			f, err := os.Open(o.usersFile)
			if err != nil {
				return nil, usageErr("--users-file: %v", err)
			}
			defer f.Close()
			r = f
		}
		sc := bufio.NewScanner(r)
		for line := 1; sc.Scan(); line++ {
			s := strings.TrimSpace(sc.Text())
			if i := strings.Index(s, "#"); i >= 0 {
				s = strings.TrimSpace(s[:i])
			}
			if s == "" {
				continue
			}
			if strings.ContainsAny(s, " \t") {
				return nil, usageErr("--users-file %s:%d: one user per line, got %q", o.usersFile, line, safetext.Line(s, 80))
			}
			users = append(users, s)
		}
		if err := sc.Err(); err != nil {
			return nil, usageErr("--users-file: %v", err)
		}
	}
	for i, u := range users {
		users[i] = strings.TrimSpace(u)
		if users[i] == "" {
			return nil, usageErr("--user must not be empty")
		}
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
		if ev.Action != actions.ActionGTR {
			name = string(ev.Action)
		}
		fmt.Fprintf(p.w, "  %-9s %-22s %-28s %3s %5dms  %s\n", ev.Outcome, name, safetext.Line(ev.User, 28), status, ev.LatencyMS, ev.Error)
	}
}

// jsonSummary is the last line of --json output.
type jsonSummary struct {
	Type      string               `json:"type"`
	RunID     string               `json:"run_id"`
	DryRun    bool                 `json:"dry_run,omitempty"`
	Counts    map[string]int       `json:"counts"`
	Targets   []*actions.StepState `json:"targets"`
	AuditDB   string               `json:"audit_db"`
	AuditHead string               `json:"audit_head"`
	Error     string               `json:"error,omitempty"`
}

func (p *eventPrinter) summary(st *actions.RunState, head, auditPath string, err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	counts := map[string]int{}
	for o, n := range st.Counts() {
		if o != "" {
			counts[string(o)] = n
		}
	}
	if p.json {
		s := jsonSummary{Type: "summary", RunID: st.RunID, DryRun: st.Info.DryRun, Counts: counts,
			Targets: st.Steps, AuditDB: auditPath, AuditHead: head}
		if s.Targets == nil {
			s.Targets = []*actions.StepState{}
		}
		if err != nil {
			s.Error = err.Error()
		}
		_ = p.enc.Encode(s)
		return
	}
	tw := tabwriter.NewWriter(p.w, 0, 0, 1, ' ', 0)
	fmt.Fprintf(tw, "\nrun %s: %s\n", st.RunID, actions.Tally(st.Counts(), nil))
	fmt.Fprintf(tw, "audit log %s, head %s\n", auditPath, head)
	tw.Flush()
}
