package jira

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	gojira "github.com/andygrunwald/go-jira"
	"github.com/tandembot/tandem"
	"github.com/tandembot/tandem/integrations"
)

const (
	// maxPerPage is what the enhanced search returns at most per page when
	// fields are asked for.
	maxPerPage = 100
	// maxSummary and maxComment are Jira's limits, in characters.
	maxSummary = 255
	maxComment = 32767
	// defaultType is the issue type of NewIssue without one.
	defaultType = "Task"
)

// openJQL selects the caller's open issues. currentUser() is the token's
// owner, whose issues they are; Jira Cloud's JQL names people by
// accountId, never by email, so the login is not part of the query.
const (
	openJQL   = "assignee = currentUser() AND statusCategory != Done"
	openOrder = " ORDER BY updated DESC"
)

// listFields and viewFields are the issue fields Tandem reads.
const (
	listFields = "summary,status,issuetype,assignee,updated"
	viewFields = listFields + ",description"
)

var (
	validProject = regexp.MustCompile(`^[A-Z][A-Z0-9_]+$`)
	validKey     = regexp.MustCompile(`^[A-Z][A-Z0-9_]+-[1-9][0-9]*$`)
)

// issueKey upper-cases ref (Jira keys are case-insensitive) and checks that
// it looks like OPS-12.
func issueKey(ref string) (string, error) {
	k := strings.ToUpper(strings.TrimSpace(ref))
	if !validKey.MatchString(k) {
		return "", tandem.Errorf(tandem.EINVALID, "%q is not a Jira issue key like OPS-12.", ref)
	}
	return k, nil
}

// issueBean is the part of Jira's issue JSON that Tandem reads.
type issueBean struct {
	ID     string `json:"id"`
	Key    string `json:"key"`
	Fields struct {
		Summary     string            `json:"summary"`
		Status      *gojira.Status    `json:"status"`
		IssueType   *gojira.IssueType `json:"issuetype"`
		Assignee    *gojira.User      `json:"assignee"`
		Updated     gojira.Time       `json:"updated"`
		Description json.RawMessage   `json:"description"`
	} `json:"fields"`
}

func (b issueBean) issue(siteURL string) tandem.Issue {
	is := tandem.Issue{
		Key:     b.Key,
		Title:   b.Fields.Summary,
		URL:     browseURL(siteURL, b.Key),
		Body:    docText(b.Fields.Description),
		Updated: time.Time(b.Fields.Updated).UTC(),
	}
	if b.Fields.Status != nil {
		is.State = b.Fields.Status.Name
	}
	if b.Fields.IssueType != nil {
		is.Type = b.Fields.IssueType.Name
	}
	if b.Fields.Assignee != nil {
		is.Assignee = b.Fields.Assignee.DisplayName
	}
	return is
}

func browseURL(siteURL, key string) string { return siteURL + "/browse/" + key }

