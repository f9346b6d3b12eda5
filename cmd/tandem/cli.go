package main

import (
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/tandembot/tandem"
	"github.com/tandembot/tandem/app"
)

// newRoot builds tandem's command tree. Every command's --help (and
// "tandem help COMMAND") prints its own flags, the environment it reads and
// examples; a mistake in the command line is a *usageError.
func newRoot(getenv func(string) string, stdout, stderr io.Writer) *cobra.Command {
	root := &cobra.Command{
		Use:   "tandem",
		Short: "Tandem, the Slack bot in which every thread is a shared session",
		Long: `Tandem is a Slack bot in which every Slack thread is a shared session.
With no command, tandem runs "tandem serve".

To try Tandem in a terminal chat (built-in Slack, demo accounts, no setup),
run the separate console command: go run ./cmd/tandem-console`,
		Example: `  tandem                        # the same as tandem serve
  tandem apikey create --user U012AB3CD ci
  tandem audit --since 24h
  tandem help sessions report
  source <(tandem completion bash)`,
		Version: version,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 {
				return unknownCommand(cmd, args[0])
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			return serve(cmd.Context(), getenv, stderr)
		},
		SilenceErrors: true,
		SilenceUsage:  true,
		Annotations:   map[string]string{"environment": "  as tandem serve (see tandem serve --help)"},
	}
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.SetVersionTemplate("tandem {{.Version}}\n")
	root.SetUsageTemplate(usageTemplate)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error {
		return &usageError{err: err, usage: true}
	})
	root.SetHelpCommand(helpCommand())
	root.AddCommand(
		serveCommand(getenv, stderr),
		ops["apikey"](cliRunner(getenv, stderr)),
		ops["audit"](cliRunner(getenv, stderr)),
		ops["sessions"](cliRunner(getenv, stderr)),
		ops["schedules"](cliRunner(getenv, stderr)),
		doctorCommand(getenv),
		migrateCommand(getenv, stderr),
		rekeyCommand(getenv, stderr),
		storeCommand(getenv, stderr),
		versionCommand(),
		consoleCommand(),
	)
	// cobra's generator for bash, zsh, fish and powershell; made here
	// (cobra would add it during Execute) to treat "tandem completion" and
	// "tandem completion nosh" as usage errors like any other group.
	root.InitDefaultCompletionCmd()
	for _, c := range root.Commands() {
		if c.Name() == "completion" {
			group(c)
			c.Example = "  source <(tandem completion bash)\n  tandem completion zsh > \"${fpath[1]}/_tandem\"\n  tandem completion fish > ~/.config/fish/completions/tandem.fish"
		}
	}
	return root
}

// usageTemplate is cobra's, with an Environment section (from the
// "environment" annotation) and a group's line without [flags].
const usageTemplate = `Usage:{{if and .Runnable (ne (index .Annotations "group") "true")}}
  {{.UseLine}}{{end}}{{if .HasAvailableSubCommands}}
  {{.CommandPath}} [command]{{end}}{{if gt (len .Aliases) 0}}

Aliases:
  {{.NameAndAliases}}{{end}}{{if .HasAvailableSubCommands}}

Commands:{{range .Commands}}{{if (or .IsAvailableCommand (eq .Name "help"))}}
  {{rpad .Name .NamePadding }} {{.Short}}{{end}}{{end}}{{end}}{{if .HasAvailableLocalFlags}}

Flags:
{{.LocalFlags.FlagUsages | trimTrailingWhitespaces}}{{end}}{{if .HasAvailableInheritedFlags}}

Global Flags:
{{.InheritedFlags.FlagUsages | trimTrailingWhitespaces}}{{end}}{{with index .Annotations "environment"}}

Environment:
{{.}}{{end}}{{if .HasExample}}

Examples:
{{.Example}}{{end}}{{if .HasAvailableSubCommands}}

Use "{{.CommandPath}} [command] --help" for more information about a command.{{end}}
`

// group makes c a command that only holds subcommands: run alone or with
// an unknown subcommand, it is a usage error (cobra would print the help
// and succeed).
func group(c *cobra.Command) *cobra.Command {
	c.Args = cobra.ArbitraryArgs
	c.RunE = func(cmd *cobra.Command, args []string) error {
		if len(args) == 0 {
			var names []string
			for _, sub := range cmd.Commands() {
				if sub.IsAvailableCommand() {
					names = append(names, sub.Name())
				}
			}
			return badUsage("%s needs a command: %s", cmd.CommandPath(), strings.Join(names, ", "))
		}
		return unknownCommand(cmd, args[0])
	}
	if c.Annotations == nil {
		c.Annotations = map[string]string{}
	}
	c.Annotations["group"] = "true"
	return c
}

func unknownCommand(cmd *cobra.Command, name string) error {
	msg := fmt.Sprintf("unknown command %q", name)
	if s := cmd.SuggestionsFor(name); len(s) > 0 {
		msg += " (did you mean " + strings.Join(s, " or ") + "?)"
	}
	return badUsage("%s", msg)
}

