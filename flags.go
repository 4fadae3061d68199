package main

import (
	"fmt"
	"io"
	"log/slog"
	"os"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// closeInto closes c when a command is done and reports a failure to close
// as the command's error, unless it already has one: closing the audit log
// is its last write, and closing an export is where a full disk shows.
func closeInto(err *error, c io.Closer) {
	if cerr := c.Close(); cerr != nil && *err == nil {
		*err = cerr
	}
}

// sharedFlags are the flags several commands take, defined here once so
// each has one name, default and help text everywhere.
type sharedFlags struct {
	configPath string
	auditPath  string
	debugPath  string
	closeDebug func()
}

// config adds --config.
func (f *sharedFlags) config(fs *pflag.FlagSet) {
	fs.StringVarP(&f.configPath, "config", "c", "targets.toml", "target registry (and optional [okta] table)")
}

// audit adds --audit-db.
func (f *sharedFlags) audit(fs *pflag.FlagSet) {
	fs.StringVar(&f.auditPath, "audit-db", "", "audit log file (env ULC_AUDIT_DB; default $XDG_DATA_HOME/ulc/audit.db)")
}

// debug adds --debug to every command and opens its log before the
// command runs.
func (f *sharedFlags) debug(root *cobra.Command) {
	root.PersistentFlags().StringVar(&f.debugPath, "debug", "", "append a structured log (JSON lines) of what ulc does to this file, for support; it never holds a secret")
}

// openDebug opens the --debug log, if asked for, as e.log.
func (e *env) openDebug() error {
	if e.flags.debugPath == "" || e.flags.closeDebug != nil {
		return nil
	}
	fh, err := os.OpenFile(e.flags.debugPath, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return usageErr("--debug: %v", err)
	}
	e.flags.closeDebug = func() { _ = fh.Close() }
	e.log = slog.New(slog.NewJSONHandler(fh, &slog.HandlerOptions{Level: slog.LevelDebug}))
	e.log.Info("ulc started", "version", buildVersion(), "pid", os.Getpid(), "args", fmt.Sprint(len(os.Args)-1))
	return nil
}
