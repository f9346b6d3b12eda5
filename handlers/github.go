package handlers

import (
	"context"
	"fmt"
	"strings"

	"github.com/tandembot/tandem"
)

// listLimit is how many results a list reply shows; the total is stated.
const listLimit = 10

func githubSpecs() []spec {
	gh := tandem.GitHub
	return []spec{
		{
			name: "github.my_prs", example: "list my open PRs", help: "your open pull requests", provider: gh,
			phrasings: []string{
				"[list|show|get] [me] my [open] [github] (prs|pr|pull requests|pulls)",
				"(what|which) [are] my [open] (prs|pull requests)",
			},
			run: myPullRequests,
		},
		{
			name: "github.review_requests", example: "PRs waiting for my review", help: "pull requests where your review is requested", provider: gh,
			phrasings: []string{
				"[list|show] (prs|pull requests) (waiting for|awaiting|that need) my review",
				"what needs my review",
				"my review requests",
			},
			run: reviewRequests,
		},
		{
			name: "github.my_issues", example: "my github issues", help: "open GitHub issues assigned to you", provider: gh,
			phrasings: []string{"[list|show] my [open] github issues", "my [open] issues on github"},
			run:       listIssues,
		},
		{
			name: "github.create_issue", example: "create issue in owner/repo Title | optional body", help: "open a GitHub issue as you", provider: gh, mutating: true,
			phrasings: []string{"(create|open|file|new) [a|an] [github] issue (in|on) {repo} [titled] {text}"},
			run:       createIssue("repo"),
		},
		{
			name: "github.comment", example: "comment on owner/repo#12 Looks good", help: "comment on a GitHub issue or pull request as you", provider: gh, mutating: true,
			phrasings: []string{"comment on {ref} {text}", "reply to {ref} {text}"},
			run:       comment("ref"),
		},
		{
			name: "github.commit", example: "commit notes/hello.md to owner/repo on main Hello! | Add a note", help: "commit a file (content | message) as you; the reply shows the commit's author", provider: gh, mutating: true,
			phrasings: []string{"commit {path} to {repo} [on {branch}] {text}", "commit {path} to {repo} [on {branch}]"},
			run:       commitFile,
		},
		{
			name: "github.pr_status", example: "status of owner/repo#12", help: "a pull request's checks, reviews and mergeability", provider: gh,
			phrasings: []string{"[show] [the] status (of|for) {ref}", "[show] {ref} status", "is {ref} (ready|mergeable)"},
			run:       pullRequestStatus,
		},
	}
}

func myPullRequests(ctx context.Context, r Request) (tandem.Reply, error) {
	lister, err := ability[tandem.PullRequestLister](r, "list pull requests")
	if err != nil {
		return tandem.Reply{}, err
	}
	prs, total, err := lister.OpenPullRequests(ctx, r.Creds.Client, r.Creds.Identity.Login, listLimit)
	if err != nil {
		return tandem.Reply{}, fmt.Errorf("handlers: my pull requests: %w", err)
	}
	return prReply(prs, total, "open pull request", "open pull requests"), nil
}

func reviewRequests(ctx context.Context, r Request) (tandem.Reply, error) {
	lister, err := ability[tandem.ReviewRequestLister](r, "list review requests")
	if err != nil {
		return tandem.Reply{}, err
	}
	prs, total, err := lister.ReviewRequests(ctx, r.Creds.Client, r.Creds.Identity.Login, listLimit)
	if err != nil {
		return tandem.Reply{}, fmt.Errorf("handlers: review requests: %w", err)
	}
	one, many := "pull request waiting for your review", "pull requests waiting for your review"
	if r.Command.Provider == tandem.GitLab {
		one, many = "merge request waiting for your review", "merge requests waiting for your review"
	}
	return prReply(prs, total, one, many), nil
}

// prReply lists pull or merge requests with links and a count.
func prReply(prs []tandem.PullRequest, total int, one, many string) tandem.Reply {
	reply := tandem.Reply{Title: countTitle(total, len(prs), one, many), Total: total}
	for _, pr := range prs {
		note := ""
		if pr.Draft {
			note = "draft"
		}
		sep := "#"
		if strings.Contains(one, "merge request") {
			sep = "!"
		}
		reply.Items = append(reply.Items, tandem.Item{Text: fmt.Sprintf("%s%s%d %s", pr.Repo, sep, pr.Number, escape(pr.Title)), URL: pr.URL, Note: note})
	}
	return reply
}

func listIssues(ctx context.Context, r Request) (tandem.Reply, error) {
	lister, err := ability[tandem.IssueLister](r, "list issues")
	if err != nil {
		return tandem.Reply{}, err
	}
	issues, total, err := lister.OpenIssues(ctx, r.Creds.Client, r.Creds.Site, r.Creds.Identity.Login, listLimit)
	if err != nil {
		return tandem.Reply{}, fmt.Errorf("handlers: my issues: %w", err)
	}
	reply := tandem.Reply{Title: countTitle(total, len(issues), "open "+r.Command.Provider.Name()+" issue", "open "+r.Command.Provider.Name()+" issues"), Total: total}
	for _, is := range issues {
		reply.Items = append(reply.Items, tandem.Item{Text: issueLine(is), URL: is.URL, Note: is.State})
	}
	return reply, nil
}

