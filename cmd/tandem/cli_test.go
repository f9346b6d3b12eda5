package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/spf13/cobra"

	"github.com/tandembot/tandem"
	"github.com/tandembot/tandem/api"
	"github.com/tandembot/tandem/app"
	"github.com/tandembot/tandem/app/doctor"
	"github.com/tandembot/tandem/secrets"
	"github.com/tandembot/tandem/store"
	"github.com/tandembot/tandem/store/postgres/pgtest"
)

// cliRun runs tandem with args and the environment vars, as main does.
func cliRun(t *testing.T, vars map[string]string, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var out, errOut bytes.Buffer
	err = run(context.Background(), args, func(k string) string { return vars[k] }, &out, &errOut)
	return out.String(), errOut.String(), err
}

// exitStatus is the status main would exit with.
func exitStatus(err error) int { return exitCode(err, &bytes.Buffer{}) }

// cliCommand is one command of the tree, as the help should show it.
type cliCommand struct {
	path  string   // below "tandem"; "" is tandem itself
	flags []string // its own flags, which its help lists
	not   []string // flags of its siblings, which its help must not list
	env   []string // variables its help names
	// try is a run that does real work: in an empty directory it must fail
	// without creating anything (nil: the command only prints).
	try []string
	// noDatabase: try fails because there is no database.
	noDatabase bool
	// acceptsUnknownFlags: tandem console takes its old flags to print its
	// pointer.
	acceptsUnknownFlags bool
}

var opEnvNames = []string{"TANDEM_DB", "TANDEM_DATABASE_URL", "TANDEM_ENCRYPTION_KEY", "TANDEM_ENCRYPTION_KEY_PREVIOUS"}

