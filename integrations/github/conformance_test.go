package github_test

import (
	"testing"

	"github.com/tandembot/tandem/integrations/github"
	"github.com/tandembot/tandem/integrations/providertest"
	"github.com/tandembot/tandem/internal/fakegithub"
)

func TestConformance(t *testing.T) {
	for _, mode := range []struct {
		name     string
		expiring bool
	}{{"OAuthApp", false}, {"GitHubAppUserTokens", true}} {
		t.Run(mode.name, func(t *testing.T) {
			providertest.Run(t, func(t *testing.T) providertest.Subject {
				fake := fakegithub.New(fakegithub.Options{ClientID: "cid", ClientSecret: "csecret", Expiring: mode.expiring,
					Users: []fakegithub.User{{Login: "octo-alice"}}})
				if err := fake.Start(); err != nil {
					t.Fatal(err)
				}
				t.Cleanup(fake.Close)
				cfg, err := github.ConfigFromBase(fake.URL())
				if err != nil {
					t.Fatal(err)
				}
				cfg.ClientID, cfg.ClientSecret = "cid", "csecret"
				return providertest.Subject{
					Provider: github.New(cfg), Fake: fake, Login: "octo-alice",
					Scopes: []string{"repo", "read:user"}, Refreshes: mode.expiring, Rotates: mode.expiring, Revokes: true,
				}
			})
		})
	}
}
