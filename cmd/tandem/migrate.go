package main

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/tandembot/tandem"
	"github.com/tandembot/tandem/app"
	"github.com/tandembot/tandem/store"
	"github.com/tandembot/tandem/store/postgres"
)

func migrateCommand(getenv func(string) string, stderr io.Writer) *cobra.Command {
	return &cobra.Command{
		Use:   "migrate",
		Short: "Upgrade the database to this version's schema (bot stopped)",
		Long: `Migrate upgrades the database to this binary's schema. On bbolt it needs the
bot stopped and first copies the file to <TANDEM_DB>.schemaN-TIME.bak; on
PostgreSQL it applies the embedded migrations, one transaction each (take a
pg_dump first), and creates the schema in an empty database. It never
creates a bbolt file or a key file.`,
		Example: `  tandem migrate
  TANDEM_DATABASE_URL=postgres://tandem@db:5432/tandem tandem migrate`,
		Args:        noArgs,
		Annotations: map[string]string{"environment": envSection(storeEnv...)},
		RunE: func(cmd *cobra.Command, args []string) error {
			return migrate(cmd.Context(), getenv, cmd.OutOrStdout(), stderr)
		},
	}
}

// migrate upgrades the database to this binary's schema. It needs the bot
// stopped: bbolt lets one process hold the file, and a schema change must
// not run under a live bot.
func migrate(ctx context.Context, getenv func(string) string, stdout, stderr io.Writer) error {
	cfg := storeConfig(getenv)
	if err := app.RequireDB(cfg); err != nil {
		return err
	}
	keys, err := app.OpenExistingKeyring(cfg, app.NewLogger("text", stderr))
	if err != nil {
		return err
	}
	if cfg.DatabaseURL != "" {
		from, to, err := postgres.Migrate(ctx, cfg.DatabaseURL, postgres.Options{Keyring: keys})
		if err != nil {
			return errors.New("tandem migrate: " + tandem.ErrorMessage(err))
		}
		if from == to {
			fmt.Fprintf(stdout, "%s is at schema %d already; nothing to do\n", app.DescribeDB(cfg), to)
		} else {
			fmt.Fprintf(stdout, "migrated %s from schema %d to %d (each step in its own transaction; take a pg_dump first for a backup)\n", app.DescribeDB(cfg), from, to)
		}
		return nil
	}
	from, to, backup, err := store.Migrate(cfg.DBPath, store.Options{Keyring: keys})
	if err != nil {
		if tandem.ErrorCode(err) == tandem.EUNAVAILABLE {
			return fmt.Errorf("tandem migrate: %s; stop it first: a schema upgrade needs the database to itself", tandem.ErrorMessage(err))
		}
		return errors.New("tandem migrate: " + tandem.ErrorMessage(err))
	}
	if from == to {
		fmt.Fprintf(stdout, "%s is at schema %d already; nothing to do\n", cfg.DBPath, to)
		return nil
	}
	// Opening checks the result: version and key.
	db, err := store.Open(cfg.DBPath, store.Options{Keyring: keys})
	if err != nil {
		return fmt.Errorf("tandem migrate: the upgraded database does not open (%s); the backup is %s", tandem.ErrorMessage(err), backup)
	}
	counts, _ := db.Counts()
	db.Close()
	fmt.Fprintf(stdout, "migrated %s from schema %d to %d\nbackup of the old database: %s\nrecords: %d sessions, %d links, %d turns, %d audit records\n",
		cfg.DBPath, from, to, backup, counts["sessions"], counts["links"], counts["turns"], counts["audit"])
	return nil
}
