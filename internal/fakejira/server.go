// Package fakejira is a fake Atlassian for Jira Cloud: the OAuth 2.0 (3LO)
// authorization server of auth.atlassian.com and the API gateway of
// api.atlassian.com, served together on loopback for end-to-end tests and
// the local demo console.
//
// One base URL derives every endpoint: /authorize and /oauth/token stand in
// for auth.atlassian.com, /oauth/token/accessible-resources and
// /ex/jira/{cloudid}/rest/api/3/... for api.atlassian.com. Users are
// Atlassian accounts named by email, each with an accountId, and can use
// several sites (cloud ids). The server issues recognisable, unique fake
// tokens (atl-FAKE-alice-1 access, atlr-FAKE-alice-2 refresh) so that tests
// can scan logs for leaks, and it records every API request, created issue,
// comment and transition so that tests can check whose account acted.
//
// Like Atlassian it offers no endpoint to revoke a 3LO grant: RevokeGrant
// plays the user removing the app from their account settings.
//
// The server never logs, and a Server is safe for concurrent use.
package fakejira

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/tandembot/tandem/internal/fakeoauth"
)

// User is an Atlassian account known to the fake. Its email is its login.
type User struct {
	Email     string
	AccountID string // assigned when empty
	Name      string // display name; default the email's local part
	// Sites are the cloud ids of the sites the account can use; the sites
	// must be added first (Options.Sites or AddSite).
	Sites []string
}

// Site is a Jira Cloud site.
type Site struct {
	CloudID string
	Name    string // "acme", as in acme.atlassian.net
	// URL is the site's address, https://acme.atlassian.net; empty makes
	// the fake serve the site's pages itself, under URL()/site/{cloudid}.
	URL string
}

// Options configure a Server. The zero value works: it registers a client
// "fake-client-id" / "fake-client-secret" that accepts any redirect URL,
// with no users and no sites.
type Options struct {
	// ClientID and ClientSecret are the registered app's credentials.
	ClientID     string
	ClientSecret string
	// RedirectURL is the registered callback URL. Authorize and token
	// requests must carry exactly this string. Empty accepts any URL.
	RedirectURL string
	// AppName is shown on the consent page; default "Tandem".
	AppName string
	// Sites are added before Users.
	Sites []Site
	// Users are the accounts that can sign in.
	Users []User
	// DemoData seeds sites, projects and issues for the demo users
	// (DemoUsers, when Users is empty).
	DemoData bool
	// AutoConsent, when set, approves every authorization without the
	// consent page as this login, on all of its sites (the demo console's
	// --auto-consent). A login= parameter in the authorize request wins.
	AutoConsent string
	// NoRateLimit stops requests from using up the burst limit
	// (SetRateLimited still works); for benchmarks.
	NoRateLimit bool
	// Addr is the listen address; default "127.0.0.1:0".
	Addr string
	// Now is the clock for token and code expiry; default time.Now.
	Now func() time.Time
}

// Request is one recorded API request (api.atlassian.com).
type Request struct {
	Method string
	// Path is the path as api.atlassian.com would see it:
	// "/oauth/token/accessible-resources",
	// "/ex/jira/{cloudid}/rest/api/3/myself".
	Path  string
	Query url.Values
	// Token is the bearer token sent, "" when none.
	Token string
	// Login is the email of Token's owner, "" when the token is unknown. An
	// expired or revoked token still names its owner.
	Login string
	// CloudID is the site of an /ex/jira/{cloudid}/ request, "" otherwise.
	CloudID string
	Body    string
}

// CreatedIssue is one issue created through the API.
type CreatedIssue struct {
	CloudID   string
	Key       string // OPS-7
	Project   string
	Type      string
	Summary   string
	AccountID string // of the token's owner, who is the reporter
	Login     string
}

// Comment is one comment made through the API.
type Comment struct {
	CloudID   string
	IssueKey  string
	ID        string
	AccountID string // the author: the token's owner
	Login     string
	Body      string // the ADF body as plain text
}

// Transition is one workflow transition made through the API.
type Transition struct {
	CloudID   string
	IssueKey  string
	ID        string // the transition id
	From, To  string // status names
	AccountID string
	Login     string
}

