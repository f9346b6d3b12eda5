package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/tandembot/tandem"
	"github.com/tandembot/tandem/app"
	"github.com/tandembot/tandem/internal/fakegithub"
	"github.com/tandembot/tandem/internal/fakegitlab"
	"github.com/tandembot/tandem/internal/fakegoogle"
	"github.com/tandembot/tandem/internal/fakejira"
	"github.com/tandembot/tandem/internal/fakeslack"
)

// tandem-console runs the real app (app.New and app.Run, the same bot,
// handlers, integrations and store as tandem serve) against an in-process Slack
// (internal/fakeslack) and the demo providers (internal/fake*, DemoData),
// and gives a terminal chat in front of it. It never talks to the network
// beyond loopback.

// demoChannelID and demoChannelName are the one public channel of the demo workspace.
const (
	demoChannelID   = "C0DEMO"
	demoChannelName = "demo"
)

// demoPerson is one member of the demo workspace and their accounts at the
// demo providers.
type demoPerson struct {
	ID, Name, RealName string
	Admin              bool
	Note               string
	Logins             map[tandem.ProviderID]string
}

func demoLogins(name string) map[tandem.ProviderID]string {
	return map[tandem.ProviderID]string{
		tandem.GitHub: name, tandem.GitLab: name,
		tandem.Jira: name + "@example.test", tandem.Google: name + "@example.test",
	}
}

// demoPeople are the workspace's members. The first three are the fakes'
// DemoUsers, who own the seeded work; dave is a workspace admin, and so a
// channel admin of #demo.
var demoPeople = []demoPerson{
	{ID: "UALICE", Name: "alice", RealName: "Alice Liddell", Note: "has open PRs and MRs in acme/widgets and acme/gadgets", Logins: demoLogins("alice")},
	{ID: "UBOB", Name: "bob", RealName: "Bob Marley", Note: "reviews alice's work, has a PR of his own", Logins: demoLogins("bob")},
	{ID: "UCAROL", Name: "carol", RealName: "Carol Danvers", Note: "works on gadgets", Logins: demoLogins("carol")},
	{ID: "UDAVE", Name: "dave", RealName: "Dave Lister", Admin: true, Note: "workspace admin: a channel admin of #demo", Logins: demoLogins("dave")},
}

func demoPersonNamed(name string) (demoPerson, bool) {
	name = strings.TrimPrefix(strings.ToLower(strings.TrimSpace(name)), "@")
	for _, p := range demoPeople {
		if p.Name == name || strings.EqualFold(p.ID, name) {
			return p, true
		}
	}
	return demoPerson{}, false
}

func demoPersonByID(id string) (demoPerson, bool) {
	for _, p := range demoPeople {
		if p.ID == id {
			return p, true
		}
	}
	return demoPerson{}, false
}

// consoleOptions are the flags of tandem-console.
type consoleOptions struct {
	script      string
	db          string
	logPath     string
	autoConsent bool
	color       bool
	echo        bool // print each input line after the prompt (pipes, scripts)
	tty         bool // interactive terminal: show late replies at the prompt
}

const consoleUsage = `usage: tandem-console [--script FILE] [--db FILE] [--auto-consent] [--log FILE]

Runs the real Tandem bot against a built-in Slack and demo GitHub, GitLab,
Jira and Google accounts, with a terminal chat in front of it.

`

// run is the whole program: main only calls it, and tests call it with their
// own arguments, environment and streams. stdin is read only without
// --script.
func run(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("tandem-console", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, consoleUsage)
		fs.PrintDefaults()
	}
	var opts consoleOptions
	fs.StringVar(&opts.script, "script", "", "run the scripted conversation in `FILE` and exit non-zero if an expect line fails")
	fs.StringVar(&opts.db, "db", "", "keep Tandem's database in `FILE` (default: a temporary one, removed at exit); the demo providers start afresh each run, so links kept from an earlier run show as expired")
	fs.StringVar(&opts.logPath, "log", "", "write the bot's logs to `FILE` (default: a file in the temporary directory)")
	fs.BoolVar(&opts.autoConsent, "auto-consent", false, "complete the demo providers' consent pages as the current user, without a browser")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		fs.Usage()
		return fmt.Errorf("tandem-console: unexpected argument %q", fs.Arg(0))
	}
	if opts.script != "" {
		opts.autoConsent, opts.echo = true, true
	} else {
		opts.tty = consoleIsTerminal(stdin)
		opts.echo = !opts.tty
		opts.color = opts.tty && consoleIsTerminal(stdout) && getenv("NO_COLOR") == "" && getenv("TERM") != "dumb"
	}
	w, err := startConsoleWorld(ctx, opts)
	if err != nil {
		return err
	}
	c := newConsole(w, opts, stdout)
	var runErr error
	if opts.script != "" {
		runErr = c.runScript(ctx, opts.script)
	} else {
		c.banner()
		runErr = c.interactive(ctx, stdin)
	}
	w.stop(runErr != nil)
	if runErr != nil && w.logKept {
		return fmt.Errorf("%w\n(the bot's logs are in %s)", runErr, w.logPath)
	}
	return runErr
}

