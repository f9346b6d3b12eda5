// Package jira connects Tandem to Jira Cloud with go-jira, through
// Atlassian's OAuth 2.0 (3LO) and the api.atlassian.com gateway: the OAuth
// settings, who a token belongs to and which sites it covers, and the
// issue abilities (list, create, comment, view, transition).
//
// Every call acts with the token that the caller's *http.Client carries, so
// Jira itself decides what that person may see and do. Calls address one
// site, by cloud id, at {APIURL}ex/jira/{cloudid}/rest/api/3/. go-jira's
// own services target REST API v2 (wiki-markup text, the retired search);
// this package uses its request and response plumbing with explicit v3
// paths and Atlassian Document Format bodies instead.
//
// There is no Revoke: Atlassian offers 3LO apps no endpoint to revoke a
// grant. A user removes Tandem under "Connected apps" in their Atlassian
// account; disconnecting in Tandem only forgets the tokens.
package jira

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strings"
	"sync"

	gojira "github.com/andygrunwald/go-jira"
	"github.com/tandembot/tandem"
	"github.com/tandembot/tandem/integrations"
	"github.com/tandembot/tandem/ops"
	"golang.org/x/oauth2"
)

// Config holds an OAuth 2.0 (3LO) app's credentials and Atlassian's
// endpoints: AuthURL https://auth.atlassian.com/authorize, TokenURL
// https://auth.atlassian.com/oauth/token, APIURL https://api.atlassian.com/.
type Config = integrations.Config

// Spec declares Jira to Tandem.
var Spec = integrations.Spec{
	ProviderSpec: tandem.ProviderSpec{ID: tandem.Jira, Name: "Jira", TryMessage: "my jira issues"},
	Build:        integrations.Build(ConfigFromBase, New),
	Errors:       &httpErrors,
	Operations:   Operations,
}

func init() { tandem.RegisterProvider(Spec.ProviderSpec) }

// Defaults returns Atlassian's endpoints, without credentials.
func Defaults() Config {
	return Config{
		AuthURL:  "https://auth.atlassian.com/authorize",
		TokenURL: "https://auth.atlassian.com/oauth/token",
		APIURL:   "https://api.atlassian.com/",
	}
}

// ConfigFromBase derives the endpoints from one base URL such as
// TANDEM_JIRA_URL, for a server that plays both auth.atlassian.com and
// api.atlassian.com on one host, as the fake Jira does: https://HOST gives
// https://HOST/authorize, https://HOST/oauth/token and https://HOST/. ""
// gives Defaults. It returns an EINVALID error when base is not an
// absolute http(s) URL.
func ConfigFromBase(base string) (Config, error) {
	return integrations.ConfigFromBase(base, tandem.Jira, "https://jira-proxy.example.com", "", Defaults(), func(base string) Config {
		return Config{
			AuthURL:  base + "/authorize",
			TokenURL: base + "/oauth/token",
			APIURL:   base + "/",
		}
	})
}

// Provider is Jira Cloud as a tandem.Provider. It keeps no per-user state,
// only the addresses of the sites it has met, and is safe for concurrent
// use.
type Provider struct {
	cfg Config
	// siteURLs caches cloud id → site address (https://acme.atlassian.net),
	// which issue links need and Jira's responses do not carry. An address
	// is the same for everyone, and it is only shown alongside a result
	// that the caller's own token obtained.
	siteURLs sync.Map
}

var (
	_ tandem.Provider  = (*Provider)(nil)
	_ ops.IssueLister  = (*Provider)(nil)
	_ ops.IssueCreator = (*Provider)(nil)
	_ ops.Commenter    = (*Provider)(nil)
)

// New returns a provider for cfg; empty endpoints take Atlassian's.
func New(cfg Config) *Provider {
	return &Provider{cfg: cfg.WithDefaults(Defaults())} // paths resolve against APIURL
}

// ID returns tandem.Jira.
func (p *Provider) ID() tandem.ProviderID { return tandem.Jira }

// scopes are Jira's classic 3LO scopes for acting as the user:
// read:jira-work to search and read issues and their transitions,
// write:jira-work to create issues, comment and transition, read:jira-user
// for the profile Identify reports (GET /myself), and offline_access
// because without it Atlassian issues no refresh token and the link would
// die after an hour. The granular scopes would need a dozen names for the
// same reach.
var scopes = []string{"read:jira-work", "write:jira-work", "read:jira-user", "offline_access"}

// OAuth2Config returns the client id, secret, endpoints and the scopes
// "read:jira-work write:jira-work read:jira-user offline_access"; the
// caller sets RedirectURL. It cannot fail.
func (p *Provider) OAuth2Config() oauth2.Config { return p.cfg.OAuth2Config(scopes) }

// AuthCodeOptions returns audience=api.atlassian.com, without which
// Atlassian issues no token for its API gateway, and prompt=consent, which
// Atlassian requires so that the user sees (and picks a site on) the
// consent screen every time. State and PKCE are the caller's.
func (p *Provider) AuthCodeOptions() []oauth2.AuthCodeOption {
	return []oauth2.AuthCodeOption{
		oauth2.SetAuthURLParam("audience", "api.atlassian.com"),
		oauth2.SetAuthURLParam("prompt", "consent"),
	}
}

// validCloudID keeps a site id from smuggling path segments into a URL.
var validCloudID = regexp.MustCompile(`^[A-Za-z0-9-]{1,64}$`)

func checkSite(site string) error {
	if site == "" {
		return tandem.Errorf(tandem.EINVALID, "No Jira site is chosen for this account; connect Jira again to pick one.")
	}
	if !validCloudID.MatchString(site) {
		return tandem.Errorf(tandem.EINVALID, "%q is not a Jira site id.", site)
	}
	return nil
}

