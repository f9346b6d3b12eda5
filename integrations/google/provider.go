// Package google connects Tandem to Google with google.golang.org/api: the
// OAuth settings, who a token belongs to (OpenID userinfo), the user's
// meetings (Calendar v3), document search (Drive v3), and revoking a grant
// on disconnect.
//
// Every call acts with the token that the caller's *http.Client carries, so
// Google itself decides what that person may see.
package google

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/tandembot/tandem"
	"github.com/tandembot/tandem/integrations"
	"golang.org/x/oauth2"
	"google.golang.org/api/googleapi"
)

// Config holds an OAuth client's credentials and Google's endpoints.
type Config struct {
	ClientID     string
	ClientSecret string
	AuthURL      string // https://accounts.google.com/o/oauth2/auth
	TokenURL     string // https://oauth2.googleapis.com/token
	APIURL       string // https://www.googleapis.com/
	RevokeURL    string // https://oauth2.googleapis.com/revoke
}

// shared returns the part of c every provider has.
func (c Config) shared() integrations.Config {
	return integrations.Config{ClientID: c.ClientID, ClientSecret: c.ClientSecret, AuthURL: c.AuthURL, TokenURL: c.TokenURL, APIURL: c.APIURL}
}

// Spec declares Google to Tandem.
var Spec = integrations.Spec{
	ProviderSpec: tandem.ProviderSpec{ID: tandem.Google, Name: "Google", TryMessage: "my meetings today"},
	Build: func(s integrations.Settings) (tandem.Provider, error) {
		cfg, err := ConfigFromBase(s.BaseURL)
		if err != nil {
			return nil, err
		}
		shared, _ := s.Config(func(string) (integrations.Config, error) { return cfg.shared(), nil })
		cfg.ClientID, cfg.ClientSecret = shared.ClientID, shared.ClientSecret
		cfg.AuthURL, cfg.TokenURL, cfg.APIURL = shared.AuthURL, shared.TokenURL, shared.APIURL
		if strings.HasSuffix(s.TokenURL, "/token") {
			// Google's revocation endpoint sits beside its token endpoint.
			cfg.RevokeURL = strings.TrimSuffix(s.TokenURL, "/token") + "/revoke"
		}
		return New(cfg), nil
	},
	Errors:     &httpErrors,
	Operations: Operations,
}

func init() { tandem.RegisterProvider(Spec.ProviderSpec) }

// Defaults returns Google's endpoints, without credentials.
func Defaults() Config {
	return Config{
		AuthURL:   "https://accounts.google.com/o/oauth2/auth",
		TokenURL:  "https://oauth2.googleapis.com/token",
		APIURL:    "https://www.googleapis.com/",
		RevokeURL: "https://oauth2.googleapis.com/revoke",
	}
}

// ConfigFromBase derives every endpoint from one base URL, as the fake
// Google serves them (TANDEM_GOOGLE_URL in tests and the demo): https://HOST
// gives https://HOST/o/oauth2/auth, /token, /revoke and the APIs under
// https://HOST/. "" and https://accounts.google.com give Defaults, since
// real Google spreads them over several hosts. It returns an EINVALID error
// when base is not an absolute http(s) URL.
func ConfigFromBase(base string) (Config, error) {
	revoke := Defaults().RevokeURL
	shared, err := integrations.ConfigFromBase(base, tandem.Google, "https://google.example.com", "accounts.google.com", Defaults().shared(), func(base string) integrations.Config {
		revoke = base + "/revoke"
		return integrations.Config{AuthURL: base + "/o/oauth2/auth", TokenURL: base + "/token", APIURL: base + "/"}
	})
	if err != nil {
		return Config{}, err
	}
	return Config{AuthURL: shared.AuthURL, TokenURL: shared.TokenURL, APIURL: shared.APIURL, RevokeURL: revoke}, nil
}

// Provider is Google as a tandem.Provider. It holds no per-user state and
// is safe for concurrent use.
type Provider struct {
	cfg    Config
	apiErr error // APIURL does not parse
}

var (
	_ tandem.Provider = (*Provider)(nil)
	_ tandem.Revoker  = (*Provider)(nil)
)