// OpenIssues returns up to limit (30 when limit is 0 or less) of the
// issues assigned to the account client carries on site that are not done,
// most recently updated first, with their total count, through Jira
// Cloud's enhanced search (GET /search/jql); the total comes from POST
// /search/approximate-count when the results go on past limit. login,
// that account's email, only names it in messages. An invalid site gives
// EINVALID; see mapError for Jira's refusals.
func (p *Provider) OpenIssues(ctx context.Context, client *http.Client, site, login string, limit int) ([]tandem.Issue, int, error) {
	if err := checkSite(site); err != nil {
		return nil, 0, err
	}
	if limit <= 0 {
		limit = 30
	}
	what := "the open issues of " + login
	c, err := p.onSite(client, site)
	if err != nil {
		return nil, 0, err
	}
	siteURL, err := p.siteURL(ctx, client, site)
	if err != nil {
		return nil, 0, err
	}
	q := url.Values{
		"jql":        {openJQL + openOrder},
		"fields":     {listFields},
		"maxResults": {strconv.Itoa(min(limit, maxPerPage))},
	}
	var (
		issues []tandem.Issue
		seen   int
	)
	for {
		var page struct {
			Issues        []issueBean `json:"issues"`
			NextPageToken string      `json:"nextPageToken"`
			IsLast        bool        `json:"isLast"`
		}
		resp, err := call(ctx, c, "GET", "rest/api/3/search/jql?"+q.Encode(), nil, &page)
		if err != nil {
			return nil, 0, mapError("search issues", what, login, resp, err)
		}
		seen += len(page.Issues)
		for _, b := range page.Issues {
			if len(issues) < limit {
				issues = append(issues, b.issue(siteURL))
			}
		}
		// isLast is missing from some answers; no next page means the last.
		last := page.IsLast || page.NextPageToken == ""
		if last {
			return issues, seen, nil
		}
		if len(issues) >= limit || len(page.Issues) == 0 {
			break
		}
		q.Set("nextPageToken", page.NextPageToken)
	}
	var count struct {
		Count int `json:"count"`
	}
	resp, err := call(ctx, c, "POST", "rest/api/3/search/approximate-count", map[string]string{"jql": openJQL}, &count)
	if err != nil {
		return nil, 0, mapError("count issues", what, login, resp, err)
	}
	return issues, max(count.Count, seen), nil
}

// view returns issue key of c's site with the fields Tandem shows.
func view(ctx context.Context, c *gojira.Client, key string) (issueBean, *gojira.Response, error) {
	var b issueBean
	resp, err := call(ctx, c, "GET", "rest/api/3/issue/"+key+"?"+url.Values{"fields": {viewFields}}.Encode(), nil, &b)
	return b, resp, err
}

// Issue returns issue key (OPS-12, in any case) of site, with its
// description as plain text. A malformed key gives EINVALID, one this
// account cannot see ENOTFOUND; see mapError for the others.
func (p *Provider) Issue(ctx context.Context, client *http.Client, site, key string) (tandem.Issue, error) {
	if err := checkSite(site); err != nil {
		return tandem.Issue{}, err
	}
	key, err := issueKey(key)
	if err != nil {
		return tandem.Issue{}, err
	}
	c, err := p.onSite(client, site)
	if err != nil {
		return tandem.Issue{}, err
	}
	siteURL, err := p.siteURL(ctx, client, site)
	if err != nil {
		return tandem.Issue{}, err
	}
	b, resp, err := view(ctx, c, key)
	if err != nil {
		return tandem.Issue{}, fail(ctx, c, "view issue", key, resp, err)
	}
	return b.issue(siteURL), nil
}

