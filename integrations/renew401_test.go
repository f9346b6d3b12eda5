package integrations_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/tandembot/tandem"
	"github.com/tandembot/tandem/integrations"
	"github.com/tandembot/tandem/integrations/gitlab"
	"github.com/tandembot/tandem/integrations/google"
	"github.com/tandembot/tandem/internal/fakegitlab"
	"github.com/tandembot/tandem/internal/fakegoogle"
	"github.com/tandembot/tandem/secrets"
	"github.com/tandembot/tandem/store/postgres"
	"github.com/tandembot/tandem/store/postgres/pgtest"
	"golang.org/x/oauth2"
)

// A provider that expires an access token before the expiry it announced
// (clock skew, early expiry, rotation on its side) answers 401 to a token
// Tandem still counts as valid. These tests drive the real provider clients
// through Tokens against the fakes: the fakes' ExpireAccessTokens is that
// early expiry, since the link keeps the expiry the token endpoint
// announced.

// apiCall is one API request a fake received.
type apiCall struct {
	Method, Path, Token, Login, Body string
}

// renewFake is what these tests need of a fake provider.
type renewFake struct {
	prov      tandem.Provider
	alice     string // a login the fake knows
	bob       string // another
	mint      func(login string) (*oauth2.Token, error)
	expire    func(login string) // ExpireAccessTokens
	revoke    func(login string) // RevokeGrant
	refreshes func(login string) int
	calls     func() []apiCall
	gitlab    *fakegitlab.Server // set for the GitLab fake
}

func startGitLabFake(t *testing.T) renewFake {
	t.Helper()
	fake := fakegitlab.New(fakegitlab.Options{
		ClientID: "renew-app-id", ClientSecret: "gloas-FAKE-renew-client-secret",
		Users: []fakegitlab.User{{Login: "alice", ID: 2001, Name: "Alice Liddell"}, {Login: "bob", ID: 2002, Name: "Bob Marley"}},
	})
	if err := fake.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(fake.Close)
	cfg, err := gitlab.ConfigFromBase(fake.URL())
	if err != nil {
		t.Fatal(err)
	}
	cfg.ClientID, cfg.ClientSecret = fake.ClientID(), fake.ClientSecret()
	return renewFake{
		prov: gitlab.New(cfg), alice: "alice", bob: "bob",
		mint:      func(login string) (*oauth2.Token, error) { return fake.MintToken(login) },
		expire:    fake.ExpireAccessTokens,
		revoke:    fake.RevokeGrant,
		refreshes: fake.RefreshCount,
		calls: func() []apiCall {
			var out []apiCall
			for _, r := range fake.Requests() {
				out = append(out, apiCall{r.Method, r.Path, r.Token, r.Login, r.Body})
			}
			return out
		},
		gitlab: fake,
	}
}

func startGoogleFake(t *testing.T) renewFake {
	t.Helper()
	fake := fakegoogle.New(fakegoogle.Options{
		ClientID: "renew.apps.googleusercontent.com", ClientSecret: "GOCSPX-FAKE-renew-client-secret",
		Users: []fakegoogle.User{{Email: "alice@example.test", Name: "Alice Liddell"}, {Email: "bob@example.test", Name: "Bob Marley"}},
	})
	if err := fake.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(fake.Close)
	cfg, err := google.ConfigFromBase(fake.URL())
	if err != nil {
		t.Fatal(err)
	}
	cfg.ClientID, cfg.ClientSecret = fake.ClientID(), fake.ClientSecret()
	p := google.New(cfg)
	return renewFake{
		prov: p, alice: "alice@example.test", bob: "bob@example.test",
		mint: func(login string) (*oauth2.Token, error) {
			return fake.MintToken(login, p.OAuth2Config().Scopes...)
		},
		expire:    fake.ExpireAccessTokens,
		revoke:    fake.RevokeGrant,
		refreshes: fake.RefreshCount,
		calls: func() []apiCall {
			var out []apiCall
			for _, r := range fake.Requests() {
				out = append(out, apiCall{r.Method, r.Path, r.Token, r.Login, r.Body})
			}
			return out
		},
	}
}

