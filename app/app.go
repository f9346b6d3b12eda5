// Package app builds a whole Tandem from its configuration (store,
// providers, OAuth flow, token source, bot and HTTP server) and runs it.
// cmd/tandem runs it against Slack (tandem serve); cmd/tandem-console runs
// the same app against an in-process Slack and demo providers.
package app

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/slack-go/slack"
	"github.com/tandembot/tandem"
	"github.com/tandembot/tandem/agent"
	"github.com/tandembot/tandem/api"
	"github.com/tandembot/tandem/bot"
	"github.com/tandembot/tandem/integrations"
	"github.com/tandembot/tandem/integrations/slacksignin"
	"github.com/tandembot/tandem/mcpserver"
	"github.com/tandembot/tandem/metrics"
	"github.com/tandembot/tandem/turns"
)

// App is a whole Tandem: store, providers, OAuth flow, token source, bot
// and HTTP server.
type App struct {
	cfg       Config
	log       *slog.Logger
	db        DB
	providers map[tandem.ProviderID]tandem.Provider
	flow      *integrations.Flow
	tokens    *integrations.Tokens
	bot       *bot.Bot
	keys      *api.Keys
	mux       *http.ServeMux
	ln        net.Listener
	// schemaMoved is set once watchSchema found the database migrated by
	// a newer release: the API and MCP answer 503 from then on.
	schemaMoved atomic.Bool
}

