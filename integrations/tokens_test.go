package integrations_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/tandembot/tandem"
	"github.com/tandembot/tandem/integrations"
	"github.com/tandembot/tandem/integrations/github"
	"github.com/tandembot/tandem/integrations/providertest"
)

// memStore is a TokenStore holding one link in memory, with a valid token so
// no refresh ever happens.
type memStore struct {
	mu        sync.Mutex
	link      tandem.Link
	reconnect int
}

func (s *memStore) Link(ctx context.Context, team, user string, p tandem.ProviderID) (tandem.Link, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if team != s.link.Team || user != s.link.User || p != s.link.Provider {
		return tandem.Link{}, tandem.Errorf(tandem.ENOTFOUND, "no link")
	}
	return s.link, nil
}

func (s *memStore) SwapToken(ctx context.Context, team, user string, p tandem.ProviderID, oldRefresh string, tok tandem.Token) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.link.Token = tok
	return nil
}

// MarkNeedsReconnect flags the link while refused is its token, as the
// stores do.
func (s *memStore) MarkNeedsReconnect(ctx context.Context, team, user string, p tandem.ProviderID, refused tandem.Token) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.link.Token.AccessToken != refused.AccessToken || s.link.Token.RefreshToken != refused.RefreshToken {
		return false, tandem.Errorf(tandem.ECONFLICT, "another token")
	}
	if s.link.NeedsReconnect {
		return false, nil
	}
	s.link.NeedsReconnect = true
	s.reconnect++
	return true, nil
}

func (s *memStore) DeleteLink(ctx context.Context, team, user string, p tandem.ProviderID) (tandem.Link, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.link, nil
}

func (s *memStore) SaveLink(ctx context.Context, l tandem.Link) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.link = l
	return nil
}

func (s *memStore) SetLinkSite(ctx context.Context, team, user string, p tandem.ProviderID, accountID, site, siteName string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if team != s.link.Team || user != s.link.User || p != s.link.Provider || accountID != s.link.AccountID {
		return tandem.Errorf(tandem.ENOTFOUND, "no link")
	}
	s.link.Site, s.link.SiteName = site, siteName
	return nil
}

func (s *memStore) Lease(ctx context.Context, name, owner string, ttl time.Duration) (bool, error) {
	return true, nil
}

func (s *memStore) ReleaseLease(ctx context.Context, name, owner string) error { return nil }

// authLog records the Authorization header each path of a server saw.
type authLog struct {
	mu  sync.Mutex
	got map[string][]string
}

func (l *authLog) record(r *http.Request) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.got == nil {
		l.got = map[string][]string{}
	}
	l.got[r.URL.Path] = append(l.got[r.URL.Path], r.Header.Get("Authorization"))
}

func (l *authLog) seen(path string) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.got[path]
}

const redirectToken = "gho_secret_access_token"

// redirectEnv is a turn's credentials client and two loopback servers on
// different ports (so different hosts as http.Client and the transport see
// them): home is the provider, away is somewhere else.
type redirectEnv struct {
	client     *http.Client
	store      *memStore
	home, away *httptest.Server
	homeLog    *authLog
	awayLog    *authLog
}

func newRedirectEnv(t *testing.T) *redirectEnv {
	t.Helper()
	e := &redirectEnv{homeLog: &authLog{}, awayLog: &authLog{}}
	e.away = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		e.awayLog.record(r)
		switch r.URL.Path {
		case "/back-home":
			http.Redirect(w, r, e.home.URL+"/final", http.StatusFound)
		case "/unauthorized":
			http.Error(w, "who are you", http.StatusUnauthorized)
		default:
			w.Write([]byte("away"))
		}
	}))
	t.Cleanup(e.away.Close)
	e.home = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		e.homeLog.record(r)
		switch r.URL.Path {
		case "/to-away":
			http.Redirect(w, r, e.away.URL+"/final", http.StatusFound)
		case "/to-away-307":
			http.Redirect(w, r, e.away.URL+"/final", http.StatusTemporaryRedirect)
		case "/to-away-and-back":
			http.Redirect(w, r, e.away.URL+"/back-home", http.StatusFound)
		case "/to-away-401":
			http.Redirect(w, r, e.away.URL+"/unauthorized", http.StatusFound)
		case "/to-home":
			http.Redirect(w, r, "/final", http.StatusFound)
		default:
			w.Write([]byte("home"))
		}
	}))
	t.Cleanup(e.home.Close)

	cfg, err := github.ConfigFromBase(e.home.URL)
	if err != nil {
		t.Fatal(err)
	}
	e.store = &memStore{link: tandem.Link{
		Team: "T1", User: "U1", Provider: tandem.GitHub, Login: "octo",
		Token: tandem.Token{AccessToken: redirectToken, TokenType: "bearer"},
	}}
	tokens := &integrations.Tokens{
		Store:      e.store,
		Providers:  map[tandem.ProviderID]tandem.Provider{tandem.GitHub: github.New(cfg)},
		HTTPClient: e.home.Client(),
	}
	creds, err := tokens.Credentials(context.Background(), "T1", "U1", tandem.GitHub, tandem.ReasonSender)
	if err != nil {
		t.Fatal(err)
	}
	e.client = creds.Client
	return e
}

