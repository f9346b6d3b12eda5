package fakegithub

import (
	"fmt"
	"maps"
	"strconv"
	"time"
)

// The JSON shapes below follow GitHub's REST API (version 2022-11-28),
// trimmed of fields no client of the fake reads. Every function is called
// with s.mu held.

type obj = map[string]any

func (s *Server) apiBase() string { return s.URL() + "/api/v3" }

func stamp(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UTC().Format(time.RFC3339)
}

func orNil(v string) any {
	if v == "" {
		return nil
	}
	return v
}

// account is the simple user (or organisation) object.
func (s *Server) account(login string, id int64, kind string) obj {
	api := s.apiBase()
	return obj{
		"login":               login,
		"id":                  id,
		"node_id":             fmt.Sprintf("U_fake%d", id),
		"avatar_url":          fmt.Sprintf("%s/avatars/u/%d", s.URL(), id),
		"gravatar_id":         "",
		"url":                 api + "/users/" + login,
		"html_url":            s.URL() + "/" + login,
		"followers_url":       api + "/users/" + login + "/followers",
		"following_url":       api + "/users/" + login + "/following{/other_user}",
		"gists_url":           api + "/users/" + login + "/gists{/gist_id}",
		"starred_url":         api + "/users/" + login + "/starred{/owner}{/repo}",
		"subscriptions_url":   api + "/users/" + login + "/subscriptions",
		"organizations_url":   api + "/users/" + login + "/orgs",
		"repos_url":           api + "/users/" + login + "/repos",
		"events_url":          api + "/users/" + login + "/events{/privacy}",
		"received_events_url": api + "/users/" + login + "/received_events",
		"type":                kind,
		"site_admin":          false,
	}
}

// userJSON returns the simple user object of a lower-case login.
func (s *Server) userJSON(login string) obj {
	u := s.users[login]
	if u == nil {
		return nil
	}
	return s.account(u.Login, u.ID, "User")
}

func (s *Server) usersJSON(logins []string) []obj {
	out := []obj{}
	for _, l := range logins {
		out = append(out, s.userJSON(l))
	}
	return out
}

func (s *Server) ownerJSON(r *repo) obj {
	if id, ok := s.orgs[key(r.owner)]; ok {
		return s.account(r.owner, id, "Organization")
	}
	return s.userJSON(key(r.owner))
}

// privateUserJSON is GET /user: the simple object plus profile and plan.
func (s *Server) privateUserJSON(u *User) obj {
	o := s.account(u.Login, u.ID, "User")
	owned := 0
	for _, r := range s.repos {
		if key(r.owner) == key(u.Login) && r.private {
			owned++
		}
	}
	created := time.Date(2015, 3, 14, 9, 26, 53, 0, time.UTC)
	maps.Copy(o, obj{
		"name": orNil(u.Name), "company": nil, "blog": "", "location": nil,
		"email": orNil(u.Email), "hireable": nil, "bio": nil, "twitter_username": nil,
		"notification_email": orNil(u.Email),
		"public_repos":       0, "public_gists": 0, "followers": 0, "following": 0,
		"created_at": stamp(created), "updated_at": stamp(created),
		"private_gists": 0, "total_private_repos": owned, "owned_private_repos": owned,
		"disk_usage": 0, "collaborators": 0, "two_factor_authentication": true,
		"plan": obj{"name": "free", "space": 976562499, "collaborators": 0, "private_repos": 10000},
	})
	return o
}