// New builds the app from its configuration and opens its store and HTTP
// listener; Run runs it and Close closes the store. Before it creates or
// logs anything it checks TANDEM_DB's folder and asks Slack whether it takes
// both tokens. New fails, with a *StartupError for the start-up checks, the
// key and the store, when Slack refuses a token or cannot be reached, the
// key or the store cannot be opened, a provider's settings are wrong, or
// the HTTP address cannot be listened on.
func New(cfg Config, log *slog.Logger) (*App, error) {
	if cfg.DatabaseURL == "" {
		if err := checkDBFolder(cfg); err != nil {
			return nil, err
		}
	}
	// Slack Web API calls are bounded: a hung call must not hold a session
	// forever. Every running turn posts to Slack (up to four pools' worth
	// at once, the gate's bound), and Go's default keeps two idle
	// connections per host: under a burst most replies would dial a new
	// connection and close it again.
	slackHTTP := slackClient(cfg.Concurrency)
	if err := checkSlack(cfg, slackHTTP); err != nil {
		return nil, err
	}
	keys, createdKey, err := openKeyring(cfg)
	if err != nil {
		return nil, err
	}
	db, err := OpenDB(context.Background(), cfg, keys)
	if err != nil {
		// A key generated for a database that did not open protects
		// nothing; leaving it would make the next start use it.
		if createdKey != "" {
			os.Remove(createdKey)
		}
		return nil, err
	}
	if createdKey != "" {
		logKeyCreated(log, createdKey)
	}
	log.Info("store opened", "backend", DescribeDB(cfg))
	a := &App{cfg: cfg, log: log, db: db, providers: map[tandem.ProviderID]tandem.Provider{}}
	for _, spec := range providers {
		pe, ok := cfg.Providers[spec.ID]
		if !ok {
			continue
		}
		p, err := spec.Build(pe)
		if err != nil {
			db.Close()
			return nil, fmt.Errorf("tandem: configuration problems:\n  %sURL: %w", spec.EnvPrefix(), err)
		}
		a.providers[spec.ID] = p
	}
	if len(a.providers) == 0 {
		log.Warn("no provider is enabled: set TANDEM_GITHUB_CLIENT_ID and TANDEM_GITHUB_CLIENT_SECRET (or another provider's)")
	}
	// The timeout bounds every provider call, so an outage fails a turn fast
	// instead of holding its session.
	// Keep as many idle connections per provider host as turns may run at
	// once, so a burst does not open (and TLS-handshake) a connection per
	// call.
	httpClient := &http.Client{Timeout: cfg.ProviderTimeout, Transport: keepAlive(cfg.Concurrency)}
	slackAPI := slack.New(cfg.BotToken, slack.OptionAppLevelToken(cfg.AppToken), slack.OptionAPIURL(cfg.SlackAPIURL),
		slack.OptionHTTPClient(slackHTTP))
	a.flow = &integrations.Flow{Store: db, Signer: keys, PublicURL: cfg.PublicURL, Providers: a.providers, HTTPClient: httpClient, Logger: log, Now: cfg.Now}
	if cfg.NoSlackSignIn {
		log.Warn("TANDEM_CONNECT_WITHOUT_SLACK_SIGNIN=true: connect links do not check which Slack user opens them; a person who is sent someone else's link is only warned by a confirmation page naming that user. Set TANDEM_SLACK_CLIENT_ID and TANDEM_SLACK_CLIENT_SECRET to use Sign in with Slack.")
	} else {
		a.flow.SignIn = &slacksignin.Client{
			ClientID: cfg.SlackClientID, ClientSecret: cfg.SlackClientSecret,
			AuthorizeURL: cfg.SlackAuthURL, APIURL: cfg.SlackAPIURL,
			HTTPClient: &http.Client{Timeout: 30 * time.Second},
		}
	}
	a.tokens = &integrations.Tokens{Store: db, Providers: a.providers, HTTPClient: httpClient, Logger: log}
	a.keys = &api.Keys{Store: db, Now: cfg.Now}
	var b *bot.Bot
	m := metrics.New(cfg.Replica, metrics.Gauges{
		InboxDepth:   func() float64 { return float64(b.InboxDepth()) },
		OpenSessions: func() float64 { return float64(b.OpenSessions()) },
		OldestWait:   func() float64 { return b.OldestWait().Seconds() },
		TurnLimit:    func() float64 { return float64(b.TurnLimit()) },
	})
	a.tokens.OnRefresh, a.tokens.OnCall = m.Refresh, m.ProviderCall
	// Every provider's operations parse, enabled or not, so that asking a
	// disabled one says it is not enabled rather than "did you mean".
	operations := Operations()
	var agentTurns *turns.Agent
	if cfg.AgentEnabled() {
		model, err := agent.NewModel(cfg.LLM)
		if err != nil {
			return nil, err
		}
		agentTurns = &turns.Agent{Planner: &agent.Planner{Model: model}, Tools: agent.Tools(operations.Specs()),
			MaxCalls: cfg.AgentMaxCalls, Timeout: cfg.AgentTimeout}
		log.Info("agent turns on", "api", cfg.LLM.API, "model", cfg.LLM.Model, "tools", len(agentTurns.Tools))
	}
	b = bot.New(bot.Config{
		Slack: slackAPI, Store: db, Resolver: a.tokens, Linker: a.flow, Providers: a.providers, Logger: log,
		Operations: operations, Agent: agentTurns,
		Keys: a.keys, Admins: cfg.Admins, PingInterval: cfg.PingInterval, Metrics: m,
		ShutdownTimeout: cfg.ShutdownTimeout, Concurrency: cfg.Concurrency, LeaseTTL: cfg.LeaseTTL,
		ReorderWindow:    cfg.ReorderWindow,
		SchedulesPerUser: cfg.SchedulesPerUser, ScheduleGrace: cfg.ScheduleGrace, ScheduleTick: cfg.ScheduleTick, Now: cfg.Now,
	})
	a.bot = b
	a.flow.OnLinked, a.flow.OnMisused, a.flow.Directory = a.bot.OnLinked, a.bot.OnLinkMisused, a.bot
	a.tokens.OnNeedsReconnect = a.bot.OnNeedsReconnect

	var enabled []tandem.ProviderID
	for _, p := range tandem.Providers {
		if _, ok := a.providers[p]; ok {
			enabled = append(enabled, p)
		}
	}
	m.Init(enabled)
	apiSrv := &api.Server{Keys: a.keys, Runner: a.bot, Links: db, Creators: a.bot, Providers: enabled, Logger: log, Halted: a.schemaMoved.Load}
	a.mux = http.NewServeMux()
	flow := a.flow.Handler()
	a.mux.Handle("GET /connect/{provider}", flow)
	a.mux.Handle("POST /connect/{provider}/confirm", flow)
	a.mux.Handle("GET /oauth/slack/callback", flow)
	a.mux.Handle("GET /oauth/{provider}/callback", flow)
	a.mux.Handle("/api/", apiSrv.Handler())
	// MCP: the same operations for agents outside Slack, as the key's
	// creator; every request authenticated as the API's are.
	// It is built on its first request: declaring its tools takes a few
	// milliseconds that a start need not wait for.
	mcpHandler := sync.OnceValue(func() http.Handler {
		return mcpserver.Handler(mcpserver.Config{
			Tools: agent.Tools(operations.Specs()), Runner: a.bot, KeyFrom: api.KeyFrom, Version: "1", Logger: log,
		})
	})
	a.mux.Handle("/mcp", apiSrv.RequireKey(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mcpHandler().ServeHTTP(w, r)
	})))
	a.mux.Handle("GET /metrics", m.Handler())
	a.mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ok") })
	a.mux.HandleFunc("GET /readyz", a.readyz)
	a.ln, err = net.Listen("tcp", cfg.HTTPAddr)
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("tandem: TANDEM_HTTP_ADDR %s: %w", cfg.HTTPAddr, err)
	}
	return a, nil
}