func (e *redirectEnv) get(t *testing.T, path string) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, e.home.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := e.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func TestTokenNotSentAcrossHostRedirect(t *testing.T) {
	want := "Bearer " + redirectToken
	for _, path := range []string{"/to-away", "/to-away-307"} {
		t.Run(path, func(t *testing.T) {
			e := newRedirectEnv(t)
			e.get(t, path)
			if got := e.homeLog.seen(path); len(got) != 1 || got[0] != want {
				t.Errorf("the provider's host saw Authorization %q, want [%q]", got, want)
			}
			if got := e.awayLog.seen("/final"); len(got) != 1 || got[0] != "" {
				t.Errorf("the other host saw Authorization %q after the redirect, want one request without it", got)
			}
		})
	}
}

func TestTokenKeptOnSameHostRedirect(t *testing.T) {
	e := newRedirectEnv(t)
	e.get(t, "/to-home")
	want := "Bearer " + redirectToken
	if got := e.homeLog.seen("/final"); len(got) != 1 || got[0] != want {
		t.Errorf("a same-host redirect carried Authorization %q, want [%q]", got, want)
	}
}

// A chain that left the provider's host and came back was steered by the
// other host: the token stays off it.
func TestTokenNotSentAfterRedirectBackFromAnotherHost(t *testing.T) {
	e := newRedirectEnv(t)
	e.get(t, "/to-away-and-back")
	if got := e.awayLog.seen("/back-home"); len(got) != 1 || got[0] != "" {
		t.Errorf("the other host saw Authorization %q, want one request without it", got)
	}
	if got := e.homeLog.seen("/final"); len(got) != 1 || got[0] != "" {
		t.Errorf("the redirect back to the provider's host carried Authorization %q, want none", got)
	}
}

// A 401 from a host the token was never sent to says nothing about the token.
func TestUnauthorizedFromAnotherHostKeepsTheLink(t *testing.T) {
	e := newRedirectEnv(t)
	if got := e.get(t, "/to-away-401"); got != http.StatusUnauthorized {
		t.Fatalf("status %d, want 401 from the other host", got)
	}
	e.store.mu.Lock()
	defer e.store.mu.Unlock()
	if e.store.reconnect != 0 || e.store.link.NeedsReconnect {
		t.Errorf("the link was marked needs-reconnect (%d times) by another host's 401", e.store.reconnect)
	}
}

// TestRefreshFollowsNoRedirectOffTheProvider: a token endpoint that
// answers a refresh with a 307 to another host (which would repeat the
// form, refresh token and client secret included) is not followed: the
// other host gets nothing, and the turn's request fails.
func TestRefreshFollowsNoRedirectOffTheProvider(t *testing.T) {
	away := providertest.NewElsewhere(t, http.StatusOK, `{"access_token":"gho_from_away","token_type":"bearer","expires_in":3600}`)
	home := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/login/oauth/access_token" {
			away.Redirect(w, r)
			return
		}
		w.Write([]byte("home"))
	}))
	t.Cleanup(home.Close)
	cfg, err := github.ConfigFromBase(home.URL)
	if err != nil {
		t.Fatal(err)
	}
	cfg.ClientID, cfg.ClientSecret = "Iv1.redirect", "client-secret-never-elsewhere"
	store := &memStore{link: tandem.Link{
		Team: "T1", User: "U1", Provider: tandem.GitHub, Login: "octo",
		Token: tandem.Token{AccessToken: "gho_expired", RefreshToken: "ghr_refresh_never_elsewhere", TokenType: "bearer", Expiry: time.Now().Add(-time.Hour)},
	}}
	tokens := &integrations.Tokens{Store: store, Providers: map[tandem.ProviderID]tandem.Provider{tandem.GitHub: github.New(cfg)}, HTTPClient: home.Client()}
	creds, err := tokens.Credentials(t.Context(), "T1", "U1", tandem.GitHub, tandem.ReasonSender)
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, home.URL+"/api/v3/user", nil)
	if resp, err := creds.Client.Do(req); err == nil {
		resp.Body.Close()
		t.Errorf("a request whose refresh was redirected off the provider succeeded: %d", resp.StatusCode)
	}
	away.WantNothing(t)
}
