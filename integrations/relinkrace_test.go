package integrations_test

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tandembot/tandem"
	"github.com/tandembot/tandem/integrations"
)

// atRefresh runs then once, as the first request to a token endpoint
// leaves: what another replica does while a refresh is at the provider.
type atRefresh struct {
	base http.RoundTripper
	once sync.Once
	then func()
}

func (a *atRefresh) RoundTrip(req *http.Request) (*http.Response, error) {
	if strings.HasSuffix(req.URL.Path, "/oauth/token") && a.then != nil {
		a.once.Do(a.then)
	}
	return a.base.RoundTrip(req)
}

// A turn whose token must be refreshed never goes on with the token of an
// account its person linked instead while the refresh was at the
// provider (the connect flow on another replica takes no refresh lease):
// whether the refresh then loses its swap to the relink, or is refused
// because the old grant was revoked too, the turn fails as relinked and
// no request leaves with the new account's token.
func TestRelinkDuringARefreshIsNotUsed(t *testing.T) {
	for _, revoked := range []bool{false, true} {
		fake := startGitLabFake(t)
		hook := &atRefresh{base: http.DefaultTransport}
		e := newRenewEnv(t, fake, openFlowStore(t), hook)
		_, creds := e.expiredTurn(t)
		other := e.newLink(t, "UALICE", fake.bob) // the same person's second account
		relinked := false
		hook.then = func() {
			if revoked {
				fake.revoke(fake.alice)
			}
			e.save(t, other)
			relinked = true
		}
		n := len(fake.calls())
		_, err := fake.prov.Identify(t.Context(), creds.Client)
		if !relinked {
			t.Fatalf("revoked %v: the refresh never reached the provider", revoked)
		}
		if code := tandem.ErrorCode(err); code != tandem.ECONFLICT || !strings.Contains(err.Error(), "changed to another account") {
			t.Errorf("revoked %v: Identify = %v (code %q); want the turn stopped as relinked (%s)", revoked, err, code, tandem.ECONFLICT)
		}
		for _, c := range e.callsSince(n) {
			if c.Token == other.Token.AccessToken {
				t.Errorf("revoked %v: a request of the turn that started as %s left with the new account's token: %+v", revoked, creds.Identity.Login, c)
			}
		}
	}
}

// afterRead runs then once, after the first link read: what another
// replica does between a read and the write that follows it.
type afterRead struct {
	integrations.TokenStore
	once sync.Once
	then func()
}

func (a *afterRead) Link(ctx context.Context, team, user string, p tandem.ProviderID) (tandem.Link, error) {
	l, err := a.TokenStore.Link(ctx, team, user, p)
	a.once.Do(a.then)
	return l, err
}

// Choosing a Jira site on one replica while the person disconnects, or
// relinks another account, on another never brings back the link it read.
func TestChooseSiteNeverUndoesADisconnectOrRelink(t *testing.T) {
	jira := tandem.ProviderID("jira")
	link := func(account, login, token string) tandem.Link {
		return tandem.Link{Team: "T1", User: "UALICE", Provider: jira, AccountID: account, Login: login,
			Site: "s1", SiteName: "One", Sites: []tandem.Site{{ID: "s1", Name: "One"}, {ID: "s2", Name: "Two"}},
			LinkedAt: time.Now(), Token: tandem.Token{AccessToken: token, RefreshToken: "rt-" + token, Expiry: time.Now().Add(time.Hour)}}
	}
	for _, c := range []struct {
		name string
		then func(t *testing.T, db linkStore, b *integrations.Tokens)
		want func(t *testing.T, got tandem.Link, err error)
	}{
		{"disconnect", func(t *testing.T, db linkStore, b *integrations.Tokens) {
			if _, err := b.Disconnect(context.Background(), "T1", "UALICE", jira); err != nil {
				t.Errorf("disconnect: %v", err)
			}
		}, func(t *testing.T, got tandem.Link, err error) {
			if err == nil {
				t.Errorf("the link the person disconnected is back: %s, site %s", got.Login, got.Site)
			}
		}},
		{"relink", func(t *testing.T, db linkStore, b *integrations.Tokens) {
			if err := db.SaveLink(context.Background(), link("acc-2", "alice2", "FAKE-at-alice2")); err != nil {
				t.Errorf("relink: %v", err)
			}
		}, func(t *testing.T, got tandem.Link, err error) {
			if err != nil || got.AccountID != "acc-2" || got.Token.AccessToken != "FAKE-at-alice2" || got.Site != "s1" {
				t.Errorf("after the relink the link is %s (%s, site %s), %v; want the new account as linked", got.Login, got.AccountID, got.Site, err)
			}
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			db := openFlowStore(t)
			if err := db.SaveLink(t.Context(), link("acc-1", "alice", "FAKE-at-alice")); err != nil {
				t.Fatal(err)
			}
			other := &integrations.Tokens{Store: db}
			hooked := &afterRead{TokenStore: db, then: func() { c.then(t, db, other) }}
			_, err := (&integrations.Tokens{Store: hooked}).ChooseSite(t.Context(), "T1", "UALICE", jira, "s2")
			if tandem.ErrorCode(err) != tandem.ENOTFOUND {
				t.Errorf("ChooseSite = %v; want ENOTFOUND (the link it read is gone)", err)
			}
			got, err := db.Link(t.Context(), "T1", "UALICE", jira)
			c.want(t, got, err)
		})
	}
	// Without a race, the site is chosen and nothing else changes.
	db := openFlowStore(t)
	before := link("acc-1", "alice", "FAKE-at-alice")
	if err := db.SaveLink(t.Context(), before); err != nil {
		t.Fatal(err)
	}
	if _, err := (&integrations.Tokens{Store: db}).ChooseSite(t.Context(), "T1", "UALICE", jira, "s2"); err != nil {
		t.Fatal(err)
	}
	got, err := db.Link(t.Context(), "T1", "UALICE", jira)
	if err != nil || got.Site != "s2" || got.SiteName != "Two" || got.Token.AccessToken != before.Token.AccessToken || got.AccountID != "acc-1" {
		t.Errorf("after choosing s2: %+v, %v", got, err)
	}
}
