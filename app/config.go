package app

import (
	"errors"
	"fmt"
	"github.com/tandembot/tandem/agent"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/tandembot/tandem"
	"github.com/tandembot/tandem/integrations"
)

// Config is everything tandem serve reads from the environment. The names
// are a contract documented in the README.
type Config struct {
	AppToken        string
	BotToken        string
	SlackAPIURL     string
	DBPath          string
	DatabaseURL     string // TANDEM_DATABASE_URL: PostgreSQL instead of DBPath
	EncryptionKey   string // base64, may be empty (a key file is used)
	PreviousKeys    []string
	PublicURL       string
	HTTPAddr        string
	Admins          []string
	LogFormat       string
	ShutdownTimeout time.Duration
	PingInterval    time.Duration
	AuditRetention  time.Duration
	Replica         string
	ProviderTimeout time.Duration
	Concurrency     int
	LeaseTTL        time.Duration
	ReorderWindow   time.Duration
	Providers       map[tandem.ProviderID]ProviderEnv
	// Sign in with Slack: the Slack app's own OAuth client. Without it,
	// NoSlackSignIn must be set (TANDEM_CONNECT_WITHOUT_SLACK_SIGNIN).
	SlackClientID     string
	SlackClientSecret string
	SlackAuthURL      string
	NoSlackSignIn     bool
	// Agent turns (free-form requests planned by a language model): off
	// unless TANDEM_LLM_URL and TANDEM_LLM_MODEL are set.
	LLM           agent.Config
	AgentMaxCalls int
	AgentTimeout  time.Duration
	// Schedules: how many one person may have (TANDEM_SCHEDULES_PER_USER)
	// and how late a run missed while Tandem was down may still start
	// (TANDEM_SCHEDULE_GRACE).
	SchedulesPerUser int
	ScheduleGrace    time.Duration
	// Now is the clock of the store, turns and schedules, and ScheduleTick
	// how often due schedules are looked for: zero for time.Now and 15 s
	// (tests set them; no variable does).
	Now          func() time.Time
	ScheduleTick time.Duration
	// SchemaCheck is how often a replica on PostgreSQL reads the schema
	// version again (App.watchSchema): zero for every 10 s (tests set it;
	// no variable does).
	SchemaCheck time.Duration
}

// AgentEnabled reports whether free-form requests go to a model.
func (c Config) AgentEnabled() bool { return c.LLM.BaseURL != "" }

// DefaultSlackAPIURL is Slack's Web API, used when TANDEM_SLACK_API_URL is
// not set.
const DefaultSlackAPIURL = "https://slack.com/api/"

// ProviderEnv is one provider's OAuth client and endpoints, from its
// TANDEM_<P>_* variables.
type ProviderEnv = integrations.Settings