func issueLine(is tandem.Issue) string {
	return is.Key + " " + escape(is.Title)
}

// createIssue creates an issue in the container captured as arg.
func createIssue(arg string) func(context.Context, Request) (tandem.Reply, error) {
	return func(ctx context.Context, r Request) (tandem.Reply, error) {
		creator, err := ability[tandem.IssueCreator](r, "create issues")
		if err != nil {
			return tandem.Reply{}, err
		}
		title, body := titleBody(r.Command.Args["text"])
		if err := checkTitle(title); err != nil {
			return tandem.Reply{}, err
		}
		n := tandem.NewIssue{Container: r.Command.Args[arg], Title: title, Body: body, Type: r.Command.Args["word"]}
		is, err := creator.CreateIssue(ctx, r.Creds.Client, r.Creds.Site, n)
		if err != nil {
			return tandem.Reply{}, fmt.Errorf("handlers: create issue: %w", err)
		}
		return tandem.Reply{
			Title: "Created " + is.Key,
			Items: []tandem.Item{{Text: issueLine(is), URL: is.URL}},
			Text:  "Opened by " + escape(who(r)) + ".",
		}, nil
	}
}

// comment comments on the issue or request captured as arg.
func comment(arg string) func(context.Context, Request) (tandem.Reply, error) {
	return func(ctx context.Context, r Request) (tandem.Reply, error) {
		c, err := ability[tandem.Commenter](r, "comment")
		if err != nil {
			return tandem.Reply{}, err
		}
		body := strings.TrimSpace(r.Command.Args["text"])
		if body == "" {
			return tandem.Reply{}, tandem.Errorf(tandem.EINVALID, "The comment is empty.")
		}
		ref := r.Command.Args[arg]
		url, err := c.Comment(ctx, r.Creds.Client, r.Creds.Site, ref, body)
		if err != nil {
			return tandem.Reply{}, fmt.Errorf("handlers: comment: %w", err)
		}
		return tandem.Reply{Title: "Commented on " + ref, Items: []tandem.Item{{Text: "View the comment", URL: url}}, Text: "Written as " + escape(who(r)) + "."}, nil
	}
}

// maxCommitBytes bounds what a Slack message may commit.
const maxCommitBytes = 64 << 10

func commitFile(ctx context.Context, r Request) (tandem.Reply, error) {
	c, err := ability[tandem.FileCommitter](r, "commit files")
	if err != nil {
		return tandem.Reply{}, err
	}
	path := r.Command.Args["path"]
	if strings.Contains(path, "..") || strings.HasPrefix(path, "/") {
		return tandem.Reply{}, tandem.Errorf(tandem.EINVALID, "`%s` is not a path inside the repository.", escape(path))
	}
	content, message := titleBody(r.Command.Args["text"])
	content = stripCode(content)
	if len(content) > maxCommitBytes {
		return tandem.Reply{}, tandem.Errorf(tandem.EINVALID, "That content is %d bytes; Tandem commits at most %d from Slack.", len(content), maxCommitBytes)
	}
	if message == "" {
		message = "Update " + path + " (via Tandem)"
	}
	res, err := c.CommitFile(ctx, r.Creds.Client, tandem.FileCommit{
		Repo: r.Command.Args["repo"], Branch: r.Command.Args["branch"], Path: path,
		Message: message, Content: []byte(content + "\n"),
	})
	if err != nil && res.SHA == "" {
		return tandem.Reply{}, fmt.Errorf("handlers: commit: %w", err)
	}
	verb := "Updated"
	if res.Created {
		verb = "Created"
	}
	short := res.SHA
	if len(short) > 7 {
		short = short[:7]
	}
	author := "*" + escape(res.AuthorLogin) + "*"
	if err != nil {
		// The commit exists; only reading back its author failed.
		author = "an author Tandem could not read back (" + escape(tandem.ErrorMessage(err)) + ")"
	} else if res.AuthorLogin == "" {
		author = "no GitHub account"
	}
	return tandem.Reply{
		Title: fmt.Sprintf("%s %s in %s", verb, path, r.Command.Args["repo"]),
		Items: []tandem.Item{{Text: "Commit " + short, URL: res.URL, Note: "author: " + escape(res.AuthorLogin)}},
		Text:  fmt.Sprintf("Commit `%s` by %s.", res.SHA, author),
	}, nil
}

func pullRequestStatus(ctx context.Context, r Request) (tandem.Reply, error) {
	s, err := ability[tandem.PullRequestStatuser](r, "show pull request status")
	if err != nil {
		return tandem.Reply{}, err
	}
	repo, n := splitRef(r.Command.Args["ref"])
	st, err := s.PullRequestStatus(ctx, r.Creds.Client, repo, n)
	if err != nil {
		return tandem.Reply{}, fmt.Errorf("handlers: pull request status: %w", err)
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
		reply.Items = append(reply.Items, tandem.Item{Text: "Check " + escape(c.Name) + ": " + result})
	}
	for _, rv := range st.Reviews {
		reply.Items = append(reply.Items, tandem.Item{Text: "Review by " + escape(rv.Reviewer) + ": " + strings.ToLower(rv.State)})
	}
	if len(st.Checks) == 0 && len(st.Reviews) == 0 {
		reply.Text += "\nNo checks or reviews yet."
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
