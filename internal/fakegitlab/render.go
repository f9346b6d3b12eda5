package fakegitlab

import (
	"fmt"
	"maps"
	"strconv"
	"strings"
	"time"
)

// The JSON shapes below follow GitLab's REST API v4, trimmed of fields no
// client of the fake reads. Every function is called with s.mu held.

type obj = map[string]any

func (s *Server) apiBase() string { return s.URL() + "/api/v4" }

// stamp formats a time as GitLab does: UTC with milliseconds.
func stamp(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UTC().Format("2006-01-02T15:04:05.000Z")
}

// userJSON is the basic user object of a lower-case login.
func (s *Server) userJSON(login string) obj {
	u := s.users[login]
	if u == nil {
		return nil
	}
	return obj{
		"id":         u.ID,
		"username":   u.Login,
		"name":       u.Name,
		"state":      "active",
		"locked":     false,
		"avatar_url": fmt.Sprintf("%s/uploads/-/system/user/avatar/%d/avatar.png", s.URL(), u.ID),
		"web_url":    s.URL() + "/" + u.Login,
	}
}

func (s *Server) usersJSON(logins []string) []obj {
	out := []obj{}
	for _, l := range logins {
		out = append(out, s.userJSON(l))
	}
	return out
}

// currentUserJSON is GET /user: the basic object plus profile and settings.
func (s *Server) currentUserJSON(u *User, scopes []string) obj {
	o := s.userJSON(key(u.Login))
	created := time.Date(2019, 4, 2, 9, 26, 53, 0, time.UTC)
	email := u.Email
	if email == "" {
		email = u.Login + "@example.com"
	}
	maps.Copy(o, obj{
		"created_at": stamp(created), "bio": "", "location": "", "public_email": nil,
		"skype": "", "linkedin": "", "twitter": "", "discord": "", "website_url": "",
		"organization": "", "job_title": "", "pronouns": nil, "bot": false,
		"work_information": nil, "local_time": nil,
		"last_sign_in_at": stamp(created), "confirmed_at": stamp(created),
		"last_activity_on": s.now().UTC().Format("2006-01-02"),
		"email":            email, "theme_id": 1, "color_scheme_id": 1, "projects_limit": 100000,
		"current_sign_in_at": stamp(created), "identities": []obj{},
		"can_create_group": true, "can_create_project": true, "two_factor_enabled": false,
		"external": false, "private_profile": false, "commit_email": email,
		"preferred_language": "en", "shared_runners_minutes_limit": nil,
		"extra_shared_runners_minutes_limit": nil, "scim_identities": []obj{},
	})
	return o
}

func (s *Server) namespaceJSON(p *project) obj {
	ns := p.namespace()
	g := s.groups[key(ns)]
	kind, id := "group", int64(0)
	if g != nil {
		id = g.id
		if g.user {
			kind = "user"
		}
	}
	var parent any
	if i := strings.LastIndex(ns, "/"); i > 0 {
		if pg := s.groups[key(ns[:i])]; pg != nil {
			parent = pg.id
		}
	}
	name := ns[strings.LastIndex(ns, "/")+1:]
	if u := s.users[key(ns)]; kind == "user" && u != nil {
		name = u.Name
	}
	return obj{
		"id": id, "name": name, "path": ns[strings.LastIndex(ns, "/")+1:], "kind": kind,
		"full_path": ns, "parent_id": parent, "avatar_url": nil, "web_url": s.URL() + "/" + ns,
	}
}

func visibility(p *project) string {
	if p.private {
		return "private"
	}
	return "public"
}

// projectJSON is GET /projects/:id.
func (s *Server) projectJSON(p *project, c caller) obj {
	var access any
	if p.members[c.key] {
		access = obj{"access_level": 30, "notification_level": 3} // developer
	}
	host := strings.TrimPrefix(s.URL(), "http://")
	return obj{
		"id": p.id, "description": nil, "name": p.name(),
		"name_with_namespace": strings.ReplaceAll(p.path, "/", " / "),
		"path":                p.name(), "path_with_namespace": p.path,
		"created_at": stamp(p.created), "default_branch": "main", "tag_list": []string{}, "topics": []string{},
		"ssh_url_to_repo": "git@" + host + ":" + p.path + ".git", "http_url_to_repo": s.URL() + "/" + p.path + ".git",
		"web_url": s.URL() + "/" + p.path, "readme_url": nil, "forks_count": 0, "avatar_url": nil,
		"star_count": 0, "last_activity_at": stamp(p.created), "namespace": s.namespaceJSON(p),
		"visibility": visibility(p), "archived": false, "issues_enabled": true, "merge_requests_enabled": true,
		"open_issues_count": p.openIssues(), "creator_id": nil,
		"_links": obj{
			"self":           s.apiBase() + "/projects/" + strconv.FormatInt(p.id, 10),
			"issues":         s.apiBase() + "/projects/" + strconv.FormatInt(p.id, 10) + "/issues",
			"merge_requests": s.apiBase() + "/projects/" + strconv.FormatInt(p.id, 10) + "/merge_requests",
		},
		"permissions": obj{"project_access": access, "group_access": nil},
	}
}

