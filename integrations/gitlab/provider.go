// Package gitlab connects Tandem to GitLab (gitlab.com or a self-managed
// instance) with client-go: the OAuth settings, who a token belongs to, the
// user's merge requests and issues, opening issues, commenting, and
// revoking a token on disconnect.
//
// Every call acts with the token that the caller's *http.Client carries, so
// GitLab itself decides what that person may see and do.
package gitlab

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/tandembot/tandem"
	"github.com/tandembot/tandem/integrations"
	"github.com/tandembot/tandem/ops"
	gl "gitlab.com/gitlab-org/api/client-go"
	"golang.org/x/oauth2"
)

// Config holds an OAuth application's credentials (ClientID is GitLab's
// "Application ID") and GitLab's endpoints: AuthURL
// https://gitlab.com/oauth/authorize, TokenURL https://gitlab.com/oauth/token,
// APIURL https://gitlab.com/api/v4/.
type Config = integrations.Config

// Spec declares GitLab to Tandem.
var Spec = integrations.Spec{
	ProviderSpec: tandem.ProviderSpec{ID: tandem.GitLab, Name: "GitLab", TryMessage: "list my open MRs"},
	Build:        integrations.Build(ConfigFromBase, New),
	Errors:       &httpErrors,
	Operations:   Operations,
}

func init() { tandem.RegisterProvider(Spec.ProviderSpec) }

// Defaults returns the gitlab.com endpoints, without credentials.
func Defaults() Config {
	return Config{
		AuthURL:  "https://gitlab.com/oauth/authorize",
		TokenURL: "https://gitlab.com/oauth/token",
		APIURL:   "https://gitlab.com/api/v4/",
	}
}

// ConfigFromBase derives the endpoints from a web base URL such as
// TANDEM_GITLAB_URL: https://HOST (or https://HOST/PATH, for an instance
// under a relative URL root) gives HOST/oauth/authorize, HOST/oauth/token
// and HOST/api/v4/, the layout of every GitLab instance (and of the fake
// GitLab). "" and https://gitlab.com give Defaults. It returns an EINVALID
// error when base is not an absolute http(s) URL.
func ConfigFromBase(base string) (Config, error) {
	return integrations.ConfigFromBase(base, tandem.GitLab, "https://gitlab.example.com", "gitlab.com", Defaults(), func(base string) Config {
		return Config{
			AuthURL:  base + "/oauth/authorize",
			TokenURL: base + "/oauth/token",
			APIURL:   base + "/api/v4/",
		}
	})
}

// Provider is GitLab as a tandem.Provider. It holds no per-user state and
// is safe for concurrent use.
type Provider struct {
	cfg    Config
	web    string // the web base, without a trailing slash: where web_url links point
	revoke string // the revocation endpoint, beside the token endpoint
	bad    error  // set when APIURL does not parse
}

var (
	_ tandem.Provider  = (*Provider)(nil)
	_ tandem.Revoker   = (*Provider)(nil)
	_ ops.IssueLister  = (*Provider)(nil)
	_ ops.IssueCreator = (*Provider)(nil)
	_ ops.Commenter    = (*Provider)(nil)
)

// New returns a provider for cfg; empty endpoints take the gitlab.com
// defaults, and an APIURL without the /api/v4/ suffix gets it, as
// client-go would add it anyway. An APIURL that does not parse makes every
// API call fail with an internal error, so check it with ConfigFromBase
// first.
func New(cfg Config) *Provider {
	cfg = cfg.WithDefaults(Defaults())
	if !strings.HasSuffix(cfg.APIURL, "/api/v4/") {
		cfg.APIURL += "api/v4/"
	}
	p := &Provider{cfg: cfg}
	if u, err := url.Parse(cfg.APIURL); err != nil || u.Host == "" {
		p.bad = fmt.Errorf("gitlab: API URL %q does not parse", cfg.APIURL)
	}
	p.web = strings.TrimSuffix(cfg.APIURL, "/api/v4/")
	p.revoke = strings.TrimSuffix(cfg.TokenURL, "/token") + "/revoke"
	return p
}

// ID returns tandem.GitLab.
func (p *Provider) ID() tandem.ProviderID { return tandem.GitLab }

// scopes are what Tandem asks of a GitLab OAuth application: "api" because
// acting as the user means opening issues and writing notes in their
// projects, private ones included, and GitLab has no narrower scope that
// writes (read_api only reads); "read_user" for the profile that Identify
// reports. api covers that too, but asking for read_user by name keeps the
// consent page honest about reading the profile and keeps Identify working
// should an administrator ever narrow the application to read scopes.
var scopes = []string{"api", "read_user"}

// OAuth2Config returns the client id, secret, endpoints and the scopes
// "api read_user"; the caller sets RedirectURL. It cannot fail.
func (p *Provider) OAuth2Config() oauth2.Config { return p.cfg.OAuth2Config(scopes) }

// AuthCodeOptions returns nil: GitLab needs no extra authorize parameters
// beyond state and PKCE, which the caller adds.
func (p *Provider) AuthCodeOptions() []oauth2.AuthCodeOption { return nil }

// noLimit turns off client-go's client-side rate limiter: each call builds
// a fresh client, and a person's turn should not sleep on a guess; GitLab's
// own 429 says when the limit resets.
type noLimit struct{}

func (noLimit) Wait(context.Context) error { return nil }

// discard keeps client-go's URL warnings out of Tandem's log.
var discard = slog.New(slog.DiscardHandler)

// client returns client-go acting through hc, which carries the token.
// gl.Unauthenticated keeps client-go from adding an auth header of its
// own (NewClient("") would send an empty PRIVATE-TOKEN), and retries are
// off: a 429 or 5xx goes straight back to the person, not into a sleep.
func (p *Provider) client(hc *http.Client) (*gl.Client, error) {
	if p.bad != nil {
		return nil, p.bad
	}
	if hc == nil {
		hc = &http.Client{}
	}
	c, err := gl.NewAuthSourceClient(gl.Unauthenticated{},
		gl.WithBaseURL(p.cfg.APIURL),
		gl.WithHTTPClient(hc),
		gl.WithoutRetries(),
		gl.WithCustomLimiter(noLimit{}),
		gl.WithUserAgent("tandem"),
		gl.WithURLWarningLogger(discard),
	)
	if err != nil {
		return nil, fmt.Errorf("gitlab: client: %w", err)
	}
	return c, nil
}

// Identify returns the account whose token client carries (GET /user): the
// numeric id as a string, the username as Login and the display name. A
// refused token gives an EUNAUTHORIZED error; see mapError for the others.
func (p *Provider) Identify(ctx context.Context, client *http.Client) (tandem.Account, error) {
	c, err := p.client(client)
	if err != nil {
		return tandem.Account{}, err
	}
	u, resp, err := c.Users.CurrentUser(gl.WithContext(ctx))
	if err != nil {
		return tandem.Account{}, mapError("identify", "its own profile", resp, err)
	}
	if u.ID == 0 || u.Username == "" {
		return tandem.Account{}, fmt.Errorf("gitlab: identify: GET /user returned no id or username")
	}
	return tandem.Account{ID: strconv.FormatInt(u.ID, 10), Login: u.Username, Name: u.Name}, nil
}