var cliCommands = []cliCommand{
	{path: "", flags: []string{"--version"}},
	{path: "serve", env: []string{"SLACK_APP_TOKEN", "SLACK_BOT_TOKEN", "TANDEM_DB", "TANDEM_DATABASE_URL", "TANDEM_ENCRYPTION_KEY", "TANDEM_PUBLIC_URL", "TANDEM_HTTP_ADDR", "TANDEM_SLACK_CLIENT_ID", "TANDEM_GITHUB_CLIENT_ID", "TANDEM_JIRA_URL"}, not: []string{"--version", "--user"}},
	{path: "apikey", env: append(opEnvNames, "TANDEM_TEAM"), not: []string{"--user", "--json"}},
	{path: "apikey create", flags: []string{"--user", "--name", "--expires", "--scope", "--team"}, not: []string{"--json"}, env: append(opEnvNames, "TANDEM_TEAM"),
		try: []string{"--user", "U123ABC", "ci"}, noDatabase: true},
	{path: "apikey list", flags: []string{"--user", "--team", "--json"}, not: []string{"--expires", "--name", "--scope"}, env: append(opEnvNames, "TANDEM_TEAM"),
		try: []string{}, noDatabase: true},
	{path: "apikey revoke", not: []string{"--user", "--json", "--expires"}, env: opEnvNames, try: []string{"tdm_abc"}, noDatabase: true},
	{path: "audit", flags: []string{"--session", "--user", "--since", "--limit", "--json"}, env: opEnvNames, try: []string{"--json"}, noDatabase: true},
	{path: "sessions", env: opEnvNames, not: []string{"--channel", "--send"}},
	{path: "sessions report", flags: []string{"--channel", "--json"}, not: []string{"--send", "--all-not-ready", "--operator"}, env: opEnvNames,
		try: []string{}, noDatabase: true},
	{path: "sessions notify", flags: []string{"--channel", "--send"}, not: []string{"--json", "--all-not-ready"}, env: opEnvNames,
		try: []string{"--send"}, noDatabase: true},
	{path: "sessions keep-owner-credentials", flags: []string{"--session", "--all-not-ready", "--operator", "--channel"}, not: []string{"--send", "--json"}, env: opEnvNames,
		try: []string{"--all-not-ready"}, noDatabase: true},
	{path: "doctor", flags: []string{"--json"}, env: []string{"SLACK_APP_TOKEN", "SLACK_BOT_TOKEN", "TANDEM_DB", "TANDEM_ENCRYPTION_KEY", "TANDEM_PUBLIC_URL"}, not: []string{"--from", "--user"}, try: []string{}},
	{path: "migrate", env: opEnvNames, not: []string{"--from"}, try: []string{}, noDatabase: true},
	{path: "rekey", env: opEnvNames, not: []string{"--from"}, try: []string{}, noDatabase: true},
	{path: "store", env: []string{"TANDEM_ENCRYPTION_KEY"}, not: []string{"--from"}},
	{path: "store copy", flags: []string{"--from", "--to", "--force"}, env: []string{"TANDEM_ENCRYPTION_KEY"},
		try: []string{"--from", "tandem.db", "--to", "postgres://tandem@127.0.0.1:1/none"}},
	{path: "version", not: []string{"--json"}, try: []string{}},
	{path: "console", acceptsUnknownFlags: true},
	{path: "help", not: []string{"--json"}},
	{path: "completion", not: []string{"--no-descriptions"}},
	{path: "completion bash", flags: []string{"--no-descriptions"}, try: []string{}},
	{path: "completion zsh", flags: []string{"--no-descriptions"}, try: []string{}},
	{path: "completion fish", flags: []string{"--no-descriptions"}, try: []string{}},
	{path: "completion powershell", flags: []string{"--no-descriptions"}, try: []string{}},
	{path: "schedules", env: append(slices.Clone(opEnvNames), "TANDEM_TEAM"), not: []string{"--user", "--json", "--operator"}},
	{path: "schedules list", flags: []string{"--user", "--channel", "--team", "--json"}, not: []string{"--operator"}, env: append(slices.Clone(opEnvNames), "TANDEM_TEAM"),
		try: []string{}, noDatabase: true},
	{path: "schedules pause", flags: []string{"--operator"}, not: []string{"--json", "--user"}, env: opEnvNames,
		try: []string{"sch_000000000000"}, noDatabase: true},
	{path: "schedules resume", flags: []string{"--operator"}, not: []string{"--json", "--user"}, env: opEnvNames,
		try: []string{"sch_000000000000"}, noDatabase: true},
	{path: "schedules delete", flags: []string{"--operator"}, not: []string{"--json", "--user"}, env: opEnvNames,
		try: []string{"sch_000000000000"}, noDatabase: true},
}

// TestCLICoversEveryCommand: the table below names every command of the
// tree, so a new command gets its help and its usage errors tested.
func TestCLICoversEveryCommand(t *testing.T) {
	root := newRoot(func(string) string { return "" }, &bytes.Buffer{}, &bytes.Buffer{})
	root.InitDefaultHelpCmd()
	var tree []string
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		if c.Name() != cobra.ShellCompRequestCmd && c.Name() != cobra.ShellCompNoDescRequestCmd {
			tree = append(tree, strings.TrimSpace(strings.TrimPrefix(c.CommandPath(), "tandem")))
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root)
	var table []string
	for _, c := range cliCommands {
		table = append(table, c.path)
	}
	for _, p := range tree {
		if !slices.Contains(table, p) {
			t.Errorf("tandem %s is not in cliCommands", p)
		}
	}
	for _, p := range table {
		if !slices.Contains(tree, p) {
			t.Errorf("cliCommands has tandem %s, which does not exist", p)
		}
	}
}

