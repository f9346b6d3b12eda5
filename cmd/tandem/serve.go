package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"time"

	"github.com/slack-go/slack"
	"github.com/tandembot/tandem"
	"github.com/tandembot/tandem/bot"
	"github.com/tandembot/tandem/integrations"
	"github.com/tandembot/tandem/secrets"
	"github.com/tandembot/tandem/store"
)

// providerTimeout bounds every call to a provider, so an outage fails a turn
// fast instead of holding its session.
const providerTimeout = 15 * time.Second

// serve runs the bot and its HTTP server until ctx ends.
func serve(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	if err := fs.Parse(args); err != nil {
		return err
	}
	cfg, err := loadConfig(getenv)
	if err != nil {
		return err
	}
	log := newLogger(cfg.LogFormat, stderr)

	keys, err := openKeyring(cfg, log)
	if err != nil {
		return err
	}
	db, err := store.Open(cfg.DBPath, store.Options{Keyring: keys})
	if err != nil {
		return fmt.Errorf("tandem: %s", tandem.ErrorMessage(err))
	}
	defer db.Close()

	providers := map[tandem.ProviderID]tandem.Provider{}
	for id, pe := range cfg.Providers {
		if f, ok := providerFactories[id]; ok {
			p, err := f(pe)
			if err != nil {
				return fmt.Errorf("tandem: configuration problems:\n  %w", err)
			}
			providers[id] = p
		} else {
			log.Warn("provider configured but not available in this build", "provider", id)
		}
	}
	if len(providers) == 0 {
		log.Warn("no provider is enabled: set TANDEM_GITHUB_CLIENT_ID and TANDEM_GITHUB_CLIENT_SECRET")
	}
	httpClient := &http.Client{Timeout: providerTimeout}

	api := slack.New(cfg.BotToken, slack.OptionAppLevelToken(cfg.AppToken), slack.OptionAPIURL(cfg.SlackAPIURL))
	flow := &integrations.Flow{Store: db, Signer: keys, PublicURL: cfg.PublicURL, Providers: providers, HTTPClient: httpClient, Logger: log}
	tokens := &integrations.Tokens{Store: db, Providers: providers, HTTPClient: httpClient, Logger: log}
	b := bot.New(bot.Config{
		Slack: api, Store: db, Resolver: tokens, Linker: flow, Providers: providers, Logger: log,
		PingInterval: pingInterval(getenv),
	})
	flow.OnLinked = b.OnLinked
	tokens.OnNeedsReconnect = b.OnNeedsReconnect

	mux := http.NewServeMux()
	mux.Handle("GET /connect/{provider}", flow.Handler())
	mux.Handle("GET /oauth/{provider}/callback", flow.Handler())
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ok") })
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		if !b.Ready() {
			http.Error(w, "not connected to Slack", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ready")
	})
	ln, err := net.Listen("tcp", cfg.HTTPAddr)
	if err != nil {
		return fmt.Errorf("tandem: TANDEM_HTTP_ADDR %s: %w", cfg.HTTPAddr, err)
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	log.Info("http listening", "addr", ln.Addr().String(), "public_url", cfg.PublicURL)
	for id := range providers {
		log.Info("provider enabled", "provider", id, "callback_url", flow.RedirectURL(id))
	}

	botErr := b.Run(ctx)
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cfg.ShutdownTimeout)
	defer cancel()
	srv.Shutdown(shutdownCtx)
	log.Info("tandem stopped")
	return botErr
}

// openKeyring uses TANDEM_ENCRYPTION_KEY, or a key file beside the database
// that is generated on first run.
func openKeyring(cfg config, log *slog.Logger) (*secrets.Keyring, error) {
	var problems []string
	var prev [][]byte
	for i, p := range cfg.PreviousKeys {
		k, err := secrets.ParseKey(strings.TrimSpace(p))
		if err != nil {
			problems = append(problems, fmt.Sprintf("TANDEM_ENCRYPTION_KEY_PREVIOUS entry %d: %v", i+1, err))
		}
		prev = append(prev, k)
	}
	var key []byte
	if cfg.EncryptionKey != "" {
		k, err := secrets.ParseKey(cfg.EncryptionKey)
		if err != nil {
			problems = append(problems, "TANDEM_ENCRYPTION_KEY: "+err.Error())
		}
		key = k
	} else {
		path := keyFilePath(cfg.DBPath)
		k, created, err := secrets.LoadOrCreateKeyFile(path)
		if err != nil {
			problems = append(problems, fmt.Sprintf("TANDEM_ENCRYPTION_KEY is not set and the key file %s cannot be used: %v", path, err))
		} else if created {
			log.Warn("generated a new encryption key file; back it up, tokens cannot be read without it", "path", path, "mode", "0600")
		}
		key = k
	}
	if len(problems) > 0 {
		return nil, errors.New("tandem: configuration problems:\n  " + strings.Join(problems, "\n  "))
	}
	keys, err := secrets.NewKeyring(key, prev...)
	if err != nil {
		return nil, fmt.Errorf("tandem: encryption key: %w", err)
	}
	return keys, nil
}

func keyFilePath(dbPath string) string {
	return filepath.Join(filepath.Dir(dbPath), filepath.Base(dbPath)+".key")
}

func newLogger(format string, w io.Writer) *slog.Logger {
	if format == "json" {
		return slog.New(slog.NewJSONHandler(w, nil))
	}
	return slog.New(slog.NewTextHandler(w, nil))
}

// pingInterval reads TANDEM_SLACK_PING_INTERVAL, for tests and networks
// where Slack's pings arrive late; 0 keeps slack-go's default.
func pingInterval(getenv func(string) string) time.Duration {
	d, _ := time.ParseDuration(getenv("TANDEM_SLACK_PING_INTERVAL"))
	return d
}
