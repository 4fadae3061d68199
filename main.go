// Command ulc is the Universal Logout Console: it finds a compromised user in
// the Okta directory, clears their Okta sessions and tokens, sends Global
// Token Revocation to every registered target application, shows each
// answer, and keeps a tamper-evident audit log of all of it.
//
// This file wires the command line: flags, configuration, dependencies and
// exit codes. The work happens in actions/, audit/ and tui/.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/signal"
	"os/user"
	"path/filepath"
	"runtime/debug"
	"syscall"

	"github.com/spf13/cobra"

	"ulc/config"
)

// Exit statuses of ulc. Scripts and SOAR playbooks rely on them.
const (
	exitOK       = 0 // every target revoked or not_found
	exitFailures = 1 // some step rejected, failed or cancelled
	exitUsage    = 2 // bad command line or configuration
	exitAudit    = 3 // the audit log cannot be written; nothing was sent
)

// version is set at build time with -ldflags "-X main.version=...".
var version = ""

// exitError carries an exit status out of a command.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
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
	getenv         func(string) string
}

// run executes the command line and returns the exit status.
func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	e := &env{stdin: stdin, stdout: stdout, stderr: stderr, getenv: os.Getenv}
	root := newRoot(e)
	root.SetArgs(args)
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return exitOK
	}
	var xe *exitError
	if errors.As(err, &xe) {
		if xe.err != nil && xe.err.Error() != "" {
			fmt.Fprintln(stderr, "ulc:", xe.err)
		}
		return xe.code
	}
	fmt.Fprintln(stderr, "ulc:", err)
	return exitUsage // cobra's own errors are about the command line
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
	var co consoleOpts
	addConsoleFlags(root, &co)
	root.Args = cobra.NoArgs
	root.RunE = newConsoleRun(e, &co)
	root.AddCommand(newRevokeCmd(e), newAuditCmd(e), newTargetsCmd(e), newDemoCmd(e), newSandboxCmd(e), newResumeCmd(e))
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

// defaultAuditPath is $ULC_AUDIT_DB, else $XDG_DATA_HOME/ulc/audit.db, else
// ~/.local/share/ulc/audit.db.
func defaultAuditPath(getenv func(string) string) string {
	if p := getenv("ULC_AUDIT_DB"); p != "" {
		return p
	}
	dir := getenv("XDG_DATA_HOME")
	if dir == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			home = "."
		}
		dir = filepath.Join(home, ".local", "share")
	}
	return filepath.Join(dir, "ulc", "audit.db")
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

// loadConfig loads targets.toml; a missing file gets a sentence that says
// what to do instead of a bare "no such file".
func loadConfig(path string) (*config.File, error) {
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		return nil, usageErr("%s does not exist: write one (the ulc repository's targets.toml is a commented example), pass --config, or try 'ulc demo'", path)
	}
	f, err := config.Load(path)
	if err != nil {
		return nil, &exitError{code: exitUsage, err: err}
	}
	return f, nil
}
