package app

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/slack-go/slack"
	"github.com/tandembot/tandem"
	"github.com/tandembot/tandem/secrets"
)

// StartupError is why Tandem could not start, for the operator: Error is
// one line that names the variable or file at fault, what was wrong and
// what to do. It wraps a *tandem.Error with the code (and that line as its
// Message) and the cause.
type StartupError struct {
	// Vars are the variables the line names, the first being the one to fix.
	Vars  []string
	err   *tandem.Error
	cause error
}

func (e *StartupError) Error() string { return "tandem: " + e.err.Message }

// Unwrap returns the coded error and the cause.
func (e *StartupError) Unwrap() []error { return []error{e.err, e.cause} }

// startupErr builds a StartupError whose line is the formatted message; the
// line is kept to one line whatever the cause's text holds.
func startupErr(code string, vars []string, cause error, format string, args ...any) *StartupError {
	msg := strings.Join(strings.Fields(fmt.Sprintf(format, args...)), " ")
	return &StartupError{Vars: vars, err: &tandem.Error{Code: code, Message: msg}, cause: cause}
}

// checkDBFolder fails when TANDEM_DB's folder does not exist or is not a
// folder: serve creates a missing database file (the first run) but never
// its folder, so that a typo does not start an empty database with a new
// key. It only looks; it creates nothing.
func checkDBFolder(cfg Config) error {
	dir := filepath.Dir(cfg.DBPath)
	fi, err := os.Stat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return startupErr(tandem.EINVALID, []string{"TANDEM_DB"}, err,
			"TANDEM_DB is %s, but its folder %s does not exist (%s); create the folder or set TANDEM_DB to a file in an existing one (serve creates the database file, never its folder)",
			cfg.DBPath, dir, errno(err))
	case errors.Is(err, syscall.ENOTDIR):
		return startupErr(tandem.EINVALID, []string{"TANDEM_DB"}, err,
			"TANDEM_DB is %s, but part of %s is a file, not a folder (%s); set TANDEM_DB to a file in an existing folder",
			cfg.DBPath, dir, errno(err))
	case err != nil:
		return startupErr(tandem.EINVALID, []string{"TANDEM_DB"}, err,
			"TANDEM_DB is %s, but its folder %s cannot be used (%s); set TANDEM_DB to a file in a folder tandem can read and write",
			cfg.DBPath, dir, errno(err))
	case !fi.IsDir():
		return startupErr(tandem.EINVALID, []string{"TANDEM_DB"}, nil,
			"TANDEM_DB is %s, but %s is a file, not a folder; set TANDEM_DB to a file in an existing folder",
			cfg.DBPath, dir)
	}
	return nil
}

// osError returns the operating system's words for err: the path error's
// own text when there is one ("open /x: permission denied").
func osError(err error) string {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Error()
	}
	return err.Error()
}

// errno returns the operating system's words for err without the path
// ("no such file or directory").
func errno(err error) string {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}

// dbOpenError words a failure of OpenDB for the operator: which variable
// (TANDEM_DB or TANDEM_DATABASE_URL), what was wrong and what to do. A key
// that does not open the database names both places a key comes from.
func dbOpenError(cfg Config, keys *secrets.Keyring, err error) error {
	where, v := "the database "+cfg.DBPath+" (TANDEM_DB)", "TANDEM_DB"
	if cfg.DatabaseURL != "" {
		where, v = "the database "+RedactURL(cfg.DatabaseURL)+" (TANDEM_DATABASE_URL)", "TANDEM_DATABASE_URL"
	}
	if errors.Is(err, secrets.ErrUnknownKey) || errors.Is(err, secrets.ErrDecrypt) {
		if cfg.EncryptionKey == "" {
			return startupErr(tandem.EINVALID, []string{"TANDEM_ENCRYPTION_KEY", v}, err,
				"the key file %s (used because TANDEM_ENCRYPTION_KEY is not set; key id %s) does not open %s; put back the key file the database was created with, or set TANDEM_ENCRYPTION_KEY to the key the database was created with",
				KeyFilePath(cfg.DBPath), keys.KeyID(), where)
		}
		return startupErr(tandem.EINVALID, []string{"TANDEM_ENCRYPTION_KEY", v}, err,
			"TANDEM_ENCRYPTION_KEY (key id %s) does not open %s; set TANDEM_ENCRYPTION_KEY to the key the database was created with (the key file %s is read only when TANDEM_ENCRYPTION_KEY is not set)",
			keys.KeyID(), where, KeyFilePath(cfg.DBPath))
	}
	if cfg.DatabaseURL != "" {
		return postgresError(cfg, err)
	}
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return startupErr(tandem.EINVALID, []string{"TANDEM_DB"}, err,
			"TANDEM_DB is %s, and the database cannot be opened or created there (%s); set TANDEM_DB to a file in a folder tandem can read and write", cfg.DBPath, pe.Error())
	}
	var te *tandem.Error
	if errors.As(err, &te) && te.Code == tandem.EUNAVAILABLE {
		return startupErr(te.Code, []string{"TANDEM_DB"}, err,
			"TANDEM_DB is %s: %s; stop the other process or set TANDEM_DB to another file", cfg.DBPath, strings.TrimSuffix(te.Message, "."))
	}
	if errors.As(err, &te) {
		return startupErr(te.Code, []string{"TANDEM_DB"}, err, "TANDEM_DB is %s: %s", cfg.DBPath, te.Message)
	}
	return startupErr(tandem.EINTERNAL, []string{"TANDEM_DB"}, err,
		"TANDEM_DB is %s, and the database cannot be opened (%s); restore it from a backup or set TANDEM_DB to another file", cfg.DBPath, err)
}

