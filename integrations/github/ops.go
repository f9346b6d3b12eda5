package github

import (
	"context"
	"fmt"
	"strings"

	"github.com/tandembot/tandem"
	"github.com/tandembot/tandem/ops"
)

// GitHub's argument kinds.
var (
	repoKind   = ops.NewKind("repo", `[A-Za-z0-9_.-]{1,100}/[A-Za-z0-9_.-]{1,100}`, "a repository as owner/repo")
	refKind    = ops.NewKind("ref", `[A-Za-z0-9_.-]{1,100}/[A-Za-z0-9_.-]{1,100}#[0-9]{1,9}`, "an issue or pull request as owner/repo#123")
	branchKind = ops.NewKind("branch", `[A-Za-z0-9_./-]{1,200}`, "a branch name")
	pathKind   = ops.NewKind("path", `[A-Za-z0-9_./-]{1,400}`, "a file path such as docs/notes.md")
)

// Operations are what people can ask of GitHub, as they ask it.
var Operations = []ops.Spec{
	{
		Name: "github.my_prs", Example: "list my open PRs", Summary: "your open pull requests", Provider: tandem.GitHub,
		Phrasings: []string{
			"[list|show|get] [me] my [open] [github] (prs|pr|pull requests|pulls)",
			"(what|which) [are] my [open] (prs|pull requests)",
		},
		Standup: "GitHub pull requests",
		Run:     ops.ListPullRequests((*Provider).OpenPullRequests, "list pull requests", "open pull request", "open pull requests", "#"),
	},
	{
		Name: "github.review_requests", Example: "PRs waiting for my review", Summary: "pull requests where your review is requested", Provider: tandem.GitHub,
		Phrasings: []string{
			"[list|show] (prs|pull requests) (waiting for|awaiting|that need) my review",
			"what needs my review",
			"my review requests",
		},
		Run: ops.ListPullRequests((*Provider).ReviewRequests, "list review requests", "pull request waiting for your review", "pull requests waiting for your review", "#"),
	},
	{
		Name: "github.my_issues", Example: "my github issues", Summary: "open GitHub issues assigned to you", Provider: tandem.GitHub,
		Phrasings: []string{"[list|show] my [open] github issues", "my [open] issues on github"},
		Run:       ops.ListIssues,
	},
	{
		Name: "github.create_issue", Example: "create issue in owner/repo Title | optional body", Summary: "open a GitHub issue as you", Provider: tandem.GitHub, Mutating: true,
		Phrasings: []string{"(create|open|file|new) [a|an] [github] issue (in|on) {repo} [titled] {text}"},
		Args:      []ops.Arg{{Name: "repo", Kind: repoKind, Description: "the repository to open the issue in"}, ops.TitleArg},
		Run:       ops.CreateIssue("repo"),
	},
	{
		Name: "github.comment", Example: "comment on owner/repo#12 Looks good", Summary: "comment on a GitHub issue or pull request as you", Provider: tandem.GitHub, Mutating: true,
		Phrasings: []string{"comment on {ref} {text}", "reply to {ref} {text}"},
		Args:      []ops.Arg{{Name: "ref", Kind: refKind, Description: "the issue or pull request to comment on"}, ops.CommentArg},
		Run:       ops.Comment("ref"),
	},
	{
		Name: "github.commit", Example: "commit notes/hello.md to owner/repo on main Hello! | Add a note", Summary: "commit a file (content | message) as you; the reply shows the commit's author", Provider: tandem.GitHub, Mutating: true,
		Phrasings: []string{"commit {path} to {repo} [on {branch}] {text}", "commit {path} to {repo} [on {branch}]"},
		Args: []ops.Arg{
			{Name: "path", Kind: pathKind, Description: "the file's path in the repository"},
			{Name: "repo", Kind: repoKind, Description: "the repository to commit to"},
			{Name: "branch", Kind: branchKind, Description: "the branch to commit to (default: the repository's default branch)"},
			{Name: "text", Kind: ops.Text, Description: "the file's content, then optionally `|` and the commit message"},
		},
		Run: commitFile,
	},
	{
		Name: "github.pr_status", Example: "status of owner/repo#12", Summary: "a pull request's checks, reviews and mergeability", Provider: tandem.GitHub,
		Phrasings: []string{"[show] [the] status (of|for) {ref}", "[show] {ref} status", "is {ref} (ready|mergeable)"},
		Args:      []ops.Arg{{Name: "ref", Kind: refKind, Description: "the pull request"}},
		Run:       pullRequestStatus,
	},
}