// renewEnv is one Tokens (one replica) over a real store and a fake
// provider, counting what it reports.
type renewEnv struct {
	fake   renewFake
	db     linkStore
	tokens *integrations.Tokens

	mu        sync.Mutex
	dead      []tandem.Link
	refreshed []error
}

// newRenewEnv makes a Tokens for fake over db; base, when not nil, is the
// transport beneath it (the provider's API and token endpoint alike).
// linkStore is the store of Tokens and of the connect flow's end.
type linkStore interface {
	integrations.TokenStore
	SaveLink(ctx context.Context, l tandem.Link) error
}

func newRenewEnv(t *testing.T, fake renewFake, db linkStore, base http.RoundTripper) *renewEnv {
	t.Helper()
	e := &renewEnv{fake: fake, db: db}
	e.tokens = &integrations.Tokens{
		Store:      db,
		Providers:  map[tandem.ProviderID]tandem.Provider{fake.prov.ID(): fake.prov},
		HTTPClient: &http.Client{Transport: base, Timeout: 10 * time.Second},
		OnNeedsReconnect: func(_ context.Context, l tandem.Link) {
			e.mu.Lock()
			e.dead = append(e.dead, l)
			e.mu.Unlock()
		},
		OnRefresh: func(_ tandem.ProviderID, err error) {
			e.mu.Lock()
			e.refreshed = append(e.refreshed, err)
			e.mu.Unlock()
		},
	}
	return e
}

// replica is another Tokens over the same store, as another process
// sharing the database would have.
func (e *renewEnv) replica() *integrations.Tokens {
	r := e.tokens
	return &integrations.Tokens{Store: r.Store, Providers: r.Providers, HTTPClient: r.HTTPClient,
		OnNeedsReconnect: r.OnNeedsReconnect, OnRefresh: r.OnRefresh}
}

// link links slack user's account login with a freshly minted token, as
// the connect flow would, and returns the link.
func (e *renewEnv) link(t *testing.T, user, login string) tandem.Link {
	t.Helper()
	l := e.newLink(t, user, login)
	e.save(t, l)
	return l
}

// newLink is the link the connect flow would make for user's account
// login, not saved yet. Identifying the account is an API call the fake
// records.
func (e *renewEnv) newLink(t *testing.T, user, login string) tandem.Link {
	t.Helper()
	tok, err := e.fake.mint(login)
	if err != nil {
		t.Fatal(err)
	}
	acct, err := e.fake.prov.Identify(t.Context(), oauth2.NewClient(t.Context(), oauth2.StaticTokenSource(tok)))
	if err != nil {
		t.Fatal(err)
	}
	return tandem.Link{Team: "T1", User: user, Provider: e.fake.prov.ID(), AccountID: acct.ID, Login: acct.Login,
		LinkedAt: time.Now(), Token: integrations.FromOAuth2(tok)}
}

// save stores l, as the end of the connect flow does; it may run on a
// transport's goroutine, so it fails t without stopping it.
func (e *renewEnv) save(t *testing.T, l tandem.Link) {
	if err := e.db.SaveLink(context.Background(), l); err != nil {
		t.Errorf("save link: %v", err)
	}
}

