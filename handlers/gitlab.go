package handlers

import (
	"context"
	"fmt"

	"github.com/tandembot/tandem"
)

func gitlabSpecs() []spec {
	gl := tandem.GitLab
	return []spec{
		{
			name: "gitlab.my_mrs", example: "list my open MRs", help: "your open GitLab merge requests", provider: gl,
			phrasings: []string{"[list|show|get] [me] my [open] [gitlab] (mrs|mr|merge requests)"},
			run:       myMergeRequests,
		},
		{
			name: "gitlab.review_mrs", example: "MRs waiting for my review", help: "merge requests where you are a reviewer", provider: gl,
			phrasings: []string{
				"[list|show] (mrs|merge requests) (waiting for|awaiting|that need) my review",
				"(mrs|merge requests) where i am [a] reviewer",
			},
			run: reviewRequests,
		},
		{
			name: "gitlab.my_issues", example: "my gitlab issues", help: "your open GitLab issues", provider: gl,
			phrasings: []string{"[list|show] my [open] gitlab issues", "my [open] issues on gitlab"},
			run:       listIssues,
		},
		{
			name: "gitlab.create_issue", example: "create gitlab issue in group/project Title | optional body", help: "open a GitLab issue as you", provider: gl, mutating: true,
			phrasings: []string{"(create|open|file|new) [a|an] gitlab issue (in|on) {project} [titled] {text}"},
			run:       createIssue("project"),
		},
		{
			name: "gitlab.comment_mr", example: "comment on group/project!7 Ship it", help: "comment on a GitLab merge request as you", provider: gl, mutating: true,
			phrasings: []string{"comment on {mrref} {text}", "reply to {mrref} {text}"},
			run:       comment("mrref"),
		},
		{
			name: "gitlab.comment_issue", example: "comment on gitlab group/project#3 On it", help: "comment on a GitLab issue as you", provider: gl, mutating: true,
			phrasings: []string{"comment on gitlab [issue] {glissue} {text}"},
			run:       comment("glissue"),
		},
	}
}

func myMergeRequests(ctx context.Context, r Request) (tandem.Reply, error) {
	lister, err := ability[tandem.PullRequestLister](r, "list merge requests")
	if err != nil {
		return tandem.Reply{}, err
	}
	mrs, total, err := lister.OpenPullRequests(ctx, r.Creds.Client, r.Creds.Identity.Login, listLimit)
	if err != nil {
		return tandem.Reply{}, fmt.Errorf("handlers: my merge requests: %w", err)
	}
	return prReply(mrs, total, "open merge request", "open merge requests"), nil
}
