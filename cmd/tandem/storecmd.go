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
	"github.com/tandembot/tandem/store/storecopy"
)

func storeCommand(getenv func(string) string, stderr io.Writer) *cobra.Command {
	c := group(&cobra.Command{
		Use:         "store",
		Short:       "Move the database: copy --from <bbolt file> --to <postgres url>",
		Example:     `  tandem store copy --from tandem.db --to "$TANDEM_DATABASE_URL"`,
		Annotations: map[string]string{"environment": envSection("TANDEM_ENCRYPTION_KEY", "TANDEM_ENCRYPTION_KEY_PREVIOUS")},
	})
	var from, to string
	var force bool
	cp := &cobra.Command{
		Use:   "copy --from <bbolt file> --to <postgres url>",
		Short: "Copy a bbolt database into PostgreSQL (Tandem stopped)",
		Long: `Copy copies every record of a bbolt database into PostgreSQL, encrypted values
as they are: the target needs the same TANDEM_ENCRYPTION_KEY (without it,
the key file <--from>.key). It never creates the bbolt file or a key file.`,
		Example: `  tandem store copy --from tandem.db --to "$TANDEM_DATABASE_URL"
  tandem store copy --from tandem.db --to postgres://tandem@db:5432/tandem --force`,
		Args:        noArgs,
		Annotations: map[string]string{"environment": envSection("TANDEM_ENCRYPTION_KEY", "TANDEM_ENCRYPTION_KEY_PREVIOUS")},
		RunE: func(cmd *cobra.Command, args []string) error {
			if from == "" || to == "" {
				return badUsage("tandem store copy needs --from <bbolt file> and --to <postgres url>")
			}
			return storeCopy(cmd.Context(), getenv, from, to, force, cmd.OutOrStdout(), stderr)
		},
	}
	cp.Flags().StringVar(&from, "from", "", "the bbolt database file to copy (Tandem stopped)")
	cp.Flags().StringVar(&to, "to", "", "the PostgreSQL URL to copy into")
	cp.Flags().BoolVar(&force, "force", false, "replace what the target holds")
	c.AddCommand(cp)
	return c
}

// storeCopy: tandem store copy --from <bbolt file> --to <postgres url> [--force].
func storeCopy(ctx context.Context, getenv func(string) string, from, to string, force bool, stdout, stderr io.Writer) error {
	cfg := storeConfig(getenv)
	cfg.DBPath, cfg.DatabaseURL = from, ""
	var none *app.NoDatabaseError
	if err := app.RequireDB(cfg); errors.As(err, &none) {
		return fmt.Errorf("tandem store copy: there is no bbolt file at %s (--from)", none.Path)
	}
	keys, err := app.OpenExistingKeyring(cfg, app.NewLogger("text", stderr))
	if err != nil {
		return err
	}
	src, err := store.Open(from, store.Options{Keyring: keys})
	if err != nil {
		return errors.New("tandem store copy: " + tandem.ErrorMessage(err))
	}
	defer src.Close()
	dst, err := postgres.Open(ctx, to, postgres.Options{Keyring: keys})
	if err != nil {
		return errors.New("tandem store copy: " + tandem.ErrorMessage(err))
	}
	defer dst.Close()
	rep, err := storecopy.Copy(ctx, src, dst, storecopy.Options{Force: force})
	if err != nil {
		return fmt.Errorf("tandem store copy: %s", tandem.ErrorMessage(err))
	}
	fmt.Fprint(stdout, rep.String())
	fmt.Fprintln(stdout, "copied; encrypted values were copied as they are, so the target needs the same TANDEM_ENCRYPTION_KEY")
	return nil
}