// TestCLIHelpUsageAndNoState: for every command, --help and "tandem help"
// exit 0 and print its own flags (not its siblings'), its environment and
// examples; an unknown flag exits 2 with its usage on stderr; and none of
// it, nor a real run, leaves anything in the directory it ran in.
func TestCLIHelpUsageAndNoState(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	vars := map[string]string{} // TANDEM_DB defaults to ./tandem.db
	for _, c := range cliCommands {
		name := strings.TrimSpace("tandem " + c.path)
		args := strings.Fields(c.path)
		t.Run(name, func(t *testing.T) {
			help, stderr, err := cliRun(t, vars, append(slices.Clone(args), "--help")...)
			if err != nil {
				t.Fatalf("%s --help: %v\n%s", name, err, stderr)
			}
			if !strings.Contains(help, "Usage:\n  "+name) {
				t.Errorf("%s --help has no usage line of its own:\n%s", name, help)
			}
			if !strings.Contains(help, "Examples:") && c.path != "completion powershell" && !strings.HasPrefix(c.path, "completion ") {
				t.Errorf("%s --help has no examples:\n%s", name, help)
			}
			flags := flagNames(help)
			for _, f := range append(slices.Clone(c.flags), "--help") {
				if !slices.Contains(flags, f) {
					t.Errorf("%s --help does not list its flag %s (lists %v):\n%s", name, f, flags, help)
				}
			}
			for _, f := range c.not {
				if slices.Contains(flags, f) {
					t.Errorf("%s --help lists %s, a flag of another command:\n%s", name, f, help)
				}
			}
			for _, v := range c.env {
				if !strings.Contains(help, "\n  "+v+" ") {
					t.Errorf("%s --help does not name %s under Environment:\n%s", name, v, help)
				}
			}
			if c.path != "" && c.path != "help" {
				viaHelp, _, err := cliRun(t, vars, append([]string{"help"}, args...)...)
				if err != nil || viaHelp != help {
					t.Errorf("tandem help %s: %v; differs from %s --help:\n%s", c.path, err, name, viaHelp)
				}
			}

			if !c.acceptsUnknownFlags {
				stdout, stderr, err := cliRun(t, vars, append(slices.Clone(args), "--no-such-flag")...)
				if got := exitStatus(err); got != 2 {
					t.Errorf("%s --no-such-flag: exit %d (%v), want 2", name, got, err)
				}
				if !strings.Contains(stderr, "unknown flag: --no-such-flag") || !strings.Contains(stderr, "Usage:\n  "+name) {
					t.Errorf("%s --no-such-flag: stderr lacks the message or the usage:\n%s", name, stderr)
				}
				if stdout != "" {
					t.Errorf("%s --no-such-flag wrote to stdout:\n%s", name, stdout)
				}
			}

			if c.try != nil {
				_, stderr, err := cliRun(t, vars, append(slices.Clone(args), c.try...)...)
				var none *app.NoDatabaseError
				if c.noDatabase {
					if !errors.As(err, &none) {
						t.Errorf("%s %s: %v, want *app.NoDatabaseError\n%s", name, strings.Join(c.try, " "), err, stderr)
					} else if want := filepath.Join(mustGetwd(t), "tandem.db"); none.Path != want {
						t.Errorf("%s: no database at %s, want the absolute path %s", name, none.Path, want)
					}
					if got := exitStatus(err); got != 1 {
						t.Errorf("%s %s: exit %d, want 1", name, strings.Join(c.try, " "), got)
					}
				}
			}
			if entries, err := os.ReadDir(dir); err != nil || len(entries) != 0 {
				var names []string
				for _, e := range entries {
					names = append(names, e.Name())
				}
				t.Errorf("%s left %v in its directory (%v)", name, names, err)
			}
		})
	}
}

// flagNames are the flags a help's Flags section lists.
func flagNames(help string) []string {
	_, section, _ := strings.Cut(help, "\nFlags:\n")
	section, _, _ = strings.Cut(section, "\n\n")
	var names []string
	for _, line := range strings.Split(section, "\n") {
		for _, f := range strings.Fields(line) {
			if strings.HasPrefix(f, "--") {
				names = append(names, strings.TrimSuffix(f, ","))
				break
			}
		}
	}
	return names
}

func mustGetwd(t *testing.T) string {
	t.Helper()
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	return wd
}

