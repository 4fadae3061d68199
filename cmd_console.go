package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/term"
	"github.com/spf13/cobra"

	"ulc/actions"
	"ulc/backend"
	"ulc/forward"
	"ulc/sandbox"
	"ulc/tui"
)

// runConsoleCmd opens the backend the console needs and runs it.
func runConsoleCmd(ctx context.Context, e *env, readOnly bool, watch time.Duration) (err error) {
	if err := needTerminal(e); err != nil {
		return err
	}
	if err := checkWatch(watch); err != nil {
		return err
	}
	mode := backend.AuditWrite
	if readOnly {
		// Review only: the log is read as an auditor would, and a machine
		// that has none yet can still search the directory.
		mode = backend.AuditRead
		if _, err := os.Stat(e.auditPath()); err != nil {
			mode = backend.AuditNone
		}
	}
	b, err := e.open(ctx, backend.Options{ConfigPath: e.flags.configPath, Okta: backend.OktaRequired, Audit: mode})
	if err != nil {
		return err
	}
	defer closeInto(&err, b)
	return runConsole(ctx, e, b, readOnly, watch, nil)
}

// needTerminal refuses to start the console on input that cannot be a
// keyboard: a file, or a device that is not a terminal such as /dev/null
// (cron, a CI job, ssh without -t). A pipe is let through: something may
// type into it.
func needTerminal(e *env) error {
	f, ok := e.stdin.(*os.File)
	if !ok || term.IsTerminal(f.Fd()) {
		return nil
	}
	fi, err := f.Stat()
	if err != nil || fi.Mode().IsRegular() || fi.Mode()&os.ModeDevice != 0 {
		return usageErr("the console needs a terminal; in scripts use ulc revoke (see ulc revoke --help)")
	}
	return nil
}

// runConsole runs the console on an open backend until the operator quits
// or a signal ends it.
//
// The console ends with the audit log's path and head; when head is not nil
// the head is stored there instead and nothing is printed (the demo names
// its log itself, which it may be about to remove).
func runConsole(ctx context.Context, e *env, b *backend.Backend, readOnly bool, watch time.Duration, head *string) error {
	deps := tui.Deps{
		Runner: b, History: b, Prober: b,
		Targets: b.Targets(), AuditPath: b.AuditPath(), ReadOnly: readOnly, OrgURL: b.OrgURL(),
		Residual: b.Residuals(ctx), Unusable: b.CredentialProblems(ctx),
	}
	if b.Forwarding() != nil {
		deps.Forwarding = b.Forwarding
	}
	if c := b.Okta(); c != nil {
		deps.Directory = c
		deps.Watcher = b // after a run, the board watches its users
		deps.Watch = watch
		if watch == 0 {
			deps.Watch = -1 // --watch 0: the board does not watch
		}
	}
	// The console handles ctrl+c itself (it asks before abandoning a run).
	// The first signal asks it to shut down the same way: a run in flight
	// is cancelled and its answers recorded. The second ends the program
	// at once (tea.WithContext), restoring the terminal.
	e.sig.held.Store(true)
	// Bubble Tea's own signal handler stays off: with two registrations a
	// SIGTERM could reach both, and Bubble Tea's, trying to deliver a quit
	// to a program that had already stopped, blocked its shutdown forever.
	p := tea.NewProgram(tui.New(deps), tea.WithInput(e.stdin), tea.WithOutput(e.term),
		tea.WithContext(e.sig.hard), tea.WithoutSignalHandler())
	stop := context.AfterFunc(ctx, func() { p.Send(tui.ShutdownMsg{}) })
	defer stop()
	if deps.Forwarding != nil {
		defer watchForwarding(p, deps.Forwarding)()
	}
	if _, err := p.Run(); err != nil && !errors.Is(err, tea.ErrProgramKilled) {
		return &exitError{code: exitFailures, err: fmt.Errorf("console: %w", err)}
	}
	// The board's watch ends with the console, recorded before the head
	// is read.
	b.StopWatches()
	if _, h, err := b.Head(context.Background()); err == nil && h != "" {
		if head != nil {
			*head = h
		} else {
			fmt.Fprintf(e.stderr, "audit log %s, head %s\n", b.AuditPath(), h)
		}
	}
	return nil
}

