package fakegithub

import (
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"strings"
)

const (
	docsIssues   = "https://docs.github.com/rest/issues/issues"
	docsComments = "https://docs.github.com/rest/issues/comments"
	docsPulls    = "https://docs.github.com/rest/pulls/pulls"
	docsChecks   = "https://docs.github.com/rest/checks/runs"
)

// need is what a request does to a repository.
type need int

const (
	read  need = iota
	write      // open issues, comment: anyone who can see a public repository
	push       // commit: collaborators only
)

// repoFor returns the repository of the request's {owner}/{repo} if c may
// do n to it, and otherwise answers 404, as GitHub does rather than reveal
// that a private repository exists. The caller holds s.mu.
func (s *Server) repoFor(w http.ResponseWriter, r *http.Request, c caller, n need, doc string) *repo {
	rp := s.repos[key(r.PathValue("owner")+"/"+r.PathValue("repo"))]
	ok := rp != nil
	if ok && rp.private {
		ok = rp.collaborators[c.key] && c.has("repo")
	}
	if ok && n >= write {
		ok = c.has("public_repo") // implied by repo
	}
	if ok && n == push {
		ok = rp.collaborators[c.key]
	}
	if !ok {
		if n >= write && !c.app {
			w.Header().Set("X-Accepted-OAuth-Scopes", "repo")
		}
		notFound(w, doc)
		return nil
	}
	return rp
}

// itemFor returns the issue or pull request {number} of rp, or answers 404.
func itemFor(w http.ResponseWriter, r *http.Request, rp *repo, pr bool, doc string) *item {
	n, err := strconv.Atoi(r.PathValue("number"))
	it := rp.items[n]
	if err != nil || it == nil || (pr && !it.pr) {
		notFound(w, doc)
		return nil
	}
	return it
}

func (s *Server) getRepo(w http.ResponseWriter, r *http.Request, c caller) {
	if rp := s.repoFor(w, r, c, read, "https://docs.github.com/rest/repos/repos#get-a-repository"); rp != nil {
		writeJSON(w, http.StatusOK, s.repoJSON(rp, &c))
	}
}

func (s *Server) getIssue(w http.ResponseWriter, r *http.Request, c caller) {
	rp := s.repoFor(w, r, c, read, docsIssues)
	if rp == nil {
		return
	}
	if it := itemFor(w, r, rp, false, docsIssues); it != nil {
		writeJSON(w, http.StatusOK, s.issueJSON(rp, it))
	}
}

// createIssue serves POST /repos/{o}/{r}/issues; the token's owner is the
// author. Assignees stick only when the author has push access, as on
// GitHub.
func (s *Server) createIssue(w http.ResponseWriter, r *http.Request, c caller) {
	rp := s.repoFor(w, r, c, write, docsIssues)
	if rp == nil {
		return
	}
	var in struct {
		Title     any      `json:"title"` // GitHub accepts a string or a number
		Body      string   `json:"body"`
		Assignee  string   `json:"assignee"`
		Assignees []string `json:"assignees"`
	}
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
		apiError(w, http.StatusBadRequest, "Problems parsing JSON", docsIssues)
		return
	}
	title := ""
	switch t := in.Title.(type) {
	case string:
		title = t
	case float64:
		title = strconv.FormatFloat(t, 'f', -1, 64)
	}
	if strings.TrimSpace(title) == "" {
		validationFailed(w, docsIssues, obj{"resource": "Issue", "code": "missing_field", "field": "title"})
		return
	}
	it := s.addItem(rp.fullName(), c.user.Login, title, false)
	it.body = in.Body
	if in.Assignee != "" {
		in.Assignees = append(in.Assignees, in.Assignee)
	}
	for _, a := range in.Assignees {
		if rp.collaborators[c.key] && rp.collaborators[key(a)] && !slices.Contains(it.assignees, key(a)) {
			it.assignees = append(it.assignees, key(a))
		}
	}
	o := s.issueJSON(rp, it)
	w.Header().Set("Location", o["url"].(string))
	writeJSON(w, http.StatusCreated, o)
}

