package main

import (
	"github.com/tandembot/tandem"
	"github.com/tandembot/tandem/integrations/github"
)

// providerFactories builds each provider from its environment. Adding a
// provider is one package and one line here.
var providerFactories = map[tandem.ProviderID]func(providerEnv) tandem.Provider{
	tandem.GitHub: newGitHub,
}

func newGitHub(e providerEnv) tandem.Provider {
	cfg := github.Defaults()
	if e.BaseURL != "" {
		cfg = github.ConfigFromBase(e.BaseURL)
	}
	cfg.ClientID, cfg.ClientSecret = e.ClientID, e.ClientSecret
	cfg.AuthURL = firstNonEmpty(e.AuthURL, cfg.AuthURL)
	cfg.TokenURL = firstNonEmpty(e.TokenURL, cfg.TokenURL)
	cfg.APIURL = firstNonEmpty(e.APIURL, cfg.APIURL)
	return github.New(cfg)
}

func firstNonEmpty(vs ...string) string {
	for _, v := range vs {
		if v != "" {
			return v
		}
	}
	return ""
}
