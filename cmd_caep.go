package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"ulc/actions/caep"
	"ulc/backend"
	"ulc/config"
)

func newCAEPCmd(e *env) *cobra.Command {
	c := &cobra.Command{
		Use:   "caep",
		Short: "Shared Signals (CAEP) targets: the public keys a receiver trusts",
	}
	e.flags.config(c.PersistentFlags())
	jwks := &cobra.Command{
		Use:   "jwks [TARGET]",
		Short: "Print the public JWKS of the caep targets' signing keys, for their receivers",
		Long: `Prints the JSON Web Key Set (RFC 7517) a Shared Signals receiver is
configured with to trust ulc's session-revoked events: the public half of
the jwt_key_file of the named kind "caep" target, or of every one. Publish it
at an https URL your org controls and give that URL to the receiver (in
Okta: Security > Device Integrations > Receive shared signals). It holds no
secret.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			f, err := backend.LoadConfig(cmd.Context(), e.flags.configPath)
			if err != nil {
				return err
			}
			var names []string
			if len(args) == 1 {
				if err := backend.CheckText(args[0]); err != nil {
					return usageErr("%v", err)
				}
				names = args
			}
			targets, err := f.Select(names)
			if err != nil {
				return &exitError{code: exitUsage, err: err}
			}
			n := 0
			for _, t := range targets {
				if t.EffectiveKind() != config.KindCAEP {
					continue
				}
				cred, err := t.LoadCredentialContext(cmd.Context(), e.getenv)
				if err != nil {
					return &exitError{code: exitUsage, err: err}
				}
				out, err := caep.JWKS(cred, "")
				if err != nil {
					return &exitError{code: exitUsage, err: fmt.Errorf("%s: %w", t.Where(), err)}
				}
				fmt.Fprintf(e.stdout, "%s\n", out)
				n++
			}
			if n == 0 {
				return usageErr("%s has no enabled target of kind %q", f.Path, config.KindCAEP)
			}
			return nil
		},
	}
	c.AddCommand(jwks)
	return c
}
