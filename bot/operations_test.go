package bot

import (
	"github.com/tandembot/tandem/integrations/github"
	"github.com/tandembot/tandem/integrations/gitlab"
	"github.com/tandembot/tandem/integrations/google"
	"github.com/tandembot/tandem/integrations/jira"
	"github.com/tandembot/tandem/turns"
)

// testOperations are the four providers' operations, as the wiring gathers
// them; importing the provider packages also declares their names.
var testOperations = turns.NewOperations(github.Operations, gitlab.Operations, jira.Operations, google.Operations)
