package handlers

import (
	"context"
	"fmt"
	"strings"

	"github.com/tandembot/tandem"
)

func generalSpecs() []spec {
	return []spec{
		{
			name: "help", example: "help", help: "what Tandem can do",
			phrasings: []string{"help", "(what|how) can you do", "commands"},
			run:       help,
		},
		{
			name: "whoami", example: "whoami", help: "which identity each provider would use for you here, and why",
			phrasings: []string{"whoami", "who am i", "(which|what) identity [will|would] you use"},
			run:       whoami,
		},
	}
}

func help(_ context.Context, _ Request) (tandem.Reply, error) {
	r := tandem.Reply{
		Title: "Tandem runs every message as the person who sent it.",
		Text:  "Mention me in a thread with one of these; use `/connect` to link your accounts.",
	}
	for _, c := range Commands() {
		note := ""
		if c.Provider != "" {
			note = c.Provider.Name()
		}
		r.Items = append(r.Items, tandem.Item{Text: fmt.Sprintf("`%s`: %s", c.Example, c.Summary), Note: note})
	}
	return r, nil
}

var reasonWords = map[tandem.Reason]string{
	tandem.ReasonSender:           "you sent this message",
	tandem.ReasonPersistentOwner:  "this session keeps its owner's credentials (persistent session)",
	tandem.ReasonAPIKeyCreator:    "the API key acts as its creator",
	tandem.ReasonRefusedNotEditor: "you are not on this persistent session's editors list",
}

func whoami(_ context.Context, r Request) (tandem.Reply, error) {
	reply := tandem.Reply{Title: "Identities for this thread"}
	var missing []string
	for _, id := range r.Identities {
		var text string
		switch id.State {
		case tandem.LinkConnected:
			text = fmt.Sprintf("*%s*: %s as <@%s>, because %s", id.Provider.Name(), id.Login, id.SlackUser, reasonWords[id.Reason])
		case tandem.LinkNeedsReconnect:
			text = fmt.Sprintf("*%s*: %s for <@%s> needs reconnecting (expired or revoked)", id.Provider.Name(), id.Login, id.SlackUser)
		default:
			text = fmt.Sprintf("*%s*: not connected for <@%s>", id.Provider.Name(), id.SlackUser)
			missing = append(missing, id.Provider.Name())
		}
		reply.Items = append(reply.Items, tandem.Item{Text: text})
	}
	if len(missing) > 0 {
		reply.Text = fmt.Sprintf("Missing: %s. Use `/connect` to link them.", strings.Join(missing, ", "))
	}
	return reply, nil
}
