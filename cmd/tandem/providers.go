package main

import (
	"fmt"

	"github.com/tandembot/tandem"
	"github.com/tandembot/tandem/integrations/github"
)

// providerFactories builds each provider from its environment. Adding a
// provider is one package and one line here.
var providerFactories = map[tandem.ProviderID]func(providerEnv) (tandem.Provider, error){
	tandem.GitHub: newGitHub,
}

func newGitHub(e providerEnv) (tandem.Provider, error) {
	cfg := github.Defaults()
	if e.BaseURL != "" {
		var err error
		if cfg, err = github.ConfigFromBase(e.BaseURL); err != nil {
			return nil, fmt.Errorf("TANDEM_GITHUB_URL: %w", err)
		}
	}
	cfg.ClientID, cfg.ClientSecret = e.ClientID, e.ClientSecret
	cfg.AuthURL = firstNonEmpty(e.AuthURL, cfg.AuthURL)
	cfg.TokenURL = firstNonEmpty(e.TokenURL, cfg.TokenURL)
	cfg.APIURL = firstNonEmpty(e.APIURL, cfg.APIURL)
	return github.New(cfg), nil
}

func firstNonEmpty(vs ...string) string {
	for _, v := range vs {
		if v != "" {
			return v
		}
	}
	return ""
}
