package app

import (
	"bytes"
	"encoding/base64"
	"errors"
	"io/fs"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/tandembot/tandem"
	"github.com/tandembot/tandem/internal/fakeslack"
)

// Every start-up failure of New is one line, on the error alone: nothing is
// logged before it, it names the variable at fault, what was wrong and
// what to do.

// startSlack starts a fake Slack; tokenErrors make Slack refuse tokens.
func startSlack(t *testing.T, tokenErrors map[string]string) *fakeslack.Server {
	t.Helper()
	srv := fakeslack.New(fakeslack.Options{TokenErrors: tokenErrors})
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	return srv
}

// startupConfig is a working configuration against srv with its database
// in a new folder, changed by vars.
func startupConfig(t *testing.T, srv *fakeslack.Server, vars map[string]string) Config {
	t.Helper()
	env := map[string]string{
		"SLACK_BOT_TOKEN":                     srv.BotToken(),
		"SLACK_APP_TOKEN":                     srv.AppToken(),
		"TANDEM_SLACK_API_URL":                srv.APIURL(),
		"TANDEM_DB":                           filepath.Join(t.TempDir(), "tandem.db"),
		"TANDEM_HTTP_ADDR":                    "127.0.0.1:0",
		"TANDEM_CONNECT_WITHOUT_SLACK_SIGNIN": "true",
	}
	for k, v := range vars {
		env[k] = v
	}
	cfg, err := LoadConfig(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// startFails runs New, which must fail with a one-line *StartupError that
// names want (and not notWant), having logged nothing. It returns the line.
func startFails(t *testing.T, cfg Config, want []string, notWant ...string) string {
	t.Helper()
	var logs bytes.Buffer
	a, err := New(cfg, NewLogger("text", &logs))
	if err == nil {
		a.Close()
		t.Fatal("New succeeded")
	}
	line := err.Error()
	t.Logf("%s", line)
	var se *StartupError
	if !errors.As(err, &se) {
		t.Errorf("New: %v (%T), want a *StartupError", err, err)
	} else if !slices.Contains(se.Vars, want[0]) {
		t.Errorf("StartupError.Vars = %v, want %s among them", se.Vars, want[0])
	}
	if strings.Contains(line, "\n") || !strings.HasPrefix(line, "tandem: ") {
		t.Errorf("not one line starting with \"tandem: \": %q", line)
	}
	for _, w := range want {
		if !strings.Contains(line, w) {
			t.Errorf("the line lacks %q: %s", w, line)
		}
	}
	for _, w := range notWant {
		if strings.Contains(line, w) {
			t.Errorf("the line has %q: %s", w, line)
		}
	}
	if logs.Len() > 0 {
		t.Errorf("New logged before failing:\n%s", logs.String())
	}
	return line
}

func testKey(b byte) string { return base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{b}, 32)) }

func TestStartupDBFolderMissing(t *testing.T) {
	srv := startSlack(t, nil)
	for _, key := range []string{"", testKey(1)} {
		dir := filepath.Join(t.TempDir(), "typo")
		db := filepath.Join(dir, "tandem.db")
		cfg := startupConfig(t, srv, map[string]string{"TANDEM_DB": db, "TANDEM_ENCRYPTION_KEY": key})
		startFails(t, cfg, []string{"TANDEM_DB", db, "does not exist (no such file or directory)", "create the folder"})
		if _, err := os.Stat(dir); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("the folder %s was created (stat: %v)", dir, err)
		}
		// The operator commands' way in does not create it either.
		if _, err := OpenKeyring(cfg, NewLogger("text", &bytes.Buffer{})); key == "" && tandem.ErrorCode(err) != tandem.EINVALID {
			t.Errorf("OpenKeyring: %v, want code %s", err, tandem.EINVALID)
		}
		if _, err := os.Stat(dir); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("OpenKeyring created the folder %s (stat: %v)", dir, err)
		}
	}
}

