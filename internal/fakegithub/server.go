// Package fakegithub is a fake GitHub, web and REST API, served on loopback
// for end-to-end tests and the local demo console.
//
// It follows the GitHub Enterprise Server layout so that one base URL derives
// every endpoint: the OAuth pages live at /login/oauth/..., the REST API
// under /api/v3/. It issues recognisable, unique fake tokens
// (gho_FAKE_alice_1, ghu_FAKE_alice_2, ghr_FAKE_alice_3) so that tests can
// scan logs for leaks, and it records every API request, commit and comment
// so that tests can check whose account acted.
//
// The server never logs, and a Server is safe for concurrent use.
package fakegithub

import (
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tandembot/tandem/internal/fakeoauth"
)

// User is a GitHub account known to the fake.
type User struct {
	Login string
	ID    int64 // assigned when zero
	Name  string
	Email string
}

// Options configure a Server. The zero value works: it registers a client
// "fake-client-id" / "fake-client-secret" that accepts any redirect URL, in
// OAuth App mode, with no users.
type Options struct {
	// ClientID and ClientSecret are the registered app's credentials.
	ClientID     string
	ClientSecret string
	// RedirectURL is the registered callback URL. Authorize and token
	// requests must carry exactly this string. Empty accepts any URL.
	RedirectURL string
	// AppName is shown on the consent page; default "Tandem".
	AppName string
	// Users are the accounts that can sign in.
	Users []User
	// Expiring switches to GitHub App user tokens: ghu_ access tokens that
	// expire after 8 hours and rotating ghr_ refresh tokens that last 6
	// months. Without it the server behaves as an OAuth App: gho_ tokens
	// that never expire and no refresh token.
	Expiring bool
	// DemoData seeds a few repositories, pull requests and issues for the
	// demo users (DemoUsers, when Users is empty).
	DemoData bool
	// AutoConsent, when set, approves every authorization without the
	// consent page as this login (the demo console's --auto-consent). A
	// login= parameter in the authorize request wins over it.
	AutoConsent string
	// NoRateLimit stops requests from using up the rate limit (headers are
	// still sent and SetRateLimited still works); for benchmarks.
	NoRateLimit bool
	// Addr is the listen address; default "127.0.0.1:0".
	Addr string
	// Now is the clock for token and code expiry; default time.Now.
	Now func() time.Time
}

// Request is one recorded REST API request.
type Request struct {
	Method string
	// Path is the REST path as api.github.com would see it, without the
	// /api/v3 prefix: "/user", "/search/issues".
	Path  string
	Query url.Values
	// Token is the bearer token sent, "" when none (or basic auth).
	Token string
	// Login owns Token, "" when the token is unknown. A revoked or expired
	// token still names its owner.
	Login string
	Body  string
}

// Commit is one commit made through the contents API.
type Commit struct {
	Repo        string // "owner/name"
	Path        string
	Branch      string
	SHA         string
	AuthorLogin string // the owner of the token that made it
	Message     string
}

// Comment is one issue or pull request comment made through the API.
type Comment struct {
	Repo        string
	Number      int
	AuthorLogin string
	Body        string
}

// Server is a fake GitHub. Create it with New, then Start it.
type Server struct {
	// hold, when set, is called after a comment's handler ran and before
	// its response leaves (HoldComments).
	hold atomic.Pointer[func()]
	// holdSearch is the same for issue searches (HoldSearches).
	holdSearch      atomic.Pointer[func()]
	opts            Options
	now             func() time.Time
	*fakeoauth.Base // Start, Close, URL, SetOutage, SetLatency
	web             *http.ServeMux
	api             *http.ServeMux

	mu sync.Mutex

	users  map[string]*User // by lower-case login
	order  []string         // user keys in the order added
	orgs   map[string]int64 // organisation ids by lower-case login
	repos  map[string]*repo // by lower-case "owner/name"
	codes  map[string]*authCode
	tokens map[string]*token
	seq    int   // token and code numbers
	nextID int64 // ids of repositories, issues, comments, ...
	last   time.Time
	stats  *fakeoauth.Stats // token requests, refreshes, PKCE, AutoConsent

	checks   []repoCheck
	requests fakeoauth.Log[Request]
	commits  []Commit
	comments []Comment

	limited map[string]time.Time // SetRateLimited, by lower-case login
	usage   map[string]*window   // by lower-case login + "/" + resource
}

// New returns a server configured by opts; it does not listen until Start.
func New(opts Options) *Server {
	fakeoauth.Defaults(&opts.ClientID, &opts.ClientSecret, &opts.AppName, &opts.Addr, &opts.Now)
	if opts.DemoData && len(opts.Users) == 0 {
		opts.Users = DemoUsers()
	}
	s := &Server{
		opts:    opts,
		now:     opts.Now,
		users:   map[string]*User{},
		orgs:    map[string]int64{},
		repos:   map[string]*repo{},
		codes:   map[string]*authCode{},
		tokens:  map[string]*token{},
		nextID:  100000,
		stats:   fakeoauth.NewStats(key, opts.AutoConsent),
		limited: map[string]time.Time{},
		usage:   map[string]*window{},
	}
	for _, u := range opts.Users {
		s.AddUser(u)
	}
	if opts.DemoData {
		s.seedDemo()
	}
	s.web, s.api = s.webMux(), s.apiMux()
	s.Base = fakeoauth.NewBase("fakegithub", opts.Addr, s.serveHTTP)
	return s
}

// AuthURL returns the OAuth authorize endpoint.
func (s *Server) AuthURL() string { return s.URL() + "/login/oauth/authorize" }

// TokenURL returns the OAuth token endpoint.
func (s *Server) TokenURL() string { return s.URL() + "/login/oauth/access_token" }

// APIURL returns the REST API base, ending with "/api/v3/".
func (s *Server) APIURL() string { return s.URL() + "/api/v3/" }

// ClientID returns the registered client id (Options.ClientID or its
// default).
func (s *Server) ClientID() string { return s.opts.ClientID }

// ClientSecret returns the registered client secret.
func (s *Server) ClientSecret() string { return s.opts.ClientSecret }

// serveHTTP routes a request once the latency has passed.
func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request, outage int) {
	api := strings.HasPrefix(r.URL.Path, "/api/v3/") || r.URL.Path == "/api/v3"
	if api {
		s.serveAPI(w, r, outage)
		return
	}
	if outage != 0 {
		http.Error(w, http.StatusText(outage), outage)
		return
	}
	s.web.ServeHTTP(w, r)
}

// key folds a login or repository name: GitHub names are case-insensitive.
func key(s string) string { return strings.ToLower(s) }

// stamp returns the current time, strictly after every earlier stamp, so
// that seeded items sort the same way on every run.
func (s *Server) stamp() time.Time {
	t := s.now().UTC().Truncate(time.Second)
	if !t.After(s.last) {
		t = s.last.Add(time.Second)
	}
	s.last = t
	return t
}

func (s *Server) id() int64 {
	s.nextID++
	return s.nextID
}