// CreateIssue creates an issue in project n.Container (a key like OPS) of
// site, of type n.Type (default Task), with n.Title as summary and n.Body
// as its description in Atlassian Document Format; the account client
// carries is its reporter. Bad input (a malformed key, an empty or
// multi-line summary) gives EINVALID and sends nothing; a project this
// account cannot see or create in gives ENOTFOUND; Jira's other refusals
// of the fields give EINVALID with its reasons. If the created issue
// cannot be read back, the result holds what Tandem sent, with no error,
// so that no one creates it twice.
func (p *Provider) CreateIssue(ctx context.Context, client *http.Client, site string, n tandem.NewIssue) (tandem.Issue, error) {
	if err := checkSite(site); err != nil {
		return tandem.Issue{}, err
	}
	project := strings.ToUpper(strings.TrimSpace(n.Container))
	if !validProject.MatchString(project) {
		return tandem.Issue{}, tandem.Errorf(tandem.EINVALID, "%q is not a Jira project key like OPS.", n.Container)
	}
	summary := strings.TrimSpace(n.Title)
	switch {
	case summary == "":
		return tandem.Issue{}, tandem.Errorf(tandem.EINVALID, "A Jira issue needs a summary.")
	case strings.ContainsAny(summary, "\r\n"):
		return tandem.Issue{}, tandem.Errorf(tandem.EINVALID, "A Jira summary must fit on one line.")
	case utf8.RuneCountInString(summary) > maxSummary:
		return tandem.Issue{}, tandem.Errorf(tandem.EINVALID, "A Jira summary can have at most %d characters.", maxSummary)
	}
	typ := strings.TrimSpace(n.Type)
	if typ == "" {
		typ = defaultType
	}
	if len(typ) > 60 || strings.ContainsFunc(typ, unicode.IsControl) {
		return tandem.Issue{}, tandem.Errorf(tandem.EINVALID, "%q is not a Jira issue type.", n.Type)
	}
	c, err := p.onSite(client, site)
	if err != nil {
		return tandem.Issue{}, err
	}
	siteURL, err := p.siteURL(ctx, client, site)
	if err != nil {
		return tandem.Issue{}, err
	}
	fields := map[string]any{
		"project":   map[string]string{"key": project},
		"summary":   summary,
		"issuetype": map[string]string{"name": typ},
	}
	body := strings.TrimSpace(n.Body)
	if body != "" {
		fields["description"] = textDoc(body)
	}
	var created struct {
		ID  string `json:"id"`
		Key string `json:"key"`
	}
	resp, err := call(ctx, c, "POST", "rest/api/3/issue", map[string]any{"fields": fields}, &created)
	if err != nil {
		var jErr *gojira.Error
		if statusOf(resp) == http.StatusBadRequest && errors.As(err, &jErr) && jErr.Errors["project"] != "" {
			// Jira answers a project one cannot see like a missing one.
			return tandem.Issue{}, mapError("create issue", "project "+project, email(ctx, c), notFound(resp), err)
		}
		return tandem.Issue{}, fail(ctx, c, "create issue", "project "+project, resp, err)
	}
	if created.Key == "" {
		return tandem.Issue{}, fmt.Errorf("jira: create issue: POST /issue returned no key")
	}
	b, _, err := view(ctx, c, created.Key)
	if err != nil || b.Key == "" {
		return tandem.Issue{Key: created.Key, Title: summary, URL: browseURL(siteURL, created.Key), Type: typ, Body: body}, nil
	}
	return b.issue(siteURL), nil
}

// notFound returns a copy of resp that reads as a 404.
func notFound(resp *gojira.Response) *gojira.Response {
	r := *resp.Response
	r.StatusCode = http.StatusNotFound
	return &gojira.Response{Response: &r}
}

// Comment adds body, as Atlassian Document Format, to issue ref (OPS-12) of
// site as the account client carries, and returns the comment's link. An
// empty body or a malformed key gives EINVALID and sends nothing; an issue
// this account cannot see gives ENOTFOUND; see mapError for the others.
func (p *Provider) Comment(ctx context.Context, client *http.Client, site, ref, body string) (string, error) {
	if err := checkSite(site); err != nil {
		return "", err
	}
	key, err := issueKey(ref)
	if err != nil {
		return "", err
	}
	body = strings.TrimSpace(body)
	switch {
	case body == "":
		return "", tandem.Errorf(tandem.EINVALID, "A Jira comment cannot be empty.")
	case utf8.RuneCountInString(body) > maxComment:
		return "", tandem.Errorf(tandem.EINVALID, "A Jira comment can have at most %d characters.", maxComment)
	}
	c, err := p.onSite(client, site)
	if err != nil {
		return "", err
	}
	siteURL, err := p.siteURL(ctx, client, site)
	if err != nil {
		return "", err
	}
	var cm struct {
		ID string `json:"id"`
	}
	resp, err := call(ctx, c, "POST", "rest/api/3/issue/"+key+"/comment", map[string]any{"body": textDoc(body)}, &cm)
	if err != nil {
		return "", fail(ctx, c, "comment", key, resp, err)
	}
	if cm.ID == "" {
		return browseURL(siteURL, key), nil
	}
	return browseURL(siteURL, key) + "?focusedCommentId=" + url.QueryEscape(cm.ID), nil
}

