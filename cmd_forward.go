package main

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"ulc/backend"
	"ulc/forward"
	"ulc/internal/safetext"
)

func newAuditForwardCmd(e *env) *cobra.Command {
	var ff struct {
		name         string
		status, json bool
	}
	c := &cobra.Command{
		Use:   "forward [--name NAME] [--status] [--json]",
		Short: "Deliver the log to the SIEMs of [[forward]] now, or say how far behind",
		Long: `Every ulc that writes the audit log (the console, revoke, resume) delivers it
to the [[forward]] destinations of targets.toml in the background, after
each commit, and starts with what is behind. After an outage or a crash,
'ulc audit forward' delivers the rest now and prints, per destination,
"delivered N, behind 0". Each event carries its seq and hash, so a SIEM can
drop the duplicates a retry may cause.

--status only reports: "siem ✓", or "siem ✗ 120 behind: <why>"; it checks
that each destination can be reached and sends nothing.

Exit status: 0 when every destination has every event; 1 when one could not
be reached or refused the events (they stay behind, for the next try), or
with --status when one is behind; 2 for a usage or configuration error
(an unknown --name lists the configured ones); 3 when the audit log cannot
be read.`,
		Example: `  ulc audit forward
  ulc audit forward --name siem
  ulc audit forward --status --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) (err error) {
			return runAuditForward(cmd.Context(), e, ff.name, ff.status, ff.json)
		},
	}
	c.Flags().StringVar(&ff.name, "name", "", "only this destination")
	c.Flags().BoolVar(&ff.status, "status", false, "only report how far behind each destination is, sending nothing")
	c.Flags().BoolVar(&ff.json, "json", false, "print JSON")
	e.flags.config(c.Flags())
	return c
}

func runAuditForward(ctx context.Context, e *env, name string, statusOnly, asJSON bool) (err error) {
	if err := backend.CheckText(name); err != nil {
		return usageErr("--name: %v", err)
	}
	cfg, err := backend.LoadConfig(ctx, e.flags.configPath)
	if err != nil {
		return err
	}
	if len(cfg.Forwards) == 0 {
		return usageErr("%s has no [[forward]] destination: add one (see the README, \"Forwarding to a SIEM\")", cfg.Path)
	}
	if name != "" {
		if _, ok := cfg.Forward(name); !ok {
			names := make([]string, len(cfg.Forwards))
			for i, fw := range cfg.Forwards {
				names[i] = fw.Name
			}
			return usageErr("--name %q: %s has no such [[forward]]; it has %s", safetext.Line(name, 64), cfg.Path, strings.Join(names, ", "))
		}
	}
	if _, serr := os.Stat(e.auditPath()); serr != nil {
		return usageErr("no audit log at %s: nothing to forward (--audit-db names another)", e.auditPath())
	}
	mode := backend.AuditWrite
	if statusOnly {
		mode = backend.AuditRead
	}
	b, err := e.open(ctx, backend.Options{ConfigPath: e.flags.configPath, Audit: mode, ForwardManually: true})
	if err != nil {
		return err
	}
	defer closeInto(&err, b)
	var sts []forward.Status
	start := time.Now()
	if statusOnly {
		if sts, err = b.ForwardStatus(ctx, name); err != nil {
			return err
		}
	} else {
		sts = b.Forward(ctx, name)
	}
	ok := true
	for _, s := range sts {
		ok = ok && s.OK()
	}
	if asJSON {
		type line struct {
			forward.Status
			OK bool `json:"ok"`
		}
		out := struct {
			Destinations []line `json:"destinations"`
			MS           int64  `json:"ms"`
		}{MS: time.Since(start).Milliseconds()}
		for _, s := range sts {
			out.Destinations = append(out.Destinations, line{s, s.OK()})
		}
		if err := writeJSON(e.stdout, out); err != nil {
			return err
		}
	} else {
		for _, s := range sts {
			switch {
			case statusOnly:
				fmt.Fprintln(e.stdout, safetext.Line(s.Line(), 0))
			case s.Error != "":
				fmt.Fprintf(e.stdout, "%s: delivered %d, %d behind: %s\n", s.Name, s.Delivered, s.Behind, safetext.Line(s.Error, 0))
			default:
				fmt.Fprintf(e.stdout, "%s: delivered %d, behind %d\n", s.Name, s.Delivered, s.Behind)
			}
		}
	}
	if !ok {
		return &exitError{code: exitFailures}
	}
	return nil
}
