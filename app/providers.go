package app

import (
	"slices"

	"github.com/tandembot/tandem/integrations"
	"github.com/tandembot/tandem/integrations/github"
	"github.com/tandembot/tandem/integrations/gitlab"
	"github.com/tandembot/tandem/integrations/google"
	"github.com/tandembot/tandem/integrations/jira"
	"github.com/tandembot/tandem/ops"
	"github.com/tandembot/tandem/turns"
)

// providers are the providers Tandem can run, each from its package's
// descriptor. Adding a provider is its package and one entry here.
var providers = []integrations.Spec{github.Spec, gitlab.Spec, jira.Spec, google.Spec}

// Providers returns the providers Tandem can run, in the order of their
// checks and help; a copy, which the caller may change.
func Providers() []integrations.Spec { return slices.Clone(providers) }

// Operations are every provider's declared operations, enabled or not, with
// the general ones: what turns, agent tools and MCP tools are made from.
func Operations() turns.Operations {
	var declared [][]ops.Spec
	for _, spec := range providers {
		declared = append(declared, spec.Operations)
	}
	return turns.NewOperations(declared...)
}