// postgresError words a failure to open TANDEM_DATABASE_URL, never with its
// password.
func postgresError(cfg Config, err error) error {
	at := RedactURL(cfg.DatabaseURL)
	vars := []string{"TANDEM_DATABASE_URL"}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch {
		case strings.HasPrefix(pgErr.Code, "28"):
			return startupErr(tandem.EUNAUTHORIZED, vars, err,
				"PostgreSQL at %s (TANDEM_DATABASE_URL) refused the login (%s, SQLSTATE %s); fix the user and password in TANDEM_DATABASE_URL", at, pgErr.Message, pgErr.Code)
		case pgErr.Code == "3D000":
			return startupErr(tandem.EINVALID, vars, err,
				"PostgreSQL at %s (TANDEM_DATABASE_URL) has no such database (%s); create it or fix the database name in TANDEM_DATABASE_URL", at, pgErr.Message)
		}
	}
	var te *tandem.Error
	if errors.As(err, &te) && te.Code != tandem.EUNAVAILABLE {
		return startupErr(te.Code, vars, err, "TANDEM_DATABASE_URL is %s: %s", at, te.Message)
	}
	var ce *pgconn.ConnectError
	if errors.As(err, &ce) || tandem.ErrorCode(err) == tandem.EUNAVAILABLE {
		return startupErr(tandem.EUNAVAILABLE, vars, err,
			"cannot connect to PostgreSQL at %s (TANDEM_DATABASE_URL): %s; start the server, or fix the host and port in TANDEM_DATABASE_URL and check the network between them",
			at, RedactPassword(cfg.DatabaseURL, NetworkCause(err)))
	}
	return startupErr(tandem.EINTERNAL, vars, err,
		"cannot open PostgreSQL at %s (TANDEM_DATABASE_URL): %s", at, RedactPassword(cfg.DatabaseURL, err.Error()))
}

// NetworkCause returns the innermost network error's words ("dial tcp
// 127.0.0.1:1: connect: connection refused"), else err's.
func NetworkCause(err error) string {
	var dns *net.DNSError
	if errors.As(err, &dns) {
		return dns.Error()
	}
	var op *net.OpError
	if errors.As(err, &op) {
		return op.Error()
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return "no answer in time"
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err.Error()
	}
	return err.Error()
}

// RedactURL returns a database URL without its password, as logs show it.
func RedactURL(raw string) string {
	return strings.TrimPrefix(DescribeDB(Config{DatabaseURL: raw}), "postgres ")
}

// RedactPassword removes the URL's password from s, should a driver ever
// quote it: the user information's, and one in the query (DescribeDB).
func RedactPassword(rawURL, s string) string {
	if u, err := url.Parse(rawURL); err == nil {
		var passwords []string
		for name, values := range u.Query() {
			if passwordParam(name) {
				passwords = append(passwords, values...)
			}
		}
		if p, ok := u.User.Password(); ok {
			passwords = append(passwords, p)
		}
		for _, p := range passwords {
			if p != "" {
				s = strings.ReplaceAll(s, p, "…")
			}
		}
	}
	return s
}

// slackCheckTimeout bounds each start-up call to Slack.
const slackCheckTimeout = 30 * time.Second

