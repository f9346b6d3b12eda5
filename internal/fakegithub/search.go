package fakegithub

import (
	"cmp"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
)

const docsSearch = "https://docs.github.com/rest/search/search#search-issues-and-pull-requests"

// query is a parsed issue search: the qualifiers the fake understands, and
// free text matched against titles and bodies.
type query struct {
	kind            string // "pr", "issue" or "" (GitHub now insists on one)
	state           string
	draft           string // "true", "false" or ""
	author          string
	assignee        string
	reviewRequested string
	reviewedBy      string
	repo            string
	owner           string
	sort, order     string // from a sort:field-order qualifier
	terms           []string
}

// parseQuery reads q, as me searches (@me names that account, as GitHub
// lets a user qualifier do; me is "" without a token); users and
// repositories it names must exist.
func (s *Server) parseQuery(q, me string) (query, error) {
	var out query
	for _, f := range strings.Fields(q) {
		k, v, ok := strings.Cut(f, ":")
		if !ok || v == "" {
			out.terms = append(out.terms, strings.ToLower(f))
			continue
		}
		v = key(strings.Trim(v, `"`))
		if v == "@me" {
			if me == "" {
				return out, fmt.Errorf("@me without a token")
			}
			v = me
		}
		switch k {
		case "is", "type":
			switch v {
			case "pr", "pull-request":
				out.kind = "pr"
			case "issue":
				out.kind = "issue"
			case "open", "closed":
				out.state = v
			case "draft":
				out.draft = "true"
			default:
				out.terms = append(out.terms, strings.ToLower(f))
			}
		case "state":
			out.state = v
		case "draft":
			out.draft = v
		case "author":
			out.author = v
		case "assignee":
			out.assignee = v
		case "review-requested":
			out.reviewRequested = v
		case "reviewed-by":
			out.reviewedBy = v
		case "repo":
			out.repo = v
		case "user", "org":
			out.owner = v
		case "sort":
			out.sort, out.order, _ = strings.Cut(v, "-")
		case "in", "archived", "no", "label":
			// accepted, not modelled
		default:
			out.terms = append(out.terms, strings.ToLower(f))
		}
	}
	for _, l := range []string{out.author, out.assignee, out.reviewRequested, out.reviewedBy} {
		if l != "" && s.users[l] == nil {
			return out, fmt.Errorf("user %s", l)
		}
	}
	if out.owner != "" && s.users[out.owner] == nil {
		if _, ok := s.orgs[out.owner]; !ok {
			return out, fmt.Errorf("user %s", out.owner)
		}
	}
	if out.repo != "" && s.repos[out.repo] == nil {
		return out, fmt.Errorf("repo %s", out.repo)
	}
	return out, nil
}

func (q query) match(r *repo, it *item) bool {
	reviewed := func(login string) bool {
		return slices.ContainsFunc(it.reviews, func(rv *review) bool { return rv.user == login })
	}
	switch {
	case q.kind == "pr" && !it.pr, q.kind == "issue" && it.pr,
		q.state != "" && it.state != q.state,
		q.draft != "" && (!it.pr || strconv.FormatBool(it.draft) != q.draft),
		q.author != "" && it.author != q.author,
		q.assignee != "" && !slices.Contains(it.assignees, q.assignee),
		q.reviewRequested != "" && !slices.Contains(it.requested, q.reviewRequested),
		q.reviewedBy != "" && !reviewed(q.reviewedBy),
		q.repo != "" && key(r.fullName()) != q.repo,
		q.owner != "" && key(r.owner) != q.owner:
		return false
	}
	text := strings.ToLower(it.title + " " + it.body)
	for _, t := range q.terms {
		if !strings.Contains(text, t) {
			return false
		}
	}
	return true
}

type hit struct {
	r  *repo
	it *item
}

// searchIssues serves GET /search/issues.
func (s *Server) searchIssues(w http.ResponseWriter, r *http.Request, c caller) {
	p := r.URL.Query()
	raw := p.Get("q")
	if strings.TrimSpace(raw) == "" {
		validationFailed(w, docsSearch, obj{"resource": "Search", "field": "q", "code": "missing"})
		return
	}
	q, err := s.parseQuery(raw, c.key)
	if err != nil {
		validationFailed(w, docsSearch, obj{"resource": "Search", "field": "q", "code": "invalid",
			"message": "The listed users and repositories cannot be searched either because the resources do not exist or you do not have permission to view them."})
		return
	}
	if q.kind == "" {
		validationFailed(w, docsSearch, obj{"resource": "Search", "field": "q", "code": "invalid",
			"message": "Query must include 'is:issue' or 'is:pull-request'"})
		return
	}
	var hits []hit
	for _, rp := range s.repos {
		if rp.private && (!rp.collaborators[c.key] || !c.has("repo")) {
			continue
		}
		for _, it := range rp.items {
			if q.match(rp, it) {
				hits = append(hits, hit{rp, it})
			}
		}
	}
	field, order := cmp.Or(p.Get("sort"), q.sort), cmp.Or(p.Get("order"), q.order, "desc")
	slices.SortFunc(hits, func(a, b hit) int {
		var d int
		switch field {
		case "updated":
			d = a.it.updated.Compare(b.it.updated)
		case "comments":
			d = cmp.Compare(a.it.comments, b.it.comments)
		default: // created, and best match, which the fake takes as newest first
			d = a.it.created.Compare(b.it.created)
		}
		d = cmp.Or(d, cmp.Compare(a.it.id, b.it.id))
		if order != "asc" {
			d = -d
		}
		return d
	})
	perPage, page := pageParams(p)
	total := len(hits)
	lo := min((page-1)*perPage, total)
	hi := min(lo+perPage, total)
	items := []obj{}
	for _, h := range hits[lo:hi] {
		o := s.issueJSON(h.r, h.it)
		o["score"] = 1.0
		items = append(items, o)
	}
	setLinks(w, s.URL(), r.URL, page, perPage, total)
	writeJSON(w, http.StatusOK, obj{"total_count": total, "incomplete_results": false, "items": items})
}

// pageParams reads per_page (default 30, at most 100) and page (from 1).
func pageParams(p url.Values) (perPage, page int) {
	perPage, err := strconv.Atoi(p.Get("per_page"))
	if err != nil || perPage < 1 {
		perPage = 30
	}
	perPage = min(perPage, 100)
	page, err = strconv.Atoi(p.Get("page"))
	if err != nil || page < 1 {
		page = 1
	}
	return perPage, page
}

// setLinks sets the Link header GitHub uses for pagination.
func setLinks(w http.ResponseWriter, base string, u *url.URL, page, perPage, total int) {
	last := max((total+perPage-1)/perPage, 1)
	link := func(n int, rel string) string {
		q := u.Query()
		q.Set("page", strconv.Itoa(n))
		return fmt.Sprintf(`<%s%s?%s>; rel="%s"`, base, u.Path, q.Encode(), rel)
	}
	var links []string
	if page > 1 {
		links = append(links, link(page-1, "prev"))
	}
	if page < last {
		links = append(links, link(page+1, "next"), link(last, "last"))
	}
	if page > 1 {
		links = append(links, link(1, "first"))
	}
	if len(links) > 0 {
		w.Header().Set("Link", strings.Join(links, ", "))
	}
}
