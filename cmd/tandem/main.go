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
	"strings"
	"syscall"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	stop()
	os.Exit(exitCode(err, os.Stderr))
}

// exitCode writes err to stderr unless run already did, and returns the
// process's exit status: 0 for nil, the code of an *exitError, else 1.
func exitCode(err error, stderr io.Writer) int {
	if err == nil {
		return 0
	}
	var ee *exitError
	if errors.As(err, &ee) {
		if !ee.shown {
			fmt.Fprintln(stderr, ee)
		}
		return ee.code
	}
	fmt.Fprintln(stderr, err)
	return 1
}

// exitError is an error with its own exit status: run returns one (status
// 2) for a mistake in the command line, after writing the message and the
// command's usage to stderr (shown).
type exitError struct {
	code  int
	err   error
	msg   string // when set, what Error says instead of err
	shown bool
}

func (e *exitError) Error() string {
	if e.msg != "" {
		return e.msg
	}
	return e.err.Error()
}
func (e *exitError) Unwrap() error { return e.err }

// usageError is a mistake in the command line. run writes it to stderr
// with the usage of the command it was made on when usage is true (unknown
// or missing commands, flags and arguments), or else with a pointer to the
// command's --help (a value that is not right), and exits 2.
type usageError struct {
	err   error
	usage bool
	cmd   *cobra.Command // whose usage to show, when not the one it was made on
}

func (e *usageError) Error() string { return e.err.Error() }
func (e *usageError) Unwrap() error { return e.err }

// badUsage is a usageError shown with the command's usage.
func badUsage(format string, args ...any) error {
	return &usageError{err: fmt.Errorf(format, args...), usage: true}
}

// badValue is a usageError shown with a pointer to --help.
func badValue(format string, args ...any) error {
	return &usageError{err: fmt.Errorf(format, args...)}
}

// run is the whole program: main only calls it, and tests call it with their
// own arguments, environment and outputs. A mistake in the command line
// returns an *exitError with status 2 whose message and usage are already
// on stderr.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	root := newRoot(getenv, stdout, stderr)
	// longFlags never returns nil, which would make cobra read os.Args.
	root.SetArgs(longFlags(root, args))
	cmd, err := root.ExecuteContextC(ctx)
	var ue *usageError
	if !errors.As(err, &ue) {
		return err
	}
	if cmd == nil {
		cmd = root
	}
	msg := strings.TrimSpace(err.Error())
	if !strings.HasPrefix(msg, "tandem") {
		msg = cmd.CommandPath() + ": " + msg
	}
	if ue.cmd != nil {
		cmd = ue.cmd
		cmd.InitDefaultHelpFlag()
		cmd.InitDefaultVersionFlag()
	}
	if ue.usage {
		fmt.Fprintf(stderr, "%s\n\n%s", msg, cmd.UsageString())
	} else {
		fmt.Fprintf(stderr, "%s\nRun '%s --help' for usage.\n", msg, cmd.CommandPath())
	}
	return &exitError{code: 2, err: err, msg: msg, shown: true}
}

// longFlags accepts the single-dash long flags of the standard flag
// package, which tandem's commands used before (-json, -version), by
// rewriting each one that names a flag of some tandem command to its
// double-dash form. Nothing after "--" changes. The result is a new slice,
// never nil.
func longFlags(root *cobra.Command, args []string) []string {
	names := map[string]bool{"help": true, "version": true}
	var walk func(*cobra.Command)
	walk = func(c *cobra.Command) {
		c.LocalFlags().VisitAll(func(f *pflag.Flag) { names[f.Name] = true })
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root)
	out := make([]string, len(args))
	copy(out, args)
	for i, a := range out {
		if a == "--" {
			break
		}
		name, _, _ := strings.Cut(strings.TrimPrefix(a, "-"), "=")
		if strings.HasPrefix(a, "-") && !strings.HasPrefix(a, "--") && len(name) > 1 && names[name] {
			out[i] = "-" + a
		}
	}
	return out
}
