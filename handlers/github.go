package handlers

import (
	"context"
	"fmt"

	"github.com/tandembot/tandem"
)

// listLimit is how many results a list reply shows; the total is stated.
const listLimit = 10

func githubSpecs() []spec {
	return []spec{
		{
			name: "github.my_prs", example: "list my open PRs", help: "your open pull requests",
			provider: tandem.GitHub,
			phrasings: []string{
				"[list|show|get] [me] my [open] (prs|pr|pull requests|pulls)",
				"(what|which) [are] my [open] (prs|pull requests)",
				"my prs",
			},
			run: myPullRequests,
		},
	}
}

func myPullRequests(ctx context.Context, r Request) (tandem.Reply, error) {
	lister, ok := r.Provider.(tandem.PullRequestLister)
	if !ok {
		return tandem.Reply{}, tandem.Errorf(tandem.EINVALID, "%s cannot list pull requests.", r.Command.Provider.Name())
	}
	prs, total, err := lister.OpenPullRequests(ctx, r.Creds.Client, r.Creds.Identity.Login, listLimit)
	if err != nil {
		return tandem.Reply{}, fmt.Errorf("handlers: my pull requests: %w", err)
	}
	reply := tandem.Reply{Title: countTitle(total, len(prs), "open pull request", "open pull requests"), Total: total}
	for _, pr := range prs {
		note := ""
		if pr.Draft {
			note = "draft"
		}
		reply.Items = append(reply.Items, tandem.Item{
			Text: fmt.Sprintf("%s#%d %s", pr.Repo, pr.Number, pr.Title),
			URL:  pr.URL,
			Note: note,
		})
	}
	return reply, nil
}

// countTitle says how many results exist and how many are shown:
// "12 open pull requests, showing 10".
func countTitle(total, shown int, one, many string) string {
	switch {
	case total == 0:
		return "No " + many
	case total == 1:
		return "1 " + one
	case shown < total:
		return fmt.Sprintf("%d %s, showing %d", total, many, shown)
	}
	return fmt.Sprintf("%d %s", total, many)
}
