package fakegitlab

import (
	"crypto/sha1"
	"encoding/hex"
	"fmt"
	"strings"
	"time"
)

// group is a namespace: a group (or subgroup) or a user's personal one.
type group struct {
	id   int64
	path string // full path as spelled when added
	user bool   // a user's personal namespace
}

type project struct {
	id        int64
	path      string // full path as spelled when added: "group/sub/name"
	private   bool
	members   map[string]bool // lower-case logins
	issues    map[int]*issue
	mrs       map[int]*mergeRequest
	nextIssue int
	nextMR    int
	created   time.Time
}

func (p *project) name() string { return p.path[strings.LastIndex(p.path, "/")+1:] }

func (p *project) namespace() string { return p.path[:strings.LastIndex(p.path, "/")] }

// readable reports whether login (lower-case) may see p.
func (p *project) readable(login string) bool { return !p.private || p.members[login] }

type issue struct {
	id          int64
	iid         int
	title       string
	description string
	author      string   // lower-case login
	assignees   []string // lower-case logins
	state       string   // opened, closed
	notes       int
	created     time.Time
	updated     time.Time
}

type mergeRequest struct {
	id           int64
	iid          int
	title        string
	description  string
	author       string // lower-case login
	assignees    []string
	reviewers    []string
	state        string // opened, closed, merged
	draft        bool
	sourceBranch string
	sha          string
	notes        int
	created      time.Time
	updated      time.Time
}

// AddUser adds an account that can sign in; a zero ID is assigned. Adding a
// login again replaces its name and email.
func (s *Server) AddUser(u User) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.addUser(u)
}

func (s *Server) addUser(u User) *User {
	k := key(u.Login)
	if old := s.users[k]; old != nil {
		old.Name, old.Email = u.Name, u.Email
		return old
	}
	if u.ID == 0 {
		u.ID = s.id()
	}
	if u.Name == "" {
		u.Name = u.Login
	}
	s.users[k] = &u
	s.order = append(s.order, k)
	return &u
}

// ensureUser returns login's account, adding it when unknown.
func (s *Server) ensureUser(login string) *User {
	if u := s.users[key(login)]; u != nil {
		return u
	}
	return s.addUser(User{Login: login})
}

// AddProject adds a public project at path "group/project" (or deeper,
// "group/subgroup/project"). When the namespace is a user's, that user is a
// member; otherwise AddMember adds members. Adding it again changes
// nothing. It panics when path has no namespace.
func (s *Server) AddProject(path string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ensureProject(path)
}

// AddPrivateProject adds a private project that only its members can see:
// anyone else gets 404 Project Not Found, as on GitLab. It panics when path
// has no namespace.
func (s *Server) AddPrivateProject(path string, members ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.ensureProject(path)
	p.private = true
	for _, m := range members {
		s.ensureUser(m)
		p.members[key(m)] = true
	}
}

// AddMember makes login a member (developer) of project, adding the project
// when needed; it panics when project has no namespace.
func (s *Server) AddMember(project, login string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ensureUser(login)
	s.ensureProject(project).members[key(login)] = true
}

func (s *Server) ensureProject(path string) *project {
	path = strings.Trim(path, "/")
	i := strings.LastIndex(path, "/")
	if i <= 0 || i == len(path)-1 || strings.Contains(path, "//") {
		panic(fmt.Sprintf("fakegitlab: project %q is not group/project", path))
	}
	if p := s.projects[key(path)]; p != nil {
		return p
	}
	p := &project{
		id:      s.id(),
		path:    path,
		members: map[string]bool{},
		issues:  map[int]*issue{},
		mrs:     map[int]*mergeRequest{},
		created: s.stamp(),
	}
	ns := p.namespace()
	if s.groups[key(ns)] == nil {
		_, personal := s.users[key(ns)]
		s.groups[key(ns)] = &group{id: s.id(), path: ns, user: personal}
	}
	if g := s.groups[key(ns)]; g.user {
		p.members[key(ns)] = true
	}
	s.projects[key(path)] = p
	return p
}

// AddMergeRequest opens a merge request in project by author and returns
// its iid. A draft's title starts with "Draft: ", which is how GitLab marks
// drafts. Unknown users and projects are added.
func (s *Server) AddMergeRequest(project, author, title string, draft bool) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.ensureProject(project)
	u := s.ensureUser(author)
	if draft && !isDraftTitle(title) {
		title = "Draft: " + title
	}
	p.nextMR++
	now := s.stamp()
	mr := &mergeRequest{
		id:      s.id(),
		iid:     p.nextMR,
		title:   title,
		author:  key(u.Login),
		state:   "opened",
		draft:   isDraftTitle(title),
		created: now,
		updated: now,
	}
	mr.sourceBranch = fmt.Sprintf("%s/change-%d", u.Login, mr.iid)
	mr.sha = fakeSHA("head", p.path, mr.sourceBranch)
	p.mrs[mr.iid] = mr
	return mr.iid
}

// isDraftTitle follows GitLab's draft prefixes.
func isDraftTitle(t string) bool {
	l := strings.ToLower(strings.TrimSpace(t))
	for _, p := range []string{"draft:", "[draft]", "(draft)"} {
		if strings.HasPrefix(l, p) {
			return true
		}
	}
	return false
}

// AddIssue opens an issue in project by author, assigned to assignees, and
// returns its iid. Unknown users and projects are added.
func (s *Server) AddIssue(project, author, title string, assignees ...string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.ensureProject(project)
	return s.addIssue(p, s.ensureUser(author), title, "", assignees...).iid
}

func (s *Server) addIssue(p *project, author *User, title, description string, assignees ...string) *issue {
	p.nextIssue++
	now := s.stamp()
	is := &issue{
		id:          s.id(),
		iid:         p.nextIssue,
		title:       title,
		description: description,
		author:      key(author.Login),
		state:       "opened",
		created:     now,
		updated:     now,
	}
	for _, a := range assignees {
		is.assignees = append(is.assignees, key(s.ensureUser(a).Login))
	}
	p.issues[is.iid] = is
	return is
}

// RequestReview adds reviewer to merge request iid of project. It panics
// when there is no such merge request.
func (s *Server) RequestReview(project string, iid int, reviewer string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.projects[key(project)]
	if p == nil || p.mrs[iid] == nil {
		panic(fmt.Sprintf("fakegitlab: no merge request %s!%d", project, iid))
	}
	mr := p.mrs[iid]
	mr.reviewers = append(mr.reviewers, key(s.ensureUser(reviewer).Login))
	mr.updated = s.stamp()
}

// fakeSHA returns a stable 40-hex id derived from parts.
func fakeSHA(parts ...string) string {
	h := sha1.Sum([]byte(strings.Join(parts, "\x00")))
	return hex.EncodeToString(h[:])
}
