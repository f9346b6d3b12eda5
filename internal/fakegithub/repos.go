package fakegithub

import (
	"crypto/sha1"
	"encoding/hex"
	"fmt"
	"strings"
	"time"
)

type repo struct {
	id            int64
	owner, name   string // as spelled when added
	private       bool
	collaborators map[string]bool // lower-case logins with push access
	defaultBranch string
	branches      map[string]*branch
	items         map[int]*item         // issues and pull requests by number
	commits       map[string]*gitCommit // by SHA
	next          int
	created       time.Time
}

func (r *repo) fullName() string { return r.owner + "/" + r.name }

type branch struct {
	head  string
	files map[string]*file
}

type file struct {
	content []byte
	sha     string // git blob id
}

// item is an issue or a pull request: they share numbers, as on GitHub.
type item struct {
	id        int64
	number    int
	pr        bool
	title     string
	body      string
	author    string // lower-case login
	state     string
	draft     bool
	assignees []string // lower-case logins
	requested []string // requested reviewers, lower-case logins
	reviews   []*review
	headRef   string
	headSHA   string
	comments  int
	created   time.Time
	updated   time.Time
}

type review struct {
	id        int64
	user      string
	state     string // APPROVED, CHANGES_REQUESTED, COMMENTED
	body      string
	submitted time.Time
	commit    string
}

type checkRun struct {
	id                   int64
	name                 string
	headSHA              string
	status, conclusion   string
	started, completedAt time.Time
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

// AddRepo adds a public repository "owner/name" whose default branch is
// main. When owner is a user, that user may push; otherwise owner is an
// organisation and AddCollaborator grants push access. Adding it again
// changes nothing. It panics when fullName is not "owner/name".
func (s *Server) AddRepo(fullName string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ensureRepo(fullName)
}

// AddPrivateRepo adds a private repository that only its collaborators can
// see; it panics when fullName is not "owner/name".
func (s *Server) AddPrivateRepo(fullName string, collaborators ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.ensureRepo(fullName)
	r.private = true
	for _, c := range collaborators {
		s.ensureUser(c)
		r.collaborators[key(c)] = true
	}
}

// AddCollaborator gives login push access to repo, adding the repository
// when needed; it panics when repo is not "owner/name".
func (s *Server) AddCollaborator(repo, login string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ensureUser(login)
	s.ensureRepo(repo).collaborators[key(login)] = true
}

func (s *Server) ensureRepo(fullName string) *repo {
	owner, name, ok := strings.Cut(fullName, "/")
	if !ok || owner == "" || name == "" || strings.Contains(name, "/") {
		panic(fmt.Sprintf("fakegithub: repository %q is not owner/name", fullName))
	}
	if r := s.repos[key(fullName)]; r != nil {
		return r
	}
	now := s.stamp()
	r := &repo{
		id:            s.id(),
		owner:         owner,
		name:          name,
		collaborators: map[string]bool{},
		defaultBranch: "main",
		items:         map[int]*item{},
		created:       now,
	}
	r.branches = map[string]*branch{"main": {head: fakeSHA("init", fullName), files: map[string]*file{}}}
	if _, isUser := s.users[key(owner)]; isUser {
		r.collaborators[key(owner)] = true
	} else if _, isOrg := s.orgs[key(owner)]; !isOrg {
		s.orgs[key(owner)] = s.id()
	}
	who := s.seedIdentity(r)
	s.addCommit(r, &gitCommit{sha: r.branches["main"].head, message: "Initial commit", author: who, committer: who, date: now})
	s.repos[key(fullName)] = r
	return r
}

// AddBranch adds a branch to repo, copying its default branch; it panics
// when repo is not "owner/name".
func (s *Server) AddBranch(repo, name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.ensureRepo(repo)
	if r.branches[name] != nil {
		return
	}
	base := r.branches[r.defaultBranch]
	b := &branch{head: base.head, files: map[string]*file{}}
	for p, f := range base.files {
		b.files[p] = f
	}
	r.branches[name] = b
}

// AddFile commits content at path on repo's default branch as owner of the
// repository, without recording a Commit; it panics when repo is not
// "owner/name".
func (s *Server) AddFile(repo, path string, content []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.ensureRepo(repo)
	b := r.branches[r.defaultBranch]
	f := &file{content: append([]byte(nil), content...), sha: blobSHA(content)}
	ch := changeOf(path, b.files[path], f)
	b.files[path] = f
	parent := b.head
	b.head = fakeSHA("seed", repo, path, b.head)
	who := s.seedIdentity(r)
	s.addCommit(r, &gitCommit{sha: b.head, parent: parent, message: "Add " + path, author: who, committer: who,
		date: s.stamp(), files: []changedFile{ch}})
}

// AddPullRequest opens a pull request in repo by author and returns its
// number. Unknown users and repositories are added.
func (s *Server) AddPullRequest(repo, author, title string, draft bool) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	it := s.addItem(repo, author, title, true)
	it.draft = draft
	return it.number
}

