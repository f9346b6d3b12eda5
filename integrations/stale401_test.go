package integrations_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tandembot/tandem"
	"github.com/tandembot/tandem/integrations"
	"github.com/tandembot/tandem/integrations/github"
)

// TestStaleTokens401LeavesANewerLink: a turn that still holds the token of
// an earlier link gets a 401 for it after the person relinked; the newer
// link must not be marked "needs reconnect". The same 401 for the token
// stored now does mark it.
func TestStaleTokens401LeavesANewerLink(t *testing.T) {
	for _, relinked := range []bool{true, false} {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/revoked" {
				http.Error(w, `{"message":"Bad credentials"}`, http.StatusUnauthorized)
				return
			}
			w.Write([]byte("{}"))
		}))
		t.Cleanup(srv.Close)
		cfg, err := github.ConfigFromBase(srv.URL)
		if err != nil {
			t.Fatal(err)
		}
		old := tandem.Link{Team: "T1", User: "U1", Provider: tandem.GitHub, Login: "octo", AccountID: "1",
			Token: tandem.Token{AccessToken: "gho_FAKE_old_link_token", TokenType: "bearer"}}
		store := &memStore{link: old}
		dead := 0
		tokens := &integrations.Tokens{Store: store, Providers: map[tandem.ProviderID]tandem.Provider{tandem.GitHub: github.New(cfg)},
			HTTPClient: srv.Client(), OnNeedsReconnect: func(context.Context, tandem.Link) { dead++ }}
		creds, err := tokens.Credentials(context.Background(), "T1", "U1", tandem.GitHub, tandem.ReasonPersistentOwner)
		if err != nil {
			t.Fatal(err)
		}
		get := func(path string) error {
			resp, err := creds.Client.Get(srv.URL + path)
			if err != nil {
				return err
			}
			resp.Body.Close()
			return nil
		}
		if err := get("/user"); err != nil { // the turn now holds the old token
			t.Fatal(err)
		}
		if relinked {
			newer := old
			newer.Login, newer.AccountID = "octo2", "2"
			newer.Token = tandem.Token{AccessToken: "gho_FAKE_new_link_token", TokenType: "bearer"}
			store.SaveLink(context.Background(), newer)
		}
		err = get("/revoked")
		// The turn started as the old account: after a relink it stops
		// (ECONFLICT) rather than going on as the new one.
		if code := tandem.ErrorCode(err); relinked && code != tandem.ECONFLICT || !relinked && err != nil {
			t.Errorf("relinked %v: the 401's request failed with %v (code %q)", relinked, err, code)
		}
		store.mu.Lock()
		marked := store.link.NeedsReconnect
		store.mu.Unlock()
		if relinked && (marked || dead != 0) {
			t.Errorf("a 401 for the replaced token marked the new link (marked %v, owner told %d times)", marked, dead)
		}
		if !relinked && (!marked || dead != 1) {
			t.Errorf("a 401 for the stored token: marked %v, owner told %d times; want marked, told once", marked, dead)
		}
	}
}

// relinkAtMark saves newer, once, as Tokens reaches the store to flag the
// link: the connect flow on another replica, which takes neither the
// link's lock nor its refresh lease, finishing after whatever Tokens read
// of the link and before its write. With newer zero it saves nothing.
type relinkAtMark struct {
	linkStore
	newer   tandem.Link
	once    sync.Once
	reached bool
	saved   error // the relink's SaveLink
}

func (r *relinkAtMark) MarkNeedsReconnect(ctx context.Context, team, user string, p tandem.ProviderID, refused tandem.Token) (bool, error) {
	r.once.Do(func() {
		r.reached = true
		if r.newer.User != "" {
			r.saved = r.linkStore.SaveLink(ctx, r.newer)
		}
	})
	return r.linkStore.MarkNeedsReconnect(ctx, team, user, p, refused)
}