// noArgs, exactArgs and maxArgs are cobra's argument checks as usage errors.
func noArgs(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		return badUsage("%s takes no arguments, got %q", cmd.CommandPath(), args[0])
	}
	return nil
}

func exactArgs(n int, what string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) != n {
			return badUsage("%s needs %s", cmd.CommandPath(), what)
		}
		return nil
	}
}

func maxArgs(n int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) > n {
			return badUsage("%s takes at most %d argument(s), got %q", cmd.CommandPath(), n, args)
		}
		return nil
	}
}

// helpCommand is "tandem help [command]": cobra's, except that an unknown
// topic is a usage error instead of a success.
func helpCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "help [command]",
		Short: "Help about any command",
		Long:  "Help prints the help of any command: its flags, the environment it reads and examples.",
		Example: `  tandem help serve
  tandem help sessions report`,
		Args: cobra.ArbitraryArgs,
		RunE: func(c *cobra.Command, args []string) error {
			target, rest, err := c.Root().Find(args)
			if err != nil || target == nil || len(rest) > 0 {
				topic := strings.Join(args, " ")
				return &usageError{err: fmt.Errorf("unknown help topic %q", topic), usage: true, cmd: c.Root()}
			}
			target.InitDefaultHelpFlag()
			target.InitDefaultVersionFlag()
			return target.Help()
		},
	}
}

// Environment variables, described once for every command's help.
var envHelp = map[string]string{
	"SLACK_APP_TOKEN":                     "app-level token (xapp-…) with connections:write, for Socket Mode (required)",
	"SLACK_BOT_TOKEN":                     "bot token (xoxb-…) from OAuth & Permissions (required)",
	"TANDEM_SLACK_CLIENT_ID":              "the Slack app's Client ID, for Sign in with Slack (required unless TANDEM_CONNECT_WITHOUT_SLACK_SIGNIN=true)",
	"TANDEM_SLACK_CLIENT_SECRET":          "the Slack app's Client Secret (Basic Information → App Credentials)",
	"TANDEM_SLACK_API_URL":                "Slack Web API base (default https://slack.com/api/)",
	"TANDEM_SLACK_AUTH_URL":               "Slack's sign-in page (default https://slack.com/openid/connect/authorize)",
	"TANDEM_CONNECT_WITHOUT_SLACK_SIGNIN": "true runs connect links without Sign in with Slack (default false)",
	"TANDEM_DB":                           "the bbolt database file (default tandem.db); tandem serve answers operator commands on <TANDEM_DB>.sock",
	"TANDEM_DATABASE_URL":                 "postgres://…: PostgreSQL instead of the bbolt file (several replicas)",
	"TANDEM_ENCRYPTION_KEY":               "base64 of 32 bytes that encrypts tokens at rest (default: the key file <TANDEM_DB>.key, which only tandem serve creates)",
	"TANDEM_ENCRYPTION_KEY_PREVIOUS":      "comma-separated older keys that still decrypt during a rotation",
	"TANDEM_TEAM":                         "the Slack team id (T…) when no tandem serve is running",
	"TANDEM_PUBLIC_URL":                   "base URL people's browsers reach (default http://localhost:8080)",
	"TANDEM_HTTP_ADDR":                    "listen address of the HTTP server (default :8080)",
	"TANDEM_ADMINS":                       "comma-separated Slack user ids treated as channel admins everywhere",
	"TANDEM_LOG_FORMAT":                   "text or json (default text)",
	"TANDEM_SHUTDOWN_TIMEOUT":             "on SIGTERM, how long running turns may finish (default 25s)",
	"TANDEM_PROVIDER_TIMEOUT":             "bound on each provider HTTP call (default 10s)",
	"TANDEM_CONCURRENCY":                  "turns running at once for each provider (default 64)",
	"TANDEM_LEASE_TTL":                    "how soon another replica takes over a dead one's sessions (default 30s)",
	"TANDEM_REORDER_WINDOW":               "how long a turn waits for an earlier message recorded by another replica (default 0 on bbolt, 300ms on PostgreSQL)",
	"TANDEM_AUDIT_RETENTION":              "how long audit records are kept (default 90d)",
	"TANDEM_REPLICA_ID":                   "this process's name in metrics (default the host name)",
	"TANDEM_SLACK_PING_INTERVAL":          "how long to wait for Slack's WebSocket ping before reconnecting (default 30s)",
	"TANDEM_LLM_URL":                      "the language model's base URL for free-form requests (agent turns; off when unset)",
	"TANDEM_LLM_MODEL":                    "the language model's name (required with TANDEM_LLM_URL)",
	"TANDEM_LLM_API_KEY":                  "the language model's API key",
	"TANDEM_LLM_API":                      "openai (Chat Completions, the default) or anthropic (Messages)",
	"TANDEM_AGENT_MAX_CALLS":              "tool calls an agent turn may make (default 8)",
	"TANDEM_AGENT_TIMEOUT":                "how long an agent turn may plan (default 60s)",
	"TANDEM_SCHEDULES_PER_USER":           "schedules one person may have (default 20)",
	"TANDEM_SCHEDULE_GRACE":               "how late a run missed while Tandem was down still runs; later ones are skipped (default 1h)",
}

