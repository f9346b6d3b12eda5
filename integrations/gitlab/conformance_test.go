package gitlab_test

import (
	"testing"

	"github.com/tandembot/tandem/integrations/gitlab"
	"github.com/tandembot/tandem/integrations/providertest"
	"github.com/tandembot/tandem/internal/fakegitlab"
)

func TestConformance(t *testing.T) {
	providertest.Run(t, func(t *testing.T) providertest.Subject {
		fake := fakegitlab.New(fakegitlab.Options{ClientID: "cid", ClientSecret: "csecret",
			Users: []fakegitlab.User{{Login: "lab-alice", Name: "Alice Liddell"}}})
		if err := fake.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(fake.Close)
		cfg, err := gitlab.ConfigFromBase(fake.URL())
		if err != nil {
			t.Fatal(err)
		}
		cfg.ClientID, cfg.ClientSecret = "cid", "csecret"
		return providertest.Subject{
			Provider: gitlab.New(cfg), Fake: fake, Login: "lab-alice",
			Scopes: []string{"api", "read_user"}, Refreshes: true, Rotates: true, Revokes: true,
		}
	})
}
