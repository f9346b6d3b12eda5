// Package providertest is the one conformance suite every provider passes
// against its fake: authorize, exchange, identity, refresh, rotation, a
// refused refresh, a revoked token, and revocation on disconnect, all through
// the shared OAuth flow and token source with a real bbolt store.
package providertest

import (
	"context"
	"errors"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tandembot/tandem"
	"github.com/tandembot/tandem/integrations"
	"github.com/tandembot/tandem/secrets"
	"github.com/tandembot/tandem/store"
	"golang.org/x/oauth2"
)

// Fake is what the suite needs of a fake provider.
type Fake interface {
	SetAutoConsent(login string)
	MintToken(login string, scopes ...string) (*oauth2.Token, error)
	RevokeGrant(login string)
	ExpireAccessTokens(login string)
	RefreshCount(login string) int
	Revoked(token string) bool
	PKCEUsed() bool
}

// Subject is one provider wired to its fake.
type Subject struct {
	Provider tandem.Provider
	Fake     Fake
	// Login is a user the fake knows, as Identify reports it.
	Login string
	// Scopes are what MintToken grants (the provider's own scopes).
	Scopes []string
	// Refreshes: the provider issues expiring tokens with refresh tokens.
	Refreshes bool
	// Rotates: a refresh invalidates the old refresh token.
	Rotates bool
	// Revokes: disconnecting revokes the grant at the provider.
	Revokes bool
}

// Run runs the suite. newSubject must return a fresh provider and fake for
// each subtest; the fake must accept any redirect URL.
func Run(t *testing.T, newSubject func(t *testing.T) Subject) {
	t.Run("AuthorizeExchangeIdentify", func(t *testing.T) { testLink(t, newSubject(t)) })
	t.Run("RevokedTokenMarksNeedsReconnect", func(t *testing.T) { testRevokedToken(t, newSubject(t)) })
	if s := newSubject(t); s.Refreshes {
		t.Run("RefreshIsTransparentAndPersisted", func(t *testing.T) { testRefresh(t, newSubject(t)) })
		t.Run("ConcurrentTurnsRefreshOnce", func(t *testing.T) { testConcurrentRefresh(t, newSubject(t)) })
		t.Run("ReplicasRefreshOnce", func(t *testing.T) { testReplicaRefresh(t, newSubject(t)) })
		t.Run("RefusedRefreshMarksNeedsReconnect", func(t *testing.T) { testRefusedRefresh(t, newSubject(t)) })
	}
	if s := newSubject(t); s.Revokes {
		t.Run("DisconnectRevokesAtProvider", func(t *testing.T) { testDisconnect(t, newSubject(t)) })
	}
}

// confirmToken finds the single-use token in the confirmation form.
var confirmToken = regexp.MustCompile(`name="token" value="([^"]+)"`)

type rig struct {
	s      Subject
	db     *store.DB
	flow   *integrations.Flow
	tokens *integrations.Tokens
	srv    *httptest.Server
	mu     sync.Mutex
	dead   []tandem.Link
}

func newRig(t *testing.T, s Subject) *rig {
	t.Helper()
	key, _ := secrets.GenerateKey()
	keys, err := secrets.NewKeyring(key)
	if err != nil {
		t.Fatal(err)
	}
	db, err := store.Open(filepath.Join(t.TempDir(), "p.db"), store.Options{Keyring: keys})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	id := s.Provider.ID()
	providers := map[tandem.ProviderID]tandem.Provider{id: s.Provider}
	r := &rig{s: s, db: db}
	r.flow = &integrations.Flow{Store: db, Signer: keys, Providers: providers}
	r.srv = httptest.NewServer(r.flow.Handler())
	t.Cleanup(r.srv.Close)
	r.flow.PublicURL = r.srv.URL
	r.tokens = &integrations.Tokens{Store: db, Providers: providers, HTTPClient: &http.Client{Timeout: 10 * time.Second},
		OnNeedsReconnect: func(_ context.Context, l tandem.Link) {
			r.mu.Lock()
			r.dead = append(r.dead, l)
			r.mu.Unlock()
		}}
	return r
}

// link stores a link for U1 with a freshly minted token.
func (r *rig) link(t *testing.T) tandem.Link {
	t.Helper()
	tok, err := r.s.Fake.MintToken(r.s.Login, r.s.Scopes...)
	if err != nil {
		t.Fatal(err)
	}
	l := tandem.Link{Team: "T1", User: "U1", Provider: r.s.Provider.ID(), Login: r.s.Login, LinkedAt: time.Now(), Token: integrations.FromOAuth2(tok)}
	if err := r.db.SaveLink(context.Background(), l); err != nil {
		t.Fatal(err)
	}
	return l
}