func (e *renewEnv) stored(t *testing.T, user string) tandem.Link {
	t.Helper()
	l, err := e.db.Link(t.Context(), "T1", user, e.fake.prov.ID())
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func (e *renewEnv) client(t *testing.T, tokens *integrations.Tokens, user string) *http.Client {
	t.Helper()
	creds, err := tokens.Credentials(t.Context(), "T1", user, e.fake.prov.ID(), tandem.ReasonSender)
	if err != nil {
		t.Fatal(err)
	}
	return creds.Client
}

// callsSince returns the API calls after the first n.
func (e *renewEnv) callsSince(n int) []apiCall { return e.fake.calls()[n:] }

// expiredTurn stores alice's link with a token past its recorded expiry
// and resolves a turn's credentials as her: the turn's first call
// refreshes the token.
func (e *renewEnv) expiredTurn(t *testing.T) (tandem.Link, tandem.Credentials) {
	t.Helper()
	alice := e.newLink(t, "UALICE", e.fake.alice)
	alice.Token.Expiry = time.Now().Add(-time.Minute)
	e.save(t, alice)
	creds, err := e.tokens.Credentials(t.Context(), "T1", "UALICE", e.fake.prov.ID(), tandem.ReasonSender)
	if err != nil {
		t.Fatal(err)
	}
	return alice, creds
}

func (e *renewEnv) counts() (dead, refreshes int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	return len(e.dead), len(e.refreshed)
}

// TestEarlyExpiryIsRefreshedAndRetried: the provider expired alice's
// access token while Tandem's recorded expiry is two hours away. The call
// succeeds: the provider saw the old token, then a refreshed one, both
// alice's; the link stays healthy and holds the new token.
func TestEarlyExpiryIsRefreshedAndRetried(t *testing.T) {
	for name, start := range map[string]func(*testing.T) renewFake{"gitlab": startGitLabFake, "google": startGoogleFake} {
		t.Run(name, func(t *testing.T) {
			fake := start(t)
			e := newRenewEnv(t, fake, openFlowStore(t), nil)
			old := e.link(t, "UALICE", fake.alice)
			client := e.client(t, e.tokens, "UALICE")
			fake.expire(fake.alice)
			n := len(fake.calls())

			acct, err := fake.prov.Identify(t.Context(), client)
			if err != nil {
				t.Fatalf("Identify after the provider expired the token early: %v", err)
			}
			if acct.Login != old.Login {
				t.Errorf("Identify ran as %q, want %q", acct.Login, old.Login)
			}
			calls := e.callsSince(n)
			if len(calls) != 2 {
				t.Fatalf("the provider received %d API calls, want 2 (refused, then retried): %+v", len(calls), calls)
			}
			now := e.stored(t, "UALICE")
			if calls[0].Token != old.Token.AccessToken || calls[1].Token != now.Token.AccessToken || calls[1].Token == old.Token.AccessToken {
				t.Errorf("tokens sent %q then %q; want the old %q then the stored new one %q",
					calls[0].Token, calls[1].Token, old.Token.AccessToken, now.Token.AccessToken)
			}
			if calls[0].Login != fake.alice || calls[1].Login != fake.alice {
				t.Errorf("the two calls were made as %q and %q, want %q both times", calls[0].Login, calls[1].Login, fake.alice)
			}
			if calls[0].Path != calls[1].Path || calls[0].Method != calls[1].Method {
				t.Errorf("the retry was %s %s, the original %s %s", calls[1].Method, calls[1].Path, calls[0].Method, calls[0].Path)
			}
			if now.NeedsReconnect || now.AccountID != old.AccountID || !now.Token.Expiry.After(time.Now()) {
				t.Errorf("stored link after the retry: needs reconnect %v, account %q (want %q), expiry %v",
					now.NeedsReconnect, now.AccountID, old.AccountID, now.Token.Expiry)
			}
			if got := fake.refreshes(fake.alice); got != 1 {
				t.Errorf("%d refreshes at the provider, want 1", got)
			}
			if dead, refreshes := e.counts(); dead != 0 || refreshes != 1 {
				t.Errorf("OnNeedsReconnect called %d times, OnRefresh %d; want 0 and 1", dead, refreshes)
			}

			// The rest of the turn uses the renewed token without asking again.
			n = len(fake.calls())
			if _, err := fake.prov.Identify(t.Context(), client); err != nil {
				t.Fatal(err)
			}
			if calls := e.callsSince(n); len(calls) != 1 || calls[0].Token != now.Token.AccessToken {
				t.Errorf("the next call sent %+v, want one call with the renewed token", calls)
			}
		})
	}
}

// TestEarlyExpiryWithRevokedGrantNeedsReconnect: the token expired early
// and the person revoked the grant; the refresh is refused, so the link is
// marked once and the request is not sent again.
func TestEarlyExpiryWithRevokedGrantNeedsReconnect(t *testing.T) {
	for name, start := range map[string]func(*testing.T) renewFake{"gitlab": startGitLabFake, "google": startGoogleFake} {
		t.Run(name, func(t *testing.T) {
			fake := start(t)
			e := newRenewEnv(t, fake, openFlowStore(t), nil)
			old := e.link(t, "UALICE", fake.alice)
			client := e.client(t, e.tokens, "UALICE")
			fake.expire(fake.alice)
			fake.revoke(fake.alice)
			n := len(fake.calls())

			_, err := fake.prov.Identify(t.Context(), client)
			if code := tandem.ErrorCode(err); code != tandem.EUNAUTHORIZED {
				t.Errorf("Identify with a revoked grant: code %q (%v), want %s", code, err, tandem.EUNAUTHORIZED)
			}
			if calls := e.callsSince(n); len(calls) != 1 || calls[0].Token != old.Token.AccessToken {
				t.Errorf("API calls %+v, want only the refused one", calls)
			}
			if !e.stored(t, "UALICE").NeedsReconnect {
				t.Error("the link was not marked needs reconnect")
			}
			e.mu.Lock()
			defer e.mu.Unlock()
			if len(e.dead) != 1 || e.dead[0].User != "UALICE" || e.dead[0].Login != old.Login {
				t.Errorf("OnNeedsReconnect got %+v, want alice's link once", e.dead)
			}
			if len(e.refreshed) != 1 || e.refreshed[0] == nil {
				t.Errorf("OnRefresh got %v, want one refused refresh", e.refreshed)
			}
		})
	}
}

// TestEarlyExpiryRetriesAPostOnce: a GitLab note is a POST with a body; the
// retry sends the same body with the renewed token and the note is made
// exactly once, by alice.
func TestEarlyExpiryRetriesAPostOnce(t *testing.T) {
	fake := startGitLabFake(t)
	iid := fake.gitlab.AddIssue("acme/widgets", "bob", "Please look", "alice")
	e := newRenewEnv(t, fake, openFlowStore(t), nil)
	old := e.link(t, "UALICE", fake.alice)
	client := e.client(t, e.tokens, "UALICE")
	fake.expire(fake.alice)
	n := len(fake.calls())

	p := fake.prov.(*gitlab.Provider)
	if _, err := p.Comment(t.Context(), client, "", fmt.Sprintf("acme/widgets#%d", iid), "On it."); err != nil {
		t.Fatalf("Comment after the provider expired the token early: %v", err)
	}
	want := []fakegitlab.Note{{Project: "acme/widgets", Noteable: "Issue", IID: iid, AuthorLogin: "alice", Body: "On it."}}
	if diff := cmp.Diff(fake.gitlab.Notes(), want); diff != "" {
		t.Errorf("notes (-got +want):\n%s", diff)
	}
	var posts []apiCall
	for _, c := range e.callsSince(n) {
		if c.Method == http.MethodPost {
			posts = append(posts, c)
		}
	}
	renewed := e.stored(t, "UALICE").Token.AccessToken
	if len(posts) != 2 || posts[0].Token != old.Token.AccessToken || posts[1].Token != renewed ||
		posts[0].Login != "alice" || posts[1].Login != "alice" {
		t.Fatalf("POSTs %+v; want the old token's, then the renewed %q's, both alice's", posts, renewed)
	}
	if posts[0].Body != posts[1].Body || !strings.Contains(posts[1].Body, "On it.") {
		t.Errorf("the retry sent body %q, the original %q", posts[1].Body, posts[0].Body)
	}
}

// onceReader is a request body that cannot be read again: a request with
// it has no GetBody.
type onceReader struct{ r io.Reader }

func (o *onceReader) Read(p []byte) (int, error) { return o.r.Read(p) }

// TestEarlyExpiryWithABodyThatCannotBeResent: without GetBody the request
// cannot be sent again; the 401 marks the link as it always did.
func TestEarlyExpiryWithABodyThatCannotBeResent(t *testing.T) {
	fake := startGitLabFake(t)
	iid := fake.gitlab.AddIssue("acme/widgets", "bob", "Please look", "alice")
	e := newRenewEnv(t, fake, openFlowStore(t), nil)
	e.link(t, "UALICE", fake.alice)
	client := e.client(t, e.tokens, "UALICE")
	fake.expire(fake.alice)
	n := len(fake.calls())

	u := fmt.Sprintf("%s/api/v4/projects/acme%%2Fwidgets/issues/%d/notes", fake.gitlab.URL(), iid)
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, u, &onceReader{strings.NewReader(`{"body":"On it."}`)})
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("status %d, want the provider's 401", resp.StatusCode)
	}
	if calls := e.callsSince(n); len(calls) != 1 {
		t.Errorf("API calls %+v, want the one refused", calls)
	}
	if got := fake.gitlab.Notes(); len(got) != 0 {
		t.Errorf("notes %+v, want none", got)
	}
	if dead, refreshes := e.counts(); dead != 1 || refreshes != 0 || !e.stored(t, "UALICE").NeedsReconnect {
		t.Errorf("OnNeedsReconnect %d, OnRefresh %d, marked %v; want 1, 0, marked", dead, refreshes, e.stored(t, "UALICE").NeedsReconnect)
	}
}