// checkSlack asks Slack whether it takes both tokens, before anything else
// runs: auth.test with the bot token (SLACK_BOT_TOKEN) and, at the same
// time, apps.connections.open with the app-level token (SLACK_APP_TOKEN),
// the call Socket Mode starts with (the connection it offers is not
// opened). It calls through client, the bot's own, so that the bot's first
// calls find a connection open. It fails with a *StartupError naming the
// token Slack refused, or the URL it could not reach; when both fail, the
// bot token's.
func checkSlack(cfg Config, client *http.Client) error {
	api := slack.New(cfg.BotToken, slack.OptionAppLevelToken(cfg.AppToken), slack.OptionAPIURL(cfg.SlackAPIURL),
		slack.OptionHTTPClient(client))
	ctx, cancel := context.WithTimeout(context.Background(), slackCheckTimeout)
	defer cancel()
	opened := make(chan error, 1)
	go func() {
		_, _, err := api.StartSocketModeContext(ctx)
		opened <- err
	}()
	if _, err := api.AuthTestContext(ctx); err != nil {
		return slackError(cfg, botTokenVar, "auth.test", err)
	}
	if err := <-opened; err != nil {
		return slackError(cfg, appTokenVar, "apps.connections.open", err)
	}
	return nil
}

const (
	botTokenVar = "SLACK_BOT_TOKEN"
	appTokenVar = "SLACK_APP_TOKEN"
)

// slackTokenFix says where each token comes from.
var slackTokenFix = map[string]string{
	botTokenVar: "copy the Bot User OAuth Token (xoxb-…) from api.slack.com/apps → your app → OAuth & Permissions into SLACK_BOT_TOKEN (install the app to the workspace if there is none)",
	appTokenVar: "generate an app-level token with the scope connections:write at api.slack.com/apps → your app → Basic Information → App-Level Tokens and put it (xapp-…) in SLACK_APP_TOKEN",
}

// slackRefusals explains the answers that mean Slack does not take a token.
var slackRefusals = map[string]string{
	"invalid_auth":           "the token is not valid: mistyped, revoked or regenerated",
	"not_authed":             "no token reached Slack",
	"account_inactive":       "the token belongs to a deactivated user or an uninstalled app",
	"token_revoked":          "the token was revoked",
	"token_expired":          "the token expired",
	"missing_scope":          "the token lacks a scope the call needs",
	"not_allowed_token_type": "it is the wrong kind of token",
}

// SlackTokenFix says where the token in variable v (SLACK_BOT_TOKEN or
// SLACK_APP_TOKEN) comes from; "" for any other variable.
func SlackTokenFix(v string) string { return slackTokenFix[v] }

// SlackRefusal explains an error code of Slack's that means it does not
// take a token (invalid_auth, token_revoked, ...); ok is false for any
// other code.
func SlackRefusal(code string) (why string, ok bool) {
	why, ok = slackRefusals[code]
	return why, ok
}

// slackError words a failed start-up call to Slack made with the token in
// variable v.
func slackError(cfg Config, v, method string, err error) error {
	api := cfg.SlackAPIURL + " (TANDEM_SLACK_API_URL)"
	if cfg.SlackAPIURL == DefaultSlackAPIURL {
		api = cfg.SlackAPIURL + " (the default; TANDEM_SLACK_API_URL is not set)"
	}
	var se slack.SlackErrorResponse
	if errors.As(err, &se) {
		if why, ok := slackRefusals[se.Err]; ok {
			return startupErr(tandem.EUNAUTHORIZED, []string{v}, err,
				"%s was refused by Slack (%s answered %s: %s); %s", v, method, se.Err, why, slackTokenFix[v])
		}
		return startupErr(tandem.EINVALID, []string{v}, err,
			"Slack answered %s to %s with %s; check %s and the Slack app's settings", se.Err, method, v, v)
	}
	var rl *slack.RateLimitedError
	if errors.As(err, &rl) {
		return startupErr(tandem.ERATELIMITED, []string{v}, err,
			"Slack rate-limited %s with %s; start again in %s", method, v, rl.RetryAfter)
	}
	var sc slack.StatusCodeError
	if errors.As(err, &sc) {
		return startupErr(tandem.EUNAVAILABLE, []string{"TANDEM_SLACK_API_URL"}, err,
			"Slack at %s answered HTTP %d to %s; check TANDEM_SLACK_API_URL (Slack's is %s) or try again later", api, sc.Code, method, DefaultSlackAPIURL)
	}
	return startupErr(tandem.EUNAVAILABLE, []string{"TANDEM_SLACK_API_URL"}, err,
		"cannot reach Slack at %s for %s: %s; check TANDEM_SLACK_API_URL and this host's DNS, proxy and firewall", api, method, NetworkCause(err))
}