// Config returns the configuration the app was built from.
func (a *App) Config() Config { return a.cfg }

// Logger returns the app's logger.
func (a *App) Logger() *slog.Logger { return a.log }

// DB returns the app's open store.
func (a *App) DB() DB { return a.db }

// Bot returns the app's bot; its Ready reports whether it is connected to
// Slack.
func (a *App) Bot() *bot.Bot { return a.bot }

// Keys returns the app's API keys.
func (a *App) Keys() *api.Keys { return a.keys }

func (a *App) readyz(w http.ResponseWriter, r *http.Request) {
	if !a.bot.Ready() {
		http.Error(w, "not connected to Slack", http.StatusServiceUnavailable)
		return
	}
	if err := a.db.Ping(r.Context()); err != nil {
		http.Error(w, "store not reachable", http.StatusServiceUnavailable)
		return
	}
	fmt.Fprintln(w, "ready")
}

// Run serves HTTP and runs the bot until ctx ends, then shuts down within
// cfg.ShutdownTimeout (TANDEM_SHUTDOWN_TIMEOUT). It returns the bot's
// error: nil after a clean shutdown, else why the bot stopped (EINVALID
// when a newer release migrated the database under it: watchSchema).
func (a *App) Run(ctx context.Context) error {
	// WriteTimeout runs from the end of a request's headers to the end of its
	// answer, so it must cover reading the body (ReadTimeout) and the API's
	// wait for a turn (api.TurnTimeout), with room to write the answer.
	srv := &http.Server{Handler: a.mux, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second,
		WriteTimeout: 30*time.Second + api.TurnTimeout + 30*time.Second, IdleTimeout: 2 * time.Minute, MaxHeaderBytes: 64 << 10}
	go srv.Serve(a.ln)
	a.log.Info("http listening", "addr", a.ln.Addr().String(), "public_url", a.cfg.PublicURL)
	if a.flow.SignIn != nil {
		a.log.Info("sign in with slack enabled", "redirect_url", a.flow.SlackRedirectURL())
	}
	for _, p := range tandem.Providers {
		if _, ok := a.providers[p]; ok {
			a.log.Info("provider enabled", "provider", p, "callback_url", a.flow.RedirectURL(p))
		}
	}
	ctx, stop := context.WithCancelCause(ctx)
	defer stop(nil)
	go a.housekeeping(ctx)
	if db, ok := a.db.(schemaChecker); ok {
		go a.watchSchema(ctx, db, stop)
	}
	botErr := a.bot.Run(ctx)
	if cause := context.Cause(ctx); botErr == nil && tandem.ErrorCode(cause) == tandem.EINVALID {
		botErr = cause
	}
	if botErr != nil && ctx.Err() == nil && a.bot.Team() == "" {
		// Slack refused the bot token (or could not be reached) at the
		// bot's own auth.test, after checkSlack had taken it.
		botErr = slackError(a.cfg, botTokenVar, "auth.test", botErr)
	}
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), a.cfg.ShutdownTimeout)
	defer cancel()
	srv.Shutdown(shutdownCtx)
	a.log.Info("tandem stopped")
	return botErr
}