// afterFirst401 is a transport beneath Tokens that runs then once, after
// the first 401 an API call received and before Tokens sees it: the moment
// between a refused request and its retry.
type afterFirst401 struct {
	base http.RoundTripper
	once sync.Once
	then func()
}

func (a *afterFirst401) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := a.base.RoundTrip(req)
	if err == nil && resp.StatusCode == http.StatusUnauthorized {
		a.once.Do(a.then)
	}
	return resp, err
}

// TestRelinkToAnotherAccountBeforeTheRetry: alice's token is refused, and
// before the retry the same Slack user relinks GitLab as bob. The turn
// started as alice: no request goes out with bob's token, the turn stops
// as relinked (as one whose expired token meets a relink does), and bob's
// new link is not marked.
func TestRelinkToAnotherAccountBeforeTheRetry(t *testing.T) {
	fake := startGitLabFake(t)
	hook := &afterFirst401{base: http.DefaultTransport}
	e := newRenewEnv(t, fake, openFlowStore(t), hook)
	e.link(t, "UALICE", fake.alice)
	client := e.client(t, e.tokens, "UALICE")
	bob := e.newLink(t, "UALICE", fake.bob)
	relinked := false
	hook.then = func() { e.save(t, bob); relinked = true }
	fake.expire(fake.alice)
	n := len(fake.calls())

	_, err := fake.prov.Identify(t.Context(), client)
	if code := tandem.ErrorCode(err); code != tandem.ECONFLICT || !strings.Contains(err.Error(), "changed to another account") {
		t.Errorf("Identify: code %q (%v), want the turn stopped as relinked (%s)", code, err, tandem.ECONFLICT)
	}
	if !relinked {
		t.Fatal("the relink did not happen")
	}
	for _, c := range e.callsSince(n) {
		if c.Token == bob.Token.AccessToken || c.Login == "bob" {
			t.Errorf("a call of alice's turn went out as bob: %+v", c)
		}
	}
	if calls := e.callsSince(n); len(calls) != 1 {
		t.Errorf("API calls %+v, want only the refused one", calls)
	}
	if got := e.stored(t, "UALICE"); got.NeedsReconnect || got.Login != "bob" {
		t.Errorf("stored link: %s, needs reconnect %v; want bob's, healthy", got.Login, got.NeedsReconnect)
	}
	if dead, refreshes := e.counts(); dead != 0 || refreshes != 0 {
		t.Errorf("OnNeedsReconnect %d, OnRefresh %d; want neither", dead, refreshes)
	}
	if fake.refreshes("alice") != 0 || fake.refreshes("bob") != 0 {
		t.Errorf("refreshes at the provider: alice %d, bob %d; want none", fake.refreshes("alice"), fake.refreshes("bob"))
	}
}

