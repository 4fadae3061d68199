package main

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"ulc/actions"
	"ulc/backend"
	"ulc/internal/safetext"
)

func newResumeCmd(e *env) *cobra.Command {
	var o struct{ yes, json, dryRun bool }
	c := &cobra.Command{
		Use:   "resume RUN",
		Short: "Send again what a run did not finish: failed, cancelled, unknown and unsent steps",
		Long: `Resumes a run that was interrupted (the process died), cancelled, or that
ended with failures. Only steps that did not end in revoked, done or
not_found, there or in any run that already resumed it, are sent again, as a
new run linked to the original, with the same users, reason and ticket. The
console's R does exactly the same. A step whose answer was lost (unknown) is
sent again: Global Token Revocation is idempotent.

Exit status as for ulc revoke.`,
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) != 1 {
				return usageErr("name the run to resume: ulc audit list shows the runs, newest first, with their ids (a unique prefix of an id is enough)")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) (err error) {
			ctx := cmd.Context()
			if err := backend.CheckText(args[0]); err != nil {
				return usageErr("%v", err)
			}
			configPath := e.flags.configPath
			if !cmd.Flags().Changed("config") {
				configPath = recordedConfig(ctx, e, args[0], configPath)
			}
			b, err := e.open(ctx, backend.Options{ConfigPath: configPath, Okta: backend.OktaOnDemand, Audit: backend.AuditWrite})
			if err != nil {
				return err
			}
			defer closeInto(&err, b)
			plan, err := b.Resume(ctx, args[0], o.dryRun)
			if errors.Is(err, actions.ErrNothingToResume) {
				fmt.Fprintln(e.stdout, sanitizeMessage(err.Error()))
				return nil
			}
			if err != nil {
				return err
			}
			warnUnusable(e, plan)
			if !o.dryRun && !o.yes {
				if err := confirm(e, plan); err != nil {
					return err
				}
			}
			return executePlan(ctx, e, b, plan, o.json)
		},
	}
	e.flags.config(c.Flags())
	c.Flags().Lookup("config").Usage = "target registry (default: the one the run recorded, else targets.toml)"
	e.flags.audit(c.Flags())
	c.Flags().BoolVarP(&o.yes, "yes", "y", false, "send without asking (required when stdin is not a terminal)")
	c.Flags().BoolVar(&o.json, "json", false, "print one JSON object per event, then a summary line")
	c.Flags().BoolVar(&o.dryRun, "dry-run", false, "build and record the exact requests, send nothing")
	return c
}

// recordedConfig is the targets.toml run id recorded, for a resume without
// --config: the run is sent again to the targets it was planned with, not
// to whatever targets.toml the current directory holds. It says which file
// it uses, and falls back to def when the run recorded none or its file is
// gone.
func recordedConfig(ctx context.Context, e *env, id, def string) string {
	b, err := e.open(ctx, backend.Options{Audit: backend.AuditRead})
	if err != nil {
		return def // the resume itself reports what is wrong with the log
	}
	st, _, err := b.Run(ctx, id)
	_ = b.Close() // read-only: nothing to lose
	if err != nil || st.Info.ConfigPath == "" {
		return def
	}
	path := st.Info.ConfigPath
	if _, err := os.Stat(path); err != nil {
		fmt.Fprintf(e.stderr, "the run's targets.toml %s is gone; using %s (--config names another)\n", safetext.Line(path, 300), safetext.Line(def, 300))
		return def
	}
	note := ""
	if cfg, err := backend.LoadConfig(ctx, path); err == nil && st.Info.ConfigDigest != "" && cfg.Digest != st.Info.ConfigDigest {
		note = "; it has changed since the run"
	}
	fmt.Fprintf(e.stderr, "using the run's targets.toml, %s (recorded with the run; --config names another%s)\n", safetext.Line(path, 300), note)
	return path
}
