package tandem

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"golang.org/x/oauth2"
)

// Account is the identity a provider reports for a token ("current user").
type Account struct {
	ID    string
	Login string // GitHub/GitLab login, Jira/Google email
	Name  string
	// Sites lists the provider sites the account can use (Jira Cloud); the
	// first is chosen until the user picks another.
	Sites []Site
}

// Site is one of several places a provider account can act on (a Jira Cloud
// site).
type Site struct {
	ID   string `json:"id"` // Jira: the cloud id
	Name string `json:"name"`
	URL  string `json:"url"`
}

// Provider is the contract every integration implements: how to run its
// OAuth flow and how to learn whose token it holds. Extra abilities (listing
// pull requests, ...) are small optional interfaces beside it, checked with a
// type assertion.
type Provider interface {
	// ID names the provider.
	ID() ProviderID
	// OAuth2Config returns the client id, secret, endpoints and scopes; the
	// caller sets RedirectURL.
	OAuth2Config() oauth2.Config
	// AuthCodeOptions are extra authorize parameters (audience, prompt, ...).
	AuthCodeOptions() []oauth2.AuthCodeOption
	// Identify asks the provider whose token client carries. A refused
	// token yields an *ExpiredError-compatible error with code EUNAUTHORIZED.
	Identify(ctx context.Context, client *http.Client) (Account, error)
}

// Revoker is a provider that can revoke a grant at the provider when a user
// disconnects.
type Revoker interface {
	Revoke(ctx context.Context, tok Token) error
}

// Credentials are a turn's resolved credentials for one provider: whose
// identity, and an HTTP client that carries that identity's token. They live
// for the turn only.
type Credentials struct {
	Identity Identity
	Client   *http.Client
	// Site is the link's chosen site (Jira: the cloud id), "" otherwise.
	Site string
}

// PullRequest is one pull (or merge) request as shown to people.
type PullRequest struct {
	Repo      string    `json:"repo"`
	Number    int       `json:"number"`
	Title     string    `json:"title"`
	URL       string    `json:"url"`
	Draft     bool      `json:"draft,omitempty"`
	UpdatedAt time.Time `json:"updated_at"`
}

// ParseServerURL reads the base URL of a provider's server (TANDEM_<P>_URL):
// it returns the URL without trailing slashes and its parsed form, or ""
// and nil when raw is empty. It fails with EINVALID, naming example, for
// anything but an absolute http(s) URL without credentials, query or
// fragment.
func ParseServerURL(raw string, p ProviderID, example string) (string, *url.URL, error) {
	base := strings.TrimRight(strings.TrimSpace(raw), "/")
	if base == "" {
		return "", nil, nil
	}
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return "", nil, Errorf(EINVALID, "The %s URL %q must look like %s.", p.Name(), base, example)
	}
	return base, u, nil
}

// ProviderSpec is what a provider declares about itself for people. Each
// provider package declares one and registers it with RegisterProvider.
type ProviderSpec struct {
	ID ProviderID
	// Name is the provider's name as people write it ("GitHub").
	Name string
	// TryMessage is a harmless message that shows which identity the
	// provider uses, for people checking their setup ("list my open PRs").
	TryMessage string
}

var specs sync.Map // ProviderID → ProviderSpec

// RegisterProvider declares s's name and try-message for s.ID; registering
// an id again replaces its spec. It panics on an empty id.
func RegisterProvider(s ProviderSpec) {
	if s.ID == "" {
		panic("tandem: RegisterProvider with an empty id")
	}
	specs.Store(s.ID, s)
}

// Spec returns the spec registered for p, and false if none is.
func (p ProviderID) Spec() (ProviderSpec, bool) {
	s, ok := specs.Load(p)
	if !ok {
		return ProviderSpec{}, false
	}
	return s.(ProviderSpec), true
}

// Name is the provider's name as people write it ("GitHub"), from its
// registered spec; the id itself when none is registered.
func (p ProviderID) Name() string {
	if s, ok := p.Spec(); ok && s.Name != "" {
		return s.Name
	}
	return string(p)
}

// TryMessage is a harmless message that shows which identity the provider
// uses, from its registered spec; "" when none is registered.
func (p ProviderID) TryMessage() string {
	s, _ := p.Spec()
	return s.TryMessage
}
