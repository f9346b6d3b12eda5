package main

import (
	"context"
	"io"

	"github.com/tandembot/tandem/app"
)

// serve runs the bot, its HTTP server and the admin socket until ctx ends.
func serve(ctx context.Context, getenv func(string) string, stderr io.Writer) error {
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