// describeEnv returns what envHelp says of name, or for a provider's
// TANDEM_<P>_* variable what its suffix means; ok is false for a variable
// nobody described.
func describeEnv(name string) (desc string, ok bool) {
	if d, ok := envHelp[name]; ok {
		return d, true
	}
	rest, found := strings.CutPrefix(name, "TANDEM_")
	if !found {
		return "", false
	}
	for suffix, what := range map[string]string{
		"_CLIENT_ID":     "%s's OAuth client id (with the secret, enables %s)",
		"_CLIENT_SECRET": "%s's OAuth client secret",
		"_URL":           "self-hosted %s base URL (https://HOST)",
		"_AUTH_URL":      "%s's authorization endpoint, instead of the default",
		"_TOKEN_URL":     "%s's token endpoint, instead of the default",
		"_API_URL":       "%s's API base, instead of the default",
	} {
		p, found := strings.CutSuffix(rest, suffix)
		if !found || strings.Contains(p, "_") {
			continue
		}
		n := tandem.ProviderID(strings.ToLower(p)).Name()
		return strings.ReplaceAll(what, "%s", n), true
	}
	return "", false
}

// envSection renders names, one a line, for a command's Environment help.
func envSection(names ...string) string {
	width := 0
	for _, n := range names {
		width = max(width, len(n))
	}
	var b strings.Builder
	for i, n := range names {
		d, ok := describeEnv(n)
		if !ok {
			d = "see README.md, Configuration"
		}
		if i > 0 {
			b.WriteByte('\n')
		}
		fmt.Fprintf(&b, "  %-*s  %s", width, n, d)
	}
	return b.String()
}

// serveEnv lists every variable app.LoadConfig reads, in its order: the
// help can never miss one.
func serveEnv() []string {
	var names []string
	app.LoadConfig(func(k string) string {
		if !slices.Contains(names, k) {
			names = append(names, k)
		}
		return ""
	})
	return names
}

// storeEnv are the variables of commands that open the database.
var storeEnv = []string{"TANDEM_DB", "TANDEM_DATABASE_URL", "TANDEM_ENCRYPTION_KEY", "TANDEM_ENCRYPTION_KEY_PREVIOUS"}

func serveCommand(getenv func(string) string, stderr io.Writer) *cobra.Command {
	return &cobra.Command{
		Use:   "serve",
		Short: "Run the bot, its HTTP server and the admin socket (the default)",
		Long: `Serve connects to Slack over Socket Mode, serves the OAuth callbacks, the
HTTP API, /healthz, /readyz and /metrics on TANDEM_HTTP_ADDR, and answers
operator commands (apikey, audit, sessions) on the admin socket beside the
database. It checks the whole configuration first and reports every problem
at once. It creates the database and the key file when there are none.
Defaults and details: README.md, Configuration.`,
		Example: `  SLACK_APP_TOKEN=xapp-… SLACK_BOT_TOKEN=xoxb-… \
  TANDEM_SLACK_CLIENT_ID=… TANDEM_SLACK_CLIENT_SECRET=… \
  TANDEM_GITHUB_CLIENT_ID=… TANDEM_GITHUB_CLIENT_SECRET=… tandem serve`,
		Args:        noArgs,
		Annotations: map[string]string{"environment": envSection(serveEnv()...)},
		RunE: func(cmd *cobra.Command, args []string) error {
			return serve(cmd.Context(), getenv, stderr)
		},
	}
}

func versionCommand() *cobra.Command {
	return &cobra.Command{
		Use:     "version",
		Short:   "Print the version",
		Example: "  tandem version\n  tandem --version",
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			fmt.Fprintln(cmd.OutOrStdout(), "tandem", version)
			return nil
		},
	}
}

// consoleCommand points to cmd/tandem-console. The console links the fake
// Slack and fake providers, whose consent pages sign anyone in as anyone;
// this binary must not contain them.
func consoleCommand() *cobra.Command {
	c := &cobra.Command{
		Use:     "console",
		Short:   "Moved: the console is the separate command tandem-console",
		Example: "  go run ./cmd/tandem-console",
		Hidden:  true,
		Args:    cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return errors.New("tandem: the console is a separate command: go run ./cmd/tandem-console (or the tandem-console binary)")
		},
	}
	// Its old flags (--auto-consent) still reach the pointer.
	c.FParseErrWhitelist.UnknownFlags = true
	return c
}
