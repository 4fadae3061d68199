package main

import (
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"ulc/backend"
	"ulc/internal/safetext"
)

func newTargetsCmd(e *env) *cobra.Command {
	c := &cobra.Command{
		Use:   "targets",
		Short: "List and check the target registry (targets.toml)",
	}
	e.flags.config(c.PersistentFlags())

	list := &cobra.Command{
		Use:   "list",
		Short: "List the registered targets",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			f, err := backend.LoadConfig(cmd.Context(), e.flags.configPath)
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tENABLED\tSUBJECT\tBODY KEY\tAUTH\tURL\tTAGS")
			for _, t := range f.Targets {
				fmt.Fprintf(tw, "%s\t%t\t%s\t%s\t%s\t%s\t%s\n", safetext.Line(t.Name, 40), t.Enabled, t.Subject, t.BodyKey, t.Auth,
					safetext.Line(t.URL, 100), safetext.Line(strings.Join(t.Tags, ","), 60))
			}
			return tw.Flush()
		},
	}

	check := &cobra.Command{
		Use:   "check",
		Short: "Validate targets.toml and load every enabled target's credential",
		Long: `Validates targets.toml strictly and loads the credential of every enabled
target (the environment variable is set, the file exists and is private, the
key parses), without sending anything. Exit status 0 when all is well, 2
otherwise.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			f, err := backend.LoadConfig(cmd.Context(), e.flags.configPath)
			if err != nil {
				return err
			}
			targets, err := f.Select(nil)
			if err != nil {
				return &exitError{code: exitUsage, err: err}
			}
			bad := 0
			for _, t := range targets {
				cred, err := t.LoadCredential(e.getenv)
				if err != nil {
					bad++
					fmt.Fprintf(e.stdout, "FAIL  %s\n", sanitizeMessage(err.Error()))
					continue
				}
				fmt.Fprintf(e.stdout, "ok    %-20s %s %s\n", safetext.Line(t.Name, 40), safetext.Line(t.URL, 100), cred)
			}
			if len(targets) == 0 {
				fmt.Fprintf(e.stdout, "%s registers no enabled target\n", safetext.Line(f.Path, 200))
			}
			if bad > 0 {
				return &exitError{code: exitUsage, err: fmt.Errorf("%d of %d targets cannot be used", bad, len(targets))}
			}
			return nil
		},
	}
	c.AddCommand(list, check)
	return c
}
