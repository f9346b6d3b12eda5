package handlers

import (
	"context"
	"errors"
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
		{
			name: "standup", example: "standup", help: "your open PRs, MRs awaiting you, Jira issues and today's meetings in one reply",
			phrasings: []string{"standup", "[my] daily [standup|summary]", "what's on my plate"},
			uses:      []tandem.ProviderID{tandem.GitHub, tandem.GitLab, tandem.Jira, tandem.Google},
			run:       standup,
		},
	}
}

// standup combines what the sender has connected, naming what is missing.
// One provider failing does not spoil the others.
func standup(ctx context.Context, r Request) (tandem.Reply, error) {
	reply := tandem.Reply{Title: "Your standup"}
	var missing []string
	part := func(p tandem.ProviderID, title string, run func(context.Context, Request) (tandem.Reply, error)) {
		src, ok := r.Sources[p]
		if !ok {
			return
		}
		head := tandem.Item{Text: "*" + title + "*"}
		if src.Err != nil {
			missing = append(missing, p.Name())
			head.Text += ": " + escape(tandem.ErrorMessage(src.Err))
			if msg := credentialProblem(src.Err); msg != "" {
				head.Text = "*" + title + "*: " + msg
			}
			reply.Items = append(reply.Items, head)
			return
		}
		sub := r
		sub.Command = Command{Name: r.Command.Name, Provider: p, Args: map[string]string{}}
		sub.Creds, sub.Provider = src.Creds, src.Provider
		got, err := run(ctx, sub)
		if err != nil {
			head.Text += ": " + escape(tandem.ErrorMessage(err))
			reply.Items = append(reply.Items, head)
			return
		}
		head.Text += " — " + got.Title + " (as " + escape(src.Creds.Identity.Login) + ")"
		reply.Items = append(reply.Items, head)
		for _, it := range got.Items {
			it.Text = "    " + it.Text
			reply.Items = append(reply.Items, it)
		}
	}
	part(tandem.GitHub, "GitHub pull requests", myPullRequests)
	part(tandem.GitLab, "GitLab merge requests awaiting you", reviewRequests)
	part(tandem.Jira, "Jira issues", listIssues)
	part(tandem.Google, "Today's meetings", meetings(false))
	if len(missing) > 0 {
		reply.Text = "Not included: " + strings.Join(missing, ", ") + ". I've sent you private buttons to connect them."
	}
	return reply, nil
}

// credentialProblem words a missing or dead link for the standup.
func credentialProblem(err error) string {
	var nc *tandem.NotConnectedError
	var ex *tandem.ExpiredError
	switch {
	case errors.As(err, &nc):
		return nc.Provider.Name() + " credentials not configured"
	case errors.As(err, &ex):
		return ex.Provider.Name() + " credentials expired or revoked"
	}
	return ""
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
