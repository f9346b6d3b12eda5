package gitlab

import (
	"context"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/tandembot/tandem"
	gl "gitlab.com/gitlab-org/api/client-go"
)

// GitLab's limits on what people type.
const (
	maxTitle       = 255
	maxDescription = 1_048_576
	maxNote        = 1_000_000
)

// pathSegment matches one segment of a group or project path: letters,
// digits, "_", "-" and ".", not starting with "-".
var pathSegment = regexp.MustCompile(`^[A-Za-z0-9_.][A-Za-z0-9_.-]{0,254}$`)

// refPattern is group/project#N (an issue) or group/project!N (a merge
// request).
var refPattern = regexp.MustCompile(`^(.+)([#!])([0-9]{1,9})$`)

// checkProject reports whether path is group/project, or deeper
// (group/subgroup/project), as GitLab spells paths.
func checkProject(path string) error {
	segs := strings.Split(path, "/")
	ok := len(segs) >= 2 && len(segs) <= 21
	for _, s := range segs {
		if !ok {
			break
		}
		ok = pathSegment.MatchString(s) && s != "." && s != ".." &&
			!strings.HasSuffix(s, ".git") && !strings.HasSuffix(s, ".atom") && !strings.HasSuffix(s, ".")
	}
	if !ok {
		return tandem.Errorf(tandem.EINVALID, "%q is not a GitLab project; write it as group/project.", path)
	}
	return nil
}

// OpenIssues returns up to limit (30 when limit is 0 or less) of the open
// issues assigned to the account client carries
// (GET /issues?scope=assigned_to_me&state=opened), the count GitLab's own
// "Issues" badge shows, most recently updated first, with the total count.
// site is ignored. An invalid login gives EINVALID; see mapError for
// GitLab's refusals.
func (p *Provider) OpenIssues(ctx context.Context, client *http.Client, site, login string, limit int) ([]tandem.Issue, int, error) {
	if err := checkLogin(login); err != nil {
		return nil, 0, err
	}
	if limit <= 0 {
		limit = 30
	}
	c, err := p.client(client)
	if err != nil {
		return nil, 0, err
	}
	opts := &gl.ListIssuesOptions{
		State: gl.Ptr("opened"), Scope: gl.Ptr("assigned_to_me"),
		OrderBy: gl.Ptr("updated_at"), Sort: gl.Ptr("desc"),
		ListOptions: gl.ListOptions{PerPage: int64(min(limit, maxPerPage))},
	}
	var out []tandem.Issue
	for {
		issues, resp, err := c.Issues.ListIssues(opts, gl.WithContext(ctx))
		if err != nil {
			return nil, 0, mapError("list issues", "the issues of "+login, resp, err)
		}
		for _, is := range issues {
			if len(out) == limit {
				break
			}
			out = append(out, p.issue(is))
		}
		if len(out) >= limit || resp.NextPage == 0 {
			// GitLab leaves X-Total out past 10,000 results.
			return out, max(int(resp.TotalItems), len(out)), nil
		}
		opts.Page = resp.NextPage
	}
}

func (p *Provider) issue(is *gl.Issue) tandem.Issue {
	out := tandem.Issue{
		Key:   p.projectPath(is.References, "#", is.IID, is.WebURL) + "#" + strconv.FormatInt(is.IID, 10),
		Title: is.Title,
		URL:   is.WebURL,
		State: is.State,
		Body:  is.Description,
	}
	if is.State == "opened" {
		out.State = "open" // as GitHub says it, and people too
	}
	if len(is.Assignees) > 0 && is.Assignees[0] != nil {
		out.Assignee = is.Assignees[0].Username
	}
	if is.UpdatedAt != nil {
		out.Updated = is.UpdatedAt.UTC()
	}
	return out
}

