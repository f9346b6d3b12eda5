// Package github connects Tandem to GitHub (github.com or GitHub Enterprise
// Server) with go-github: the OAuth settings, who a token belongs to, the
// user's open pull requests, review requests and assigned issues, creating
// issues and comments, committing a file, a pull request's status, and
// revoking a grant on disconnect.
//
// Every call acts with the token that the caller's *http.Client carries, so
// GitHub itself decides what that person may see and do.
package github

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"

	gh "github.com/google/go-github/v62/github"
	"github.com/tandembot/tandem"
	"github.com/tandembot/tandem/integrations"
	"golang.org/x/oauth2"
)

// Config holds an OAuth app's credentials and GitHub's endpoints:
// AuthURL https://github.com/login/oauth/authorize, TokenURL
// https://github.com/login/oauth/access_token, APIURL
// https://api.github.com/ or https://HOST/api/v3/.
type Config = integrations.Config

// Spec declares GitHub to Tandem.
var Spec = integrations.Spec{
	ProviderSpec: tandem.ProviderSpec{ID: tandem.GitHub, Name: "GitHub", TryMessage: "list my open PRs"},
	Build:        integrations.Build(ConfigFromBase, New),
	Errors:       &httpErrors,
	Operations:   Operations,
}

func init() { tandem.RegisterProvider(Spec.ProviderSpec) }

// Defaults returns the github.com endpoints, without credentials.
func Defaults() Config {
	return Config{
		AuthURL:  "https://github.com/login/oauth/authorize",
		TokenURL: "https://github.com/login/oauth/access_token",
		APIURL:   "https://api.github.com/",
	}
}

// ConfigFromBase derives the endpoints from a web base URL such as
// TANDEM_GITHUB_URL: https://HOST gives https://HOST/login/oauth/... and
// https://HOST/api/v3/, the GitHub Enterprise Server layout (which the fake
// GitHub follows too). "" and https://github.com give Defaults. It returns an
// EINVALID error when base is not an absolute http(s) URL.
func ConfigFromBase(base string) (Config, error) {
	return integrations.ConfigFromBase(base, tandem.GitHub, "https://github.example.com", "github.com", Defaults(), func(base string) Config {
		return Config{
			AuthURL:  base + "/login/oauth/authorize",
			TokenURL: base + "/login/oauth/access_token",
			APIURL:   base + "/api/v3/",
		}
	})
}

// Provider is GitHub as a tandem.Provider. It holds no per-user state and
// is safe for concurrent use.
type Provider struct {
	cfg Config
	api *url.URL
}

var (
	_ tandem.Provider = (*Provider)(nil)
	_ tandem.Revoker  = (*Provider)(nil)
)

// New returns a provider for cfg; empty endpoints take the github.com
// defaults. An APIURL that does not parse makes every API call fail with an
// internal error, so check it with ConfigFromBase first.
func New(cfg Config) *Provider {
	cfg = cfg.WithDefaults(Defaults()) // go-github resolves paths against APIURL
	p := &Provider{cfg: cfg}
	p.api, _ = url.Parse(cfg.APIURL)
	return p
}

// ID returns tandem.GitHub.
func (p *Provider) ID() tandem.ProviderID { return tandem.GitHub }

// scopes are what Tandem asks of an OAuth App: "repo" because acting as the
// user means reading and writing their repositories, private ones included
// (issues, comments, commits, pull request status), and GitHub has no
// narrower scope that covers private repositories; "read:user" to read the
// profile that Identify reports. GitHub App user tokens ignore scopes: the
// app's permissions apply instead.
var scopes = []string{"repo", "read:user"}

// OAuth2Config returns the client id, secret, endpoints and the scopes
// "repo read:user"; the caller sets RedirectURL. It cannot fail.
func (p *Provider) OAuth2Config() oauth2.Config { return p.cfg.OAuth2Config(scopes) }

// AuthCodeOptions returns nil: GitHub needs no extra authorize parameters
// beyond state and PKCE, which the caller adds.
func (p *Provider) AuthCodeOptions() []oauth2.AuthCodeOption { return nil }

// client returns go-github acting through hc, which carries the token.
func (p *Provider) client(hc *http.Client) (*gh.Client, error) {
	if p.api == nil {
		return nil, fmt.Errorf("github: API URL %q does not parse", p.cfg.APIURL)
	}
	c := gh.NewClient(hc)
	c.BaseURL = p.api
	c.UserAgent = "tandem"
	return c, nil
}

// Identify returns the account whose token client carries (GET /user): the
// numeric id as a string, the login and the display name. A refused token
// gives an EUNAUTHORIZED error; see mapError for the others.
func (p *Provider) Identify(ctx context.Context, client *http.Client) (tandem.Account, error) {
	c, err := p.client(client)
	if err != nil {
		return tandem.Account{}, err
	}
	u, resp, err := c.Users.Get(ctx, "")
	if err != nil {
		return tandem.Account{}, mapError("identify", "its own profile", resp, err)
	}
	if u.GetID() == 0 || u.GetLogin() == "" {
		return tandem.Account{}, fmt.Errorf("github: identify: GET /user returned no id or login")
	}
	return tandem.Account{ID: strconv.FormatInt(u.GetID(), 10), Login: u.GetLogin(), Name: u.GetName()}, nil
}
