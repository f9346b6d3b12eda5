package mcpserver

import (
	"errors"
	"fmt"

	"github.com/tandembot/tandem"
)

// toolError words a failed call for the agent and the person behind it: a
// missing or dead link names the key's creator and what to do, as Slack
// does; anything else is the error's words for people.
func toolError(key tandem.APIKey, err error) string {
	var nc *tandem.NotConnectedError
	var ex *tandem.ExpiredError
	switch {
	case errors.As(err, &nc):
		return fmt.Sprintf("%s credentials not configured for <@%s>, the creator of API key %s: they must connect %s in Slack (/connect %s); they have been sent the link.",
			nc.Provider.Name(), key.Creator, key.Name, nc.Provider.Name(), nc.Provider)
	case errors.As(err, &ex):
		return fmt.Sprintf("%s credentials expired or revoked for <@%s>, the creator of API key %s: they must reconnect %s in Slack (/connect %s); they have been sent the link.",
			ex.Provider.Name(), key.Creator, key.Name, ex.Provider.Name(), ex.Provider)
	}
	return tandem.ErrorMessage(err)
}
