package github

import (
	"context"
	"net/http"

	gh "github.com/google/go-github/v62/github"
	"github.com/tandembot/tandem"
)

// PullRequestStatus shows pull request number of repo ("owner/name") as the
// account client carries, in three calls:
//
//   - GET /repos/{owner}/{name}/pulls/{number}: state ("open", "closed" or
//     "merged"), mergeability and the head commit;
//   - GET /repos/{owner}/{name}/commits/{head}/check-runs: the latest run
//     of each check on the head commit, in GitHub's order;
//   - GET /repos/{owner}/{name}/pulls/{number}/reviews: each reviewer's
//     latest verdict, in the order they first reviewed.
//
// Mergeable is "yes" or "no" from GitHub's mergeable field, "no" as well
// when mergeable_state is "dirty" (conflicts) or the pull request is
// closed, and "unknown" while GitHub is still computing it (mergeable is
// null): GitHub starts that computation on this very request, so asking
// again a few seconds later gives an answer.
//
// A malformed repo or a number below 1 gives EINVALID and nothing is sent;
// a pull request that account cannot see gives ENOTFOUND naming the
// account; see mapError for the rest.
func (p *Provider) PullRequestStatus(ctx context.Context, client *http.Client, repo string, number int) (tandem.PullRequestStatus, error) {
	owner, name, err := parseRepo(repo)
	if err != nil {
		return tandem.PullRequestStatus{}, err
	}
	if number < 1 {
		return tandem.PullRequestStatus{}, tandem.Errorf(tandem.EINVALID, "%d is not a pull request number.", number)
	}
	c, err := p.client(client)
	if err != nil {
		return tandem.PullRequestStatus{}, err
	}
	what := refString(owner, name, number)

	pr, resp, err := c.PullRequests.Get(ctx, owner, name, number)
	if err != nil {
		return tandem.PullRequestStatus{}, refused(ctx, c, "get pull request", what, resp, err)
	}
	st := tandem.PullRequestStatus{
		PullRequest: tandem.PullRequest{
			Repo:   owner + "/" + name,
			Number: pr.GetNumber(),
			Title:  pr.GetTitle(),
			URL:    pr.GetHTMLURL(),
			Draft:  pr.GetDraft(),
		},
		State:     pr.GetState(),
		Mergeable: mergeable(pr),
		Checks:    []tandem.Check{},
		Reviews:   []tandem.Review{},
	}
	if pr.UpdatedAt != nil {
		st.PullRequest.UpdatedAt = pr.UpdatedAt.Time
	}
	if pr.GetMerged() {
		st.State = "merged"
	}

	if sha := pr.GetHead().GetSHA(); sha != "" {
		opts := &gh.ListCheckRunsOptions{ListOptions: gh.ListOptions{PerPage: maxPerPage}}
		for {
			runs, resp, err := c.Checks.ListCheckRunsForRef(ctx, owner, name, sha, opts)
			if err != nil {
				return tandem.PullRequestStatus{}, refused(ctx, c, "list check runs", "the checks of "+what, resp, err)
			}
			for _, r := range runs.CheckRuns {
				st.Checks = append(st.Checks, tandem.Check{Name: r.GetName(), Status: r.GetStatus(), Conclusion: r.GetConclusion()})
			}
			if resp.NextPage == 0 {
				break
			}
			opts.Page = resp.NextPage
		}
	}

	var all []*gh.PullRequestReview
	opts := &gh.ListOptions{PerPage: maxPerPage}
	for {
		page, resp, err := c.PullRequests.ListReviews(ctx, owner, name, number, opts)
		if err != nil {
			return tandem.PullRequestStatus{}, refused(ctx, c, "list reviews", "the reviews of "+what, resp, err)
		}
		all = append(all, page...)
		if resp.NextPage == 0 {
			break
		}
		opts.Page = resp.NextPage
	}
	st.Reviews = latestReviews(all)
	return st, nil
}

// mergeable turns GitHub's mergeable (true, false or null while it
// computes) and mergeable_state into "yes", "no" or "unknown".
func mergeable(pr *gh.PullRequest) string {
	switch {
	case pr.GetState() != "open" || pr.GetMerged():
		return "no"
	case pr.GetMergeableState() == "dirty":
		return "no"
	case pr.Mergeable == nil:
		return "unknown"
	case *pr.Mergeable:
		return "yes"
	}
	return "no"
}

// latestReviews keeps each reviewer's latest verdict from reviews, oldest
// first as GitHub lists them. As on a pull request's page, a comment-only
// review does not replace an approval or a request for changes, a dismissal
// does, and a pending (unsubmitted) review counts for nothing. A deleted
// account shows as "ghost", as GitHub shows it.
func latestReviews(reviews []*gh.PullRequestReview) []tandem.Review {
	out := []tandem.Review{}
	at := map[string]int{}
	for _, rv := range reviews {
		state := rv.GetState()
		if state == "" || state == "PENDING" {
			continue
		}
		who := rv.GetUser().GetLogin()
		if who == "" {
			who = "ghost"
		}
		i, seen := at[who]
		switch {
		case !seen:
			at[who] = len(out)
			out = append(out, tandem.Review{Reviewer: who, State: state})
		case state == "COMMENTED" && (out[i].State == "APPROVED" || out[i].State == "CHANGES_REQUESTED"):
			// A later comment leaves the verdict standing.
		default:
			out[i].State = state
		}
	}
	return out
}