// createComment serves POST /repos/{o}/{r}/issues/{n}/comments, which also
// comments on pull requests.
func (s *Server) createComment(w http.ResponseWriter, r *http.Request, c caller) {
	rp := s.repoFor(w, r, c, write, docsComments)
	if rp == nil {
		return
	}
	it := itemFor(w, r, rp, false, docsComments)
	if it == nil {
		return
	}
	var in struct {
		Body string `json:"body"`
	}
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
		apiError(w, http.StatusBadRequest, "Problems parsing JSON", docsComments)
		return
	}
	if strings.TrimSpace(in.Body) == "" {
		validationFailed(w, docsComments, obj{"resource": "IssueComment", "code": "missing_field", "field": "body"})
		return
	}
	id := s.id()
	now := s.stamp()
	it.comments++
	it.updated = now
	s.comments = append(s.comments, Comment{Repo: rp.fullName(), Number: it.number, AuthorLogin: c.user.Login, Body: in.Body})
	issueAPI, html := s.issueURL(rp, it)
	api := s.apiBase() + "/repos/" + rp.fullName() + "/issues/comments/" + strconv.FormatInt(id, 10)
	o := obj{
		"id": id, "node_id": "IC_fake" + strconv.FormatInt(id, 10), "url": api,
		"html_url": html + "#issuecomment-" + strconv.FormatInt(id, 10), "body": in.Body,
		"user": s.userJSON(c.key), "created_at": stamp(now), "updated_at": stamp(now),
		"issue_url": issueAPI, "author_association": association(rp, c.key),
		"performed_via_github_app": nil,
	}
	w.Header().Set("Location", api)
	writeJSON(w, http.StatusCreated, o)
}

func (s *Server) getPull(w http.ResponseWriter, r *http.Request, c caller) {
	rp := s.repoFor(w, r, c, read, docsPulls)
	if rp == nil {
		return
	}
	if it := itemFor(w, r, rp, true, docsPulls); it != nil {
		writeJSON(w, http.StatusOK, s.pullJSON(rp, it))
	}
}

func (s *Server) listReviews(w http.ResponseWriter, r *http.Request, c caller) {
	const doc = "https://docs.github.com/rest/pulls/reviews"
	rp := s.repoFor(w, r, c, read, doc)
	if rp == nil {
		return
	}
	it := itemFor(w, r, rp, true, doc)
	if it == nil {
		return
	}
	out := []obj{}
	for _, rv := range it.reviews {
		out = append(out, s.reviewJSON(rp, it, rv))
	}
	writeJSON(w, http.StatusOK, out)
}

// listCheckRuns serves GET /repos/{o}/{r}/commits/{ref}/check-runs; ref is
// a branch name (which may hold slashes) or a commit SHA.
func (s *Server) listCheckRuns(w http.ResponseWriter, r *http.Request, c caller) {
	ref, ok := strings.CutSuffix(r.PathValue("rest"), "/check-runs")
	if !ok || ref == "" {
		notFound(w, docsREST)
		return
	}
	rp := s.repoFor(w, r, c, read, docsChecks)
	if rp == nil {
		return
	}
	sha := ref
	if b := rp.branches[ref]; b != nil {
		sha = b.head
	} else if !isSHA(ref) {
		validationFailed(w, docsChecks, obj{"resource": "Commit", "field": "ref", "code": "invalid", "message": "No commit found for SHA: " + ref})
		return
	}
	q := r.URL.Query()
	runs := []obj{}
	for _, rc := range s.checks {
		if rc.repo != key(rp.fullName()) || rc.run.headSHA != sha {
			continue
		}
		if n := q.Get("check_name"); n != "" && n != rc.run.name {
			continue
		}
		if st := q.Get("status"); st != "" && st != rc.run.status {
			continue
		}
		runs = append(runs, s.checkRunJSON(rp, rc.run))
	}
	writeJSON(w, http.StatusOK, obj{"total_count": len(runs), "check_runs": runs})
}

func isSHA(s string) bool {
	if len(s) != 40 {
		return false
	}
	for _, r := range s {
		if !strings.ContainsRune("0123456789abcdef", r) {
			return false
		}
	}
	return true
}