func consoleIsTerminal(v any) bool {
	f, ok := v.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// consoleWorld is everything the console runs: the fakes and the real app.
type consoleWorld struct {
	dir     string // temporary directory, removed at stop
	logPath string
	logFile *os.File
	logKept bool
	public  string

	slack  *fakeslack.Server
	gh     *fakegithub.Server
	gl     *fakegitlab.Server
	jira   *fakejira.Server
	google *fakegoogle.Server
	// providerHosts maps each demo provider's host:port to its id, to
	// recognise its consent page when following a link.
	providerHosts map[string]tandem.ProviderID

	app    *app.App
	cancel context.CancelFunc
	done   chan error
	closed sync.Once
}

// startConsoleWorld starts the fakes and the app, and waits until the bot is
// connected to the fake Slack.
func startConsoleWorld(ctx context.Context, opts consoleOptions) (w *consoleWorld, err error) {
	dir, err := os.MkdirTemp("", "tandem-console-")
	if err != nil {
		return nil, fmt.Errorf("tandem-console: %w", err)
	}
	w = &consoleWorld{dir: dir}
	defer func() {
		if err != nil {
			w.stop(false)
		}
	}()
	w.logPath = opts.logPath
	if w.logPath == "" {
		w.logPath = filepath.Join(dir, "tandem.log")
	}
	w.logFile, err = os.OpenFile(w.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("tandem-console: log file: %w", err)
	}
	logger := app.NewLogger("text", w.logFile)
	fakeLog := func(format string, args ...any) { logger.Info(fmt.Sprintf(format, args...)) }

	var users []fakeslack.User
	for _, p := range demoPeople {
		users = append(users, fakeslack.User{ID: p.ID, Name: p.Name, RealName: p.RealName, IsAdmin: p.Admin})
	}
	slackSecret := "console-slack-" + consoleRandomHex(16)
	w.slack = fakeslack.New(fakeslack.Options{
		BotToken: "xoxb-console-" + consoleRandomHex(12), AppToken: "xapp-console-" + consoleRandomHex(12),
		Users:    users,
		Channels: []fakeslack.Channel{{ID: demoChannelID, Name: demoChannelName, Creator: "UDAVE"}},
		Logf:     fakeLog,
		// Sign in with Slack, as the real app has it.
		OpenIDClientID: "console.slack", OpenIDClientSecret: slackSecret,
	})
	if err := w.slack.Start(); err != nil {
		return nil, fmt.Errorf("tandem-console: %w", err)
	}

	secret := "console-" + consoleRandomHex(16)
	dave := demoPeople[3]
	w.gh = fakegithub.New(fakegithub.Options{ClientID: "tandem-console", ClientSecret: secret, DemoData: true,
		Users: append(fakegithub.DemoUsers(), fakegithub.User{Login: dave.Logins[tandem.GitHub], Name: dave.RealName, Email: "dave@example.com"})})
	w.gl = fakegitlab.New(fakegitlab.Options{ClientID: "tandem-console", ClientSecret: secret, DemoData: true,
		Users: append(fakegitlab.DemoUsers(), fakegitlab.User{Login: dave.Logins[tandem.GitLab], Name: dave.RealName, Email: "dave@example.com"})})
	w.jira = fakejira.New(fakejira.Options{ClientID: "tandem-console", ClientSecret: secret, DemoData: true,
		Users: append(fakejira.DemoUsers(), fakejira.User{Email: dave.Logins[tandem.Jira], Name: dave.RealName, Sites: []string{fakejira.DemoAcme}})})
	w.google = fakegoogle.New(fakegoogle.Options{ClientID: "tandem-console", ClientSecret: secret, DemoData: true,
		Users: append(fakegoogle.DemoUsers(), fakegoogle.User{Email: dave.Logins[tandem.Google], Name: dave.RealName, TimeZone: "UTC"})})
	providers := map[tandem.ProviderID]interface {
		Start() error
		URL() string
	}{tandem.GitHub: w.gh, tandem.GitLab: w.gl, tandem.Jira: w.jira, tandem.Google: w.google}
	envs := map[tandem.ProviderID]app.ProviderEnv{}
	w.providerHosts = map[string]tandem.ProviderID{}
	for _, p := range tandem.Providers {
		f, ok := providers[p]
		if !ok {
			continue
		}
		if err := f.Start(); err != nil {
			return nil, fmt.Errorf("tandem-console: demo %s: %w", p.Name(), err)
		}
		envs[p] = app.ProviderEnv{ClientID: "tandem-console", ClientSecret: secret, BaseURL: f.URL()}
		if u, err := url.Parse(f.URL()); err == nil {
			w.providerHosts[u.Host] = p
		}
	}

	port, err := consoleFreePort()
	if err != nil {
		return nil, fmt.Errorf("tandem-console: %w", err)
	}
	w.public = "http://127.0.0.1:" + port
	db := opts.db
	if db == "" {
		db = filepath.Join(dir, "tandem.db")
	}
	cfg := app.Config{
		AppToken:        w.slack.AppToken(),
		BotToken:        w.slack.BotToken(),
		SlackAPIURL:     w.slack.APIURL(),
		DBPath:          db, // the key file is created beside it
		PublicURL:       w.public,
		HTTPAddr:        "127.0.0.1:" + port,
		LogFormat:       "text",
		ShutdownTimeout: 5 * time.Second,
		Providers:       envs,
		SlackClientID:   "console.slack", SlackClientSecret: slackSecret,
		SlackAuthURL: w.slack.OpenIDAuthorizeURL(),
	}
	a, err := app.New(cfg, logger)
	if err != nil {
		return nil, err
	}
	w.app = a
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	w.cancel, w.done = cancel, make(chan error, 1)
	go func() { w.done <- a.Run(runCtx) }()

	deadline := time.Now().Add(20 * time.Second)
	for !a.Bot().Ready() || w.slack.Connections() == 0 {
		select {
		case err := <-w.done:
			w.done <- err
			return nil, fmt.Errorf("tandem-console: the bot stopped at start: %v", err)
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return nil, errors.New("tandem-console: the bot did not connect to the built-in Slack")
		}
	}
	logger.Info("tandem-console ready", "public_url", w.public, "db", db)
	return w, nil
}

// stop shuts the app and the fakes down and removes the temporary
// directory. keepLog keeps the log file (and so the directory, without the
// database) to read after a failure.
func (w *consoleWorld) stop(keepLog bool) {
	w.closed.Do(func() {
		if w.cancel != nil {
			w.cancel()
			select {
			case <-w.done:
			case <-time.After(15 * time.Second):
			}
		}
		if w.app != nil {
			w.app.Close()
		}
		for _, f := range []interface{ Close() }{w.slack, w.gh, w.gl, w.jira, w.google} {
			if f != nil && !consoleNilCloser(f) {
				f.Close()
			}
		}
		if w.logFile != nil {
			w.logFile.Close()
		}
		inDir := strings.HasPrefix(w.logPath, w.dir+string(filepath.Separator))
		if keepLog && inDir {
			// Keep the log only: the database and its key hold tokens.
			entries, _ := os.ReadDir(w.dir)
			for _, e := range entries {
				if filepath.Join(w.dir, e.Name()) != w.logPath {
					os.RemoveAll(filepath.Join(w.dir, e.Name()))
				}
			}
			w.logKept = true
			return
		}
		w.logKept = !inDir
		os.RemoveAll(w.dir)
	})
}

// consoleNilCloser reports whether f holds a nil pointer (a fake never created).
func consoleNilCloser(f interface{ Close() }) bool {
	switch x := f.(type) {
	case *fakeslack.Server:
		return x == nil
	case *fakegithub.Server:
		return x == nil
	case *fakegitlab.Server:
		return x == nil
	case *fakejira.Server:
		return x == nil
	case *fakegoogle.Server:
		return x == nil
	}
	return false
}

// setAutoConsent makes every demo provider approve consent as p without
// showing its page, for links opened in a real browser.
func (w *consoleWorld) setAutoConsent(p demoPerson) {
	w.gh.SetAutoConsent(p.Logins[tandem.GitHub])
	w.gl.SetAutoConsent(p.Logins[tandem.GitLab])
	w.jira.SetAutoConsent(p.Logins[tandem.Jira])
	w.google.SetAutoConsent(p.Logins[tandem.Google])
}

// unfinishedTurns is how many turns the bot's inbox holds not yet done.
func (w *consoleWorld) unfinishedTurns(ctx context.Context) int {
	recs, err := w.app.DB().UnfinishedTurns(ctx)
	if err != nil {
		return 0
	}
	return len(recs)
}

func consoleFreePort() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	_, port, err := net.SplitHostPort(ln.Addr().String())
	return port, err
}

func consoleRandomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}
