package ops

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	"github.com/tandembot/tandem"
)

// The operations below are shared by providers whose APIs have the same
// shape (issues, comments, pull or merge requests); a provider declares
// them with its own names, phrasings and argument kinds.

// IssueLister lists login's open issues (Jira: assigned to them, not done,
// most recently updated first). site is the link's chosen site (Jira cloud
// id), "" for other providers.
type IssueLister interface {
	OpenIssues(ctx context.Context, client *http.Client, site, login string, limit int) ([]tandem.Issue, int, error)
}

// IssueCreator creates an issue.
type IssueCreator interface {
	CreateIssue(ctx context.Context, client *http.Client, site string, n tandem.NewIssue) (tandem.Issue, error)
}

// Commenter comments on an issue or pull/merge request; ref is
// owner/repo#N, group/project#N, group/project!N or KEY-N. It returns the
// comment's URL.
type Commenter interface {
	Comment(ctx context.Context, client *http.Client, site, ref, body string) (string, error)
}

// ListLimit is how many results a list reply shows; the total is stated.
const ListLimit = 10

// PullRequestReply lists pull or merge requests with links and a count;
// one and many name them ("open merge request"), sep joins project and
// number ("#" or "!").
func PullRequestReply(prs []tandem.PullRequest, total int, one, many, sep string) tandem.Reply {
	reply := tandem.Reply{Title: CountTitle(total, len(prs), one, many), Total: total}
	for _, pr := range prs {
		note := ""
		if pr.Draft {
			note = "draft"
		}
		reply.Items = append(reply.Items, tandem.Item{Text: fmt.Sprintf("%s%s%d %s", pr.Repo, sep, pr.Number, Escape(pr.Title)), URL: pr.URL, Note: note})
	}
	return reply
}

// ListPullRequests returns the Run of an operation that lists pull or
// merge requests of the sender's login with list, a method of the
// provider P ("list pull requests" is what, for when the provider is not
// a P); the reply is PullRequestReply's with one, many and sep.
func ListPullRequests[P any](list func(P, context.Context, *http.Client, string, int) ([]tandem.PullRequest, int, error), what, one, many, sep string) func(context.Context, Request) (tandem.Reply, error) {
	return func(ctx context.Context, r Request) (tandem.Reply, error) {
		p, err := Ability[P](r, what)
		if err != nil {
			return tandem.Reply{}, err
		}
		prs, total, err := list(p, ctx, r.Creds.Client, r.Creds.Identity.Login, ListLimit)
		if err != nil {
			return tandem.Reply{}, fmt.Errorf("ops: %s: %w", what, err)
		}
		return PullRequestReply(prs, total, one, many, sep), nil
	}
}

// ListIssues lists the sender's open issues at the command's provider.
func ListIssues(ctx context.Context, r Request) (tandem.Reply, error) {
	lister, err := Ability[IssueLister](r, "list issues")
	if err != nil {
		return tandem.Reply{}, err
	}
	issues, total, err := lister.OpenIssues(ctx, r.Creds.Client, r.Creds.Site, r.Creds.Identity.Login, ListLimit)
	if err != nil {
		return tandem.Reply{}, fmt.Errorf("ops: my issues: %w", err)
	}
	name := r.Command.Provider.Name()
	reply := tandem.Reply{Title: CountTitle(total, len(issues), "open "+name+" issue", "open "+name+" issues"), Total: total}
	for _, is := range issues {
		reply.Items = append(reply.Items, tandem.Item{Text: IssueLine(is), URL: is.URL, Note: is.State})
	}
	return reply, nil
}

// IssueLine shows an issue as its key and escaped title.
func IssueLine(is tandem.Issue) string {
	return is.Key + " " + Escape(is.Title)
}

// CreateIssue creates an issue in the container named by the argument
// container, titled by the argument "text" ("Title | body"), of the type in
// the argument "type" when there is one.
func CreateIssue(container string) func(context.Context, Request) (tandem.Reply, error) {
	return func(ctx context.Context, r Request) (tandem.Reply, error) {
		creator, err := Ability[IssueCreator](r, "create issues")
		if err != nil {
			return tandem.Reply{}, err
		}
		title, body := TitleBody(r.Arg("text"))
		if err := CheckTitle(title); err != nil {
			return tandem.Reply{}, err
		}
		n := tandem.NewIssue{Container: r.Arg(container), Title: title, Body: body, Type: r.Arg("type")}
		is, err := creator.CreateIssue(ctx, r.Creds.Client, r.Creds.Site, n)
		if err != nil {
			return tandem.Reply{}, fmt.Errorf("ops: create issue: %w", err)
		}
		return tandem.Reply{
			Title: "Created " + is.Key,
			Items: []tandem.Item{{Text: IssueLine(is), URL: is.URL}},
			Text:  "Opened by " + Escape(Who(r)) + ".",
		}, nil
	}
}

// Comment comments, with the argument "text", on the issue or request
// named by the argument ref.
func Comment(ref string) func(context.Context, Request) (tandem.Reply, error) {
	return func(ctx context.Context, r Request) (tandem.Reply, error) {
		c, err := Ability[Commenter](r, "comment")
		if err != nil {
			return tandem.Reply{}, err
		}
		body := strings.TrimSpace(r.Arg("text"))
		if body == "" {
			return tandem.Reply{}, tandem.Errorf(tandem.EINVALID, "The comment is empty.")
		}
		target := r.Arg(ref)
		url, err := c.Comment(ctx, r.Creds.Client, r.Creds.Site, target, body)
		if err != nil {
			return tandem.Reply{}, fmt.Errorf("ops: comment: %w", err)
		}
		return tandem.Reply{Title: "Commented on " + target, Items: []tandem.Item{{Text: "View the comment", URL: url}}, Text: "Written as " + Escape(Who(r)) + "."}, nil
	}
}

// TitleArg is the "text" argument of an operation that creates an issue.
var TitleArg = Arg{Name: "text", Kind: Text, Description: "the title, then optionally `|` and the body"}

// CommentArg is the "text" argument of an operation that comments.
var CommentArg = Arg{Name: "text", Kind: Text, Description: "the comment, as Slack text"}
