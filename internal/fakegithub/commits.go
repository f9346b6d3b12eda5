package fakegithub

import (
	"bytes"
	"fmt"
	"net/http"
	"strings"
	"time"
)

const docsCommits = "https://docs.github.com/rest/commits/commits#get-a-commit"

// gitCommit is one commit of a repository, kept so that GET
// /repos/{o}/{r}/commits/{ref} can show it.
type gitCommit struct {
	sha, tree, message string
	parent             string // "" for a root commit
	author, committer  gitIdentity
	date               time.Time
	files              []changedFile
}

// changedFile is one file a commit touched.
type changedFile struct {
	path, status, sha    string // status: added or modified
	additions, deletions int
}

// identityOf is the git identity GitHub gives commits that u makes through
// the API: the profile name (else the login) and the public email (else the
// noreply address, which GitHub links back to the account).
func identityOf(u *User) gitIdentity {
	id := gitIdentity{Name: u.Login, Email: fmt.Sprintf("%d+%s@users.noreply.github.com", u.ID, u.Login)}
	if u.Name != "" {
		id.Name = u.Name
	}
	if u.Email != "" {
		id.Email = u.Email
	}
	return id
}

// seedIdentity is the author of commits the fake makes itself (initial and
// seeded ones): the owner when it is a user, otherwise an identity linked to
// no account. The caller holds s.mu.
func (s *Server) seedIdentity(rp *repo) gitIdentity {
	if u := s.users[key(rp.owner)]; u != nil {
		return identityOf(u)
	}
	return gitIdentity{Name: "GitHub", Email: "noreply@github.com"}
}

// loginByEmail returns the lower-case login of the account an email
// belongs to, as GitHub links a commit's author and committer to accounts by
// email: the account's email or its noreply addresses
// (ID+login@users.noreply.github.com and login@users.noreply.github.com).
// It returns "" when no account has it. The caller holds s.mu.
func (s *Server) loginByEmail(email string) string {
	email = strings.ToLower(email)
	for _, k := range s.order {
		u := s.users[k]
		noreply := strings.ToLower(fmt.Sprintf("%d+%s@users.noreply.github.com", u.ID, u.Login))
		if (u.Email != "" && strings.ToLower(u.Email) == email) || email == noreply ||
			email == k+"@users.noreply.github.com" {
			return k
		}
	}
	return ""
}

// addCommit records a commit of rp. The caller holds s.mu.
func (s *Server) addCommit(rp *repo, gc *gitCommit) {
	if gc.tree == "" {
		gc.tree = fakeSHA("tree", rp.fullName(), gc.sha)
	}
	if rp.commits == nil {
		rp.commits = map[string]*gitCommit{}
	}
	rp.commits[gc.sha] = gc
}

// changeOf describes replacing old (nil when absent) with f at p. The line
// counts treat it as a rewrite of the whole file, which is what a diff of a
// one-line change is not, but nothing reads them closely.
func changeOf(p string, old, f *file) changedFile {
	lines := func(b []byte) int {
		n := bytes.Count(b, []byte("\n"))
		if len(b) > 0 && !bytes.HasSuffix(b, []byte("\n")) {
			n++
		}
		return n
	}
	ch := changedFile{path: p, status: "added", sha: f.sha, additions: lines(f.content)}
	if old != nil {
		ch.status, ch.deletions = "modified", lines(old.content)
	}
	return ch
}

// commitFor resolves ref (a branch name, a full SHA or an unambiguous SHA
// prefix of at least 7 characters) to a commit of rp.
func commitFor(rp *repo, ref string) *gitCommit {
	if b := rp.branches[ref]; b != nil {
		return rp.commits[b.head]
	}
	if gc := rp.commits[ref]; gc != nil {
		return gc
	}
	if len(ref) < 7 || !isHex(ref) {
		return nil
	}
	var found *gitCommit
	for sha, gc := range rp.commits {
		if strings.HasPrefix(sha, strings.ToLower(ref)) {
			if found != nil {
				return nil // ambiguous
			}
			found = gc
		}
	}
	return found
}

func isHex(s string) bool {
	for _, r := range strings.ToLower(s) {
		if !strings.ContainsRune("0123456789abcdef", r) {
			return false
		}
	}
	return true
}

// commitsRoute serves GET /repos/{o}/{r}/commits/{ref} and
// GET /repos/{o}/{r}/commits/{ref}/check-runs, whose ref may hold slashes.
func (s *Server) commitsRoute(w http.ResponseWriter, r *http.Request, c caller) {
	if strings.HasSuffix(r.PathValue("rest"), "/check-runs") {
		s.listCheckRuns(w, r, c)
		return
	}
	s.getCommit(w, r, c)
}

// getCommit serves GET /repos/{o}/{r}/commits/{ref}. Its top-level author
// and committer are the accounts the git identities' emails belong to, null
// when none, as on GitHub; an unknown ref answers 422.
func (s *Server) getCommit(w http.ResponseWriter, r *http.Request, c caller) {
	rp := s.repoFor(w, r, c, read, docsCommits)
	if rp == nil {
		return
	}
	ref := r.PathValue("rest")
	gc := commitFor(rp, ref)
	if gc == nil {
		apiError(w, http.StatusUnprocessableEntity, "No commit found for SHA: "+ref, docsCommits)
		return
	}
	writeJSON(w, http.StatusOK, s.commitJSON(rp, gc))
}

func (s *Server) commitJSON(rp *repo, gc *gitCommit) obj {
	full := rp.fullName()
	api := s.apiBase() + "/repos/" + full
	who := func(g gitIdentity) obj { return obj{"name": g.Name, "email": g.Email, "date": stamp(gc.date)} }
	account := func(g gitIdentity) any {
		if l := s.loginByEmail(g.Email); l != "" {
			return s.userJSON(l)
		}
		return nil
	}
	parents := []obj{}
	if gc.parent != "" {
		parents = append(parents, obj{"sha": gc.parent, "url": api + "/commits/" + gc.parent, "html_url": s.URL() + "/" + full + "/commit/" + gc.parent})
	}
	files := []obj{}
	add, del := 0, 0
	for _, f := range gc.files {
		add += f.additions
		del += f.deletions
		files = append(files, obj{
			"sha": f.sha, "filename": f.path, "status": f.status,
			"additions": f.additions, "deletions": f.deletions, "changes": f.additions + f.deletions,
			"blob_url":     s.URL() + "/" + full + "/blob/" + gc.sha + "/" + f.path,
			"raw_url":      s.URL() + "/" + full + "/raw/" + gc.sha + "/" + f.path,
			"contents_url": api + "/contents/" + f.path + "?ref=" + gc.sha,
		})
	}
	return obj{
		"sha": gc.sha, "node_id": "C_fake" + gc.sha[:12], "url": api + "/commits/" + gc.sha,
		"html_url": s.URL() + "/" + full + "/commit/" + gc.sha, "comments_url": api + "/commits/" + gc.sha + "/comments",
		"commit": obj{
			"url": api + "/git/commits/" + gc.sha, "author": who(gc.author), "committer": who(gc.committer),
			"message": gc.message, "tree": obj{"sha": gc.tree, "url": api + "/git/trees/" + gc.tree},
			"comment_count": 0,
			"verification":  obj{"verified": false, "reason": "unsigned", "signature": nil, "payload": nil},
		},
		"author": account(gc.author), "committer": account(gc.committer),
		"parents": parents,
		"stats":   obj{"total": add + del, "additions": add, "deletions": del},
		"files":   files,
	}
}