// expire makes the stored access token expired, here and at the fake.
func (r *rig) expire(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	l, err := r.db.Link(ctx, "T1", "U1", r.s.Provider.ID())
	if err != nil {
		t.Fatal(err)
	}
	r.s.Fake.ExpireAccessTokens(r.s.Login)
	l.Token.Expiry = time.Now().Add(-time.Minute)
	if err := r.db.SaveLink(ctx, l); err != nil {
		t.Fatal(err)
	}
}

// identify runs one "turn": resolve U1's credentials and ask who they are.
func (r *rig) identify(ctx context.Context) (tandem.Account, error) {
	creds, err := r.tokens.Credentials(ctx, "T1", "U1", r.s.Provider.ID(), tandem.ReasonSender)
	if err != nil {
		return tandem.Account{}, err
	}
	return r.s.Provider.Identify(ctx, creds.Client)
}

func testLink(t *testing.T, s Subject) {
	r := newRig(t, s)
	s.Fake.SetAutoConsent(s.Login)
	jar, _ := cookiejar.New(nil)
	browser := &http.Client{Jar: jar}
	link, err := r.flow.ConnectURL(context.Background(), "T1", "U1", s.Provider.ID(), "")
	if err != nil {
		t.Fatal(err)
	}
	resp, err := browser.Get(link)
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	// Without Sign in with Slack the browser confirms on a page naming the
	// user the link was made for.
	token := confirmToken.FindSubmatch(page)
	if resp.StatusCode != 200 || token == nil {
		t.Fatalf("the link's page (%d) has no confirmation form: %s", resp.StatusCode, page)
	}
	resp, err = browser.PostForm(r.srv.URL+"/connect/"+string(s.Provider.ID())+"/confirm", url.Values{"token": {html.UnescapeString(string(token[1]))}})
	if err != nil {
		t.Fatal(err)
	}
	page, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(page), "account "+s.Login+" is now linked") {
		t.Fatalf("flow ended with %d: %s", resp.StatusCode, page)
	}
	l, err := r.db.Link(context.Background(), "T1", "U1", s.Provider.ID())
	if err != nil {
		t.Fatalf("no link stored: %v", err)
	}
	if l.Login != s.Login || l.Token.AccessToken == "" || l.AccountID == "" {
		t.Errorf("stored link login %q account %q (token set: %v), want %q", l.Login, l.AccountID, l.Token.AccessToken != "", s.Login)
	}
	if s.Refreshes && (l.Token.RefreshToken == "" || l.Token.Expiry.IsZero()) {
		t.Errorf("an expiring provider's link has no refresh token or expiry")
	}
	if !s.Fake.PKCEUsed() {
		t.Error("the authorization request carried no PKCE S256 challenge")
	}
	acct, err := r.identify(context.Background())
	if err != nil || acct.Login != s.Login {
		t.Errorf("identify with the stored link = %q, %v; want %q", acct.Login, err, s.Login)
	}
}

func testRevokedToken(t *testing.T, s Subject) {
	r := newRig(t, s)
	r.link(t)
	s.Fake.RevokeGrant(s.Login)
	_, err := r.identify(context.Background())
	if tandem.ErrorCode(err) != tandem.EUNAUTHORIZED {
		t.Fatalf("identify with a revoked token: %v, want code %s", err, tandem.EUNAUTHORIZED)
	}
	l, _ := r.db.Link(context.Background(), "T1", "U1", s.Provider.ID())
	if !l.NeedsReconnect {
		t.Error("a 401 did not mark the link needs-reconnect")
	}
	_, err = r.identify(context.Background())
	var ex *tandem.ExpiredError
	if !errors.As(err, &ex) {
		t.Errorf("next turn: %v, want *tandem.ExpiredError", err)
	}
	if len(r.dead) != 1 {
		t.Errorf("owner told %d times, want once", len(r.dead))
	}
}