// Server is a fake Atlassian. Create it with New, then Start it.
type Server struct {
	opts            Options
	now             func() time.Time
	*fakeoauth.Base // Start, Close, URL, SetOutage, SetLatency
	mux             *http.ServeMux

	mu sync.Mutex

	users   map[string]*User // by lower-case email
	order   []string         // user keys in the order added
	sites   map[string]*site // by cloud id
	siteIDs []string         // in the order added
	grants  map[string]*grant
	codes   map[string]*authCode
	tokens  map[string]*token
	seq     int // token and code numbers
	nextID  int // ids of projects, issues, comments
	last    time.Time
	stats   *fakeoauth.Stats // token requests, refreshes, PKCE, AutoConsent

	requests    fakeoauth.Log[Request]
	created     []CreatedIssue
	comments    []Comment
	transitions []Transition

	limited map[string]time.Time // SetRateLimited, by lower-case email
	bursts  map[string]*window   // by lower-case email
}

// New returns a server configured by opts; it does not listen until Start.
// It panics when a user names a site that opts does not add.
func New(opts Options) *Server {
	fakeoauth.Defaults(&opts.ClientID, &opts.ClientSecret, &opts.AppName, &opts.Addr, &opts.Now)
	if opts.DemoData && len(opts.Users) == 0 {
		opts.Users = DemoUsers()
	}
	s := &Server{
		opts:    opts,
		now:     opts.Now,
		users:   map[string]*User{},
		sites:   map[string]*site{},
		grants:  map[string]*grant{},
		codes:   map[string]*authCode{},
		tokens:  map[string]*token{},
		nextID:  10000,
		stats:   fakeoauth.NewStats(key, opts.AutoConsent),
		limited: map[string]time.Time{},
		bursts:  map[string]*window{},
	}
	for _, st := range opts.Sites {
		s.AddSite(st.CloudID, st.Name, st.URL)
	}
	if opts.DemoData {
		for _, st := range DemoSites() {
			if s.sites[st.CloudID] == nil {
				s.AddSite(st.CloudID, st.Name, st.URL)
			}
		}
	}
	for _, u := range opts.Users {
		s.AddUser(u)
	}
	if opts.DemoData {
		s.seedDemo()
	}
	s.mux = s.routes()
	s.Base = fakeoauth.NewBase("fakejira", opts.Addr, s.serveHTTP)
	return s
}

// AuthURL returns the authorize endpoint (auth.atlassian.com/authorize).
func (s *Server) AuthURL() string { return s.URL() + "/authorize" }

// TokenURL returns the token endpoint (auth.atlassian.com/oauth/token).
func (s *Server) TokenURL() string { return s.URL() + "/oauth/token" }

// APIURL returns the API gateway base (api.atlassian.com/), ending with
// "/": accessible resources are at APIURL()+"oauth/token/accessible-resources"
// and Jira at APIURL()+"ex/jira/{cloudid}/rest/api/3/".
func (s *Server) APIURL() string { return s.URL() + "/" }

// ClientID returns the registered client id (Options.ClientID or its
// default).
func (s *Server) ClientID() string { return s.opts.ClientID }

// ClientSecret returns the registered client secret.
func (s *Server) ClientSecret() string { return s.opts.ClientSecret }

// serveHTTP routes a request once the latency has passed.
func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request, outage int) {
	if isAPI(r.URL.Path) {
		s.serveAPI(w, r, outage)
		return
	}
	if outage != 0 {
		fakeoauth.WebError(w, outage, http.StatusText(outage))
		return
	}
	s.mux.ServeHTTP(w, r)
}

// isAPI reports whether path belongs to api.atlassian.com rather than to
// auth.atlassian.com or the sites' own pages.
func isAPI(path string) bool {
	return path == "/oauth/token/accessible-resources" || strings.HasPrefix(path, "/ex/")
}

// key folds an email: Atlassian treats them case-insensitively.
func key(email string) string { return strings.ToLower(strings.TrimSpace(email)) }

// stamp returns the current time, strictly after every earlier stamp, so
// that seeded issues sort the same way on every run.
func (s *Server) stamp() time.Time {
	t := s.now().UTC().Truncate(time.Millisecond)
	if !t.After(s.last) {
		t = s.last.Add(time.Millisecond)
	}
	s.last = t
	return t
}

func (s *Server) id() string {
	s.nextID++
	return fmt.Sprint(s.nextID)
}