// TestRelinkOfTheSameAccountBeforeTheRetry: alice reconnects the same
// account between the refusal and the retry; the retry uses the token she
// just linked, without spending a refresh token.
func TestRelinkOfTheSameAccountBeforeTheRetry(t *testing.T) {
	fake := startGitLabFake(t)
	hook := &afterFirst401{base: http.DefaultTransport}
	e := newRenewEnv(t, fake, openFlowStore(t), hook)
	e.link(t, "UALICE", fake.alice)
	client := e.client(t, e.tokens, "UALICE")
	fake.expire(fake.alice)
	relinked := e.newLink(t, "UALICE", fake.alice)
	hook.then = func() { e.save(t, relinked) }
	n := len(fake.calls())

	if _, err := fake.prov.Identify(t.Context(), client); err != nil {
		t.Fatal(err)
	}
	calls := e.callsSince(n)
	if len(calls) != 2 || calls[1].Token != relinked.Token.AccessToken || calls[1].Login != "alice" {
		t.Errorf("API calls %+v, want the refused one, then one with the relinked token", calls)
	}
	if dead, refreshes := e.counts(); dead != 0 || refreshes != 0 {
		t.Errorf("OnNeedsReconnect %d, OnRefresh %d; want neither", dead, refreshes)
	}
}

