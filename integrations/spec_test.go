package integrations_test

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/tandembot/tandem"
	"github.com/tandembot/tandem/integrations"
	"github.com/tandembot/tandem/integrations/github"
	"github.com/tandembot/tandem/integrations/gitlab"
	"github.com/tandembot/tandem/integrations/google"
	"github.com/tandembot/tandem/integrations/jira"
)

// Every provider package declares its id, name, try-message, builder and
// error mapping, and registers the first three with the root.
func TestSpecs(t *testing.T) {
	for _, s := range []integrations.Spec{github.Spec, gitlab.Spec, jira.Spec, google.Spec} {
		if s.ID == "" || s.Name == "" || s.TryMessage == "" || s.Build == nil || s.Errors == nil {
			t.Errorf("%s: incomplete spec %+v", s.ID, s)
		}
		if s.Errors != nil && s.Errors.Provider != s.ID {
			t.Errorf("%s: error mapping is for %s", s.ID, s.Errors.Provider)
		}
		if got, _ := s.ID.Spec(); got != s.ProviderSpec {
			t.Errorf("%s: registered %+v, want %+v", s.ID, got, s.ProviderSpec)
		}
		p, err := s.Build(integrations.Settings{ClientID: "id", ClientSecret: "secret"})
		if err != nil || p.ID() != s.ID {
			t.Errorf("%s: Build = %v, %v", s.ID, p, err)
		}
		_, err = s.Build(integrations.Settings{BaseURL: "ftp://x"})
		if code := tandem.ErrorCode(err); code != tandem.EINVALID {
			t.Errorf("%s: Build with a bad URL = %v (%s), want EINVALID", s.ID, err, code)
		}
	}
	if got := github.Spec.EnvPrefix(); got != "TANDEM_GITHUB_" {
		t.Errorf("EnvPrefix = %q", got)
	}
}

// Settings override the endpoints derived from the base URL one by one.
func TestSettingsConfig(t *testing.T) {
	fromBase := func(base string) (integrations.Config, error) {
		if base == "bad" {
			return integrations.Config{}, errors.New("bad base")
		}
		return integrations.Config{AuthURL: base + "/a", TokenURL: base + "/t", APIURL: base + "/api/"}, nil
	}
	got, err := integrations.Settings{ClientID: "id", ClientSecret: "s", TokenURL: "https://tok/x", BaseURL: "https://h"}.Config(fromBase)
	if err != nil {
		t.Fatal(err)
	}
	want := integrations.Config{ClientID: "id", ClientSecret: "s", AuthURL: "https://h/a", TokenURL: "https://tok/x", APIURL: "https://h/api/"}
	if d := cmp.Diff(got, want); d != "" {
		t.Errorf("Config (-got +want):\n%s", d)
	}
	if _, err := (integrations.Settings{BaseURL: "bad"}).Config(fromBase); err == nil {
		t.Error("a bad base gave no error")
	}
	d := integrations.Config{AuthURL: "A", TokenURL: "T", APIURL: "https://api"}
	if got := (integrations.Config{TokenURL: "mine"}).WithDefaults(d); got != (integrations.Config{AuthURL: "A", TokenURL: "mine", APIURL: "https://api/"}) {
		t.Errorf("WithDefaults = %+v", got)
	}
}
