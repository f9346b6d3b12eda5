package github

import (
	"context"
	"net/http"

	"github.com/tandembot/tandem"
)

// ReviewRequests returns up to limit (30 when limit is 0 or less) of the
// open pull requests that wait for login's review, most recently updated
// first, with the total count. It searches "is:pr is:open
// review-requested:@me" (the account client carries, as GitHub knows it
// now, whatever login it had when linked), which counts requests made to a
// team login belongs to as well as to login, as GitHub's own
// review-requests list does;
// a submitted review ends the request. It searches as the account client
// carries, so private repositories appear only if that account can see
// them. An invalid login gives EINVALID; see mapError for GitHub's
// refusals.
func (p *Provider) ReviewRequests(ctx context.Context, client *http.Client, login string, limit int) ([]tandem.PullRequest, int, error) {
	if !validLogin.MatchString(login) {
		return nil, 0, tandem.Errorf(tandem.EINVALID, "%q is not a GitHub login.", login)
	}
	items, total, err := p.search(ctx, client, "is:pr is:open review-requested:@me", limit,
		"search review requests", "the review requests of "+login)
	if err != nil {
		return nil, 0, err
	}
	var prs []tandem.PullRequest
	for _, is := range items {
		prs = append(prs, pullRequest(is))
	}
	return prs, total, nil
}
