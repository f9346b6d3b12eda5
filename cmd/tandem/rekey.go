package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strings"

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

// openStore opens the database for an operator command.
func openStore(ctx context.Context, getenv func(string) string, stderr io.Writer) (app.DB, error) {
	cfg := storeConfig(getenv)
	keys, err := app.OpenKeyring(cfg, app.NewLogger("text", stderr))
	if err != nil {
		return nil, err
	}
	return app.OpenDB(ctx, cfg, keys)
}

// rekey re-encrypts every secret still sealed under a previous key with the
// current TANDEM_ENCRYPTION_KEY.
func rekey(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("rekey", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: tandem rekey\n\nRe-encrypts every stored secret under TANDEM_ENCRYPTION_KEY; keys in\nTANDEM_ENCRYPTION_KEY_PREVIOUS must still hold the old ones.")
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	db, err := openStore(ctx, getenv, stderr)
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