// TestCLIUsageErrors: unknown commands, missing commands and missing
// arguments exit 2 with the usage of the command on stderr.
func TestCLIUsageErrors(t *testing.T) {
	t.Chdir(t.TempDir())
	for _, tc := range []struct {
		args  []string
		usage string // the usage line stderr must show
	}{
		{[]string{"frobnicate"}, "tandem [command]"},
		{[]string{"apikey"}, "tandem apikey [command]"},
		{[]string{"apikey", "frob"}, "tandem apikey [command]"},
		{[]string{"sessions", "reprot"}, "tandem sessions [command]"},
		{[]string{"store"}, "tandem store [command]"},
		{[]string{"completion"}, "tandem completion [command]"},
		{[]string{"completion", "nosh"}, "tandem completion [command]"},
		{[]string{"help", "frob"}, "tandem [command]"},
		{[]string{"apikey", "create", "--user", "U123ABC"}, "tandem apikey create [NAME]"},
		{[]string{"apikey", "create", "ci"}, "tandem apikey create [NAME]"},
		{[]string{"apikey", "create", "--user"}, "tandem apikey create [NAME]"},
		{[]string{"apikey", "revoke"}, "tandem apikey revoke PREFIX"},
		{[]string{"sessions", "keep-owner-credentials"}, "tandem sessions keep-owner-credentials"},
		{[]string{"store", "copy", "--from", "tandem.db"}, "tandem store copy"},
		{[]string{"migrate", "now"}, "tandem migrate [flags]"},
		{[]string{"audit", "--limit", "many"}, "tandem audit [flags]"},
	} {
		stdout, stderr, err := cliRun(t, nil, tc.args...)
		if got := exitStatus(err); got != 2 {
			t.Errorf("tandem %s: exit %d (%v), want 2", strings.Join(tc.args, " "), got, err)
		}
		if !strings.Contains(stderr, "Usage:\n") || !strings.Contains(stderr, "\n  "+tc.usage) {
			t.Errorf("tandem %s: stderr lacks the usage %q:\n%s", strings.Join(tc.args, " "), tc.usage, stderr)
		}
		if !strings.HasPrefix(stderr, strings.TrimSpace(err.Error())+"\n") {
			t.Errorf("tandem %s: stderr does not start with the error %q:\n%s", strings.Join(tc.args, " "), err, stderr)
		}
		if stdout != "" {
			t.Errorf("tandem %s wrote to stdout: %s", strings.Join(tc.args, " "), stdout)
		}
	}
}

// TestCLIHelpAndVersionForms: the ways to ask for help and the version.
func TestCLIHelpAndVersionForms(t *testing.T) {
	t.Chdir(t.TempDir())
	for _, args := range [][]string{{"--help"}, {"-h"}, {"help"}, {"-help"}} {
		out, _, err := cliRun(t, nil, args...)
		if err != nil || !strings.Contains(out, "Usage:\n  tandem [flags]\n  tandem [command]") || !strings.Contains(out, "serve ") {
			t.Errorf("tandem %s: %v\n%s", args, err, out)
		}
	}
	serveHelp, _, err := cliRun(t, nil, "serve", "--help")
	if out, _, err2 := cliRun(t, nil, "help", "serve"); err != nil || err2 != nil || out != serveHelp || !strings.Contains(out, "TANDEM_HTTP_ADDR") {
		t.Errorf("tandem help serve: %v %v\n%s", err, err2, out)
	}
	for _, args := range [][]string{{"version"}, {"--version"}, {"-version"}} {
		out, _, err := cliRun(t, nil, args...)
		if err != nil || out != "tandem "+version+"\n" {
			t.Errorf("tandem %s: %v %q", args, err, out)
		}
	}
}

// TestServeHelpNamesEveryVariable: serve's help lists, with a description,
// every variable app.LoadConfig reads.
func TestServeHelpNamesEveryVariable(t *testing.T) {
	names := serveEnv()
	if len(names) < 20 {
		t.Fatalf("app.LoadConfig read only %v", names)
	}
	help, _, err := cliRun(t, nil, "serve", "--help")
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range names {
		if _, ok := describeEnv(n); !ok {
			t.Errorf("%s, which tandem serve reads, has no description in envHelp", n)
		}
		if !strings.Contains(help, "\n  "+n+" ") {
			t.Errorf("tandem serve --help does not name %s", n)
		}
	}
}