// TestRefusedAfterRenewalNeedsReconnect: the provider refuses the renewed
// token too; the link is marked once, and the request was sent twice only.
func TestRefusedAfterRenewalNeedsReconnect(t *testing.T) {
	fake := startGitLabFake(t)
	hook := &refuseAll{base: http.DefaultTransport}
	e := newRenewEnv(t, fake, openFlowStore(t), hook)
	e.link(t, "UALICE", fake.alice)
	client := e.client(t, e.tokens, "UALICE")
	n := len(fake.calls())

	_, err := fake.prov.Identify(t.Context(), client)
	if code := tandem.ErrorCode(err); code != tandem.EUNAUTHORIZED {
		t.Errorf("Identify: code %q (%v), want %s", code, err, tandem.EUNAUTHORIZED)
	}
	stored := e.stored(t, "UALICE")
	calls := e.callsSince(n)
	if len(calls) != 2 || calls[1].Token != stored.Token.AccessToken {
		t.Errorf("API calls %+v, want two, the second with the renewed token", calls)
	}
	if dead, refreshes := e.counts(); dead != 1 || refreshes != 1 || !stored.NeedsReconnect {
		t.Errorf("OnNeedsReconnect %d, OnRefresh %d, marked %v; want 1, 1, marked", dead, refreshes, stored.NeedsReconnect)
	}
}

// linkStores opens each real store, empty: bbolt in a temporary file, and
// PostgreSQL in a schema of its own (skipped without
// TANDEM_TEST_DATABASE_URL).
var linkStores = map[string]func(*testing.T) linkStore{
	"bbolt": func(t *testing.T) linkStore { return openFlowStore(t) },
	"postgres": func(t *testing.T) linkStore {
		url := pgtest.URL(t)
		key, _ := secrets.GenerateKey()
		keys, _ := secrets.NewKeyring(key)
		db, err := postgres.Open(t.Context(), url, postgres.Options{Keyring: keys})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return db
	},
}

// refuseAll turns every API answer into a 401, as a provider that refuses
// an account whatever its token.
type refuseAll struct{ base http.RoundTripper }

