package jira

import (
	"context"
	"fmt"
	"maps"
	"strings"

	"github.com/tandembot/tandem"
	"github.com/tandembot/tandem/ops"
)

// Jira's argument kinds.
var (
	projectKind = ops.NewKind("key", `[A-Z][A-Z0-9_]{0,9}`, "a Jira project key such as OPS")
	issueKind   = ops.NewKind("issue", `[A-Z][A-Z0-9_]{0,9}-[0-9]{1,9}`, "a Jira issue key such as OPS-12")
)

// Operations are what people can ask of Jira, as they ask it.
var Operations = []ops.Spec{
	{
		Name: "jira.my_issues", Example: "my jira issues", Summary: "Jira issues assigned to you and not done, latest first", Provider: tandem.Jira,
		Phrasings: []string{"[list|show] my [open] jira (issues|tickets)", "my [open] tickets", "my [open] issues on jira"},
		Standup:   "Jira issues",
		Run:       ops.ListIssues,
	},
	{
		Name: "jira.create", Example: "create jira issue in OPS Summary | optional description", Summary: "create a Jira issue (say `create jira bug in OPS …` for another type)", Provider: tandem.Jira, Mutating: true,
		Phrasings: []string{"(create|open|file|new) [a|an] jira {type} (in|on) {key} [titled] {text}"},
		Args: []ops.Arg{
			{Name: "type", Kind: ops.Word, Description: "the issue type, such as bug or story (issue or ticket: the default, Task)"},
			{Name: "key", Kind: projectKind, Description: "the project to create the issue in"},
			{Name: "text", Kind: ops.Text, Description: "the summary, then optionally `|` and the description"},
		},
		Run: createIssue,
	},
	{
		Name: "jira.comment", Example: "comment on OPS-12 Deployed to staging", Summary: "comment on a Jira issue as you", Provider: tandem.Jira, Mutating: true,
		Phrasings: []string{"comment on {issue} {text}", "reply to {issue} {text}"},
		Args:      []ops.Arg{{Name: "issue", Kind: issueKind, Description: "the issue to comment on"}, ops.CommentArg},
		Run:       ops.Comment("issue"),
	},
	{
		Name: "jira.move", Example: "move OPS-12 to In Progress", Summary: "move a Jira issue to a status through its workflow", Provider: tandem.Jira, Mutating: true,
		Phrasings: []string{"(move|transition|set) {issue} to {text}", "mark {issue} [as] {text}"},
		Args: []ops.Arg{
			{Name: "issue", Kind: issueKind, Description: "the issue to move"},
			{Name: "text", Kind: ops.Text, Description: "the status to move it to, as its workflow names it"},
		},
		Run: moveIssue,
	},
	{
		Name: "jira.show", Example: "show OPS-12", Summary: "a Jira issue's summary, status and assignee", Provider: tandem.Jira,
		Phrasings: []string{"(show|view|open|get) {issue}", "{issue}"},
		Args:      []ops.Arg{{Name: "issue", Kind: issueKind, Description: "the issue to show"}},
		Run:       showIssue,
	},
}

// createIssue creates an issue of the type asked for; "issue" and "ticket"
// mean the default type.
func createIssue(ctx context.Context, r ops.Request) (tandem.Reply, error) {
	if t := strings.ToLower(r.Arg("type")); t == "issue" || t == "ticket" {
		r.Command.Args = maps.Clone(r.Command.Args)
		delete(r.Command.Args, "type")
	}
	return ops.CreateIssue("key")(ctx, r)
}

func moveIssue(ctx context.Context, r ops.Request) (tandem.Reply, error) {
	p, err := ops.Ability[*Provider](r, "move issues")
	if err != nil {
		return tandem.Reply{}, err
	}
	key, status := r.Arg("issue"), strings.TrimSpace(r.Arg("text"))
	is, err := p.Transition(ctx, r.Creds.Client, r.Creds.Site, key, status)
	if err != nil {
		return tandem.Reply{}, fmt.Errorf("jira: move issue: %w", err)
	}
	return tandem.Reply{Title: fmt.Sprintf("Moved %s to %s", key, is.State), Items: []tandem.Item{{Text: ops.IssueLine(is), URL: is.URL}}, Text: "Moved by " + ops.Escape(ops.Who(r)) + "."}, nil
}

func showIssue(ctx context.Context, r ops.Request) (tandem.Reply, error) {
	p, err := ops.Ability[*Provider](r, "show issues")
	if err != nil {
		return tandem.Reply{}, err
	}
	is, err := p.Issue(ctx, r.Creds.Client, r.Creds.Site, r.Arg("issue"))
	if err != nil {
		return tandem.Reply{}, fmt.Errorf("jira: show issue: %w", err)
	}
	assignee := is.Assignee
	if assignee == "" {
		assignee = "unassigned"
	}
	reply := tandem.Reply{
		Title: is.Key + " " + is.Title,
		Items: []tandem.Item{
			{Text: fmt.Sprintf("Status: *%s* · Type: %s · Assignee: %s", ops.Escape(is.State), ops.Escape(is.Type), ops.Escape(assignee))},
			{Text: "Open in Jira", URL: is.URL},
		},
	}
	if is.Body != "" {
		reply.Text = ops.Escape(ops.ClipText(is.Body, 1500))
	}
	return reply, nil
}
