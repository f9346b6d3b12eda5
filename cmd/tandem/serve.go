package main

import (
	"context"
	"flag"
	"io"

	"github.com/tandembot/tandem/app"
)

// serve runs the bot, its HTTP server and the admin socket until ctx ends.
func serve(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	if err := fs.Parse(args); err != nil {
		return err
	}
	cfg, err := app.LoadConfig(getenv)
	if err != nil {
		return err
	}
	a, err := app.New(cfg, app.NewLogger(cfg.LogFormat, stderr))
	if err != nil {
		return err
	}
	defer a.Close()
	stopAdmin := serveAdmin(ctx, a)
	defer stopAdmin()
	return a.Run(ctx)
}
