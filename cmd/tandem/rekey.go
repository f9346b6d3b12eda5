package main

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/tandembot/tandem/app"
)

// storeConfig reads only what opening the store needs, so operator commands
// run without Slack tokens.
func storeConfig(getenv func(string) string) app.Config {
	c := app.Config{DBPath: strings.TrimSpace(getenv("TANDEM_DB")), DatabaseURL: strings.TrimSpace(getenv("TANDEM_DATABASE_URL")),
		EncryptionKey: strings.TrimSpace(getenv("TANDEM_ENCRYPTION_KEY")), LogFormat: "text"}
	if c.DBPath == "" {
		c.DBPath = "tandem.db"
	}
	if v := strings.TrimSpace(getenv("TANDEM_ENCRYPTION_KEY_PREVIOUS")); v != "" {
		c.PreviousKeys = strings.Split(v, ",")
	}
	return c
}

func rekeyCommand(getenv func(string) string, stderr io.Writer) *cobra.Command {
	return &cobra.Command{
		Use:   "rekey",
		Short: "Re-encrypt stored secrets under the current key",
		Long: `Rekey re-encrypts every stored secret under TANDEM_ENCRYPTION_KEY, after a
rotation; the keys in TANDEM_ENCRYPTION_KEY_PREVIOUS must still hold the old
ones. On bbolt it needs the bot stopped. It never creates a database or a key
file.`,
		Example:     `  TANDEM_ENCRYPTION_KEY=$NEW TANDEM_ENCRYPTION_KEY_PREVIOUS=$OLD tandem rekey`,
		Args:        noArgs,
		Annotations: map[string]string{"environment": envSection(storeEnv...)},
		RunE: func(cmd *cobra.Command, args []string) error {
			return rekey(cmd.Context(), getenv, cmd.OutOrStdout(), stderr)
		},
	}
}

// rekey re-encrypts every secret still sealed under a previous key with the
// current TANDEM_ENCRYPTION_KEY.
func rekey(ctx context.Context, getenv func(string) string, stdout, stderr io.Writer) error {
	db, err := app.OpenExistingDB(ctx, storeConfig(getenv), app.NewLogger("text", stderr))
	if err != nil {
		return err
	}
	defer db.Close()
	n, err := db.Rekey(ctx)
	if err != nil {
		return fmt.Errorf("tandem: rekey: %w", err)
	}
	fmt.Fprintf(stdout, "re-encrypted %d secrets under the current key\n", n)
	return nil
}
