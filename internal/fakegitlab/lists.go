package fakegitlab

import (
	"cmp"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// listParams are the filters /merge_requests and /issues share.
type listParams struct {
	state            string
	scope            string
	authorUsername   string
	assigneeUsername string
	reviewerUsername string
	reviewerID       int64 // 0: any
	search           string
	orderBy, sort    string
	perPage, page    int
}

// parseList reads and checks the parameters, answering 400 as GitLab does
// for a value outside its list.
func parseList(w http.ResponseWriter, q url.Values, states, scopes, orders []string) (listParams, bool) {
	p := listParams{
		state:            cmp.Or(q.Get("state"), "all"),
		scope:            strings.ReplaceAll(cmp.Or(q.Get("scope"), "created_by_me"), "-", "_"),
		authorUsername:   key(q.Get("author_username")),
		assigneeUsername: key(q.Get("assignee_username")),
		reviewerUsername: key(q.Get("reviewer_username")),
		search:           strings.ToLower(q.Get("search")),
		orderBy:          cmp.Or(q.Get("order_by"), "created_at"),
		sort:             cmp.Or(q.Get("sort"), "desc"),
	}
	for _, v := range []struct {
		name, value string
		allowed     []string
	}{
		{"state", p.state, states}, {"scope", p.scope, scopes},
		{"order_by", p.orderBy, orders}, {"sort", p.sort, []string{"asc", "desc"}},
	} {
		if !slices.Contains(v.allowed, v.value) {
			badRequest(w, v.name+" does not have a valid value")
			return p, false
		}
	}
	if q.Get("author_id") != "" && q.Get("author_username") != "" {
		badRequest(w, "author_id, author_username are mutually exclusive")
		return p, false
	}
	if v := q.Get("reviewer_id"); v != "" {
		if q.Get("reviewer_username") != "" {
			badRequest(w, "reviewer_id, reviewer_username are mutually exclusive")
			return p, false
		}
		id, err := strconv.ParseInt(v, 10, 64)
		if err != nil || id <= 0 {
			badRequest(w, "reviewer_id is invalid")
			return p, false
		}
		p.reviewerID = id
	}
	p.perPage, p.page = pageParams(q)
	return p, true
}

// pageParams reads per_page (default 20, at most 100) and page (from 1).
func pageParams(q url.Values) (perPage, page int) {
	perPage, err := strconv.Atoi(q.Get("per_page"))
	if err != nil || perPage < 1 {
		perPage = 20
	}
	perPage = min(perPage, 100)
	page, err = strconv.Atoi(q.Get("page"))
	if err != nil || page < 1 {
		page = 1
	}
	return perPage, page
}

// sorted orders items by created_at or updated_at (then id) in p.sort
// order.
func sorted[T any](items []T, p listParams, created, updated func(T) time.Time, id func(T) int64) {
	slices.SortFunc(items, func(a, b T) int {
		var d int
		if p.orderBy == "updated_at" {
			d = updated(a).Compare(updated(b))
		} else {
			d = created(a).Compare(created(b))
		}
		d = cmp.Or(d, cmp.Compare(id(a), id(b)))
		if p.sort == "desc" {
			d = -d
		}
		return d
	})
}

// paginate sets GitLab's offset pagination headers and returns the bounds
// of the page within total items.
func (s *Server) paginate(w http.ResponseWriter, r *http.Request, p listParams, total int) (lo, hi int) {
	pages := max((total+p.perPage-1)/p.perPage, 1)
	h := w.Header()
	h.Set("X-Page", strconv.Itoa(p.page))
	h.Set("X-Per-Page", strconv.Itoa(p.perPage))
	h.Set("X-Total", strconv.Itoa(total))
	h.Set("X-Total-Pages", strconv.Itoa(pages))
	h.Set("X-Next-Page", "")
	h.Set("X-Prev-Page", "")
	link := func(n int, rel string) string {
		q := r.URL.Query()
		q.Set("page", strconv.Itoa(n))
		q.Set("per_page", strconv.Itoa(p.perPage))
		return fmt.Sprintf(`<%s%s?%s>; rel="%s"`, s.URL(), r.URL.EscapedPath(), q.Encode(), rel)
	}
	var links []string
	if p.page > 1 {
		h.Set("X-Prev-Page", strconv.Itoa(min(p.page-1, pages)))
		links = append(links, link(min(p.page-1, pages), "prev"))
	}
	if p.page < pages {
		h.Set("X-Next-Page", strconv.Itoa(p.page+1))
		links = append(links, link(p.page+1, "next"))
	}
	links = append(links, link(1, "first"), link(pages, "last"))
	h.Set("Link", strings.Join(links, ", "))
	lo = min((p.page-1)*p.perPage, total)
	return lo, min(lo+p.perPage, total)
}

type mrHit struct {
	p  *project
	mr *mergeRequest
}

// listMergeRequests serves GET /merge_requests: merge requests of every
// project the caller can see, filtered by scope (created_by_me by
// default), state and user names or ids (reviewer_id).
func (s *Server) listMergeRequests(w http.ResponseWriter, r *http.Request, c caller) {
	lp, ok := parseList(w, r.URL.Query(),
		[]string{"opened", "closed", "locked", "merged", "all"},
		[]string{"created_by_me", "assigned_to_me", "reviews_for_me", "all"},
		[]string{"created_at", "updated_at", "title", "merged_at"})
	if !ok {
		return
	}
	if lp.reviewerID != 0 {
		// GitLab names the reviewer by id; the fake keeps reviewers by
		// username. An id of nobody matches nothing.
		lp.reviewerUsername = "\x00nobody"
		for k, u := range s.users {
			if u.ID == lp.reviewerID {
				lp.reviewerUsername = k
			}
		}
	}
	var hits []mrHit
	for _, p := range s.projects {
		if !p.readable(c.key) {
			continue
		}
		for _, mr := range p.mrs {
			if lp.matchMR(mr, c.key) {
				hits = append(hits, mrHit{p, mr})
			}
		}
	}
	sorted(hits, lp, func(h mrHit) time.Time { return h.mr.created }, func(h mrHit) time.Time { return h.mr.updated },
		func(h mrHit) int64 { return h.mr.id })
	lo, hi := s.paginate(w, r, lp, len(hits))
	out := []obj{}
	for _, h := range hits[lo:hi] {
		out = append(out, s.mergeRequestJSON(h.p, h.mr))
	}
	writeJSON(w, http.StatusOK, out)
}

func (lp listParams) matchMR(mr *mergeRequest, me string) bool {
	switch {
	case lp.state != "all" && mr.state != lp.state,
		lp.scope == "created_by_me" && mr.author != me,
		lp.scope == "assigned_to_me" && !slices.Contains(mr.assignees, me),
		lp.scope == "reviews_for_me" && !slices.Contains(mr.reviewers, me),
		lp.authorUsername != "" && mr.author != lp.authorUsername,
		lp.assigneeUsername != "" && !slices.Contains(mr.assignees, lp.assigneeUsername),
		lp.reviewerUsername != "" && !slices.Contains(mr.reviewers, lp.reviewerUsername),
		lp.search != "" && !strings.Contains(strings.ToLower(mr.title+" "+mr.description), lp.search):
		return false
	}
	return true
}

type issueHit struct {
	p  *project
	is *issue
}

// listIssues serves GET /issues: issues of every project the caller can
// see, filtered by scope (created_by_me by default), state and user names.
func (s *Server) listIssues(w http.ResponseWriter, r *http.Request, c caller) {
	lp, ok := parseList(w, r.URL.Query(),
		[]string{"opened", "closed", "all"},
		[]string{"created_by_me", "assigned_to_me", "all"},
		[]string{"created_at", "updated_at", "title", "priority", "due_date", "relative_position"})
	if !ok {
		return
	}
	var hits []issueHit
	for _, p := range s.projects {
		if !p.readable(c.key) {
			continue
		}
		for _, is := range p.issues {
			if lp.matchIssue(is, c.key) {
				hits = append(hits, issueHit{p, is})
			}
		}
	}
	sorted(hits, lp, func(h issueHit) time.Time { return h.is.created }, func(h issueHit) time.Time { return h.is.updated },
		func(h issueHit) int64 { return h.is.id })
	lo, hi := s.paginate(w, r, lp, len(hits))
	out := []obj{}
	for _, h := range hits[lo:hi] {
		out = append(out, s.issueJSON(h.p, h.is))
	}
	writeJSON(w, http.StatusOK, out)
}

func (lp listParams) matchIssue(is *issue, me string) bool {
	switch {
	case lp.state != "all" && is.state != lp.state,
		lp.scope == "created_by_me" && is.author != me,
		lp.scope == "assigned_to_me" && !slices.Contains(is.assignees, me),
		lp.authorUsername != "" && is.author != lp.authorUsername,
		lp.assigneeUsername != "" && !slices.Contains(is.assignees, lp.assigneeUsername),
		lp.search != "" && !strings.Contains(strings.ToLower(is.title+" "+is.description), lp.search):
		return false
	}
	return true
}