func (s *Server) repoJSON(r *repo, c *caller) obj {
	api, full := s.apiBase()+"/repos/"+r.fullName(), r.fullName()
	visibility := "public"
	if r.private {
		visibility = "private"
	}
	o := obj{
		"id": r.id, "node_id": fmt.Sprintf("R_fake%d", r.id), "name": r.name, "full_name": full,
		"private": r.private, "owner": s.ownerJSON(r), "html_url": s.URL() + "/" + full,
		"description": nil, "fork": false, "url": api,
		"issues_url": api + "/issues{/number}", "pulls_url": api + "/pulls{/number}",
		"contents_url": api + "/contents/{+path}", "commits_url": api + "/commits{/sha}",
		"created_at": stamp(r.created), "updated_at": stamp(r.created), "pushed_at": stamp(r.created),
		"git_url":   "git://" + s.URL()[len("http://"):] + "/" + full + ".git",
		"clone_url": s.URL() + "/" + full + ".git", "homepage": nil, "size": 0,
		"stargazers_count": 0, "watchers_count": 0, "language": nil, "has_issues": true,
		"forks_count": 0, "archived": false, "disabled": false, "open_issues_count": r.openCount(),
		"visibility": visibility, "default_branch": r.defaultBranch,
	}
	if c != nil {
		push := r.collaborators[c.key]
		o["permissions"] = obj{"admin": push && key(r.owner) == c.key, "maintain": push, "push": push, "triage": push, "pull": true}
	}
	return o
}

func (r *repo) openCount() int {
	n := 0
	for _, it := range r.items {
		if it.state == "open" {
			n++
		}
	}
	return n
}

func (s *Server) issueURL(r *repo, it *item) (api, html string) {
	api = s.apiBase() + "/repos/" + r.fullName() + "/issues/" + strconv.Itoa(it.number)
	kind := "issues"
	if it.pr {
		kind = "pull"
	}
	return api, s.URL() + "/" + r.fullName() + "/" + kind + "/" + strconv.Itoa(it.number)
}

func association(r *repo, login string) string {
	switch {
	case key(r.owner) == login:
		return "OWNER"
	case r.collaborators[login]:
		return "COLLABORATOR"
	}
	return "NONE"
}

// issueJSON is the issue object, which search results and the issues API
// share; pull requests carry a pull_request object and draft.
func (s *Server) issueJSON(r *repo, it *item) obj {
	api, html := s.issueURL(r, it)
	var assignee any
	if len(it.assignees) > 0 {
		assignee = s.userJSON(it.assignees[0])
	}
	o := obj{
		"url": api, "repository_url": s.apiBase() + "/repos/" + r.fullName(),
		"labels_url": api + "/labels{/name}", "comments_url": api + "/comments",
		"events_url": api + "/events", "html_url": html, "id": it.id,
		"node_id": fmt.Sprintf("I_fake%d", it.id), "number": it.number, "title": it.title,
		"user": s.userJSON(it.author), "labels": []obj{}, "state": it.state, "locked": false,
		"assignee": assignee, "assignees": s.usersJSON(it.assignees), "milestone": nil,
		"comments": it.comments, "created_at": stamp(it.created), "updated_at": stamp(it.updated),
		"closed_at": nil, "author_association": association(r, it.author),
		"active_lock_reason": nil, "body": orNil(it.body), "state_reason": nil,
		"timeline_url": api + "/timeline", "performed_via_github_app": nil,
		"reactions": obj{"url": api + "/reactions", "total_count": 0, "+1": 0, "-1": 0, "laugh": 0,
			"hooray": 0, "confused": 0, "heart": 0, "rocket": 0, "eyes": 0},
	}
	if it.pr {
		pulls := s.apiBase() + "/repos/" + r.fullName() + "/pulls/" + strconv.Itoa(it.number)
		o["draft"] = it.draft
		o["pull_request"] = obj{"url": pulls, "html_url": html, "diff_url": html + ".diff", "patch_url": html + ".patch", "merged_at": nil}
	}
	return o
}

