// Package fakegoogle is a fake Google, the accounts pages, the OAuth 2.0
// endpoints and the APIs of www.googleapis.com that Tandem uses (OpenID
// userinfo, Calendar v3 events, Drive v3 files), served on loopback for
// end-to-end tests and the local demo console.
//
// Real Google spreads these over several hosts (accounts.google.com,
// oauth2.googleapis.com, www.googleapis.com); the fake serves them all from
// one base URL: the authorize page at /o/oauth2/auth, the token endpoint at
// /token, revocation at /revoke and the APIs under /, as
// /oauth2/v3/userinfo, /calendar/v3/... and /drive/v3/.... It behaves as
// Google does where a client can tell: access_type=offline gives a refresh
// token only on the first consent or with prompt=consent, refresh tokens do
// not rotate, revoking any token of a grant ends the whole grant, and errors
// have Google's shapes. It issues recognisable, unique fake tokens
// (ya29.FAKE-alice-1 access, 1//FAKE-alice-2 refresh) so that tests can scan
// logs for leaks, and it records every API request so that tests can check
// whose account acted.
//
// Accounts are named by their email address (alice@example.test). The
// server never logs, and a Server is safe for concurrent use.
package fakegoogle

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/tandembot/tandem/internal/fakeoauth"
)

// User is a Google account known to the fake.
type User struct {
	// Email is the account's address and its login in the fake.
	Email string
	// Sub is the OpenID subject, a 21-digit number as Google uses; assigned
	// when empty.
	Sub  string
	Name string
	// TimeZone is the IANA zone of the primary calendar; default "UTC".
	TimeZone string
}

// Options configure a Server. The zero value works: it registers a client
// "fake-client-id.apps.googleusercontent.com" / "GOCSPX-fake-client-secret"
// that accepts any redirect URL, with no users.
type Options struct {
	// ClientID and ClientSecret are the registered OAuth client's
	// credentials.
	ClientID     string
	ClientSecret string
	// RedirectURL is the registered redirect URI. Authorize and token
	// requests must carry exactly this string. Empty accepts any URL (but
	// one is still required, as Google requires it).
	RedirectURL string
	// AppName is shown on the consent page; default "Tandem".
	AppName string
	// Users are the accounts that can sign in.
	Users []User
	// DemoData seeds meetings and documents for the demo users (DemoUsers,
	// when Users is empty).
	DemoData bool
	// AutoConsent, when set, approves every authorization without the
	// consent page as this account (the demo console's --auto-consent). A
	// login= parameter in the authorize request wins over it.
	AutoConsent string
	// NoRateLimit stops requests from using up the per-user quotas
	// (SetRateLimited still works); for benchmarks.
	NoRateLimit bool
	// Addr is the listen address; default "127.0.0.1:0".
	Addr string
	// Now is the clock for token and code expiry and for the demo's
	// meetings; default time.Now.
	Now func() time.Time
}

// Request is one recorded API request (userinfo, Calendar or Drive).
type Request struct {
	Method string
	// Path is the path as www.googleapis.com would see it:
	// "/oauth2/v3/userinfo", "/calendar/v3/calendars/primary/events",
	// "/drive/v3/files".
	Path  string
	Query url.Values
	// Token is the bearer token sent, "" when none.
	Token string
	// Login is the email of Token's owner, "" when the token is unknown. A
	// revoked or expired token still names its owner.
	Login string
	Body  string
}

// Server is a fake Google. Create it with New, then Start it.
type Server struct {
	opts            Options
	now             func() time.Time
	*fakeoauth.Base // Start, Close, URL, SetOutage, SetLatency
	web             *http.ServeMux
	api             *http.ServeMux

	mu sync.Mutex

	users  map[string]*User // by lower-case email
	order  []string         // user keys in the order added
	codes  map[string]*authCode
	tokens map[string]*token
	grants map[string]*grant // live grants by user key
	seq    int               // token, code and item numbers
	stats  *fakeoauth.Stats  // token requests, refreshes, PKCE, AutoConsent

	events map[string][]*event // by user key
	files  []*file

	requests fakeoauth.Log[Request]

	limited map[string]time.Time // SetRateLimited, by user key
	usage   map[string]*window   // by user key + "/" + API
}

// New returns a server configured by opts; it does not listen until Start.
func New(opts Options) *Server {
	if opts.ClientID == "" {
		opts.ClientID = "fake-client-id.apps.googleusercontent.com"
	}
	if opts.ClientSecret == "" {
		opts.ClientSecret = "GOCSPX-fake-client-secret"
	}
	fakeoauth.Defaults(&opts.ClientID, &opts.ClientSecret, &opts.AppName, &opts.Addr, &opts.Now)
	if opts.DemoData && len(opts.Users) == 0 {
		opts.Users = DemoUsers()
	}
	s := &Server{
		opts:    opts,
		now:     opts.Now,
		users:   map[string]*User{},
		codes:   map[string]*authCode{},
		tokens:  map[string]*token{},
		grants:  map[string]*grant{},
		stats:   fakeoauth.NewStats(key, opts.AutoConsent),
		events:  map[string][]*event{},
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
	s.Base = fakeoauth.NewBase("fakegoogle", opts.Addr, s.serveHTTP)
	return s
}

// AddUser adds an account that can sign in; an empty Sub is assigned.
// Adding an email again replaces its name and time zone.
func (s *Server) AddUser(u User) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.addUser(u)
}

func (s *Server) addUser(u User) *User {
	if u.TimeZone == "" {
		u.TimeZone = "UTC"
	}
	k := key(u.Email)
	if old := s.users[k]; old != nil {
		old.Name, old.TimeZone = u.Name, u.TimeZone
		return old
	}
	if u.Sub == "" {
		u.Sub = fmt.Sprintf("1%020d", 4711+len(s.order)) // 21 digits, as Google's
	}
	s.users[k] = &u
	s.order = append(s.order, k)
	return &u
}

// ensureUser returns email's account, adding it when unknown. The caller
// holds s.mu.
func (s *Server) ensureUser(email string) *User {
	if u := s.users[key(email)]; u != nil {
		return u
	}
	return s.addUser(User{Email: email})
}

// AuthURL returns the authorize endpoint (Google's
// https://accounts.google.com/o/oauth2/auth).
func (s *Server) AuthURL() string { return s.URL() + "/o/oauth2/auth" }

// TokenURL returns the token endpoint (Google's
// https://oauth2.googleapis.com/token).
func (s *Server) TokenURL() string { return s.URL() + "/token" }

// RevokeURL returns the revocation endpoint (Google's
// https://oauth2.googleapis.com/revoke).
func (s *Server) RevokeURL() string { return s.URL() + "/revoke" }

// APIURL returns the API base, ending with "/", as
// https://www.googleapis.com/ is: oauth2/v3/userinfo, calendar/v3/ and
// drive/v3/ hang off it.
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
	s.web.ServeHTTP(w, r)
}

// isAPI reports whether path belongs to www.googleapis.com.
func isAPI(path string) bool {
	for _, p := range []string{"/oauth2/v3/", "/calendar/v3/", "/drive/v3/"} {
		if strings.HasPrefix(path, p) {
			return true
		}
	}
	return false
}

// key folds an email address: Google compares them case-insensitively.
func key(email string) string { return strings.ToLower(strings.TrimSpace(email)) }

// localPart returns the part of an email before "@", which names tokens.
func localPart(email string) string {
	l, _, _ := strings.Cut(email, "@")
	return l
}

// next returns the next sequence number. The caller holds s.mu.
func (s *Server) next() int {
	s.seq++
	return s.seq
}