func newDemoCmd(e *env) *cobra.Command {
	var keep, readOnly bool
	var people int
	var watch time.Duration
	c := &cobra.Command{
		Use:   "demo",
		Short: "Open the console against a local sandbox: an Okta stand-in, a dozen demo apps and six vendors' APIs",
		Long: `Starts an Okta-compatible directory, thirteen demo GTR apps on 127.0.0.1
(one slow, one that never answers in time, one that fails twice before
succeeding, one that is down, one on the old 'subject' body key, two that
verify signed JWTs) and fakes of the Google Workspace, Microsoft Graph,
Slack, Zoom and GitHub APIs and of a CAEP receiver, writes a targets.toml for them
and opens the console with a fresh audit log. On exit everything is
removed, unless --keep.

Try: type "trin", press enter twice, r, type a reason, ctrl+g to jump to
Confirm, type the login, enter, and watch the board. Then 2 for History.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) (err error) {
			if err := needTerminal(e); err != nil {
				return err
			}
			if err := checkWatch(watch); err != nil {
				return err
			}
			dir, err := os.MkdirTemp("", "ulc-demo-")
			if err != nil {
				return err
			}
			// The last word, once the console, the backend and the
			// sandbox are closed: where the files are, or that they are
			// gone, after they are.
			var head string
			defer func() {
				ended := ""
				if head != "" {
					ended = " (its last head " + head + ")"
				}
				switch {
				case keep:
					fmt.Fprintf(e.stderr, "the demo's files are kept in %s: targets.toml, credentials, audit log %s%s\n",
						dir, filepath.Join(dir, "audit.db"), ended)
				case os.RemoveAll(dir) != nil:
					fmt.Fprintf(e.stderr, "ulc: the demo's files in %s were not all removed: remove them by hand\n", dir)
				default:
					fmt.Fprintf(e.stderr, "the demo's files were removed, its audit log%s included; ulc demo --keep keeps them\n", ended)
				}
			}()
			sb, err := sandbox.Start(sandbox.Options{Dir: dir, People: people, Vendors: true})
			if err != nil {
				return err
			}
			// The sandbox's servers only shut down here: nothing to report.
			defer func() { _ = sb.Close() }()
			b, err := e.open(cmd.Context(), backend.Options{ConfigPath: sb.ConfigPath, Okta: backend.OktaRequired,
				Audit: backend.AuditWrite, AuditPath: filepath.Join(dir, "audit.db")})
			if err != nil {
				return err
			}
			defer closeInto(&err, b)
			return runConsole(cmd.Context(), e, b, readOnly, watch, &head)
		},
	}
	c.Flags().BoolVar(&keep, "keep", false, "keep the demo's directory (targets.toml, audit log) after exit")
	c.Flags().BoolVar(&readOnly, "readonly", false, "search and review only: hide every action that changes anything")
	c.Flags().IntVar(&people, "people", 0, "generated people in the directory besides the cast (e.g. 100000)")
	watchFlag(c, &watch)
	return c
}

// watchFlag adds the console's --watch: how long a board watches its run's
// users after the run, as ulc revoke's --watch.
func watchFlag(c *cobra.Command, d *time.Duration) {
	c.Flags().DurationVar(d, "watch", actions.DefaultWatch,
		"after each run, the board watches the users' System Log this long for the attacker's return (0: no watch)")
}

// checkWatch refuses a negative --watch.
func checkWatch(d time.Duration) error {
	if d < 0 {
		return usageErr("--watch must be a duration such as 15m, or 0 for no watch")
	}
	return nil
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
				// A folder of its own holds tokens and keys: it goes when
				// the sandbox stops. One named with --dir stays.
				defer func() {
					if err := os.RemoveAll(dir); err != nil {
						fmt.Fprintf(e.stderr, "ulc: the sandbox's files in %s were not all removed: %v\n", dir, err)
					}
				}()
			}
			sb, err := sandbox.Start(o)
			if err != nil {
				return err
			}
			// The sandbox's servers only shut down here: nothing to report.
			defer func() { _ = sb.Close() }()
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
			fmt.Fprintf(w, "  ulc revoke --config %s --user trinity@whiterabbit.fake --reason drill --yes --watch 1m\n", sb.ConfigPath)
			<-cmd.Context().Done()
			fmt.Fprintln(w, "\nsandbox stopped")
			return nil
		},
	}
	c.Flags().BoolVar(&o.Vendors, "vendors", true, "also run fakes of the vendors' sign-out APIs (Google, Microsoft, ...) as targets")
	c.Flags().StringVar(&o.Dir, "dir", "", "where to write targets.toml and credentials (default: a new temporary directory)")
	c.Flags().IntVar(&o.People, "people", 0, "generated people besides the cast (e.g. 100000 for scale tests)")
	c.Flags().StringVar(&o.OktaAddr, "okta-addr", "", "the Okta fake's address (default 127.0.0.1 on a free port)")
	c.Flags().IntVar(&o.RateLimit, "rate-limit", 0, "the Okta fake's budget of requests per minute per endpoint (default 600), to drill rate limiting")
	return c
}

// watchForwarding redraws the console when a SIEM's forwarding state
// changes (it is checked every second), until the returned function is
// called.
func watchForwarding(p *tea.Program, state func() []forward.Status) func() {
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		t := time.NewTicker(time.Second)
		defer t.Stop()
		header := func() []string {
			var out []string
			for _, s := range state() {
				out = append(out, s.Header())
			}
			return out
		}
		last := header()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				if now := header(); !slices.Equal(now, last) {
					last = now
					p.Send(tui.RefreshMsg{})
				}
			}
		}
	}()
	return func() { close(done); <-finished }
}
