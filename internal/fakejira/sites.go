package fakejira

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"
)

type site struct {
	Site
	users    map[string]bool     // lower-case emails of the people who can use it
	projects map[string]*project // by key
	issues   map[string]*issue   // by key
}

type project struct {
	id, key, name string
	members       map[string]bool // nil: everyone on the site
	next          int             // the last issue number
}

func (p *project) visible(login string) bool { return p.members == nil || p.members[login] }

type issue struct {
	id          string
	key         string
	project     *project
	summary     string
	description json.RawMessage // ADF, nil when none
	typ         string
	status      string
	assignee    string // lower-case email, "" when unassigned
	reporter    string
	created     time.Time
	updated     time.Time
	comments    []*comment
}

type comment struct {
	id      string
	author  string
	body    json.RawMessage
	created time.Time
}

// Issue is an issue as the fake holds it: what AddIssue seeds and what
// IssueByKey reports.
type Issue struct {
	Key         string // assigned by AddIssue
	Project     string // the project key
	Summary     string
	Description string    // plain text, kept as ADF
	Type        string    // default "Task"
	Status      string    // default "To Do"
	Assignee    string    // email, "" for unassigned
	Reporter    string    // email; default the assignee
	Updated     time.Time // set by the fake
}

var validProjectKey = regexp.MustCompile(`^[A-Z][A-Z0-9_]+$`)

// AddSite adds a Jira site, or renames an existing one. An empty url makes
// the fake serve the site's pages. It panics when cloudID is empty.
func (s *Server) AddSite(cloudID, name, url string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if cloudID == "" {
		panic("fakejira: AddSite: empty cloud id")
	}
	if st := s.sites[cloudID]; st != nil {
		st.Name, st.URL = name, strings.TrimRight(url, "/")
		return
	}
	s.sites[cloudID] = &site{
		Site:     Site{CloudID: cloudID, Name: name, URL: strings.TrimRight(url, "/")},
		users:    map[string]bool{},
		projects: map[string]*project{},
		issues:   map[string]*issue{},
	}
	s.siteIDs = append(s.siteIDs, cloudID)
}

// AddUser adds an account that can sign in, with access to u.Sites. An
// empty AccountID is derived from the email. Adding an email again updates
// the name and adds the sites. It panics on an unknown site.
func (s *Server) AddUser(u User) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.addUser(u)
}

func (s *Server) addUser(u User) *User {
	k := key(u.Email)
	if k == "" {
		panic("fakejira: AddUser: empty email")
	}
	cur := s.users[k]
	if cur == nil {
		cur = &User{Email: strings.TrimSpace(u.Email), AccountID: u.AccountID}
		if cur.AccountID == "" {
			cur.AccountID = accountID(k)
		}
		s.users[k] = cur
		s.order = append(s.order, k)
	}
	if u.Name != "" || cur.Name == "" {
		cur.Name = u.Name
	}
	if cur.Name == "" {
		cur.Name, _, _ = strings.Cut(cur.Email, "@")
	}
	for _, id := range u.Sites {
		s.mustSite(id).users[k] = true
		if !slices.Contains(cur.Sites, id) {
			cur.Sites = append(cur.Sites, id)
		}
	}
	return cur
}

// accountID derives a stable Atlassian-shaped account id
// ("712020:8-4-4-4-12 hex") from an email.
func accountID(email string) string {
	h := sha256.Sum256([]byte(email))
	x := hex.EncodeToString(h[:16])
	return "712020:" + x[:8] + "-" + x[8:12] + "-" + x[12:16] + "-" + x[16:20] + "-" + x[20:32]
}

// ensureUser returns login's account, adding it when unknown.
func (s *Server) ensureUser(login string) *User {
	if u := s.users[key(login)]; u != nil {
		return u
	}
	return s.addUser(User{Email: login})
}

// AddSiteUser lets login use the site, adding the account when unknown. It
// panics on an unknown site.
func (s *Server) AddSiteUser(cloudID, login string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.addUser(User{Email: login, Sites: []string{cloudID}})
}

func (s *Server) mustSite(cloudID string) *site {
	st := s.sites[cloudID]
	if st == nil {
		panic(fmt.Sprintf("fakejira: no site %q", cloudID))
	}
	return st
}

// AddProject adds a project that everyone on the site can see and work in.
// It panics on an unknown site or a key Jira would refuse.
func (s *Server) AddProject(cloudID, projectKey, name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.mustSite(cloudID)
	if !validProjectKey.MatchString(projectKey) {
		panic(fmt.Sprintf("fakejira: project key %q is not like OPS", projectKey))
	}
	if p := st.projects[projectKey]; p != nil {
		p.name = name
		return
	}
	st.projects[projectKey] = &project{id: s.id(), key: projectKey, name: name}
}

// RestrictProject makes the project visible to logins only (and them to
// nobody when there are none), as a permission scheme would. It panics on
// an unknown site or project.
func (s *Server) RestrictProject(cloudID, projectKey string, logins ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.mustProject(cloudID, projectKey)
	p.members = map[string]bool{}
	for _, l := range logins {
		p.members[s.ensureUser(l).key()] = true
	}
}