// LoadConfig reads the environment through getenv. On failure it returns an
// error that reports every problem at once, one line each, naming the
// variable and what it expects, and never echoes a secret's value.
func LoadConfig(getenv func(string) string) (Config, error) {
	var problems []string
	bad := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	or := func(name, def string) string {
		if v := strings.TrimSpace(getenv(name)); v != "" {
			return v
		}
		return def
	}
	c := Config{
		AppToken:      strings.TrimSpace(getenv("SLACK_APP_TOKEN")),
		BotToken:      strings.TrimSpace(getenv("SLACK_BOT_TOKEN")),
		SlackAPIURL:   or("TANDEM_SLACK_API_URL", DefaultSlackAPIURL),
		DBPath:        or("TANDEM_DB", "tandem.db"),
		DatabaseURL:   strings.TrimSpace(getenv("TANDEM_DATABASE_URL")),
		EncryptionKey: strings.TrimSpace(getenv("TANDEM_ENCRYPTION_KEY")),
		PublicURL:     strings.TrimRight(or("TANDEM_PUBLIC_URL", "http://localhost:8080"), "/"),
		HTTPAddr:      or("TANDEM_HTTP_ADDR", ":8080"),
		LogFormat:     or("TANDEM_LOG_FORMAT", "text"),
		Providers:     map[tandem.ProviderID]ProviderEnv{},
	}
	switch {
	case c.AppToken == "":
		bad("SLACK_APP_TOKEN is not set: it expects the app-level token (xapp-…) with connections:write")
	case !strings.HasPrefix(c.AppToken, "xapp-"):
		bad("SLACK_APP_TOKEN does not look like an app-level token: it expects a value starting with xapp-")
	}
	switch {
	case c.BotToken == "":
		bad("SLACK_BOT_TOKEN is not set: it expects the bot token (xoxb-…) from OAuth & Permissions")
	case !strings.HasPrefix(c.BotToken, "xoxb-"):
		bad("SLACK_BOT_TOKEN does not look like a bot token: it expects a value starting with xoxb-")
	}
	if !strings.HasSuffix(c.SlackAPIURL, "/") {
		c.SlackAPIURL += "/"
	}
	if !IsHTTPURL(c.SlackAPIURL) {
		bad("TANDEM_SLACK_API_URL is not a URL: it expects an http(s) URL such as https://slack.com/api/")
	}
	if c.DatabaseURL != "" && !strings.HasPrefix(c.DatabaseURL, "postgres://") && !strings.HasPrefix(c.DatabaseURL, "postgresql://") {
		bad("TANDEM_DATABASE_URL does not look like a PostgreSQL URL: it expects postgres://user@host:5432/dbname")
	}
	if !IsHTTPURL(c.PublicURL) {
		bad("TANDEM_PUBLIC_URL is not a URL: it expects the http(s) base URL people's browsers reach, such as https://tandem.example.com")
	}
	if v := getenv("TANDEM_ENCRYPTION_KEY_PREVIOUS"); strings.TrimSpace(v) != "" {
		c.PreviousKeys = strings.Split(v, ",")
	}
	for _, a := range strings.Split(getenv("TANDEM_ADMINS"), ",") {
		if a = strings.TrimSpace(a); a != "" {
			if !strings.HasPrefix(a, "U") && !strings.HasPrefix(a, "W") {
				bad("TANDEM_ADMINS has %q: it expects comma-separated Slack user ids (U…)", a)
			}
			c.Admins = append(c.Admins, a)
		}
	}
	if c.LogFormat != "text" && c.LogFormat != "json" {
		bad("TANDEM_LOG_FORMAT is %q: it expects text or json", c.LogFormat)
	}
	c.ShutdownTimeout = 25 * time.Second
	if v := getenv("TANDEM_SHUTDOWN_TIMEOUT"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 {
			bad("TANDEM_SHUTDOWN_TIMEOUT is %q: it expects a duration such as 25s", v)
		}
		c.ShutdownTimeout = d
	}
	// TANDEM_SLACK_PING_INTERVAL is for tests and networks where Slack's
	// pings arrive late; 0 (or a value that does not parse) keeps slack-go's
	// default.
	c.PingInterval, _ = time.ParseDuration(getenv("TANDEM_SLACK_PING_INTERVAL"))
	c.Replica = strings.TrimSpace(getenv("TANDEM_REPLICA_ID"))
	if c.Replica == "" {
		c.Replica, _ = os.Hostname()
	}
	c.ProviderTimeout = 10 * time.Second
	if v := strings.TrimSpace(getenv("TANDEM_PROVIDER_TIMEOUT")); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			bad("TANDEM_PROVIDER_TIMEOUT is %q: it expects a duration such as 10s", v)
		}
		c.ProviderTimeout = d
	}
	c.Concurrency = 64
	if v := strings.TrimSpace(getenv("TANDEM_CONCURRENCY")); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 10000 {
			bad("TANDEM_CONCURRENCY is %q: it expects a number of turns from 1 to 10000", v)
		}
		c.Concurrency = n
	}
	c.LeaseTTL = 30 * time.Second
	if v := strings.TrimSpace(getenv("TANDEM_LEASE_TTL")); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < time.Second {
			bad("TANDEM_LEASE_TTL is %q: it expects a duration of at least 1s, such as 30s", v)
		}
		c.LeaseTTL = d
	}
	if c.DatabaseURL != "" {
		// Several replicas may record one thread's messages out of order.
		c.ReorderWindow = 300 * time.Millisecond
	}
	if v := strings.TrimSpace(getenv("TANDEM_REORDER_WINDOW")); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 {
			bad("TANDEM_REORDER_WINDOW is %q: it expects a duration such as 300ms", v)
		}
		c.ReorderWindow = d
	}
	c.AuditRetention = 90 * 24 * time.Hour
	if v := strings.TrimSpace(getenv("TANDEM_AUDIT_RETENTION")); v != "" {
		d, err := ParseDuration(v)
		if err != nil {
			bad("TANDEM_AUDIT_RETENTION is %q: it expects a duration such as 90d or 2160h", v)
		}
		c.AuditRetention = d
	}
	c.SlackClientID = strings.TrimSpace(getenv("TANDEM_SLACK_CLIENT_ID"))
	c.SlackClientSecret = strings.TrimSpace(getenv("TANDEM_SLACK_CLIENT_SECRET"))
	c.SlackAuthURL = or("TANDEM_SLACK_AUTH_URL", "https://slack.com/openid/connect/authorize")
	if !IsHTTPURL(c.SlackAuthURL) {
		bad("TANDEM_SLACK_AUTH_URL is not a URL: it expects Slack's sign-in page, https://slack.com/openid/connect/authorize")
	}
	switch v := strings.TrimSpace(getenv("TANDEM_CONNECT_WITHOUT_SLACK_SIGNIN")); v {
	case "", "false":
	case "true":
		c.NoSlackSignIn = true
	default:
		bad("TANDEM_CONNECT_WITHOUT_SLACK_SIGNIN is %q: it expects true or false", v)
	}
	if (c.SlackClientID == "" || c.SlackClientSecret == "") && !c.NoSlackSignIn {
		bad("TANDEM_SLACK_CLIENT_ID and TANDEM_SLACK_CLIENT_SECRET are not both set: they are the Slack app's Client ID and Client Secret (api.slack.com/apps → your app → Basic Information → App Credentials), used for Sign in with Slack so a connect link links only the person it was made for (or set TANDEM_CONNECT_WITHOUT_SLACK_SIGNIN=true to go without it)")
	}
	loadAgent(getenv, &c, bad)
	for _, spec := range providers {
		pe, ok, errs := LoadProvider(getenv, spec)
		problems = append(problems, errs...)
		if ok {
			c.Providers[spec.ID] = pe
		}
	}
	if len(problems) > 0 {
		return c, errors.New("tandem: configuration problems:\n  " + strings.Join(problems, "\n  "))
	}
	return c, nil
}

