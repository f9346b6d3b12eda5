package github

import (
	"context"
	"net/http"
	"regexp"
	"strings"

	gh "github.com/google/go-github/v62/github"
	"github.com/tandembot/tandem"
)

// maxPerPage is the search API's page size limit.
const maxPerPage = 100

// validLogin matches GitHub logins (and GHES ones, which may hold "_"). It
// keeps a login from smuggling qualifiers into a search query.
var validLogin = regexp.MustCompile(`^[A-Za-z0-9](?:[A-Za-z0-9_-]{0,38})$`)

// OpenPullRequests returns up to limit (at least 1, 30 when limit is 0 or
// less) of the open pull requests login authored, most recently updated
// first, with the total count, searching as the account client carries: a
// private repository appears only if that account can see it. An invalid
// login gives EINVALID; see mapError for GitHub's refusals.
func (p *Provider) OpenPullRequests(ctx context.Context, client *http.Client, login string, limit int) ([]tandem.PullRequest, int, error) {
	if !validLogin.MatchString(login) {
		return nil, 0, tandem.Errorf(tandem.EINVALID, "%q is not a GitHub login.", login)
	}
	if limit <= 0 {
		limit = 30
	}
	c, err := p.client(client)
	if err != nil {
		return nil, 0, err
	}
	opts := &gh.SearchOptions{Sort: "updated", Order: "desc", ListOptions: gh.ListOptions{PerPage: min(limit, maxPerPage)}}
	q := "is:pr is:open author:" + login
	var prs []tandem.PullRequest
	total := 0
	for {
		res, resp, err := c.Search.Issues(ctx, q, opts)
		if err != nil {
			return nil, 0, mapError("search pull requests", "the pull requests of "+login, resp, err)
		}
		total = res.GetTotal()
		for _, is := range res.Issues {
			if len(prs) == limit {
				break
			}
			prs = append(prs, pullRequest(is))
		}
		if len(prs) >= limit || resp.NextPage == 0 {
			return prs, total, nil
		}
		opts.Page = resp.NextPage
	}
}

func pullRequest(is *gh.Issue) tandem.PullRequest {
	pr := tandem.PullRequest{
		Repo:   repoName(is.GetRepositoryURL()),
		Number: is.GetNumber(),
		Title:  is.GetTitle(),
		URL:    is.GetHTMLURL(),
		Draft:  is.GetDraft(),
	}
	if is.UpdatedAt != nil {
		pr.UpdatedAt = is.UpdatedAt.Time
	}
	return pr
}

// repoName turns a repository_url (https://api.github.com/repos/o/r, or
// https://HOST/api/v3/repos/o/r) into "o/r".
func repoName(repositoryURL string) string {
	i := strings.LastIndex(repositoryURL, "/repos/")
	if i < 0 {
		return ""
	}
	return strings.Trim(repositoryURL[i+len("/repos/"):], "/")
}