// TestCLICompletion: tandem completion prints cobra's scripts.
func TestCLICompletion(t *testing.T) {
	for shell, want := range map[string]string{
		"bash": "__start_tandem",
		"zsh":  "#compdef tandem",
		"fish": "complete -c tandem",
	} {
		out, stderr, err := cliRun(t, nil, "completion", shell)
		if err != nil || !strings.Contains(out, want) {
			t.Errorf("tandem completion %s: %v (%s); script lacks %q:\n%.300s", shell, err, stderr, want, out)
		}
	}
}

// TestCLIOldSingleDashFlags: the standard flag package's -json and
// -version still work.
func TestCLIOldSingleDashFlags(t *testing.T) {
	t.Chdir(t.TempDir())
	_, _, err := cliRun(t, nil, "audit", "-json", "-since", "24h")
	var none *app.NoDatabaseError
	if !errors.As(err, &none) {
		t.Errorf("tandem audit -json -since 24h: %v, want the flags accepted and no database found", err)
	}
}

// TestConsoleCommandStillPoints: tandem console, with its old flags, exits
// 1 with the pointer (TestConsoleCommandPointsToTandemConsole checks the
// words).
func TestConsoleCommandStillPoints(t *testing.T) {
	_, _, err := cliRun(t, nil, "console", "--auto-consent")
	if got := exitStatus(err); got != 1 {
		t.Errorf("tandem console: exit %d (%v), want 1", got, err)
	}
}

// testDB creates a Tandem database at dir/tandem.db sealed under a new key,
// as tandem serve would, and returns the key.
func testDB(t *testing.T, dir string) string {
	t.Helper()
	key, err := secrets.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	keys, err := secrets.NewKeyring(key)
	if err != nil {
		t.Fatal(err)
	}
	db, err := store.Open(filepath.Join(dir, "tandem.db"), store.Options{Keyring: keys})
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	return secrets.EncodeKey(key)
}

// TestAPIKeyCreateNameArgument: the key's name may be the argument, on the
// database directly; --user must be a Slack member id; with no tandem serve
// and no team the command says what to give.
func TestAPIKeyCreateNameArgument(t *testing.T) {
	dir := t.TempDir()
	vars := map[string]string{"TANDEM_DB": filepath.Join(dir, "tandem.db"), "TANDEM_ENCRYPTION_KEY": testDB(t, dir)}

	_, stderr, err := cliRun(t, vars, "apikey", "create", "--user", "alice", "ci")
	var ue *usageError
	if got := exitStatus(err); got != 2 || !errors.As(err, &ue) {
		t.Errorf("--user alice: exit %d (%v), want a usage error", got, err)
	}
	if !strings.Contains(stderr, "member id") || !strings.Contains(stderr, "Copy member ID") {
		t.Errorf("--user alice: stderr does not say where to find the member id:\n%s", stderr)
	}

	_, stderr, err = cliRun(t, vars, "apikey", "create", "--user", "U123ABC", "ci")
	if got := exitStatus(err); got != 2 || !strings.Contains(stderr, "--team") || !strings.Contains(stderr, "TANDEM_TEAM") {
		t.Errorf("no team: exit %d (%v), want 2 naming --team and TANDEM_TEAM:\n%s", got, err, stderr)
	}

	vars["TANDEM_TEAM"] = "T0TEAM"
	key, stderr, err := cliRun(t, vars, "apikey", "create", "--user", "U123ABC", "ci")
	if err != nil || strings.Count(key, "\n") != 1 || len(key) < 20 {
		t.Fatalf("apikey create --user U123ABC ci: %v %q\n%s", err, key, stderr)
	}
	_, _, err = cliRun(t, vars, "apikey", "create", "--user", "U123ABC", "--name", "ci", "other")
	if got := exitStatus(err); got != 2 {
		t.Errorf("--name ci and the argument other: exit %d (%v), want 2", got, err)
	}
	list, stderr, err := cliRun(t, vars, "apikey", "list", "--json")
	if err != nil {
		t.Fatalf("apikey list: %v\n%s", err, stderr)
	}
	var keys []tandem.APIKey
	if err := json.Unmarshal([]byte(list), &keys); err != nil {
		t.Fatalf("apikey list --json: %v\n%s", err, list)
	}
	if len(keys) != 1 || keys[0].Name != "ci" || keys[0].Creator != "U123ABC" {
		t.Errorf("apikey list after create ... ci: %+v", keys)
	}
}

