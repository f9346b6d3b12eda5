package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/tandembot/tandem"
	"github.com/tandembot/tandem/app"
	"github.com/tandembot/tandem/store"
	"github.com/tandembot/tandem/store/postgres"
	"github.com/tandembot/tandem/store/storecopy"
)

// storeCmd: tandem store copy --from <bbolt file> --to <postgres url> [--force].
func storeCmd(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "copy" {
		return errors.New("usage: tandem store copy --from <bbolt file> --to <postgres url> [--force]")
	}
	fs := flag.NewFlagSet("store copy", flag.ContinueOnError)
	fs.SetOutput(stderr)
	from := fs.String("from", "", "the bbolt database file to copy (Tandem stopped)")
	to := fs.String("to", "", "the PostgreSQL URL to copy into")
	force := fs.Bool("force", false, "replace what the target holds")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if *from == "" || *to == "" {
		return errors.New("tandem store copy needs --from <bbolt file> and --to <postgres url>")
	}
	cfg := storeConfig(getenv)
	cfg.DBPath = *from
	keys, err := app.OpenKeyring(cfg, app.NewLogger("text", stderr))
	if err != nil {
		return err
	}
	src, err := store.Open(*from, store.Options{Keyring: keys})
	if err != nil {
		return errors.New("tandem store copy: " + tandem.ErrorMessage(err))
	}
	defer src.Close()
	dst, err := postgres.Open(ctx, *to, postgres.Options{Keyring: keys})
	if err != nil {
		return errors.New("tandem store copy: " + tandem.ErrorMessage(err))
	}
	defer dst.Close()
	rep, err := storecopy.Copy(ctx, src, dst, storecopy.Options{Force: *force})
	if err != nil {
		return fmt.Errorf("tandem store copy: %s", tandem.ErrorMessage(err))
	}
	fmt.Fprint(stdout, rep.String())
	fmt.Fprintln(stdout, "copied; encrypted values were copied as they are, so the target needs the same TANDEM_ENCRYPTION_KEY")
	return nil
}
