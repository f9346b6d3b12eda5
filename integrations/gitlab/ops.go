package gitlab

import (
	"github.com/tandembot/tandem"
	"github.com/tandembot/tandem/ops"
)

// GitLab's argument kinds: projects may sit in nested groups.
var (
	projectKind = ops.NewKind("project", `[A-Za-z0-9_.-]{1,100}(/[A-Za-z0-9_.-]{1,100})+`, "a project as group/project")
	issueKind   = ops.NewKind("glissue", `[A-Za-z0-9_.-]{1,100}(/[A-Za-z0-9_.-]{1,100})+#[0-9]{1,9}`, "a GitLab issue as group/project#12")
	mrKind      = ops.NewKind("mrref", `[A-Za-z0-9_.-]{1,100}(/[A-Za-z0-9_.-]{1,100})+![0-9]{1,9}`, "a merge request as group/project!12")
)

// Operations are what people can ask of GitLab, as they ask it.
var Operations = []ops.Spec{
	{
		Name: "gitlab.my_mrs", Example: "list my open MRs", Summary: "your open GitLab merge requests", Provider: tandem.GitLab,
		Phrasings: []string{"[list|show|get] [me] my [open] [gitlab] (mrs|mr|merge requests)"},
		Run:       ops.ListPullRequests((*Provider).OpenPullRequests, "list merge requests", "open merge request", "open merge requests", "!"),
	},
	{
		Name: "gitlab.review_mrs", Example: "MRs waiting for my review", Summary: "merge requests where you are a reviewer", Provider: tandem.GitLab,
		Phrasings: []string{
			"[list|show] (mrs|merge requests) (waiting for|awaiting|that need) my review",
			"(mrs|merge requests) where i am [a] reviewer",
		},
		Standup: "GitLab merge requests awaiting you",
		Run:     ops.ListPullRequests((*Provider).ReviewRequests, "list review requests", "merge request waiting for your review", "merge requests waiting for your review", "!"),
	},
	{
		Name: "gitlab.my_issues", Example: "my gitlab issues", Summary: "your open GitLab issues", Provider: tandem.GitLab,
		Phrasings: []string{"[list|show] my [open] gitlab issues", "my [open] issues on gitlab"},
		Run:       ops.ListIssues,
	},
	{
		Name: "gitlab.create_issue", Example: "create gitlab issue in group/project Title | optional body", Summary: "open a GitLab issue as you", Provider: tandem.GitLab, Mutating: true,
		Phrasings: []string{"(create|open|file|new) [a|an] gitlab issue (in|on) {project} [titled] {text}"},
		Args:      []ops.Arg{{Name: "project", Kind: projectKind, Description: "the project to open the issue in"}, ops.TitleArg},
		Run:       ops.CreateIssue("project"),
	},
	{
		Name: "gitlab.comment_mr", Example: "comment on group/project!7 Ship it", Summary: "comment on a GitLab merge request as you", Provider: tandem.GitLab, Mutating: true,
		Phrasings: []string{"comment on {mrref} {text}", "reply to {mrref} {text}"},
		Args:      []ops.Arg{{Name: "mrref", Kind: mrKind, Description: "the merge request to comment on"}, ops.CommentArg},
		Run:       ops.Comment("mrref"),
	},
	{
		Name: "gitlab.comment_issue", Example: "comment on gitlab group/project#3 On it", Summary: "comment on a GitLab issue as you", Provider: tandem.GitLab, Mutating: true,
		Phrasings: []string{"comment on gitlab [issue] {glissue} {text}"},
		Args:      []ops.Arg{{Name: "glissue", Kind: issueKind, Description: "the issue to comment on"}, ops.CommentArg},
		Run:       ops.Comment("glissue"),
	},
}
