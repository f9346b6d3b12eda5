package fakejira

import (
	"encoding/json"
	"net/http"
	"strings"
	"unicode/utf8"
)

const (
	msgNoIssue = "Issue does not exist or you do not have permission to see it."
	msgNotADF  = "Operation value must be an Atlassian Document (see the Atlassian Document Format)"
	maxSummary = 255
)

// issueFor returns the issue named by the request's {key} (a key in any
// case, or an id) if c may see it, and otherwise answers 404 as Jira does,
// without telling a missing issue from a hidden one. The caller holds s.mu.
func (s *Server) issueFor(w http.ResponseWriter, r *http.Request, c caller) *issue {
	ref := strings.ToUpper(r.PathValue("key"))
	it := c.site.issues[ref]
	if it == nil {
		for _, x := range c.site.issues {
			if x.id == ref {
				it = x
				break
			}
		}
	}
	if it == nil || !it.project.visible(c.key) {
		jiraError(w, http.StatusNotFound, []string{msgNoIssue}, nil)
		return nil
	}
	return it
}

func (s *Server) getIssue(w http.ResponseWriter, r *http.Request, c caller) {
	if it := s.issueFor(w, r, c); it != nil {
		want := fieldSet(r.URL.Query()["fields"], "*all")
		writeJSON(w, http.StatusOK, s.issueJSON(c.site, it, want, c.key))
	}
}

// ref is how Jira's create bodies name a project, issue type or user.
type ref struct {
	ID        string `json:"id"`
	Key       string `json:"key"`
	Name      string `json:"name"`
	AccountID string `json:"accountId"`
}

// createIssue serves POST /issue; the token's owner is the reporter. Like
// Jira it reports every field problem at once, as a 400 with errors by
// field.
func (s *Server) createIssue(w http.ResponseWriter, r *http.Request, c caller) {
	var in struct {
		Fields map[string]json.RawMessage `json:"fields"`
		Update json.RawMessage            `json:"update"`
	}
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
		jiraError(w, http.StatusBadRequest, []string{"The request body is not valid JSON."}, nil)
		return
	}
	errs := map[string]string{}
	var (
		p       *project
		typ     issueType
		summary string
		desc    json.RawMessage
		assign  string
	)
	for name := range in.Fields {
		switch name {
		case "project", "issuetype", "summary", "description", "assignee":
		default:
			errs[name] = "Field '" + name + "' cannot be set. It is not on the appropriate screen, or unknown."
		}
	}

	var pr ref
	if raw, ok := in.Fields["project"]; !ok || json.Unmarshal(raw, &pr) != nil || (pr.ID == "" && pr.Key == "") {
		errs["project"] = "Specify a valid project ID or key"
	} else {
		for _, x := range c.site.projects {
			if (pr.Key != "" && x.key == strings.ToUpper(pr.Key)) || (pr.ID != "" && x.id == pr.ID) {
				p = x
			}
		}
		if p == nil || !p.visible(c.key) {
			p = nil
			errs["project"] = "valid project is required"
		}
	}

	var tr ref
	if raw, ok := in.Fields["issuetype"]; !ok || json.Unmarshal(raw, &tr) != nil || (tr.ID == "" && tr.Name == "") {
		errs["issuetype"] = "Specify an issue type"
	} else {
		found := false
		for _, t := range issueTypes {
			if (tr.ID != "" && t.id == tr.ID) || (tr.ID == "" && t.name == tr.Name) {
				typ, found = t, true
			}
		}
		if !found {
			errs["issuetype"] = "The issue type selected is invalid."
		}
	}

	if raw, ok := in.Fields["summary"]; !ok || json.Unmarshal(raw, &summary) != nil || strings.TrimSpace(summary) == "" {
		errs["summary"] = "You must specify a summary of the issue."
	} else if utf8.RuneCountInString(summary) > maxSummary {
		errs["summary"] = "Summary must be less than 255 characters."
	} else if strings.ContainsAny(summary, "\r\n") {
		errs["summary"] = "The summary is invalid because it contains newline characters."
	}

	if raw, ok := in.Fields["description"]; ok && string(raw) != "null" {
		if !validDoc(raw) {
			errs["description"] = msgNotADF
		} else {
			desc = raw
		}
	}

	if raw, ok := in.Fields["assignee"]; ok && string(raw) != "null" {
		var ar ref
		_ = json.Unmarshal(raw, &ar)
		for k, u := range s.users {
			if u.AccountID == ar.AccountID && c.site.users[k] {
				assign = k
			}
		}
		if assign == "" || (p != nil && !p.visible(assign)) {
			errs["assignee"] = "Specify a valid value for assignee"
		}
	}

	if len(errs) > 0 {
		jiraError(w, http.StatusBadRequest, nil, errs)
		return
	}
	it := s.newIssue(p, summary, typ.name, c.key)
	it.description = desc
	it.assignee = assign
	c.site.issues[it.key] = it
	s.created = append(s.created, CreatedIssue{
		CloudID: c.site.CloudID, Key: it.key, Project: p.key, Type: typ.name, Summary: summary,
		AccountID: c.user.AccountID, Login: c.user.Email,
	})
	writeJSON(w, http.StatusCreated, obj{"id": it.id, "key": it.key, "self": s.restBase(c.site) + "/issue/" + it.id})
}

