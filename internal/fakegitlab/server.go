// Package fakegitlab is a fake GitLab, web and REST API, served on loopback
// for end-to-end tests and the local demo console.
//
// It follows the layout of a self-managed instance, so that one base URL
// derives every endpoint: the OAuth pages live at /oauth/..., the REST API
// under /api/v4/. It issues recognisable, unique fake tokens
// (gloas-FAKE-alice-1 for access, glrt-FAKE-alice-2 for refresh) so that
// tests can scan logs for leaks, and it records every API request, created
// issue and note so that tests can check whose account acted.
//
// Like GitLab (Doorkeeper underneath), every access token expires after two
// hours and comes with a refresh token; a refresh revokes the old pair.
//
// The server never logs, and a Server is safe for concurrent use.
package fakegitlab

import (
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tandembot/tandem/internal/fakeoauth"
)

// User is a GitLab account known to the fake.
type User struct {
	Login string // the username
	ID    int64  // assigned when zero
	Name  string
	Email string
}

// Options configure a Server. The zero value works: it registers an
// application "fake-client-id" / "fake-client-secret" with the scopes api
// and read_user that accepts any redirect URL, with no users.
type Options struct {
	// ClientID and ClientSecret are the registered application's
	// credentials (GitLab calls them Application ID and Secret).
	ClientID     string
	ClientSecret string
	// RedirectURL is the registered callback URL. Authorize and token
	// requests must carry exactly this string. Empty accepts any URL.
	RedirectURL string
	// AppName is shown on the consent page; default "Tandem".
	AppName string
	// Scopes are the scopes the application was registered with; a request
	// for any other fails with invalid_scope. Default: api, read_user.
	Scopes []string
	// Users are the accounts that can sign in.
	Users []User
	// DemoData seeds a few projects, merge requests and issues for the demo
	// users (DemoUsers, when Users is empty).
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
	// Path is the escaped REST path as gitlab.com/api/v4 would see it,
	// without the /api/v4 prefix: "/user", "/projects/acme%2Fwidgets/issues".
	Path  string
	Query url.Values
	// Token is the bearer token sent, "" when none.
	Token string
	// Login owns Token, "" when the token is unknown. A revoked or expired
	// token still names its owner.
	Login string
	Body  string
}

// Note is one comment (a note, in GitLab's words) made through the API.
type Note struct {
	Project     string // "group/project", as spelled when added
	Noteable    string // "Issue" or "MergeRequest"
	IID         int    // the issue's or merge request's number in the project
	AuthorLogin string // the owner of the token that made it
	Body        string
}

// CreatedIssue is one issue opened through the API.
type CreatedIssue struct {
	Project     string
	IID         int
	AuthorLogin string // the owner of the token that made it
	Title       string
	Description string
}

// Server is a fake GitLab. Create it with New, then Start it.
type Server struct {
	opts            Options
	now             func() time.Time
	*fakeoauth.Base // Start, Close, URL, SetOutage, SetLatency
	web             *http.ServeMux
	api             *http.ServeMux
	// holdRefresh, when set, is called before a refresh_token grant is
	// looked at (HoldRefreshes).
	holdRefresh atomic.Pointer[func()]

	mu sync.Mutex

	users    map[string]*User    // by lower-case login
	order    []string            // user keys in the order added
	groups   map[string]*group   // by lower-case full path
	projects map[string]*project // by lower-case full path
	codes    map[string]*authCode
	access   map[string]*token // by access token
	refresh  map[string]*token // by refresh token
	seq      int               // token and code numbers
	nextID   int64             // ids of users, projects, issues, notes, ...
	last     time.Time
	stats    *fakeoauth.Stats // token requests, refreshes, PKCE, AutoConsent

	requests fakeoauth.Log[Request]
	notes    []Note
	created  []CreatedIssue

	limited map[string]time.Time // SetRateLimited, by lower-case login
	usage   map[string]*window   // by lower-case login
}

// New returns a server configured by opts; it does not listen until Start.
func New(opts Options) *Server {
	if len(opts.Scopes) == 0 {
		opts.Scopes = []string{"api", "read_user"}
	}
	fakeoauth.Defaults(&opts.ClientID, &opts.ClientSecret, &opts.AppName, &opts.Addr, &opts.Now)
	if opts.DemoData && len(opts.Users) == 0 {
		opts.Users = DemoUsers()
	}
	s := &Server{
		opts:     opts,
		now:      opts.Now,
		users:    map[string]*User{},
		groups:   map[string]*group{},
		projects: map[string]*project{},
		codes:    map[string]*authCode{},
		access:   map[string]*token{},
		refresh:  map[string]*token{},
		nextID:   100000,
		stats:    fakeoauth.NewStats(key, opts.AutoConsent),
		limited:  map[string]time.Time{},
		usage:    map[string]*window{},
	}
	for _, u := range opts.Users {
		s.AddUser(u)
	}
	if opts.DemoData {
		s.seedDemo()
	}
	s.web, s.api = s.webMux(), s.apiMux()
	s.Base = fakeoauth.NewBase("fakegitlab", opts.Addr, s.serveHTTP)
	return s
}

// AuthURL returns the OAuth authorize endpoint.
func (s *Server) AuthURL() string { return s.URL() + "/oauth/authorize" }

// TokenURL returns the OAuth token endpoint.
func (s *Server) TokenURL() string { return s.URL() + "/oauth/token" }

// RevokeURL returns the OAuth revocation endpoint.
func (s *Server) RevokeURL() string { return s.URL() + "/oauth/revoke" }

// APIURL returns the REST API base, ending with "/api/v4/".
func (s *Server) APIURL() string { return s.URL() + "/api/v4/" }

// ClientID returns the registered client id (Options.ClientID or its
// default).
func (s *Server) ClientID() string { return s.opts.ClientID }

// ClientSecret returns the registered client secret.
func (s *Server) ClientSecret() string { return s.opts.ClientSecret }

// serveHTTP routes a request once the latency has passed.
func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request, outage int) {
	if strings.HasPrefix(r.URL.Path, "/api/v4/") || r.URL.Path == "/api/v4" {
		s.serveAPI(w, r, outage)
		return
	}
	if outage != 0 {
		outagePage(w, outage)
		return
	}
	s.web.ServeHTTP(w, r)
}

// key folds a login or path: GitLab finds both case-insensitively.
func key(s string) string { return strings.ToLower(s) }

// stamp returns the current time, strictly after every earlier stamp, so
// that seeded items sort the same way on every run.
func (s *Server) stamp() time.Time {
	t := s.now().UTC().Truncate(time.Millisecond)
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
