package app

import (
	"fmt"
	"strings"

	"github.com/tandembot/tandem"
	"github.com/tandembot/tandem/integrations/github"
	"github.com/tandembot/tandem/integrations/gitlab"
	"github.com/tandembot/tandem/integrations/google"
	"github.com/tandembot/tandem/integrations/jira"
)

// providerFactories builds each provider from its environment. Adding a
// provider is one package and one line here.
var providerFactories = map[tandem.ProviderID]func(ProviderEnv) (tandem.Provider, error){
	tandem.GitHub: newGitHub,
	tandem.GitLab: newGitLab,
	tandem.Jira:   newJira,
	tandem.Google: newGoogle,
}

// endpoints applies TANDEM_<P>_AUTH_URL / _TOKEN_URL / _API_URL over the
// defaults (or those derived from TANDEM_<P>_URL).
func endpoints(e ProviderEnv, auth, token, api *string) {
	*auth = firstNonEmpty(e.AuthURL, *auth)
	*token = firstNonEmpty(e.TokenURL, *token)
	*api = firstNonEmpty(e.APIURL, *api)
}

func newGitHub(e ProviderEnv) (tandem.Provider, error) {
	cfg, err := github.ConfigFromBase(e.BaseURL)
	if err != nil {
		return nil, fmt.Errorf("TANDEM_GITHUB_URL: %w", err)
	}
	cfg.ClientID, cfg.ClientSecret = e.ClientID, e.ClientSecret
	endpoints(e, &cfg.AuthURL, &cfg.TokenURL, &cfg.APIURL)
	return github.New(cfg), nil
}

func newGitLab(e ProviderEnv) (tandem.Provider, error) {
	cfg, err := gitlab.ConfigFromBase(e.BaseURL)
	if err != nil {
		return nil, fmt.Errorf("TANDEM_GITLAB_URL: %w", err)
	}
	cfg.ClientID, cfg.ClientSecret = e.ClientID, e.ClientSecret
	endpoints(e, &cfg.AuthURL, &cfg.TokenURL, &cfg.APIURL)
	return gitlab.New(cfg), nil
}

func newJira(e ProviderEnv) (tandem.Provider, error) {
	cfg, err := jira.ConfigFromBase(e.BaseURL)
	if err != nil {
		return nil, fmt.Errorf("TANDEM_JIRA_URL: %w", err)
	}
	cfg.ClientID, cfg.ClientSecret = e.ClientID, e.ClientSecret
	endpoints(e, &cfg.AuthURL, &cfg.TokenURL, &cfg.APIURL)
	return jira.New(cfg), nil
}

func newGoogle(e ProviderEnv) (tandem.Provider, error) {
	cfg, err := google.ConfigFromBase(e.BaseURL)
	if err != nil {
		return nil, fmt.Errorf("TANDEM_GOOGLE_URL: %w", err)
	}
	cfg.ClientID, cfg.ClientSecret = e.ClientID, e.ClientSecret
	endpoints(e, &cfg.AuthURL, &cfg.TokenURL, &cfg.APIURL)
	if e.TokenURL != "" && strings.HasSuffix(e.TokenURL, "/token") {
		// Google's revocation endpoint sits beside its token endpoint.
		cfg.RevokeURL = strings.TrimSuffix(e.TokenURL, "/token") + "/revoke"
	}
	return google.New(cfg), nil
}

func firstNonEmpty(vs ...string) string {
	for _, v := range vs {
		if v != "" {
			return v
		}
	}
	return ""
}