// addComment serves POST /issue/{key}/comment with an ADF body.
func (s *Server) addComment(w http.ResponseWriter, r *http.Request, c caller) {
	it := s.issueFor(w, r, c)
	if it == nil {
		return
	}
	var in struct {
		Body json.RawMessage `json:"body"`
	}
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
		jiraError(w, http.StatusBadRequest, []string{"The request body is not valid JSON."}, nil)
		return
	}
	switch {
	case len(in.Body) == 0 || string(in.Body) == "null":
		jiraError(w, http.StatusBadRequest, nil, map[string]string{"comment": "Comment body can not be empty!"})
		return
	case !validDoc(in.Body):
		jiraError(w, http.StatusBadRequest, nil, map[string]string{"comment": msgNotADF})
		return
	case emptyDoc(in.Body):
		jiraError(w, http.StatusBadRequest, nil, map[string]string{"comment": "Comment body can not be empty!"})
		return
	}
	cm := &comment{id: s.id(), author: c.key, body: in.Body, created: s.stamp()}
	it.comments = append(it.comments, cm)
	it.updated = cm.created
	s.comments = append(s.comments, Comment{
		CloudID: c.site.CloudID, IssueKey: it.key, ID: cm.id,
		AccountID: c.user.AccountID, Login: c.user.Email, Body: adfText(in.Body),
	})
	writeJSON(w, http.StatusCreated, s.commentJSON(c.site, it, cm, c.key))
}

// available returns the transitions open from the issue's status.
func available(it *issue) []transition {
	var out []transition
	for _, t := range workflow {
		if t.from == it.status {
			out = append(out, t)
		}
	}
	return out
}

func (s *Server) getTransitions(w http.ResponseWriter, r *http.Request, c caller) {
	it := s.issueFor(w, r, c)
	if it == nil {
		return
	}
	list := []obj{}
	for _, t := range available(it) {
		list = append(list, s.transitionJSON(c.site, t))
	}
	writeJSON(w, http.StatusOK, obj{"expand": "transitions", "transitions": list})
}

// doTransition serves POST /issue/{key}/transitions: 204 when the
// transition id is open from the issue's status, 400 otherwise.
func (s *Server) doTransition(w http.ResponseWriter, r *http.Request, c caller) {
	it := s.issueFor(w, r, c)
	if it == nil {
		return
	}
	var in struct {
		Transition *struct {
			ID string `json:"id"`
		} `json:"transition"`
	}
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
		jiraError(w, http.StatusBadRequest, []string{"The request body is not valid JSON."}, nil)
		return
	}
	if in.Transition == nil || in.Transition.ID == "" {
		jiraError(w, http.StatusBadRequest, []string{"Missing 'transition' identifier"}, nil)
		return
	}
	for _, t := range available(it) {
		if t.id != in.Transition.ID {
			continue
		}
		it.status = t.to
		it.updated = s.stamp()
		s.transitions = append(s.transitions, Transition{
			CloudID: c.site.CloudID, IssueKey: it.key, ID: t.id, From: t.from, To: t.to,
			AccountID: c.user.AccountID, Login: c.user.Email,
		})
		w.WriteHeader(http.StatusNoContent)
		return
	}
	jiraError(w, http.StatusBadRequest, []string{"Transition id '" + in.Transition.ID + "' is not valid for this issue."}, nil)
}