// New returns a provider for cfg; empty endpoints take Google's defaults.
// An APIURL that does not parse makes every API call fail with an internal
// error, so check it with ConfigFromBase first.
func New(cfg Config) *Provider {
	d := Defaults()
	shared := cfg.shared().WithDefaults(d.shared()) // the service paths are resolved against APIURL
	cfg.AuthURL, cfg.TokenURL, cfg.APIURL = shared.AuthURL, shared.TokenURL, shared.APIURL
	if cfg.RevokeURL == "" {
		cfg.RevokeURL = d.RevokeURL
	}
	p := &Provider{cfg: cfg}
	if u, err := url.Parse(cfg.APIURL); err != nil || u.Scheme == "" || u.Host == "" {
		p.apiErr = fmt.Errorf("google: API URL %q is not an absolute URL", cfg.APIURL)
	}
	return p
}

// ID returns tandem.Google.
func (p *Provider) ID() tandem.ProviderID { return tandem.Google }

// scopes are what Tandem asks of Google: "openid email profile" so that
// userinfo tells whose account it is (the email is the login people see,
// the name is for display); the read-only Calendar and Drive scopes because
// Tandem only lists meetings and finds documents, and read-only keeps a
// leaked token from changing anyone's calendar or files. Calendar and
// Drive read-only are "sensitive" and "restricted" scopes at Google, so the
// OAuth app needs verification before leaving testing status, in which
// refresh tokens last 7 days only.
var scopes = []string{
	"openid", "email", "profile",
	"https://www.googleapis.com/auth/calendar.readonly",
	"https://www.googleapis.com/auth/drive.readonly",
}

// OAuth2Config returns the client id, secret, endpoints and the scopes
// "openid email profile calendar.readonly drive.readonly"; the caller sets
// RedirectURL. It cannot fail.
func (p *Provider) OAuth2Config() oauth2.Config { return p.cfg.shared().OAuth2Config(scopes) }

// AuthCodeOptions returns access_type=offline, without which Google gives
// no refresh token and the link dies within the hour, and prompt=consent,
// because Google gives a refresh token only on an account's first consent:
// someone who reconnects (after Tandem lost or dropped the token) would
// otherwise get none. State and PKCE are the caller's.
func (p *Provider) AuthCodeOptions() []oauth2.AuthCodeOption {
	return []oauth2.AuthCodeOption{oauth2.AccessTypeOffline, oauth2.SetAuthURLParam("prompt", "consent")}
}

// userinfo is the part of the OpenID userinfo answer Tandem reads.
type userinfo struct {
	Sub           string `json:"sub"`
	Email         string `json:"email"`
	EmailVerified bool   `json:"email_verified"`
	Name          string `json:"name"`
}

// Identify returns the account whose token client carries (GET
// oauth2/v3/userinfo): the OpenID subject as ID, the email as Login and
// the display name. A refused token gives an EUNAUTHORIZED error; an
// email Google has not verified gives EFORBIDDEN, since people act under
// that email in Tandem; see mapError for the other failures.
func (p *Provider) Identify(ctx context.Context, client *http.Client) (tandem.Account, error) {
	if p.apiErr != nil {
		return tandem.Account{}, p.apiErr
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.cfg.APIURL+"oauth2/v3/userinfo", nil)
	if err != nil {
		return tandem.Account{}, fmt.Errorf("google: identify: %w", err)
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", userAgent)
	resp, err := client.Do(req)
	if err != nil {
		return tandem.Account{}, mapError("identify", "its own profile", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return tandem.Account{}, mapError("identify", "its own profile", err)
	}
	if err := googleapi.CheckResponseWithBody(resp, body); err != nil {
		return tandem.Account{}, mapError("identify", "its own profile", err)
	}
	var u userinfo
	if err := json.Unmarshal(body, &u); err != nil {
		return tandem.Account{}, fmt.Errorf("google: identify: decode userinfo: %w", err)
	}
	if u.Sub == "" || u.Email == "" {
		return tandem.Account{}, fmt.Errorf("google: identify: userinfo returned no sub or email (is the email scope granted?)")
	}
	if !u.EmailVerified {
		return tandem.Account{}, tandem.Errorf(tandem.EFORBIDDEN, "Google has not verified the email address of this Google account, so Tandem cannot link it.")
	}
	return tandem.Account{ID: u.Sub, Login: u.Email, Name: u.Name}, nil
}

// userAgent names Tandem to Google, after the client library's own.
const userAgent = "tandem"
