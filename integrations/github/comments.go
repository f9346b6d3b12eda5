package github

import (
	"context"
	"net/http"

	gh "github.com/google/go-github/v62/github"
	"github.com/tandembot/tandem/ops"
)

var _ ops.Commenter = (*Provider)(nil)

// Comment posts body on the issue or pull request ref ("owner/name#N") as
// the account client carries, and returns the comment's web URL. GitHub
// keeps pull request conversations under the issues API, so one endpoint
// (POST /repos/{owner}/{name}/issues/{N}/comments) serves both; site is
// unused. A malformed ref, or a body that is empty or over 65536
// characters, gives EINVALID and nothing is sent; an issue that account
// cannot see gives ENOTFOUND naming the account; see mapError for the rest.
func (p *Provider) Comment(ctx context.Context, client *http.Client, site, ref, body string) (string, error) {
	owner, name, number, err := parseRef(ref)
	if err != nil {
		return "", err
	}
	if err := checkBody("The comment", body, true); err != nil {
		return "", err
	}
	c, err := p.client(client)
	if err != nil {
		return "", err
	}
	what := refString(owner, name, number)
	cm, resp, err := c.Issues.CreateComment(ctx, owner, name, number, &gh.IssueComment{Body: gh.String(body)})
	if err != nil {
		if gone(resp) {
			return "", issuesOff("comment", owner+"/"+name, resp, err)
		}
		return "", refused(ctx, c, "comment", what, resp, err)
	}
	return cm.GetHTMLURL(), nil
}
