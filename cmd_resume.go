package main

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"ulc/actions"
	"ulc/audit"
	"ulc/tui"
)

func newResumeCmd(e *env) *cobra.Command {
	var o struct {
		configPath, auditPath string
		yes, json, dryRun     bool
	}
	c := &cobra.Command{
		Use:   "resume RUN",
		Short: "Send again what a run did not finish: failed, cancelled, unknown and unsent steps",
		Long: `Resumes a run that was interrupted (the process died), cancelled, or that
ended with failures. Only steps that did not end in revoked, done or
not_found are sent again, as a new run linked to the original, with the
same users, reason and ticket. A step whose answer was lost (unknown) is
sent again: Global Token Revocation is idempotent.

Exit status as for ulc revoke.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			cfg, err := loadConfig(o.configPath)
			if err != nil {
				return err
			}
			log, err := openAudit(e, o.auditPath)
			if err != nil {
				return err
			}
			defer log.Close()
			st, _, err := log.Run(ctx, args[0])
			if err != nil {
				return &exitError{code: exitUsage, err: err}
			}
			if !st.Done && st.Pending() > 0 {
				return usageErr("run %s is still in progress (pid %d on %s): resume it once it has ended", st.RunID, st.Info.PID, st.Info.Host)
			}
			if st.Info.DryRun {
				return usageErr("run %s was a dry run: there is nothing to resume (run ulc revoke without --dry-run)", st.RunID)
			}
			later, err := resumesOf(ctx, log, st.RunID)
			if err != nil {
				return &exitError{code: exitAudit, err: err}
			}
			r := actions.ResumeOf(st, later...)
			if r.Steps == 0 {
				fmt.Fprintf(e.stdout, "run %s: every step succeeded, here or in a resumed run; nothing to resume\n", st.RunID)
				return nil
			}
			if _, err := cfg.Select(r.Targets); err != nil {
				return &exitError{code: exitUsage, err: fmt.Errorf("the run's targets are no longer all in %s: %w", cfg.Path, err)}
			}
			// The resumed run is planned exactly as the console plans one.
			sess := &session{cfg: cfg, log: log, getenv: e.getenv}
			if len(r.OktaSteps) > 0 || st.Info.OktaOrg != "" {
				if sess.okta, err = connectOkta(ctx, e, cfg); err != nil {
					return err
				}
			}
			plan, err := (&engineRunner{sess}).Plan(ctx, tui.RunRequest{
				Users: r.Users, Reason: st.Info.Reason, Ticket: st.Info.Ticket,
				OktaSteps: r.OktaSteps, ForgetDevices: st.Info.ForgetDevices, Targets: r.Targets,
				DryRun: o.dryRun, ResumeOf: st.RunID, Skip: r.Skip,
			})
			if err != nil {
				return &exitError{code: exitUsage, err: err}
			}
			if !o.dryRun && !o.yes {
				if err := confirm(e, plan); err != nil {
					return err
				}
			}
			return executePlan(ctx, e, plan, log, sess.okta, o.json)
		},
	}
	c.Flags().StringVarP(&o.configPath, "config", "c", "targets.toml", "target registry")
	c.Flags().StringVar(&o.auditPath, "audit-db", "", "audit log file (env ULC_AUDIT_DB; default $XDG_DATA_HOME/ulc/audit.db)")
	c.Flags().BoolVarP(&o.yes, "yes", "y", false, "send without asking (required when stdin is not a terminal)")
	c.Flags().BoolVar(&o.json, "json", false, "print one JSON object per event, then a summary line")
	c.Flags().BoolVar(&o.dryRun, "dry-run", false, "build and record the exact requests, send nothing")
	return c
}

// resumesOf returns the runs that resumed id, and the runs that resumed
// those, so a run resumed twice does not send what the first resume fixed.
func resumesOf(ctx context.Context, log *audit.Log, id string) ([]*actions.RunState, error) {
	runs, err := log.Runs(ctx, audit.RunFilter{})
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
		st, _, err := log.Run(ctx, r.RunID)
		if err != nil {
			return nil, err
		}
		out = append(out, st)
	}
	return out, nil
}