// AddIssue opens an issue in repo by author, assigned to assignees, and
// returns its number. Unknown users and repositories are added.
func (s *Server) AddIssue(repo, author, title string, assignees ...string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	it := s.addItem(repo, author, title, false)
	for _, a := range assignees {
		s.ensureUser(a)
		it.assignees = append(it.assignees, key(a))
	}
	return it.number
}

func (s *Server) addItem(repo, author, title string, pr bool) *item {
	r := s.ensureRepo(repo)
	u := s.ensureUser(author)
	r.next++
	now := s.stamp()
	it := &item{
		id:      s.id(),
		number:  r.next,
		pr:      pr,
		title:   title,
		author:  key(u.Login),
		state:   "open",
		created: now,
		updated: now,
	}
	if pr {
		it.headRef = fmt.Sprintf("%s/change-%d", u.Login, it.number)
		it.headSHA = fakeSHA("head", repo, it.headRef)
		b := &branch{head: it.headSHA, files: map[string]*file{}}
		for p, f := range r.branches[r.defaultBranch].files {
			b.files[p] = f
		}
		r.branches[it.headRef] = b
		who := identityOf(u)
		s.addCommit(r, &gitCommit{sha: it.headSHA, parent: r.branches[r.defaultBranch].head, message: title,
			author: who, committer: who, date: now})
	}
	r.items[it.number] = it
	return it
}

// pull returns pull request number of repo, or nil. The caller holds s.mu.
func (s *Server) pull(repo string, number int) *item {
	r := s.repos[key(repo)]
	if r == nil || r.items[number] == nil || !r.items[number].pr {
		return nil
	}
	return r.items[number]
}

// RequestReview asks reviewer to review pull request number of repo. It
// panics when there is no such pull request.
func (s *Server) RequestReview(repo string, number int, reviewer string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	it := s.mustPull(repo, number)
	s.ensureUser(reviewer)
	it.requested = append(it.requested, key(reviewer))
	it.updated = s.stamp()
}

// AddReview submits a review (state APPROVED, CHANGES_REQUESTED or
// COMMENTED) on pull request number of repo, which ends a pending request
// for reviewer, as on GitHub. It panics when there is no such pull request.
func (s *Server) AddReview(repo string, number int, reviewer, state, body string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	it := s.mustPull(repo, number)
	u := s.ensureUser(reviewer)
	it.requested = deleteString(it.requested, key(u.Login))
	it.reviews = append(it.reviews, &review{id: s.id(), user: key(u.Login), state: state, body: body, submitted: s.stamp(), commit: it.headSHA})
	it.updated = s.last
}

// AddCheckRun records a check run on the head commit of pull request number
// of repo. status is queued, in_progress or completed; conclusion (success,
// failure, ...) goes with completed. It panics when there is no such pull
// request.
func (s *Server) AddCheckRun(repo string, number int, name, status, conclusion string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	it := s.mustPull(repo, number)
	now := s.stamp()
	c := &checkRun{id: s.id(), name: name, headSHA: it.headSHA, status: status, conclusion: conclusion, started: now}
	if status == "completed" {
		c.completedAt = now
	}
	s.checks = append(s.checks, repoCheck{repo: key(repo), run: c})
}

// repoCheck is a check run and its repository (lower-case full name).
type repoCheck struct {
	repo string
	run  *checkRun
}

func (s *Server) mustPull(repo string, number int) *item {
	it := s.pull(repo, number)
	if it == nil {
		panic(fmt.Sprintf("fakegithub: no pull request %s#%d", repo, number))
	}
	return it
}

func deleteString(list []string, v string) []string {
	out := list[:0]
	for _, x := range list {
		if x != v {
			out = append(out, x)
		}
	}
	return out
}

// fakeSHA returns a stable 40-hex id derived from parts.
func fakeSHA(parts ...string) string {
	h := sha1.Sum([]byte(strings.Join(parts, "\x00")))
	return hex.EncodeToString(h[:])
}

// blobSHA is git's blob id of content, as the contents API reports it.
func blobSHA(content []byte) string {
	h := sha1.New()
	fmt.Fprintf(h, "blob %d\x00", len(content))
	h.Write(content)
	return hex.EncodeToString(h.Sum(nil))
}
