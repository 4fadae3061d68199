// Command ulc is the Universal Logout Console: it finds a compromised user in
// the Okta directory, clears their Okta sessions and tokens, sends Global
// Token Revocation to every registered target application, shows each
// answer, and keeps a tamper-evident audit log of all of it.
//
// Package main is the entry point and the cobra wiring: flags, signals and
// exit statuses. The work happens in backend/, which the console (tui/) and
// every command call.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"os/user"
	"runtime/debug"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"ulc/backend"
	"ulc/internal/safetext"
)

// Exit statuses of ulc. Scripts and SOAR playbooks rely on them.
const (
	exitOK       = 0 // every target revoked or not_found
	exitFailures = 1 // some step rejected, failed or cancelled
	exitUsage    = 2 // bad command line or configuration
	exitAudit    = 3 // the audit log cannot be written; nothing was sent
	exitAlarm    = 4 // the watch saw a success for a user after the run
)

// version is set at build time with -ldflags "-X main.version=...".
var version = ""

// exitError carries an exit status out of a command.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string {
	if e.err == nil {
		return ""
	}
	return e.err.Error()
}
func (e *exitError) Unwrap() error { return e.err }

func usageErr(format string, a ...any) error {
	return &exitError{code: exitUsage, err: fmt.Errorf(format, a...)}
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// env is what every command gets from the process.
type env struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	// term is the process's own stdout, unwrapped: the console draws on
	// it and must be able to tell that it is a terminal.
	term   io.Writer
	getenv func(string) string
	// sig is the process's signal registration.
	sig *signals
	// log is the --debug log; it discards when --debug is not given.
	log *slog.Logger
	// flags are the flags several commands share.
	flags sharedFlags
}

// run executes the command line and returns the exit status.
func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	sig := notifySignals(context.Background())
	defer sig.stop()
	out, errOut := &output{w: stdout}, &output{w: stderr}
	e := &env{stdin: stdin, stdout: out, stderr: errOut, term: stdout, getenv: os.Getenv, sig: sig,
		log: slog.New(slog.DiscardHandler)}
	root := newRoot(e)
	root.SetArgs(args)
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.ExecuteContext(sig.ctx)
	if e.flags.closeDebug != nil {
		e.flags.closeDebug()
	}
	if err == nil && out.err != nil {
		// What was printed did not all arrive (a closed pipe, a full
		// disk): a script must not read exit 0 as success.
		err = &exitError{code: exitFailures, err: fmt.Errorf("writing the output: %w", out.err)}
	}
	if err == nil {
		return exitOK
	}
	code, msg := exitStatus(err)
	if msg != "" {
		fmt.Fprintln(errOut, "ulc: "+sanitizeMessage(msg))
	}
	return code
}

// output is stdout or stderr as the commands write to it: it keeps the
// first failed write, so that formatted printing need not check each call
// and a lost write still changes the exit status.
type output struct {
	w   io.Writer
	err error
}

// Write implements io.Writer; after a failure it writes nothing more.
func (o *output) Write(p []byte) (int, error) {
	if o.err != nil {
		return 0, o.err
	}
	n, err := o.w.Write(p)
	if err != nil {
		o.err = err
	}
	return n, err
}

// exitStatus maps a command's error to ulc's exit status and the message
// to print ("" for none).
func exitStatus(err error) (int, string) {
	var xe *exitError
	if errors.As(err, &xe) {
		return xe.code, err.Error()
	}
	var be *backend.Error
	if errors.As(err, &be) {
		switch be.Class {
		case backend.ClassUsage:
			return exitUsage, err.Error()
		case backend.ClassAudit:
			return exitAudit, err.Error()
		}
		return exitFailures, err.Error()
	}
	return exitUsage, err.Error() // cobra's own errors are about the command line
}

// sanitizeMessage makes an error message safe for a terminal: errors echo
// values from the command line, targets.toml and remote answers, any of
// which may hold escape sequences or bidi controls. Lines are kept.
func sanitizeMessage(s string) string {
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		lines[i] = safetext.Line(l, 0)
	}
	return strings.Join(lines, "\n")
}

