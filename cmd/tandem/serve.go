package main

import (
	"context"
	"io"
	"runtime/debug"
	"time"

	"github.com/tandembot/tandem/app"
)

// serve runs the bot, its HTTP server and the admin socket until ctx ends.
func serve(ctx context.Context, getenv func(string) string, stderr io.Writer) error {
	cfg, err := app.LoadConfig(getenv)
	if err != nil {
		return err
	}
	cfg.Now, cfg.ScheduleTick, cfg.SchemaCheck = clock.now, clock.tick, clock.schemaCheck
	if getenv("GOGC") == "" {
		// Fewer collections: at a burst of turns the collector's work
		// would otherwise take a core's slice from acknowledgements.
		debug.SetGCPercent(defaultGCPercent)
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

// clock is what tests change of tandem serve's time: the clock of turns and
// schedules, how often due schedules are looked for, and how often a
// replica on PostgreSQL reads the schema version again. Unset, as in the
// production binary, it is the wall clock, every 15 and every 10 seconds.
var clock struct {
	now         func() time.Time
	tick        time.Duration
	schemaCheck time.Duration
}

// defaultGCPercent is tandem serve's GOGC unless the environment sets one.
const defaultGCPercent = 400