// schemaChecker is a store that several replicas share and another
// release may migrate under them (PostgreSQL).
type schemaChecker interface {
	CheckSchema(ctx context.Context) error
}

// defaultSchemaCheck is how often a replica reads the schema version
// again.
const defaultSchemaCheck = 10 * time.Second

// watchSchema reads db's schema version every Config.SchemaCheck until ctx
// ends. Once it is no longer this binary's (tandem migrate ran from a
// newer release while this replica still served), it stops the replica
// through stop, as a shutdown does: this binary would ignore what the new
// schema adds (an operator's API key waiting for its person's Allow, say)
// and act on it. A database that does not answer is not a reason to stop:
// the next read tries again.
func (a *App) watchSchema(ctx context.Context, db schemaChecker, stop context.CancelCauseFunc) {
	every := a.cfg.SchemaCheck
	if every <= 0 {
		every = defaultSchemaCheck
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		err := db.CheckSchema(ctx)
		if tandem.ErrorCode(err) != tandem.EINVALID {
			continue
		}
		a.log.Error("the database's schema changed under this replica; stopping it (start the release that migrated it)", "err", err)
		a.schemaMoved.Store(true)
		stop(err)
		return
	}
}

// Close closes the store; it returns the store's error.
func (a *App) Close() error { return a.db.Close() }

// Housekeeping intervals: how long finished turns are kept for duplicate
// detection (Slack redelivers for minutes; a day is generous), and how often
// old records are pruned.
const (
	turnRetention   = 24 * time.Hour
	housekeepPeriod = time.Hour
)

// housekeeping prunes audit records past TANDEM_AUDIT_RETENTION, finished
// turns past turnRetention and expired OAuth states, hourly.
func (a *App) housekeeping(ctx context.Context) {
	t := time.NewTicker(housekeepPeriod)
	defer t.Stop()
	for {
		now := time.Now()
		audit, _ := a.db.PruneAudit(now.Add(-a.cfg.AuditRetention))
		turns, _ := a.db.PruneTurns(now.Add(-turnRetention))
		states, _ := a.db.PruneOAuthStates(now)
		if audit+turns+states > 0 {
			a.log.Info("pruned old records", "audit", audit, "turns", turns, "oauth_states", states)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// NewLogger returns a logger writing to w as JSON when format is "json",
// else as text.
func NewLogger(format string, w io.Writer) *slog.Logger {
	if format == "json" {
		return slog.New(slog.NewJSONHandler(w, nil))
	}
	return slog.New(slog.NewTextHandler(w, nil))
}

// keepAlive is Go's default transport keeping up to perHost idle
// connections to each host, with no bound across hosts (the default's 100
// would bound a single busy host too).
// slackClient is the HTTP client of Slack's Web API for concurrency turns
// at once (keepAlive), each call bounded. slack-go sends the bot token in
// the form of most calls (token=xoxb-...), and net/http repeats a form on
// a 307 or 308 to whatever host it names: a redirect is followed only on
// the first request's host (integrations.StayOnHost).
func slackClient(concurrency int) *http.Client {
	return &http.Client{Timeout: 30 * time.Second, Transport: keepAlive(4 * concurrency), CheckRedirect: integrations.StayOnHost}
}

func keepAlive(perHost int) *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConns = 0
	t.MaxIdleConnsPerHost = perHost
	return t
}
