package fakegitlab

import (
	"encoding/json"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"unicode/utf8"
)

// projectFor returns the project named by the request's {id}, a numeric id
// or a URL-encoded path, if c may see it; otherwise it answers 404 Project
// Not Found, as GitLab does rather than reveal that a private project
// exists. The caller holds s.mu.
func (s *Server) projectFor(w http.ResponseWriter, r *http.Request, c caller) *project {
	id := r.PathValue("id")
	p := s.projects[key(id)]
	if p == nil {
		if n, err := strconv.ParseInt(id, 10, 64); err == nil {
			for _, q := range s.projects {
				if q.id == n {
					p = q
				}
			}
		}
	}
	if p == nil || !p.readable(c.key) {
		notFound(w, "Project")
		return nil
	}
	return p
}

// params reads a request's parameters as Grape does: a JSON object body,
// or else form and query values.
func params(r *http.Request) (map[string]any, error) {
	out := map[string]any{}
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt == "application/json" {
		if err := json.NewDecoder(r.Body).Decode(&out); err != nil {
			return nil, err
		}
		return out, nil
	}
	if err := r.ParseForm(); err != nil {
		return nil, err
	}
	for k := range r.Form {
		out[k] = r.Form.Get(k)
	}
	return out, nil
}

// text returns a string parameter and whether it was there; numbers are
// accepted as GitLab coerces them.
func text(p map[string]any, name string) (string, bool) {
	switch v := p[name].(type) {
	case string:
		return v, true
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64), true
	}
	return "", false
}

func (s *Server) getProject(w http.ResponseWriter, r *http.Request, c caller) {
	if p := s.projectFor(w, r, c); p != nil {
		writeJSON(w, http.StatusOK, s.projectJSON(p, c))
	}
}

func (s *Server) getIssue(w http.ResponseWriter, r *http.Request, c caller) {
	p := s.projectFor(w, r, c)
	if p == nil {
		return
	}
	if is := issueOf(w, r, p); is != nil {
		writeJSON(w, http.StatusOK, s.issueJSON(p, is))
	}
}

func (s *Server) getMergeRequest(w http.ResponseWriter, r *http.Request, c caller) {
	p := s.projectFor(w, r, c)
	if p == nil {
		return
	}
	if mr := mergeRequestOf(w, r, p); mr != nil {
		writeJSON(w, http.StatusOK, s.mergeRequestJSON(p, mr))
	}
}

func issueOf(w http.ResponseWriter, r *http.Request, p *project) *issue {
	n, err := strconv.Atoi(r.PathValue("iid"))
	if err != nil {
		badRequest(w, "issue_iid is invalid")
		return nil
	}
	if is := p.issues[n]; is != nil {
		return is
	}
	notFound(w, "Issue")
	return nil
}

func mergeRequestOf(w http.ResponseWriter, r *http.Request, p *project) *mergeRequest {
	n, err := strconv.Atoi(r.PathValue("iid"))
	if err != nil {
		badRequest(w, "merge_request_iid is invalid")
		return nil
	}
	if mr := p.mrs[n]; mr != nil {
		return mr
	}
	notFound(w, "Merge Request")
	return nil
}

// createIssue serves POST /projects/:id/issues; the token's owner is the
// author. Anyone who can see a public project may open issues in it.
// Assignees (assignee_ids) stick only when the author is a member, as
// GitLab drops them silently otherwise.
func (s *Server) createIssue(w http.ResponseWriter, r *http.Request, c caller) {
	p := s.projectFor(w, r, c)
	if p == nil {
		return
	}
	in, err := params(r)
	if err != nil {
		badRequest(w, "The request body could not be parsed")
		return
	}
	title, ok := text(in, "title")
	if !ok {
		badRequest(w, "title is missing")
		return
	}
	if strings.TrimSpace(title) == "" {
		writeJSON(w, http.StatusBadRequest, obj{"message": obj{"title": []string{"can't be blank"}}})
		return
	}
	if utf8.RuneCountInString(title) > 255 {
		writeJSON(w, http.StatusBadRequest, obj{"message": obj{"title": []string{"is too long (maximum is 255 characters)"}}})
		return
	}
	desc, _ := text(in, "description")
	var assignees []string
	if ids, ok := in["assignee_ids"].([]any); ok && p.members[c.key] {
		for _, id := range ids {
			for _, u := range s.users {
				if f, ok := id.(float64); ok && int64(f) == u.ID && p.members[key(u.Login)] {
					assignees = append(assignees, u.Login)
				}
			}
		}
	}
	is := s.addIssue(p, c.user, title, desc, assignees...)
	s.created = append(s.created, CreatedIssue{Project: p.path, IID: is.iid, AuthorLogin: c.user.Login, Title: title, Description: desc})
	writeJSON(w, http.StatusCreated, s.issueJSON(p, is))
}

// noteBody reads the body of a new note, or answers 400.
func noteBody(w http.ResponseWriter, r *http.Request) (string, bool) {
	in, err := params(r)
	if err != nil {
		badRequest(w, "The request body could not be parsed")
		return "", false
	}
	body, ok := text(in, "body")
	switch {
	case !ok:
		badRequest(w, "body is missing")
		return "", false
	case strings.TrimSpace(body) == "":
		writeJSON(w, http.StatusBadRequest, obj{"message": obj{"note": []string{"can't be blank"}}})
		return "", false
	case utf8.RuneCountInString(body) > 1_000_000:
		writeJSON(w, http.StatusBadRequest, obj{"message": obj{"note": []string{"is too long (maximum is 1000000 characters)"}}})
		return "", false
	}
	return body, true
}

// createIssueNote serves POST /projects/:id/issues/:iid/notes.
func (s *Server) createIssueNote(w http.ResponseWriter, r *http.Request, c caller) {
	p := s.projectFor(w, r, c)
	if p == nil {
		return
	}
	is := issueOf(w, r, p)
	if is == nil {
		return
	}
	body, ok := noteBody(w, r)
	if !ok {
		return
	}
	now := s.stamp()
	is.notes++
	is.updated = now
	s.notes = append(s.notes, Note{Project: p.path, Noteable: "Issue", IID: is.iid, AuthorLogin: c.user.Login, Body: body})
	writeJSON(w, http.StatusCreated, s.noteJSON(p, s.id(), "Issue", is.id, is.iid, c.key, body, now))
}

// createMergeRequestNote serves POST /projects/:id/merge_requests/:iid/notes.
func (s *Server) createMergeRequestNote(w http.ResponseWriter, r *http.Request, c caller) {
	p := s.projectFor(w, r, c)
	if p == nil {
		return
	}
	mr := mergeRequestOf(w, r, p)
	if mr == nil {
		return
	}
	body, ok := noteBody(w, r)
	if !ok {
		return
	}
	now := s.stamp()
	mr.notes++
	mr.updated = now
	s.notes = append(s.notes, Note{Project: p.path, Noteable: "MergeRequest", IID: mr.iid, AuthorLogin: c.user.Login, Body: body})
	writeJSON(w, http.StatusCreated, s.noteJSON(p, s.id(), "MergeRequest", mr.id, mr.iid, c.key, body, now))
}
