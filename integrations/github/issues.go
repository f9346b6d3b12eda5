package github

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"unicode/utf8"

	gh "github.com/google/go-github/v62/github"
	"github.com/tandembot/tandem"
	"github.com/tandembot/tandem/integrations"
	"github.com/tandembot/tandem/ops"
)

var (
	_ ops.IssueLister  = (*Provider)(nil)
	_ ops.IssueCreator = (*Provider)(nil)
)

// OpenIssues returns up to limit (30 when limit is 0 or less) of the open
// issues assigned to login, most recently updated first, with the total
// count; site is unused.
//
// "My open issues" means the issues on login's plate, so the search is
// "is:issue is:open assignee:@me" (the account client carries, as GitHub
// knows it now, whatever login it had when linked), not author: (issues someone reported
// are often someone else's to fix, and a reporter who wants them can search
// for them) and not involves: (which adds every issue login commented on or
// was mentioned in). It matches GitHub's own "Assigned to you" list and what
// the Jira provider lists. Pull requests are left out: they have their own
// commands. The listed issues carry no body, which can be long; show one
// issue for that.
//
// It searches as the account client carries, so private repositories
// appear only if that account can see them. An invalid login gives
// EINVALID; see mapError for GitHub's refusals.
func (p *Provider) OpenIssues(ctx context.Context, client *http.Client, site, login string, limit int) ([]tandem.Issue, int, error) {
	if !validLogin.MatchString(login) {
		return nil, 0, tandem.Errorf(tandem.EINVALID, "%q is not a GitHub login.", login)
	}
	items, total, err := p.search(ctx, client, "is:issue is:open assignee:@me", limit,
		"search issues", "the issues assigned to "+login)
	if err != nil {
		return nil, 0, err
	}
	var out []tandem.Issue
	for _, is := range items {
		i := issue(repoName(is.GetRepositoryURL()), is)
		i.Body = ""
		out = append(out, i)
	}
	return out, total, nil
}

// CreateIssue opens an issue in n.Container ("owner/name") with n.Title and
// n.Body, authored by the account client carries; site and n.Type (a Jira
// notion) are unused. The title must hold 1 to 256 characters and the body
// at most 65536, else EINVALID and nothing is sent. A repository that
// account cannot see gives ENOTFOUND naming the account, one with issues
// turned off EFORBIDDEN; see mapError for the rest.
func (p *Provider) CreateIssue(ctx context.Context, client *http.Client, site string, n tandem.NewIssue) (tandem.Issue, error) {
	owner, name, err := parseRepo(n.Container)
	if err != nil {
		return tandem.Issue{}, err
	}
	title := strings.TrimSpace(n.Title)
	switch count := utf8.RuneCountInString(title); {
	case count == 0:
		return tandem.Issue{}, tandem.Errorf(tandem.EINVALID, "An issue needs a title.")
	case count > maxTitle:
		return tandem.Issue{}, tandem.Errorf(tandem.EINVALID, "The title has %d characters; GitHub takes at most %d.", count, maxTitle)
	}
	if err := checkBody("The issue's description", n.Body, false); err != nil {
		return tandem.Issue{}, err
	}
	c, err := p.client(client)
	if err != nil {
		return tandem.Issue{}, err
	}
	req := &gh.IssueRequest{Title: gh.String(title)}
	if n.Body != "" {
		req.Body = gh.String(n.Body)
	}
	repo := owner + "/" + name
	is, resp, err := c.Issues.Create(ctx, owner, name, req)
	if err != nil {
		if gone(resp) {
			return tandem.Issue{}, issuesOff("create issue", repo, resp, err)
		}
		return tandem.Issue{}, refused(ctx, c, "create issue", repo, resp, err)
	}
	return issue(repo, is), nil
}

// issue converts a GitHub issue of repo ("owner/name").
func issue(repo string, is *gh.Issue) tandem.Issue {
	out := tandem.Issue{
		Key:      repo + "#" + strconv.Itoa(is.GetNumber()),
		Title:    is.GetTitle(),
		URL:      is.GetHTMLURL(),
		State:    is.GetState(),
		Assignee: is.GetAssignee().GetLogin(),
		Body:     is.GetBody(),
	}
	if is.UpdatedAt != nil {
		out.Updated = is.UpdatedAt.Time
	}
	return out
}

// gone reports GitHub's 410, which it answers when a repository has issues
// turned off.
func gone(resp *gh.Response) bool {
	return resp != nil && resp.Response != nil && resp.StatusCode == http.StatusGone
}

// issuesOff is the error for a 410 from op on repo.
func issuesOff(op, repo string, resp *gh.Response, err error) error {
	integrations.Scrub(httpResponse(resp))
	return fmt.Errorf("github: %s: %w: %w", op, tandem.Errorf(tandem.EFORBIDDEN, "%s has issues turned off on GitHub.", repo), err)
}
