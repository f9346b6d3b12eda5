package turns

import (
	"github.com/tandembot/tandem/integrations/github"
	"github.com/tandembot/tandem/integrations/gitlab"
	"github.com/tandembot/tandem/integrations/google"
	"github.com/tandembot/tandem/integrations/jira"
)

// testOperations are the four providers' operations, as the wiring gathers
// them; importing the provider packages also declares their names.
var testOperations = NewOperations(github.Operations, gitlab.Operations, jira.Operations, google.Operations)

// Parse reads text as a command of testOperations.
func Parse(text string) Command { return testOperations.Parse(text) }
