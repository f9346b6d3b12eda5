// Command tandem runs the Tandem Slack bot ("tandem serve") and its
// operator commands.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

const usage = `usage: tandem [command]

commands:
  serve     run the bot and its HTTP server (the default)
  rekey     re-encrypt stored secrets under the current key
  apikey    create, list or revoke API keys (works while serve runs)
  audit     print the audit trail (works while serve runs)
  sessions  report, notify or keep-owner-credentials for shared sessions
  migrate   upgrade the database to this version's schema (bot stopped)
  store     copy --from <bbolt file> --to <postgres url>: move to PostgreSQL
  version   print the version

To try Tandem in a terminal chat (built-in Slack, demo accounts, no setup),
run the separate console command: go run ./cmd/tandem-console
`

// run is the whole program: main only calls it, and tests call it with their
// own arguments, environment and outputs.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	cmd := "serve"
	if len(args) > 0 {
		cmd, args = args[0], args[1:]
	}
	switch cmd {
	case "serve":
		return serve(ctx, args, getenv, stdout, stderr)
	case "console":
		// The console links the fake Slack and fake providers, whose consent
		// pages sign anyone in as anyone; this binary must not contain them.
		return errors.New("tandem: the console is a separate command: go run ./cmd/tandem-console (or the tandem-console binary)")
	case "apikey", "audit", "sessions":
		return runOp(ctx, cmd, args, getenv, stdout, stderr)
	case "store":
		return storeCmd(ctx, args, getenv, stdout, stderr)
	case "migrate":
		return migrate(ctx, args, getenv, stdout, stderr)
	case "rekey":
		return rekey(ctx, args, getenv, stdout, stderr)
	case "version", "--version", "-version":
		fmt.Fprintln(stdout, "tandem", version)
		return nil
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	fmt.Fprint(stderr, usage)
	return fmt.Errorf("tandem: unknown command %q", cmd)
}