// TestOperatorCommandsNeverCreateTheKeyFile: with a database but neither
// TANDEM_ENCRYPTION_KEY nor the key file, operator commands fail naming the
// file and do not create it.
func TestOperatorCommandsNeverCreateTheKeyFile(t *testing.T) {
	dir := t.TempDir()
	testDB(t, dir)
	vars := map[string]string{"TANDEM_DB": filepath.Join(dir, "tandem.db")}
	for _, args := range [][]string{{"audit"}, {"apikey", "list"}, {"sessions", "report"}, {"migrate"}, {"rekey"}} {
		_, _, err := cliRun(t, vars, args...)
		var none *app.NoKeyFileError
		if !errors.As(err, &none) || none.Path != filepath.Join(dir, "tandem.db.key") {
			t.Errorf("tandem %s without a key: %v, want *app.NoKeyFileError for %s", strings.Join(args, " "), err, filepath.Join(dir, "tandem.db.key"))
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "tandem.db.key")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("an operator command created the key file: %v", err)
	}
}

// TestAPIKeyCreateNameArgumentThroughServe: the same command line, with the
// name as the argument, through a running tandem serve's admin socket.
func TestAPIKeyCreateNameArgumentThroughServe(t *testing.T) {
	e := newEnv(t)
	e.start()
	var stdout, stderr bytes.Buffer
	if err := run(ctxFor(t), []string{"apikey", "create", "--user", "UBOB", "--expires", "30d", "ci"}, e.getenv, &stdout, &stderr); err != nil {
		t.Fatalf("apikey create: %v\n%s", err, stderr.String())
	}
	if !strings.Contains(stderr.String(), "running inside") {
		t.Errorf("apikey create did not go through the admin socket: %s", stderr.String())
	}
	stdout.Reset()
	if err := run(ctxFor(t), []string{"apikey", "list", "--user", "UBOB", "--json"}, e.getenv, &stdout, &stderr); err != nil {
		t.Fatalf("apikey list: %v\n%s", err, stderr.String())
	}
	var keys []tandem.APIKey
	if err := json.Unmarshal(stdout.Bytes(), &keys); err != nil || len(keys) != 1 || keys[0].Name != "ci" {
		t.Errorf("apikey list through serve: %v %+v", err, keys)
	}
}