func (u *User) key() string { return key(u.Email) }

func (s *Server) mustProject(cloudID, projectKey string) *project {
	p := s.mustSite(cloudID).projects[projectKey]
	if p == nil {
		panic(fmt.Sprintf("fakejira: no project %q on site %q", projectKey, cloudID))
	}
	return p
}

// AddIssue adds an issue to an existing project and returns its key. The
// assignee and reporter are added to the site when needed. It panics on an
// unknown site, project, type or status.
func (s *Server) AddIssue(cloudID string, is Issue) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.mustSite(cloudID)
	p := s.mustProject(cloudID, is.Project)
	if is.Type == "" {
		is.Type = "Task"
	}
	if is.Status == "" {
		is.Status = statuses[0].name
	}
	typ, ok := issueTypeNamed(is.Type)
	if !ok {
		panic(fmt.Sprintf("fakejira: no issue type %q", is.Type))
	}
	stat, ok := statusNamed(is.Status)
	if !ok {
		panic(fmt.Sprintf("fakejira: no status %q", is.Status))
	}
	if is.Reporter == "" {
		is.Reporter = is.Assignee
	}
	it := s.newIssue(p, is.Summary, typ.name, "")
	it.status = stat.name
	if is.Description != "" {
		it.description = textADF(is.Description)
	}
	if is.Assignee != "" {
		it.assignee = s.addUser(User{Email: is.Assignee, Sites: []string{cloudID}}).key()
	}
	if is.Reporter != "" {
		it.reporter = s.addUser(User{Email: is.Reporter, Sites: []string{cloudID}}).key()
	}
	st.issues[it.key] = it
	return it.key
}

// newIssue numbers a new issue of p. The caller holds s.mu and files it.
func (s *Server) newIssue(p *project, summary, typ, reporter string) *issue {
	p.next++
	now := s.stamp()
	return &issue{
		id:       s.id(),
		key:      fmt.Sprintf("%s-%d", p.key, p.next),
		project:  p,
		summary:  summary,
		typ:      typ,
		status:   statuses[0].name,
		reporter: reporter,
		created:  now,
		updated:  now,
	}
}

// IssueByKey returns the issue of the site with key issueKey (in any
// case) as it stands, and whether it exists.
func (s *Server) IssueByKey(cloudID, issueKey string) (Issue, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.sites[cloudID]
	if st == nil || st.issues[strings.ToUpper(issueKey)] == nil {
		return Issue{}, false
	}
	it := st.issues[strings.ToUpper(issueKey)]
	out := Issue{
		Key: it.key, Project: it.project.key, Summary: it.summary, Type: it.typ, Status: it.status,
		Description: adfText(it.description), Updated: it.updated,
	}
	if u := s.users[it.assignee]; u != nil {
		out.Assignee = u.Email
	}
	if u := s.users[it.reporter]; u != nil {
		out.Reporter = u.Email
	}
	return out, true
}

// siteURL returns the site's address for people. The caller holds s.mu.
func (s *Server) siteURL(st *site) string {
	if st.URL != "" {
		return st.URL
	}
	return s.URL() + "/site/" + st.CloudID
}

// Jira's workflow, statuses and issue types as the fake has them: one
// small software workflow shared by every project.

type status struct {
	id, name string
	catID    int
	catKey   string
	catName  string
	color    string
}

var statuses = []status{
	{"10000", "To Do", 2, "new", "To Do", "blue-gray"},
	{"3", "In Progress", 4, "indeterminate", "In Progress", "yellow"},
	{"10001", "In Review", 4, "indeterminate", "In Progress", "yellow"},
	{"10002", "Done", 3, "done", "Done", "green"},
}

func statusNamed(name string) (status, bool) {
	for _, st := range statuses {
		if strings.EqualFold(st.name, name) {
			return st, true
		}
	}
	return status{}, false
}

type transition struct{ id, name, from, to string }

// workflow is To Do → In Progress → In Review → Done, with the way back.
// The transition names differ from the status names on purpose, as they
// often do in real workflows.
var workflow = []transition{
	{"11", "Start progress", "To Do", "In Progress"},
	{"21", "Stop progress", "In Progress", "To Do"},
	{"31", "Request review", "In Progress", "In Review"},
	{"41", "Back to progress", "In Review", "In Progress"},
	{"51", "Approve", "In Review", "Done"},
	{"61", "Reopen", "Done", "To Do"},
}

type issueType struct {
	id, name, description string
	avatar                int
}

var issueTypes = []issueType{
	{"10001", "Task", "A small, distinct piece of work.", 10318},
	{"10002", "Bug", "A problem or error.", 10303},
	{"10003", "Story", "A feature expressed as a user goal.", 10315},
	{"10000", "Epic", "A big user story that needs to be broken down.", 10307},
}

func issueTypeNamed(name string) (issueType, bool) {
	for _, t := range issueTypes {
		if strings.EqualFold(t.name, name) {
			return t, true
		}
	}
	return issueType{}, false
}
