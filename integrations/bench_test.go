package integrations_test

// Refresh storm (issue 7, "Performance"): many turns of the same people
// arrive at once while their access tokens are expired. Tokens must refresh
// each person's token exactly once (GitHub App refresh tokens rotate: a
// second refresh with the same refresh token kills the grant), and every turn
// must then succeed with the fresh token.
//
//	go test ./integrations -run TestRefreshStorm -count=1
//	go test ./integrations -run '^$' -bench BenchmarkRefreshStorm -count=3

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tandembot/tandem"
	"github.com/tandembot/tandem/integrations"
	"github.com/tandembot/tandem/integrations/github"
	"github.com/tandembot/tandem/internal/fakegithub"
	"github.com/tandembot/tandem/internal/paced"
	"github.com/tandembot/tandem/secrets"
	"github.com/tandembot/tandem/store"
)

const (
	stormUsers = 20  // people whose tokens are expired
	stormTurns = 200 // concurrent turns, spread evenly over them
	stormTeam  = "T0STORM"
)

// stormStore is the bbolt store, counting the writes Tokens makes.
type stormStore struct {
	*store.DB
	leases, releases, swaps atomic.Int64
}

func (s *stormStore) Lease(ctx context.Context, name, owner string, ttl time.Duration) (bool, error) {
	s.leases.Add(1)
	return s.DB.Lease(ctx, name, owner, ttl)
}

func (s *stormStore) ReleaseLease(ctx context.Context, name, owner string) error {
	s.releases.Add(1)
	return s.DB.ReleaseLease(ctx, name, owner)
}

func (s *stormStore) SwapToken(ctx context.Context, team, user string, provider tandem.ProviderID, oldRefresh string, tok tandem.Token) error {
	s.swaps.Add(1)
	return s.DB.SwapToken(ctx, team, user, provider, oldRefresh, tok)
}

// writes returns the write transactions counted so far.
func (s *stormStore) writes() int64 { return s.leases.Load() + s.releases.Load() + s.swaps.Load() }

// stormEnv is Tokens over a real bbolt store and a fake GitHub that issues
// expiring, rotating tokens (GitHub App user tokens).
type stormEnv struct {
	gh     *fakegithub.Server
	db     *stormStore
	prov   *github.Provider
	tokens *integrations.Tokens

	mu        sync.Mutex
	refreshes int // OnRefresh calls
	failed    int // OnRefresh calls with an error

	expired map[string]string // the access token expireAll stored, by login
}

func stormLogin(i int) string { return fmt.Sprintf("storm%02d-gh", i) }
func stormSlack(i int) string { return fmt.Sprintf("USTORM%02d", i) }

func newStormEnv(tb testing.TB) *stormEnv {
	tb.Helper()
	var users []fakegithub.User
	for i := range stormUsers {
		users = append(users, fakegithub.User{Login: stormLogin(i)})
	}
	gh := fakegithub.New(fakegithub.Options{
		ClientID: "storm-client", ClientSecret: "storm-secret",
		Users: users, Expiring: true, NoRateLimit: true,
	})
	if err := gh.Start(); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(gh.Close)
	for i := range stormUsers {
		gh.AddRepo(stormLogin(i) + "/tools")
		gh.AddPullRequest(stormLogin(i)+"/tools", stormLogin(i), "Storm PR", false)
	}
	key, err := secrets.GenerateKey()
	if err != nil {
		tb.Fatal(err)
	}
	keys, err := secrets.NewKeyring(key)
	if err != nil {
		tb.Fatal(err)
	}
	db, err := store.Open(filepath.Join(tb.TempDir(), "storm.db"), store.Options{Keyring: keys})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	cfg, err := github.ConfigFromBase(gh.URL())
	if err != nil {
		tb.Fatal(err)
	}
	cfg.ClientID, cfg.ClientSecret = "storm-client", "storm-secret"
	prov := github.New(cfg)
	e := &stormEnv{gh: gh, db: &stormStore{DB: db}, prov: prov}
	e.tokens = &integrations.Tokens{
		Store:     e.db,
		Providers: map[tandem.ProviderID]tandem.Provider{tandem.GitHub: prov},
		OnRefresh: func(_ tandem.ProviderID, err error) {
			e.mu.Lock()
			defer e.mu.Unlock()
			e.refreshes++
			if err != nil {
				e.failed++
			}
		},
	}
	return e
}

