package handlers

import (
	"context"
	"fmt"
	"strings"

	"github.com/tandembot/tandem"
)

func jiraSpecs() []spec {
	j := tandem.Jira
	return []spec{
		{
			name: "jira.my_issues", example: "my jira issues", help: "Jira issues assigned to you and not done, latest first", provider: j,
			phrasings: []string{"[list|show] my [open] jira (issues|tickets)", "my [open] tickets", "my [open] issues on jira"},
			run:       listIssues,
		},
		{
			name: "jira.create", example: "create jira issue in OPS Summary | optional description", help: "create a Jira issue (say `create jira bug in OPS …` for another type)", provider: j, mutating: true,
			phrasings: []string{"(create|open|file|new) [a|an] jira {word} (in|on) {key} [titled] {text}"},
			run:       createJiraIssue,
		},
		{
			name: "jira.comment", example: "comment on OPS-12 Deployed to staging", help: "comment on a Jira issue as you", provider: j, mutating: true,
			phrasings: []string{"comment on {issue} {text}", "reply to {issue} {text}"},
			run:       comment("issue"),
		},
		{
			name: "jira.move", example: "move OPS-12 to In Progress", help: "move a Jira issue to a status through its workflow", provider: j, mutating: true,
			phrasings: []string{"(move|transition|set) {issue} to {text}", "mark {issue} [as] {text}"},
			run:       moveIssue,
		},
		{
			name: "jira.show", example: "show OPS-12", help: "a Jira issue's summary, status and assignee", provider: j,
			phrasings: []string{"(show|view|open|get) {issue}", "{issue}"},
			run:       showIssue,
		},
	}
}

func createJiraIssue(ctx context.Context, r Request) (tandem.Reply, error) {
	if t := strings.ToLower(r.Command.Args["word"]); t == "issue" || t == "ticket" {
		delete(r.Command.Args, "word")
	}
	return createIssue("key")(ctx, r)
}

func moveIssue(ctx context.Context, r Request) (tandem.Reply, error) {
	tr, err := ability[tandem.Transitioner](r, "move issues")
	if err != nil {
		return tandem.Reply{}, err
	}
	key, status := r.Command.Args["issue"], strings.TrimSpace(r.Command.Args["text"])
	is, err := tr.Transition(ctx, r.Creds.Client, r.Creds.Site, key, status)
	if err != nil {
		return tandem.Reply{}, fmt.Errorf("handlers: move issue: %w", err)
	}
	return tandem.Reply{Title: fmt.Sprintf("Moved %s to %s", key, is.State), Items: []tandem.Item{{Text: issueLine(is), URL: is.URL}}, Text: "Moved by " + escape(who(r)) + "."}, nil
}

func showIssue(ctx context.Context, r Request) (tandem.Reply, error) {
	v, err := ability[tandem.IssueViewer](r, "show issues")
	if err != nil {
		return tandem.Reply{}, err
	}
	is, err := v.Issue(ctx, r.Creds.Client, r.Creds.Site, r.Command.Args["issue"])
	if err != nil {
		return tandem.Reply{}, fmt.Errorf("handlers: show issue: %w", err)
	}
	assignee := is.Assignee
	if assignee == "" {
		assignee = "unassigned"
	}
	reply := tandem.Reply{
		Title: is.Key + " " + is.Title,
		Items: []tandem.Item{
			{Text: fmt.Sprintf("Status: *%s* · Type: %s · Assignee: %s", escape(is.State), escape(is.Type), escape(assignee)), URL: ""},
			{Text: "Open in Jira", URL: is.URL},
		},
	}
	if is.Body != "" {
		reply.Text = escape(clipText(is.Body, 1500))
	}
	return reply, nil
}

// clipText shortens s to n bytes on a rune boundary.
func clipText(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && s[n]&0xC0 == 0x80 {
		n--
	}
	return s[:n] + "…"
}