func (p *project) openIssues() int {
	n := 0
	for _, is := range p.issues {
		if is.state == "opened" {
			n++
		}
	}
	return n
}

func references(p *project, sep string, iid int) obj {
	short := sep + strconv.Itoa(iid)
	return obj{"short": short, "relative": short, "full": p.path + short}
}

func timeStats() obj {
	return obj{"time_estimate": 0, "total_time_spent": 0, "human_time_estimate": nil, "human_total_time_spent": nil}
}

// issueJSON is the issue object that lists, GET and POST share.
func (s *Server) issueJSON(p *project, is *issue) obj {
	api := fmt.Sprintf("%s/projects/%d/issues/%d", s.apiBase(), p.id, is.iid)
	var assignee any
	if len(is.assignees) > 0 {
		assignee = s.userJSON(is.assignees[0])
	}
	var desc any
	if is.description != "" {
		desc = is.description
	}
	return obj{
		"id": is.id, "iid": is.iid, "project_id": p.id, "title": is.title, "description": desc,
		"state": is.state, "created_at": stamp(is.created), "updated_at": stamp(is.updated),
		"closed_at": nil, "closed_by": nil, "labels": []string{}, "milestone": nil,
		"assignees": s.usersJSON(is.assignees), "author": s.userJSON(is.author), "type": "ISSUE",
		"assignee": assignee, "user_notes_count": is.notes, "merge_requests_count": 0,
		"upvotes": 0, "downvotes": 0, "due_date": nil, "confidential": false,
		"discussion_locked": nil, "issue_type": "issue",
		"web_url":                fmt.Sprintf("%s/%s/-/issues/%d", s.URL(), p.path, is.iid),
		"time_stats":             timeStats(),
		"task_completion_status": obj{"count": 0, "completed_count": 0},
		"blocking_issues_count":  0, "has_tasks": true, "task_status": "0 of 0 checklist items completed",
		"_links": obj{
			"self": api, "notes": api + "/notes", "award_emoji": api + "/award_emoji",
			"project":                fmt.Sprintf("%s/projects/%d", s.apiBase(), p.id),
			"closed_as_duplicate_of": nil,
		},
		"references": references(p, "#", is.iid), "severity": "UNKNOWN",
		"moved_to_id": nil, "imported": false, "imported_from": "none", "service_desk_reply_to": nil,
	}
}

// mergeRequestJSON is the merge request object of lists and GET.
func (s *Server) mergeRequestJSON(p *project, mr *mergeRequest) obj {
	var assignee any
	if len(mr.assignees) > 0 {
		assignee = s.userJSON(mr.assignees[0])
	}
	var desc any = ""
	if mr.description != "" {
		desc = mr.description
	}
	return obj{
		"id": mr.id, "iid": mr.iid, "project_id": p.id, "title": mr.title, "description": desc,
		"state": mr.state, "created_at": stamp(mr.created), "updated_at": stamp(mr.updated),
		"merged_by": nil, "merge_user": nil, "merged_at": nil, "closed_by": nil, "closed_at": nil,
		"target_branch": "main", "source_branch": mr.sourceBranch, "user_notes_count": mr.notes,
		"upvotes": 0, "downvotes": 0, "author": s.userJSON(mr.author),
		"assignees": s.usersJSON(mr.assignees), "assignee": assignee,
		"reviewers": s.usersJSON(mr.reviewers), "source_project_id": p.id, "target_project_id": p.id,
		"labels": []string{}, "draft": mr.draft, "work_in_progress": mr.draft, "imported": false,
		"imported_from": "none", "milestone": nil, "merge_when_pipeline_succeeds": false,
		"merge_status": "can_be_merged", "detailed_merge_status": "mergeable", "merge_after": nil,
		"sha": mr.sha, "merge_commit_sha": nil, "squash_commit_sha": nil,
		"discussion_locked": nil, "should_remove_source_branch": nil,
		"force_remove_source_branch": true, "prepared_at": stamp(mr.created),
		"reference": "!" + strconv.Itoa(mr.iid), "references": references(p, "!", mr.iid),
		"web_url":    fmt.Sprintf("%s/%s/-/merge_requests/%d", s.URL(), p.path, mr.iid),
		"time_stats": timeStats(), "squash": false, "squash_on_merge": false,
		"task_completion_status": obj{"count": 0, "completed_count": 0},
		"has_conflicts":          false, "blocking_discussions_resolved": true,
		"approvals_before_merge": nil,
	}
}

// noteJSON is the object POST .../notes answers.
func (s *Server) noteJSON(p *project, id int64, noteable string, noteableID int64, iid int, author, body string, at time.Time) obj {
	return obj{
		"id": id, "type": nil, "body": body, "attachment": nil, "author": s.userJSON(author),
		"created_at": stamp(at), "updated_at": stamp(at), "system": false,
		"noteable_id": noteableID, "noteable_type": noteable, "project_id": p.id,
		"resolvable": false, "confidential": false, "internal": false, "imported": false,
		"imported_from": "none", "noteable_iid": iid, "commands_changes": obj{},
	}
}