// TestRelinkWhileARefusalIsMarked: GitLab refuses alice's token for good
// (a 401 to a link without a refresh token, or a refresh of a revoked
// grant), and as Tokens flags her link she connects GitLab again on
// another replica. Her fresh link must not read "expired or revoked", nor
// must she be told to reconnect it: only the token stored now marks a
// link. Without the relink the same refusal marks it, and tells her once.
func TestRelinkWhileARefusalIsMarked(t *testing.T) {
	for name, open := range linkStores {
		for _, refusal := range []string{"401 without a refresh token", "refresh refused"} {
			for _, relink := range []bool{true, false} {
				t.Run(fmt.Sprintf("%s/%s/relink=%v", name, refusal, relink), func(t *testing.T) {
					fake := startGitLabFake(t)
					db := &relinkAtMark{linkStore: open(t)}
					e := newRenewEnv(t, fake, db, nil)
					old := e.newLink(t, "UALICE", fake.alice)
					if refusal == "401 without a refresh token" {
						old.Token.RefreshToken = ""
					}
					e.save(t, old)
					client := e.client(t, e.tokens, "UALICE")
					fake.expire(fake.alice)
					if refusal == "refresh refused" {
						fake.revoke(fake.alice)
					}
					if relink {
						db.newer = e.newLink(t, "UALICE", fake.alice)
					}

					_, err := fake.prov.Identify(t.Context(), client)
					if code := tandem.ErrorCode(err); code != tandem.EUNAUTHORIZED {
						t.Errorf("Identify with the refused token: code %q (%v), want %s", code, err, tandem.EUNAUTHORIZED)
					}
					if !db.reached || db.saved != nil {
						t.Fatalf("the refusal reached the store's MarkNeedsReconnect %v, the relink there failed with %v", db.reached, db.saved)
					}
					stored := e.stored(t, "UALICE")
					dead, _ := e.counts()
					switch {
					case relink && (stored.NeedsReconnect || dead != 0):
						t.Errorf("the old token's refusal marked the newer link: needs reconnect %v, owner told %d times", stored.NeedsReconnect, dead)
					case relink && stored.Token.AccessToken != db.newer.Token.AccessToken:
						t.Error("the stored link is not the newer one")
					case !relink && (!stored.NeedsReconnect || dead != 1):
						t.Errorf("the stored token's refusal: needs reconnect %v, owner told %d times; want marked, told once", stored.NeedsReconnect, dead)
					}
				})
			}
		}
	}
}

// disconnectAtSwap disconnects the link, once, as Tokens saves a refreshed
// token: a disconnect on another replica (which takes this replica's lock
// of the link no more than its refresh lease) landing while the refresh
// was out. It keeps the refreshed token it was given.
type disconnectAtSwap struct {
	linkStore
	once    sync.Once
	fresh   tandem.Token
	deleted error
}

func (d *disconnectAtSwap) SwapToken(ctx context.Context, team, user string, p tandem.ProviderID, oldRefresh string, tok tandem.Token) error {
	d.once.Do(func() {
		d.fresh = tok
		_, d.deleted = d.linkStore.DeleteLink(ctx, team, user, p)
	})
	return d.linkStore.SwapToken(ctx, team, user, p, oldRefresh, tok)
}

// TestDisconnectDuringARefreshEndsTheFreshGrant: alice disconnects GitLab
// while a turn of hers refreshes her token on another replica. Nothing
// stores the fresh token, and the turn stops as not connected; the fresh
// token is revoked at GitLab too, as the disconnect revoked the old one,
// so the grant she asked to end does not live on in a token nobody holds.
func TestDisconnectDuringARefreshEndsTheFreshGrant(t *testing.T) {
	for name, open := range linkStores {
		t.Run(name, func(t *testing.T) {
			fake := startGitLabFake(t)
			db := &disconnectAtSwap{linkStore: open(t)}
			e := newRenewEnv(t, fake, db, nil)
			e.save(t, e.newLink(t, "UALICE", fake.alice))
			client := e.client(t, e.tokens, "UALICE")
			fake.expire(fake.alice)
			_, err := fake.prov.Identify(t.Context(), client)
			var nc *tandem.NotConnectedError
			if !errors.As(err, &nc) {
				t.Errorf("the turn after the disconnect: %v; want not connected", err)
			}
			if db.deleted != nil || db.fresh.AccessToken == "" {
				t.Fatalf("the disconnect at the swap: %v, refreshed token seen %v", db.deleted, db.fresh.AccessToken != "")
			}
			if !fake.gitlab.Revoked(db.fresh.AccessToken) {
				t.Error("the refreshed token, which nothing stores, still works at GitLab after the disconnect")
			}
			if _, err := db.Link(t.Context(), "T1", "UALICE", tandem.GitLab); tandem.ErrorCode(err) != tandem.ENOTFOUND {
				t.Errorf("alice's link after the disconnect: %v; want none", err)
			}
		})
	}
}

