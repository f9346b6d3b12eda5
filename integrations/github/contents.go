package github

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"unicode"

	gh "github.com/google/go-github/v62/github"
	"github.com/tandembot/tandem"
	"github.com/tandembot/tandem/integrations"
)

// maxFileSize is the largest file CommitFile sends: the contents API
// returns files up to 1 MB, and Slack is no place for bigger ones.
const maxFileSize = 1 << 20

// CommitFile creates or updates one file with one commit through the
// contents API, as the account client carries:
//
//  1. GET /repos/{owner}/{name}: the repository must be visible, not
//     archived, and pushable by that account; an empty c.Branch means its
//     default branch.
//  2. GET /repos/{owner}/{name}/contents/{path}?ref=BRANCH: the current
//     blob SHA when the file exists (404: it is created).
//  3. PUT the same path with the message, the base64 content, the branch
//     and that SHA, which makes GitHub refuse (409, ECONFLICT) if the file
//     changed in between.
//  4. GET /repos/{owner}/{name}/commits/{sha}: the contents API reports the
//     commit's git author by name and email only; this one reports the
//     GitHub account that email belongs to (author.login), which is what
//     must be the sender's. It is "" when GitHub links the email to no
//     account.
//
// Bad input gives EINVALID and nothing is sent: c.Repo not "owner/name",
// an empty message, content over 1 MB, a path that is empty, absolute,
// holds "..", "." or empty segments, ".git" or control characters, or a
// branch name git would refuse. A repository the account cannot see gives
// ENOTFOUND, one it cannot push to EFORBIDDEN, each naming the account; a
// missing branch gives ENOTFOUND. If the commit was made but step 4 failed,
// the result still holds the SHA, URL and Created, with an error saying so.
func (p *Provider) CommitFile(ctx context.Context, client *http.Client, fc tandem.FileCommit) (tandem.CommitResult, error) {
	owner, name, err := parseRepo(fc.Repo)
	if err != nil {
		return tandem.CommitResult{}, err
	}
	if err := checkPath(fc.Path); err != nil {
		return tandem.CommitResult{}, err
	}
	if strings.TrimSpace(fc.Message) == "" {
		return tandem.CommitResult{}, tandem.Errorf(tandem.EINVALID, "A commit needs a message.")
	}
	if len(fc.Content) > maxFileSize {
		return tandem.CommitResult{}, tandem.Errorf(tandem.EINVALID, "%s is %d bytes; Tandem commits files of up to 1 MB (%d bytes).", fc.Path, len(fc.Content), maxFileSize)
	}
	if fc.Branch != "" && !validBranch(fc.Branch) {
		return tandem.CommitResult{}, tandem.Errorf(tandem.EINVALID, "%q is not a valid branch name.", fc.Branch)
	}
	c, err := p.client(client)
	if err != nil {
		return tandem.CommitResult{}, err
	}
	repo := owner + "/" + name

	r, resp, err := c.Repositories.Get(ctx, owner, name)
	if err != nil {
		return tandem.CommitResult{}, refused(ctx, c, "get repository", repo, resp, err)
	}
	if r.GetArchived() {
		return tandem.CommitResult{}, tandem.Errorf(tandem.EFORBIDDEN, "%s is archived on GitHub, so nothing can be committed to it.", repo)
	}
	if perms := r.GetPermissions(); perms != nil && !perms["push"] {
		return tandem.CommitResult{}, tandem.Errorf(tandem.EFORBIDDEN, "%s can see %s but cannot push to it.", integrations.AccountName(tandem.GitHub, whoami(ctx, c)), repo)
	}
	branch := fc.Branch
	if branch == "" {
		branch = r.GetDefaultBranch()
	}
	where := fc.Path + " in " + repo
	if branch != "" {
		where += " (" + branch + ")"
	}

	var sha *string // the blob being replaced; nil creates the file
	f, _, resp, err := c.Repositories.GetContents(ctx, owner, name, fc.Path, &gh.RepositoryContentGetOptions{Ref: branch})
	var er *gh.ErrorResponse
	switch {
	case err == nil && f == nil: // a directory listing
		return tandem.CommitResult{}, tandem.Errorf(tandem.EINVALID, "%s is a folder in %s; name a file.", fc.Path, repo)
	case err == nil && (f.GetType() != "file" || f.GetPath() != fc.Path):
		// A symbolic link (GitHub answers with its target when that is a
		// file) or a submodule.
		return tandem.CommitResult{}, tandem.Errorf(tandem.EINVALID, "%s in %s is not a plain file.", fc.Path, repo)
	case err == nil:
		sha = f.SHA
	case resp != nil && resp.StatusCode == http.StatusNotFound && errors.As(err, &er) &&
		strings.HasPrefix(er.Message, "No commit found for the ref"):
		integrations.Scrub(httpResponse(resp))
		return tandem.CommitResult{}, fmt.Errorf("github: get contents: %w: %w",
			tandem.Errorf(tandem.ENOTFOUND, "%s has no branch %q.", repo, branch), err)
	case resp != nil && resp.StatusCode == http.StatusNotFound:
		// No such file (or an empty repository): create it.
	default:
		return tandem.CommitResult{}, refused(ctx, c, "get contents", where, resp, err)
	}

	content := fc.Content
	if content == nil {
		content = []byte{} // "content": "" rather than null, for an empty file
	}
	opts := &gh.RepositoryContentFileOptions{Message: gh.String(fc.Message), Content: content, SHA: sha}
	if branch != "" {
		opts.Branch = gh.String(branch)
	}
	// CreateFile puts the path in the URL as given, so escape it here:
	// GetContents above escapes it itself.
	put, resp, err := c.Repositories.CreateFile(ctx, owner, name, escapePath(fc.Path), opts)
	if err != nil {
		if sha == nil && resp != nil && resp.StatusCode == http.StatusUnprocessableEntity &&
			errors.As(err, &er) && strings.Contains(er.Message, `"sha" wasn't supplied`) {
			// Someone created the file since step 2.
			integrations.Scrub(httpResponse(resp))
			return tandem.CommitResult{}, fmt.Errorf("github: commit file: %w: %w",
				tandem.Errorf(tandem.ECONFLICT, "%s was created meanwhile; try again.", where), err)
		}
		return tandem.CommitResult{}, refused(ctx, c, "commit file", where, resp, err)
	}
	res := tandem.CommitResult{
		SHA:     put.Commit.GetSHA(),
		URL:     put.Commit.GetHTMLURL(),
		Created: resp.StatusCode == http.StatusCreated, // 200: updated
	}
	if res.SHA == "" {
		return res, fmt.Errorf("github: commit file: GitHub answered %d without a commit SHA", resp.StatusCode)
	}

	rc, resp, err := c.Repositories.GetCommit(ctx, owner, name, res.SHA, nil)
	if err != nil {
		mapped := refused(ctx, c, "get commit", "commit "+short(res.SHA)+" of "+repo, resp, err)
		return res, fmt.Errorf("github: commit file: %w: %w", tandem.Errorf(tandem.ErrorCode(mapped),
			"GitHub made commit %s in %s, but Tandem could not read back whose it is: %s",
			short(res.SHA), repo, tandem.ErrorMessage(mapped)), mapped)
	}
	res.AuthorLogin = rc.GetAuthor().GetLogin()
	if res.URL == "" {
		res.URL = rc.GetHTMLURL()
	}
	return res, nil
}

