package google_test

import (
	"testing"

	"github.com/tandembot/tandem/integrations/google"
	"github.com/tandembot/tandem/integrations/providertest"
	"github.com/tandembot/tandem/internal/fakegoogle"
)

func TestConformance(t *testing.T) {
	providertest.Run(t, func(t *testing.T) providertest.Subject {
		fake := fakegoogle.New(fakegoogle.Options{ClientID: "cid", ClientSecret: "csecret", DemoData: true})
		if err := fake.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(fake.Close)
		cfg, err := google.ConfigFromBase(fake.URL())
		if err != nil {
			t.Fatal(err)
		}
		cfg.ClientID, cfg.ClientSecret = "cid", "csecret"
		p := google.New(cfg)
		return providertest.Subject{
			Provider: p, Fake: fake, Login: "alice@example.test",
			Scopes:    p.OAuth2Config().Scopes,
			Refreshes: true, Rotates: false, Revokes: true,
		}
	})
}
