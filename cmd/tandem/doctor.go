package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/tandembot/tandem/app/doctor"
)

// doctorCommand is tandem doctor: doctor.Run's checks, printed; its exit
// status is the number of failed checks (at most 125, above which shells
// give statuses other meanings).
func doctorCommand(getenv func(string) string) *cobra.Command {
	var asJSON bool
	c := &cobra.Command{
		Use:   "doctor",
		Short: "Check the configuration against Slack, the providers, the public URL and the database",
		Long: `Doctor checks the configuration tandem serve would read against the world:
the Slack tokens and the clock, Sign in with Slack, each provider, the public
URL, the database and its key. It starts nothing and writes nothing: no
database, no key file. Its exit status is the number of failed checks
(at most 125): 0 when all pass.`,
		Example: `  tandem doctor
  tandem doctor --json | jq '.[] | select(.ok | not)'`,
		Args:        noArgs,
		Annotations: map[string]string{"environment": envSection(serveEnv()...)},
		RunE: func(cmd *cobra.Command, args []string) error {
			checks := doctor.Run(cmd.Context(), getenv)
			if failed := doctor.Write(cmd.OutOrStdout(), checks, asJSON); failed > 0 {
				return &exitError{code: min(failed, 125), err: fmt.Errorf("tandem doctor: %d of %d checks failed", failed, len(checks))}
			}
			return nil
		},
	}
	c.Flags().BoolVar(&asJSON, "json", false, "print the checks as a JSON array")
	return c
}