func TestStartupDBUnderAFile(t *testing.T) {
	srv := startSlack(t, nil)
	file := filepath.Join(t.TempDir(), "notes.txt")
	if err := os.WriteFile(file, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	db := filepath.Join(file, "tandem.db")
	startFails(t, startupConfig(t, srv, map[string]string{"TANDEM_DB": db}), []string{"TANDEM_DB", db, file + " is a file, not a folder"})
	deeper := filepath.Join(file, "sub", "tandem.db")
	startFails(t, startupConfig(t, srv, map[string]string{"TANDEM_DB": deeper}), []string{"TANDEM_DB", deeper, "not a directory"})
}

func TestStartupDBInReadOnlyFolder(t *testing.T) {
	if fi, err := os.Stat("/proc/self"); err != nil || !fi.IsDir() {
		t.Skip("no /proc")
	}
	srv := startSlack(t, nil)
	db := "/proc/tandem.db"
	// Without TANDEM_ENCRYPTION_KEY the key file beside it cannot be made;
	// with it, the database itself cannot.
	startFails(t, startupConfig(t, srv, map[string]string{"TANDEM_DB": db}),
		[]string{"TANDEM_DB", "TANDEM_ENCRYPTION_KEY", db + ".key", "/proc/", "set TANDEM_DB to a file in a folder tandem can write"})
	startFails(t, startupConfig(t, srv, map[string]string{"TANDEM_DB": db, "TANDEM_ENCRYPTION_KEY": testKey(1)}),
		[]string{"TANDEM_DB", "open " + db + ":", "set TANDEM_DB to a file in a folder tandem can read and write"})
}

// A missing database file in an existing folder is the first run: it and
// its key file are created.
func TestStartupCreatesMissingDBFile(t *testing.T) {
	srv := startSlack(t, nil)
	cfg := startupConfig(t, srv, nil)
	var logs bytes.Buffer
	a, err := New(cfg, NewLogger("text", &logs))
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	a.Close()
	for _, f := range []string{cfg.DBPath, cfg.DBPath + ".key"} {
		if _, err := os.Stat(f); err != nil {
			t.Errorf("first run did not create %s: %v", f, err)
		}
	}
	if !strings.Contains(logs.String(), "generated a new encryption key file") {
		t.Errorf("the new key file was not logged:\n%s", logs.String())
	}
}

func TestStartupSlackRefusesAToken(t *testing.T) {
	for _, code := range []string{"invalid_auth", "not_authed", "account_inactive"} {
		for _, tc := range []struct {
			v, other, token, fix string
		}{
			{"SLACK_BOT_TOKEN", "SLACK_APP_TOKEN", "xoxb-LEAKME-refused", "OAuth & Permissions"},
			{"SLACK_APP_TOKEN", "SLACK_BOT_TOKEN", "xapp-LEAKME-refused", "Basic Information → App-Level Tokens and put it (xapp-…) in SLACK_APP_TOKEN"},
		} {
			t.Run(code+"/"+tc.v, func(t *testing.T) {
				// An unknown token is invalid_auth on Slack; the others are
				// told by the fake.
				var refusals map[string]string
				if code != "invalid_auth" {
					refusals = map[string]string{tc.token: code}
				}
				srv := startSlack(t, refusals)
				cfg := startupConfig(t, srv, map[string]string{tc.v: tc.token})
				startFails(t, cfg, []string{tc.v, "refused by Slack", code, tc.fix}, tc.other, "LEAKME")
				// Nothing ran before the check: no key file, no database.
				for _, f := range []string{cfg.DBPath, cfg.DBPath + ".key"} {
					if _, err := os.Stat(f); !errors.Is(err, fs.ErrNotExist) {
						t.Errorf("%s exists after a refused token (stat: %v)", f, err)
					}
				}
			})
		}
	}
}

func TestStartupSlackCodes(t *testing.T) {
	srv := startSlack(t, nil)
	_, err := New(startupConfig(t, srv, map[string]string{"SLACK_APP_TOKEN": "xapp-wrong"}), NewLogger("text", &bytes.Buffer{}))
	if got := tandem.ErrorCode(err); got != tandem.EUNAUTHORIZED {
		t.Errorf("refused token: code %q, want %q (%v)", got, tandem.EUNAUTHORIZED, err)
	}
	_, err = New(startupConfig(t, srv, map[string]string{"TANDEM_SLACK_API_URL": "http://127.0.0.1:1/api/"}), NewLogger("text", &bytes.Buffer{}))
	if got := tandem.ErrorCode(err); got != tandem.EUNAVAILABLE {
		t.Errorf("unreachable Slack: code %q, want %q (%v)", got, tandem.EUNAVAILABLE, err)
	}
}

func TestStartupSlackUnreachable(t *testing.T) {
	srv := startSlack(t, nil)
	for _, tc := range []struct{ url, cause string }{
		{"http://127.0.0.1:1/api/", "connection refused"},
		{"http://slack.invalid/api/", "slack.invalid"},
	} {
		startFails(t, startupConfig(t, srv, map[string]string{"TANDEM_SLACK_API_URL": tc.url}),
			[]string{"TANDEM_SLACK_API_URL", "cannot reach Slack at " + tc.url, tc.cause, "auth.test"})
	}
}

func TestStartupPostgresUnreachable(t *testing.T) {
	srv := startSlack(t, nil)
	cfg := startupConfig(t, srv, map[string]string{
		"TANDEM_DATABASE_URL":   "postgres://tandem:LEAKME-pw@127.0.0.1:1/tandem?sslmode=disable",
		"TANDEM_ENCRYPTION_KEY": testKey(1),
	})
	startFails(t, cfg, []string{"TANDEM_DATABASE_URL", "cannot connect to PostgreSQL", "127.0.0.1:1", "connection refused"}, "LEAKME")
}

// pgx takes a password from the URL's query too; the line shows it no
// more than one in the user information.
func TestStartupPostgresPasswordInTheQuery(t *testing.T) {
	srv := startSlack(t, nil)
	cfg := startupConfig(t, srv, map[string]string{
		"TANDEM_DATABASE_URL":   "postgres://tandem@127.0.0.1:1/tandem?sslmode=disable&password=LEAKME-pw",
		"TANDEM_ENCRYPTION_KEY": testKey(1),
	})
	startFails(t, cfg, []string{"TANDEM_DATABASE_URL", "cannot connect to PostgreSQL", "127.0.0.1:1", "sslmode=disable"}, "LEAKME")
}

// DescribeDB is what "store opened" logs at every start, and what doctor,
// migrate and the admin commands print: never a password, wherever the
// URL carries it.
func TestDescribeDBHidesThePassword(t *testing.T) {
	for _, u := range []string{
		"postgres://tandem:pg-FAKE-pw@db.example:5432/tandem?sslmode=require",
		"postgres://tandem@db.example:5432/tandem?sslmode=require&password=pg-FAKE-pw",
		"postgres://db.example/tandem?user=tandem&password=pg-FAKE-pw&sslmode=require",
		"postgresql://db.example/tandem?pass%77ord=pg-FAKE-pw",
		"postgres://db.example/tandem?sslmode=verify-full&sslpassword=pg-FAKE-pw",
	} {
		got := DescribeDB(Config{DatabaseURL: u})
		if strings.Contains(got, "pg-FAKE-pw") || !strings.Contains(got, "db.example") {
			t.Errorf("DescribeDB(%s) = %q, want the host without the password", u, got)
		}
		if got := RedactPassword(u, "the driver said pg-FAKE-pw"); strings.Contains(got, "pg-FAKE-pw") {
			t.Errorf("RedactPassword(%s, …) = %q, want the password removed", u, got)
		}
	}
}

func TestStartupWrongKey(t *testing.T) {
	srv := startSlack(t, nil)
	// A database created with a key file, started with another key.
	cfg := startupConfig(t, srv, nil)
	a, err := New(cfg, NewLogger("text", &bytes.Buffer{}))
	if err != nil {
		t.Fatal(err)
	}
	a.Close()
	cfg.EncryptionKey = testKey(2)
	startFails(t, cfg, []string{"TANDEM_ENCRYPTION_KEY", cfg.DBPath + ".key", cfg.DBPath, "TANDEM_DB", "the key the database was created with"})

	// A database created with TANDEM_ENCRYPTION_KEY, started without it: the
	// key file made for it opens nothing and is not left behind.
	cfg = startupConfig(t, srv, map[string]string{"TANDEM_ENCRYPTION_KEY": testKey(1)})
	if a, err = New(cfg, NewLogger("text", &bytes.Buffer{})); err != nil {
		t.Fatal(err)
	}
	a.Close()
	cfg.EncryptionKey = ""
	startFails(t, cfg, []string{"TANDEM_ENCRYPTION_KEY", "is not set", cfg.DBPath + ".key", "TANDEM_DB", "the key the database was created with"})
	if _, err := os.Stat(cfg.DBPath + ".key"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the key file generated for a database it does not open was left behind (stat: %v)", err)
	}
}

// With TANDEM_SLACK_API_URL unset the line names slack.com and the variable
// that overrides it.
func TestStartupSlackDefaultURLUnreachable(t *testing.T) {
	cfg := Config{SlackAPIURL: DefaultSlackAPIURL}
	dns := &url.Error{Op: "Post", URL: DefaultSlackAPIURL + "auth.test", Err: &net.OpError{Op: "dial", Net: "tcp",
		Err: &net.DNSError{Err: "no such host", Name: "slack.com", Server: "10.0.0.53:53", IsNotFound: true}}}
	err := slackError(cfg, botTokenVar, "auth.test", dns)
	line := err.Error()
	t.Logf("%s", line)
	for _, w := range []string{"https://slack.com/api/", "TANDEM_SLACK_API_URL is not set", "lookup slack.com", "no such host", "DNS"} {
		if !strings.Contains(line, w) {
			t.Errorf("the line lacks %q: %s", w, line)
		}
	}
	if tandem.ErrorCode(err) != tandem.EUNAVAILABLE {
		t.Errorf("code %q, want %q", tandem.ErrorCode(err), tandem.EUNAVAILABLE)
	}
}

// A PostgreSQL server that refuses the login names TANDEM_DATABASE_URL.
func TestStartupPostgresRefusesLogin(t *testing.T) {
	base := os.Getenv("TANDEM_TEST_DATABASE_URL")
	if base == "" {
		t.Skip("TANDEM_TEST_DATABASE_URL is not set")
	}
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	u.User = url.UserPassword("tandem_no_such_role", "LEAKME-pw")
	srv := startSlack(t, nil)
	cfg := startupConfig(t, srv, map[string]string{"TANDEM_DATABASE_URL": u.String(), "TANDEM_ENCRYPTION_KEY": testKey(1)})
	startFails(t, cfg, []string{"TANDEM_DATABASE_URL", "refused the login", "SQLSTATE 28", u.Host}, "LEAKME")
}

// Should Slack stop taking the bot token (or answering) between the check
// and the bot's own auth.test, Run's error is the same kind of line.
func TestStartupRunAuthTestFails(t *testing.T) {
	srv := startSlack(t, nil)
	a, err := New(startupConfig(t, srv, nil), NewLogger("text", &bytes.Buffer{}))
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	srv.Close()
	err = a.Run(t.Context())
	var se *StartupError
	if !errors.As(err, &se) || !strings.Contains(err.Error(), "TANDEM_SLACK_API_URL") || strings.Contains(err.Error(), "\n") {
		t.Errorf("Run: %v, want one line naming TANDEM_SLACK_API_URL", err)
	}
}
