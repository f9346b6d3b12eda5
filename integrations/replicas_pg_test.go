package integrations_test

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/tandembot/tandem"
	"github.com/tandembot/tandem/integrations"
	"github.com/tandembot/tandem/integrations/github"
	"github.com/tandembot/tandem/internal/fakegithub"
	"github.com/tandembot/tandem/secrets"
	"github.com/tandembot/tandem/store/postgres"
	"github.com/tandembot/tandem/store/postgres/pgtest"
)

// TestRefreshStormAcrossReplicas: three replicas (three token sources, each
// with its own connection pool) share one PostgreSQL database; 200 turns of
// 20 users whose tokens expired cause exactly one refresh per user, and no
// rotated refresh token is ever sent twice (the fake would kill the grant).
func TestRefreshStormAcrossReplicas(t *testing.T) {
	url := pgtest.URL(t)
	var users []fakegithub.User
	for i := 0; i < 20; i++ {
		users = append(users, fakegithub.User{Login: fmt.Sprintf("user%02d", i)})
	}
	fake := fakegithub.New(fakegithub.Options{ClientID: "cid", ClientSecret: "csecret", Expiring: true, NoRateLimit: true, Users: users})
	if err := fake.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(fake.Close)
	cfg, _ := github.ConfigFromBase(fake.URL())
	cfg.ClientID, cfg.ClientSecret = "cid", "csecret"
	prov := github.New(cfg)
	key, _ := secrets.GenerateKey()
	keys, _ := secrets.NewKeyring(key)
	ctx := context.Background()

	var replicas []*integrations.Tokens
	for i := 0; i < 3; i++ {
		db, err := postgres.Open(ctx, url, postgres.Options{Keyring: keys})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		replicas = append(replicas, &integrations.Tokens{Store: db, Providers: map[tandem.ProviderID]tandem.Provider{tandem.GitHub: prov}, HTTPClient: &http.Client{Timeout: 10 * time.Second}})
		if i == 0 {
			for _, u := range users {
				tok, err := fake.MintToken(u.Login)
				if err != nil {
					t.Fatal(err)
				}
				l := tandem.Link{Team: "T1", User: "U" + u.Login, Provider: tandem.GitHub, Login: u.Login, LinkedAt: time.Now(), Token: integrations.FromOAuth2(tok)}
				l.Token.Expiry = time.Now().Add(-time.Minute)
				if err := db.SaveLink(ctx, l); err != nil {
					t.Fatal(err)
				}
				fake.ExpireAccessTokens(u.Login)
			}
		}
	}
	var wg sync.WaitGroup
	errs := make(chan error, 200)
	for i := 0; i < 200; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			u := users[i%len(users)]
			creds, err := replicas[i%len(replicas)].Credentials(ctx, "T1", "U"+u.Login, tandem.GitHub, tandem.ReasonSender)
			if err == nil {
				var acct tandem.Account
				acct, err = prov.Identify(ctx, creds.Client)
				if err == nil && acct.Login != u.Login {
					err = fmt.Errorf("turn of %s ran as %s", u.Login, acct.Login)
				}
			}
			errs <- err
		}(i)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("a turn failed: %v", err)
		}
	}
	for _, u := range users {
		if n := fake.RefreshCount(u.Login); n != 1 {
			t.Errorf("%s was refreshed %d times across replicas, want 1", u.Login, n)
		}
	}
}