func testRefresh(t *testing.T, s Subject) {
	r := newRig(t, s)
	old := r.link(t)
	r.expire(t)
	acct, err := r.identify(context.Background())
	if err != nil || acct.Login != s.Login {
		t.Fatalf("identify after expiry: %q, %v", acct.Login, err)
	}
	if n := s.Fake.RefreshCount(s.Login); n != 1 {
		t.Errorf("%d refreshes, want 1", n)
	}
	l, _ := r.db.Link(context.Background(), "T1", "U1", s.Provider.ID())
	if l.Token.AccessToken == old.Token.AccessToken || !l.Token.Expiry.After(time.Now()) {
		t.Error("the refreshed token was not saved")
	}
	if s.Rotates {
		if l.Token.RefreshToken == old.Token.RefreshToken {
			t.Error("rotation: the stored refresh token did not change")
		}
		if !s.Fake.Revoked(old.Token.RefreshToken) {
			t.Error("rotation: the provider still accepts the old refresh token")
		}
	} else if l.Token.RefreshToken != old.Token.RefreshToken {
		t.Error("the refresh token changed, though the provider does not rotate")
	}
	// A second turn uses the saved token without refreshing again.
	if _, err := r.identify(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := s.Fake.RefreshCount(s.Login); n != 1 {
		t.Errorf("%d refreshes after a second turn, want 1", n)
	}
}

func testConcurrentRefresh(t *testing.T, s Subject) {
	r := newRig(t, s)
	r.link(t)
	r.expire(t)
	var wg sync.WaitGroup
	errs := make(chan error, 50)
	for i := 0; i < 50; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := r.identify(context.Background())
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("a concurrent turn failed: %v", err)
		}
	}
	if n := s.Fake.RefreshCount(s.Login); n != 1 {
		t.Errorf("50 concurrent turns caused %d refreshes, want 1", n)
	}
	if len(r.dead) != 0 {
		t.Errorf("a refresh race declared the link dead")
	}
}

func testRefusedRefresh(t *testing.T, s Subject) {
	r := newRig(t, s)
	r.link(t)
	s.Fake.RevokeGrant(s.Login)
	r.expire(t)
	_, err := r.identify(context.Background())
	var ex *tandem.ExpiredError
	if !errors.As(err, &ex) || ex.Provider != s.Provider.ID() || ex.User != "U1" {
		t.Fatalf("turn after a refused refresh: %v, want *tandem.ExpiredError for U1", err)
	}
	l, _ := r.db.Link(context.Background(), "T1", "U1", s.Provider.ID())
	if !l.NeedsReconnect {
		t.Error("link not marked needs-reconnect")
	}
	r.identify(context.Background())
	if len(r.dead) != 1 {
		t.Errorf("owner told %d times, want once", len(r.dead))
	}
}

func testDisconnect(t *testing.T, s Subject) {
	r := newRig(t, s)
	l := r.link(t)
	got, err := r.tokens.Disconnect(context.Background(), "T1", "U1", s.Provider.ID())
	if err != nil || got.Login != s.Login {
		t.Fatalf("disconnect: %v", err)
	}
	if !s.Fake.Revoked(l.Token.AccessToken) {
		t.Error("the grant was not revoked at the provider")
	}
	if _, err := r.db.Link(context.Background(), "T1", "U1", s.Provider.ID()); tandem.ErrorCode(err) != tandem.ENOTFOUND {
		t.Errorf("link still stored after disconnect: %v", err)
	}
	if _, err := r.tokens.Disconnect(context.Background(), "T1", "U1", s.Provider.ID()); tandem.ErrorCode(err) != tandem.ENOTFOUND {
		t.Errorf("second disconnect: %v, want ENOTFOUND", err)
	}
}

// testReplicaRefresh: two token sources that share only the store (as two
// replicas do) refresh an expired token once between them.
func testReplicaRefresh(t *testing.T, s Subject) {
	r := newRig(t, s)
	r.link(t)
	r.expire(t)
	other := &integrations.Tokens{Store: r.db, Providers: r.tokens.Providers, HTTPClient: r.tokens.HTTPClient}
	var wg sync.WaitGroup
	errs := make(chan error, 40)
	for i := 0; i < 40; i++ {
		tokens := r.tokens
		if i%2 == 1 {
			tokens = other
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			creds, err := tokens.Credentials(context.Background(), "T1", "U1", s.Provider.ID(), tandem.ReasonSender)
			if err == nil {
				_, err = s.Provider.Identify(context.Background(), creds.Client)
			}
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("a turn failed: %v", err)
		}
	}
	if n := s.Fake.RefreshCount(s.Login); n != 1 {
		t.Errorf("two replicas refreshed %d times, want 1", n)
	}
}