// signals is the process's one registration for SIGINT, SIGTERM and SIGHUP.
type signals struct {
	// ctx is cancelled by the first signal: a run stops and records what
	// was answered; the console is asked to shut down.
	ctx context.Context
	// hard is cancelled by the second signal. When the console holds it
	// (held), the console quits at once and restores the terminal; else
	// the signal is raised again with its default action, so a headless
	// command ends at once (every event recorded so far is durable).
	hard context.Context
	held atomic.Bool
	stop func()
}

// notifySignals registers for the signals once for the whole process.
func notifySignals(parent context.Context) *signals {
	ctx, cancel := context.WithCancel(parent)
	hard, cancelHard := context.WithCancel(parent)
	s := &signals{ctx: ctx, hard: hard}
	ch := make(chan os.Signal, 2)
	sigs := []os.Signal{os.Interrupt, syscall.SIGTERM, syscall.SIGHUP}
	signal.Notify(ch, sigs...)
	done := make(chan struct{})
	go func() {
		select {
		case <-ch:
			cancel()
		case <-done:
			return
		}
		select {
		case sig := <-ch:
			cancelHard()
			if !s.held.Load() {
				signal.Reset(sigs...)
				if p, err := os.FindProcess(os.Getpid()); err == nil {
					_ = p.Signal(sig)
				}
			}
		case <-done:
		}
	}()
	s.stop = func() {
		signal.Stop(ch)
		close(done)
		cancel()
		cancelHard()
	}
	return s
}

func newRoot(e *env) *cobra.Command {
	root := &cobra.Command{
		Use:   "ulc",
		Short: "Universal Logout Console: log a user out of Okta and every app, with an audit trail",
		Long: `ulc logs a compromised or departing user out everywhere: it clears their Okta
sessions and tokens, sends Global Token Revocation to every application in
targets.toml, shows each answer, and records everything in a tamper-evident
audit log.

Run without a subcommand to open the console.`,
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       buildVersion(),
	}
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return usageErr("%v (see '%s --help')", err, c.CommandPath())
	})
	e.flags.debug(root)
	root.PersistentPreRunE = func(*cobra.Command, []string) error { return e.openDebug() }
	var readOnly bool
	var watch time.Duration
	e.flags.config(root.Flags())
	e.flags.audit(root.Flags())
	root.Flags().BoolVar(&readOnly, "readonly", false, "search and review only: hide every action that changes anything")
	watchFlag(root, &watch)
	root.Args = func(c *cobra.Command, args []string) error {
		if len(args) == 0 {
			return nil
		}
		// A mistyped command is most likely what was meant by it.
		msg := fmt.Sprintf("unknown command %q for %q", args[0], c.CommandPath())
		if s := c.SuggestionsFor(args[0]); len(s) > 0 {
			msg += fmt.Sprintf(": did you mean %q?", s[0])
		}
		return usageErr("%s (see 'ulc --help')", safetext.Line(msg, 200))
	}
	root.RunE = func(cmd *cobra.Command, _ []string) error { return runConsoleCmd(cmd.Context(), e, readOnly, watch) }
	root.AddCommand(newRevokeCmd(e), newAuditCmd(e), newTargetsCmd(e), newDemoCmd(e), newSandboxCmd(e), newResumeCmd(e), newCAEPCmd(e), newWatchCmd(e))
	return root
}

// buildVersion returns the version stamped at build time, else the module
// version, else "dev".
func buildVersion() string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "dev"
}

// operator names who is running ulc: the OS user.
func operator() string {
	if u, err := user.Current(); err == nil && u.Username != "" {
		return u.Username
	}
	if n := os.Getenv("USER"); n != "" {
		return n
	}
	return "unknown"
}

func hostname() string {
	h, err := os.Hostname()
	if err != nil {
		return "unknown"
	}
	return h
}

// auditPath is --audit-db, else the default.
func (e *env) auditPath() string {
	if e.flags.auditPath != "" {
		return e.flags.auditPath
	}
	return backend.DefaultAuditPath(e.getenv)
}

// open opens a backend with the process's environment and the shared
// flags.
func (e *env) open(ctx context.Context, o backend.Options) (*backend.Backend, error) {
	if o.AuditPath == "" {
		o.AuditPath = e.flags.auditPath
	}
	o.Getenv = e.getenv
	if home, err := os.UserHomeDir(); err == nil {
		o.Home = home
	}
	o.Version, o.Operator, o.Host, o.Logger = buildVersion(), operator(), hostname(), e.log
	return backend.Open(ctx, o)
}
