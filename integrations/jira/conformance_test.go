package jira_test

import (
	"testing"

	"github.com/tandembot/tandem/integrations/jira"
	"github.com/tandembot/tandem/integrations/providertest"
	"github.com/tandembot/tandem/internal/fakejira"
)

func TestConformance(t *testing.T) {
	providertest.Run(t, func(t *testing.T) providertest.Subject {
		fake := fakejira.New(fakejira.Options{ClientID: "cid", ClientSecret: "csecret", DemoData: true})
		if err := fake.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(fake.Close)
		cfg, err := jira.ConfigFromBase(fake.URL())
		if err != nil {
			t.Fatal(err)
		}
		cfg.ClientID, cfg.ClientSecret = "cid", "csecret"
		return providertest.Subject{
			Provider: jira.New(cfg), Fake: fake, Login: "alice@example.test",
			Scopes:    []string{"read:jira-work", "write:jira-work", "read:jira-user", "offline_access"},
			Refreshes: true, Rotates: true, Revokes: false,
		}
	})
}
