package integrations

import (
	"strings"

	"github.com/tandembot/tandem"
	"github.com/tandembot/tandem/ops"
	"golang.org/x/oauth2"
)

// Spec is one provider package's descriptor: who it is for people, how to
// build it from its settings, how its API's failures map to Tandem's codes,
// and the operations people can ask of it. Each provider package exports one (github.Spec, ...); the wiring
// lists them, reads each one's TANDEM_<P>_* variables and calls Build.
type Spec struct {
	tandem.ProviderSpec
	// Build returns the provider for settings. It fails with an EINVALID
	// error when settings.BaseURL (TANDEM_<P>_URL) is not a URL it can use.
	Build func(settings Settings) (tandem.Provider, error)
	// Errors is the provider's reading of the shared error mapping.
	Errors *HTTPErrors
	// Operations are what people can ask of the provider.
	Operations []ops.Spec
}

// EnvPrefix returns the prefix of the provider's environment variables,
// TANDEM_<ID>_ ("TANDEM_GITHUB_"). The variable names are a contract with
// operators.
func (s Spec) EnvPrefix() string { return "TANDEM_" + strings.ToUpper(string(s.ID)) + "_" }

// Settings are one provider's settings as the environment gives them, all
// optional but the client: TANDEM_<P>_CLIENT_ID and _CLIENT_SECRET,
// _AUTH_URL, _TOKEN_URL and _API_URL over the endpoints, and _URL, the
// base URL of a self-hosted server (or a fake) that the endpoints derive
// from.
type Settings struct {
	ClientID, ClientSecret    string
	AuthURL, TokenURL, APIURL string
	BaseURL                   string
}

// Config returns the client and endpoints settings give: the endpoints that
// fromBase derives from BaseURL, overridden one by one by AuthURL,
// TokenURL and APIURL. It returns fromBase's error.
func (s Settings) Config(fromBase func(base string) (Config, error)) (Config, error) {
	cfg, err := fromBase(s.BaseURL)
	if err != nil {
		return Config{}, err
	}
	cfg.ClientID, cfg.ClientSecret = s.ClientID, s.ClientSecret
	cfg.AuthURL = firstNonEmpty(s.AuthURL, cfg.AuthURL)
	cfg.TokenURL = firstNonEmpty(s.TokenURL, cfg.TokenURL)
	cfg.APIURL = firstNonEmpty(s.APIURL, cfg.APIURL)
	return cfg, nil
}

func firstNonEmpty(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// Config holds an OAuth client's credentials and a provider's endpoints.
type Config struct {
	ClientID     string
	ClientSecret string
	AuthURL      string
	TokenURL     string
	APIURL       string
}

// WithDefaults returns c with its empty endpoints taken from d and its
// APIURL ending in a slash, since API paths are resolved against it. It
// cannot fail.
func (c Config) WithDefaults(d Config) Config {
	c.AuthURL = firstNonEmpty(c.AuthURL, d.AuthURL)
	c.TokenURL = firstNonEmpty(c.TokenURL, d.TokenURL)
	c.APIURL = firstNonEmpty(c.APIURL, d.APIURL)
	if !strings.HasSuffix(c.APIURL, "/") {
		c.APIURL += "/"
	}
	return c
}

// OAuth2Config returns c's client id, secret and endpoints with scopes;
// the caller sets RedirectURL. The credentials go as form parameters, as
// every provider here documents, which spares x/oauth2's auto-detection a
// failed first attempt. It cannot fail.
func (c Config) OAuth2Config(scopes []string) oauth2.Config {
	return oauth2.Config{
		ClientID:     c.ClientID,
		ClientSecret: c.ClientSecret,
		Endpoint:     oauth2.Endpoint{AuthURL: c.AuthURL, TokenURL: c.TokenURL, AuthStyle: oauth2.AuthStyleInParams},
		Scopes:       append([]string(nil), scopes...),
	}
}

// ConfigFromBase derives a provider's endpoints from raw, the base URL of a
// self-hosted server or a fake (TANDEM_<P>_URL): def for "" or for the
// public service's own address (publicHost without a path; "" for none),
// layout(base) otherwise, base without trailing slashes. It fails as
// tandem.ParseServerURL does, naming example.
func ConfigFromBase(raw string, p tandem.ProviderID, example, publicHost string, def Config, layout func(base string) Config) (Config, error) {
	base, u, err := tandem.ParseServerURL(raw, p, example)
	if err != nil {
		return Config{}, err
	}
	if u == nil || (publicHost != "" && strings.EqualFold(u.Host, publicHost) && u.Path == "") {
		return def, nil
	}
	return layout(base), nil
}

// Build returns a Spec's Build for a provider whose settings are just a
// Config: newProvider of the Config settings give over the endpoints
// fromBase derives (see Settings.Config). The Build fails with fromBase's
// error.
func Build[P tandem.Provider](fromBase func(base string) (Config, error), newProvider func(Config) P) func(Settings) (tandem.Provider, error) {
	return func(s Settings) (tandem.Provider, error) {
		cfg, err := s.Config(fromBase)
		if err != nil {
			return nil, err
		}
		return newProvider(cfg), nil
	}
}
