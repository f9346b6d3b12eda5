package gitlab

import (
	"context"
	"net/http"
	"regexp"
	"strconv"
	"strings"

	"github.com/tandembot/tandem"
	gl "gitlab.com/gitlab-org/api/client-go"
)

// maxPerPage is GitLab's page size limit.
const maxPerPage = 100

// validLogin matches GitLab usernames: letters, digits, "_", "-" and ".",
// not starting with "-" or ending with ".".
var validLogin = regexp.MustCompile(`^[A-Za-z0-9_.][A-Za-z0-9_.-]{0,254}$`)

func checkLogin(login string) error {
	if !validLogin.MatchString(login) || strings.HasSuffix(login, ".") {
		return tandem.Errorf(tandem.EINVALID, "%q is not a GitLab username.", login)
	}
	return nil
}

// OpenPullRequests returns up to limit (at least 1, 30 when limit is 0 or
// less) of the open merge requests created by the account client carries
// (GET /merge_requests?scope=created_by_me&state=opened), most recently
// updated first, with the total count. GitLab takes the author from the
// token; login, which must be that account's username, names it in errors.
// PullRequest.Repo is the project path and Number the iid. An invalid login
// gives EINVALID; see mapError for GitLab's refusals.
func (p *Provider) OpenPullRequests(ctx context.Context, client *http.Client, login string, limit int) ([]tandem.PullRequest, int, error) {
	if err := checkLogin(login); err != nil {
		return nil, 0, err
	}
	c, err := p.client(client)
	if err != nil {
		return nil, 0, err
	}
	opts := &gl.ListMergeRequestsOptions{State: gl.Ptr("opened"), Scope: gl.Ptr("created_by_me")}
	return p.mergeRequests(ctx, c, opts, limit, "list merge requests", "the merge requests of "+login)
}

// ReviewRequests returns up to limit (30 when limit is 0 or less) of the
// open merge requests that have the account client carries among their
// reviewers (login, its username as linked, names it in messages), in
// every project that account can see (GET /user for its id, then
// GET /merge_requests?reviewer_id=ID&scope=all&state=opened), most recently
// updated first, with the total count. The reviewer is named by the
// token's own id, not by login: a username changed since it was linked,
// and taken by someone else, would find that person's review requests. An
// invalid login gives EINVALID; see mapError for GitLab's refusals.
func (p *Provider) ReviewRequests(ctx context.Context, client *http.Client, login string, limit int) ([]tandem.PullRequest, int, error) {
	if err := checkLogin(login); err != nil {
		return nil, 0, err
	}
	c, err := p.client(client)
	if err != nil {
		return nil, 0, err
	}
	me, resp, err := c.Users.CurrentUser(gl.WithContext(ctx))
	if err != nil {
		return nil, 0, mapError("list review requests", "the merge requests waiting for "+login, resp, err)
	}
	opts := &gl.ListMergeRequestsOptions{State: gl.Ptr("opened"), Scope: gl.Ptr("all"), ReviewerID: gl.ReviewerID(me.ID)}
	return p.mergeRequests(ctx, c, opts, limit, "list review requests", "the merge requests waiting for "+login)
}

// mergeRequests lists the merge requests opts selects through c, most
// recently updated first, up to limit (30 when 0 or less), with the total
// count; op and what name the request in errors (mapError).
func (p *Provider) mergeRequests(ctx context.Context, c *gl.Client, opts *gl.ListMergeRequestsOptions, limit int, op, what string) ([]tandem.PullRequest, int, error) {
	if limit <= 0 {
		limit = 30
	}
	opts.OrderBy, opts.Sort = gl.Ptr("updated_at"), gl.Ptr("desc")
	opts.PerPage = int64(min(limit, maxPerPage))
	var prs []tandem.PullRequest
	total := 0
	for {
		mrs, resp, err := c.MergeRequests.ListMergeRequests(opts, gl.WithContext(ctx))
		if err != nil {
			return nil, 0, mapError(op, what, resp, err)
		}
		total = int(resp.TotalItems)
		for _, mr := range mrs {
			if len(prs) == limit {
				break
			}
			prs = append(prs, p.pullRequest(mr))
		}
		if len(prs) >= limit || resp.NextPage == 0 {
			// GitLab leaves X-Total out past 10,000 results.
			return prs, max(total, len(prs)), nil
		}
		opts.Page = resp.NextPage
	}
}

func (p *Provider) pullRequest(mr *gl.BasicMergeRequest) tandem.PullRequest {
	pr := tandem.PullRequest{
		Repo:   p.projectPath(mr.References, "!", mr.IID, mr.WebURL),
		Number: int(mr.IID),
		Title:  mr.Title,
		URL:    mr.WebURL,
		Draft:  mr.Draft,
	}
	if mr.UpdatedAt != nil {
		pr.UpdatedAt = mr.UpdatedAt.UTC()
	}
	return pr
}

// projectPath returns the path of the project an issue (sep "#") or merge
// request (sep "!") belongs to: its full reference without the number, or
// else the part of its web URL before "/-/".
func (p *Provider) projectPath(refs *gl.IssueReferences, sep string, iid int64, webURL string) string {
	if refs != nil {
		if path, ok := strings.CutSuffix(refs.Full, sep+strconv.FormatInt(iid, 10)); ok && path != "" {
			return path
		}
	}
	if rest, ok := strings.CutPrefix(webURL, p.web+"/"); ok {
		if path, _, ok := strings.Cut(rest, "/-/"); ok {
			return path
		}
	}
	return ""
}