// expireAll links every storm user with a freshly minted token pair whose
// access token is already expired, at the fake and in the store.
func (e *stormEnv) expireAll(tb testing.TB) {
	tb.Helper()
	ctx := context.Background()
	e.expired = map[string]string{}
	for i := range stormUsers {
		tok, err := e.gh.MintToken(stormLogin(i))
		if err != nil {
			tb.Fatal(err)
		}
		if tok.RefreshToken == "" {
			tb.Fatal("the fake GitHub issued no refresh token (Expiring mode is off)")
		}
		e.gh.ExpireAccessTokens(stormLogin(i))
		e.expired[stormLogin(i)] = tok.AccessToken
		l := tandem.Link{
			Team: stormTeam, User: stormSlack(i), Provider: tandem.GitHub,
			AccountID: stormLogin(i), Login: stormLogin(i), LinkedAt: time.Now(),
			Token: tandem.Token{AccessToken: tok.AccessToken, RefreshToken: tok.RefreshToken,
				TokenType: tok.TokenType, Expiry: time.Now().Add(-time.Minute)},
		}
		if err := e.db.SaveLink(ctx, l); err != nil {
			tb.Fatal(err)
		}
	}
	e.mu.Lock()
	e.refreshes, e.failed = 0, 0
	e.mu.Unlock()
	e.db.leases.Store(0)
	e.db.releases.Store(0)
	e.db.swaps.Store(0)
}

// refreshCounts returns the fake's refresh count per storm login.
func (e *stormEnv) refreshCounts() []int {
	out := make([]int, stormUsers)
	for i := range stormUsers {
		out[i] = e.gh.RefreshCount(stormLogin(i))
	}
	return out
}

// storm runs stormTurns turns at once, turn i as storm user i%stormUsers:
// each resolves its credentials and lists the user's open pull requests, as
// the "list my open PRs" turn does. It returns each turn's error and
// duration.
func (e *stormEnv) storm(ctx context.Context) ([]error, []time.Duration) {
	errs := make([]error, stormTurns)
	took := make([]time.Duration, stormTurns)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range stormTurns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			u := i % stormUsers
			<-start
			began := time.Now()
			defer func() { took[i] = time.Since(began) }()
			creds, err := e.tokens.Credentials(ctx, stormTeam, stormSlack(u), tandem.GitHub, tandem.ReasonSender)
			if err != nil {
				errs[i] = err
				return
			}
			if creds.Identity.Login != stormLogin(u) {
				errs[i] = fmt.Errorf("turn of %s resolved %s's identity", stormSlack(u), creds.Identity.Login)
				return
			}
			prs, _, err := e.prov.OpenPullRequests(ctx, creds.Client, stormLogin(u), 5)
			if err == nil && len(prs) != 1 {
				err = fmt.Errorf("%s sees %d pull requests, want 1", stormLogin(u), len(prs))
			}
			errs[i] = err
		}()
	}
	close(start)
	wg.Wait()
	return errs, took
}

