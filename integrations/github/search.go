package github

import (
	"context"
	"net/http"
	"regexp"

	gh "github.com/google/go-github/v62/github"
)

// maxPerPage is the search API's page size limit.
const maxPerPage = 100

// validLogin matches GitHub logins (and GHES ones, which may hold "_"). It
// keeps a login from smuggling qualifiers into a search query.
var validLogin = regexp.MustCompile(`^[A-Za-z0-9](?:[A-Za-z0-9_-]{0,38})$`)

// search runs an issue search (GET /search/issues, q) sorted by updated,
// newest first, as the account client carries, and returns up to limit
// items (30 when limit is 0 or less) with the total count, following pages
// as needed. op and what name the search for mapError.
func (p *Provider) search(ctx context.Context, client *http.Client, q string, limit int, op, what string) ([]*gh.Issue, int, error) {
	if limit <= 0 {
		limit = 30
	}
	c, err := p.client(client)
	if err != nil {
		return nil, 0, err
	}
	opts := &gh.SearchOptions{Sort: "updated", Order: "desc", ListOptions: gh.ListOptions{PerPage: min(limit, maxPerPage)}}
	var items []*gh.Issue
	total := 0
	for {
		res, resp, err := c.Search.Issues(ctx, q, opts)
		if err != nil {
			return nil, 0, mapError(op, what, resp, err)
		}
		total = res.GetTotal()
		for _, is := range res.Issues {
			if len(items) == limit {
				break
			}
			items = append(items, is)
		}
		if len(items) >= limit || resp.NextPage == 0 {
			return items, total, nil
		}
		opts.Page = resp.NextPage
	}
}
