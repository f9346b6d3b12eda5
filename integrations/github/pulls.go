package github

import (
	"context"
	"net/http"
	"strings"

	gh "github.com/google/go-github/v62/github"
	"github.com/tandembot/tandem"
)

// OpenPullRequests returns up to limit (at least 1, 30 when limit is 0 or
// less) of the open pull requests the account client carries authored
// (login, its login as linked, names it in messages), most recently
// updated first, with the total count, searching as that account: a
// private repository appears only if it can see it. The search names the
// account as @me, not by login: a login renamed since it was linked, and
// taken by someone else, would find that person's pull requests. An
// invalid login gives EINVALID; see mapError for GitHub's refusals.
func (p *Provider) OpenPullRequests(ctx context.Context, client *http.Client, login string, limit int) ([]tandem.PullRequest, int, error) {
	if !validLogin.MatchString(login) {
		return nil, 0, tandem.Errorf(tandem.EINVALID, "%q is not a GitHub login.", login)
	}
	items, total, err := p.search(ctx, client, "is:pr is:open author:@me", limit, "search pull requests", "the pull requests of "+login)
	if err != nil {
		return nil, 0, err
	}
	var prs []tandem.PullRequest
	for _, is := range items {
		prs = append(prs, pullRequest(is))
	}
	return prs, total, nil
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