// refreshAtDelete runs then, once, as Tokens asks the store to delete a
// link: a refresh on another replica landing just before the disconnect's
// delete.
type refreshAtDelete struct {
	linkStore
	once sync.Once
	then func()
}

func (r *refreshAtDelete) DeleteLink(ctx context.Context, team, user string, p tandem.ProviderID) (tandem.Link, error) {
	r.once.Do(r.then)
	return r.linkStore.DeleteLink(ctx, team, user, p)
}

// TestDisconnectWhileAnotherReplicaRefreshes: alice disconnects GitLab on
// one replica just as a turn of hers on another replica refreshes her
// expired token and saves the new one. The disconnect revokes the token
// it removed, the new one, so once it has returned her turn no longer
// acts as her (revoking the token it had read before would leave the new
// one working).
func TestDisconnectWhileAnotherReplicaRefreshes(t *testing.T) {
	for name, open := range linkStores {
		t.Run(name, func(t *testing.T) {
			fake := startGitLabFake(t)
			db := open(t)
			e := newRenewEnv(t, fake, db, nil)
			_, creds := e.expiredTurn(t) // the other replica's turn: its next call refreshes
			refreshes := fake.refreshes(fake.alice)
			disconnecting := &refreshAtDelete{linkStore: db, then: func() {
				if _, err := fake.prov.Identify(t.Context(), creds.Client); err != nil {
					t.Errorf("the other replica's turn before the disconnect: %v", err)
				}
			}}
			here := &integrations.Tokens{Store: disconnecting, Providers: e.tokens.Providers, HTTPClient: e.tokens.HTTPClient}
			if _, err := here.Disconnect(t.Context(), "T1", "UALICE", fake.prov.ID()); err != nil {
				t.Fatal(err)
			}
			if fake.refreshes(fake.alice) != refreshes+1 {
				t.Fatalf("the other replica refreshed %d times; want once", fake.refreshes(fake.alice)-refreshes)
			}
			if acct, err := fake.prov.Identify(t.Context(), creds.Client); err == nil {
				t.Errorf("after the disconnect, the other replica's turn still acts as %s", acct.Login)
			}
		})
	}
}

// ttlWatch keeps the ttl of each refresh lease its Tokens takes.
type ttlWatch struct {
	linkStore
	mu   sync.Mutex
	ttls []time.Duration
}

func (w *ttlWatch) Lease(ctx context.Context, name, owner string, ttl time.Duration) (bool, error) {
	if strings.HasPrefix(name, "refresh/") {
		w.mu.Lock()
		w.ttls = append(w.ttls, ttl)
		w.mu.Unlock()
	}
	return w.linkStore.Lease(ctx, name, owner, ttl)
}

// TestRefreshLeaseOutlastsASlowRefresh: a refresh may take as long as the
// HTTP client's timeout (TANDEM_PROVIDER_TIMEOUT); its lease lasts at
// least twice that, so that no other replica takes it and spends the same
// rotating refresh token while the first refresh is still out.
func TestRefreshLeaseOutlastsASlowRefresh(t *testing.T) {
	for _, timeout := range []time.Duration{10 * time.Second, 45 * time.Second} {
		fake := startGitLabFake(t)
		db := &ttlWatch{linkStore: openFlowStore(t)}
		e := newRenewEnv(t, fake, db, nil)
		e.tokens.HTTPClient = &http.Client{Timeout: timeout}
		_, creds := e.expiredTurn(t)
		if _, err := fake.prov.Identify(t.Context(), creds.Client); err != nil {
			t.Fatal(err)
		}
		db.mu.Lock()
		ttls := slices.Clone(db.ttls)
		db.mu.Unlock()
		if len(ttls) == 0 {
			t.Fatalf("timeout %s: no refresh lease was taken", timeout)
		}
		for _, ttl := range ttls {
			if ttl < 2*timeout || ttl < 30*time.Second {
				t.Errorf("timeout %s: a refresh lease of %s; want at least %s", timeout, ttl, max(2*timeout, 30*time.Second))
			}
		}
	}
}
