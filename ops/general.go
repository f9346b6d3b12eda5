package ops

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/tandembot/tandem"
)

// general returns the operations of no one provider; help and standup read
// c's declarations.
func (c *Catalog) general() []Spec {
	return []Spec{
		{
			Name: "help", Example: "help", Summary: "what Tandem can do",
			Phrasings: []string{"help", "(what|how) can you do", "commands"},
			Run:       c.help,
		},
		{
			Name: "whoami", Example: "whoami", Summary: "which identity each provider would use for you here, and why",
			Phrasings: []string{"whoami", "who am i", "(which|what) identity [will|would] you use"},
			Run:       whoami,
		},
		{
			Name: "standup", Example: "standup", Summary: "", // the parts' headings, set by NewCatalog
			Phrasings: []string{"standup", "[my] daily [standup|summary]", "what's on my plate"},
			Run:       c.standup,
		},
	}
}

// standup combines what the sender has connected, naming what is missing;
// its parts are the operations declared with a Standup heading, in the
// catalog's order. One provider failing does not spoil the others.
func (c *Catalog) standup(ctx context.Context, r Request) (tandem.Reply, error) {
	reply := tandem.Reply{Title: "Your standup"}
	var missing []string
	for _, s := range c.specs {
		if s.Standup == "" {
			continue
		}
		p, title := s.Provider, s.Standup
		src, ok := r.Sources[p]
		if !ok {
			continue
		}
		head := tandem.Item{Text: "*" + title + "*"}
		if src.Err != nil {
			missing = append(missing, p.Name())
			head.Text += ": " + Escape(tandem.ErrorMessage(src.Err))
			if msg := credentialProblem(src.Err); msg != "" {
				head.Text = "*" + title + "*: " + msg
			}
			reply.Items = append(reply.Items, head)
			continue
		}
		sub := r
		sub.Command = Command{Name: s.Name, Provider: p, Args: map[string]string{}}
		sub.Creds, sub.Provider = src.Creds, src.Provider
		got, err := s.Run(ctx, sub)
		if err != nil {
			head.Text += ": " + Escape(tandem.ErrorMessage(err))
			reply.Items = append(reply.Items, head)
			continue
		}
		head.Text += " — " + got.Title + " (as " + Escape(src.Creds.Identity.Login) + ")"
		reply.Items = append(reply.Items, head)
		for _, it := range got.Items {
			it.Text = "    " + it.Text
			reply.Items = append(reply.Items, it)
		}
	}
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

func (c *Catalog) help(_ context.Context, _ Request) (tandem.Reply, error) {
	r := tandem.Reply{
		Title: "Tandem runs every message as the person who sent it.",
		Text:  "Mention me in a thread with one of these; use `/connect` to link your accounts.",
	}
	for _, h := range c.Commands() {
		note := ""
		if h.Provider != "" {
			note = h.Provider.Name()
		}
		r.Items = append(r.Items, tandem.Item{Text: fmt.Sprintf("`%s`: %s", h.Example, h.Summary), Note: note})
	}
	return r, nil
}

var reasonWords = map[tandem.Reason]string{
	tandem.ReasonSender:           "you sent this message",
	tandem.ReasonPersistentOwner:  "this session keeps its owner's credentials (persistent session)",
	tandem.ReasonAPIKeyCreator:    "the API key acts as its creator",
	tandem.ReasonScheduleCreator:  "the schedule acts as its creator",
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
