package main

import (
	"context"
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"ulc/actions"
	"ulc/backend"
	"ulc/config"
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
			fmt.Fprintln(tw, "NAME\tENABLED\tKIND\tSUBJECT\tBODY KEY\tAUTH\tURL\tTAGS")
			for _, t := range f.Targets {
				fmt.Fprintf(tw, "%s\t%t\t%s\t%s\t%s\t%s\t%s\t%s\n", safetext.Line(t.Name, 40), t.Enabled, t.EffectiveKind(),
					dash(t.Subject), dash(t.BodyKey), dash(t.Auth), safetext.Line(t.URL, 100), safetext.Line(strings.Join(t.Tags, ","), 60))
			}
			return tw.Flush()
		},
	}

	var live bool
	check := &cobra.Command{
		Use:   "check",
		Short: "Validate targets.toml and load every enabled target's credential",
		Long: `Validates targets.toml strictly and loads the credential of every enabled
target (the environment variable is set, the file exists and is private, the
key parses), without sending anything. With --live, also proves each
credential with one harmless call: a sign-out of a user that cannot exist
(a healthy target answers that it has no such user), recorded nowhere; a
target that throttles it is asked again, briefly, after the wait it names.
Exit status 0 when all is well, 2 otherwise.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) (err error) {
			b, err := e.open(cmd.Context(), backend.Options{ConfigPath: e.flags.configPath})
			if err != nil {
				return err
			}
			defer closeInto(&err, b)
			targets, err := b.Config().Select(nil)
			if err != nil {
				return &exitError{code: exitUsage, err: err}
			}
			bad := 0
			for _, t := range targets {
				if !checkTarget(cmd.Context(), e, b, t, live) {
					bad++
				}
			}
			if len(targets) == 0 {
				fmt.Fprintf(e.stdout, "%s registers no enabled target\n", safetext.Line(b.Config().Path, 200))
			}
			if bad > 0 {
				return &exitError{code: exitUsage, err: fmt.Errorf("%d of %d targets cannot be used", bad, len(targets))}
			}
			return nil
		},
	}
	check.Flags().BoolVar(&live, "live", false, "also prove each credential with one harmless call to the target")
	c.AddCommand(list, check)
	return c
}

// checkTarget prints whether t can be used: its credential loads and, when
// live, the target accepts it.
func checkTarget(ctx context.Context, e *env, b *backend.Backend, t config.Target, live bool) bool {
	name := safetext.Line(t.Name, 40)
	cred, err := t.LoadCredentialContext(ctx, e.getenv)
	if err != nil {
		// Every line starts with the word and the target's name, so a
		// script or a reader finds a target's lines by its name.
		fmt.Fprintf(e.stdout, "FAIL  %-20s %s\n", name, sanitizeMessage(err.Error()))
		return false
	}
	fmt.Fprintf(e.stdout, "ok    %-20s %-9s %s %s\n", name, t.EffectiveKind(), safetext.Line(t.URL, 100), cred)
	if !live {
		return true
	}
	r := b.Probe(ctx, t)
	if r.Outcome != actions.NotFound {
		fmt.Fprintf(e.stdout, "FAIL  %-20s live: %s\n", name, safetext.Line(r.Verdict, 300))
		return false
	}
	if r.Warning != "" {
		// Reachable and accepted, but a sign-out would be refused.
		fmt.Fprintf(e.stdout, "WARN  %-20s live: %s\n", name, safetext.Line(r.Verdict, 300))
		return false
	}
	fmt.Fprintf(e.stdout, "ok    %-20s live: %s\n", name, safetext.Line(r.Verdict, 300))
	return true
}

// dash shows an empty cell as "-".
func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