// CreateIssue opens an issue in the project n.Container (group/project)
// with n.Title and n.Body (markdown), as the account client carries, and
// returns it; n.Type and site are ignored. A malformed project path, or a
// title that is empty or longer than GitLab's 255 characters, gives
// EINVALID and sends nothing; a project this account cannot see gives
// ENOTFOUND; see mapError for the others.
func (p *Provider) CreateIssue(ctx context.Context, client *http.Client, site string, n tandem.NewIssue) (tandem.Issue, error) {
	if err := checkProject(n.Container); err != nil {
		return tandem.Issue{}, err
	}
	title := strings.TrimSpace(n.Title)
	switch {
	case title == "":
		return tandem.Issue{}, tandem.Errorf(tandem.EINVALID, "A GitLab issue needs a title.")
	case utf8.RuneCountInString(title) > maxTitle:
		return tandem.Issue{}, tandem.Errorf(tandem.EINVALID, "GitLab issue titles are at most %d characters; this one has %d.", maxTitle, utf8.RuneCountInString(title))
	case utf8.RuneCountInString(n.Body) > maxDescription:
		return tandem.Issue{}, tandem.Errorf(tandem.EINVALID, "GitLab issue descriptions are at most %d characters.", maxDescription)
	}
	c, err := p.client(client)
	if err != nil {
		return tandem.Issue{}, err
	}
	opts := &gl.CreateIssueOptions{Title: gl.Ptr(title)}
	if n.Body != "" {
		opts.Description = gl.Ptr(n.Body)
	}
	is, resp, err := c.Issues.CreateIssue(n.Container, opts, gl.WithContext(ctx))
	if err != nil {
		return tandem.Issue{}, mapError("create issue", "the project "+n.Container, resp, err)
	}
	return p.issue(is), nil
}

// Comment adds a note with body (markdown) to ref, group/project#N for an
// issue or group/project!N for a merge request, as the account client
// carries, and returns the note's URL (the item's page with #note_ID). site
// is ignored. A malformed ref or an empty body gives EINVALID and sends
// nothing; an item this account cannot see gives ENOTFOUND; see mapError
// for the others.
func (p *Provider) Comment(ctx context.Context, client *http.Client, site, ref, body string) (string, error) {
	m := refPattern.FindStringSubmatch(ref)
	if m == nil {
		return "", tandem.Errorf(tandem.EINVALID, "%q is not a GitLab issue or merge request; write group/project#12 or group/project!12.", ref)
	}
	project, sep, iid := m[1], m[2], m[3]
	if err := checkProject(project); err != nil {
		return "", err
	}
	n, _ := strconv.ParseInt(iid, 10, 64)
	switch {
	case n < 1:
		return "", tandem.Errorf(tandem.EINVALID, "%q is not a GitLab issue or merge request number.", iid)
	case strings.TrimSpace(body) == "":
		return "", tandem.Errorf(tandem.EINVALID, "A GitLab comment needs some text.")
	case utf8.RuneCountInString(body) > maxNote:
		return "", tandem.Errorf(tandem.EINVALID, "GitLab comments are at most %d characters.", maxNote)
	}
	c, err := p.client(client)
	if err != nil {
		return "", err
	}
	var (
		note *gl.Note
		resp *gl.Response
		kind string
	)
	if sep == "#" {
		kind = "issues"
		note, resp, err = c.Notes.CreateIssueNote(project, n, &gl.CreateIssueNoteOptions{Body: gl.Ptr(body)}, gl.WithContext(ctx))
		if err != nil {
			return "", mapError("comment on issue", "the issue "+ref, resp, err)
		}
	} else {
		kind = "merge_requests"
		note, resp, err = c.Notes.CreateMergeRequestNote(project, n, &gl.CreateMergeRequestNoteOptions{Body: gl.Ptr(body)}, gl.WithContext(ctx))
		if err != nil {
			return "", mapError("comment on merge request", "the merge request "+ref, resp, err)
		}
	}
	// Notes carry no URL of their own; GitLab links them as an anchor on
	// the item's page.
	return fmt.Sprintf("%s/%s/-/%s/%d#note_%d", p.web, project, kind, n, note.ID), nil
}