// checkPath refuses paths the contents API would misread or git refuses.
func checkPath(p string) error {
	bad := func(why string) error {
		return tandem.Errorf(tandem.EINVALID, "The path %q %s.", p, why)
	}
	switch {
	case p == "":
		return tandem.Errorf(tandem.EINVALID, "A file commit needs a path.")
	case strings.HasPrefix(p, "/"):
		return bad("must be relative to the repository's root, without a leading /")
	case strings.Contains(p, ".."):
		// go-github refuses ".." anywhere in a contents path too.
		return bad(`must not contain ".."`)
	case strings.IndexFunc(p, func(r rune) bool { return unicode.IsControl(r) || r == '\\' }) >= 0:
		return bad("holds a control character or a backslash")
	}
	for _, seg := range strings.Split(p, "/") {
		switch {
		case seg == "" || seg == ".":
			return bad(`has an empty or "." part`)
		case strings.EqualFold(seg, ".git"):
			return bad("reaches into .git")
		}
	}
	if len(p) > 4096 {
		return bad("is too long")
	}
	return nil
}

// validBranch follows git check-ref-format for a branch name.
func validBranch(b string) bool {
	if b == "" || b == "@" || len(b) > 255 || strings.HasPrefix(b, "-") || strings.HasPrefix(b, "/") ||
		strings.HasSuffix(b, "/") || strings.HasSuffix(b, ".") || strings.HasSuffix(b, ".lock") ||
		strings.Contains(b, "..") || strings.Contains(b, "//") || strings.Contains(b, "@{") ||
		strings.ContainsAny(b, " ~^:?*[\\") {
		return false
	}
	for _, r := range b {
		if r < 0x20 || r == 0x7f {
			return false
		}
	}
	for _, seg := range strings.Split(b, "/") {
		if strings.HasPrefix(seg, ".") || strings.HasSuffix(seg, ".lock") {
			return false
		}
	}
	return true
}

// escapePath escapes each segment of a repository path for a URL.
func escapePath(p string) string {
	segs := strings.Split(p, "/")
	for i, s := range segs {
		segs[i] = url.PathEscape(s)
	}
	return strings.Join(segs, "/")
}

// short abbreviates a commit SHA as git does.
func short(sha string) string {
	if len(sha) > 7 {
		return sha[:7]
	}
	return sha
}
