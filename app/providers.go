package app

import (
	"slices"

	"github.com/tandembot/tandem/integrations"
	"github.com/tandembot/tandem/integrations/github"
	"github.com/tandembot/tandem/integrations/gitlab"
	"github.com/tandembot/tandem/integrations/google"
	"github.com/tandembot/tandem/integrations/jira"
)

// providers are the providers Tandem can run, each from its package's
// descriptor. Adding a provider is its package and one entry here.
var providers = []integrations.Spec{github.Spec, gitlab.Spec, jira.Spec, google.Spec}

// Providers returns the providers Tandem can run, in the order of their
// checks and help; a copy, which the caller may change.
func Providers() []integrations.Spec { return slices.Clone(providers) }
