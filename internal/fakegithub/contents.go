package fakegithub

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"path"
	"slices"
	"strings"
)

const docsContents = "https://docs.github.com/rest/repos/contents"

// branchFor resolves ref (a branch name or a branch head SHA; "" for the
// default branch).
func branchFor(rp *repo, ref string) (string, *branch) {
	if ref == "" {
		ref = rp.defaultBranch
	}
	if b := rp.branches[ref]; b != nil {
		return ref, b
	}
	for name, b := range rp.branches {
		if b.head == ref {
			return name, b
		}
	}
	return "", nil
}

func (s *Server) contentJSON(rp *repo, ref, p string, f *file) obj {
	api := fmt.Sprintf("%s/repos/%s/contents/%s?ref=%s", s.apiBase(), rp.fullName(), p, ref)
	git := fmt.Sprintf("%s/repos/%s/git/blobs/%s", s.apiBase(), rp.fullName(), f.sha)
	html := fmt.Sprintf("%s/%s/blob/%s/%s", s.URL(), rp.fullName(), ref, p)
	return obj{
		"type": "file", "name": path.Base(p), "path": p, "sha": f.sha, "size": len(f.content),
		"url": api, "git_url": git, "html_url": html,
		"download_url": fmt.Sprintf("%s/%s/raw/%s/%s", s.URL(), rp.fullName(), ref, p),
		"_links":       obj{"self": api, "git": git, "html": html},
	}
}

// getContents serves GET /repos/{o}/{r}/contents/{path}: a file with its
// base64 content, or a directory listing.
func (s *Server) getContents(w http.ResponseWriter, r *http.Request, c caller) {
	rp := s.repoFor(w, r, c, read, docsContents)
	if rp == nil {
		return
	}
	ref, b := branchFor(rp, r.URL.Query().Get("ref"))
	if b == nil {
		apiError(w, http.StatusNotFound, "No commit found for the ref "+r.URL.Query().Get("ref"), docsContents)
		return
	}
	p := strings.Trim(r.PathValue("path"), "/")
	if f := b.files[p]; f != nil {
		o := s.contentJSON(rp, ref, p, f)
		o["encoding"] = "base64"
		o["content"] = wrap60(base64.StdEncoding.EncodeToString(f.content))
		writeJSON(w, http.StatusOK, o)
		return
	}
	prefix := p + "/"
	if p == "" {
		prefix = ""
	}
	seen := map[string]obj{}
	for fp, f := range b.files {
		rest, ok := strings.CutPrefix(fp, prefix)
		if !ok {
			continue
		}
		if dir, _, nested := strings.Cut(rest, "/"); nested {
			dp := prefix + dir
			seen[dp] = obj{"type": "dir", "name": dir, "path": dp, "sha": fakeSHA("tree", rp.fullName(), ref, dp), "size": 0,
				"url": fmt.Sprintf("%s/repos/%s/contents/%s?ref=%s", s.apiBase(), rp.fullName(), dp, ref), "download_url": nil}
		} else {
			seen[fp] = s.contentJSON(rp, ref, fp, f)
		}
	}
	if len(seen) == 0 {
		notFound(w, docsContents)
		return
	}
	names := make([]string, 0, len(seen))
	for n := range seen {
		names = append(names, n)
	}
	slices.Sort(names)
	out := make([]obj, 0, len(names))
	for _, n := range names {
		out = append(out, seen[n])
	}
	writeJSON(w, http.StatusOK, out)
}

// wrap60 breaks base64 into lines of 60 characters, as GitHub sends it.
func wrap60(s string) string {
	var b strings.Builder
	for len(s) > 60 {
		b.WriteString(s[:60] + "\n")
		s = s[60:]
	}
	b.WriteString(s + "\n")
	return b.String()
}

type gitIdentity struct {
	Name  string `json:"name"`
	Email string `json:"email"`
}

// putContents serves PUT /repos/{o}/{r}/contents/{path}: it creates or
// updates one file with one commit made by the token's owner.
func (s *Server) putContents(w http.ResponseWriter, r *http.Request, c caller) {
	rp := s.repoFor(w, r, c, push, docsContents)
	if rp == nil {
		return
	}
	var in struct {
		Message *string      `json:"message"`
		Content *string      `json:"content"`
		SHA     string       `json:"sha"`
		Branch  string       `json:"branch"`
		Author  *gitIdentity `json:"author"`
	}
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
		apiError(w, http.StatusBadRequest, "Problems parsing JSON", docsContents)
		return
	}
	p := strings.Trim(r.PathValue("path"), "/")
	invalid := func(msg string) {
		apiError(w, http.StatusUnprocessableEntity, "Invalid request.\n\n"+msg, docsContents)
	}
	switch {
	case p == "":
		notFound(w, docsContents)
		return
	case in.Message == nil:
		invalid(`"message" wasn't supplied.`)
		return
	case in.Content == nil:
		invalid(`"content" wasn't supplied.`)
		return
	}
	content, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(*in.Content), ""))
	if err != nil {
		invalid("content is not valid Base64")
		return
	}
	branchName := in.Branch
	if branchName == "" {
		branchName = rp.defaultBranch
	}
	b := rp.branches[branchName]
	if b == nil {
		apiError(w, http.StatusNotFound, "Branch "+branchName+" not found", docsContents)
		return
	}
	old := b.files[p]
	switch {
	case old != nil && in.SHA == "":
		invalid(`"sha" wasn't supplied.`)
		return
	case (old == nil && in.SHA != "") || (old != nil && in.SHA != old.sha):
		apiError(w, http.StatusConflict, p+" does not match "+in.SHA, docsContents)
		return
	}

	now := s.stamp()
	committer := identityOf(c.user)
	author := committer
	if in.Author != nil && in.Author.Name != "" && in.Author.Email != "" {
		author = *in.Author
	}
	parent := b.head
	f := &file{content: content, sha: blobSHA(content)}
	ch := changeOf(p, old, f)
	b.files[p] = f
	b.head = fakeSHA("commit", rp.fullName(), branchName, p, *in.Message, parent, c.key, now.String(), fmt.Sprint(len(s.commits)))
	s.commits = append(s.commits, Commit{Repo: rp.fullName(), Path: p, Branch: branchName, SHA: b.head, AuthorLogin: c.user.Login, Message: *in.Message})
	tree := fakeSHA("tree", rp.fullName(), b.head)
	s.addCommit(rp, &gitCommit{sha: b.head, tree: tree, parent: parent, message: *in.Message,
		author: author, committer: committer, date: now, files: []changedFile{ch}})

	api := s.apiBase() + "/repos/" + rp.fullName()
	who := func(g gitIdentity) obj { return obj{"name": g.Name, "email": g.Email, "date": stamp(now)} }
	status := http.StatusCreated
	if old != nil {
		status = http.StatusOK
	}
	writeJSON(w, status, obj{
		"content": s.contentJSON(rp, branchName, p, f),
		"commit": obj{
			"sha": b.head, "node_id": "C_fake" + b.head[:12], "url": api + "/git/commits/" + b.head,
			"html_url": s.URL() + "/" + rp.fullName() + "/commit/" + b.head,
			"author":   who(author), "committer": who(committer),
			"tree":    obj{"sha": tree, "url": api + "/git/trees/" + tree},
			"message": *in.Message,
			"parents": []obj{{"url": api + "/git/commits/" + parent, "html_url": s.URL() + "/" + rp.fullName() + "/commit/" + parent,
				"sha": parent}},
			"verification": obj{"verified": false, "reason": "unsigned", "signature": nil, "payload": nil},
		},
	})
}