func (r *refuseAll) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := r.base.RoundTrip(req)
	if err != nil || !strings.Contains(req.URL.Path, "/api/") {
		return resp, err
	}
	resp.Body.Close()
	return &http.Response{StatusCode: http.StatusUnauthorized, Status: "401 Unauthorized", Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header:  http.Header{"Content-Type": {"application/json"}},
		Body:    io.NopCloser(strings.NewReader(`{"message":"401 Unauthorized"}`)),
		Request: req}, nil
}

// TestEarlyExpiryStormRefreshesOnce: many turns on two replicas sharing a
// store are refused the same early-expired token at once; one refresh
// serves them all (GitLab rotates refresh tokens, so a second refresh with
// the spent one would be refused and mark the link).
func TestEarlyExpiryStormRefreshesOnce(t *testing.T) {
	for name, open := range linkStores {
		t.Run(name, func(t *testing.T) {
			fake := startGitLabFake(t)
			e := newRenewEnv(t, fake, open(t), nil)
			old := e.link(t, "UALICE", fake.alice)
			replicas := []*integrations.Tokens{e.tokens, e.replica()}
			var clients []*http.Client
			for i := 0; i < 16; i++ {
				clients = append(clients, e.client(t, replicas[i%2], "UALICE"))
			}
			fake.expire(fake.alice)

			var wg sync.WaitGroup
			errs := make([]error, len(clients))
			for i, c := range clients {
				wg.Add(1)
				go func() {
					defer wg.Done()
					_, errs[i] = fake.prov.Identify(t.Context(), c)
				}()
			}
			wg.Wait()
			if err := errors.Join(errs...); err != nil {
				t.Errorf("turns failed: %v", err)
			}
			if got := fake.refreshes(fake.alice); got != 1 {
				t.Errorf("%d refreshes at the provider, want 1", got)
			}
			stored := e.stored(t, "UALICE")
			if stored.NeedsReconnect || stored.Token.AccessToken == old.Token.AccessToken {
				t.Errorf("stored link: needs reconnect %v, token renewed %v", stored.NeedsReconnect, stored.Token.AccessToken != old.Token.AccessToken)
			}
			if dead, _ := e.counts(); dead != 0 {
				t.Errorf("OnNeedsReconnect called %d times", dead)
			}
		})
	}
}

// TestRelinkToAnotherAccountBeforeAnExpiryRefresh: alice's turn holds her
// GitLab credentials; her token is past its recorded expiry, and before
// the turn's first call she relinks GitLab as bob. The refresh the call
// needs must not hand the turn bob's token: the turn started as alice, so
// it fails with ECONFLICT and nothing reaches GitLab as bob.
func TestRelinkToAnotherAccountBeforeAnExpiryRefresh(t *testing.T) {
	fake := startGitLabFake(t)
	e := newRenewEnv(t, fake, openFlowStore(t), nil)
	alice, creds := e.expiredTurn(t)
	if creds.Identity.Login != alice.Login {
		t.Fatalf("the turn resolved %s, want alice's %s", creds.Identity.Login, alice.Login)
	}
	bob := e.link(t, "UALICE", fake.bob)
	n := len(fake.calls())

	_, err := fake.prov.Identify(t.Context(), creds.Client)
	if code := tandem.ErrorCode(err); code != tandem.ECONFLICT {
		t.Errorf("Identify: code %q (%v), want %s", code, err, tandem.ECONFLICT)
	}
	for _, c := range e.callsSince(n) {
		if c.Token == bob.Token.AccessToken || c.Login == "bob" {
			t.Errorf("a call of alice's turn went out as bob: %+v", c)
		}
	}
	if got := e.stored(t, "UALICE"); got.NeedsReconnect || got.Login != bob.Login {
		t.Errorf("stored link: %s, needs reconnect %v; want bob's, healthy", got.Login, got.NeedsReconnect)
	}
}