// TestOperatorCommandsNeverCreateTheSchema: on an empty PostgreSQL schema,
// operator commands fail naming TANDEM_DATABASE_URL instead of creating
// Tandem's tables (tandem migrate may: that is its job).
func TestOperatorCommandsNeverCreateTheSchema(t *testing.T) {
	url := pgtest.URL(t)
	key, err := secrets.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	t.Chdir(t.TempDir())
	vars := map[string]string{"TANDEM_DATABASE_URL": url, "TANDEM_ENCRYPTION_KEY": secrets.EncodeKey(key)}
	for _, args := range [][]string{{"audit"}, {"apikey", "list"}, {"sessions", "report"}, {"rekey"}} {
		_, _, err := cliRun(t, vars, args...)
		var none *app.NoSchemaError
		if !errors.As(err, &none) {
			t.Errorf("tandem %s on an empty schema: %v, want *app.NoSchemaError", strings.Join(args, " "), err)
		}
	}
	conn, err := pgx.Connect(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var tables int
	if err := conn.QueryRow(context.Background(), `SELECT count(*) FROM information_schema.tables WHERE table_schema = current_schema()`).Scan(&tables); err != nil {
		t.Fatal(err)
	}
	if tables != 0 {
		t.Errorf("operator commands created %d tables in an empty schema", tables)
	}
}

// TestDoctorCommand: tandem doctor prints doctor.Run's checks and exits
// with the number that failed (here: no Slack tokens, no database, ...).
func TestDoctorCommand(t *testing.T) {
	t.Chdir(t.TempDir())
	out, _, err := cliRun(t, map[string]string{"TANDEM_PUBLIC_URL": "http://127.0.0.1:1"}, "doctor", "--json")
	var checks []doctor.Check
	if err := json.Unmarshal([]byte(out), &checks); err != nil || len(checks) == 0 {
		t.Fatalf("tandem doctor --json: %v\n%s", err, out)
	}
	failed := 0
	for _, c := range checks {
		if !c.OK {
			failed++
		}
	}
	if got := exitStatus(err); failed < 2 || got != failed {
		t.Errorf("tandem doctor without tokens: exit %d (%v) with %d failed checks; want the number failed", got, err, failed)
	}
}

// TestRunInServeTakesEveryCommandLine: the admin socket's side parses what
// this binary forwards (--name=value, then the arguments after --), an
// older binary's raw command line (-json) and no arguments at all.
func TestRunInServeTakesEveryCommandLine(t *testing.T) {
	dir := t.TempDir()
	key := testDB(t, dir)
	cfg := storeConfig(func(k string) string {
		return map[string]string{"TANDEM_DB": filepath.Join(dir, "tandem.db"), "TANDEM_ENCRYPTION_KEY": key}[k]
	})
	db, err := app.OpenExistingDB(context.Background(), cfg, app.NewLogger("text", &bytes.Buffer{}))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	env := opEnv{db: db, keys: &api.Keys{Store: db}, team: "T0TEAM"}
	ctx := context.Background()
	var out bytes.Buffer
	for _, args := range [][]string{
		{"create", "--user=U123ABC", "--expires=30d", "--", "ci"},
		{"create", "--user", "U123ABC", "-name", "old"},
	} {
		if err := runInServe(ctx, env, "apikey", args, &out, io.Discard); err != nil {
			t.Errorf("apikey %v: %v", args, err)
		}
	}
	for _, args := range [][]string{nil, {"-json"}, {"--json=true", "--limit=5"}} {
		if err := runInServe(ctx, env, "audit", args, &out, io.Discard); err != nil {
			t.Errorf("audit %v: %v", args, err)
		}
	}
	out.Reset()
	if err := runInServe(ctx, env, "apikey", []string{"list", "--json=true"}, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	var keys []tandem.APIKey
	if err := json.Unmarshal(out.Bytes(), &keys); err != nil || len(keys) != 2 {
		t.Errorf("apikey list: %v %s", err, out.String())
	}
	if err := runInServe(ctx, env, "frobnicate", nil, &out, io.Discard); err == nil {
		t.Error("an unknown command ran inside serve")
	}
}

// TestForwardArgs: what the command line sends through the admin socket.
func TestForwardArgs(t *testing.T) {
	var got []string
	root := &cobra.Command{Use: "tandem"}
	root.AddCommand(ops["apikey"](func(cmd *cobra.Command, args []string, _ func(opEnv) error) error {
		got = forwardArgs(opPath(cmd)[1:], cmd, args)
		return nil
	}))
	root.SetArgs([]string{"apikey", "create", "--user", "U123ABC", "--expires", "never", "ci"})
	if err := root.Execute(); err != nil {
		t.Fatal(err)
	}
	want := []string{"create", "--expires=never", "--user=U123ABC", "--", "ci"}
	if !slices.Equal(got, want) {
		t.Errorf("forwarded %q, want %q", got, want)
	}
}