// gateway returns go-jira for api.atlassian.com itself, acting through hc.
func (p *Provider) gateway(hc *http.Client) (*gojira.Client, error) {
	c, err := gojira.NewClient(hc, p.cfg.APIURL)
	if err != nil {
		return nil, fmt.Errorf("jira: API URL %q does not parse: %w", p.cfg.APIURL, err)
	}
	return c, nil
}

// onSite returns go-jira for one site's Jira, acting through hc.
func (p *Provider) onSite(hc *http.Client, site string) (*gojira.Client, error) {
	c, err := gojira.NewClient(hc, p.cfg.APIURL+"ex/jira/"+site+"/")
	if err != nil {
		return nil, fmt.Errorf("jira: API URL %q does not parse: %w", p.cfg.APIURL, err)
	}
	return c, nil
}

// call sends method path (relative to c's base) with body as JSON and
// decodes a 2xx answer into v (when not nil). A refused call returns the
// response, its body read, and a *gojira.Error holding Jira's messages.
func call(ctx context.Context, c *gojira.Client, method, path string, body, v any) (*gojira.Response, error) {
	req, err := c.NewRequestWithContext(ctx, method, path, body)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "tandem")
	resp, err := c.Do(req, v)
	switch {
	case err != nil && resp != nil && resp.Response != nil && resp.StatusCode >= 300:
		return resp, readError(resp, err)
	case err != nil:
		return resp, err
	case v == nil:
		// go-jira leaves the body open when there is nothing to decode.
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
		resp.Body.Close()
	}
	return resp, nil
}

// resource is one entry of GET /oauth/token/accessible-resources.
type resource struct {
	ID     string   `json:"id"`
	URL    string   `json:"url"`
	Name   string   `json:"name"`
	Scopes []string `json:"scopes"`
}

// isJira tells a Jira site from, say, a Confluence one granted alongside.
func (r resource) isJira() bool {
	for _, s := range r.Scopes {
		if strings.Contains(s, "jira") {
			return true
		}
	}
	return false
}

// sites returns the Jira sites the token hc carries covers, in
// Atlassian's order, and remembers their addresses.
func (p *Provider) sites(ctx context.Context, hc *http.Client) ([]tandem.Site, error) {
	c, err := p.gateway(hc)
	if err != nil {
		return nil, err
	}
	var res []resource
	resp, err := call(ctx, c, "GET", "oauth/token/accessible-resources", nil, &res)
	if err != nil {
		return nil, mapError("list sites", "its sites", "", resp, err)
	}
	var out []tandem.Site
	for _, r := range res {
		if !r.isJira() || !validCloudID.MatchString(r.ID) {
			continue
		}
		u := strings.TrimRight(r.URL, "/")
		p.siteURLs.Store(r.ID, u)
		out = append(out, tandem.Site{ID: r.ID, Name: r.Name, URL: u})
	}
	return out, nil
}

// errSiteNotGranted matches what the gateway answers (401 "scope does not
// match") for a site the grant does not cover.
func errSiteNotGranted() *tandem.Error {
	return tandem.Errorf(tandem.EUNAUTHORIZED, "Jira does not let Tandem use this site with your account any more; connect Jira again and choose the site.")
}

// siteURL returns the address of site for links, from the cache or from
// the sites hc's token covers. It is called before a change is sent, so
// that a failure here never hides a change that was made.
func (p *Provider) siteURL(ctx context.Context, hc *http.Client, site string) (string, error) {
	if u, ok := p.siteURLs.Load(site); ok {
		return u.(string), nil
	}
	list, err := p.sites(ctx, hc)
	if err != nil {
		return "", err
	}
	for _, s := range list {
		if s.ID == site {
			return s.URL, nil
		}
	}
	return "", fmt.Errorf("jira: site %s: %w", site, errSiteNotGranted())
}

// Identify returns the account whose token client carries: the Jira sites
// its grant covers (GET /oauth/token/accessible-resources), then, on the
// first of them, GET /myself: the accountId, the email as Login (the
// accountId when the profile hides the email) and the display name. A
// grant that covers no Jira site gives EFORBIDDEN; a refused token
// EUNAUTHORIZED; see mapError for the others.
func (p *Provider) Identify(ctx context.Context, client *http.Client) (tandem.Account, error) {
	sites, err := p.sites(ctx, client)
	if err != nil {
		return tandem.Account{}, err
	}
	if len(sites) == 0 {
		return tandem.Account{}, tandem.Errorf(tandem.EFORBIDDEN,
			"This Atlassian account gave Tandem no Jira site. Connect Jira again and choose a site on Atlassian's consent screen.")
	}
	c, err := p.onSite(client, sites[0].ID)
	if err != nil {
		return tandem.Account{}, err
	}
	var me gojira.User
	resp, err := call(ctx, c, "GET", "rest/api/3/myself", nil, &me)
	if err != nil {
		return tandem.Account{}, mapError("identify", "its own profile", "", resp, err)
	}
	if me.AccountID == "" {
		return tandem.Account{}, fmt.Errorf("jira: identify: GET /myself returned no accountId")
	}
	login := me.EmailAddress
	if login == "" {
		login = me.AccountID
	}
	return tandem.Account{ID: me.AccountID, Login: login, Name: me.DisplayName, Sites: sites}, nil
}

// email returns the email of the account c acts as, "" when Jira will not
// say; for error messages only.
func email(ctx context.Context, c *gojira.Client) string {
	var me gojira.User
	if _, err := call(ctx, c, "GET", "rest/api/3/myself", nil, &me); err != nil {
		return ""
	}
	return me.EmailAddress
}
