package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"github.com/tandembot/tandem/agent"
	"io"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"slices"
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

// demoFake is what the console uses of a demo provider's fake server
// (internal/fake*).
type demoFake interface {
	Start() error
	URL() string
	// SetAutoConsent makes the fake approve consent as login without
	// showing its page.
	SetAutoConsent(login string)
	Close()
}

// demoProvider is one demo provider of the console: its id, how a demo
// person's login there follows from their name, and how to build its fake.
// It is the only place the console names a provider: adding one is one
// entry in demoProviders.
type demoProvider struct {
	id tandem.ProviderID
	// login is a demo person's login at the provider, from their name.
	login func(name string) string
	// newFake builds the provider's fake (not started), with its demo data
	// and demo users plus dave, whose login there is daveLogin.
	newFake func(clientSecret, daveLogin, daveRealName string) demoFake
}

func demoLoginName(name string) string  { return name }
func demoLoginEmail(name string) string { return name + "@example.test" }

// consoleClientID is the OAuth client id of Tandem at every demo provider.
const consoleClientID = "tandem-console"

// demoProviders are the demo providers the console runs, in the order of
// tandem.Providers.
var demoProviders = []demoProvider{
	{id: tandem.GitHub, login: demoLoginName, newFake: func(secret, login, realName string) demoFake {
		return fakegithub.New(fakegithub.Options{ClientID: consoleClientID, ClientSecret: secret, DemoData: true,
			Users: append(fakegithub.DemoUsers(), fakegithub.User{Login: login, Name: realName, Email: "dave@example.com"})})
	}},
	{id: tandem.GitLab, login: demoLoginName, newFake: func(secret, login, realName string) demoFake {
		return fakegitlab.New(fakegitlab.Options{ClientID: consoleClientID, ClientSecret: secret, DemoData: true,
			Users: append(fakegitlab.DemoUsers(), fakegitlab.User{Login: login, Name: realName, Email: "dave@example.com"})})
	}},
	{id: tandem.Jira, login: demoLoginEmail, newFake: func(secret, login, realName string) demoFake {
		return fakejira.New(fakejira.Options{ClientID: consoleClientID, ClientSecret: secret, DemoData: true,
			Users: append(fakejira.DemoUsers(), fakejira.User{Email: login, Name: realName, Sites: []string{fakejira.DemoAcme}})})
	}},
	{id: tandem.Google, login: demoLoginEmail, newFake: func(secret, login, realName string) demoFake {
		return fakegoogle.New(fakegoogle.Options{ClientID: consoleClientID, ClientSecret: secret, DemoData: true,
			Users: append(fakegoogle.DemoUsers(), fakegoogle.User{Email: login, Name: realName, TimeZone: "UTC"})})
	}},
}

// demoProviderNames is the demo providers' names as prose ("GitHub, GitLab,
// Jira and Google").
func demoProviderNames() string {
	var names []string
	for _, dp := range demoProviders {
		names = append(names, dp.id.Name())
	}
	if len(names) < 2 {
		return strings.Join(names, "")
	}
	return strings.Join(names[:len(names)-1], ", ") + " and " + names[len(names)-1]
}

// demoProviderIDs is the demo providers' ids as /connect takes them
// ("github, gitlab, jira, google").
func demoProviderIDs() string {
	var ids []string
	for _, dp := range demoProviders {
		ids = append(ids, string(dp.id))
	}
	return strings.Join(ids, ", ")
}

func demoLogins(name string) map[tandem.ProviderID]string {
	logins := map[tandem.ProviderID]string{}
	for _, dp := range demoProviders {
		logins[dp.id] = dp.login(name)
	}
	return logins
}

// demoLoginList is p's distinct logins at the demo providers, in table
// order, as the people list shows them ("alice / alice@example.test").
func (p demoPerson) demoLoginList() string {
	var list []string
	for _, dp := range demoProviders {
		if l := p.Logins[dp.id]; l != "" && !slices.Contains(list, l) {
			list = append(list, l)
		}
	}
	return strings.Join(list, " / ")
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

// demoNames lists the demo people's names for messages: "alice, bob,
// carol or dave".
func demoNames() string {
	names := make([]string, len(demoPeople))
	for i, p := range demoPeople {
		names[i] = p.Name
	}
	return strings.Join(names[:len(names)-1], ", ") + " or " + names[len(names)-1]
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
	// llm is the model of free-form requests, from TANDEM_LLM_URL,
	// TANDEM_LLM_MODEL, TANDEM_LLM_API_KEY and TANDEM_LLM_API (off when
	// unset), as for tandem serve.
	llm agent.Config
}

func consoleUsage() string {
	return "usage: tandem-console [--script FILE] [--db FILE] [--auto-consent] [--log FILE]\n\n" +
		consoleWrap("Runs the real Tandem bot against a built-in Slack and demo "+demoProviderNames()+
			" accounts, with a terminal chat in front of it.", 78) + "\n\n"
}

// consoleWrap breaks text into lines of at most width bytes, between words.
func consoleWrap(text string, width int) string {
	var b strings.Builder
	n := 0
	for _, word := range strings.Fields(text) {
		switch {
		case n > 0 && n+1+len(word) > width:
			b.WriteByte('\n')
			n = 0
		case n > 0:
			b.WriteByte(' ')
			n++
		}
		b.WriteString(word)
		n += len(word)
	}
	return b.String()
}

// run is the whole program: main only calls it, and tests call it with their
// own arguments, environment and streams. stdin is read only without
// --script.
func run(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("tandem-console", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, consoleUsage())
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
	opts.llm = agent.Config{BaseURL: getenv("TANDEM_LLM_URL"), Model: getenv("TANDEM_LLM_MODEL"), APIKey: getenv("TANDEM_LLM_API_KEY"), API: getenv("TANDEM_LLM_API")}
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

	slack *fakeslack.Server
	// fakes are the demo providers' fakes that were created, in the order
	// of demoProviders.
	fakes []consoleFake
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
	envs := map[tandem.ProviderID]app.ProviderEnv{}
	w.providerHosts = map[string]tandem.ProviderID{}
	for _, dp := range demoProviders {
		f := dp.newFake(secret, dave.Logins[dp.id], dave.RealName)
		w.fakes = append(w.fakes, consoleFake{id: dp.id, fake: f})
		if err := f.Start(); err != nil {
			return nil, fmt.Errorf("tandem-console: demo %s: %w", dp.id.Name(), err)
		}
		envs[dp.id] = app.ProviderEnv{ClientID: consoleClientID, ClientSecret: secret, BaseURL: f.URL()}
		if u, err := url.Parse(f.URL()); err == nil {
			w.providerHosts[u.Host] = dp.id
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
		LLM:          opts.llm, AgentMaxCalls: agent.DefaultMaxCalls, AgentTimeout: time.Minute,
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
			return nil, fmt.Errorf("tandem-console: the bot stopped at start: %w", err)
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
		if w.slack != nil {
			w.slack.Close()
		}
		for _, f := range w.fakes {
			f.fake.Close()
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

// consoleFake is a demo provider's fake the console created.
type consoleFake struct {
	id   tandem.ProviderID
	fake demoFake
}

// setAutoConsent makes every demo provider approve consent as p without
// showing its page, for links opened in a real browser.
func (w *consoleWorld) setAutoConsent(p demoPerson) {
	for _, f := range w.fakes {
		f.fake.SetAutoConsent(p.Logins[f.id])
	}
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