// maxCommitBytes bounds what a Slack message may commit.
const maxCommitBytes = 64 << 10

func commitFile(ctx context.Context, r ops.Request) (tandem.Reply, error) {
	p, err := ops.Ability[*Provider](r, "commit files")
	if err != nil {
		return tandem.Reply{}, err
	}
	path := r.Arg("path")
	if strings.Contains(path, "..") || strings.HasPrefix(path, "/") {
		return tandem.Reply{}, tandem.Errorf(tandem.EINVALID, "`%s` is not a path inside the repository.", ops.Escape(path))
	}
	content, message := ops.TitleBody(r.Arg("text"))
	content = ops.StripCode(content)
	if len(content) > maxCommitBytes {
		return tandem.Reply{}, tandem.Errorf(tandem.EINVALID, "That content is %d bytes; Tandem commits at most %d from Slack.", len(content), maxCommitBytes)
	}
	if message == "" {
		message = "Update " + path + " (via Tandem)"
	}
	res, err := p.CommitFile(ctx, r.Creds.Client, tandem.FileCommit{
		Repo: r.Arg("repo"), Branch: r.Arg("branch"), Path: path,
		Message: message, Content: []byte(content + "\n"),
	})
	if err != nil && res.SHA == "" {
		return tandem.Reply{}, fmt.Errorf("github: commit: %w", err)
	}
	verb := "Updated"
	if res.Created {
		verb = "Created"
	}
	short := res.SHA
	if len(short) > 7 {
		short = short[:7]
	}
	author := "*" + ops.Escape(res.AuthorLogin) + "*"
	if err != nil {
		// The commit exists; only reading back its author failed.
		author = "an author Tandem could not read back (" + ops.Escape(tandem.ErrorMessage(err)) + ")"
	} else if res.AuthorLogin == "" {
		author = "no GitHub account"
	}
	return tandem.Reply{
		Title: fmt.Sprintf("%s %s in %s", verb, path, r.Arg("repo")),
		Items: []tandem.Item{{Text: "Commit " + short, URL: res.URL, Note: "author: " + ops.Escape(res.AuthorLogin)}},
		Text:  fmt.Sprintf("Commit `%s` by %s.", res.SHA, author),
	}, nil
}

func pullRequestStatus(ctx context.Context, r ops.Request) (tandem.Reply, error) {
	p, err := ops.Ability[*Provider](r, "show pull request status")
	if err != nil {
		return tandem.Reply{}, err
	}
	repo, n := ops.SplitRef(r.Arg("ref"))
	st, err := p.PullRequestStatus(ctx, r.Creds.Client, repo, n)
	if err != nil {
		return tandem.Reply{}, fmt.Errorf("github: pull request status: %w", err)
	}
	reply := tandem.Reply{
		Title: fmt.Sprintf("%s#%d %s", repo, n, st.PullRequest.Title),
		Text:  fmt.Sprintf("State: *%s* · Mergeable: *%s* · <%s|open on GitHub>", st.State, st.Mergeable, st.PullRequest.URL),
	}
	for _, c := range st.Checks {
		result := c.Conclusion
		if result == "" {
			result = c.Status
		}
		reply.Items = append(reply.Items, tandem.Item{Text: "Check " + ops.Escape(c.Name) + ": " + result})
	}
	for _, rv := range st.Reviews {
		reply.Items = append(reply.Items, tandem.Item{Text: "Review by " + ops.Escape(rv.Reviewer) + ": " + strings.ToLower(rv.State)})
	}
	if len(st.Checks) == 0 && len(st.Reviews) == 0 {
		reply.Text += "\nNo checks or reviews yet."
	}
	return reply, nil
}
