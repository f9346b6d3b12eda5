// Command tandem-console tries Tandem in a terminal chat: the same app as
// tandem serve (package app) against a built-in Slack and demo GitHub,
// GitLab, Jira and Google accounts, with nothing to set up. It is a separate
// command so that the production binary, cmd/tandem, does not contain the
// fakes, whose consent pages sign anyone in as anyone.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdin, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
