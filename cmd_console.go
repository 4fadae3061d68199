package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/spf13/cobra"

	"ulc/actions"
	"ulc/actions/okta"
	"ulc/audit"
	"ulc/config"
	"ulc/sandbox"
	"ulc/tui"
)

// consoleOpts are the flags of the console.
type consoleOpts struct {
	configPath string
	auditPath  string
	readOnly   bool
}

func addConsoleFlags(c *cobra.Command, o *consoleOpts) {
	c.Flags().StringVarP(&o.configPath, "config", "c", "targets.toml", "target registry (and optional [okta] table)")
	c.Flags().StringVar(&o.auditPath, "audit-db", "", "audit log file (env ULC_AUDIT_DB; default $XDG_DATA_HOME/ulc/audit.db)")
	c.Flags().BoolVar(&o.readOnly, "readonly", false, "search and review only: hide every action that changes anything")
}

// session is everything a console or a revoke needs, connected and open.
type session struct {
	cfg    *config.File
	okta   *okta.Client // nil without Okta
	log    *audit.Log
	getenv func(string) string
}

func (s *session) Close() error {
	if s.log != nil {
		return s.log.Close()
	}
	return nil
}

// connectOkta resolves the Okta connection the SDK's way plus the [okta]
// table, and checks the credential with one cheap call.
func connectOkta(ctx context.Context, e *env, cfg *config.File) (*okta.Client, error) {
	home, _ := os.UserHomeDir()
	settings, ok, err := okta.ResolveSettings(cfg.Okta, e.getenv, home)
	if err != nil {
		return nil, &exitError{code: exitUsage, err: err}
	}
	if !ok {
		return nil, usageErr("no Okta org is configured: set OKTA_CLIENT_ORGURL and OKTA_CLIENT_TOKEN, or add an [okta] table to %s (or try 'ulc demo')", cfg.Path)
	}
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	client, err := okta.Connect(cctx, settings)
	if err != nil {
		return nil, &exitError{code: exitUsage, err: err}
	}
	return client, nil
}

// engineRunner is the console's Runner: the engine, the Okta client and the
// audit log, as the headless command uses them.
type engineRunner struct {
	s *session
}

// Plan implements tui.Runner.
func (r *engineRunner) Plan(ctx context.Context, rr tui.RunRequest) (*actions.Plan, error) {
	targets, err := r.s.cfg.Select(rr.Targets)
	if err != nil {
		return nil, err
	}
	refs := make([]string, len(rr.Users))
	for i, u := range rr.Users {
		refs[i] = u.ID // resolved afresh: the status may have changed
		if refs[i] == "" {
			refs[i] = u.Key()
		}
	}
	req := actions.Request{
		Users: refs, Reason: rr.Reason, Ticket: rr.Ticket, Operator: operator(), Host: hostname(),
		OktaSteps: rr.OktaSteps, ForgetDevices: rr.ForgetDevices, Targets: targets,
		Defaults: r.s.cfg.Defaults, DryRun: rr.DryRun, ResumeOf: rr.ResumeOf, Skip: rr.Skip,
		ConfigPath: r.s.cfg.Path, ConfigDigest: r.s.cfg.Digest, Version: buildVersion(), Getenv: r.s.getenv,
	}
	var dir actions.Directory = actions.StaticDirectory{}
	req.Issuer, req.OktaOrg = r.s.cfg.Okta.Issuer, r.s.cfg.Okta.OrgURL
	if r.s.okta != nil {
		dir = r.s.okta
		req.Issuer, req.OktaOrg = r.s.okta.Issuer(), r.s.okta.OrgURL()
	}
	return actions.BuildPlan(ctx, req, dir)
}

// Execute implements tui.Runner.
func (r *engineRunner) Execute(ctx context.Context, p *actions.Plan, observe func(actions.Event)) (*actions.RunState, error) {
	x := &actions.Executor{Journal: r.s.log, Observe: observe}
	if r.s.okta != nil {
		x.Okta = r.s.okta
	}
	st, err := x.Execute(ctx, p)
	if ferr := r.s.log.Flush(context.WithoutCancel(ctx)); ferr != nil && err == nil {
		err = fmt.Errorf("%w: %v", actions.ErrAudit, ferr)
	}
	return st, err
}

// prober is the console's Prober.
type prober struct{ s *session }

// Probe implements tui.Prober.
func (p prober) Probe(ctx context.Context, t config.Target) tui.ProbeResult {
	iss := ""
	if p.s.okta != nil {
		iss = p.s.okta.Issuer()
	}
	r := actions.Probe(ctx, t, iss, p.s.getenv)
	return tui.ProbeResult(r)
}

// runConsole opens the console on an open session.
func runConsole(ctx context.Context, e *env, s *session, readOnly bool) error {
	deps := tui.Deps{
		Runner: &engineRunner{s}, History: s.log, Prober: prober{s},
		Targets: s.cfg.Targets, AuditPath: s.log.Path(), ReadOnly: readOnly,
	}
	if s.okta != nil {
		deps.Directory = s.okta
		deps.OrgURL = s.okta.OrgURL()
	}
	// The console handles ctrl+c itself (it asks before abandoning a run);
	// SIGTERM ends it the same way.
	p := tea.NewProgram(tui.New(deps), tea.WithInput(e.stdin), tea.WithOutput(e.stdout))
	term := make(chan os.Signal, 1)
	signal.Notify(term, syscall.SIGTERM, syscall.SIGHUP)
	defer signal.Stop(term)
	go func() {
		select {
		case <-term:
			p.Send(tui.ShutdownMsg{})
		case <-ctx.Done():
		}
	}()
	if _, err := p.Run(); err != nil && !errors.Is(err, tea.ErrProgramKilled) {
		return &exitError{code: exitFailures, err: fmt.Errorf("console: %w", err)}
	}
	if _, head, err := s.log.Head(context.Background()); err == nil && head != "" {
		fmt.Fprintf(e.stderr, "audit log %s, head %s\n", s.log.Path(), head)
	}
	return nil
}