// TestRefreshStorm: 200 concurrent turns across 20 people whose access
// tokens expired make exactly 20 refreshes, one per person, and every turn
// succeeds with its own person's fresh token: each request the fake GitHub
// received carried the access token that person's refresh issued, never
// another person's, the expired one or a refreshed-away one. It asserts
// counts and tokens, never time.
func TestRefreshStorm(t *testing.T) {
	e := newStormEnv(t)
	e.expireAll(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	errs, _ := e.storm(ctx)
	for i, err := range errs {
		if err != nil {
			t.Errorf("turn %d (%s): %v", i, stormSlack(i%stormUsers), err)
		}
	}
	counts := e.refreshCounts()
	total := 0
	for i, n := range counts {
		total += n
		if n != 1 {
			t.Errorf("%s was refreshed %d times, want exactly 1", stormLogin(i), n)
		}
	}
	if total != stormUsers {
		t.Errorf("%d refreshes at the fake GitHub for %d people, want exactly %d", total, stormUsers, stormUsers)
	}
	if n := e.db.swaps.Load(); n != stormUsers {
		t.Errorf("%d tokens saved (SwapToken), want exactly %d", n, stormUsers)
	}
	t.Logf("store writes during the storm: %d leases, %d releases, %d token swaps", e.db.leases.Load(), e.db.releases.Load(), e.db.swaps.Load())
	if e.refreshes != stormUsers || e.failed != 0 {
		t.Errorf("Tokens attempted %d refreshes (%d failed), want %d (0 failed)", e.refreshes, e.failed, stormUsers)
	}
	// The store holds the rotated pair: the one each person's single
	// refresh issued.
	issued := map[string]string{} // the access token of each refresh, by login
	for i := range stormUsers {
		l, err := e.db.Link(ctx, stormTeam, stormSlack(i), tandem.GitHub)
		if err != nil {
			t.Fatal(err)
		}
		if l.NeedsReconnect || !l.Token.Expiry.After(time.Now()) || e.gh.Revoked(l.Token.RefreshToken) {
			t.Errorf("%s's stored token after the storm: needs reconnect %v, expiry %v, refresh token revoked %v",
				stormLogin(i), l.NeedsReconnect, l.Token.Expiry, e.gh.Revoked(l.Token.RefreshToken))
		}
		issued[stormLogin(i)] = l.Token.AccessToken
	}
	// Every request the fake GitHub received carried the access token the
	// refresh of the person whose turn sent it issued: the fake names that
	// person as the token's owner and still honours it. A person's
	// refresh revoked the pair it replaced, and nothing else issued tokens
	// during the storm, so the only live access token the fake holds for
	// the person is the refresh's one; it must also be the one stored. A
	// search asks for the token's own account (author:@me), so the person
	// is the token's: each person's count of searches says that no turn
	// went out with another person's token.
	searches := map[string]int{}
	for _, r := range e.gh.Requests() {
		if r.Path != "/search/issues" {
			t.Errorf("the fake GitHub saw %s %s; a turn only searches", r.Method, r.Path)
			continue
		}
		if q := r.Query.Get("q"); !strings.Contains(q, "author:@me") {
			t.Errorf("a turn's search %q does not ask for its token's own account", q)
		}
		person := r.Login
		searches[person]++
		switch {
		case r.Token == "":
			t.Errorf("a search of a turn carried no token")
		case r.Login == "":
			t.Errorf("a search of a turn carried a token the fake never issued")
		case r.Token == e.expired[person]:
			t.Errorf("a search for %s's turn carried the expired token the refresh replaced", person)
		case e.gh.Revoked(r.Token):
			t.Errorf("a search for %s's turn carried a revoked (refreshed away) token", person)
		case r.Token != issued[person]:
			t.Errorf("a search for %s's turn carried a live token of theirs other than the one their refresh issued and the store holds", person)
		}
	}
	total = 0
	for i := range stormUsers {
		n := searches[stormLogin(i)]
		total += n
		if want := stormTurns / stormUsers; n != want {
			t.Errorf("the fake GitHub saw %d searches for %s's turns, want %d", n, stormLogin(i), want)
		}
	}
	if total != stormTurns {
		t.Errorf("the fake GitHub saw %d searches for the storm's people (%d in all), want %d", total, len(e.gh.Requests()), stormTurns)
	}
}

// BenchmarkRefreshStorm measures one storm: from 200 turns released at once
// to the last one's answer, including the 20 refreshes (each a token request,
// a refresh lease and a fsync'ed compare-and-swap in bbolt). ns/op is one
// whole storm; store-writes/storm counts the write transactions Tokens made
// (lease, release, swap).
func BenchmarkRefreshStorm(b *testing.B) {
	e := newStormEnv(b)
	ctx := context.Background()
	var turnLat []time.Duration
	var stormDur []time.Duration
	var writes int64
	before := e.refreshCounts()
	for b.Loop() {
		b.StopTimer()
		e.expireAll(b)
		b.StartTimer()
		began := time.Now()
		errs, took := e.storm(ctx)
		stormDur = append(stormDur, time.Since(began))
		b.StopTimer()
		for _, err := range errs {
			if err != nil {
				b.Fatal(err)
			}
		}
		turnLat = append(turnLat, took...)
		writes += e.db.writes()
		b.StartTimer()
	}
	after := e.refreshCounts()
	refreshes := 0
	for i := range after {
		refreshes += after[i] - before[i]
	}
	n := float64(len(stormDur))
	b.ReportMetric(float64(refreshes)/n, "refreshes/storm")
	b.ReportMetric(float64(writes)/n, "store-writes/storm")
	b.ReportMetric(paced.Pct(stormDur, 50), "storm-p50-ms")
	b.ReportMetric(paced.Pct(turnLat, 50), "turn-p50-ms")
	b.ReportMetric(paced.Pct(turnLat, 99), "turn-p99-ms")
	b.ReportMetric(paced.Pct(turnLat, 100), "turn-max-ms")
	b.ReportMetric(float64(stormTurns)/(paced.Pct(stormDur, 50)/1000), "turns/s")
}