// pullJSON is GET /repos/{o}/{r}/pulls/{n}.
func (s *Server) pullJSON(r *repo, it *item) obj {
	issueAPI, html := s.issueURL(r, it)
	api := s.apiBase() + "/repos/" + r.fullName() + "/pulls/" + strconv.Itoa(it.number)
	base := r.branches[r.defaultBranch]
	o := s.issueJSON(r, it)
	delete(o, "pull_request")
	delete(o, "repository_url")
	delete(o, "reactions")
	delete(o, "timeline_url")
	delete(o, "performed_via_github_app")
	delete(o, "state_reason")
	delete(o, "labels_url")
	delete(o, "events_url")
	maps.Copy(o, obj{
		"url": api, "html_url": html, "diff_url": html + ".diff", "patch_url": html + ".patch",
		"issue_url": issueAPI, "node_id": fmt.Sprintf("PR_fake%d", it.id),
		"commits_url": api + "/commits", "review_comments_url": api + "/comments",
		"review_comment_url":  s.apiBase() + "/repos/" + r.fullName() + "/pulls/comments{/number}",
		"comments_url":        issueAPI + "/comments",
		"statuses_url":        s.apiBase() + "/repos/" + r.fullName() + "/statuses/" + it.headSHA,
		"requested_reviewers": s.usersJSON(it.requested), "requested_teams": []obj{},
		"merged_at": nil, "merge_commit_sha": nil, "auto_merge": nil,
		"head":   s.refJSON(r, it.headRef, it.headSHA, it.author),
		"base":   s.refJSON(r, r.defaultBranch, base.head, key(r.owner)),
		"merged": false, "mergeable": true, "rebaseable": true, "mergeable_state": "clean",
		"merged_by": nil, "review_comments": 0, "maintainer_can_modify": false,
		"commits": 1, "additions": 1, "deletions": 0, "changed_files": 1,
		"_links": obj{"self": obj{"href": api}, "html": obj{"href": html}, "issue": obj{"href": issueAPI},
			"comments": obj{"href": issueAPI + "/comments"}, "review_comments": obj{"href": api + "/comments"},
			"commits": obj{"href": api + "/commits"}},
	})
	return o
}

func (s *Server) refJSON(r *repo, ref, sha, userLogin string) obj {
	user := s.userJSON(userLogin)
	if user == nil {
		user = s.ownerJSON(r)
	}
	return obj{"label": r.owner + ":" + ref, "ref": ref, "sha": sha, "user": user, "repo": s.repoJSON(r, nil)}
}

func (s *Server) reviewJSON(r *repo, it *item, rv *review) obj {
	_, html := s.issueURL(r, it)
	pull := s.apiBase() + "/repos/" + r.fullName() + "/pulls/" + strconv.Itoa(it.number)
	return obj{
		"id": rv.id, "node_id": fmt.Sprintf("PRR_fake%d", rv.id), "user": s.userJSON(rv.user),
		"body": rv.body, "state": rv.state,
		"html_url":         fmt.Sprintf("%s#pullrequestreview-%d", html, rv.id),
		"pull_request_url": pull, "author_association": association(r, rv.user),
		"_links":       obj{"html": obj{"href": fmt.Sprintf("%s#pullrequestreview-%d", html, rv.id)}, "pull_request": obj{"href": pull}},
		"submitted_at": stamp(rv.submitted), "commit_id": rv.commit,
	}
}

func (s *Server) checkRunJSON(r *repo, c *checkRun) obj {
	api := s.apiBase() + "/repos/" + r.fullName() + "/check-runs/" + strconv.FormatInt(c.id, 10)
	html := fmt.Sprintf("%s/%s/runs/%d", s.URL(), r.fullName(), c.id)
	return obj{
		"id": c.id, "head_sha": c.headSHA, "node_id": fmt.Sprintf("CR_fake%d", c.id),
		"external_id": "", "url": api, "html_url": html, "details_url": html,
		"status": c.status, "conclusion": orNil(c.conclusion),
		"started_at": stamp(c.started), "completed_at": stamp(c.completedAt),
		"output": obj{"title": orNil(c.name), "summary": nil, "text": nil, "annotations_count": 0,
			"annotations_url": api + "/annotations"},
		"name": c.name, "check_suite": obj{"id": c.id + 1},
		"app":           obj{"id": 15368, "slug": "github-actions", "name": "GitHub Actions"},
		"pull_requests": []obj{},
	}
}