func openSession(ctx context.Context, e *env, configPath, auditPath string, needOkta bool) (*session, error) {
	cfg, err := loadConfig(configPath)
	if err != nil {
		return nil, err
	}
	s := &session{cfg: cfg, getenv: e.getenv}
	if needOkta {
		if s.okta, err = connectOkta(ctx, e, cfg); err != nil {
			return nil, err
		}
	}
	if s.log, err = openAudit(e, auditPath); err != nil {
		return nil, err
	}
	return s, nil
}

func newConsoleRun(e *env, o *consoleOpts) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, _ []string) error {
		s, err := openSession(cmd.Context(), e, o.configPath, o.auditPath, true)
		if err != nil {
			return err
		}
		defer s.Close()
		return runConsole(cmd.Context(), e, s, o.readOnly)
	}
}

func newDemoCmd(e *env) *cobra.Command {
	var keep bool
	var people int
	c := &cobra.Command{
		Use:   "demo",
		Short: "Open the console against a local sandbox: an Okta stand-in and a dozen demo apps",
		Long: `Starts an Okta-compatible directory and thirteen demo target apps on
127.0.0.1 (one slow, one that never answers in time, one that fails twice
before succeeding, one that is down, one on the old 'subject' body key, two
that verify signed JWTs), writes a targets.toml for them and opens the
console with a fresh audit log.

Try: type "trin", press enter twice, r, fill in a reason, tab to Confirm,
type the login, enter, and watch the board. Then 2 for History.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			dir, err := os.MkdirTemp("", "ulc-demo-")
			if err != nil {
				return err
			}
			if !keep {
				defer os.RemoveAll(dir)
			}
			sb, err := sandbox.Start(sandbox.Options{Dir: dir, People: people})
			if err != nil {
				return err
			}
			defer sb.Close()
			s, err := openSession(cmd.Context(), e, sb.ConfigPath, filepath.Join(dir, "audit.db"), true)
			if err != nil {
				return err
			}
			defer s.Close()
			err = runConsole(cmd.Context(), e, s, false)
			if keep {
				fmt.Fprintf(e.stderr, "the demo's files are kept in %s\n", dir)
			}
			return err
		},
	}
	c.Flags().BoolVar(&keep, "keep", false, "keep the demo's directory (targets.toml, audit log) after exit")
	c.Flags().IntVar(&people, "people", 0, "generated people in the directory besides the cast (e.g. 100000)")
	return c
}

func newSandboxCmd(e *env) *cobra.Command {
	var o sandbox.Options
	c := &cobra.Command{
		Use:   "sandbox",
		Short: "Run the sandbox in the foreground, for ulc and ulc revoke in another terminal",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if o.Dir == "" {
				dir, err := os.MkdirTemp("", "ulc-sandbox-")
				if err != nil {
					return err
				}
				o.Dir = dir
			}
			sb, err := sandbox.Start(o)
			if err != nil {
				return err
			}
			defer sb.Close()
			w := e.stdout
			fmt.Fprintf(w, "ulc sandbox is running; ctrl+c stops it.\n\n")
			fmt.Fprintf(w, "Okta org      %s (API token in %s)\n", sb.OktaURL, sb.TokenFile)
			fmt.Fprintf(w, "targets.toml  %s\n\napps:\n", sb.ConfigPath)
			for _, a := range sb.Fleet.Apps {
				fmt.Fprintf(w, "  %-13s %-9s %s\n", a.Name(), a.Spec().Behaviour, a.URL())
			}
			fmt.Fprintf(w, "\nFrom another terminal (the targets.toml names the Okta org and token too):\n")
			fmt.Fprintf(w, "  export OKTA_CLIENT_ORGURL=%s\n", sb.OktaURL)
			fmt.Fprintf(w, "  export OKTA_CLIENT_TOKEN=\"$(cat %s)\"\n", sb.TokenFile)
			fmt.Fprintf(w, "  ulc --config %s\n", sb.ConfigPath)
			fmt.Fprintf(w, "  ulc revoke --config %s --user trinity@whiterabbit.fake --reason drill --yes\n", sb.ConfigPath)
			<-cmd.Context().Done()
			fmt.Fprintln(w, "\nsandbox stopped")
			return nil
		},
	}
	c.Flags().StringVar(&o.Dir, "dir", "", "where to write targets.toml and credentials (default: a new temporary directory)")
	c.Flags().IntVar(&o.People, "people", 0, "generated people besides the cast (e.g. 100000 for scale tests)")
	c.Flags().StringVar(&o.OktaAddr, "okta-addr", "", "the Okta fake's address (default 127.0.0.1 on a free port)")
	c.Flags().IntVar(&o.RateLimit, "rate-limit", 0, "the Okta fake's budget of requests per minute per endpoint (default 600), to drill rate limiting")
	return c
}