// Transition moves issue key of site to the status named status (in any
// case) through one of the transitions Jira offers the account client
// carries, and returns the issue as it then stands. When none leads there
// it fails with EINVALID naming the statuses it can reach (or saying that
// the issue is there already); when Jira offers none at all, EFORBIDDEN.
// See mapError for the others. If the moved issue cannot be read back, the
// result holds the new status, with no error.
func (p *Provider) Transition(ctx context.Context, client *http.Client, site, key, status string) (tandem.Issue, error) {
	if err := checkSite(site); err != nil {
		return tandem.Issue{}, err
	}
	key, err := issueKey(key)
	if err != nil {
		return tandem.Issue{}, err
	}
	status = strings.TrimSpace(status)
	if status == "" {
		return tandem.Issue{}, tandem.Errorf(tandem.EINVALID, "Name the status to move %s to.", key)
	}
	c, err := p.onSite(client, site)
	if err != nil {
		return tandem.Issue{}, err
	}
	siteURL, err := p.siteURL(ctx, client, site)
	if err != nil {
		return tandem.Issue{}, err
	}
	var offered struct {
		Transitions []gojira.Transition `json:"transitions"`
	}
	resp, err := call(ctx, c, "GET", "rest/api/3/issue/"+key+"/transitions", nil, &offered)
	if err != nil {
		return tandem.Issue{}, fail(ctx, c, "list transitions", key, resp, err)
	}
	var (
		chosen    *gojira.Transition
		reachable []string
	)
	for i, t := range offered.Transitions {
		if strings.EqualFold(t.To.Name, status) && chosen == nil {
			chosen = &offered.Transitions[i]
		}
		if t.To.Name != "" && !containsFold(reachable, t.To.Name) {
			reachable = append(reachable, t.To.Name)
		}
	}
	if chosen == nil {
		return tandem.Issue{}, p.unreachable(ctx, c, key, status, reachable)
	}
	payload := map[string]any{"transition": gojira.TransitionPayload{ID: chosen.ID}}
	resp, err = call(ctx, c, "POST", "rest/api/3/issue/"+key+"/transitions", payload, nil)
	if err != nil {
		return tandem.Issue{}, fail(ctx, c, "transition", key, resp, err)
	}
	b, _, err := view(ctx, c, key)
	if err != nil || b.Key == "" {
		return tandem.Issue{Key: key, URL: browseURL(siteURL, key), State: chosen.To.Name}, nil
	}
	return b.issue(siteURL), nil
}

// unreachable explains why key cannot move to status, reading the current
// status for the message when Jira gives it.
func (p *Provider) unreachable(ctx context.Context, c *gojira.Client, key, status string, reachable []string) error {
	current := ""
	if b, _, err := view(ctx, c, key); err == nil && b.Fields.Status != nil {
		current = b.Fields.Status.Name
	}
	switch {
	case current != "" && strings.EqualFold(current, status):
		return tandem.Errorf(tandem.EINVALID, "%s is already %s.", key, current)
	case len(reachable) == 0:
		return tandem.Errorf(tandem.EFORBIDDEN, "%s cannot move %s: Jira offers it no transition.", integrations.AccountName(tandem.Jira, email(ctx, c)), key)
	case current != "":
		return tandem.Errorf(tandem.EINVALID, "%s cannot move to %q from %s; it can move to: %s.", key, status, current, strings.Join(reachable, ", "))
	}
	return tandem.Errorf(tandem.EINVALID, "%s cannot move to %q; it can move to: %s.", key, status, strings.Join(reachable, ", "))
}

func containsFold(list []string, s string) bool {
	for _, x := range list {
		if strings.EqualFold(x, s) {
			return true
		}
	}
	return false
}