// loadAgent reads the agent turns' TANDEM_LLM_* and TANDEM_AGENT_*
// variables into c, reporting problems through bad.
func loadAgent(getenv func(string) string, c *Config, bad func(string, ...any)) {
	get := func(k string) string { return strings.TrimSpace(getenv(k)) }
	c.LLM = agent.Config{BaseURL: get("TANDEM_LLM_URL"), APIKey: get("TANDEM_LLM_API_KEY"), Model: get("TANDEM_LLM_MODEL"), API: get("TANDEM_LLM_API")}
	switch {
	case c.LLM.BaseURL == "" && c.LLM.Model != "":
		bad("TANDEM_LLM_MODEL is set without TANDEM_LLM_URL: agent turns need the model's base URL (an OpenAI-compatible one ending in /v1, or Anthropic's)")
	case c.LLM.BaseURL != "" && !IsHTTPURL(c.LLM.BaseURL):
		bad("TANDEM_LLM_URL is not a URL: it expects the model's base URL, such as https://api.openai.com/v1 or http://localhost:11434/v1")
	case c.LLM.BaseURL != "" && c.LLM.Model == "":
		bad("TANDEM_LLM_URL is set without TANDEM_LLM_MODEL: it expects the model's name, such as gpt-4.1 or llama3.1")
	}
	switch c.LLM.API {
	case "":
		c.LLM.API = "openai"
	case "openai", "anthropic":
	default:
		bad("TANDEM_LLM_API is %q: it expects openai (Chat Completions, the default) or anthropic (Messages)", c.LLM.API)
	}
	c.AgentMaxCalls = agent.DefaultMaxCalls
	if v := get("TANDEM_AGENT_MAX_CALLS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 100 {
			bad("TANDEM_AGENT_MAX_CALLS is %q: it expects a number of tool calls from 1 to 100", v)
		}
		c.AgentMaxCalls = n
	}
	c.SchedulesPerUser = 20
	if v := get("TANDEM_SCHEDULES_PER_USER"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1000 {
			bad("TANDEM_SCHEDULES_PER_USER is %q: it expects a number of schedules from 1 to 1000", v)
		}
		c.SchedulesPerUser = n
	}
	c.ScheduleGrace = time.Hour
	if v := get("TANDEM_SCHEDULE_GRACE"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < time.Minute {
			bad("TANDEM_SCHEDULE_GRACE is %q: it expects a duration of at least 1m, such as 1h", v)
		}
		c.ScheduleGrace = d
	}
	c.AgentTimeout = 60 * time.Second
	if v := get("TANDEM_AGENT_TIMEOUT"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			bad("TANDEM_AGENT_TIMEOUT is %q: it expects a duration such as 60s", v)
		}
		c.AgentTimeout = d
	}
}

