package fakejira

import (
	"strconv"
	"strings"
	"time"
)

// The JSON shapes below follow Jira Cloud's REST API v3 as reached through
// api.atlassian.com, trimmed of fields no client of the fake reads. Every
// function is called with s.mu held.

type obj = map[string]any

// jiraTime formats t as Jira does: 2025-07-03T16:40:21.123+0000.
func jiraTime(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UTC().Format("2006-01-02T15:04:05.000-0700")
}

// restBase is the v3 base of st through the gateway; Jira's self links
// point there.
func (s *Server) restBase(st *site) string {
	return s.URL() + "/ex/jira/" + st.CloudID + "/rest/api/3"
}

// userJSON is a user bean. Email addresses are shown to their owner only,
// as under Atlassian's default profile visibility.
func (s *Server) userJSON(st *site, u *User, self bool) obj {
	avatar := "https://secure.gravatar.com/avatar/" + u.AccountID[len(u.AccountID)-12:] + "?d=identicon"
	o := obj{
		"self":        s.restBase(st) + "/user?accountId=" + u.AccountID,
		"accountId":   u.AccountID,
		"accountType": "atlassian",
		"avatarUrls": obj{
			"48x48": avatar + "&s=48", "24x24": avatar + "&s=24", "16x16": avatar + "&s=16", "32x32": avatar + "&s=32",
		},
		"displayName": u.Name,
		"active":      true,
		"timeZone":    "Etc/UTC",
		"locale":      "en_US",
	}
	if self {
		o["emailAddress"] = u.Email
	}
	return o
}

// userRef is the user bean of a lower-case email, or nil.
func (s *Server) userRef(st *site, login, viewer string) any {
	u := s.users[login]
	if u == nil {
		return nil
	}
	return s.userJSON(st, u, login == viewer)
}

func (s *Server) statusJSON(st *site, name string) obj {
	v, _ := statusNamed(name)
	base := s.restBase(st)
	return obj{
		"self":        base + "/status/" + v.id,
		"description": "",
		"iconUrl":     s.siteURL(st) + "/images/icons/statuses/generic.png",
		"name":        v.name,
		"id":          v.id,
		"statusCategory": obj{
			"self":      base + "/statuscategory/" + strconv.Itoa(v.catID),
			"id":        v.catID,
			"key":       v.catKey,
			"colorName": v.color,
			"name":      v.catName,
		},
	}
}

func (s *Server) issueTypeJSON(st *site, name string) obj {
	t, _ := issueTypeNamed(name)
	level := 0
	if t.name == "Epic" {
		level = 1
	}
	return obj{
		"self":           s.restBase(st) + "/issuetype/" + t.id,
		"id":             t.id,
		"description":    t.description,
		"iconUrl":        s.restBase(st) + "/universal_avatar/view/type/issuetype/avatar/" + strconv.Itoa(t.avatar) + "?size=medium",
		"name":           t.name,
		"subtask":        false,
		"avatarId":       t.avatar,
		"hierarchyLevel": level,
	}
}

func (s *Server) projectJSON(st *site, p *project) obj {
	return obj{
		"self":           s.restBase(st) + "/project/" + p.id,
		"id":             p.id,
		"key":            p.key,
		"name":           p.name,
		"projectTypeKey": "software",
		"simplified":     false,
		"avatarUrls": obj{
			"48x48": s.restBase(st) + "/universal_avatar/view/type/project/avatar/10400",
		},
	}
}

// issueFields are the fields the fake knows, in Jira's order; "comment" is
// not navigable, so *navigable leaves it out.
var issueFields = []string{
	"summary", "issuetype", "project", "status", "priority", "labels", "assignee",
	"reporter", "creator", "created", "updated", "description", "comment",
}

// fieldSet reads the fields parameter ("summary,status", "*all",
// "*navigable", "-comment"); def applies when there is none.
func fieldSet(params []string, def string) map[string]bool {
	var list []string
	for _, p := range params {
		for _, f := range strings.Split(p, ",") {
			if f = strings.TrimSpace(f); f != "" {
				list = append(list, f)
			}
		}
	}
	if len(list) == 0 {
		list = []string{def}
	}
	out := map[string]bool{}
	for _, f := range list {
		switch {
		case f == "*all":
			for _, n := range issueFields {
				out[n] = true
			}
		case f == "*navigable":
			for _, n := range issueFields {
				out[n] = n != "comment"
			}
		case strings.HasPrefix(f, "-"):
			out[f[1:]] = false
		default:
			out[f] = true
		}
	}
	return out
}

// issueJSON is an issue bean with the fields in want. viewer is the
// caller, whose own email is shown.
func (s *Server) issueJSON(st *site, it *issue, want map[string]bool, viewer string) obj {
	all := obj{
		"summary":     it.summary,
		"issuetype":   s.issueTypeJSON(st, it.typ),
		"project":     s.projectJSON(st, it.project),
		"status":      s.statusJSON(st, it.status),
		"priority":    obj{"self": s.restBase(st) + "/priority/3", "iconUrl": s.siteURL(st) + "/images/icons/priorities/medium.svg", "name": "Medium", "id": "3"},
		"labels":      []string{},
		"assignee":    s.userRef(st, it.assignee, viewer),
		"reporter":    s.userRef(st, it.reporter, viewer),
		"creator":     s.userRef(st, it.reporter, viewer),
		"created":     jiraTime(it.created),
		"updated":     jiraTime(it.updated),
		"description": nil,
	}
	if it.description != nil {
		all["description"] = it.description
	}
	if want["comment"] {
		comments := []obj{}
		for _, cm := range it.comments {
			comments = append(comments, s.commentJSON(st, it, cm, viewer))
		}
		all["comment"] = obj{
			"comments": comments, "self": s.restBase(st) + "/issue/" + it.id + "/comment",
			"maxResults": len(comments), "total": len(comments), "startAt": 0,
		}
	}
	fields := obj{}
	for _, n := range issueFields {
		if want[n] {
			if v, ok := all[n]; ok {
				fields[n] = v
			}
		}
	}
	return obj{
		"expand": "renderedFields,names,schema,operations,editmeta,changelog,versionedRepresentations",
		"id":     it.id,
		"self":   s.restBase(st) + "/issue/" + it.id,
		"key":    it.key,
		"fields": fields,
	}
}

func (s *Server) commentJSON(st *site, it *issue, cm *comment, viewer string) obj {
	author := s.userRef(st, cm.author, viewer)
	return obj{
		"self":         s.restBase(st) + "/issue/" + it.id + "/comment/" + cm.id,
		"id":           cm.id,
		"author":       author,
		"body":         cm.body,
		"updateAuthor": author,
		"created":      jiraTime(cm.created),
		"updated":      jiraTime(cm.created),
		"jsdPublic":    true,
	}
}

func (s *Server) transitionJSON(st *site, t transition) obj {
	return obj{
		"id":            t.id,
		"name":          t.name,
		"to":            s.statusJSON(st, t.to),
		"hasScreen":     false,
		"isGlobal":      false,
		"isInitial":     false,
		"isAvailable":   true,
		"isConditional": false,
		"isLooped":      false,
	}
}