// LoadProvider reads spec's TANDEM_<P>_* variables. A provider is enabled
// by its client id and secret together: it returns the settings read,
// whether the provider is enabled, and what is wrong with them, one line
// each.
func LoadProvider(getenv func(string) string, spec integrations.Spec) (ProviderEnv, bool, []string) {
	prefix := spec.EnvPrefix()
	pe := ProviderEnv{
		ClientID:     strings.TrimSpace(getenv(prefix + "CLIENT_ID")),
		ClientSecret: strings.TrimSpace(getenv(prefix + "CLIENT_SECRET")),
		AuthURL:      strings.TrimSpace(getenv(prefix + "AUTH_URL")),
		TokenURL:     strings.TrimSpace(getenv(prefix + "TOKEN_URL")),
		APIURL:       strings.TrimSpace(getenv(prefix + "API_URL")),
		BaseURL:      strings.TrimRight(strings.TrimSpace(getenv(prefix+"URL")), "/"),
	}
	var problems []string
	if (pe.ClientID == "") != (pe.ClientSecret == "") {
		missing := prefix + "CLIENT_SECRET"
		if pe.ClientID == "" {
			missing = prefix + "CLIENT_ID"
		}
		problems = append(problems, fmt.Sprintf("%s is not set: %s needs both %sCLIENT_ID and %sCLIENT_SECRET", missing, spec.Name, prefix, prefix))
	}
	for name, v := range map[string]string{"AUTH_URL": pe.AuthURL, "TOKEN_URL": pe.TokenURL, "API_URL": pe.APIURL, "URL": pe.BaseURL} {
		if v != "" && !IsHTTPURL(v) {
			problems = append(problems, fmt.Sprintf("%s%s is not a URL: it expects an http(s) URL", prefix, name))
		}
	}
	if pe.APIURL != "" && !strings.HasSuffix(pe.APIURL, "/") {
		pe.APIURL += "/"
	}
	return pe, pe.ClientID != "" && pe.ClientSecret != "", problems
}

// IsHTTPURL reports whether s is an absolute http or https URL with a host.
func IsHTTPURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != ""
}

// ParseDuration reads a duration in Go's syntax (24h, 90m) or in days (7d).
// It fails on anything else and on a duration that is not positive.
func ParseDuration(s string) (time.Duration, error) {
	if d, ok := strings.CutSuffix(s, "d"); ok {
		var n int
		if _, err := fmt.Sscanf(d, "%d", &n); err == nil && n > 0 {
			return time.Duration(n) * 24 * time.Hour, nil
		}
	}
	if d, err := time.ParseDuration(s); err == nil && d > 0 {
		return d, nil
	}
	return 0, fmt.Errorf("%q is not a duration such as 24h or 7d", s)
}
